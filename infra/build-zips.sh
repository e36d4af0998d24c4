#!/usr/bin/env bash
# Builds the seven functions' release zips (each a `bootstrap` binary, as provided.al2023 wants)
# into target/lambda-zips/<function>.zip and prints their sizes.
#
#   infra/build-zips.sh            x86_64 (deploy with Architecture=x86_64)
#   infra/build-zips.sh --arm64    arm64, the template's default (needs the aarch64 target:
#                                  cargo-lambda, or `rustup target add aarch64-unknown-linux-gnu`
#                                  and a cross linker)
#
# With cargo-lambda installed (pip install cargo-lambda) it builds through it, which links
# against the glibc of Lambda's runtime whatever the build machine; without it, plain
# `cargo build --release` (the binaries then need a glibc no newer than al2023's 2.34: build on
# al2023 or an older distribution).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

arch=x86_64
case "${1:-}" in
  --arm64) arch=arm64 ;;
  --x86_64|--x86-64|"") arch=x86_64 ;;
  -h|--help) sed -n 2,13p "$0"; exit 0 ;;
  *) echo "usage: $0 [--arm64|--x86_64]" >&2; exit 2 ;;
esac
case "$arch" in
  arm64) target=aarch64-unknown-linux-gnu; lambda_flag=--arm64 ;;
  x86_64) target=x86_64-unknown-linux-gnu; lambda_flag=--x86-64 ;;
esac

functions=(webhook inbound send suggest retention import api realtime)
out="$root/target/lambda-zips/$arch"
# CARGO_TARGET_DIR is honoured (the zips still land in target/lambda-zips).
target_dir=${CARGO_TARGET_DIR:-$root/target}
rm -rf "$out" && mkdir -p "$out"

packages=()
for f in "${functions[@]}"; do packages+=(-p "$f"); done

if cargo lambda --version > /dev/null 2>&1; then
  cargo lambda build --release "$lambda_flag" "${packages[@]}"
  bin_dir="$target_dir/lambda"
  for f in "${functions[@]}"; do
    cp "$bin_dir/$f/bootstrap" "$out/$f.bootstrap"
  done
else
  host=$(rustc -vV | sed -n 's/^host: //p')
  if [ "$target" = "$host" ]; then
    # The host's own target: no --target, so the build lands in target/release and shares its
    # dependencies with `cargo bench` and infra/bench-init.sh instead of compiling them twice.
    release_dir="$target_dir/release"
    target_args=()
  else
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
      echo "the $target target is not installed: rustup target add $target (and a linker for it), or install cargo-lambda" >&2
      exit 1
    fi
    release_dir="$target_dir/$target/release"
    target_args=(--target "$target")
  fi
  # --offline: building the zips never downloads anything (the crates come from the local cache
  # that `cargo fetch` or an earlier build filled); --locked: exactly Cargo.lock's versions.
  cargo build --release --locked --offline "${target_args[@]}" "${packages[@]}"
  for f in "${functions[@]}"; do
    cp "$release_dir/$f" "$out/$f.bootstrap"
  done
fi

# Each zip holds one file, `bootstrap`, executable.
python3 - "$out" "${functions[@]}" <<'PY'
import os, sys, zipfile
out, functions = sys.argv[1], sys.argv[2:]
print(f"{'function':<10} {'binary':>10} {'zip':>10}")
for name in functions:
    binary = os.path.join(out, f"{name}.bootstrap")
    archive = os.path.join(out, f"{name}.zip")
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    size = os.path.getsize(binary)
    with open(binary, "rb") as src, zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, src.read())
    os.remove(binary)
    print(f"{name:<10} {size:>10} {os.path.getsize(archive):>10}")
PY
echo "zips in $out (Architecture=$arch)"
