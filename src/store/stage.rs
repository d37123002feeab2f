//! Staging trees for a full crawl: what Okta returned is written here page by page, and only
//! applied to the mirror once the whole crawl completed, so a failed crawl changes nothing and
//! memory stays flat however large the org.

use serde_json::Value;

use super::{Result, Store, StoreError, decode, id_of, keys};

impl Store {
    /// Empties the staging area before a new crawl.
    pub fn stage_clear(&self) -> Result<()> {
        self.stage_users.clear()?;
        self.stage_groups.clear()?;
        self.stage_members.clear()?;
        Ok(())
    }

    /// Stages one page of raw users (id, JSON).
    pub fn stage_users(&self, page: &[(String, Value)]) -> Result<()> {
        stage_page(&self.stage_users, page)
    }

    /// Stages one page of raw groups (id, JSON).
    pub fn stage_groups(&self, page: &[(String, Value)]) -> Result<()> {
        stage_page(&self.stage_groups, page)
    }

    /// Stages member ids of a group.
    pub fn stage_members(&self, group_id: &str, user_ids: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for u in user_ids {
            batch.insert(keys::pair(group_id, u), &[]);
        }
        self.stage_members.apply_batch(batch)?;
        Ok(())
    }

    pub fn staged_user_count(&self) -> usize {
        self.stage_users.len()
    }

    pub fn staged_group_count(&self) -> usize {
        self.stage_groups.len()
    }

    /// Staged users in id order.
    pub fn staged_users(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        staged(&self.stage_users, "staged user")
    }

    /// Staged groups in id order.
    pub fn staged_groups(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        staged(&self.stage_groups, "staged group")
    }

    pub fn is_user_staged(&self, id: &str) -> Result<bool> {
        Ok(self.stage_users.contains_key(id)?)
    }

    pub fn is_group_staged(&self, id: &str) -> Result<bool> {
        Ok(self.stage_groups.contains_key(id)?)
    }

    /// Staged member ids of a group, in id order.
    pub fn staged_member_ids(&self, group_id: &str) -> Result<Vec<String>> {
        self.stage_members
            .scan_prefix(keys::prefix(group_id))
            .map(|kv| {
                let (k, _) = kv?;
                keys::second(&k).ok_or_else(|| StoreError::Corrupt("staged membership".into()))
            })
            .collect()
    }

    /// Ids of everyone in the mirror, in id order, without decoding the records.
    pub fn person_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.tree(super::T::People).iter().map(|kv| id_of(&kv?.0))
    }

    /// Ids of every group in the mirror, in id order.
    pub fn group_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.tree(super::T::Groups).iter().map(|kv| id_of(&kv?.0))
    }
}

fn stage_page(tree: &sled::Tree, page: &[(String, Value)]) -> Result<()> {
    let mut batch = sled::Batch::default();
    for (id, raw) in page {
        let bytes = serde_json::to_vec(raw)
            .map_err(|e| StoreError::Corrupt(format!("staging {id}: {e}")))?;
        batch.insert(id.as_bytes(), bytes);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

fn staged<'a>(
    tree: &'a sled::Tree,
    what: &'static str,
) -> impl Iterator<Item = Result<(String, Value)>> + 'a {
    tree.iter().map(move |kv| {
        let (k, v) = kv?;
        Ok((id_of(&k)?, decode(what, &v)?))
    })
}
