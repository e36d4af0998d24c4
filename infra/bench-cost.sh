#!/usr/bin/env bash
# The month's AWS bill of the traffic model of issue #19 (docs/cost.md): N inbound texts, N
# outbound texts (API accept + `send`) and 3N statuses, run through a local stack of its own
# (tests/it/bench_cost.rs), every AWS call counted by the stack's recorder per function and
# operation, the logs measured per function; then priced for 1 M inbound + 1 M outbound +
# 3 M statuses a month at us-east-1 list prices.
#   usage: infra/bench-cost.sh   (BENCH_EVENTS=60, BENCH_PER_PERSON=2, BENCH_PORT=free port,
#                                  BENCH_SKIP_BUILD=1 to use the binaries as built,
#                                  BENCH_BIN_DIR=<dir> to run other function binaries, e.g.
#                                  another checkout's target/debug, for a before/after pair)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh > /dev/null
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  nice -n 10 cargo build --quiet --workspace --bins
  nice -n 10 cargo test --quiet -p tests --test it --no-run
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=${BENCH_PORT:-$(free_port)}
runtime_port=${BENCH_RUNTIME_PORT:-$(free_port)}
moto_port=${BENCH_MOTO_PORT:-$(free_port)}
work=$(mktemp -d)
out="$work/bench.out"
stack=
cleanup() { [ -n "$stack" ] && kill "$stack" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# The queues' visibility timeout as deployed (template.yaml, 360 s): a short one (the tests'
# 2 s) redelivers records that moto's slowness has not let a function finish, and their work
# would be counted twice.
LEADLINE_PORT=$port LEADLINE_RUNTIME_PORT=$runtime_port LEADLINE_MOTO_PORT=$moto_port \
  LEADLINE_STATE_DIR="$work/stack" LEADLINE_VISIBILITY_TIMEOUT_SECONDS=360 \
  LEADLINE_BIN_DIR="${BENCH_BIN_DIR:-target/debug}" \
  target/debug/leadline-local > "$work/stack.log" 2>&1 &
stack=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/health" > /dev/null || { echo "the stack did not start:"; cat "$work/stack.log"; exit 1; }
LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$moto_port" LEADLINE_E2E_BASE_URL="http://127.0.0.1:$port" \
  LEADLINE_E2E_STATE_DIR="$work/stack" \
  cargo test --quiet -p tests --test it -- --ignored --exact --nocapture bench_cost::bench_cost > "$out" 2>&1 \
  || { cat "$out"; exit 1; }
grep '^BENCH_COST ' "$out" | sed 's/^BENCH_COST //' > "$work/report.json"
cp "$work/report.json" "${BENCH_REPORT:-target/bench-cost.json}"
# The record and the logs, to trace a figure to its items and lines.
rm -rf target/bench-cost && mkdir -p target/bench-cost && cp -r "$work/stack/aws-calls.jsonl" "$work/stack/logs" target/bench-cost/
python3 infra/cost_model.py "$work/report.json"
