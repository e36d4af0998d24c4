#!/usr/bin/env bash
# The webhook's fast path against the best library peer, on the same bytes, in one run:
# pywa 4.5.0 (verify X-Hub-Signature-256 + parse + dispatch to an on_message handler) and the
# criterion bench `webhook verify+parse+split/one text message` (verify + split into queue
# messages), both on functions/webhook/benches/one_text_bsuid.json (593 bytes, phone number and
# BSUID fields). pywa runs before and after criterion; the ratio is given for the range.
#
#   infra/bench-webhook.sh                 pywa, the Rust timing binary, criterion, pywa again
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

echo "== pywa $pywa_version, before ($(wc -c < "$body") bytes)"
before=$("$venv/bin/python" infra/bench_webhook_pywa.py "$body" 20000 5 | tee /dev/stderr | tail -1)

echo "== Rust ($target_dir/release/webhook-timing)"
# The same packages as infra/build-zips.sh, so that the dependencies resolve to the same features
# and the zips' release build is reused rather than the AWS SDK rebuilt.
cargo build --release --locked --offline -p webhook -p inbound -p send -p suggest -p retention -p import -p api \
  -p realtime --bin webhook-timing 2>/dev/null
timing=$("$target_dir/release/webhook-timing" 200000 7 2>&1 | tee /dev/stderr | tail -1)

estimates=""
if [ "${1:-}" != "--no-criterion" ]; then
  echo "== Rust (criterion: cargo bench -p webhook --bench webhook)"
  cargo bench --locked --offline -p webhook --bench webhook -- "one text message" 2>&1 \
    | grep -E "^webhook|time:|thrpt:" || true
  estimates=$(find "$target_dir/criterion" -path "*verify+parse+split/one text message/new/estimates.json" | head -1)
fi

echo "== pywa $pywa_version, after"
after=$("$venv/bin/python" infra/bench_webhook_pywa.py "$body" 20000 5 | tee /dev/stderr | tail -1)

python3 - "$timing" "$before" "$after" "$estimates" <<'PY'
import json, re, sys
timing, before, after, estimates = sys.argv[1:5]
median = lambda line: float(re.search(r"median_ns=(\d+)", line).group(1))
rust_ns = median(timing)
pywa = [median(before), median(after)]
print(f"Rust  median {rust_ns / 1000:.2f} µs (webhook-timing: {timing.split(' ', 1)[1]})")
if estimates:
    e = json.load(open(estimates))["median"]
    lo, hi = e["confidence_interval"]["lower_bound"], e["confidence_interval"]["upper_bound"]
    print(f"Rust  criterion median {e['point_estimate'] / 1000:.2f} µs (95% CI {lo / 1000:.2f}–{hi / 1000:.2f})")
print(f"pywa  median {min(pywa) / 1000:.1f}–{max(pywa) / 1000:.1f} µs (before, after)")
print(f"ratio {min(pywa) / rust_ns:.1f}–{max(pywa) / rust_ns:.1f}× (target ≥ 20×)")
PY
