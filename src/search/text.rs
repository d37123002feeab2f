//! Text analysis shared by indexing, querying and highlighting: words with lower-casing and
//! accent folding (Müller = muller, José = jose, ß = ss), edge prefixes, and edit distances.

use std::cell::RefCell;

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};

/// Words longer than this are indexed whole but get no prefix terms beyond this length.
pub const MAX_PREFIX: usize = 20;

/// One word of a text: its folded form and where it sits in the original (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

thread_local! {
    /// Building an analyzer boxes its filters; one per thread is enough.
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
}

/// The words of `text`: split on anything not alphanumeric, lower-cased and folded to ASCII.
/// Indexing and querying both use this, so they always agree on what a word is.
pub fn words(text: &str) -> Vec<Word> {
    ANALYZER.with(|a| {
        let mut a = a.borrow_mut();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push(Word {
                text: t.text.clone(),
                start: t.offset_from,
                end: t.offset_to,
            });
        }
        out
    })
}

/// Calls `f` with each folded word of `text`, the same words as [`words`] without a `String`
/// per word: indexing a million people calls this tens of millions of times.
pub fn each_word(text: &str, mut f: impl FnMut(&str)) {
    ANALYZER.with(|a| {
        let mut a = a.borrow_mut();
        let mut stream = a.token_stream(text);
        while stream.advance() {
            f(&stream.token().text);
        }
    })
}

/// The folded words of `text` joined by single spaces ("José  Müller" → "jose muller"), the form
/// in which full names are compared.
pub fn folded_phrase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    each_word(text, |w| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    });
    out
}

/// Every prefix of `word` from one character up to `MAX_PREFIX` characters (the word included
/// when it is short enough): the terms that make typeahead a plain term lookup.
pub fn prefixes(word: &str) -> impl Iterator<Item = &str> {
    word.char_indices()
        .skip(1)
        .map(|(i, _)| i)
        .chain(std::iter::once(word.len()))
        .take(MAX_PREFIX)
        .map(move |end| &word[..end])
}

/// The typo tolerance for a query word of this many characters: none below 4, one edit from 4,
/// two from 8.
pub fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// How a query word matches a word of a text, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Exact,
    Prefix,
    Fuzzy,
}

/// Whether the query word `q` matches the text word `w` exactly, as a prefix, or (from four
/// characters) within the typo tolerance of some prefix of `w` — the same rules the index uses.
pub fn matches(q: &str, w: &str) -> Option<Match> {
    if q == w {
        return Some(Match::Exact);
    }
    if w.starts_with(q) {
        return Some(Match::Prefix);
    }
    let d = fuzzy_distance(q.chars().count());
    if d > 0 && within_prefix_distance(q, w, usize::from(d)) {
        return Some(Match::Fuzzy);
    }
    None
}

/// Longest words `within_prefix_distance` handles on the stack (longer ones take the general,
/// allocating path).
const SHORT_WORD: usize = 32;

/// Whether some prefix of `w` is within `max` edits of `q`: `prefix_distance(q, w) <= max`, but
/// without allocating and stopping early. The re-ranker asks this of every query word against
/// every word of every person in its window, and nearly every pair is far apart.
pub fn within_prefix_distance(q: &str, w: &str, max: usize) -> bool {
    let mut qc = ['\0'; SHORT_WORD];
    let mut wc = ['\0'; SHORT_WORD];
    let (Some(ql), Some(wl)) = (fill(&mut qc, q), fill(&mut wc, w)) else {
        return prefix_distance(q, w) <= max;
    };
    let (q, w) = (&qc[..ql], &wc[..wl]);
    // A prefix longer than `q` by more than `max` characters is more than `max` edits away.
    let w = &w[..w.len().min(q.len() + max)];
    let n = w.len();
    let mut rows = [[0usize; SHORT_WORD + 1]; 3];
    for (j, cell) in rows[1][..=n].iter_mut().enumerate() {
        *cell = j;
    }
    // `rows[(i + 1) % 3]` is row i; the row minimum never drops by more than one per two rows
    // (a zero-cost step comes from the row above, a transposition from two above at cost one),
    // so two rows past `max` mean no later row can come back within it.
    let mut prev_min = 0;
    for i in 1..=q.len() {
        let (cur_i, prev_i, prev2_i) = ((i + 1) % 3, i % 3, (i + 2) % 3);
        rows[cur_i][0] = i;
        let mut row_min = i;
        for j in 1..=n {
            let cost = usize::from(q[i - 1] != w[j - 1]);
            let mut v = (rows[prev_i][j] + 1)
                .min(rows[cur_i][j - 1] + 1)
                .min(rows[prev_i][j - 1] + cost);
            if i > 1 && j > 1 && q[i - 1] == w[j - 2] && q[i - 2] == w[j - 1] {
                v = v.min(rows[prev2_i][j - 2] + 1);
            }
            rows[cur_i][j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max && prev_min > max.saturating_sub(1) && i < q.len() {
            return false;
        }
        prev_min = row_min;
    }
    rows[(q.len() + 1) % 3][..=n].iter().any(|&v| v <= max)
}

/// Copies the characters of `s` into `buf`; `None` when they do not fit.
fn fill(buf: &mut [char; SHORT_WORD], s: &str) -> Option<usize> {
    let mut n = 0;
    for c in s.chars() {
        *buf.get_mut(n)? = c;
        n += 1;
    }
    Some(n)
}

/// The smallest edit distance (with adjacent transpositions costing one) between `q` and any
/// prefix of `w`.
pub fn prefix_distance(q: &str, w: &str) -> usize {
    let q: Vec<char> = q.chars().collect();
    let w: Vec<char> = w.chars().collect();
    // rows[i][j]: distance between q[..i] and w[..j]; three rows kept for transpositions.
    let mut prev2: Vec<usize> = vec![0; w.len() + 1];
    let mut prev: Vec<usize> = (0..=w.len()).collect();
    for i in 1..=q.len() {
        let mut cur = vec![i; w.len() + 1];
        for j in 1..=w.len() {
            let cost = usize::from(q[i - 1] != w[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && q[i - 1] == w[j - 2] && q[i - 2] == w[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev.into_iter().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        words(s).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(texts("Jürgen MÜLLER"), ["jurgen", "muller"]);
        assert_eq!(texts("José Pérez-Núñez"), ["jose", "perez", "nunez"]);
        assert_eq!(texts("Strauß"), ["strauss"]);
        assert_eq!(texts("Weiß, Ana"), ["weiss", "ana"]);
        assert_eq!(
            texts("ana.weiss@globex.example"),
            ["ana", "weiss", "globex", "example"]
        );
        assert_eq!(folded_phrase("  Renée   Groß "), "renee gross");
    }

    #[test]
    fn offsets_point_into_the_original() {
        let text = "Amélie Müller";
        let w = words(text);
        assert_eq!(&text[w[1].start..w[1].end], "Müller");
    }

    #[test]
    fn prefixes_are_every_leading_slice() {
        assert_eq!(prefixes("jon").collect::<Vec<_>>(), ["j", "jo", "jon"]);
        assert_eq!(prefixes("abcdefghijklmnopqrstuvwxyz").count(), MAX_PREFIX);
    }

    #[test]
    fn distances_follow_the_typo_rules() {
        assert_eq!(prefix_distance("smtih", "smith"), 1);
        assert_eq!(prefix_distance("jonh", "johnson"), 1);
        assert_eq!(prefix_distance("abc", "xyz"), 3);
        assert_eq!(matches("smith", "smith"), Some(Match::Exact));
        assert_eq!(matches("smi", "smith"), Some(Match::Prefix));
        assert_eq!(matches("smtih", "smith"), Some(Match::Fuzzy));
        assert_eq!(
            matches("smx", "smith"),
            None,
            "no typos below four characters"
        );
        assert_eq!(matches("jonathon", "jonathan"), Some(Match::Fuzzy));
        assert_eq!(
            matches("jnoathon", "jonathan"),
            Some(Match::Fuzzy),
            "two edits from 8"
        );
        assert_eq!(matches("jnoatohn", "jonathan"), None);
    }

    #[test]
    fn the_bounded_distance_agrees_with_the_full_one() {
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "smith",
            "smtih",
            "smyth",
            "smithers",
            "jonathan",
            "jnoathan",
            "jnoatohn",
            "johnson",
            "jonh",
            "williams",
            "will",
            "muller",
            "mueller",
            "xyz",
            "abcdefghijklmnopqrstuvwxyzabcdefghij",
            "abcdefghijklmnopqrstuvwxyzabcdefghik",
            "ünïcödé",
            "unicode",
        ];
        for q in words {
            for w in words {
                for max in 0..=3 {
                    assert_eq!(
                        within_prefix_distance(q, w, max),
                        prefix_distance(q, w) <= max,
                        "{q:?} vs {w:?} within {max}"
                    );
                }
            }
        }
    }
}
