#!/usr/bin/env bash
# A/B of two ws-server binaries (say, before and after a change) on the end-to-end scenarios,
# in alternating runs (A, B, A, B, ...) so that the machine's drift falls on both: server
# pinned to core 0, the load tool to core 1, a fresh server process per run. Prints the
# median of each metric for A and B and B/A.
#
#   bash scripts/bench-ab.sh OLD_BINARY NEW_BINARY
#   BENCH_RUNS=5 BENCH_SCENARIOS="echo20 bcast" bash scripts/bench-ab.sh a/ws-server b/ws-server
#
# Settings as bench-e2e.sh: BENCH_SECONDS (3), BENCH_RUNS (pairs per scenario, 5),
# BENCH_SCENARIOS (echo20 echo16k echo1m bcast burst idle), BENCH_IDLE (10000),
# BENCH_PORT (18950), BENCH_OUT (target/bench-ab), BENCH_SERVER_CPU / BENCH_LOAD_CPU (0 / 1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 A_BINARY B_BINARY" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-5}
SCENARIOS=${BENCH_SCENARIOS:-"echo20 echo16k echo1m bcast burst idle"}
IDLE=${BENCH_IDLE:-10000}
PORT=${BENCH_PORT:-18950}
OUT=${BENCH_OUT:-target/bench-ab}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
# shellcheck source=scripts/bench-scenarios.sh
. scripts/bench-scenarios.sh

cargo build --release --locked -p oyez-benches --bin ws-load >&2
LOADER=${CARGO_TARGET_DIR:-target}/release/ws-load
ulimit -n "$((IDLE + 256))" 2>/dev/null || IDLE=$(($(ulimit -n) - 256))
rm -rf "$OUT"
mkdir -p "$OUT"
for sc in $SCENARIOS; do
    for run in $(seq "$RUNS"); do
        for side in A B; do
            bin=$A
            [ $side = B ] && bin=$B
            TINA4_WS_PORT=$PORT RUST_LOG=warn taskset -c "$SCPU" "$bin" 2>>"$OUT/server.log" &
            PID=$!
            wait_listening "$side"
            # shellcheck disable=SC2046
            taskset -c "$LCPU" "$LOADER" $(load "$sc") --server-pid "$PID" \
                >"$OUT/$sc.$side.$run.json" 2>>"$OUT/load.log" || rm -f "$OUT/$sc.$side.$run.json"
            kill "$PID" 2>/dev/null || true
            wait "$PID" 2>/dev/null || true
        done
    done
done

python3 - "$OUT" "$SCENARIOS" "$A" "$B" <<'PY'
import glob, json, os, statistics, sys
out, scenarios, a, b = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
keys = ["msgs_per_s", "msgs_per_server_cpu_s", "mb_per_s", "deliveries_per_s",
        "deliveries_per_server_cpu_s", "p99_us", "lost", "server_bytes_per_conn", "gen_cpu_util"]
print(f"A = {a}\nB = {b}\n")
print("| scenario | metric | A (median) | B (median) | B / A | B > A in pairs |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for sc in scenarios:
    runs = {s: {} for s in "AB"}
    for s in "AB":
        for p in glob.glob(os.path.join(out, f"{sc}.{s}.*.json")):
            try:
                runs[s][p.rsplit(".", 2)[1]] = json.load(open(p))
            except (OSError, ValueError):
                pass
    for k in keys:
        xa = [r[k] for r in runs["A"].values() if isinstance(r.get(k), (int, float))]
        xb = [r[k] for r in runs["B"].values() if isinstance(r.get(k), (int, float))]
        if not xa or not xb:
            continue
        ma, mb = statistics.median(xa), statistics.median(xb)
        pairs = [(runs["A"][n][k], runs["B"][n][k]) for n in runs["A"] if n in runs["B"]]
        wins = sum(1 for x, y in pairs if y > x)
        ratio = f"{mb / ma:.3f}" if ma else "-"
        print(f"| {sc} | {k} | {ma:,.2f} | {mb:,.2f} | {ratio} | {wins}/{len(pairs)} |")
PY
