#!/usr/bin/env bash
# make bench-scale: many joined sockets over several gateway instances on
# this host, messages posted through REST into random conversations, every
# delivery checked (t/bench/scale.mjs). Then the rooms-held comparison: one
# gateway holding few rooms, then many, messages into a few conversations;
# PostgreSQL's CPU per message for each.
# Environment: SCALE_SOCKETS (100000), SCALE_GATEWAYS (6), SCALE_RATE (1000),
# SCALE_SECONDS (30), ROOMS_FEW (200), ROOMS_MANY (5000), ROOMS_RATE (100),
# ROOMS_SECONDS (20), SCALE_PARTS (scale,rooms: which of the two to run).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || true
OUT=$ROOT/build/bench; mkdir -p "$OUT"

run_stack() { # GATEWAYS -> starts a private stack; sets DB, BASE, PORTS
  export MESSAGING_VAR=$ROOT/build/bench-scale-var
  scripts/stack.sh stop >/dev/null 2>&1 || true
  rm -rf "$MESSAGING_VAR"; mkdir -p "$MESSAGING_VAR"
  read -r HTTP_PORT WS_PORT < <(scripts/free-ports.sh 2)
  export MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT MESSAGING_SEED=0 MESSAGING_GATEWAYS=$1
  export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
  export MESSAGING_JWT_SECRET=$(openssl rand -hex 32)
  export MESSAGING_CONFIG=$MESSAGING_VAR/bench.conf
  # Sessions are not recovered in this benchmark (one socket, one session).
  printf 'log_level = warn\nws_max_connections = 20000\nrecovery_max_disconnection_ms = 0\n' >"$MESSAGING_CONFIG"
  scripts/stack.sh start >"$MESSAGING_VAR/start.log" 2>&1 || { cat "$MESSAGING_VAR/start.log" >&2; return 1; }
  DB=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
  BASE=http://127.0.0.1:$HTTP_PORT
  PORTS=$(seq -s, "$WS_PORT" "$((WS_PORT + $1 - 1))")
}
trap 'scripts/stack.sh stop >/dev/null 2>&1' EXIT
scale() { # SOCKETS GATEWAYS RATE SECONDS HOT
  (cd t && node bench/scale.mjs --db "$DB" --api "$BASE" --gateways "$PORTS" --secret "$MESSAGING_JWT_SECRET" \
     --sockets "$1" --rate "$3" --seconds "$4" --hot "$5" --addresses 8)
}

G=${SCALE_GATEWAYS:-6}
echo "bench-scale: ${SCALE_SOCKETS:-100000} sockets over $G gateways" >&2
parts=",${SCALE_PARTS:-scale,rooms},"
[[ $parts != *,scale,* ]] || { run_stack "$G" && scale "${SCALE_SOCKETS:-100000}" "$G" "${SCALE_RATE:-1000}" "${SCALE_SECONDS:-30}" 0 |
  sed 's/^{/{"bench":"scale",/' | tee "$OUT/scale.json"; }
[[ $parts != *,rooms,* ]] ||
for rooms in "${ROOMS_FEW:-200}" "${ROOMS_MANY:-5000}"; do
  echo "bench-scale: rooms held: $rooms on one gateway" >&2
  run_stack 1 && scale "$rooms" 1 "${ROOMS_RATE:-100}" "${ROOMS_SECONDS:-20}" 20 |
    sed "s/^{/{\"bench\":\"rooms-held\",\"rooms\":$rooms,/" | tee "$OUT/rooms-$rooms.json"
done
