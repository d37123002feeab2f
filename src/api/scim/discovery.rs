//! Discovery (RFC 7644 §4, RFC 7643 §5–7): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, stating honestly what this server does: filter, sort and ETags yes; bulk and
//! password changes no; PATCH and writable attributes only in provisioning mode (`writable`),
//! since a mirror of the Okta API is read-only.

use serde_json::{Value, json};

use super::filter::{GROUP_URN, USER_URN};
use super::groups::{GROUP_MIRROR_URN, MAX_INLINE_MEMBERS};
use super::query::{DEFAULT_COUNT, MAX_COUNT};
use super::users::{ENTERPRISE_URN, MIRROR_URN};
use super::{BASE, list_response};

const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub(crate) fn service_provider_config(writable: bool) -> Value {
    let mode = if writable {
        "This mirror is in provisioning mode (--source scim): a provisioner key creates, replaces, patches and deletes Users and Groups."
    } else {
        "This mirror is read-only (its source is the Okta API): writes are refused (403); a mirror started with --source scim accepts them."
    };
    json!({
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/oktamirror/oktamirror#read-the-mirror-with-a-scim-client",
        "patch": {"supported": writable},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key (Bearer)",
            "description": format!(
                "Authorization: Bearer KEY, with a key from `oktamirror keys new`. {mode} Lists return {DEFAULT_COUNT} resources unless count says otherwise, at most {MAX_COUNT}; a Group holds at most {MAX_INLINE_MEMBERS} members inline (page the rest with GET /Users?filter=groups.value eq \"GROUP_ID\")."
            ),
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{BASE}/ServiceProviderConfig"),
        },
    })
}

fn resource_type(
    id: &str,
    endpoint: &str,
    schema: &str,
    ext: &[(&str, bool)],
    writable: bool,
) -> Value {
    let source = if writable {
        "pushed by a provisioning client"
    } else {
        "mirrored from Okta (read-only)"
    };
    json!({
        "schemas": [RT_URN],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": format!("{id}s {source}"),
        "schema": schema,
        "schemaExtensions": ext.iter().map(|(s, r)| json!({"schema": s, "required": r})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/{id}")},
    })
}

pub(crate) fn resource_types(writable: bool) -> Vec<Value> {
    vec![
        resource_type(
            "User",
            "/Users",
            USER_URN,
            &[(ENTERPRISE_URN, false), (MIRROR_URN, false)],
            writable,
        ),
        resource_type(
            "Group",
            "/Groups",
            GROUP_URN,
            if writable {
                &[]
            } else {
                &[(GROUP_MIRROR_URN, false)]
            },
            writable,
        ),
    ]
}

pub(crate) fn resource_types_list(writable: bool) -> Value {
    let all = resource_types(writable);
    list_response(all.len() as u64, 1, all)
}

/// One attribute definition, read-only (see [`writable_schemas`] for provisioning mode).
fn attr(name: &str, ty: &str, multi: bool, desc: &str) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": multi, "description": desc,
        "required": false, "caseExact": false, "mutability": "readOnly",
        "returned": "default", "uniqueness": "none",
    })
}

fn complex(name: &str, multi: bool, desc: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, desc);
    a["subAttributes"] = Value::Array(subs);
    a
}

fn reference(name: &str, types: &[&str]) -> Value {
    let mut a = attr(name, "reference", false, "The URI of the resource");
    a["referenceTypes"] = json!(types);
    a
}

fn multi(name: &str, desc: &str, value_desc: &str) -> Value {
    complex(
        name,
        true,
        desc,
        vec![
            attr("value", "string", false, value_desc),
            attr("type", "string", false, "work, home, mobile, other"),
            attr("primary", "boolean", false, "The primary value"),
        ],
    )
}

fn schema(id: &str, name: &str, desc: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": id, "name": name, "description": desc, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{BASE}/Schemas/{id}")},
    })
}

/// The schemas; in provisioning mode (`writable`) the attributes a client writes are
/// `readWrite`.
pub(crate) fn schemas(writable: bool) -> Vec<Value> {
    let mut all = read_only_schemas();
    if writable {
        // What a client writes is what it reads back: the Group extension (counts, type) and
        // the User extension's status and manager chain are the mirror's, so they are left out.
        all.retain(|s| s["id"] != GROUP_MIRROR_URN);
        for s in &mut all {
            let id = s["id"].as_str().unwrap_or("").to_owned();
            let read_only: &[&str] = match id.as_str() {
                USER_URN => &["groups"],
                _ => &[],
            };
            if let Some(attrs) = s["attributes"].as_array_mut() {
                if id == MIRROR_URN {
                    attrs.retain(|a| a["name"] == "managerId" || a["name"] == "customAttributes");
                }
                if id == GROUP_URN
                    && let Some(members) = attrs.iter_mut().find(|a| a["name"] == "members")
                    && let Some(subs) = members["subAttributes"].as_array_mut()
                {
                    subs.retain(|a| a["name"] != "display");
                    for sub in subs.iter_mut().filter(|a| a["name"] == "type") {
                        sub["canonicalValues"] = json!(["User"]);
                    }
                }
                for a in attrs.iter_mut() {
                    set_mutability(a, "", read_only);
                    if id == GROUP_URN && a["name"] == "displayName" {
                        a["required"] = json!(true);
                    }
                }
            }
        }
    }
    all
}

/// Marks `a` (and its sub-attributes) readWrite unless its dotted name is in `read_only`.
fn set_mutability(a: &mut Value, parent: &str, read_only: &[&str]) {
    let name = a["name"].as_str().unwrap_or("").to_owned();
    let full = if parent.is_empty() {
        name
    } else {
        format!("{parent}.{name}")
    };
    let ro = read_only.contains(&full.as_str()) || read_only.contains(&parent);
    a["mutability"] = json!(if ro { "readOnly" } else { "readWrite" });
    if let Some(subs) = a["subAttributes"].as_array_mut() {
        for sub in subs {
            set_mutability(sub, if ro { parent } else { &full }, read_only);
            if ro {
                sub["mutability"] = json!("readOnly");
            }
        }
    }
}

fn read_only_schemas() -> Vec<Value> {
    let s = |n: &str, d: &str| attr(n, "string", false, d);
    // A `value` holding a resource id: compared case-exactly, like `id`.
    let id_ref = |d: &str| {
        let mut v = attr("value", "string", false, d);
        v["caseExact"] = json!(true);
        v
    };
    let mut user_name = s("userName", "The Okta login");
    user_name["required"] = json!(true);
    user_name["uniqueness"] = json!("server");
    let user = schema(
        USER_URN,
        "User",
        "User Account (from the Okta user)",
        vec![
            user_name,
            complex(
                "name",
                false,
                "The person's name",
                vec![
                    s("formatted", "given and family name"),
                    s("familyName", "Okta lastName"),
                    s("givenName", "Okta firstName"),
                    s("middleName", "Okta middleName"),
                    s("honorificPrefix", "Okta honorificPrefix"),
                    s("honorificSuffix", "Okta honorificSuffix"),
                ],
            ),
            s(
                "displayName",
                "Okta displayName, else first and last name, else the login",
            ),
            s("nickName", "Okta nickName"),
            reference("profileUrl", &["external"]),
            s("title", "Okta title"),
            s("userType", "Okta userType"),
            s("preferredLanguage", "Okta preferredLanguage"),
            s("locale", "Okta locale"),
            s("timezone", "Okta timezone"),
            attr(
                "active",
                "boolean",
                false,
                "False for STAGED, SUSPENDED and DEPROVISIONED people",
            ),
            multi(
                "emails",
                "Okta email (work, primary) and secondEmail (other)",
                "The address",
            ),
            multi(
                "phoneNumbers",
                "Okta primaryPhone (work, primary) and mobilePhone (mobile)",
                "The number",
            ),
            complex(
                "addresses",
                true,
                "The work address from the Okta profile",
                vec![
                    s("streetAddress", "Okta streetAddress"),
                    s("locality", "Okta city"),
                    s("region", "Okta state"),
                    s("postalCode", "Okta zipCode"),
                    s("country", "Okta countryCode"),
                    s("type", "work"),
                    attr("primary", "boolean", false, "Always true"),
                ],
            ),
            complex(
                "groups",
                true,
                "The groups the person belongs to",
                vec![
                    id_ref("The group's id"),
                    reference("$ref", &["Group"]),
                    s("display", "The group's name"),
                    s("type", "direct"),
                ],
            ),
        ],
    );
    let mut manager = complex(
        "manager",
        false,
        "The resolved manager (Okta managerId matched to a person)",
        vec![
            s("value", "The manager's id"),
            reference("$ref", &["User"]),
            s("displayName", "The manager's name"),
        ],
    );
    manager["subAttributes"][0]["caseExact"] = json!(true);
    let enterprise = schema(
        ENTERPRISE_URN,
        "EnterpriseUser",
        "Enterprise User",
        vec![
            s("employeeNumber", "Okta employeeNumber"),
            s("costCenter", "Okta costCenter"),
            s("organization", "Okta organization"),
            s("division", "Okta division"),
            s("department", "Okta department"),
            manager,
        ],
    );
    let mut custom = attr(
        "customAttributes",
        "complex",
        false,
        "The Okta profile's custom attributes, as Okta holds them (only those a directory key may read)",
    );
    custom["subAttributes"] = json!([]);
    let mirror_user = schema(
        MIRROR_URN,
        "OktaMirrorUser",
        "What Okta knows beyond SCIM: the status, the raw managerId, the manager chain and custom attributes",
        vec![
            s(
                "status",
                "The Okta status (ACTIVE, STAGED, SUSPENDED, DEPROVISIONED, ...)",
            ),
            s("managerId", "Okta's profile.managerId as stored"),
            attr(
                "inScope",
                "boolean",
                false,
                "False for someone mirrored only as the manager of people in the configured scope",
            ),
            complex(
                "managerChain",
                true,
                "The managers above the person, nearest first",
                vec![
                    s("value", "The manager's id"),
                    reference("$ref", &["User"]),
                    s("display", "The manager's name"),
                ],
            ),
            custom,
        ],
    );
    let group = schema(
        GROUP_URN,
        "Group",
        "Group (from the Okta group)",
        vec![
            s("displayName", "The Okta group name"),
            complex(
                "members",
                true,
                &format!(
                    "Members: at most {MAX_INLINE_MEMBERS} inline in GET /Groups/{{id}}, and in list answers only when `attributes` names members; every member, pageable: GET /Users?filter=groups.value eq \"GROUP_ID\""
                ),
                vec![
                    id_ref("The member's id"),
                    reference("$ref", &["User"]),
                    s("display", "The member's name"),
                    s("type", "User"),
                ],
            ),
        ],
    );
    let mirror_group = schema(
        GROUP_MIRROR_URN,
        "OktaMirrorGroup",
        "What Okta knows beyond SCIM about a group",
        vec![
            s("type", "OKTA_GROUP, APP_GROUP or BUILT_IN"),
            s("description", "The Okta group description"),
            attr("memberCount", "integer", false, "Every visible member"),
            attr(
                "membersTruncated",
                "boolean",
                false,
                "True when members holds only the first of them",
            ),
        ],
    );
    vec![user, enterprise, mirror_user, group, mirror_group]
}

pub(crate) fn schemas_list(writable: bool) -> Value {
    let all = schemas(writable);
    list_response(all.len() as u64, 1, all)
}
