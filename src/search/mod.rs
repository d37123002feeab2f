//! Answers to the questions people ask of a directory: full-text people search (a tantivy index
//! that follows the store's change log) and org-chart queries (reports, chains, departments).
//! Core code: it reads the `Store` and knows nothing of GraphQL or HTTP.

mod departments;
mod facets;
mod follow;
mod highlight;
mod idlist;
mod index;
mod org;
mod query;
mod roster;
mod schema;
mod text;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use departments::{Department, Departments, OrgCache, UnitKind, Work};
pub use follow::follow;
pub use highlight::{Highlight, highlights};
pub use idlist::IdList;
pub use index::{Index, IndexOptions, MAX_SEARCH_RESULTS};
pub use org::{OrgNode, common_manager, manager_chain, org_chart, reports};
pub use query::{MAX_QUERY_CHARS, MAX_QUERY_WORDS, ParsedQuery};
pub use roster::{Roster, RosterSizes};

use crate::store::StoreError;

/// The directory of the search index inside a data directory.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("search")
}

/// One match: the person's Okta id and its relevance score (higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The person's Okta user id.
    pub id: String,
    /// Relevance: the sum of the ranking tiers the person matched (see `query`); higher is better.
    pub score: f32,
}

/// A page of matches and how many people match in all.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// This page's matches, best first.
    pub hits: Vec<SearchHit>,
    /// How many people match in all, beyond this page too.
    pub total: usize,
}

/// Counts per value within every match, highest count first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Per `profile.department` value, as Okta holds it.
    pub department: Vec<(String, u64)>,
    /// Per `profile.title` value.
    pub title: Vec<(String, u64)>,
    /// Per `profile.city` value.
    pub city: Vec<(String, u64)>,
    /// Per `profile.countryCode` value.
    pub country_code: Vec<(String, u64)>,
    /// Per user type id.
    pub user_type: Vec<(String, u64)>,
}

/// Why a search or an org-chart question failed: the caller's input (see `is_bad_input`) or
/// the index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is blank.
    #[error("the search query is empty; type at least one letter or digit")]
    EmptyQuery,
    /// The query is longer than `MAX_QUERY_CHARS`.
    #[error("the search query is {chars} characters long; shorten it to at most {max}")]
    QueryTooLong {
        /// Its length, in characters.
        chars: usize,
        /// The limit, in characters.
        max: usize,
    },
    /// The query has more distinct words than `MAX_QUERY_WORDS`.
    #[error("the search query has {words} words; use at most {max}")]
    TooManyWords {
        /// Its distinct words.
        words: usize,
        /// The limit.
        max: usize,
    },
    /// Reading the store failed (while indexing, or walking an org chart).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Tantivy failed (its message); rebuilding the index is the fix.
    #[error(
        "the search index failed: {0}. Stop oktamirror, delete the data directory's search/ folder and start again to rebuild it"
    )]
    Index(String),
    /// Another process holds the index writer's lock (two servers on one data directory).
    #[error(
        "the search index in {path} is in use by another process; stop the other oktamirror (serve) using this data directory first"
    )]
    Locked {
        /// The index directory.
        path: String,
    },
    /// An org chart would hold more than `max` people.
    #[error("the org chart under this person holds more than {max} people; pass a smaller depth")]
    ChartTooLarge {
        /// The most people one chart may hold.
        max: usize,
    },
    /// A search page would reach beyond the first `MAX_SEARCH_RESULTS` matches.
    #[error(
        "search pages reach the first {max} matches only; narrow the query or the filter instead of paging further"
    )]
    TooDeep {
        /// The deepest match a page may reach.
        max: usize,
    },
    /// The index directory cannot be created or used.
    #[error("cannot use the search index directory {path}: {detail}. Check that it is writable")]
    Io {
        /// The index directory.
        path: String,
        /// The I/O error.
        detail: String,
    },
}

impl SearchError {
    fn io(path: &Path, e: std::io::Error) -> SearchError {
        SearchError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        }
    }

    /// True when the client's input was at fault (not the mirror).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            SearchError::EmptyQuery
                | SearchError::QueryTooLong { .. }
                | SearchError::TooManyWords { .. }
                | SearchError::ChartTooLarge { .. }
                | SearchError::TooDeep { .. }
        )
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(e.to_string())
    }
}
