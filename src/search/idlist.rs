//! A sorted list of ids shared by copy-on-write chunks: cloning it is O(1), and changing a
//! clone copies one chunk and the chunk index, never the whole list. A department's members
//! are one, so the table a request holds and the roster changing it share everything else.

use std::fmt;
use std::sync::Arc;

/// The size chunks are split to: a chunk growing beyond twice this splits in two.
const CHUNK: usize = 512;

/// Ids in ascending order, without duplicates.
#[derive(Clone, Default)]
pub struct IdList {
    chunks: Arc<Vec<Arc<Vec<Arc<str>>>>>,
    len: usize,
}

impl IdList {
    /// How many ids.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The chunk that holds `id` or would: the last whose first id is not above it.
    fn chunk_of(&self, id: &str) -> usize {
        self.chunks
            .partition_point(|c| c.first().is_some_and(|f| &**f <= id))
            .saturating_sub(1)
    }

    /// Adds `id`; false when it was there.
    pub fn insert(&mut self, id: Arc<str>) -> bool {
        if self.chunks.is_empty() {
            Arc::make_mut(&mut self.chunks).push(Arc::new(vec![id]));
            self.len = 1;
            return true;
        }
        let at = self.chunk_of(&id);
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks[at]);
        let Err(pos) = chunk.binary_search(&id) else {
            return false;
        };
        chunk.insert(pos, id);
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            chunks.insert(at + 1, Arc::new(tail));
        }
        self.len += 1;
        true
    }

    /// Takes `id` out; false when it was not there.
    pub fn remove(&mut self, id: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let at = self.chunk_of(id);
        let Ok(pos) = self.chunks[at].binary_search_by(|x| (**x).cmp(id)) else {
            return false;
        };
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks[at]);
        chunk.remove(pos);
        if chunk.is_empty() {
            chunks.remove(at);
        }
        self.len -= 1;
        true
    }

    /// Up to `first` ids strictly after `after` (from the start without one), and whether more
    /// follow.
    pub fn page(&self, after: Option<&str>, first: usize) -> (Vec<String>, bool) {
        let (mut at, mut pos) = (0, 0);
        if let Some(a) = after
            && !self.is_empty()
        {
            at = self.chunk_of(a);
            pos = self.chunks[at].partition_point(|x| &**x <= a);
        }
        let mut out = Vec::new();
        let rest = self
            .chunks
            .iter()
            .skip(at)
            .enumerate()
            .flat_map(|(n, c)| c.iter().skip(if n == 0 { pos } else { 0 }));
        for id in rest {
            if out.len() == first {
                return (out, true);
            }
            out.push(id.to_string());
        }
        (out, false)
    }

    /// The ids at positions `start..end` (clamped to the list).
    pub fn range(&self, start: usize, end: usize) -> Vec<String> {
        self.iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|id| id.to_string())
            .collect()
    }
}

impl FromIterator<Arc<str>> for IdList {
    /// From ids in ascending order.
    fn from_iter<I: IntoIterator<Item = Arc<str>>>(ids: I) -> IdList {
        let mut chunks = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut len = 0;
        for id in ids {
            chunk.push(id);
            len += 1;
            if chunk.len() == CHUNK {
                chunks.push(Arc::new(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(CHUNK),
                )));
            }
        }
        if !chunk.is_empty() {
            chunks.push(Arc::new(chunk));
        }
        IdList {
            chunks: Arc::new(chunks),
            len,
        }
    }
}

impl PartialEq for IdList {
    fn eq(&self, other: &IdList) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for IdList {}

impl fmt::Debug for IdList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::Lcg;
    use std::collections::BTreeSet;

    #[test]
    fn follows_a_set_through_random_changes_and_clones_stay_put() {
        let mut rng = Lcg(3);
        let mut list = IdList::default();
        let mut set: BTreeSet<String> = BTreeSet::new();
        let mut snapshots: Vec<(IdList, Vec<String>)> = Vec::new();
        for step in 0..6_000 {
            let id = format!("u{:05}", rng.below(3_000));
            if rng.below(3) == 0 {
                assert_eq!(list.remove(&id), set.remove(&id), "step {step}");
            } else {
                assert_eq!(
                    list.insert(Arc::from(id.as_str())),
                    set.insert(id),
                    "step {step}"
                );
            }
            assert_eq!(list.len(), set.len());
            if step % 500 == 0 {
                snapshots.push((list.clone(), set.iter().cloned().collect()));
            }
        }
        let want: Vec<String> = set.iter().cloned().collect();
        assert_eq!(list.range(0, usize::MAX), want);
        for (copy, then) in &snapshots {
            assert_eq!(&copy.range(0, usize::MAX), then, "a clone kept its ids");
        }
        for after in [None, Some("u"), Some("u00100"), Some("u01500x"), Some("v")] {
            for first in [0, 1, 7, 600, 5_000] {
                let rest: Vec<String> = want
                    .iter()
                    .filter(|w| after.is_none_or(|a| w.as_str() > a))
                    .cloned()
                    .collect();
                let (page, more) = list.page(after, first);
                assert_eq!(page, rest.iter().take(first).cloned().collect::<Vec<_>>());
                assert_eq!(more, rest.len() > first, "{after:?} {first}");
            }
        }
        let rebuilt: IdList = want.iter().map(|w| Arc::from(w.as_str())).collect();
        assert_eq!(rebuilt, list);
        assert_eq!(list.range(10, 13), want[10..13].to_vec());
    }
}
