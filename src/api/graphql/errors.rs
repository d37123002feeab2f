//! GraphQL error values with a stable `code` extension: bad input from the client, refusals by
//! the access rules (FORBIDDEN), and store failures (whose messages name the problem; the store
//! holds no secrets).

use std::fmt::Display;

use async_graphql::{Error, ErrorExtensions};

use crate::access::AccessError;

/// The client sent something unusable (bad argument combination, cursor, page size).
pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// The store could not be read.
pub(crate) fn store_error(e: impl Display) -> Error {
    Error::new(format!("the mirror's store could not be read: {e}"))
        .extend_with(|_, ext| ext.set("code", "STORE_ERROR"))
}

/// A read through the caller's `View` failed or was refused: FORBIDDEN for the rules, bad
/// input for a bad search, else the mirror's failure.
pub(crate) fn denied(e: AccessError) -> Error {
    let code = if e.is_forbidden() {
        "FORBIDDEN"
    } else if e.is_bad_input() {
        "BAD_USER_INPUT"
    } else if e.is_cursor_expired() {
        "CURSOR_EXPIRED"
    } else if e.is_too_costly() {
        "TOO_COSTLY"
    } else if matches!(e, AccessError::Store(_)) {
        "STORE_ERROR"
    } else {
        "SEARCH_ERROR"
    };
    Error::new(e.message()).extend_with(|_, ext| ext.set("code", code))
}
