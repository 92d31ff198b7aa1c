#!/usr/bin/env bash
# Interop tests: clients that no one here wrote, against the real ws-server binary.
#   - headless Chromium (Debian's chromium, driven by playwright-core): the chat demo page and
#     the browser's own WebSocket, over ws:// and over wss:// (a test certificate made with
#     openssl, trusted by Chromium for itself alone); two instances on Redis and on NATS
#     sharing one chat;
#   - Node's `ws` client and Python's `websockets` client: echo (text, binary, fragmented),
#     rooms, paths, direct messages, pings, close codes and reasons, graceful shutdown.
# Installs what it needs (apt: chromium; npm ci in interop/node; pip: interop/python/
# requirements.txt into target/interop-venv) and fails, saying which, if an install fails.
# Output (server logs, screenshots): target/interop/. .ci/run calls this script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/interop
VENV=$ROOT/target/interop-venv

log() { printf 'interop: %s\n' "$*" >&2; }
die() {
  printf '\ninterop: FAILED: %s\n' "$*" >&2
  exit 1
}

# --- what the tests need -------------------------------------------------------------------
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  log "installing $* from Debian's packages"
  { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; } ||
    die "could not install $* with apt-get (run as root with the Debian package mirror reachable)"
}

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v openssl >/dev/null || apt_install openssl
[ -x "${CHROMIUM_BIN:=/usr/bin/chromium}" ] || apt_install chromium
[ -x "$CHROMIUM_BIN" ] || die "no Chromium at $CHROMIUM_BIN after installing chromium"
export CHROMIUM_BIN
log "$("$CHROMIUM_BIN" --version 2>/dev/null || echo 'chromium: version unknown'), node $(node --version)"

log "npm ci in interop/node (playwright-core and ws, as package-lock.json pins them)"
(cd interop/node && npm ci --no-audit --no-fund --loglevel=error) ||
  die "npm ci failed in interop/node: playwright-core and ws are not installed"

command -v python3 >/dev/null || apt_install python3 python3-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (Debian: apt-get install python3-venv)"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r interop/python/requirements.txt ||
  die "pip install -r interop/python/requirements.txt failed: websockets is not installed"

bash scripts/ensure-services.sh || die "Redis or NATS is not running on 127.0.0.1 (scripts/ensure-services.sh)"

# --- the server ------------------------------------------------------------------------------
log "building the ws-server binary (release)"
cargo build --release --locked -p oyez --bin ws-server
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export WS_SERVER_BIN=$TARGET/release/ws-server
[ -x "$WS_SERVER_BIN" ] || die "no binary at $WS_SERVER_BIN"

rm -rf "$OUT"
mkdir -p "$OUT"
export INTEROP_OUT=$OUT

# --- the clients -----------------------------------------------------------------------------
failed=()
log "node: ws client and Chromium (node --test)"
if ! (cd interop/node && timeout 600 node --test --test-concurrency=1 test/); then
  failed+=("node (ws, chromium)")
fi

log "python: websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"
if ! timeout 300 "$VENV/bin/python" interop/python/test_websockets.py; then
  failed+=("python (websockets)")
fi

# The screenshots are part of the result: the browser tests write them.
for shot in chat-browser.png chat-browser-signed.png chat-browser-wss.png chat-cluster-redis-instance1.png chat-cluster-redis-instance2.png \
  chat-cluster-nats-instance1.png chat-cluster-nats-instance2.png; do
  if [ -s "$OUT/$shot" ]; then
    log "screenshot: target/interop/$shot"
  else
    failed+=("screenshot $shot missing")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  die "$(IFS=';'; echo "${failed[*]}") (server logs in target/interop/)"
fi
log "every interop suite passed; screenshots and server logs in target/interop/"
