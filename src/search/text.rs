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

/// The folded words of `text` joined by single spaces ("José  Müller" → "jose muller"), the form
/// in which full names are compared.
pub fn folded_phrase(text: &str) -> String {
    words(text)
        .into_iter()
        .map(|w| w.text)
        .collect::<Vec<_>>()
        .join(" ")
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
    if d > 0 && prefix_distance(q, w) <= usize::from(d) {
        return Some(Match::Fuzzy);
    }
    None
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
}
