#!/usr/bin/env bash
# The chaos matrix (issue #19): one round per fault column, each on a fresh moto (moto keeps
# every item in one Python process and slows as tables grow), through the real `inbound` and
# `send` handlers in process and an in-process sandbox Graph API (tests/it/chaos.rs). Each
# round prints one `CHAOS fault=…` row (events, deliveries, expected/found per effect, lost,
# duplicated); the script ends with the table and the totals, and fails when anything was
# lost or duplicated.
#
# Defaults: 9 columns × (460 customer messages + 180 sends + their ~515 statuses + poisoned
# records) ≈ 10,500 events.
#   usage: infra/chaos.sh     (CHAOS_COLUMNS="none duplicates …", CHAOS_MESSAGES, CHAOS_SENDS,
#                              CHAOS_PEOPLE, CHAOS_MOTO_PORT to pin moto's port, CHAOS_LOG=1
#                              with RUST_LOG=warn for the handlers' own lines)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
columns=${CHAOS_COLUMNS:-none duplicates out_of_order crash_after_effect poisoned_records slow_failing_dynamodb slow_failing_graph days_late everything}
export CHAOS_MESSAGES=${CHAOS_MESSAGES:-460} CHAOS_SENDS=${CHAOS_SENDS:-180} CHAOS_PEOPLE=${CHAOS_PEOPLE:-40}
cargo build --quiet -p tests --tests
out=$(mktemp)
moto=
trap 'kill $moto 2>/dev/null || true; rm -f "$out"' EXIT
started=$(date +%s)
seed=0
for column in $columns; do
  seed=$((seed + 1))
  port=${CHAOS_MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  .venv/bin/python infra/moto_server.py -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
  moto=$!
  for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break; sleep 0.25; done
  echo "== $column (seed $seed)"
  # The round's test fails when its effects do not add up; its row is printed either way.
  CHAOS_FAULT=$column CHAOS_SEED=$seed LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port" \
    cargo test --quiet -p tests --test it -- --ignored --exact --nocapture chaos::chaos_round 2>&1 \
    | grep '^CHAOS' | tee -a "$out" || true
  kill "$moto"; wait "$moto" 2>/dev/null || true
done
python3 - "$out" "$(( $(date +%s) - started ))" <<'PY'
import re, sys
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1]) if l.startswith("CHAOS fault=")]
cols = ["fault", "events", "deliveries", "inbound_messages", "received_events", "opened_events", "sends",
        "final_status", "unknown_unsent", "poison", "crashes", "aws_failed", "aws_slow", "lost", "duplicated",
        "past_redrive", "seconds"]
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join(r.get(c, "?") for c in cols) + " |")
total = lambda k: sum(int(r.get(k, 0)) for r in rows)
print(f"CHAOS TOTAL rounds={len(rows)} events={total('events')} deliveries={total('deliveries')} "
      f"lost={total('lost')} duplicated={total('duplicated')} unknown_unsent={total('unknown_unsent')} "
      f"wall={sys.argv[2]}s")
sys.exit(0 if rows and total("lost") == 0 and total("duplicated") == 0 else 1)
PY
