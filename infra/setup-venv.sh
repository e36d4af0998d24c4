#!/usr/bin/env bash
# Installs the project's Python tools (moto, cfn-lint, the SAM translator) into .venv, once,
# and again whenever infra/requirements.txt changes. Sourced by local-stack.sh and test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/infra/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing Python tools into .venv (first run takes about a minute)..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/infra/requirements.txt"
  echo "$want" > "$stamp"
fi
