#!/usr/bin/env bash
# Autobahn 9.x (limits and performance: messages up to 16 MiB, 1 MiB in chops and fragments)
# against ws-server's /echo and the two peer echo servers (tokio-tungstenite and
# fastwebsockets, benches/examples/peer_*.rs), one after the other in the same run, and the
# total case duration of each (wstest's own timing). Not part of CI: a measurement.
#   bash scripts/autobahn-perf.sh        # env: AUTOBAHN_CASES (default 9.*), AUTOBAHN_ROUNDS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/autobahn-tools.sh
. "$ROOT/scripts/autobahn-tools.sh"
CASES=${AUTOBAHN_CASES:-9.*}
ROUNDS=${AUTOBAHN_ROUNDS:-1}
OUT=${AUTOBAHN_OUT:-$ROOT/target/autobahn-perf}
PREFIX=${AUTOBAHN_PREFIX:-/opt/autobahn-testsuite}
[ -x "$PREFIX/bin/wstest" ] || bash "$TOOLS/install.sh"
cargo build --release --locked -p oyez --bin ws-server >&2
cargo build --release --locked -p oyez-benches --example peer_tungstenite --example peer_fastwebsockets >&2
BIN=target/release
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$OUT"
for round in $(seq "$ROUNDS"); do
  for name in ws-server tokio-tungstenite fastwebsockets; do
    port=$(free_port)
    case $name in
      ws-server) TINA4_WS_PORT=$port RUST_LOG=warn "$BIN/ws-server" 2>"$OUT/$name.log" & ;;
      tokio-tungstenite) PORT=$port "$BIN/examples/peer_tungstenite" 2>"$OUT/$name.log" & ;;
      fastwebsockets) PORT=$port "$BIN/examples/peer_fastwebsockets" 2>"$OUT/$name.log" & ;;
    esac
    pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    OUT=$OUT/$name AGENT=$name TIMEOUT=900 bash "$TOOLS/run-server-suite.sh" "ws://127.0.0.1:$port/echo" "$CASES" "" >/dev/null 2>&1 || true
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    python3 - "$OUT/$name/reports/servers/index.json" "$name" "$round" <<'PY'
import json, sys
path, agent, rnd = sys.argv[1:]
r = json.load(open(path))[agent]
ok = sum(1 for c in r.values() if c["behavior"] in ("OK", "INFORMATIONAL", "UNIMPLEMENTED"))
total = sum(c.get("duration", 0) for c in r.values())
print(f"round {rnd}: {agent:18} {len(r)} cases, {ok} ok, total duration {total} ms")
PY
  done
done
