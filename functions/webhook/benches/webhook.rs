//! The webhook's fast path, in-process: signature verification, parsing and splitting into queue
//! messages (no SQS: moto would dominate any timing). Run with `cargo bench -p webhook`.
//!
//! The one-message body is `one_text_bsuid.json` (593 bytes as Meta sends it: compact, with the
//! phone number and BSUID fields), the bytes `infra/bench-webhook.sh` also gives pywa. The key is
//! prepared once, as the handler's `Deps` holds it.
//!
//! Target: at least 20× pywa's verify + parse + dispatch of the same bytes (docs/performance.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shared::kernel::digest::HmacKey;
use webhook::{signature, split};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn one_text() -> String {
    include_str!("one_text_bsuid.json").to_owned()
}

/// A batch of 1,000 status updates in one POST (Meta's documented maximum).
fn thousand_statuses() -> String {
    let statuses: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"id":"wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABEYEkJVU0lORVNTX01TR18w{i:05}","status":"delivered","timestamp":"1767225782","recipient_id":"55119{i:08}","pricing":{{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550100001","phone_number_id":"106540352242922"}},"statuses":[{}]}}}}]}}]}}"#,
        statuses.join(",")
    )
}

fn fast_path(key: &HmacKey, body: &[u8], header: &str) -> usize {
    let verified = signature::verify_with(key, body, Some(header));
    let split = split::split(body);
    usize::from(verified.is_ok()) + split.map(|s| s.messages.len()).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let key = HmacKey::new(SECRET);
    let mut group = c.benchmark_group("webhook verify+parse+split");
    for (name, body) in [("one text message", one_text()), ("1000 statuses", thousand_statuses())] {
        let header = signature::sign(SECRET, body.as_bytes());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| fast_path(&key, std::hint::black_box(body.as_bytes()), &header));
        });
    }
    group.finish();
    let body = one_text();
    let header = signature::sign(SECRET, body.as_bytes());
    c.bench_function("signature only (one text message)", |b| {
        b.iter(|| signature::verify_with(&key, std::hint::black_box(body.as_bytes()), Some(&header)));
    });
    c.bench_function("split only (one text message)", |b| {
        b.iter(|| split::split(std::hint::black_box(body.as_bytes())).map(|s| s.messages.len()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
