//! GraphQL error values with a stable `code` extension: bad input from the client, and store
//! failures (whose messages name the problem; the store holds no secrets).

use std::fmt::Display;

use async_graphql::{Error, ErrorExtensions};

/// The client sent something unusable (bad argument combination, cursor, page size).
pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// The store could not be read.
pub(crate) fn store_error(e: impl Display) -> Error {
    Error::new(format!("the mirror's store could not be read: {e}"))
        .extend_with(|_, ext| ext.set("code", "STORE_ERROR"))
}

/// A search or org query failed: the client's fault (bad input) or the mirror's.
pub(crate) fn search_error(e: crate::search::SearchError) -> Error {
    if e.is_bad_input() {
        bad_input(e.to_string())
    } else {
        Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", "SEARCH_ERROR"))
    }
}
