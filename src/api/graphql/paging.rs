//! Page rules shared by every connection: the `first` default and cap, query cost per
//! connection (for the complexity limit), the validated request (`first` and the decoded
//! `after` cursor), and turning an id-ordered list into one page.

use async_graphql::Error;

use super::cursor::{self, Kind};
use super::errors::bad_input;

pub(crate) const DEFAULT_FIRST: usize = 100;
pub(crate) const MAX_FIRST: usize = 1000;

/// Validates `first`: absent means 100; 0..=1000 is allowed.
pub(crate) fn page_size(first: Option<i32>) -> Result<usize, Error> {
    match first {
        None => Ok(DEFAULT_FIRST),
        Some(n) if (0..=MAX_FIRST as i32).contains(&n) => Ok(n as usize),
        Some(n) => Err(bad_input(format!(
            "first must be between 0 and {MAX_FIRST} (got {n})"
        ))),
    }
}

/// Complexity of a connection field: its children count once per node it may return.
pub(crate) fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let n = first.map_or(DEFAULT_FIRST, |f| f.clamp(1, MAX_FIRST as i32) as usize);
    n.saturating_mul(child_complexity).saturating_add(1)
}

/// The ids of one page of an id-ordered list: those after `after`, at most `first`, and whether
/// more follow.
pub(crate) fn slice_after<'a>(
    ids: &'a [String],
    after: Option<&str>,
    first: usize,
) -> (&'a [String], bool) {
    let start = after.map_or(0, |a| ids.partition_point(|id| id.as_str() <= a));
    let rest = &ids[start..];
    if rest.len() > first {
        (&rest[..first], true)
    } else {
        (rest, false)
    }
}

/// A page asked for, validated once for every connection: how many items, and the id (or search
/// position) the page starts after.
pub(crate) struct PageRequest {
    first: usize,
    after: Option<String>,
}

impl PageRequest {
    /// Validates `first` (see `page_size`), then decodes `after` as a cursor of a `kind` list.
    pub(crate) fn new(
        kind: Kind,
        first: Option<i32>,
        after: Option<&str>,
    ) -> Result<PageRequest, Error> {
        let first = page_size(first)?;
        let after = cursor::after(kind, after)?;
        Ok(PageRequest { first, after })
    }

    /// The page size.
    pub(crate) fn first(&self) -> usize {
        self.first
    }

    /// What the `after` cursor points past, if one was given.
    pub(crate) fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// The ids of this page of an id-ordered list held in memory, and whether more follow.
    pub(crate) fn slice<'a>(&self, ids: &'a [String]) -> (&'a [String], bool) {
        slice_after(ids, self.after(), self.first)
    }

    /// The page of items read in order past `after`, one more than fits at most: the extra one
    /// only says that more follow.
    pub(crate) fn page<T>(&self, mut items: Vec<T>) -> Page<T> {
        let has_next = items.len() > self.first;
        items.truncate(self.first);
        self.page_of(items, has_next)
    }

    /// The page of exactly `items`, with `has_next` already known.
    pub(crate) fn page_of<T>(&self, items: Vec<T>, has_next: bool) -> Page<T> {
        Page {
            items,
            has_next,
            has_previous: self.after.is_some(),
        }
    }

    /// Reads an ordered scan (already past `after`), keeping the items `keep` accepts, and stops
    /// once one more than fits was found, so a page never reads the whole list.
    pub(crate) fn scan<T, E>(
        &self,
        items: impl IntoIterator<Item = Result<T, E>>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, E> {
        let mut kept = Vec::new();
        for item in items {
            let item = item?;
            if keep(&item) {
                kept.push(item);
                if kept.len() > self.first {
                    break;
                }
            }
        }
        Ok(self.page(kept))
    }
}

/// One page of an ordered list, before it becomes edges, nodes and `pageInfo`.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None).expect("default"), 100);
        assert_eq!(page_size(Some(0)).expect("zero"), 0);
        assert_eq!(page_size(Some(1000)).expect("max"), 1000);
        let e = page_size(Some(1001)).expect_err("too big");
        assert!(e.message.contains("first must be between 0 and 1000"));
        assert!(page_size(Some(-1)).is_err());
    }

    #[test]
    fn slices_after_a_cursor() {
        let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(slice_after(&ids, None, 2), (&ids[0..2], true));
        assert_eq!(slice_after(&ids, Some("b"), 2), (&ids[2..4], false));
        assert_eq!(slice_after(&ids, Some("bb"), 5), (&ids[2..4], false));
        assert_eq!(slice_after(&ids, Some("z"), 5), (&ids[4..], false));
    }

    #[test]
    fn scans_one_past_the_page() {
        let req = PageRequest::new(Kind::Person, Some(2), None).expect("valid");
        let mut read = 0;
        let items = (1..=10).map(|n| {
            read += 1;
            Ok::<_, ()>(n)
        });
        let page = req.scan(items, |n| n % 2 == 0).expect("scan");
        assert_eq!(page.items, vec![2, 4]);
        assert!(page.has_next);
        assert!(!page.has_previous);
        assert_eq!(read, 6, "stops at the first item past the page");
    }
}
