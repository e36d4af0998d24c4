#!/usr/bin/env bash
# The sending benchmark (issue #5): BENCH_SENDS messages (default 10000) to BENCH_RECIPIENTS
# people through the real send path on moto's DynamoDB and KMS and an in-process sandbox Graph
# API. Prints KMS calls, DynamoDB writes per send and messages per second against the limit.
#   usage: infra/bench-send.sh            (BENCH_SENDS, BENCH_RECIPIENTS, BENCH_THROUGHPUT)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break; sleep 0.25; done
BENCH_SENDS=${BENCH_SENDS:-10000} LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port" \
  cargo test --release -p tests --test it -- --ignored --exact --nocapture bench_send::bench_send 2>&1 | grep BENCH
