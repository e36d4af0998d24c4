#!/usr/bin/env bash
# The sending benchmark (issue #5): BENCH_ROUNDS rounds (default 10) of BENCH_SENDS messages
# (default 1000) to BENCH_RECIPIENTS people (default 100), each round through the real `send`
# handler on a fresh moto (DynamoDB, KMS) and an in-process sandbox Graph API, BENCH_INSTANCES
# instances at once (default 4). Prints each round's KMS calls, DynamoDB operations and msg/s,
# then the totals: KMS calls, DynamoDB writes per send, messages per second against the limit.
#
# Why rounds: moto keeps every item of a table in one Python process and grows to ~20 GB (and
# slows down) with 10,000 queued messages in one tenant; the per-message figures do not depend on
# how many messages share a run, so 10 × 1,000 on fresh servers measures the same path.
#   usage: infra/bench-send.sh     (BENCH_ROUNDS, BENCH_SENDS, BENCH_RECIPIENTS, BENCH_INSTANCES,
#                                   BENCH_THROUGHPUT)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
rounds=${BENCH_ROUNDS:-10}
export BENCH_SENDS=${BENCH_SENDS:-1000}
cargo build --release -p tests --tests --quiet
out=$(mktemp)
moto=
trap 'kill $moto 2>/dev/null || true; rm -f "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/python infra/moto_server.py -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
  moto=$!
  for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break; sleep 0.25; done
  echo "== round $round of $rounds"
  LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port" \
    cargo test --release --quiet -p tests --test it -- --ignored --exact --nocapture bench_send::bench_send 2>&1 \
    | grep BENCH | tee -a "$out"
  kill "$moto"; wait "$moto" 2>/dev/null || true
done
python3 - "$out" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
sends = sum(int(m.group(1)) for l in lines if (m := re.search(r"BENCH sends=(\d+)", l)))
failures = sum(int(m.group(1)) for l in lines if (m := re.search(r"failures=(\d+)", l)))
elapsed = sum(float(m.group(1)) for l in lines if (m := re.search(r"elapsed=([\d.]+)s", l)))
limit = next((m.group(1) for l in lines if (m := re.search(r"limit=(\d+)/s", l))), "?")
instances = next((m.group(1) for l in lines if (m := re.search(r"instances=(\d+)", l))), "?")
writes = decrypts = 0
for l in lines:
    if l.startswith("BENCH dynamodb_ops="):
        for op, n in re.findall(r'\("(\w+)", (\d+)\)', l):
            if op in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
                writes += int(n)
            elif op == "TransactWriteItems":
                writes += 2 * int(n)
    if l.startswith("BENCH kms_calls="):
        decrypts += sum(int(n) for op, n in re.findall(r'\("(\w+)", (\d+)\)', l) if op == "Decrypt")
print(f"BENCH TOTAL sends={sends} failures={failures} instances={instances} limit={limit}/s")
print(f"BENCH TOTAL kms_decrypts={decrypts} (cold instances each round: per instance, the tenant's token, and")
print("  each recipient's data key once (P64); a recipient's messages all go to one instance, their FIFO group)")
print(f"BENCH TOTAL dynamodb_writes_per_send={writes / max(sends, 1):.3f}")
print(f"BENCH TOTAL achieved={sends / max(elapsed, 1e-9):.1f} msg/s over {elapsed:.1f}s of sending")
PY
