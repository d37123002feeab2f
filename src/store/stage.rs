//! Staging for a full crawl: what Okta returned is written here page by page, and only
//! applied to the mirror once the whole crawl completed, so a failed crawl changes nothing and
//! memory stays flat however large the org.
//!
//! The staging trees live in a sled database of their own, `<data dir>/staging`, opened when a
//! crawl starts and deleted when it ends. In the store's own log, every crawl (a reconcile a
//! day) wrote the whole org once more and left the space behind: sled reuses freed segments
//! but only gives back the end of its file, so the store grew by a crawl's size and stayed
//! there (benches/README.md, "Disk per person"). Nothing staged outlives a crawl or a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::append::Append;
use super::{Result, Store, StoreError, decode, id_of, keys};
use crate::model::Person;

/// Member ids per staged chunk.
const MEMBER_CHUNK: usize = 1000;

/// The staging database's directory, under the store's.
const STAGING_DIR: &str = "staging";

/// sled's page cache for the staging database: staged pages are written once and read once in
/// key order, so a small cache loses nothing.
const STAGING_CACHE_BYTES: u64 = 8 << 20;

/// The staging database of the current crawl, opened on first use and shared by every clone of
/// the store.
#[derive(Clone)]
pub(super) struct Staging {
    dir: Arc<PathBuf>,
    open: Arc<Mutex<Option<StagingDb>>>,
    /// The user list written into the users tree, new for each crawl, a leaf at a time
    /// (`append.rs`): each staged user is logged once, in its leaf, where an insert logged it
    /// as a delta and again with every rewrite of its leaf (the kernel's copying of those log
    /// writes alone was a quarter of a crawl's CPU at a million people). Any other use of the
    /// users tree ends it first (`tree`). Locked before `open`.
    users_load: Arc<Mutex<Option<Append>>>,
}

/// The staging database and its three trees.
struct StagingDb {
    db: sled::Db,
    users: sled::Tree,
    groups: sled::Tree,
    members: sled::Tree,
}

/// A staged entry: key and value.
type Entry = Result<(sled::IVec, sled::IVec)>;

/// Which staging tree.
#[derive(Clone, Copy)]
enum Which {
    Users,
    Groups,
    Members,
}

impl Staging {
    /// The staging area of the store in `store_dir`. Removes what a crawl interrupted by a crash
    /// or a stop left there: nothing staged is read after a restart.
    pub(super) fn new(store_dir: &std::path::Path) -> Result<Staging> {
        let staging = Staging {
            dir: Arc::new(store_dir.join(STAGING_DIR)),
            open: Arc::new(Mutex::new(None)),
            users_load: Arc::new(Mutex::new(None)),
        };
        staging.remove_files()?;
        Ok(staging)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<StagingDb>> {
        // The guarded value is only ever replaced whole, so a panic elsewhere cannot leave it
        // half-changed.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn users_load(&self) -> std::sync::MutexGuard<'_, Option<Append>> {
        // Replaced whole or finished whole; a panic mid-push leaves a prefix that is still a
        // valid tree (`append.rs`).
        self.users_load.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One staging tree, opening the staging database first if no crawl has yet. The users
    /// tree's bulk load, if one is going on, is finished first, so what it holds is all
    /// there and written by plain inserts from then on.
    fn tree(&self, which: Which) -> Result<sled::Tree> {
        if matches!(which, Which::Users) {
            if let Some(load) = self.users_load().take() {
                load.finish()?;
            }
        }
        self.open_tree(which)
    }

    /// Writes staged users (key, value) through the users tree's bulk load, begun on first use
    /// (a tree that is not new, as after `tree`, takes plain inserts: `append.rs`).
    fn push_users(&self, entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>) -> Result<()> {
        let mut load = self.users_load();
        let load = match &mut *load {
            Some(load) => load,
            None => load.insert(Append::new(&self.open_tree(Which::Users)?)?),
        };
        for entry in entries {
            let (key, value) = entry?;
            load.push(&key, &value)?;
        }
        Ok(())
    }

    /// `tree` without ending the users tree's bulk load.
    fn open_tree(&self, which: Which) -> Result<sled::Tree> {
        let mut open = self.lock();
        let db = match &mut *open {
            Some(db) => db,
            None => open.insert(self.open_db()?),
        };
        Ok(match which {
            Which::Users => db.users.clone(),
            Which::Groups => db.groups.clone(),
            Which::Members => db.members.clone(),
        })
    }

    fn open_db(&self) -> Result<StagingDb> {
        self.remove_files()?;
        super::create_private_dir(&self.dir).map_err(|e| self.failed(sled::Error::Io(e)))?;
        let db = super::sled_config(
            &self.dir,
            &super::StoreOptions {
                cache_bytes: STAGING_CACHE_BYTES,
            },
        )
        // Uncompressed: the staging lives for one crawl, and compressing every staged page as
        // sled logs it (and again each time it rewrites a leaf) was a third of a crawl's CPU.
        // At 300,000 people the crawl alone took 28.2 s compressed and 17.9 s not, for about
        // 500 MB of staging on disk until the crawl ends (benches/README.md).
        .use_compression(false)
        .open()
        .map_err(|e| self.failed(e))?;
        Ok(StagingDb {
            users: db.open_tree("stage_users")?,
            groups: db.open_tree("stage_groups")?,
            members: db.open_tree("stage_members")?,
            db,
        })
    }

    /// Closes the staging database (once the last tree handle is gone) and deletes its files.
    fn clear(&self) -> Result<()> {
        // Its leaves are deleted with the database: nothing to finish.
        drop(self.users_load().take());
        let mut open = self.lock();
        let closing = open.take();
        // Deleted first: sled flushes a database as it closes, and a flush into deleted files
        // writes nothing that stays.
        let removed = self.remove_files();
        drop(closing);
        // sled's flusher runs on a thread of its own and may create a file while the directory
        // is being removed, which then fails as not empty (seen at a million people). Closed
        // now, the database writes nothing more, so a second removal is final.
        removed.or_else(|_| self.remove_files())
    }

    fn remove_files(&self) -> Result<()> {
        match std::fs::remove_dir_all(&*self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.failed(sled::Error::Io(e))),
        }
    }

    /// The staging directory could not be created, opened or removed.
    fn failed(&self, source: sled::Error) -> StoreError {
        StoreError::Open {
            path: self.dir.display().to_string(),
            source,
        }
    }

    /// Bytes the staging database takes on disk (0 when no crawl has it open).
    pub(super) fn size_on_disk(&self) -> Result<u64> {
        let open = self.lock();
        match open.as_ref() {
            Some(db) => Ok(db.db.size_on_disk()?),
            None => Ok(0),
        }
    }

    /// The staging trees as they stand, for `Store::footprint`; `None` when no crawl has the
    /// staging database open.
    pub(super) fn trees(&self) -> Option<[(&'static str, sled::Tree); 3]> {
        let open = self.lock();
        let db = open.as_ref()?;
        Some([
            ("stage_users", db.users.clone()),
            ("stage_groups", db.groups.clone()),
            ("stage_members", db.members.clone()),
        ])
    }

    /// A staging tree's entries in key order; when the staging database cannot open, its error
    /// as the only item.
    fn entries(&self, which: Which) -> Box<dyn Iterator<Item = Entry> + Send> {
        match self.tree(which) {
            Ok(t) => Box::new(t.iter().map(|kv| Ok(kv?))),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}

impl Store {
    /// Empties the staging area: before a new crawl, and after one (its database is closed and
    /// deleted, giving its disk and memory back).
    pub fn stage_clear(&self) -> Result<()> {
        self.staging.clear()
    }

    /// Stages one page of raw users (id, JSON).
    pub fn stage_users(&self, page: &[(String, Value)]) -> Result<()> {
        self.stage_user_page(page.iter().map(|(id, raw)| (id, None, raw)))
    }

    /// Stages one page of users (id, JSON) with the person the crawl derived from each (`None`
    /// where it did not parse), so that the apply does not parse Okta's JSON again. The user
    /// list's pages come here one after the other, in id order within each of its passes, and
    /// are written a leaf at a time (a user out of that order is still written where it
    /// belongs, and of a user written twice the later stays).
    pub fn stage_people(&self, page: &[(String, Value, Option<Person>)]) -> Result<()> {
        self.staging.push_users(
            page.iter().map(|(id, raw, p)| {
                Ok((id.as_bytes().to_vec(), staged_user(id, p.as_ref(), raw)?))
            }),
        )
    }

    /// Stages users (id, person if any, JSON) in one batch.
    fn stage_user_page<'a>(
        &self,
        page: impl Iterator<Item = (&'a String, Option<&'a Person>, &'a Value)>,
    ) -> Result<()> {
        let users = self.staging.tree(Which::Users)?;
        let mut batch = sled::Batch::default();
        for (id, person, raw) in page {
            batch.insert(id.as_bytes(), staged_user(id, person, raw)?);
        }
        users.apply_batch(batch)?;
        Ok(())
    }

    /// Stages one page of raw groups (id, JSON).
    pub fn stage_groups(&self, page: &[(String, Value)]) -> Result<()> {
        stage_page(&self.staging.tree(Which::Groups)?, page)
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
        self.staging.tree(Which::Members)?.apply_batch(batch)?;
        Ok(())
    }

    /// Removes staged users (those a scope's people filter left out).
    pub fn unstage_users(&self, ids: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.remove(id.as_bytes());
        }
        self.staging.tree(Which::Users)?.apply_batch(batch)?;
        Ok(())
    }

    /// Staged user ids in order.
    pub fn staged_user_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.staging.entries(Which::Users).map(|kv| id_of(&kv?.0))
    }

    /// Users staged so far in this crawl.
    pub fn staged_user_count(&self) -> usize {
        self.staging.tree(Which::Users).map_or(0, |t| t.len())
    }

    /// Groups staged so far in this crawl.
    pub fn staged_group_count(&self) -> usize {
        self.staging.tree(Which::Groups).map_or(0, |t| t.len())
    }

    /// Staged users in id order.
    pub fn staged_users(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        self.staging.entries(Which::Users).map(|kv| {
            let (k, v) = kv?;
            let id = id_of(&k)?;
            let (_, raw) = split_staged_user(&id, &v)?;
            Ok((id, decode("staged user", raw)?))
        })
    }

    /// Staged users in id order, each with the person staged beside it (as JSON, no parse).
    pub fn staged_people(&self) -> impl Iterator<Item = Result<StagedUser>> + '_ {
        self.staging.entries(Which::Users).map(|kv| {
            let (k, v) = kv?;
            let id = id_of(&k)?;
            let (person, raw) = split_staged_user(&id, &v)?;
            Ok(StagedUser {
                person: person.map(<[u8]>::to_vec),
                raw: raw.to_vec(),
                id,
            })
        })
    }

    /// Staged groups in id order.
    pub fn staged_groups(&self) -> impl Iterator<Item = Result<(String, Value)>> + '_ {
        staged(self.staging.entries(Which::Groups), "staged group")
    }

    /// Ids of the staged groups, in id order.
    pub fn staged_group_ids(&self) -> impl Iterator<Item = Result<String>> + '_ {
        self.staging.entries(Which::Groups).map(|kv| id_of(&kv?.0))
    }

    /// True when this crawl has staged the user.
    pub fn is_user_staged(&self, id: &str) -> Result<bool> {
        Ok(self.staging.tree(Which::Users)?.contains_key(id)?)
    }

    /// True when this crawl has staged the group.
    pub fn is_group_staged(&self, id: &str) -> Result<bool> {
        Ok(self.staging.tree(Which::Groups)?.contains_key(id)?)
    }

    /// Staged member ids of a group, sorted and without duplicates.
    pub fn staged_member_ids(&self, group_id: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for kv in self
            .staging
            .tree(Which::Members)?
            .scan_prefix(keys::prefix(group_id))
        {
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

/// A user as staged: the person the crawl derived (`Person` as JSON) when it did, and Okta's
/// JSON as received (volatile fields stripped).
pub struct StagedUser {
    /// The Okta id.
    pub id: String,
    /// The person as JSON, when the crawl derived one.
    pub person: Option<Vec<u8>>,
    /// Okta's JSON.
    pub raw: Vec<u8>,
}

/// A staged user's value: the length of the person's JSON (4 bytes, big-endian; 0 for none),
/// that JSON, then Okta's.
fn staged_user(id: &str, person: Option<&Person>, raw: &Value) -> Result<Vec<u8>> {
    let failed = |e: serde_json::Error| StoreError::Internal(format!("staging {id}: {e}"));
    let mut out = vec![0; 4];
    if let Some(p) = person {
        serde_json::to_writer(&mut out, p).map_err(failed)?;
        let len = u32::try_from(out.len() - 4)
            .map_err(|_| StoreError::Internal(format!("staging {id}: a person over 4 GiB")))?;
        out[..4].copy_from_slice(&len.to_be_bytes());
    }
    serde_json::to_writer(&mut out, raw).map_err(failed)?;
    Ok(out)
}

/// A staged user's value cut into the person's JSON (if the crawl derived one) and Okta's.
fn split_staged_user<'v>(id: &str, v: &'v [u8]) -> Result<(Option<&'v [u8]>, &'v [u8])> {
    let corrupt = || StoreError::Corrupt(format!("staged user {id}: cut short"));
    let (len, rest) = v.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = u32::from_be_bytes(*len) as usize;
    let (person, raw) = rest.split_at_checked(len).ok_or_else(corrupt)?;
    Ok(((len > 0).then_some(person), raw))
}

fn stage_page(tree: &sled::Tree, page: &[(String, Value)]) -> Result<()> {
    let mut batch = sled::Batch::default();
    for (id, raw) in page {
        let bytes = serde_json::to_vec(raw)
            .map_err(|e| StoreError::Internal(format!("staging {id}: {e}")))?;
        batch.insert(id.as_bytes(), bytes);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

fn staged(
    entries: impl Iterator<Item = Entry>,
    what: &'static str,
) -> impl Iterator<Item = Result<(String, Value)>> {
    entries.map(move |kv| {
        let (k, v) = kv?;
        Ok((id_of(&k)?, decode(what, &v)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staged user whose value is cut short (under the four bytes of its person's length, or
    /// shorter than that length says) is refused with their id, never read as another's JSON;
    /// a length of 0 is a user staged without a person.
    #[test]
    fn a_staged_user_cut_short_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let users = store.staging.tree(Which::Users).expect("staging");
        let values: [(&str, &[u8]); 4] = [
            ("u1", b""),
            ("u2", &[0, 0, 0]),
            ("u3", &[0, 0, 0, 9, b'{', b'}']),
            ("u4", &[0, 0, 0, 0, b'{', b'}']),
        ];
        for (id, value) in values {
            users.insert(id, value).expect("insert");
        }
        let read: Vec<_> = store.staged_people().collect();
        for (r, id) in read.iter().zip(["u1", "u2", "u3"]) {
            let e = r.as_ref().err().expect("refused");
            assert!(
                e.to_string()
                    .contains(&format!("staged user {id}: cut short")),
                "{e}"
            );
        }
        let u4 = read[3].as_ref().expect("read");
        assert_eq!(
            (u4.id.as_str(), u4.person.is_none(), u4.raw.as_slice()),
            ("u4", true, &b"{}"[..])
        );
        assert_eq!(read.len(), 4);
    }
}
