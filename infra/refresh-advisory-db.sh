#!/usr/bin/env bash
# Replaces infra/advisory-db/crates with the advisories of a RustSec advisory-db checkout and
# records its commit and date in infra/advisory-db/SNAPSHOT. Usage: refresh-advisory-db.sh DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source_dir=${1:?usage: refresh-advisory-db.sh PATH_TO_ADVISORY_DB_CHECKOUT}
target="$root/infra/advisory-db"
commit=$(git -C "$source_dir" log -1 --format=%H)
date=$(git -C "$source_dir" log -1 --format=%cI)
rm -rf "$target/crates"
git -C "$source_dir" archive "$commit" crates LICENSE.txt | tar -x -C "$target"
printf 'commit=%s\ndate=%s\n' "$commit" "$date" > "$target/SNAPSHOT"
echo "advisory-db snapshot: $commit of $date"
