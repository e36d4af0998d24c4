//! The webhook's fast path under the stable fuzzer (`shared::testing::fuzz`), the same property
//! as `fuzz/fuzz_targets/webhook_split.rs`: any bytes through the signature check and the
//! splitter, and every event written through the inbound function's typed model; nothing may
//! panic and every event must parse as the queue contract. Seeds: the webhook fixtures and the
//! benchmark's body. A smoke on every `cargo test`; `infra/fuzz.sh` runs the long one.

use shared::domain::events::{Envelope, Event};
use shared::domain::whatsapp::{InboundMessage, LeadgenChange, StatusUpdate, UserPreference};
use shared::testing::fuzz;

use crate::{signature, split};

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/webhooks");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
        .collect();
    seeds.sort();
    seeds.push(include_bytes!("../benches/one_text_bsuid.json").to_vec());
    seeds
}

fn dictionary() -> Vec<Vec<u8>> {
    [
        "\"object\":",
        "\"entry\":",
        "\"changes\":",
        "\"field\":",
        "\"value\":",
        "\"metadata\":",
        "\"phone_number_id\":",
        "\"messages\":",
        "\"statuses\":",
        "\"contacts\":",
        "\"errors\":",
        "\"user_preferences\":",
        "\"wa_id\":",
        "\"user_id\":",
        "\"from\":",
        "\"from_user_id\":",
        "\"id\":",
        "\"type\":",
        "\"status\":",
        "\"recipient_id\":",
        "\"recipient_user_id\":",
        "\"timestamp\":",
        "\"leadgen_id\":",
        "\"whatsapp_business_account\"",
        "\"page\"",
        "\"leadgen\"",
        "\"messages\"",
        "\"user_preferences\"",
        "\"text\"",
        "\"interactive\"",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn target(data: &[u8]) {
    let header = signature::sign(b"fuzz-secret", data);
    assert_eq!(signature::verify(b"fuzz-secret", data, Some(&header)), Ok(()));
    let _ = signature::verify(b"fuzz-secret", data, std::str::from_utf8(data).ok());
    let split = split::split(data);
    same_as_before(data, split.as_ref());
    let Ok(split) = split else { return };
    for message in split.messages {
        let envelope: Envelope =
            serde_json::from_str(&message.body).expect("the webhook writes the contract");
        let _ = match envelope.event {
            Event::Message { message, .. } => serde_json::from_str::<InboundMessage>(message.get()).map(drop),
            Event::Status { status, .. } => serde_json::from_str::<StatusUpdate>(status.get()).map(drop),
            Event::UserPreference { preference, .. } => {
                serde_json::from_str::<UserPreference>(preference.get()).map(drop)
            }
            Event::Lead { leadgen, .. } => serde_json::from_str::<LeadgenChange>(leadgen.get()).map(drop),
            Event::MessagingError { .. } | Event::AccountUpdate { .. } => Ok(()),
            // Only the timers job writes these: Meta's bytes must never become one.
            Event::FlowTimeout(_) => panic!("the webhook wrote a flow timeout"),
        };
    }
}

/// The splitter writes exactly what the splitter before its fast path wrote: the same queue
/// messages (bodies, group and deduplication ids), the same ignored parts, the same refusal.
fn same_as_before(data: &[u8], split: Result<&split::Split, &split::SplitError>) {
    let before = crate::split_reference::split(data);
    match (split, before.as_ref()) {
        (Ok(now), Ok(before)) => {
            assert_eq!(
                now.messages,
                before.messages,
                "queue messages of {:?}",
                String::from_utf8_lossy(data)
            );
            assert_eq!(now.ignored, before.ignored, "ignored parts of {:?}", String::from_utf8_lossy(data));
        }
        (Err(now), Err(before)) => assert_eq!(now.to_string(), before.to_string()),
        (now, before) => panic!("{now:?} against {before:?} for {:?}", String::from_utf8_lossy(data)),
    }
}

#[test]
fn fuzz_webhook_split_smoke() {
    let report = fuzz::run("webhook_split", &seeds(), &dictionary(), 10_000, target);
    assert_eq!(report.executions, 10_000);
}

#[test]
#[ignore = "long: infra/fuzz.sh"]
fn fuzz_webhook_split_long() {
    let report =
        fuzz::run("webhook_split", &seeds(), &dictionary(), fuzz::executions_from_env(10_000_000), target);
    eprintln!("fuzz webhook_split: {report}");
}
