//! End-to-end tests of API keys, the access layer, listen rules, TLS and file modes.
