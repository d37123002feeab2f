//! Page-size rules shared by every connection: the `first` default and cap, query cost per
//! connection (for the complexity limit), and slicing an id-ordered list after a cursor.

use async_graphql::Error;

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
}
