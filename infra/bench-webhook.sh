#!/usr/bin/env bash
# The webhook's fast path against the best library peer, on the same bytes, in one run:
# pywa 4.5.0 (verify X-Hub-Signature-256 + parse + dispatch to an on_message handler) and the
# Rust timing binary (verify + split into queue messages; also the criterion bench `webhook
# verify+parse+split/one text message`), both on functions/webhook/benches/one_text_bsuid.json
# (593 bytes, phone number and BSUID fields). They run in alternating rounds (BENCH_WEBHOOK_ROUNDS,
# default 5: pywa then Rust, each a median of 3 repeats); the ratio is given per round and as the
# median of the rounds'.
#
#   infra/bench-webhook.sh                 the rounds, then criterion
#   infra/bench-webhook.sh --no-criterion  without criterion (its first build recompiles the AWS
#                                          SDK in release with the dev-dependencies' features)
# The venv is created on first use (target/bench-webhook/venv: pip install pywa==4.5.0).
# The Rust side is timed twice: `webhook-timing` (src/bin/webhook-timing.rs: the same loop shape
# as the pywa script, built with the functions' own release build) and criterion.
# CARGO_TARGET_DIR is honoured (the binary and the venv are looked for there instead of
# target/): a worktree can borrow another checkout's release build, e.g.
#   CARGO_TARGET_DIR=/work/main/target infra/bench-webhook.sh --no-criterion
# builds only this checkout's changed crates against that build's dependencies.
#
# Run it under `nice` on a shared machine, and compare the ratio, not the absolute figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
body=functions/webhook/benches/one_text_bsuid.json
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/bench-webhook/venv
pywa_version=4.5.0

if ! "$venv/bin/python" -c "import pywa, sys; sys.exit(pywa.__version__ != '$pywa_version')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pywa==$pywa_version"
fi

rounds=${BENCH_WEBHOOK_ROUNDS:-5}
# The same packages as infra/build-zips.sh, so that the dependencies resolve to the same features
# and the zips' release build is reused rather than the AWS SDK rebuilt.
cargo build --release --locked --offline -p webhook -p inbound -p send -p suggest -p retention -p import -p api \
  -p realtime --bin webhook-timing 2>/dev/null

# Rounds of pywa then Rust, each timed on its own: a neighbour's burst on this shared machine
# slows the round it falls in, not one side of the whole comparison.
lines=()
for round in $(seq 1 "$rounds"); do
  echo "== round $round: pywa $pywa_version ($(wc -c < "$body") bytes), then Rust ($target_dir/release/webhook-timing)"
  pywa=$("$venv/bin/python" infra/bench_webhook_pywa.py "$body" 20000 3 | tee /dev/stderr | tail -1)
  rust=$("$target_dir/release/webhook-timing" 200000 3 2>&1 | tee /dev/stderr | tail -1)
  lines+=("$pywa" "$rust")
done

estimates=""
if [ "${1:-}" != "--no-criterion" ]; then
  echo "== Rust (criterion: cargo bench -p webhook --bench webhook)"
  cargo bench --locked --offline -p webhook --bench webhook -- "one text message" 2>&1 \
    | grep -E "^webhook|time:|thrpt:" || true
  estimates=$(find "$target_dir/criterion" -path "*verify+parse+split/one text message/new/estimates.json" | head -1)
fi

python3 - "$estimates" "${lines[@]}" <<'PY'
import json, re, statistics, sys
estimates, lines = sys.argv[1], sys.argv[2:]
median = lambda line: float(re.search(r"median_ns=(\d+)", line).group(1))
rounds = [(median(pywa), median(rust)) for pywa, rust in zip(lines[::2], lines[1::2])]
for i, (pywa, rust) in enumerate(rounds, 1):
    print(f"round {i}: pywa {pywa / 1000:.1f} µs, Rust {rust / 1000:.2f} µs, ratio {pywa / rust:.1f}×")
ratios = [pywa / rust for pywa, rust in rounds]
print(f"Rust  median {statistics.median(r for _, r in rounds) / 1000:.2f} µs over {len(rounds)} rounds")
print(f"pywa  median {statistics.median(p for p, _ in rounds) / 1000:.1f} µs over {len(rounds)} rounds")
if estimates:
    e = json.load(open(estimates))["median"]
    lo, hi = e["confidence_interval"]["lower_bound"], e["confidence_interval"]["upper_bound"]
    print(f"Rust  criterion median {e['point_estimate'] / 1000:.2f} µs (95% CI {lo / 1000:.2f}–{hi / 1000:.2f})")
print(f"ratio median {statistics.median(ratios):.1f}×, rounds {min(ratios):.1f}–{max(ratios):.1f}× (target ≥ 20×)")
PY
