//! The kernel: small building blocks with no knowledge of the domain or of AWS (digests, hex,
//! HMAC, random bytes, pages of results), shared by the domain, the adapters and the functions.
//!
//! It depends on nothing else in this crate, so any layer may use it without creating a cycle.

pub mod digest;
pub mod hex;
pub mod page;
pub mod random;
pub mod ttl_cache;

pub use page::Page;
pub use ttl_cache::TtlCache;
