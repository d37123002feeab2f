//! oktamirror library root.
