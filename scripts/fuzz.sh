#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECONDS each, default 60), starting
# from the committed seeds, and fails on any crash. Installs cargo-fuzz if it is missing.
# cargo-fuzz needs nightly compiler features; this uses the stable toolchain with
# RUSTC_BOOTSTRAP=1. Crash inputs land in fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -O
status=0
for t in "${targets[@]}"; do
  corpus=target/corpus/$t
  mkdir -p "$corpus"
  log=target/fuzz-$t.log
  if cargo fuzz run -O "$t" "$corpus" "seeds/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz: $t: ok, ${runs:-?} execs in ${SECONDS_EACH}s, corpus $(ls "$corpus" | wc -l)"
  else
    echo "fuzz: $t: FAILED (log: fuzz/$log)"
    tail -40 "$log"
    status=1
  fi
done
exit $status
