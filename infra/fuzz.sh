#!/usr/bin/env bash
# Long fuzzing runs on stable Rust (shared::testing::fuzz; cargo-fuzz would need nightly):
# the webhook splitter, every API JSON body parser and the CSV import reader, each fed
# N mutated inputs (default 10,000,000 per target) in a release build. Nothing may panic;
# an input that does is saved under target/fuzz-crashes/.
#
#   infra/fuzz.sh              10 M executions per target (about an hour of CPU on this machine)
#   infra/fuzz.sh 10000        a short smoke
#   infra/fuzz.sh 1000000 api  only the targets whose test name matches "api" (webhook, api, csv)
#
# Prints each target's executions, time and rate. Run it under `nice` on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

executions=${1:-10000000}
only=${2:-}
export LEADLINE_FUZZ_EXECUTIONS=$executions

start=$(date +%s)
status=0
for spec in "webhook fuzz_tests::fuzz_webhook_split_long webhook" \
            "api tests::fuzz::fuzz_api_bodies_long api" \
            "api routes::contacts::import::fuzz_tests::fuzz_csv_import_long csv"; do
  read -r package filter label <<< "$spec"
  if [ -n "$only" ] && [[ "$label" != *"$only"* ]]; then continue; fi
  echo "== $label: $executions executions per target"
  set +e
  cargo test --release --locked --offline -p "$package" --lib "$filter" -- --ignored --exact --nocapture \
    > "target/fuzz-$label.log" 2>&1
  code=$?
  set -e
  grep -E '^fuzz |panicked|test result' "target/fuzz-$label.log" || true
  if [ $code -ne 0 ]; then
    echo "!! $label failed (exit $code): see target/fuzz-$label.log" >&2
    status=1
  fi
done
echo "fuzz.sh: done in $(( $(date +%s) - start )) s (exit $status)"
exit $status
