#!/usr/bin/env bash
# Fuzzes the INI reader and editor with cargo-fuzz (libFuzzer), each target for a
# bounded time. Not part of CI. Usage: fuzz/run.sh [SECONDS_PER_TARGET]  (default 60)
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain the sanitizer
# flags are allowed with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
for target in ini_roundtrip ini_edit ini_botocore; do
  echo "== $target for ${seconds}s"
  # New inputs go to a scratch corpus; the committed one stays a handful of seeds.
  scratch=$(mktemp -d)
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch" "corpus/$target" -- -max_total_time="$seconds" -max_len=4096 2>&1 | tail -4
  rm -rf "$scratch"
done
