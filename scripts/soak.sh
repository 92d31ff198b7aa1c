#!/usr/bin/env bash
# The soak: two ws-server instances on a Redis and a NATS of their own (Tina4 backplane on
# Redis, the mega cluster and its shared roster on NATS), driven by `ws-load soak`: thousands
# of connections that keep connecting, joining rooms and sessions, sending and leaving (clean
# closes, dropped TCP, resets) while publishers broadcast to a room of connections that stay.
# It fails unless nothing was lost, duplicated or reordered for the connections that stayed,
# and both servers came back to their baseline (connections, registry sizes, roster,
# descriptors). The report (one JSON object) goes to stdout and to $SOAK_OUT/report.json.
#
#   bash scripts/soak.sh                       # 60 s (what CI runs)
#   SOAK_SECONDS=600 bash scripts/soak.sh      # ten minutes
#
# The servers' roster ttl is 10 s and they get 8 s to come back: a session that left must be
# removed from the other server's roster, not expire there.
#
# Settings: SOAK_SECONDS (60), SOAK_STAYERS (200), SOAK_CHURNERS (2000), SOAK_RATE (20 msgs/s
# per publisher), SOAK_OUT (target/soak), SOAK_BUILD (1: build release first; 0: use what is
# built). Its brokers listen on free ports of 127.0.0.1 and are stopped at the end; the
# shared ones on 6379 and 4222 are not used.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SOAK_SECONDS:-60}
STAYERS=${SOAK_STAYERS:-200}
CHURNERS=${SOAK_CHURNERS:-2000}
RATE=${SOAK_RATE:-20}
OUT=${SOAK_OUT:-target/soak}
TARGET=${CARGO_TARGET_DIR:-target}
log() { printf 'soak: %s\n' "$*" >&2; }

command -v redis-server >/dev/null && command -v nats-server >/dev/null || bash scripts/ensure-services.sh
if [ "${SOAK_BUILD:-1}" = 1 ]; then
    log "building ws-server and ws-load (release)"
    cargo build --release --locked -p oyez --bin ws-server >&2
    cargo build --release --locked -p oyez-benches --bin ws-load >&2
fi
SERVER=$TARGET/release/ws-server
LOADER=$TARGET/release/ws-load
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -rf "$OUT"
mkdir -p "$OUT"

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r REDIS_PORT NATS_PORT WS1 WS2 M1 M2 <<<"$(free_ports 6)"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$OUT/nats.log" 2>&1 &
PIDS+=($!)
wait_port() {
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    log "nothing listens on $1 ($2)"
    return 1
}
wait_port "$REDIS_PORT" redis
wait_port "$NATS_PORT" nats

start() { # PORT METRICS_PORT NAME
    TINA4_WS_PORT=$1 WS_METRICS_ADDR=127.0.0.1:$2 \
        TINA4_WS_BACKPLANE=redis TINA4_WS_BACKPLANE_URL=redis://127.0.0.1:$REDIS_PORT \
        MEGA_WS_CLUSTER_URL=nats://127.0.0.1:$NATS_PORT MEGA_WS_APP=soak MEGA_WS_ROSTER=nats \
        MEGA_WS_ROSTER_TTL_MS=10000 RUST_LOG=warn "$SERVER" 2>"$OUT/$3.log" &
    PIDS+=($!)
}
start "$WS1" "$M1" server1
P1=${PIDS[-1]}
start "$WS2" "$M2" server2
P2=${PIDS[-1]}
wait_port "$WS1" server1
wait_port "$WS2" server2
wait_port "$M1" "server1 metrics"
wait_port "$M2" "server2 metrics"
# The roster's first heartbeats and the subscriptions settle before the baseline is read.
sleep 1

log "running ${SECS}s: $STAYERS stayers, $CHURNERS churners, $RATE msgs/s per publisher"
status=0
"$LOADER" soak --urls "ws://127.0.0.1:$WS1,ws://127.0.0.1:$WS2" \
    --metrics "127.0.0.1:$M1,127.0.0.1:$M2" --server-pids "$P1,$P2" \
    --stayers "$STAYERS" --churners "$CHURNERS" --rate "$RATE" --seconds "$SECS" --settle-s 8 \
    >"$OUT/report.json" 2>"$OUT/load.log" || status=$?
cat "$OUT/report.json"
python3 - "$OUT/report.json" <<'PY' >&2 || true
import json, sys
r = json.load(open(sys.argv[1]))
print(f"soak: ok={r['ok']} {r['seconds']}s churn={r['churn_connects']} ({r['churn_connects_per_s']}/s, "
      f"errors {r['churn_errors']}) published={r['published']} deliveries={r['stayer_deliveries']} "
      f"lost={r['lost']} dup={r['duplicated']} reordered={r['reordered']} settle={r['settle_s']}s")
for i, s in enumerate(r["servers"]):
    b, m, e = s["baseline"], s["max"], s["end"]
    print(f"soak: server{i + 1}: back={s['back_to_baseline']} rss {b['rss'] >> 20}->{m['rss'] >> 20}->{e['rss'] >> 20} MiB, "
          f"fds {b['fds']}->{m['fds']}->{e['fds']}, conns max {m['connections']}, paths max {m['paths']}, "
          f"rooms max {m['rooms']}, users max {m['users']}, roster max {m['roster']} -> end {e['roster']}")
PY
[ -s "$OUT/report.json" ] || { log "no report; the load tool said:"; cat "$OUT/load.log" >&2; }
exit "$status"
