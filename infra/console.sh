#!/usr/bin/env bash
# Builds the agent console into console/dist (served by the local stack at /console/): installs
# the pinned npm packages (package-lock.json, `npm ci`) once and again whenever the lock changes,
# then bundles with esbuild and prints the first load's compressed JavaScript size (the build
# fails over its 200 KB budget). Run by local-stack.sh and test.sh. Needs Node.js 18 or newer
# (Debian 12's; installed with apt-get when missing and run as root); nothing downloads a browser.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root/console"
if ! command -v npm > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "Installing Node.js (apt-get)..."
    apt-get update -qq && apt-get install -y -qq nodejs npm > /dev/null
  else
    echo "The agent console needs Node.js 18 or newer with npm" >&2; exit 1
  fi
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "The agent console needs Node.js 18 or newer (found $(node --version))" >&2; exit 1
fi
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the console's npm packages (npm ci)..."
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
npm run --silent build
