//! Use cases more than one entry point needs, generic over the ports and free of HTTP.
//!
//! Each use case has its own error enum with a case per refusal and an `Unknown` case; the API
//! maps them to problems in `functions/api/src/errors.rs`, the queue consumers to batch
//! failures.

pub mod access;
pub mod analytics;
pub mod center;
pub mod flows;
pub mod import;
pub mod integrations;
pub mod live;
pub mod outbound;
pub mod secrets;
pub mod trail;
pub mod verification;
