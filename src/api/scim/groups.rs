//! A group as a SCIM Group (RFC 7643 §4.2), with an oktamirror extension giving the whole
//! (visible) member count. Members inline are capped at [`MAX_INLINE_MEMBERS`] so that reading a
//! 50,000-member group stays fast, and list answers carry them only when `attributes` names
//! `members`; the complete, pageable member list is `GET /Users?filter=groups.value eq
//! "GROUP_ID"` (answered from the membership index), and `excludedAttributes=members` leaves
//! members out (and reads no member record).
//!
//! `meta.version` hashes the group without its members (its `lastModified` moves with every
//! membership change Okta records) and its stored member count, so it is the same whichever
//! members are served inline and costs no member read (a member's rename does not change it).

use serde_json::{Map, Value, json};

use super::filter::GROUP_URN;
use crate::access::{Result, View};
use crate::model::Group;

pub(crate) const GROUP_MIRROR_URN: &str =
    "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:Group";

/// Members served inline in a Group; past it, `membersTruncated` is true in the extension.
pub(crate) const MAX_INLINE_MEMBERS: usize = 1000;

/// The path of a group, relative to the server's root.
pub(crate) fn location(id: &str) -> String {
    format!("{}/Groups/{id}", super::BASE)
}

/// `group` as a SCIM Group with `meta.version`; `members: false` reads no member record.
pub(crate) fn resource(view: &View, g: &Group, members: bool) -> Result<Value> {
    let mut o = Map::new();
    if view.provisioning() {
        o.insert("schemas".into(), json!([GROUP_URN]));
    } else {
        o.insert("schemas".into(), json!([GROUP_URN, GROUP_MIRROR_URN]));
    }
    o.insert("id".into(), Value::String(g.id.clone()));
    if let Some(x) = &g.external_id {
        o.insert("externalId".into(), Value::String(x.clone()));
    }
    o.insert("displayName".into(), Value::String(g.name.clone()));
    let mut ext = Map::new();
    let ty = serde_json::to_value(g.group_type).unwrap_or(Value::Null);
    ext.insert("type".into(), ty);
    if let Some(d) = &g.description {
        ext.insert("description".into(), Value::String(d.clone()));
    }
    let mut meta = Map::new();
    meta.insert("resourceType".into(), Value::String("Group".into()));
    if let Some(t) = g.created {
        meta.insert("created".into(), Value::String(super::time(&t)));
    }
    let modified = match (g.last_updated, g.last_membership_updated) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b).or(g.created),
    };
    if let Some(t) = modified {
        meta.insert("lastModified".into(), Value::String(super::time(&t)));
    }
    meta.insert("location".into(), Value::String(location(&g.id)));
    o.insert("meta".into(), Value::Object(meta));
    let version = {
        let mut bytes = serde_json::to_vec(&o).unwrap_or_default();
        bytes.extend_from_slice(&serde_json::to_vec(&ext).unwrap_or_default());
        bytes.extend_from_slice(&view.member_total(&g.id)?.to_be_bytes());
        format!("W/\"{}\"", crate::access::sha256_hex(&bytes, 12))
    };
    if let Some(meta) = o.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("version".into(), Value::String(version));
    }
    if members {
        let page = view.members_page(&g.id, &[], None, MAX_INLINE_MEMBERS)?;
        let truncated = page.len() > MAX_INLINE_MEMBERS;
        let list: Vec<Value> = page
            .into_iter()
            .take(MAX_INLINE_MEMBERS)
            .map(|p| {
                let mut m =
                    json!({"value": p.id, "$ref": super::users::location(&p.id), "type": "User"});
                // A client reads back the members it wrote, without a display name it did
                // not send (provisioning mode); a mirror shows the member's name.
                if !view.provisioning() {
                    m["display"] = Value::String(p.name());
                }
                m
            })
            .collect();
        let count = if truncated {
            view.count_members(&g.id, &[])?
        } else {
            list.len() as u64
        };
        o.insert("members".into(), Value::Array(list));
        ext.insert("memberCount".into(), json!(count));
        ext.insert("membersTruncated".into(), Value::Bool(truncated));
    } else {
        // The stored counter for roles that see everyone; a counting scan otherwise.
        ext.insert("memberCount".into(), json!(view.count_members(&g.id, &[])?));
    }
    // In provisioning mode a Group is what the client wrote (the extension's counts and type
    // are the mirror's, not the client's).
    if !view.provisioning() {
        o.insert(GROUP_MIRROR_URN.into(), Value::Object(ext));
    }
    Ok(Value::Object(o))
}
