//! One page of a listing and the cursor to the next.

use serde::Serialize;

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// The cursor for the next page, when there may be one.
    pub next: Option<String>,
}
