//! Lambda plumbing shared by the functions: HTTP problem responses (and the catalogue of their
//! types) and the SQS batch runner.

pub mod batch;
pub mod http;
pub mod problems;

use crate::domain::Timestamp;

/// The instant the current invocation must finish by (the idempotency claims' in-progress
/// expiry: a claim held by an invocation that died is free again once its deadline passed).
#[must_use]
pub fn deadline_of(context: &lambda_runtime::Context) -> Timestamp {
    Timestamp::from_millis(i64::try_from(context.deadline).unwrap_or(i64::MAX))
}
