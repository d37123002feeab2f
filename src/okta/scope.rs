//! The configured scope as Okta query strings: `search` on groups for the name patterns, on users
//! for the people filter (with user types by `type.id`) and for managers by key; and the user
//! types themselves (`GET /api/v1/meta/types/user`).

use serde_json::Value;

use super::OktaError;
use crate::model::UserType;
use crate::sync::Scope;
use crate::sync::scope::glob;

/// Keys (manager references) per search request: four clauses each, so a request stays well
/// inside what Okta accepts ("too long or complex a search returns an error", okta-api.md 2.3).
pub const KEYS_PER_SEARCH: usize = 10;

/// Ids per filter check (`id eq` clauses in one search).
pub const IDS_PER_SEARCH: usize = 40;

/// A search string literal: `"` and `\` escaped (okta-api.md 1.2).
pub fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The groups `search` that finds the groups the patterns can match, or `None` when every
/// group must be listed (no patterns, or one that is all stars). Okta's `sw`, `eq` and `co`
/// compare case-insensitively; a glob they cannot express exactly (`*-eng`, `a*b`) is narrowed
/// to its literal prefix (`sw`) or its longest literal run (`co`), and the caller keeps only
/// the names that match the glob itself.
pub fn groups_search(scope: &Scope) -> Option<String> {
    let mut clauses = Vec::new();
    for pattern in &scope.include_groups {
        let clause = if !pattern.contains('*') {
            format!("profile.name eq {}", quote(pattern))
        } else {
            let prefix = pattern.split('*').next().unwrap_or_default();
            if !prefix.is_empty() {
                format!("profile.name sw {}", quote(prefix))
            } else {
                let run = pattern.split('*').max_by_key(|s| s.chars().count())?;
                if run.is_empty() {
                    return None;
                }
                format!("profile.name co {}", quote(run))
            }
        };
        clauses.push(clause);
    }
    (!clauses.is_empty()).then(|| clauses.join(" or "))
}

/// Whether a group object (as Okta returns it) is in scope, by its `profile.name`.
pub fn group_in_scope(scope: &Scope, group: &Value) -> bool {
    if scope.include_groups.is_empty() {
        return true;
    }
    let name = group
        .pointer("/profile/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    scope.include_groups.iter().any(|p| glob(p, name))
}

/// The users `search` of the people filter: `user_filter` and the user types' ids, `None`
/// when the scope filters no one.
pub fn people_search(filter: Option<&str>, type_ids: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(f) = filter {
        parts.push(format!("({f})"));
    }
    if !type_ids.is_empty() {
        let types: Vec<String> = type_ids
            .iter()
            .map(|id| format!("type.id eq {}", quote(id)))
            .collect();
        parts.push(format!("({})", types.join(" or ")));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The search that finds users whose id, login, email or employee number is one of `keys`.
pub fn keys_search(keys: &[String]) -> String {
    keys.iter()
        .map(|k| {
            let q = quote(k.trim());
            format!(
                "id eq {q} or profile.employeeNumber eq {q} or profile.login eq {q} or profile.email eq {q}"
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `people` restricted to `ids`: the check of which re-read users still match the filter.
pub fn ids_within(people: &str, ids: &[String]) -> String {
    let ids: Vec<String> = ids
        .iter()
        .map(|id| format!("id eq {}", quote(id)))
        .collect();
    format!("{people} and ({})", ids.join(" or "))
}

/// Reads `GET /api/v1/meta/types/user`'s items (`id`, `name`, `displayName`); items without
/// an id or a name are skipped.
pub fn read_types(items: &[Value]) -> Vec<UserType> {
    items
        .iter()
        .filter_map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(UserType {
                id: s("id")?,
                name: s("name")?,
                display_name: s("displayName"),
            })
        })
        .collect()
}

/// The ids of the configured type names (matched against id, name or display name,
/// case-insensitively); an unknown name is a configuration error listing the known ones.
pub fn type_ids(wanted: &[String], types: &[UserType]) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for w in wanted {
        let hit = types.iter().find(|t| {
            t.id == *w
                || t.name.eq_ignore_ascii_case(w)
                || t.display_name
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(w))
        });
        match hit {
            Some(t) => ids.push(t.id.clone()),
            None => {
                let known: Vec<String> = types
                    .iter()
                    .map(|t| t.display_name.clone().unwrap_or_else(|| t.name.clone()))
                    .collect();
                return Err(format!(
                    "user_types names \"{w}\", which is not a user type of this Okta org; its types are: {}",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(ids)
}

/// What reading the user types costs when Okta refuses it, said once.
pub fn types_refused(e: &OktaError) -> Option<String> {
    let refused = matches!(
        e,
        OktaError::Forbidden { .. }
            | OktaError::ForbiddenApp { .. }
            | OktaError::MissingScope { .. }
    ) || matches!(
        e,
        OktaError::Status {
            status: 403 | 401,
            ..
        }
    );
    refused.then(|| {
        "Okta refused the user types (GET /api/v1/meta/types/user): grant okta.userTypes.read to read them; until then people's userType is null (its id only in profile JSON), and the userType filter, facet and user_types scope have nothing to go on".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(patterns: &[&str]) -> Scope {
        Scope {
            include_groups: patterns.iter().map(|p| p.to_string()).collect(),
            ..Scope::default()
        }
    }

    #[test]
    fn group_patterns_become_okta_searches() {
        assert_eq!(groups_search(&Scope::default()), None);
        assert_eq!(
            groups_search(&scope(&["dept-engineering", "team-*"])).as_deref(),
            Some("profile.name eq \"dept-engineering\" or profile.name sw \"team-\"")
        );
        assert_eq!(
            groups_search(&scope(&["*-eng*"])).as_deref(),
            Some("profile.name co \"-eng\"")
        );
        assert_eq!(groups_search(&scope(&["team-*", "*"])), None);
        assert_eq!(
            groups_search(&scope(&["say \"hi\""])).as_deref(),
            Some("profile.name eq \"say \\\"hi\\\"\"")
        );
    }

    #[test]
    fn the_people_search_joins_filter_and_types() {
        assert_eq!(people_search(None, &[]), None);
        assert_eq!(
            people_search(
                Some("status eq \"ACTIVE\""),
                &["oty1".into(), "oty2".into()]
            )
            .as_deref(),
            Some("(status eq \"ACTIVE\") and (type.id eq \"oty1\" or type.id eq \"oty2\")")
        );
    }

    #[test]
    fn type_names_resolve_or_fail_with_the_known_ones() {
        let types = read_types(&[
            serde_json::json!({"id": "oty1", "name": "user", "displayName": "User"}),
            serde_json::json!({"id": "oty2", "name": "employee", "displayName": "Employee"}),
            serde_json::json!({"name": "no id"}),
        ]);
        assert_eq!(types.len(), 2);
        assert_eq!(
            type_ids(&["EMPLOYEE".into()], &types),
            Ok(vec!["oty2".into()])
        );
        let err = type_ids(&["Partner".into()], &types).expect_err("unknown type");
        assert!(
            err.contains("Partner") && err.contains("User, Employee"),
            "{err}"
        );
    }
}
