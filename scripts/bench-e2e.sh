#!/usr/bin/env bash
# End-to-end comparison: the same load scenarios against ws-server, two peer servers
# (tokio-tungstenite and fastwebsockets) and the floor (the least an echo/relay server can do),
# all in benches/examples/peer_*.rs (BENCH_SERVERS picks some), server pinned to core 0
# and the load tool (ws-load) to core 1, a fresh server process per run. Prints a markdown
# ratio table for issue 7's bar; the raw JSON of every run is kept in $BENCH_OUT.
#
#   bash scripts/bench-e2e.sh                  # every scenario, 3 runs each (median), ~5 min
#   BENCH_RUNS=1 BENCH_SECONDS=2 bash scripts/bench-e2e.sh
#   BENCH_SCENARIOS="echo20 bcast" bash scripts/bench-e2e.sh
#
# Settings: BENCH_SECONDS (time bound per run, default 3), BENCH_RUNS (default 3),
# BENCH_BURST_RUNS (runs of the burst scenario, default 3 x BENCH_RUNS),
# BENCH_SCENARIOS (default: echo20 echo16k echo1m bcast burst idle; also bcast1k bcast1kz
# idlez, permessage-deflate's, which scripts/bench-deflate.sh compares with Node ws), BENCH_IDLE (idle
# connections, default 10000), BENCH_PORT (default 18900), BENCH_OUT (default
# target/bench-e2e), BENCH_SERVER_CPU / BENCH_LOAD_CPU (default 0 / 1).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
# The burst is one shot of about a quarter of a second: the noisiest scenario, so it gets
# more runs (its median is over these).
BURST_RUNS=${BENCH_BURST_RUNS:-$((RUNS * 3))}
SCENARIOS=${BENCH_SCENARIOS:-"echo20 echo16k echo1m bcast burst idle"}
IDLE=${BENCH_IDLE:-10000}
PORT=${BENCH_PORT:-18900}
OUT=${BENCH_OUT:-target/bench-e2e}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
SERVERS=${BENCH_SERVERS:-"ws-server fastwebsockets tokio-tungstenite floor"}
# shellcheck source=scripts/bench-scenarios.sh
. scripts/bench-scenarios.sh

echo "== building (release)" >&2
cargo build --release --locked -p oyez --bin ws-server >&2
cargo build --release --locked -p oyez-benches --bin ws-load \
    --example peer_tungstenite --example peer_fastwebsockets --example peer_floor >&2
BIN=${CARGO_TARGET_DIR:-target}/release

# Every connection is a file descriptor in the server and in the load tool.
need=$((IDLE + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    ulimit -Hn "$need" 2>/dev/null || true
    hard=$(ulimit -Hn)
fi
if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
    ulimit -n "$need"
else
    ulimit -n "$hard"
    IDLE=$((hard - 256))
    echo "!! ulimit -n is at most $hard here: idle runs with $IDLE connections" >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT"

start_server() { # name -> sets PID
    case $1 in
    ws-server) TINA4_WS_PORT=$PORT RUST_LOG=warn taskset -c "$SCPU" "$BIN/ws-server" 2>>"$OUT/server.log" & ;;
    fastwebsockets) PORT=$PORT taskset -c "$SCPU" "$BIN/examples/peer_fastwebsockets" 2>>"$OUT/server.log" & ;;
    tokio-tungstenite) PORT=$PORT taskset -c "$SCPU" "$BIN/examples/peer_tungstenite" 2>>"$OUT/server.log" & ;;
    floor) PORT=$PORT taskset -c "$SCPU" "$BIN/examples/peer_floor" 2>>"$OUT/server.log" & ;;
    esac
    PID=$!
    wait_listening "$1"
}

stop_server() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

for run in $(seq "$((RUNS > BURST_RUNS ? RUNS : BURST_RUNS))"); do
    for sc in $SCENARIOS; do
        if [ "$sc" = burst ]; then n=$BURST_RUNS; else n=$RUNS; fi
        [ "$run" -le "$n" ] || continue
        for srv in $SERVERS; do
            start_server "$srv"
            args=$(load "$sc")
            echo "== run $run/$n $sc on $srv: ws-load $args" >&2
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
    echo "command: BENCH_RUNS=$RUNS BENCH_BURST_RUNS=$BURST_RUNS BENCH_SECONDS=$SECS bash scripts/bench-e2e.sh (server on core $SCPU, ws-load on core $LCPU, median of $RUNS runs, $BURST_RUNS for the burst)"
} >"$OUT/machine.txt"

python3 - "$OUT" "$SCENARIOS" <<'PY'
import json, glob, os, statistics, sys

out, scenarios = sys.argv[1], sys.argv[2].split()
servers = ["ws-server", "fastwebsockets", "tokio-tungstenite", "floor"]

def runs(sc, srv):
    rs = []
    for p in sorted(glob.glob(os.path.join(out, f"{sc}.{srv}.*.json"))):
        try:
            with open(p) as f:
                rs.append(json.load(f))
        except (OSError, ValueError):
            pass
    return rs

def med(rs, key):
    xs = [r[key] for r in rs if isinstance(r.get(key), (int, float))]
    return statistics.median(xs) if xs else None

# scenario: (label, [(metric key, label, higher is better)], (bar peer, bar ratio) or None)
spec = {
    "echo20": ("echo, 100 connections x 20 B", [("msgs_per_server_cpu_s", "msgs per server CPU-s", True), ("msgs_per_s", "msgs/s", True), ("p99_us", "p99 us", False)], ("fastwebsockets", 1.2, "msgs_per_server_cpu_s")),
    "echo16k": ("echo, 100 x 16 KiB", [("msgs_per_s", "msgs/s", True), ("msgs_per_server_cpu_s", "msgs per server CPU-s", True), ("p99_us", "p99 us", False)], ("fastwebsockets", 1.2, "msgs_per_s")),
    "echo1m": ("echo, 10 x 1 MiB", [("mb_per_s", "MB/s", True), ("msgs_per_server_cpu_s", "msgs per server CPU-s", True), ("p99_us", "p99 us", False)], ("fastwebsockets", 1.5, "mb_per_s")),
    "bcast": ("broadcast, 1,000 subs x 64 B, 8 in flight", [("deliveries_per_s", "deliveries/s", True), ("deliveries_per_server_cpu_s", "deliveries per server CPU-s", True), ("p99_us", "p99 fan-out us", False), ("lost", "lost", False)], ("tokio-tungstenite", 3.6, "deliveries_per_s")),
    "burst": ("broadcast, one burst of 1,000 msgs to 1,000 subs", [("deliveries_per_s", "deliveries/s", True), ("deliveries_per_server_cpu_s", "deliveries per server CPU-s", True), ("p99_us", "p99 fan-out us", False), ("lost", "lost", False)], ("tokio-tungstenite", 1.5, "deliveries_per_s")),
    "idle": ("idle connections", [("server_bytes_per_conn", "server bytes per connection", False)], None),
    # permessage-deflate (the peers here do not negotiate it: see scripts/bench-deflate.sh for
    # the comparison with Node ws).
    "bcast1k": ("broadcast, 1,000 subs x 1 KiB JSON, 8 in flight", [("deliveries_per_s", "deliveries/s", True), ("deliveries_per_server_cpu_s", "deliveries per server CPU-s", True), ("wire_bytes_per_delivery", "wire bytes per delivery", False), ("lost", "lost", False)], None),
    "bcast1kz": ("the same, permessage-deflate offered", [("deliveries_per_s", "deliveries/s", True), ("deliveries_per_server_cpu_s", "deliveries per server CPU-s", True), ("wire_bytes_per_delivery", "wire bytes per delivery", False), ("lost", "lost", False)], None),
    "idlez": ("idle connections, permessage-deflate agreed", [("server_bytes_per_conn", "server bytes per connection", False)], None),
}

def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if x != int(x) else f"{int(x)}"

def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"

print(open(os.path.join(out, "machine.txt")).read())
print("| scenario | metric | ws-server | fastwebsockets | tokio-tungstenite | floor | ws / fws | ws / tt | server CPU per message, ws / floor | gen CPU util (ws / fws / tt / floor) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
bar_rows = []
for sc in scenarios:
    if sc not in spec:
        continue
    label, metrics, bar = spec[sc]
    data = {srv: runs(sc, srv) for srv in servers}
    gens = " / ".join(fmt(med(data[s], "gen_cpu_util")) for s in servers)
    # Server CPU per message relative to the floor's: the floor's messages per server
    # CPU-second over ours.
    per_cpu = next((k for k, _, _ in metrics if k.endswith("_per_server_cpu_s")), None)
    floor_ratio = ratio(med(data["floor"], per_cpu), med(data["ws-server"], per_cpu)) if per_cpu else "-"
    for i, (key, mlabel, _) in enumerate(metrics):
        v = [med(data[s], key) for s in servers]
        print(f"| {label if i == 0 else ''} | {mlabel} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} | {fmt(v[3])} | {ratio(v[0], v[1])} | {ratio(v[0], v[2])} | {floor_ratio if i == 0 else ''} | {gens if i == 0 else ''} |")
    if sc == "idle":
        v = med(data["ws-server"], "server_bytes_per_conn")
        bar_rows.append((label, "<= 512 bytes per connection", fmt(v), "met" if v is not None and v <= 512 else "missed"))
    elif bar:
        peer, need, key = bar
        a, b = med(data["ws-server"], key), med(data[peer], key)
        r = a / b if a and b else None
        ok = r is not None and r >= need
        note = ""
        if sc == "bcast":
            pa, pb = med(data["ws-server"], "p99_us"), med(data[peer], "p99_us")
            lost = med(data["ws-server"], "lost")
            ok = ok and pa is not None and pb is not None and pa < pb and lost == 0
            note = f", p99 {fmt(pa)} vs {fmt(pb)} us, lost {fmt(lost)}"
        bar_rows.append((label, f">= {need}x {peer}", (f"{r:.2f}x" if r else "-") + note, "met" if ok else "missed"))

print()
print("| bar | target | measured | |")
print("| --- | --- | --- | --- |")
for row in bar_rows:
    print("| " + " | ".join(row) + " |")
PY
