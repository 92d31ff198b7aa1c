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
# Targets run FUZZ_JOBS at a time (default: one per core; each is one single-threaded
# libFuzzer process); the results print in target order once all are done.
jobs_max=${FUZZ_JOBS:-$(nproc)}
run_one() {
  local t=$1 corpus=target/corpus/$1 log=target/fuzz-$1.log
  mkdir -p "$corpus"
  if cargo fuzz run -O "$t" "$corpus" "seeds/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz: $t: ok, ${runs:-?} execs in ${SECONDS_EACH}s, corpus $(ls "$corpus" | wc -l)" >"target/fuzz-$t.result"
  else
    echo "fuzz: $t: FAILED (log: fuzz/$log)" >"target/fuzz-$t.result"
  fi
}
for t in "${targets[@]}"; do
  rm -f "target/fuzz-$t.result"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_one "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
  if [ -f "target/fuzz-$t.result" ] && grep -q ': ok,' "target/fuzz-$t.result"; then
    cat "target/fuzz-$t.result"
  else
    cat "target/fuzz-$t.result" 2>/dev/null || echo "fuzz: $t: no result"
    tail -40 "target/fuzz-$t.log"
    status=1
  fi
done
exit $status
