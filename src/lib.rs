//! oktamirror library root.
pub mod sim;
