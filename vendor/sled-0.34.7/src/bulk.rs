//! oktamirror: `Tree::bulk_load`, entries written in ascending key order into an empty tree a
//! whole leaf at a time, where `Tree::insert` logs every entry as a delta of its own.
//!
//! The tree stays a valid B-link tree at every step, so readers (and a crash) see a tree that
//! holds a prefix of the load. Each leaf is written once, with its low key, its high key and a
//! pointer to its right sibling. The sibling is allocated first, holding the first few
//! entries of its own leaf (enough that no reader merges it away) and no high key, so it is
//! the tree's last leaf until its own leaf fills. Until `finish` writes the index, the root
//! points at the first leaf only, and a reader reaches the others by the right-sibling
//! pointers, as it does after a split whose parent is not yet updated (readers add such
//! leaves to the parent as they pass). `finish` writes the index levels and then the root.
//! A crash before that leaves such a tree; sled repairs its parents as it reads it.

use std::num::NonZeroU64;
use std::sync::atomic::Ordering::Acquire;

use crate::node::{Index, Leaf};
use crate::*;

/// A leaf holding fewer entries is merged into its left sibling by the next reader that passes
/// it (`Node::should_merge`). Every leaf of a load but the first holds at least this many.
const MIN_LEAF: usize = 4;

/// Entries of an index node the load writes (upstream splits an index node past 256 and
/// merges one under 64).
const INDEX_FILL: usize = 128;

/// Attempts at a page write that loses its race to the segment cleaner (or, for the root, to
/// readers adding leaves to it) before the load gives up (the tail) or leaves it (the root).
const RETRIES: usize = 16;

/// Most children the root may be written with (`Node::should_split` for an index).
const ROOT_MAX: usize = 256;

/// An ascending load into an empty tree (`Tree::bulk_load`): `push` every entry, then
/// `finish`. Entries may come out of order: one below the leaf being filled is inserted by
/// `Tree::insert`, one inside it is placed in order, and the last value pushed for a key wins.
pub struct BulkLoad {
    tree: Tree,
    fill: usize,
    /// The root page, written last with the index.
    root: PageId,
    /// The last leaf written, whose entries (`buf`) are still being gathered, and what it was
    /// written with (to find out whether anyone else changed it before it is written again: the
    /// log's position of a page is no use for that, as sled's segment cleaner moves pages).
    tail: PageId,
    tail_node: Node,
    tail_lo: IVec,
    buf: Vec<(IVec, IVec)>,
    /// Entries past a full `buf`, until there are `MIN_LEAF` of them to begin the next leaf.
    next: Vec<(IVec, IVec)>,
    /// Each leaf's low key and page, in key order (the tree's own first leaf first).
    leaves: Vec<(IVec, PageId)>,
}

impl Tree {
    /// Starts a bulk load of this tree, whose leaves are written with `fill` entries (at least
    /// `MIN_LEAF`); `None` when the tree is not as a new tree is (a root over one empty leaf):
    /// a tree that held entries, even if it holds none now, is loaded by `insert`.
    pub fn bulk_load(&self, fill: usize) -> Result<Option<BulkLoad>> {
        let guard = pin();
        let _cc = concurrency_control::read();
        let root = self.root.load(Acquire);
        let root_view = match self.context.pagecache.get(root, &guard)? {
            Some(view) => view,
            None => return Ok(None),
        };
        let child = match &root_view.data {
            Data::Index(index)
                if index.pointers.len() == 1
                    && root_view.merging_child.is_none()
                    && !root_view.merging =>
            {
                index.pointers[0]
            }
            _ => return Ok(None),
        };
        let leaf = match self.context.pagecache.get(child, &guard)? {
            Some(view) => view,
            None => return Ok(None),
        };
        let empty = match &leaf.data {
            Data::Leaf(l) => l.keys.is_empty(),
            Data::Index(_) => false,
        };
        if !empty
            || !leaf.lo.is_empty()
            || !leaf.hi.is_empty()
            || leaf.next.is_some()
            || leaf.merging
            || leaf.merging_child.is_some()
        {
            return Ok(None);
        }
        Ok(Some(BulkLoad {
            tree: self.clone(),
            fill: fill.max(MIN_LEAF),
            root,
            tail: child,
            tail_node: (*leaf).clone(),
            tail_lo: IVec::default(),
            buf: Vec::new(),
            next: Vec::new(),
            leaves: vec![(IVec::default(), child)],
        }))
    }
}

impl BulkLoad {
    /// Adds an entry (see the type's comment for entries out of order).
    pub fn push<K, V>(&mut self, key: K, value: V) -> Result<()>
    where
        K: AsRef<[u8]>,
        V: Into<IVec>,
    {
        let key = key.as_ref();
        if key < self.tail_lo.as_ref() {
            self.tree.insert(key, value)?;
            return Ok(());
        }
        let inside = self.buf.len() < self.fill
            || self.buf.last().map_or(true, |(last, _)| key <= last.as_ref());
        if inside {
            put(&mut self.buf, key, value.into());
            return Ok(());
        }
        put(&mut self.next, key, value.into());
        if self.next.len() >= MIN_LEAF {
            self.begin_next_leaf()?;
        }
        Ok(())
    }

    /// Writes the last leaf, the index and the root.
    pub fn finish(mut self) -> Result<()> {
        let guard = pin();
        let _cc = concurrency_control::read();
        let mut last = std::mem::take(&mut self.buf);
        last.append(&mut self.next);
        if last.is_empty() && self.leaves.len() == 1 {
            return Ok(());
        }
        let node = leaf(self.tail_lo.clone(), IVec::default(), None, &last);
        self.write_tail(node, &guard)?;
        let leaves = std::mem::take(&mut self.leaves);
        self.write_index(leaves, &guard)
    }

    /// `buf` is full and `next` holds enough to begin the next leaf: allocates that leaf (with
    /// what `next` holds), then writes the tail's leaf whole, pointing at it.
    fn begin_next_leaf(&mut self) -> Result<()> {
        let guard = pin();
        let _cc = concurrency_control::read();
        let (left_max, right_min) = match (self.buf.last(), self.next.first()) {
            (Some(l), Some(r)) => (&l.0, &r.0),
            _ => return Ok(()),
        };
        let sep = separator(left_max, right_min);
        let entries = std::mem::take(&mut self.next);
        let node = leaf(sep.clone(), IVec::default(), None, &entries);
        let (pid, _) = self.tree.context.pagecache.allocate(node.clone(), &guard)?;
        let full = std::mem::replace(&mut self.buf, entries);
        let full = leaf(self.tail_lo.clone(), sep.clone(), NonZeroU64::new(pid), &full);
        self.write_tail(full, &guard)?;
        self.tail = pid;
        self.tail_node = node;
        self.tail_lo = sep.clone();
        self.leaves.push((sep, pid));
        Ok(())
    }

    /// Replaces the tail's page with `node`, unless someone else changed what it holds since
    /// the load wrote it (then the load cannot go on: an error). A replace that loses its race
    /// to the segment cleaner (which moves the page, unchanged) is tried again.
    fn write_tail(&mut self, mut node: Node, guard: &Guard) -> Result<()> {
        let pagecache = &self.tree.context.pagecache;
        for _ in 0..RETRIES {
            let current = match pagecache.get(self.tail, guard)? {
                Some(view) if *view == self.tail_node => view,
                _ => return Err(changed()),
            };
            match pagecache.replace(self.tail, current.0, node, guard)? {
                Ok(_) => return Ok(()),
                Err(Some((_, back))) => node = back,
                Err(None) => return Err(changed()),
            }
        }
        Err(changed())
    }

    /// Writes the index levels over `leaves` (low key, page), then the root. A root that a reader has
    /// changed in shape meanwhile (split, hoisted or merging) is left as it is: the tree is
    /// valid without the index, and readers complete it.
    fn write_index(&self, leaves: Vec<(IVec, PageId)>, guard: &Guard) -> Result<()> {
        if leaves.len() < 2 {
            return Ok(());
        }
        let mut level = leaves;
        while level.len() > ROOT_MAX {
            level = self.write_index_level(&level, guard)?;
        }
        let pagecache = &self.tree.context.pagecache;
        for _ in 0..RETRIES {
            if self.tree.root.load(Acquire) != self.root {
                return Ok(());
            }
            let view = match pagecache.get(self.root, guard)? {
                Some(view) => view,
                None => return Ok(()),
            };
            if !view.data.is_index()
                || view.merging_child.is_some()
                || view.merging
                || !view.lo.is_empty()
                || !view.hi.is_empty()
                || view.next.is_some()
            {
                return Ok(());
            }
            let node = index(IVec::default(), IVec::default(), None, &level);
            if pagecache.replace(self.root, view.0, node, guard)?.is_ok() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Writes one level of index nodes over `children` (low key, page), right to left so that
    /// each node can point at its right sibling; returns the nodes' low keys and pages.
    fn write_index_level(
        &self,
        children: &[(IVec, PageId)],
        guard: &Guard,
    ) -> Result<Vec<(IVec, PageId)>> {
        let nodes = (children.len() + INDEX_FILL - 1) / INDEX_FILL;
        let per = children.len() / nodes;
        let extra = children.len() % nodes;
        let mut groups = Vec::with_capacity(nodes);
        let mut at = 0;
        for n in 0..nodes {
            let len = per + usize::from(n < extra);
            groups.push(&children[at..at + len]);
            at += len;
        }
        let mut out = Vec::with_capacity(nodes);
        let mut right: Option<(IVec, PageId)> = None;
        for group in groups.iter().rev() {
            let lo = group[0].0.clone();
            let (hi, next) = match &right {
                Some((hi, pid)) => (hi.clone(), NonZeroU64::new(*pid)),
                None => (IVec::default(), None),
            };
            let (pid, _) = self
                .tree
                .context
                .pagecache
                .allocate(index(lo.clone(), hi, next, group), guard)?;
            out.push((lo.clone(), pid));
            right = Some((lo, pid));
        }
        out.reverse();
        Ok(out)
    }
}

fn changed() -> Error {
    Error::Unsupported("the tree changed beside its bulk load".into())
}

/// Puts an entry into sorted `entries`: appended when it sorts last, as it does in a load
/// in order; a key already there takes the new value.
fn put(entries: &mut Vec<(IVec, IVec)>, key: &[u8], value: IVec) {
    if entries.last().map_or(true, |(last, _)| last.as_ref() < key) {
        entries.push((IVec::from(key), value));
        return;
    }
    match entries.binary_search_by(|(k, _)| k.as_ref().cmp(key)) {
        Ok(at) => entries[at].1 = value,
        Err(at) => entries.insert(at, (IVec::from(key), value)),
    }
}

/// The shortest prefix of `right_min` above `left_max` (which sorts below it): the low key of
/// the leaf that begins with `right_min`, as a split's suffix truncation picks it.
fn separator(left_max: &[u8], right_min: &[u8]) -> IVec {
    let common =
        left_max.iter().zip(right_min.iter()).take_while(|(a, b)| a == b).count();
    IVec::from(&right_min[..(common + 1).min(right_min.len())])
}

/// How many leading bytes the keys of a node covering `lo..hi` share and leave out (every key
/// between the two begins with what they share; none when there is no high bound).
fn prefix_len(lo: &[u8], hi: &[u8]) -> usize {
    if hi.is_empty() {
        return 0;
    }
    lo.iter()
        .zip(hi.iter())
        .take_while(|(a, b)| a == b)
        .take(u8::max_value() as usize)
        .count()
}

fn leaf(
    lo: IVec,
    hi: IVec,
    next: Option<NonZeroU64>,
    entries: &[(IVec, IVec)],
) -> Node {
    let p = prefix_len(&lo, &hi);
    let keys = entries.iter().map(|(k, _)| IVec::from(&k[p..])).collect();
    let values = entries.iter().map(|(_, v)| v.clone()).collect();
    Node {
        prefix_len: p as u8,
        next,
        merging_child: None,
        merging: false,
        lo,
        hi,
        data: Data::Leaf(Leaf { keys, values }),
    }
}

fn index(
    lo: IVec,
    hi: IVec,
    next: Option<NonZeroU64>,
    children: &[(IVec, PageId)],
) -> Node {
    let p = prefix_len(&lo, &hi);
    let keys = children.iter().map(|(k, _)| IVec::from(&k[p..])).collect();
    let pointers = children.iter().map(|(_, pid)| *pid).collect();
    Node {
        prefix_len: p as u8,
        next,
        merging_child: None,
        merging: false,
        lo,
        hi,
        data: Data::Index(Index { keys, pointers }),
    }
}
