//! HTTP-level tests: a real listener, reqwest, and Okta-style paging.
