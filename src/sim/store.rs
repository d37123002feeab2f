//! The live org the API serves: users and groups in id-ordered maps (so cursor
//! pages are range queries), memberships in both directions, the System Log, and the
//! primitive changes `admin.rs` composes into Okta's operations (each given its stamp).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use super::model::{Group, Status, User};
use super::syslog::SystemLog;
use super::time::{self, Millis};

/// All mutable org state; lives behind one `RwLock` in the simulator.
#[derive(Default)]
pub struct Org {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    /// group id → member user ids.
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// user id → group ids.
    pub user_groups: HashMap<String, BTreeSet<String>>,
    /// lower-cased login → user id.
    logins: HashMap<String, String>,
    /// Last stamp handed out, so successive mutations get strictly increasing times.
    clock: Millis,
    /// Every change's LogEvents, appended under the same lock as the change itself, so
    /// the log's order is the order the org changed in.
    pub log: SystemLog,
    /// The org's user types (`/api/v1/meta/types/user`), the default one first.
    pub user_types: Vec<UserType>,
}

/// A user type as Okta serves it (okta-api.md 2.5: users carry `type: {id}`).
#[derive(Clone, Debug, Default)]
pub struct UserType {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub default: bool,
    pub created: Millis,
}

impl Org {
    /// Assemble an org from generated parts; `user_groups[i]` belongs to `users[i]`.
    pub fn bulk(
        users: Vec<User>,
        user_groups: Vec<BTreeSet<String>>,
        groups: Vec<(Group, BTreeSet<String>)>,
    ) -> Org {
        let mut org = Org {
            logins: HashMap::with_capacity(users.len()),
            user_groups: HashMap::with_capacity(users.len()),
            ..Org::default()
        };
        for (user, gs) in users.iter().zip(user_groups) {
            org.logins
                .insert(user.login.to_lowercase(), user.id.clone());
            org.user_groups.insert(user.id.clone(), gs);
        }
        // Collecting sorts once and bulk-builds the trees: much faster than random inserts.
        org.users = users.into_iter().map(|u| (u.id.clone(), u)).collect();
        let mut by_id = Vec::with_capacity(groups.len());
        let mut members = Vec::with_capacity(groups.len());
        for (g, m) in groups {
            members.push((g.id.clone(), m));
            by_id.push((g.id.clone(), g));
        }
        org.members = members.into_iter().collect();
        org.groups = by_id.into_iter().collect();
        org
    }

    /// Find a user by id, or by login (case-insensitive), as `GET /users/{idOrLogin}` does.
    pub fn find_user(&self, id_or_login: &str) -> Option<&User> {
        self.users.get(id_or_login).or_else(|| {
            self.logins
                .get(&id_or_login.to_lowercase())
                .and_then(|id| self.users.get(id))
        })
    }

    /// Whether an admin scoped to `scope` (group ids; `None`: everything) may see a user:
    /// a group admin sees the members of their groups, and no one else.
    pub fn user_in_scope(&self, scope: Option<&BTreeSet<String>>, user_id: &str) -> bool {
        match scope {
            None => true,
            Some(scope) => self
                .user_groups
                .get(user_id)
                .is_some_and(|gs| gs.iter().any(|g| scope.contains(g))),
        }
    }

    /// Up to `limit` items after the cursor matching `keep`, plus whether more exist
    /// (found by peeking one extra match, so a trailing empty page never happens).
    pub fn page<'a, T>(
        map: &'a BTreeMap<String, T>,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> (Vec<&'a T>, bool) {
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut iter = map
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|(_, v)| v)
            .filter(|v| keep(v));
        let items: Vec<&T> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (items, more)
    }

    /// A page of a group's members after the cursor; `None` if the group is unknown.
    pub fn member_page(
        &self,
        group_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Option<(Vec<&User>, bool)> {
        let set = self.members.get(group_id)?;
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut iter = set
            .range::<str, _>((lower, Bound::Unbounded))
            .filter_map(|id| self.users.get(id));
        let items: Vec<&User> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        Some((items, more))
    }

    /// A fresh timestamp: now, but always later than any stamp handed out before and than
    /// `floor` (a record's own latest time: generated data can lie ahead of the wall clock).
    /// Every mutation takes one and uses it for its records and its log events alike.
    pub fn stamp(&mut self, floor: Millis) -> Millis {
        let t = time::now().max(self.clock + 1).max(floor + 1);
        self.clock = t;
        t
    }

    /// The id of the user holding `login` (case-insensitive), if any.
    pub fn login_owner(&self, login: &str) -> Option<&str> {
        self.logins.get(&login.to_lowercase()).map(String::as_str)
    }

    /// Add a new user (its id and login must be free) with no memberships.
    pub fn insert_user(&mut self, user: User) {
        self.logins
            .insert(user.login.to_lowercase(), user.id.clone());
        self.user_groups.entry(user.id.clone()).or_default();
        self.users.insert(user.id.clone(), user);
    }

    /// Remove a user and its memberships (no events: Okta writes none per group for a
    /// deleted user), setting those groups' `lastMembershipUpdated` to `t`.
    pub fn delete_user(&mut self, id: &str, t: Millis) -> bool {
        let Some(user) = self.users.remove(id) else {
            return false;
        };
        self.logins.remove(&user.login.to_lowercase());
        for gid in self.user_groups.remove(id).unwrap_or_default() {
            if let Some(set) = self.members.get_mut(&gid) {
                set.remove(id);
            }
            if let Some(g) = self.groups.get_mut(&gid) {
                g.last_membership_updated = t;
            }
        }
        true
    }

    /// Set a user's status at `t` (`statusChanged`, `lastUpdated`, and `activated` when it
    /// becomes ACTIVE by activation rather than by unsuspending).
    pub fn set_status(&mut self, id: &str, status: Status, activated: bool, t: Millis) -> bool {
        let Some(u) = self.users.get_mut(id) else {
            return false;
        };
        u.status = status;
        u.status_changed = Some(t);
        u.last_updated = t;
        if activated {
            u.activated = Some(t);
        }
        true
    }

    /// Replace a user's profile at `t`, keeping the login index right.
    pub fn set_profile(
        &mut self,
        id: &str,
        profile: serde_json::Map<String, serde_json::Value>,
        t: Millis,
    ) -> bool {
        let Some(user) = self.users.get_mut(id) else {
            return false;
        };
        let old_login = user.login.to_lowercase();
        user.reindex_profile(&profile);
        user.profile = serde_json::Value::Object(profile).to_string();
        user.last_updated = t;
        let new_login = user.login.to_lowercase();
        if new_login != old_login {
            self.logins.remove(&old_login);
            self.logins.insert(new_login, id.to_string());
        }
        true
    }

    /// True when the membership changed (both exist and the user was not yet a member);
    /// the group's `lastMembershipUpdated` becomes `t`.
    pub fn add_member(&mut self, group_id: &str, user_id: &str, t: Millis) -> bool {
        if !self.users.contains_key(user_id) {
            return false;
        }
        let Some(set) = self.members.get_mut(group_id) else {
            return false;
        };
        if !set.insert(user_id.to_string()) {
            return false;
        }
        self.user_groups
            .entry(user_id.to_string())
            .or_default()
            .insert(group_id.to_string());
        if let Some(g) = self.groups.get_mut(group_id) {
            g.last_membership_updated = t;
        }
        true
    }

    /// True when the user was a member and has been removed (`lastMembershipUpdated` = `t`).
    pub fn remove_member(&mut self, group_id: &str, user_id: &str, t: Millis) -> bool {
        let removed = self
            .members
            .get_mut(group_id)
            .is_some_and(|set| set.remove(user_id));
        if removed {
            if let Some(gs) = self.user_groups.get_mut(user_id) {
                gs.remove(group_id);
            }
            if let Some(g) = self.groups.get_mut(group_id) {
                g.last_membership_updated = t;
            }
        }
        removed
    }

    /// Add a new, empty group (its id must be free).
    pub fn insert_group(&mut self, group: Group) {
        self.members.insert(group.id.clone(), BTreeSet::new());
        self.groups.insert(group.id.clone(), group);
    }

    /// Replace a group's profile at `t` (`lastUpdated`; the name is cached for `q`).
    pub fn set_group_profile(
        &mut self,
        id: &str,
        profile: serde_json::Map<String, serde_json::Value>,
        t: Millis,
    ) -> bool {
        let Some(g) = self.groups.get_mut(id) else {
            return false;
        };
        g.name = profile
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        g.profile = serde_json::Value::Object(profile).to_string();
        g.last_updated = t;
        true
    }

    /// Remove a group and its memberships (no per-user events, as in Okta).
    pub fn delete_group(&mut self, id: &str) -> bool {
        if self.groups.remove(id).is_none() {
            return false;
        }
        for uid in self.members.remove(id).unwrap_or_default() {
            if let Some(gs) = self.user_groups.get_mut(&uid) {
                gs.remove(id);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::{SimOptions, Simulator};

    fn sim() -> Simulator {
        Simulator::new(SimOptions {
            users: 300,
            groups: Some(30),
            seed: 2,
            token: "t".into(),
        })
    }

    fn user(s: &Simulator, id: &str) -> serde_json::Value {
        s.users().into_iter().find(|u| u["id"] == id).unwrap()
    }

    #[test]
    fn mutations_bump_timestamps_and_keep_indexes() {
        let s = sim();
        let id = s
            .users()
            .into_iter()
            .find(|u| u["status"] == "ACTIVE" && u["profile"].get("badgeId").is_some())
            .and_then(|u| u["id"].as_str().map(str::to_string))
            .unwrap();
        let before = user(&s, &id);

        let mut patch = serde_json::Map::new();
        patch.insert("title".into(), "Chief Tester".into());
        patch.insert("login".into(), "new.login@x.example".into());
        patch.insert("badgeId".into(), serde_json::Value::Null);
        assert!(s.update_profile(&id, patch));
        let after = user(&s, &id);
        assert_eq!(after["profile"]["title"], "Chief Tester");
        assert!(after["profile"].get("badgeId").is_none());
        assert!(after["lastUpdated"].as_str() > before["lastUpdated"].as_str());
        assert_eq!(after["profile"]["email"], before["profile"]["email"]);

        assert!(s.deactivate_user(&id));
        let deact = user(&s, &id);
        assert_eq!(deact["status"], "DEPROVISIONED");
        assert!(deact["lastUpdated"].as_str() > after["lastUpdated"].as_str());

        let gid = s.groups()[5]["id"].as_str().unwrap().to_string();
        let g0 = s.groups().into_iter().find(|g| g["id"] == gid).unwrap();
        let had = s.group_members(&gid).contains(&id);
        if had {
            assert!(s.remove_member(&gid, &id));
        }
        assert!(s.add_member(&gid, &id));
        assert!(!s.add_member(&gid, &id));
        assert!(s.user_groups(&id).contains(&gid));
        let g1 = s.groups().into_iter().find(|g| g["id"] == gid).unwrap();
        assert!(g1["lastMembershipUpdated"].as_str() > g0["lastMembershipUpdated"].as_str());
        assert_eq!(g1["lastUpdated"], g0["lastUpdated"]);

        let groups = s.user_groups(&id);
        assert!(s.delete_user(&id));
        assert!(!s.delete_user(&id));
        for g in groups {
            assert!(!s.group_members(&g).contains(&id));
        }
        assert!(s.user_groups(&id).is_empty());
        assert!(!s.deactivate_user(&id));
        assert!(!s.add_member(&gid, &id));

        let member = s.group_members(&gid).first().cloned();
        assert!(s.delete_group(&gid));
        assert!(!s.delete_group(&gid));
        if let Some(m) = member {
            assert!(!s.user_groups(&m).contains(&gid));
        }
        assert!(s.group_members(&gid).is_empty());
    }
}
