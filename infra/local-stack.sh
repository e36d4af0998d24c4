#!/usr/bin/env bash
# The README's first command: the whole local stack in the foreground, with a demo tenant.
# Installs moto into .venv on first run, builds the seven functions and the agent console
# (console/dist, served at /console/), then runs leadline-local
# (moto, the Lambda runtime emulator, the gateway on http://127.0.0.1:${LEADLINE_PORT:-8080}).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash infra/setup-venv.sh
cargo build --quiet --workspace --bins
bash infra/console.sh
exec target/debug/leadline-local
