//! The local stack: everything `infra/local-stack.sh` runs on one machine, with real AWS
//! protocols. moto stands in for DynamoDB, SQS and KMS; the six function binaries run unchanged
//! against this crate's Lambda Runtime API emulator; an HTTP gateway turns requests into API
//! Gateway HTTP API (v2) events; pollers feed the queues to their consumers as real `SqsEvent`
//! batches; a sandbox plays the Graph API.

pub mod apigw;
pub mod bootstrap;
pub mod gateway;
pub mod poller;
pub mod processes;
pub mod runtime;
pub mod sandbox;

/// A random lowercase hex string of `bytes` random bytes (keys and secrets of the local stack).
#[must_use]
pub fn random_hex(bytes: usize) -> String {
    use std::fmt::Write as _;
    let mut buffer = vec![0u8; bytes];
    let _ = aws_lc_rs::rand::fill(&mut buffer);
    buffer.iter().fold(String::with_capacity(bytes * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
