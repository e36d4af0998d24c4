#!/usr/bin/env bash
# The send fleet (issue #19): FLEET_MESSAGES messages (default 10,000) to as many people
# (FLEET_RECIPIENTS), sent from one business number by FLEET_INSTANCES instances of the real
# `send` handler at once (default 8, each its own pacer), while the in-process sandbox Graph API
# enforces Meta's limit of FLEET_THROUGHPUT sends per second (default 1,000) over a sliding
# one-second window. Prints the achieved rate, the sandbox's counters (130429s must be 0), how
# many messages reached it exactly once, lost or twice, the redeliveries and the Graph call's
# p50/p99. No moto: the stores are the in-memory fakes (moto cannot take 1,000 writes a second).
# SQS's visibility timeout before a handed-back record returns: FLEET_VISIBILITY_SECONDS (360,
# the template's). FLEET_GRAPH_LATENCY_MS (default 0) delays every send in the sandbox, as
# Meta's round trip from AWS would; FLEET_BATCH_CONCURRENCY (default 4, the function's
# BATCH_CONCURRENCY) is how many records of a batch each instance sends at once. A debug build
# unless FLEET_RELEASE=1.
#   usage: infra/bench-send-fleet.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export FLEET_MESSAGES=${FLEET_MESSAGES:-10000}
export FLEET_INSTANCES=${FLEET_INSTANCES:-8}
export FLEET_THROUGHPUT=${FLEET_THROUGHPUT:-1000}
profile=()
build=debug
if [ "${FLEET_RELEASE:-}" = 1 ]; then profile=(--release); build=release; fi
echo "== send fleet: $FLEET_MESSAGES messages, $FLEET_INSTANCES instances, limit $FLEET_THROUGHPUT/s ($build build)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
# The handler writes its metrics (EMF) to stdout: only the report's lines are shown.
cargo test "${profile[@]}" --quiet -p send --lib -- --ignored --exact --nocapture fleet_tests::fleet_long \
  > "$out" 2>&1 || status=$?
grep '^FLEET' "$out" || true
if [ "$status" -ne 0 ]; then
  grep -v '"_aws"' "$out" | grep -E 'panicked|error' -A4 | head -20
fi
exit "$status"
