#!/usr/bin/env bash
# The cost of per-contact keys (P64) on the webhook path: KMS calls and time per 1,000 inbound
# messages with realistic contact reuse (see tests/it/bench_inbound.rs), on a fresh moto.
#   usage: infra/bench-inbound.sh     (BENCH_MESSAGES, BENCH_CONTACTS, BENCH_INSTANCES)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
cargo build --release -p tests --tests --quiet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python infra/moto_server.py -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break; sleep 0.25; done
LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port" \
  cargo test --release --quiet -p tests --test it -- --ignored --exact --nocapture bench_inbound::bench_inbound 2>&1 \
  | grep BENCH
