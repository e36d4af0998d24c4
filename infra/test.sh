#!/usr/bin/env bash
# The README's second command: every test. Lints (fmt, clippy), cargo deny, unit tests,
# integration tests against moto, end-to-end tests against a local stack it starts on free ports,
# the agent console's browser test (headless Chromium), the log scan, the IAM conformance check
# (every AWS call of that run against template.yaml's roles), the property-based API test
# (schemathesis), and the SAM template lint (cfn-lint, then SAM-translate and cfn-lint again on
# the CloudFormation output).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
export PATH="$root/.venv/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --quiet --workspace --all-targets -- -D warnings

step "cargo deny (advisories from the checked-in RustSec snapshot, licenses, bans, sources)"
bash infra/deny.sh

step "build the function binaries"
cargo build --quiet --workspace --bins --tests

step "build the agent console (npm ci from the lock file, esbuild; JavaScript budget 200 KB gzip)"
bash infra/console.sh

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The stack's logs outlive the run (a failure is read from them): target/last-run/.
  rm -rf "$root/target/last-run" && mkdir -p "$root/target/last-run"
  cp -r "$work/stack/logs" "$work/moto.log" "$work/console-failures" "$root/target/last-run/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "start moto for the integration tests"
moto_port=$(free_port)
python infra/moto_server.py -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=($!)

step "start a local stack for the end-to-end tests"
stack_port=$(free_port)
LEADLINE_PORT=$stack_port LEADLINE_RUNTIME_PORT=$(free_port) LEADLINE_MOTO_PORT=$(free_port) \
  LEADLINE_STATE_DIR="$work/stack" LEADLINE_VISIBILITY_TIMEOUT_SECONDS=2 LEADLINE_PAIR_INTERVAL_MS=300 \
  target/debug/leadline-local > "$work/stack.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$stack_port/health" > /dev/null && break
  sleep 0.5
done
if ! curl -sf "http://127.0.0.1:$stack_port/health" > /dev/null; then
  echo "the local stack did not become healthy; its output:"; cat "$work/stack.log"; exit 1
fi
for _ in $(seq 1 40); do
  curl -sf "http://127.0.0.1:$moto_port/moto-api/" > /dev/null && break
  sleep 0.25
done

step "cargo test (unit, integration against moto, end to end against the stack)"
LEADLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$moto_port" \
LEADLINE_E2E_BASE_URL="http://127.0.0.1:$stack_port" \
LEADLINE_E2E_STATE_DIR="$work/stack" \
  cargo test --workspace --no-fail-fast

step "agent console in headless Chromium (Debian's chromium; playwright-core, no browser download)"
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver > /dev/null
fi
LEADLINE_E2E_BASE_URL="http://127.0.0.1:$stack_port" LEADLINE_E2E_STATE_DIR="$work/stack" \
LEADLINE_CONSOLE_SCREENSHOTS="$root/docs/screenshots" LEADLINE_CONSOLE_FAILURES="$work/console-failures" \
  node console/test/browser.mjs

step "scan every function log of that run for personal data and secrets (P17)"
LEADLINE_E2E_STATE_DIR="$work/stack" \
  cargo test -p tests --test it -- --ignored --exact log_scan::no_function_log_line_holds_personal_data_or_secrets

step "IAM conformance: every AWS call of that run against its function's role in template.yaml"
LEADLINE_E2E_STATE_DIR="$work/stack" \
  cargo test -p tests --test it -- --ignored --exact --nocapture \
    iam::every_aws_call_of_the_end_to_end_run_is_allowed_by_its_functions_role

step "property-based API test: schemathesis against the served OpenAPI document"
bash infra/api-fuzz.sh "http://127.0.0.1:$stack_port" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["operator_key"])' "$work/stack/demo.json")"

step "lint template.yaml (cfn-lint, SAM translate, cfn-lint on the result)"
cfn-lint template.yaml
python3 infra/sam_translate.py template.yaml "$work/template.cfn.json"
cfn-lint --ignore-checks W3037 -- "$work/template.cfn.json"
echo "template.yaml: clean"
