#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) from the seeds fuzz/seed.sh writes, and
# fails on the first crash: libFuzzer keeps the input in fuzz/artifacts/TARGET/, and
# `fuzz/run.sh --replay TARGET FILE` runs it again. Installs cargo-fuzz once, into a cached root.
#
#   fuzz/run.sh [SECONDS]
#   fuzz/run.sh --replay TARGET FILE
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$FUZZ_DIR/.." && pwd)
TARGETS=(envelope_decode normalize)

CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ_ROOT=${CARGO_FUZZ_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/metafrazo/cargo-fuzz}
if ! "$CARGO_FUZZ_ROOT/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  echo "fuzz/run.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION into $CARGO_FUZZ_ROOT (once)"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$CARGO_FUZZ_ROOT"
fi
export PATH=$CARGO_FUZZ_ROOT/bin:$PATH

# cargo fuzz passes rustc flags that only nightly accepts (sanitizer coverage); CI's machine may
# have only stable, and RUSTC_BOOTSTRAP=1 lets stable take them. One toolchain either way.
export RUSTC_BOOTSTRAP=1
# Its own target directory: the coverage flags rebuild every dependency, and sharing the
# services' would throw their build away on every switch.
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/fuzz
# No sanitizer: our code forbids `unsafe`, so what we hunt is panics, aborts and stack
# overflows, which libFuzzer catches by itself, at twice AddressSanitizer's speed. Debug
# assertions on, so an arithmetic overflow is a crash too.
# Sixteen codegen units: the optimized build of every dependency takes minutes, not tens of
# minutes, on two cores, for slightly slower fuzzing.
FUZZ_FLAGS=(--fuzz-dir "$FUZZ_DIR" --sanitizer none --debug-assertions --codegen-units 16
  --target-dir "$TARGET_DIR")

cd "$ROOT"
if [[ ${1:-} == --replay ]]; then
  exec cargo fuzz run "${FUZZ_FLAGS[@]}" "$2" "$3"
fi

seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || {
  echo "fuzz/run.sh: SECONDS must be a whole number, not '$seconds'" >&2
  exit 2
}
"$FUZZ_DIR/seed.sh"
cargo fuzz build "${FUZZ_FLAGS[@]}"
for target in "${TARGETS[@]}"; do
  echo "fuzz/run.sh: $target for ${seconds}s"
  log=$(mktemp)
  # -timeout: one input taking 10 s is a hang, reported like a crash; -rss_limit_mb keeps a
  # runaway allocation from taking the shared machine's memory.
  if ! cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    tail -n 60 "$log"
    rm -f "$log"
    echo "fuzz/run.sh: $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  corpus=$(find "$FUZZ_DIR/corpus/$target" -type f | wc -l)
  echo "fuzz/run.sh: $target ok: ${runs:-?} inputs in ${seconds}s, corpus of $corpus"
  rm -f "$log"
done
