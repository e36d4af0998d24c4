//! Leadline's shared library: the domain (types, rules and the ports it needs) and the adapters
//! that implement those ports on AWS (DynamoDB, SQS, KMS), plus the Lambda plumbing every
//! function uses (telemetry, typed configuration, HTTP problem responses, SQS batch handling).
//!
//! Use cases that more than one function runs live in [`app`], over the same ports.
//!
//! The domain knows nothing of AWS: it speaks through the traits in [`domain::ports`] and uses
//! only the [`kernel`] (digests, hex, random bytes, pages), which knows nothing of either. Each
//! function's `main.rs` picks the adapters once ([`wiring`]) and hands them to its handler.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod kernel;
pub mod lambda;
pub mod metrics;
pub mod telemetry;
pub mod wiring;

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
