#!/usr/bin/env bash
# oyez-tokio's WebSocket next to tokio-tungstenite's, end to end, in the same run: the load
# tool (ws-load, core 1) against peer_oyez_tokio and peer_tungstenite (core 0), the same
# routes and the same user-level code shape, alternating, a fresh server process per run.
#
#   bash scripts/bench-tokio.sh                      # 3 runs per size and peer, 5 s each
#   BENCH_RUNS=1 BENCH_SECONDS=2 bash scripts/bench-tokio.sh
#
# Prints, per message size (20 B and 16 KiB, 100 connections, depth 1), the median msgs/s
# and msgs per server CPU-second of each peer and their ratio; every run's JSON goes to
# target/bench-tokio/. Run it on a quiet machine: numbers taken while others build are noise.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
PORT=${BENCH_PORT:-19604}
OUT=target/bench-tokio
mkdir -p "$OUT"
cargo build --release --locked -p oyez-benches --bin ws-load --example peer_oyez_tokio --example peer_tungstenite
T=target/release
rm -f "$OUT"/*.json
for run in $(seq "$RUNS"); do
  for size in 20 16384; do
    for peer in peer_oyez_tokio peer_tungstenite; do
      PORT=$PORT taskset -c 0 "$T/examples/$peer" &
      pid=$!
      for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
      taskset -c 1 "$T/ws-load" echo --url "ws://127.0.0.1:$PORT/echo" --connections 100 --size "$size" \
        --depth 1 --seconds "$SECS" --server-pid "$pid" > "$OUT/$peer-$size-$run.json"
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    done
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
def med(peer, size, key):
    vals = [json.load(open(f)).get(key, 0) for f in glob.glob(os.path.join(out, f"{peer}-{size}-*.json"))]
    return statistics.median(vals) if vals else 0
print("| echo, 100 connections | metric | oyez-tokio | tokio-tungstenite | ratio |")
print("| --- | --- | ---: | ---: | ---: |")
for size in (20, 16384):
    for key in ("msgs_per_s", "msgs_per_server_cpu_s"):
        a, b = med("peer_oyez_tokio", size, key), med("peer_tungstenite", size, key)
        print(f"| {size} B | {key} | {a:,.0f} | {b:,.0f} | {a / b if b else 0:.2f}x |")
PY
