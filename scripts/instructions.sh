#!/usr/bin/env bash
# User-space instructions per message, counted by valgrind's callgrind: deterministic for one
# binary and one input, so they judge a hot-path change where the machine's noise hides it.
#
# Each server runs under `valgrind --tool=callgrind` twice per workload: once with a fixed
# load from ws-load (N connections, M messages of S bytes; the load tool itself runs natively,
# pinned to another core), once with the same connections and fewer messages; the difference
# over the difference in messages (deliveries, for a broadcast) is the instruction count of
# one message with the cost of connecting, the handshake and closing taken out. glibc's
# `rep movsb`/`rep stosb` are turned off (GLIBC_TUNABLES) so that copies are counted as the
# instructions they are.
#
#   bash scripts/instructions.sh                          # every server, every workload
#   INSTR_SERVERS="ws-server floor" INSTR_WORKLOADS=echo20 bash scripts/instructions.sh
#
# Servers: ws-server (one shard: TINA4_WS_SHARDS=1), fastwebsockets, tokio-tungstenite, floor
# (benches/examples/peer_*.rs). Workloads: echo20, echo16k (100 connections, one message in
# flight each), bcast20, bcast16k (a broadcast to 100 subscribers, 8 in flight). Env:
# INSTR_MESSAGES (echo messages, default 20000), INSTR_BCAST (broadcast messages, default
# 400), INSTR_PORT (default 19700), INSTR_OUT (default target/instructions), INSTR_SERVER_BIN
# (another ws-server binary to count, e.g. an earlier build, instead of this tree's).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${INSTR_SERVERS:-"ws-server fastwebsockets tokio-tungstenite floor"}
WORKLOADS=${INSTR_WORKLOADS:-"echo20 echo16k bcast20 bcast16k"}
MESSAGES=${INSTR_MESSAGES:-20000}
BCAST=${INSTR_BCAST:-400}
PORT=${INSTR_PORT:-19700}
OUT=${INSTR_OUT:-target/instructions}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install -y valgrind)" >&2; exit 1; }

cargo build --release --locked -p oyez --bin ws-server >&2
cargo build --release --locked -p oyez-benches --bin ws-load \
    --example peer_tungstenite --example peer_fastwebsockets --example peer_floor >&2
BIN=${CARGO_TARGET_DIR:-target}/release
WS_SERVER=${INSTR_SERVER_BIN:-$BIN/ws-server}
rm -rf "$OUT"
mkdir -p "$OUT"
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295:glibc.cpu.x86_rep_stosb_threshold=4294967295

# shellcheck source=scripts/bench-scenarios.sh
. scripts/bench-scenarios.sh

count() { # server workload messages -> prints "instructions deliveries"
    local srv=$1 wl=$2 msgs=$3 tag=$1.$2.$3
    local cg=(valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.cg" --dump-instr=no)
    case $srv in
    ws-server) TINA4_WS_PORT=$PORT TINA4_WS_SHARDS=1 RUST_LOG=warn taskset -c 0 "${cg[@]}" "$WS_SERVER" 2>"$OUT/$tag.log" & ;;
    fastwebsockets) PORT=$PORT taskset -c 0 "${cg[@]}" "$BIN/examples/peer_fastwebsockets" 2>"$OUT/$tag.log" & ;;
    tokio-tungstenite) PORT=$PORT taskset -c 0 "${cg[@]}" "$BIN/examples/peer_tungstenite" 2>"$OUT/$tag.log" & ;;
    floor) PORT=$PORT taskset -c 0 "${cg[@]}" "$BIN/examples/peer_floor" 2>"$OUT/$tag.log" & ;;
    esac
    local pid=$!
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    local url=ws://127.0.0.1:$PORT args
    case $wl in
    echo20) args="echo --url $url/echo --connections 100 --size 20 --depth 1" ;;
    echo16k) args="echo --url $url/echo --connections 100 --size 16384 --depth 1" ;;
    bcast20) args="broadcast --url $url/all --subscribers 100 --size 20 --window 8" ;;
    bcast16k) args="broadcast --url $url/all --subscribers 100 --size 16384 --window 8" ;;
    esac
    # shellcheck disable=SC2086
    taskset -c 1 "$BIN/ws-load" $args --messages "$msgs" --seconds 600 >"$OUT/$tag.json" 2>>"$OUT/load.log"
    sleep 0.5
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local ir
    ir=$(grep -m1 -E '^(summary|totals):' "$OUT/$tag.cg" | awk '{print $2}')
    python3 - "$OUT/$tag.json" "$ir" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ir = int(sys.argv[2])
if r["scenario"] == "echo":
    work = r["received"]
else:
    work = (r["sent"] + r.get("probes", 0)) * r["subscribers"]
print(ir, work)
PY
}

printf '| server | workload | instructions per message (delivery) | runs: instructions / messages |\n'
printf '| --- | --- | ---: | --- |\n'
for wl in $WORKLOADS; do
    case $wl in echo*) hi=$MESSAGES ;; *) hi=$BCAST ;; esac
    lo=$((hi / 4))
    for srv in $SERVERS; do
        read -r ir_lo w_lo < <(count "$srv" "$wl" "$lo")
        read -r ir_hi w_hi < <(count "$srv" "$wl" "$hi")
        per=$(python3 -c "print(f'{($ir_hi - $ir_lo) / max(1, $w_hi - $w_lo):,.0f}')")
        printf '| %s | %s | %s | %s / %s, %s / %s |\n' "$srv" "$wl" "$per" "$ir_lo" "$w_lo" "$ir_hi" "$w_hi"
    done
done
