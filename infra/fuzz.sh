#!/usr/bin/env bash
# Long fuzzing runs on stable Rust (shared::testing::fuzz; cargo-fuzz would need nightly):
# the webhook splitter, every API JSON body parser and the CSV import reader, each fed
# N mutated inputs (default 10,000,000 per target). Nothing may panic; an input that does is
# saved under target/fuzz-crashes/.
#
# Built as the test profile with only our crates (shared, api, webhook) at opt-level 3: the
# dependencies keep their debug build from `cargo test` (a release test build would rebuild the
# AWS SDK with the test features, over 30 minutes here), while the code under test and the
# serde code it instantiates run optimised.
#
#   infra/fuzz.sh              10 M executions per target (about 40 minutes of CPU on this machine)
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

cfg=()
for profile in dev test; do
  for crate in shared api webhook; do cfg+=(--config "profile.$profile.package.$crate.opt-level=3"); done
done

start=$(date +%s)
status=0
for spec in "webhook fuzz_tests::fuzz_webhook_split_long webhook" \
            "api tests::fuzz::fuzz_api_bodies_long api" \
            "api routes::contacts::import::fuzz_tests::fuzz_csv_import_long csv"; do
  read -r package filter label <<< "$spec"
  if [ -n "$only" ] && [[ "$label" != *"$only"* ]]; then continue; fi
  echo "== $label: $executions executions per target"
  set +e
  cargo test --locked --offline "${cfg[@]}" -p "$package" --lib "$filter" -- --ignored --exact --nocapture \
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
