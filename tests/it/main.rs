//! The workspace's integration tests, in one binary (one link instead of one per file).
//!
//! - `contract`, `conversation_state`: the ports' contract suites (`shared::testing::contract`) on
//!   the DynamoDB adapters.
//! - `dynamo`, `documents`, `idempotency`, `inbox`, `kms`, `sqs`, `batch`: the adapters against moto
//!   (`LEADLINE_TEST_AWS_ENDPOINT`), each test with its own table, queues or tenant.
//! - `e2e`, `ingest`, `api`, `api_data`, `exports`, `imports`, `send`, `send_faults`, `ai`, `privacy`, `queues`, `flows`, `races`: the running local stack (`LEADLINE_E2E_BASE_URL`), through HTTP only
//!   (`races` fires requests in parallel at its several instances per function).
//! - `problems`: every problem slug the code can produce is catalogued, documented in
//!   `docs/problems.md` and listed in the OpenAPI document (read from the sources).
//! - `metrics`: the functions' embedded-metric-format lines in the stack's logs, parsed.
//! - `admin`: the `leadline-admin` binary against the local stack (tenants, dead-letter queues).
//! - `iam`: every AWS call the stack's functions made, against their roles in `template.yaml`
//!   (run after the others by `infra/test.sh`), and the key policy of encrypted tables;
//!   `template_checks`: alarms that reach someone, the webhook's own API and throttle.
//! - `build_rules`, `tokens`: release profile, minimum Rust version, pinned SDK behavior version;
//!   no redirect followed with a token (a loopback server).
//! - `abuse`: login claims on moto; squatting and foreign-WABA webhooks through the local stack.
//! - `chaos`: the chaos matrix's smoke round (the real `inbound` and `send` handlers on moto
//!   under every fault at once; `infra/chaos.sh` runs the full matrix).
//! - `architecture`: rules read from the source files (imports, cycles, file length); `template`:
//!   promises read from `template.yaml`. Both need nothing.
//!
//! `infra/test.sh` starts both and sets the variables. Without them these tests fail (they do not
//! skip), so a green run always means they ran.

// Everything in this binary is test code: helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod abuse;
mod admin;
mod agent_tools;
mod ai;
mod api;
mod api_data;
mod architecture;
mod batch;
mod bench_cost;
mod bench_inbound;
mod bench_send;
mod build_rules;
mod center;
mod chaos;
mod console;
mod contract;
mod conversation_state;
mod crypto;
mod documents;
mod dynamo;
mod e2e;
mod exports;
mod flows;
mod iam;
mod idempotency;
mod imports;
mod inbox;
mod ingest;
mod kms;
mod live;
mod log_scan;
mod metrics;
mod openapi;
mod privacy;
mod problems;
mod queues;
mod races;
mod retention;
mod send;
mod send_faults;
mod sqs;
mod support;
mod template;
mod template_checks;
mod timers;
mod tokens;
