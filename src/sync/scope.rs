//! What part of the org the mirror keeps: groups by name pattern, people from those groups or
//! from everyone, an Okta search expression and user types. Decides membership in scope; the
//! Okta adapter turns a `Scope` into Okta's query strings.

use serde::{Deserialize, Serialize};

/// The configured scope. The default (every field empty) is the whole org.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Group name patterns (exact names or `*` globs, case-insensitive); empty: every group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_groups: Vec<String>,
    /// People only from the included groups' members (`users = "groups"`), not from everyone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub users_from_groups: bool,
    /// An Okta `search` expression people must match, applied by Okta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// User type names (or ids) people must have; empty: every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_types: Vec<String>,
}

impl Scope {
    /// True when the scope is the whole org.
    pub fn is_everything(&self) -> bool {
        self.include_groups.is_empty() && !self.limits_people()
    }

    /// True when some people of the org are left out (their managers then come in, marked).
    pub fn limits_people(&self) -> bool {
        self.users_from_groups || self.user_filter.is_some() || !self.user_types.is_empty()
    }

    /// Whether a group of this name is mirrored.
    pub fn group_included(&self, name: &str) -> bool {
        self.include_groups.is_empty() || self.include_groups.iter().any(|p| glob(p, name))
    }

    /// The scope in one line, for messages.
    pub fn describe(&self) -> String {
        if self.is_everything() {
            return "the whole org".to_owned();
        }
        let mut parts = Vec::new();
        if !self.include_groups.is_empty() {
            parts.push(format!("groups {}", self.include_groups.join(", ")));
        }
        parts.push(if self.users_from_groups {
            "people from those groups".to_owned()
        } else {
            "everyone".to_owned()
        });
        if let Some(f) = &self.user_filter {
            parts.push(format!("matching `{f}`"));
        }
        if !self.user_types.is_empty() {
            parts.push(format!("of type {}", self.user_types.join(", ")));
        }
        parts.join("; ")
    }
}

/// Case-insensitive match of `text` against `pattern`, where `*` stands for any run of
/// characters (none included) and everything else for itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Classic greedy match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_case_insensitively() {
        assert!(glob("team-*", "Team-Platform"));
        assert!(glob("team-*", "team-"));
        assert!(!glob("team-*", "steam-x"));
        assert!(glob("dept-engineering", "DEPT-Engineering"));
        assert!(!glob("dept-engineering", "dept-engineering-2"));
        assert!(glob("*-eng*", "platform-engineering"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("*", ""));
    }

    #[test]
    fn the_default_scope_is_everything() {
        let s = Scope::default();
        assert!(s.is_everything());
        assert!(s.group_included("anything"));
        let g = Scope {
            include_groups: vec!["team-*".into()],
            ..Scope::default()
        };
        assert!(!g.is_everything() && !g.limits_people());
        assert!(g.group_included("TEAM-x") && !g.group_included("dept-x"));
    }
}
