//! Builds the tantivy query for a search programmatically from the folded words of the user's
//! input (never through tantivy's query parser, so no input is syntax), with the ranking tiers.

use tantivy::Term;
use tantivy::query::{BooleanQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};

use super::SearchError;
use super::schema::{Fields, filter_key, login_key};
use super::text::{self, MAX_PREFIX, fuzzy_distance};
use crate::model::UserStatus;
use crate::store::PersonFilter;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a query may have.
pub const MAX_QUERY_WORDS: usize = 8;

/// Scores by tier. Each query word adds the best of exact, prefix and fuzzy; a whole-name or
/// login/email match adds `WHOLE`, more than any number of word matches; active people get
/// `ACTIVE`, less than one tier step, so they come first among equally good matches.
pub const EXACT: f32 = 3.0;
pub const PREFIX: f32 = 2.0;
pub const FUZZY: f32 = 1.0;
pub const WHOLE: f32 = 100.0;
pub const ACTIVE: f32 = 0.5;

/// A validated search: the raw text (for whole login/email matches) and its folded words.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    /// The input, trimmed.
    pub raw: String,
    /// The folded words, each once, in input order.
    pub words: Vec<String>,
}

impl ParsedQuery {
    /// Checks and splits the user's input. Blank input is an error; input whose characters are
    /// all punctuation or syntax has no words and matches nobody.
    pub fn parse(input: &str) -> Result<ParsedQuery, SearchError> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(SearchError::EmptyQuery);
        }
        let chars = raw.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(SearchError::QueryTooLong {
                chars,
                max: MAX_QUERY_CHARS,
            });
        }
        let mut words: Vec<String> = Vec::new();
        for w in text::words(raw) {
            if !words.contains(&w.text) {
                words.push(w.text);
            }
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(SearchError::TooManyWords {
                words: words.len(),
                max: MAX_QUERY_WORDS,
            });
        }
        Ok(ParsedQuery {
            raw: raw.to_owned(),
            words,
        })
    }
}

/// The score of one word match tier.
pub fn tier_score(m: text::Match) -> f32 {
    match m {
        text::Match::Exact => EXACT,
        text::Match::Prefix => PREFIX,
        text::Match::Fuzzy => FUZZY,
    }
}

/// How much the index's per-word scores must change when each query word has to match a
/// different word of the person: the index lets one word ("williams") satisfy two query words
/// ("williams will"); here each query word gets the best word no other query word took.
/// Returns the index's per-word sum and the distinct-assignment sum.
pub fn word_scores(query_words: &[String], person_words: &[&str]) -> (f32, f32) {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    let mut loose = 0.0;
    for (qi, q) in query_words.iter().enumerate() {
        let mut best = 0.0f32;
        for (wi, w) in person_words.iter().enumerate() {
            if let Some(m) = text::matches(q, w) {
                let s = tier_score(m);
                best = best.max(s);
                pairs.push((s, qi, wi));
            }
        }
        loose += best;
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut q_used = vec![false; query_words.len()];
    let mut w_used = vec![false; person_words.len()];
    let mut distinct = 0.0;
    for (s, qi, wi) in pairs {
        if !q_used[qi] && !w_used[wi] {
            q_used[qi] = true;
            w_used[wi] = true;
            distinct += s;
        }
    }
    (loose, distinct)
}

fn term(field: Field, value: &str) -> Term {
    Term::from_field_text(field, value)
}

fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(term(field, value), IndexRecordOption::Basic))
}

fn scored(q: Box<dyn Query>, score: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, score))
}

/// `required`, plus `bonus` for the documents `optional` also matches: a required clause with a
/// single optional one, which tantivy scores by seeking the optional scorer to each match. Two or
/// more optional clauses (or a `DisjunctionMaxQuery`) would become a buffered union, which
/// re-buffers up to 4,096 documents of every alternative on each far seek: with a dense
/// alternative (the active status, a short prefix) that was most of a search's cost.
fn with_bonus(required: Box<dyn Query>, optional: Box<dyn Query>, bonus: f32) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, required),
        (Occur::Should, scored(optional, bonus)),
    ]))
}

/// The query for one word: the best of an exact word, a word prefix, and (from four
/// characters) a word within the typo tolerance, as a prefix so typos work while typing.
///
/// The tiers nest: an exact word is also a prefix of itself (up to `MAX_PREFIX` characters),
/// and a prefix is a fuzzy prefix at distance 0. So the widest tier decides the match and each
/// narrower tier adds the difference to the next score: the sum equals the best tier's score.
fn word_query(f: &Fields, word: &str) -> Box<dyn Query> {
    let chars = word.chars().count();
    let distance = fuzzy_distance(chars);
    let has_prefix = chars <= MAX_PREFIX;
    let exact = term_query(f.words, word);
    let prefix = || term_query(f.prefixes, word);
    if distance == 0 {
        // Below four characters (always within MAX_PREFIX): prefix, or exact.
        return with_bonus(scored(prefix(), PREFIX), exact, EXACT - PREFIX);
    }
    let fuzzy = FuzzyTermQuery::new_prefix(term(f.words, word), distance, true);
    let fuzzy = scored(Box::new(fuzzy), FUZZY);
    if has_prefix {
        let prefixed = with_bonus(fuzzy, prefix(), PREFIX - FUZZY);
        with_bonus(prefixed, exact, EXACT - PREFIX)
    } else {
        with_bonus(fuzzy, exact, EXACT - FUZZY)
    }
}

/// One of several exact values of a field (for the status and user type filters).
fn any_of(field: Field, values: impl Iterator<Item = String>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        values
            .map(|v| (Occur::Should, term_query(field, &v)))
            .collect(),
    ))
}

/// The filter as clauses (score 0), to join the required word clauses: on their own, a set of
/// only `MustNot` clauses would match nobody.
fn filter_clauses(f: &Fields, filter: &PersonFilter) -> Vec<(Occur, Box<dyn Query>)> {
    let mut clauses = Vec::new();
    if !filter.statuses.is_empty() {
        // Every person has exactly one of `UserStatus::ALL`, so "these statuses" equals "not
        // the others". The default filter (all but DEPROVISIONED) is then one excluded term
        // instead of a required eight-term disjunction scored against every candidate.
        let excluded: Vec<&str> = UserStatus::ALL
            .iter()
            .filter(|s| !filter.statuses.contains(s))
            .map(|s| s.as_str())
            .collect();
        if excluded.len() < filter.statuses.len() {
            for s in excluded {
                clauses.push((Occur::MustNot, term_query(f.status, s)));
            }
        } else {
            let statuses = filter.statuses.iter().map(|s| s.as_str().to_owned());
            clauses.push((Occur::Must, scored(any_of(f.status, statuses), 0.0)));
        }
    }
    let keyed = [
        (f.department_key, &filter.department),
        (f.title_key, &filter.title),
        (f.city_key, &filter.city),
        (f.country_key, &filter.country_code),
    ];
    for (field, value) in keyed {
        if let Some(v) = value {
            clauses.push((Occur::Must, scored(term_query(field, &filter_key(v)), 0.0)));
        }
    }
    if let Some((name, value)) = &filter.attribute {
        let term = super::schema::attribute_key(name, value);
        clauses.push((Occur::Must, scored(term_query(f.attribute_key, &term), 0.0)));
    }
    if !filter.user_types.is_empty() {
        let types = filter.user_types.iter().cloned();
        clauses.push((Occur::Must, scored(any_of(f.user_type, types), 0.0)));
    }
    clauses
}

/// The whole query: every word required, whole-name and login/email matches and active status
/// as score bonuses, the filter as required zero-score clauses. `None` when the input has no
/// words (it matches nobody).
pub fn build(f: &Fields, q: &ParsedQuery, filter: &PersonFilter) -> Option<Box<dyn Query>> {
    if q.words.is_empty() {
        return None;
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = q
        .words
        .iter()
        .map(|w| (Occur::Must, word_query(f, w)))
        .collect();
    clauses.extend(filter_clauses(f, filter));
    let matches: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
    // The bonuses, one optional clause per level (see `with_bonus`).
    let phrase = q.words.join(" ");
    let named = with_bonus(matches, term_query(f.names, &phrase), WHOLE);
    let logged_in = with_bonus(named, term_query(f.logins, &login_key(&q.raw)), WHOLE);
    let active = term_query(f.status, crate::model::UserStatus::Active.as_str());
    Some(with_bonus(logged_in, active, ACTIVE))
}
