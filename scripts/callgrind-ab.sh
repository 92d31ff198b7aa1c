#!/usr/bin/env bash
# Instructions per message of two ws-server binaries (say, with and without the metrics
# feature), counted by valgrind's callgrind on the server (one shard), deterministic where a
# timed benchmark on a shared machine is not. Each binary serves a short and a long run of
# the same load; the difference between them, divided by the difference in messages, is the
# cost per message with start and shutdown cancelled out. Three runs of each; the medians.
#
#   cargo build --release -p oyez && cp target/release/ws-server /tmp/ws-on
#   cargo build --release -p oyez --no-default-features && cp target/release/ws-server /tmp/ws-off
#   bash scripts/callgrind-ab.sh /tmp/ws-off /tmp/ws-on
#
# Settings: CG_PORT (18931), CG_RUNS (3), CG_OUT (target/callgrind-ab).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 A_BINARY B_BINARY" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
PORT=${CG_PORT:-18931}
RUNS=${CG_RUNS:-3}
OUT=${CG_OUT:-target/callgrind-ab}
cargo build --release --locked -p oyez-benches --bin ws-load >&2
LOADER=${CARGO_TARGET_DIR:-target}/release/ws-load
mkdir -p "$OUT"
U=ws://127.0.0.1:$PORT

# one BINARY NAME LOAD-ARGS...: the server under callgrind, the load, SIGTERM; prints the Ir.
one() {
    local bin=$1 name=$2
    shift 2
    TINA4_WS_PORT=$PORT TINA4_WS_SHARDS=1 RUST_LOG=error valgrind --tool=callgrind \
        --callgrind-out-file="$OUT/$name.cg" "$bin" 2>"$OUT/$name.vg" &
    local pid=$!
    for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
    "$LOADER" "$@" >"$OUT/$name.json" 2>/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    awk '/^(summary|totals):/ {print $2; exit}' "$OUT/$name.cg"
}

echo "| load | A Ir/msg (median) | B Ir/msg (median) | B - A | B / A |"
echo "| --- | ---: | ---: | ---: | ---: |"
for load in echo broadcast; do
    if [ $load = echo ]; then
        small=5000 large=25000 per=1
        args() { echo "echo --url $U/echo --connections 10 --size 20 --depth 1 --messages $1 --seconds 120"; }
    else
        small=500 large=2500 per=100
        args() { echo "broadcast --url $U/all --subscribers 100 --size 64 --window 8 --messages $1 --seconds 120"; }
    fi
    declare -A cost=()
    for side in A B; do
        bin=$A
        [ $side = B ] && bin=$B
        list=()
        for run in $(seq "$RUNS"); do
            # shellcheck disable=SC2046
            s=$(one "$bin" "$load-$side-small-$run" $(args $small))
            # shellcheck disable=SC2046
            l=$(one "$bin" "$load-$side-large-$run" $(args $large))
            list+=("$(python3 -c "print(($l - $s) / (($large - $small) * $per))")")
        done
        cost[$side]=$(printf '%s\n' "${list[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    done
    python3 -c "a, b = ${cost[A]}, ${cost[B]}; print(f'| {\"$load\"} (per {\"delivery\" if $per > 1 else \"message\"}) | {a:,.1f} | {b:,.1f} | {b - a:+,.1f} | {b / a:.4f} |')"
done
