#!/usr/bin/env bash
# Makes sure the brokers the tests talk to are installed and answering on loopback:
# Redis on 127.0.0.1:6379 and NATS on 127.0.0.1:4222. Idempotent: a running broker is left alone.
# Tests that kill or restart a broker start their own on another port; this script never stops one.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*" >&2; }

redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
nats_up() (
  # A NATS server greets every new connection with an INFO line. (A subshell, so the
  # descriptor and the silenced stderr of `exec` stay local.)
  exec 2>/dev/null 3<>/dev/tcp/127.0.0.1/4222 || exit 1
  IFS= read -r -t 2 line <&3 || true
  [[ "$line" == INFO* ]]
)

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nats-server >/dev/null || need+=(nats-server)
if [ ${#need[@]} -gt 0 ] && ! { redis_up && nats_up; }; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! redis_up; then
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
if ! nats_up; then
  log "starting nats-server on 127.0.0.1:4222"
  nohup nats-server -a 127.0.0.1 -p 4222 >/tmp/ws-stack-nats.log 2>&1 &
fi

for _ in $(seq 1 100); do
  if redis_up && nats_up; then
    log "redis and nats are answering"
    exit 0
  fi
  sleep 0.1
done
redis_up || log "redis is not answering on 127.0.0.1:6379"
nats_up || log "nats is not answering on 127.0.0.1:4222"
exit 1
