//! The local stack: everything `infra/local-stack.sh` runs on one machine, with real AWS
//! protocols. moto stands in for DynamoDB, SQS and KMS; the six function binaries run unchanged
//! against this crate's Lambda Runtime API emulator; an HTTP gateway turns requests into API
//! Gateway HTTP API (v2) events; pollers feed the queues to their consumers as real `SqsEvent`
//! batches; a sandbox plays the Graph API; a recorder between the functions and moto writes down
//! every AWS call each function makes (for the IAM conformance test); a WebSocket endpoint
//! stands in for API Gateway's WebSocket API (the console's live updates, [`live`]).

pub mod apigw;
pub mod bootstrap;
pub mod console;
pub mod gateway;
pub mod instances;
pub mod live;
pub mod poller;
pub mod processes;
pub mod recorder;
pub mod runtime;
pub mod sandbox;
pub mod ws;

use shared::kernel::hex;

/// The agent console's origin the local stack grants CORS to unless `LEADLINE_CONSOLE_ORIGIN`
/// says otherwise: a development server beside the stack (the stack itself serves the console
/// on its own origin, which needs no CORS).
pub const DEFAULT_CONSOLE_ORIGIN: &str = "http://127.0.0.1:5173";
use shared::kernel::random::{self, RandomUnavailable};

/// A random lowercase hex string of `bytes` random bytes (keys and secrets of the local stack).
///
/// # Errors
/// [`RandomUnavailable`] when the system has no randomness. Secrets must fail then; a mere
/// request or trace id of the local stack may carry on without its random part.
pub fn random_hex(bytes: usize) -> Result<String, RandomUnavailable> {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        out.push_str(&hex::encode(&random::bytes::<32>()?));
    }
    out.truncate(bytes * 2);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_has_two_digits_a_byte_and_differs_each_time() {
        for bytes in [0, 4, 32, 40] {
            assert_eq!(super::random_hex(bytes).map(|h| h.len()), Ok(bytes * 2));
        }
        assert_ne!(super::random_hex(16), super::random_hex(16));
    }
}
