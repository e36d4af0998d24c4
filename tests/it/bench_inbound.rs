//! The cost of per-contact keys on the webhook path (`infra/bench-inbound.sh`; ignored in the
//! normal run): KMS calls and time per 1,000 inbound messages.
//!
//! `BENCH_MESSAGES` messages (default 1,000) from `BENCH_CONTACTS` people (default 200), skewed
//! as real traffic is — a few people write most of the messages: person k's share falls as
//! 1/√k — are stored through `DynamoInbox` exactly as the inbound function stores them (resolve
//! the contact by its blind index, seal name and body under its data key), by `BENCH_INSTANCES`
//! instances (default 2), each with its own cold caches, a person always on the same
//! instance (their FIFO group), the instances in turn. Two phases:
//! - *first contact*: every person is new, so each data key is made (`GenerateDataKey`);
//! - *returning*: the same people write again to fresh instances (a scale-out or a recycled
//!   instance), so each key is unwrapped once per instance (`Decrypt`).

use std::time::Instant;

use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::adapters::kms::{Keyring, KmsCalls};
use shared::domain::inbox::{ContactProfile, IngestStore, NewInboundMessage};
use shared::domain::tenant::RetentionSettings;
use shared::domain::{Clock, PhoneNumber, SystemClock, TenantId, Wamid};

use crate::support::{aws, kms_key, table, tenant, unique};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// Who writes each message: a fixed pseudo-random sequence, skewed (P(k ≤ x) = √(x/n)).
fn senders(messages: usize, contacts: usize) -> Vec<usize> {
    let mut state: u64 = 0x5EED_1EAD_11AE_0001;
    (0..messages)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            ((contacts as f64 * u * u) as usize).min(contacts - 1)
        })
        .collect()
}

/// One phase: every message stored by its sender's instance; the instances' KMS calls and the
/// wall time.
async fn phase(
    table: &Table,
    key_table: &str,
    tenant: &TenantId,
    instances: usize,
    senders: &[usize],
    label: &str,
) -> (KmsCalls, std::time::Duration) {
    let aws = aws().await;
    let key = kms_key().await;
    let fleet: Vec<(DynamoInbox, std::sync::Arc<Keyring>)> = (0..instances)
        .map(|_| {
            let keyring = Keyring::on(table, key_table, aws_sdk_kms::Client::new(&aws), &key);
            (DynamoInbox::new(table.clone(), keyring.clone()), keyring)
        })
        .collect();
    let started = Instant::now();
    // The instances take turns: moto's DynamoDB fails concurrent transactions now and then
    // ("dictionary changed size during iteration"). Each still starts cold, which is what the
    // figures depend on.
    for (lane, (inbox, _)) in fleet.iter().enumerate() {
        for (i, sender) in senders.iter().enumerate().filter(|(_, s)| *s % instances == lane) {
            let profile = ContactProfile {
                phone: Some(PhoneNumber::parse(&format!("55119{:08}", sender)).expect("phone")),
                name: Some(format!("Person {sender}")),
                ..ContactProfile::default()
            };
            let wamid = Wamid::parse(format!("wamid.{label}{i}")).expect("wamid");
            let now = SystemClock.now();
            let raw = format!(
                r#"{{"from":"55119{sender:08}","id":"{}","timestamp":"{}","type":"text","text":{{"body":"Hello, I would like to know more about the offer you posted — message {i}"}}}}"#,
                wamid.as_str(),
                now.as_millis() / 1000
            );
            let message = NewInboundMessage {
                wamid: &wamid,
                from: &profile,
                sent_at: now,
                kind: "text",
                raw: &raw,
                retention: RetentionSettings::default(),
            };
            inbox.store_inbound_message(tenant, &message, now).await.expect("stored");
        }
    }
    let elapsed = started.elapsed();
    let calls = fleet.iter().map(|(_, k)| k.kms_calls()).fold(KmsCalls::default(), |a, c| KmsCalls {
        generate: a.generate + c.generate,
        decrypt: a.decrypt + c.decrypt,
        micros: a.micros + c.micros,
    });
    (calls, elapsed)
}

#[tokio::test]
#[ignore = "a benchmark: infra/bench-inbound.sh runs it against moto"]
#[allow(clippy::print_stdout)] // The report is the point.
async fn bench_inbound() {
    let messages = env_or("BENCH_MESSAGES", 1000);
    let contacts = env_or("BENCH_CONTACTS", 200).max(1);
    let instances = env_or("BENCH_INSTANCES", 2).max(1);
    let table = table().await;
    let key_table = unique("bench-keys");
    infra::bootstrap::create_key_table(table.client(), &key_table).await.expect("key table");
    let tenant = tenant();
    let senders = senders(messages, contacts);
    let mut distinct = senders.clone();
    distinct.sort_unstable();
    distinct.dedup();
    println!(
        "BENCH messages={messages} contacts={} (of {contacts}; the busiest wrote {}) instances={instances}",
        distinct.len(),
        distinct.iter().map(|d| senders.iter().filter(|s| *s == d).count()).max().unwrap_or(0)
    );
    for label in ["first_contact", "returning"] {
        let (calls, elapsed) = phase(&table, &key_table, &tenant, instances, &senders, label).await;
        let total = calls.generate + calls.decrypt;
        println!(
            "BENCH phase={label} kms_generate={} kms_decrypt={} kms_calls_per_1000_messages={:.0} kms_ms_per_call={:.2} kms_ms_per_message={:.3} elapsed={:.2}s ms_per_message={:.2}",
            calls.generate,
            calls.decrypt,
            total as f64 * 1000.0 / messages as f64,
            calls.micros as f64 / 1000.0 / total.max(1) as f64,
            calls.micros as f64 / 1000.0 / messages as f64,
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1000.0 / messages as f64,
        );
        // One index key per instance (made once, by the first), one data key per person and instance.
        assert!(total <= (distinct.len() + 1) as u64 * instances as u64);
    }
}
