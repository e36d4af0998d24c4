//! The workspace's integration tests, in one binary (one link instead of one per file).
//!
//! - `contract`, `conversation_state`: the ports' contract suites (`shared::testing::contract`) on
//!   the DynamoDB adapters.
//! - `dynamo`, `documents`, `idempotency`, `inbox`, `kms`, `sqs`, `batch`: the adapters against moto
//!   (`LEADLINE_TEST_AWS_ENDPOINT`), each test with its own table, queues or tenant.
//! - `e2e`, `ingest`, `api`, `api_data`, `send`, `ai`, `privacy`: the running local stack (`LEADLINE_E2E_BASE_URL`), through HTTP only.
//! - `architecture`: rules read from the source files (imports, cycles, file length); `template`:
//!   promises read from `template.yaml`. Both need nothing.
//!
//! `infra/test.sh` starts both and sets the variables. Without them these tests fail (they do not
//! skip), so a green run always means they ran.

// Everything in this binary is test code: helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod ai;
mod api;
mod api_data;
mod architecture;
mod batch;
mod bench_inbound;
mod bench_send;
mod contract;
mod conversation_state;
mod crypto;
mod documents;
mod dynamo;
mod e2e;
mod idempotency;
mod inbox;
mod ingest;
mod kms;
mod log_scan;
mod privacy;
mod retention;
mod send;
mod sqs;
mod support;
mod template;
