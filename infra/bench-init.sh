#!/usr/bin/env bash
# Init time and idle memory of each function's release binary (x86_64, this machine), against a
# stub Lambda Runtime API (infra/bench_init.py): time from process start to its first request for
# an event, VmRSS while it waits for that event and after serving one. Fake configuration; AWS
# endpoints point at a closed local port, so an init that called AWS would show.
#
#   infra/bench-init.sh                 every function, 15 runs each (builds target/release first)
#   infra/bench-init.sh 5 webhook api   5 runs of these two
#
# LEADLINE_BENCH_PORT (default 5140) is the stub's port; the next port is the "AWS" that is not there.
# LEADLINE_BENCH_NO_BUILD=1 skips the build (measure what target/release, or
# $CARGO_TARGET_DIR/release, holds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${1:-15}
shift || true
functions=("$@")
[ ${#functions[@]} -gt 0 ] || functions=(webhook inbound send suggest retention import api realtime)

if [ -z "${LEADLINE_BENCH_NO_BUILD:-}" ]; then
  # All eight, as infra/build-zips.sh builds them: the same features, so the same binaries (a
  # subset could resolve its dependencies' features differently and measure another build).
  cargo build --release --locked --offline -p webhook -p inbound -p send -p suggest -p retention \
    -p import -p api -p realtime
fi
# CARGO_TARGET_DIR is honoured, as cargo does.
python3 infra/bench_init.py "${CARGO_TARGET_DIR:-target}/release" "${LEADLINE_BENCH_PORT:-5140}" "$runs" "${functions[@]}"
