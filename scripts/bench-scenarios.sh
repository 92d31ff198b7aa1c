# The load scenarios of the end-to-end benchmarks, sourced by bench-e2e.sh and bench-ab.sh.
# load SCENARIO -> the ws-load arguments for it, against a server on 127.0.0.1:$PORT, each run
# bounded by $SECS seconds ($IDLE connections for idle).
load() {
    local url="ws://127.0.0.1:$PORT"
    case $1 in
    echo20) echo "echo --url $url/echo --connections 100 --size 20 --depth 1 --seconds $SECS" ;;
    echo16k) echo "echo --url $url/echo --connections 100 --size 16384 --depth 1 --seconds $SECS" ;;
    echo1m) echo "echo --url $url/echo --connections 10 --size 1048576 --depth 1 --seconds $SECS" ;;
    bcast) echo "broadcast --url $url/all --subscribers 1000 --size 64 --window 8 --seconds $SECS" ;;
    burst) echo "broadcast --url $url/all --subscribers 1000 --size 64 --burst 1000 --seconds $SECS" ;;
    idle) echo "idle --url $url/echo --connections $IDLE --sources 50 --settle-ms 1000" ;;
    # permessage-deflate (scripts/bench-deflate.sh): 1 KiB chat JSON to 1,000 subscribers,
    # windowed as bcast, offered (z) or not; 10 subscribers inflate and check every delivery,
    # the others count them by their frames. Idle connections that agreed it.
    bcast1k) echo "broadcast --url $url/all --subscribers 1000 --size 1024 --payload json --window 8 --seconds $SECS" ;;
    bcast1kz) echo "broadcast --url $url/all --subscribers 1000 --size 1024 --payload json --window 8 --deflate on --sample 10 --seconds $SECS" ;;
    idlez) echo "idle --url $url/echo --connections $IDLE --sources 50 --settle-ms 1000 --deflate on" ;;
    *) echo "unknown scenario $1" >&2; return 1 ;;
    esac
}

# wait_listening NAME: waits until something listens on $PORT (10 s at most).
wait_listening() {
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "!! $1 did not start listening on $PORT" >&2
    return 1
}
