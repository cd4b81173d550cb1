#!/usr/bin/env bash
# make bench-idle: the gateway's CPU while it holds N idle WebSocket sessions
# (Engine.IO pings only), with each event loop (ws_event_loop = uv, then
# poll), the same build, one after the other. Prints one JSON line per loop.
# Environment: IDLE_SOCKETS (10000), IDLE_HOLD_S (20), IDLE_PING_MS (25000).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
N=${IDLE_SOCKETS:-10000} HOLD=${IDLE_HOLD_S:-20} PING=${IDLE_PING_MS:-25000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/messaging-idle.XXXXXX")
trap 'rm -rf "$dir"' EXIT
ulimit -n 65536 2>/dev/null || true
for loop in uv poll; do
  read -r port < <(scripts/free-ports.sh 1)
  printf 'log_level = warn\nws_event_loop = %s\nws_ping_interval_ms = %s\nws_connect_timeout_ms = 3600000\n' \
    "$loop" "$PING" >"$dir/$loop.conf"
  # No database: idle sessions need none (the gateway keeps retrying it, at most every 5 s).
  MESSAGING_CONFIG=$dir/$loop.conf MESSAGING_JWT_SECRET=$(openssl rand -hex 32) \
    MESSAGING_DATABASE_URL="postgresql://127.0.0.1:1/none?connect_timeout=1" \
    ws-gateway/messaging-gateway --port "$port" --host 127.0.0.1 >"$dir/$loop.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
  # Client sockets over several loopback addresses (one address holds ~28,000).
  (cd t && node bench/idle.mjs "$port" "$N" "$HOLD" "$pid" 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4) |
    sed "s/^{/{\"loop\":\"$loop\",\"sockets\":$N,/"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null
done
