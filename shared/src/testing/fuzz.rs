//! A deterministic mutation fuzzer that runs on stable Rust, for parsers of outside input (the
//! webhook splitter, the API's body types, the CSV import reader).
//!
//! cargo-fuzz needs a nightly toolchain and a second build of the whole dependency tree; this
//! harness runs inside the crates' own test binaries instead: `cargo test` runs a short smoke of
//! each target, `infra/fuzz.sh` the long runs (`#[ignore]`d tests, release build,
//! `LEADLINE_FUZZ_EXECUTIONS` executions per target). No coverage feedback: inputs are seeds
//! (valid examples) mutated by byte flips, insertions of JSON/CSV tokens and of the target's own
//! dictionary (field names, enum values), deletions, duplications, truncations and splices,
//! stacked on the previous input a quarter of the time. A fixed seed makes every run reproduce;
//! an input that panics is written to `target/fuzz-crashes/` before the panic propagates.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The environment variable that sets the executions per target of the long runs.
pub const EXECUTIONS_VAR: &str = "LEADLINE_FUZZ_EXECUTIONS";

/// Executions per target: [`EXECUTIONS_VAR`] when set to a number, else `default`.
#[must_use]
pub fn executions_from_env(default: u64) -> u64 {
    std::env::var(EXECUTIONS_VAR).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// xorshift64*: tiny, fast and deterministic, enough to drive mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed (zero is replaced: xorshift would stay at zero).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// Tokens that break or bend JSON and CSV: structure, escapes, extreme numbers, odd bytes.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\u00",
    b"\\ud800",
    b"\\",
    b"null",
    b"true",
    b"false",
    b"1e999",
    b"-0",
    b"-1",
    b"0.5",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\xff",
    b"\xc3",
    b"\xf0\x9f\x98\x80",
    b"\r\n",
    b"\n",
    b";",
    b"\t",
    b"\"\"",
    b"=cmd",
    b"{}",
    b"[]",
    b"\"\":",
    b"\0",
];

/// Interesting values to put where a value was.
const VALUES: &[&[u8]] = &[
    b"\"\"",
    b"0",
    b"-1",
    b"4294967296",
    b"1e308",
    b"[]",
    b"{}",
    b"null",
    b"\"+5511988887777\"",
    b"\"2026-01-01T00:00:00Z\"",
    b"\"a\"",
    b"99999999999999999999999",
];

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Inputs fed to the target.
    pub executions: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // a rate for people to read
        let rate = if secs > 0.0 { self.executions as f64 / secs } else { 0.0 };
        write!(f, "{} executions in {secs:.1} s ({rate:.0}/s), no panic", self.executions)
    }
}

/// The largest input a mutation may grow to (keeps stacked mutations from running away).
const MAX_LEN: usize = 64 * 1024;

/// One mutation of `input` in place.
fn mutate(input: &mut Vec<u8>, rng: &mut Rng, seeds: &[Vec<u8>], dictionary: &[Vec<u8>]) {
    let at = rng.below(input.len() + 1);
    match rng.below(10) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = u8::try_from(rng.below(256)).unwrap_or(0);
        }
        2 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            input.splice(at..at, token.iter().copied());
        }
        3 if !dictionary.is_empty() => {
            let word = &dictionary[rng.below(dictionary.len())];
            input.splice(at..at, word.iter().copied());
        }
        4 => {
            let end = (at + 1 + rng.below(32)).min(input.len());
            if at < end {
                input.drain(at..end);
            }
        }
        5 => {
            let end = (at + 1 + rng.below(64)).min(input.len());
            if at < end && input.len() < MAX_LEN {
                let piece: Vec<u8> = input[at..end].to_vec();
                let to = rng.below(input.len() + 1);
                input.splice(to..to, piece);
            }
        }
        6 => input.truncate(at),
        7 if !seeds.is_empty() => {
            // Splice: this input's head with another seed's tail.
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        8 => {
            // Replace a value: from after a ':' or ',' to the next ',' or '}'.
            if let Some(start) =
                input.iter().skip(at).position(|b| matches!(b, b':' | b',')).map(|p| p + at + 1)
            {
                let end = input[start..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']'))
                    .map_or(input.len(), |p| p + start);
                let value = VALUES[rng.below(VALUES.len())];
                input.splice(start..end, value.iter().copied());
            }
        }
        _ => {
            let word: &[u8] = if dictionary.is_empty() || rng.below(2) == 0 {
                TOKENS[rng.below(TOKENS.len())]
            } else {
                &dictionary[rng.below(dictionary.len())]
            };
            let end = (at + word.len()).min(input.len());
            input.splice(at..end, word.iter().copied());
        }
    }
    input.truncate(MAX_LEN);
}

/// Feeds `executions` inputs to `target`: the seeds themselves first, then mutants. A panic is
/// re-raised after its input is saved to `target/fuzz-crashes/<name>-<execution>.bin`.
///
/// # Panics
/// When `target` panics (that is the finding).
pub fn run(
    name: &str,
    seeds: &[Vec<u8>],
    dictionary: &[Vec<u8>],
    executions: u64,
    mut target: impl FnMut(&[u8]),
) -> Report {
    let start = Instant::now();
    let mut rng = Rng::new(0x5EED_0000 ^ name.bytes().fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b)));
    let mut input: Vec<u8> = Vec::new();
    let mut done = 0u64;
    while done < executions {
        let index = usize::try_from(done).unwrap_or(usize::MAX);
        if index < seeds.len() {
            input.clone_from(&seeds[index]);
        } else {
            if rng.below(4) != 0 || input.is_empty() {
                input.clone_from(&seeds[rng.below(seeds.len())]);
            }
            for _ in 0..=rng.below(6) {
                mutate(&mut input, &mut rng, seeds, dictionary);
            }
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(&input))) {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuzz-crashes");
            let path = format!("{dir}/{name}-{done}.bin");
            let saved = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &input));
            eprintln!("fuzz {name}: execution {done} panicked; input saved to {path} ({saved:?})");
            resume_unwind(panic);
        }
        done += 1;
    }
    Report { executions: done, elapsed: start.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_execution_and_reproduces() {
        let seeds = vec![br#"{"a":1,"b":[true]}"#.to_vec()];
        let dictionary = vec![b"\"a\"".to_vec()];
        let mut first = Vec::new();
        let mut second = Vec::new();

        let report = run("self-test", &seeds, &dictionary, 500, |input| first.push(input.to_vec()));
        run("self-test", &seeds, &dictionary, 500, |input| second.push(input.to_vec()));

        assert_eq!(report.executions, 500);
        assert_eq!(first[0], seeds[0], "the seed itself goes first");
        assert_eq!(first, second, "a fixed seed reproduces the run");
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert!(distinct.len() > 300, "mutants vary: {}", distinct.len());
    }

    #[test]
    fn a_panicking_target_is_reported() {
        let seeds = vec![b"ok".to_vec()];

        let outcome = catch_unwind(|| {
            run("self-test-panic", &seeds, &[], 10_000, |input| assert!(!input.contains(&b'{'), "found"));
        });

        assert!(outcome.is_err());
    }
}
