//! Which attributes of a found person matched the query, and where: recomputed from the stored
//! person with the index's own matching rules, so highlights always agree with the ranking.

use super::schema::searchable_values;
use super::text::{self, Match};
use crate::model::Person;

/// One attribute that matched, with the matching spans of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlight {
    /// The GraphQL field name (`displayName`, `email`, `title`, …).
    pub field: &'static str,
    /// The attribute's whole value, as stored.
    pub value: String,
    /// Character (Unicode scalar) ranges `[start, end)` of the matching words in `value`.
    pub ranges: Vec<(usize, usize)>,
}

/// The highlights of `p` for the folded query `words`, best matches first.
pub fn highlights(p: &Person, words: &[String]) -> Vec<Highlight> {
    let mut out: Vec<(Match, Highlight)> = Vec::new();
    for (field, value) in searchable_values(p) {
        let mut best: Option<Match> = None;
        let mut ranges = Vec::new();
        for w in text::words(value) {
            let m = words.iter().filter_map(|q| text::matches(q, &w.text)).min();
            if let Some(m) = m {
                best = Some(best.map_or(m, |b| b.min(m)));
                let start = value[..w.start].chars().count();
                let end = start + value[w.start..w.end].chars().count();
                ranges.push((start, end));
            }
        }
        if let Some(best) = best {
            out.push((
                best,
                Highlight {
                    field,
                    value: value.to_owned(),
                    ranges,
                },
            ));
        }
    }
    out.sort_by_key(|(m, _)| *m);
    out.into_iter().map(|(_, h)| h).collect()
}
