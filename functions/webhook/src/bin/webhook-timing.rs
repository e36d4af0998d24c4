//! The webhook's fast path timed without criterion, for `infra/bench-webhook.sh`: the same work
//! as the criterion bench's `one text message` (`signature::verify_with` + `split::split` on
//! `benches/one_text_bsuid.json`, the key prepared once), timed like the pywa side (repeats of a
//! fixed number of iterations, per-iteration median). A binary of the normal build, so it needs
//! none of the dev-dependencies' features (criterion's build recompiles the AWS SDK with tokio's
//! `test-util`). Not deployed: `infra/build-zips.sh` packages only the `webhook` binary.
//!
//! Usage: webhook-timing [ITERATIONS] [REPEATS] [both|verify|split]

use std::time::Instant;

use shared::kernel::digest::HmacKey;
use webhook::{signature, split};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const BODY: &[u8] = include_bytes!("../../benches/one_text_bsuid.json");

/// Which part to time (the parts show where the time goes).
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Both,
    Verify,
    Split,
}

fn once(key: &HmacKey, header: &str, part: Part) -> usize {
    let body = std::hint::black_box(BODY);
    let verified = part != Part::Split && signature::verify_with(key, body, Some(header)).is_ok();
    let events = if part == Part::Verify {
        1
    } else {
        split::split(body).map(|s| s.messages.len()).unwrap_or_default()
    };
    usize::from(verified || part == Part::Split) + events
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number =
        |i: usize, default: u32| args.get(i).and_then(|a| a.parse::<u32>().ok()).unwrap_or(default).max(1);
    let (iterations, repeats) = (number(0, 200_000), number(1, 7));
    let part = match args.get(2).map(String::as_str) {
        Some("verify") => Part::Verify,
        Some("split") => Part::Split,
        _ => Part::Both,
    };
    let key = HmacKey::new(SECRET);
    let header = signature::sign(SECRET, BODY);
    if once(&key, &header, part) != 2 {
        eprintln!("the body did not verify and split into one event");
        std::process::exit(1);
    }
    for _ in 0..iterations / 10 {
        std::hint::black_box(once(&key, &header, part));
    }
    let mut per_iteration: Vec<f64> = Vec::new();
    for repeat in 1..=repeats {
        let start = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(once(&key, &header, part));
        }
        let ns = start.elapsed().as_secs_f64() * 1e9 / f64::from(iterations);
        eprintln!("  repeat {repeat}: {:.2} µs per webhook ({iterations} iterations)", ns / 1000.0);
        per_iteration.push(ns);
    }
    per_iteration.sort_by(f64::total_cmp);
    let median = per_iteration[per_iteration.len() / 2];
    let (min, max) = (per_iteration[0], per_iteration[per_iteration.len() - 1]);
    eprintln!("rust median_ns={median:.0} min_ns={min:.0} max_ns={max:.0}");
}
