//! The audit log: state-changing calls (syncNow, held-removal releases, key changes), newest
//! kept, in their own tree outside the sync transactions (they record requests, not data).

use super::{Result, Store, decode, keys};
use crate::model::AuditEntry;

/// Entries kept; older ones are dropped as new ones arrive.
const AUDIT_KEPT: u64 = 10_000;

impl Store {
    fn audit_tree(&self) -> Result<sled::Tree> {
        Ok(self.db.open_tree("audit")?)
    }

    /// Appends `entry` (its `id` is assigned here) and makes it durable before returning, so a
    /// call that changed state is never left unrecorded by a crash.
    pub fn append_audit(&self, mut entry: AuditEntry) -> Result<AuditEntry> {
        let tree = self.audit_tree()?;
        // After a restore sled's id generator starts again while the restored entries keep
        // their ids: never reuse one.
        let last = tree.last()?.map_or(0, |(k, _)| keys::read_u64(&k));
        entry.id = (self.db.generate_id()? + 1).max(last + 1);
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| super::StoreError::Internal(format!("encoding an audit entry: {e}")))?;
        tree.insert(keys::u64_be(entry.id), bytes)?;
        while tree.len() as u64 > AUDIT_KEPT {
            if tree.pop_min()?.is_none() {
                break;
            }
        }
        tree.flush()?;
        Ok(entry)
    }

    /// The newest `first` audit entries, newest first.
    pub fn audit(&self, first: usize) -> Result<Vec<AuditEntry>> {
        self.audit_tree()?
            .iter()
            .rev()
            .take(first)
            .map(|kv| {
                let (_, v) = kv?;
                decode("audit entry", &v)
            })
            .collect()
    }
}
