//! Discovery (RFC 7644 §4, RFC 7643 §5–7): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, stating honestly what this server does: filter, sort and ETags yes; PATCH, bulk
//! and password changes no (the mirror is read-only).

use serde_json::{Value, json};

use super::filter::{GROUP_URN, USER_URN};
use super::groups::{GROUP_MIRROR_URN, MAX_INLINE_MEMBERS};
use super::query::{DEFAULT_COUNT, MAX_COUNT};
use super::users::{ENTERPRISE_URN, MIRROR_URN};
use super::{BASE, list_response};

const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub(crate) fn service_provider_config() -> Value {
    json!({
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/oktamirror/oktamirror#read-the-mirror-with-a-scim-client",
        "patch": {"supported": false},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key (Bearer)",
            "description": format!(
                "Authorization: Bearer KEY, with a key from `oktamirror keys new`. This mirror is read-only: writes are refused (403) until provisioning mode (--source scim). Lists return {DEFAULT_COUNT} resources unless count says otherwise, at most {MAX_COUNT}; a Group holds at most {MAX_INLINE_MEMBERS} members inline (page the rest with GET /Users?filter=groups.value eq \"GROUP_ID\")."
            ),
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{BASE}/ServiceProviderConfig"),
        },
    })
}

fn resource_type(id: &str, endpoint: &str, schema: &str, ext: &[(&str, bool)]) -> Value {
    json!({
        "schemas": [RT_URN],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": format!("{id}s mirrored from Okta (read-only)"),
        "schema": schema,
        "schemaExtensions": ext.iter().map(|(s, r)| json!({"schema": s, "required": r})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/{id}")},
    })
}

pub(crate) fn resource_types() -> Vec<Value> {
    vec![
        resource_type(
            "User",
            "/Users",
            USER_URN,
            &[(ENTERPRISE_URN, false), (MIRROR_URN, false)],
        ),
        resource_type("Group", "/Groups", GROUP_URN, &[(GROUP_MIRROR_URN, false)]),
    ]
}

pub(crate) fn resource_types_list() -> Value {
    let all = resource_types();
    list_response(all.len() as u64, 1, all)
}

/// One attribute definition. Every attribute here is read-only: the mirror's source is Okta.
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

pub(crate) fn schemas() -> Vec<Value> {
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

pub(crate) fn schemas_list() -> Value {
    let all = schemas();
    list_response(all.len() as u64, 1, all)
}
