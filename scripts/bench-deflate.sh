#!/usr/bin/env bash
# permessage-deflate end to end: the windowed broadcast of 1 KiB chat JSON to 1,000
# subscribers, uncompressed (bcast1k: the subscribers do not offer it) and compressed
# (bcast1kz: they offer it as browsers do), against ws-server and against Node `ws`
# (interop/node/bench/peer-ws.js, perMessageDeflate on with ws's defaults for bcast1kz, off
# for bcast1k); then idle memory at $BENCH_IDLE connections that agreed it (idlez, ws-server
# only). Server pinned to core 0, ws-load to core 1, a fresh server per run, the median of
# the runs. In bcast1kz only 10 subscribers inflate and check every delivery; the others
# count compressed deliveries by their frames (a generator that inflated all of them would
# saturate its own core long before the server).
#
#   bash scripts/bench-deflate.sh                           # 3 runs each, about 3 minutes
#   BENCH_RUNS=1 BENCH_SECONDS=2 BENCH_IDLE=2000 bash scripts/bench-deflate.sh   # a smoke run
#
# Settings: BENCH_SECONDS (default 3), BENCH_RUNS (default 3), BENCH_IDLE (default 10000),
# BENCH_PORT (default 18950), BENCH_OUT (default target/bench-deflate), BENCH_SERVER_CPU /
# BENCH_LOAD_CPU (default 0 / 1), BENCH_NODE (default on; off skips Node ws).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
IDLE=${BENCH_IDLE:-10000}
PORT=${BENCH_PORT:-18950}
OUT=${BENCH_OUT:-target/bench-deflate}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
# shellcheck source=scripts/bench-scenarios.sh
. scripts/bench-scenarios.sh

echo "== building (release)" >&2
cargo build --release --locked -p oyez --bin ws-server >&2
cargo build --release --locked -p oyez-benches --bin ws-load >&2
BIN=${CARGO_TARGET_DIR:-target}/release
SERVERS="ws-server"
if [ "${BENCH_NODE:-on}" = on ]; then
    command -v node >/dev/null || { echo "!! node is missing (BENCH_NODE=off to skip Node ws)" >&2; exit 1; }
    [ -d interop/node/node_modules/ws ] || (cd interop/node && npm ci --no-audit --no-fund --loglevel=error) >&2
    SERVERS="ws-server node-ws"
fi

need=$((IDLE + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    ulimit -Hn "$need" 2>/dev/null || true
    hard=$(ulimit -Hn)
fi
if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then ulimit -n "$need"; else ulimit -n "$hard"; IDLE=$((hard - 256)); fi

rm -rf "$OUT"
mkdir -p "$OUT"

start_server() { # name scenario -> sets PID
    local deflate=off
    case $2 in *z) deflate=on ;; esac
    case $1 in
    ws-server) TINA4_WS_PORT=$PORT RUST_LOG=warn taskset -c "$SCPU" "$BIN/ws-server" 2>>"$OUT/server.log" & ;;
    node-ws) PORT=$PORT DEFLATE=$deflate taskset -c "$SCPU" node interop/node/bench/peer-ws.js 2>>"$OUT/server.log" & ;;
    esac
    PID=$!
    wait_listening "$1"
}

stop_server() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

for run in $(seq "$RUNS"); do
    for sc in bcast1k bcast1kz idlez; do
        for srv in $SERVERS; do
            [ "$sc" = idlez ] && [ "$srv" != ws-server ] && continue
            start_server "$srv" "$sc"
            args=$(load "$sc")
            echo "== run $run/$RUNS $sc on $srv: ws-load $args" >&2
            # shellcheck disable=SC2086
            if ! taskset -c "$LCPU" "$BIN/ws-load" $args --server-pid "$PID" \
                >"$OUT/$sc.$srv.$run.json" 2>>"$OUT/load.log"; then
                echo "!! $sc on $srv failed (see $OUT/load.log)" >&2
                rm -f "$OUT/$sc.$srv.$run.json"
            fi
            stop_server
        done
    done
done

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command: BENCH_RUNS=$RUNS BENCH_SECONDS=$SECS BENCH_IDLE=$IDLE bash scripts/bench-deflate.sh (server on core $SCPU, ws-load on core $LCPU, median of $RUNS runs)"
} >"$OUT/machine.txt"

python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys

out = sys.argv[1]

def med(sc, srv, key):
    xs = []
    for p in glob.glob(os.path.join(out, f"{sc}.{srv}.*.json")):
        try:
            v = json.load(open(p)).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(v, (int, float)):
            xs.append(v)
    return statistics.median(xs) if xs else None

def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"

print(open(os.path.join(out, "machine.txt")).read())
print("| server | messages | deliveries/s | vs ws-server uncompressed | server CPU util | deliveries per server CPU-s | wire bytes per delivery | vs raw deflate | lost | gen CPU util |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
base = med("bcast1k", "ws-server", "deliveries_per_s")
for srv in ["ws-server", "node-ws"]:
    for sc, label in [("bcast1k", "1 KiB JSON, plain"), ("bcast1kz", "1 KiB JSON, permessage-deflate")]:
        d = med(sc, srv, "deliveries_per_s")
        if d is None:
            continue
        ratio = f"{d / base:.2f}x" if base else "-"
        vs = med(sc, srv, "vs_raw_deflate")
        print(f"| {srv} | {label} | {fmt(d)} | {ratio} | {fmt(med(sc, srv, 'server_cpu_util'), 2)} | "
              f"{fmt(med(sc, srv, 'deliveries_per_server_cpu_s'))} | {fmt(med(sc, srv, 'wire_bytes_per_delivery'), 1)} | "
              f"{fmt(vs, 3) if vs is not None else '-'} | {fmt(med(sc, srv, 'lost'))} | {fmt(med(sc, srv, 'gen_cpu_util'), 2)} |")
idle = med("idlez", "ws-server", "server_bytes_per_conn")
agreed = med("idlez", "ws-server", "deflate_agreed")
print()
print(f"idle, {fmt(med('idlez', 'ws-server', 'connections'))} connections that agreed permessage-deflate ({fmt(agreed)} agreed): "
      f"{fmt(idle)} server bytes per connection")
print()
z, p = med("bcast1kz", "ws-server", "deliveries_per_s"), base
vs = med("bcast1kz", "ws-server", "vs_raw_deflate")
print("| bar | target | measured | |")
print("| --- | --- | --- | --- |")
if z and p:
    print(f"| compressed windowed broadcast | >= 0.8x our uncompressed deliveries/s | {z / p:.2f}x | {'met' if z / p >= 0.8 else 'missed'} |")
if idle is not None:
    print(f"| idle connection with the extension | < 1 KiB of server memory | {fmt(idle)} bytes | {'met' if idle < 1024 else 'missed'} |")
if vs is not None:
    print(f"| bytes on the wire | within 5 % of raw deflate, same level and window | {vs:.3f}x | {'met' if abs(vs - 1) <= 0.05 else 'missed'} |")
PY
