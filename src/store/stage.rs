//! Staging trees for a full crawl: what Okta returned is written here page by page, and only
//! applied to the mirror once the whole crawl completed, so a failed crawl changes nothing and
//! memory stays flat however large the org.

use serde_json::Value;

use super::{Result, Store, StoreError, decode, id_of, keys};

/// Member ids per staged chunk.
const MEMBER_CHUNK: usize = 1000;

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

    /// Stages the member ids of a group, packed in chunks (one key per 1,000 ids rather than one
    /// per membership: a large org has hundreds of thousands of memberships, and every sled
    /// insert copies a tree node).
    pub fn stage_members(&self, group_id: &str, user_ids: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (n, chunk) in user_ids.chunks(MEMBER_CHUNK).enumerate() {
            let mut key = keys::prefix(group_id);
            key.extend_from_slice(&(n as u32).to_be_bytes());
            batch.insert(key, chunk.join("\n").into_bytes());
        }
        self.stage_members.apply_batch(batch)?;
        Ok(())
    }

    /// Removes staged users (those a scope's people filter left out).
    pub fn unstage_users(&self, ids: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.remove(id.as_bytes());
        }
        self.stage_users.apply_batch(batch)?;
        Ok(())
    }

    /// Staged user ids in order.
    pub fn staged_user_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.stage_users.iter().map(|kv| id_of(&kv?.0))
    }

    /// Users staged so far in this crawl.
    pub fn staged_user_count(&self) -> usize {
        self.stage_users.len()
    }

    /// Groups staged so far in this crawl.
    pub fn staged_group_count(&self) -> usize {
        self.stage_groups.len()
    }

    /// Staged users in id order.
    pub fn staged_users(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        staged(&self.stage_users, "staged user")
    }

    /// Staged users in id order, as the JSON bytes that were staged (no parse).
    pub fn staged_users_bytes(&self) -> impl Iterator<Item = Result<(String, Vec<u8>)>> + '_ {
        self.stage_users.iter().map(|kv| {
            let (k, v) = kv?;
            Ok((id_of(&k)?, v.to_vec()))
        })
    }

    /// Staged groups in id order.
    pub fn staged_groups(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        staged(&self.stage_groups, "staged group")
    }

    /// Ids of the staged groups, in id order.
    pub fn staged_group_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.stage_groups.iter().map(|kv| id_of(&kv?.0))
    }

    /// True when this crawl has staged the user.
    pub fn is_user_staged(&self, id: &str) -> Result<bool> {
        Ok(self.stage_users.contains_key(id)?)
    }

    /// True when this crawl has staged the group.
    pub fn is_group_staged(&self, id: &str) -> Result<bool> {
        Ok(self.stage_groups.contains_key(id)?)
    }

    /// Staged member ids of a group, sorted and without duplicates.
    pub fn staged_member_ids(&self, group_id: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for kv in self.stage_members.scan_prefix(keys::prefix(group_id)) {
            let (_, v) = kv?;
            let text = std::str::from_utf8(&v)
                .map_err(|_| StoreError::Corrupt("staged membership".into()))?;
            ids.extend(
                text.split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
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
