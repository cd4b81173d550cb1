#!/usr/bin/env bash
# Runs the whole stack: PostgreSQL (a private cluster under var/ unless
# MESSAGING_DATABASE_URL is set), the migrations, demo data, the FastCGI API,
# the gateway and nginx.
#
#   scripts/stack.sh run        start, then stay in the foreground; Ctrl-C stops all
#   scripts/stack.sh start      start in the background; returns once /api/health is 200
#   scripts/stack.sh stop       stop what start left running
#   scripts/stack.sh token ID   print a token for user ID
#
# Environment: MESSAGING_CONFIG (default conf/messaging.conf), MESSAGING_DATABASE_URL,
# MESSAGING_JWT_SECRET, MESSAGING_HTTP_PORT, MESSAGING_WS_PORT (API.md section 6);
# for tests: MESSAGING_VAR (state folder, default var/), MESSAGING_BIN_DIR (where
# the built programs are), MESSAGING_GATEWAYS (gateway instances, default 1),
# MESSAGING_SEED=0 (no demo data), MESSAGING_PG_PORT (private cluster's socket port).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
VAR=${MESSAGING_VAR:-$ROOT/var}
mkdir -p "$VAR"; VAR=$(cd "$VAR" && pwd -P)
RUN=$VAR/run LOG=$VAR/log
BIN_DIR=${MESSAGING_BIN_DIR:-$ROOT}
API_BIN=$BIN_DIR/fcgi-api/messaging-api
GW_BIN=$BIN_DIR/ws-gateway/messaging-gateway
TOKEN_BIN=$BIN_DIR/shared/msg-token
export MESSAGING_CONFIG=${MESSAGING_CONFIG:-$ROOT/conf/messaging.conf}
PG_PORT=${MESSAGING_PG_PORT:-55432}

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

conf_has() { # KEY: set (uncommented) in the config file?
  [ -f "$MESSAGING_CONFIG" ] && grep -Eq "^[[:space:]]*$1[[:space:]]*=[[:space:]]*[^[:space:]]" "$MESSAGING_CONFIG"
}

# The secret and the database, when neither the environment nor the config
# file gives them: a generated secret and a private cluster, both under var/.
setup_secret() {
  mkdir -p "$RUN" "$LOG" "$VAR/tmp"
  if [ -z "${MESSAGING_JWT_SECRET:-}" ] && ! conf_has jwt_secret && ! conf_has jwt_public_key_file; then
    [ -s "$VAR/jwt_secret" ] || (umask 077; openssl rand -hex 32 >"$VAR/jwt_secret")
    MESSAGING_JWT_SECRET=$(cat "$VAR/jwt_secret"); export MESSAGING_JWT_SECRET
  fi
}

setup_env() {
  setup_secret
  if [ -z "${MESSAGING_DATABASE_URL:-}" ] && ! conf_has database_url; then
    MESSAGING_DATABASE_URL=$("$ROOT/scripts/pg.sh" start "$VAR/pg" "$PG_PORT" | tail -n 1)
    export MESSAGING_DATABASE_URL
    touch "$RUN/pg.started"
  fi
}

config_value() { # KEY: the effective value, environment applied
  "$API_BIN" --check-config | sed -n "s/^$1 = //p"
}

alive() { # PIDFILE NAME: the process recorded there is running and is NAME
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"
}

launch() { # NAME LOGFILE CMD...: starts CMD in its own session, records its PID
  local name=$1 logf=$2; shift 2
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

render_nginx() {
  local http_port=$1 ws_port=$2 n=$3 servers="" i user_line=""
  for ((i = 0; i < n; i++)); do servers+="        server 127.0.0.1:$((ws_port + i));"$'\n'; done
  [ "$(id -u)" = 0 ] && user_line="user root;  # local runs only: the checkout may be private to root"
  mkdir -p "$VAR/tmp/nginx"
  local web=$ROOT/web
  sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN@|$RUN|g" -e "s|@LOG@|$LOG|g" -e "s|@VAR@|$VAR|g" \
      -e "s|@TMP@|$VAR/tmp/nginx|g" -e "s|@HTTP_PORT@|$http_port|g" -e "s|@WEB@|$web|g" \
      "$ROOT/conf/nginx/local.conf.in" | awk -v s="$servers" '{ if ($0 == "@GATEWAY_SERVERS@") printf "%s", s; else print }' \
      >"$VAR/nginx.conf"
}

wait_health() { # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "$1/api/health" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

do_start() {
  [ -x "$API_BIN" ] || die "$API_BIN is not built (run make)"
  if alive "$RUN/api.pid" messaging-api; then die "already running (make stop first)"; fi
  setup_env
  local err
  err=$("$API_BIN" --check-config 2>&1 >/dev/null) || die "configuration: ${err#messaging-api: }"
  "$ROOT/scripts/migrate.sh" "$MESSAGING_DATABASE_URL" >"$LOG/migrate.log" 2>&1 ||
    { cat "$LOG/migrate.log" >&2; die "migrations failed"; }
  if [ "${MESSAGING_SEED:-1}" = 1 ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d "$MESSAGING_DATABASE_URL" -f "$ROOT/scripts/seed.sql" >"$LOG/seed.log" 2>&1 ||
      { cat "$LOG/seed.log" >&2; die "seeding failed"; }
  fi
  local http_port ws_port gateways=${MESSAGING_GATEWAYS:-1} i
  http_port=$(config_value http_port); ws_port=$(config_value ws_port)
  launch api "$LOG/api.log" "$API_BIN" --socket "$RUN/api.sock"
  if [ -x "$GW_BIN" ]; then
    for ((i = 0; i < gateways; i++)); do
      launch "gateway-$i" "$LOG/gateway-$i.log" "$GW_BIN" --port "$((ws_port + i))"
    done
  fi
  render_nginx "$http_port" "$ws_port" "$gateways"
  launch nginx "$LOG/nginx.log" /usr/sbin/nginx -p "$VAR" -c "$VAR/nginx.conf"
  if ! wait_health "http://127.0.0.1:$http_port" 60; then
    tail -n 20 "$LOG"/*.log >&2 || true
    do_stop
    die "the stack did not become healthy on port $http_port"
  fi
  echo "http://127.0.0.1:$http_port" >"$RUN/url"
  demo_tokens
  log "up: http://127.0.0.1:$http_port (API and /socket.io/), gateway on port $ws_port; logs in $LOG"
}

# var/demo-tokens.json: the demo page's user picker (served by nginx at
# /demo-tokens.json; kept out of web/ since the secret is this stack's own).
demo_tokens() {
  local rows id role name tok first=1
  rows=$(psql -X -At -F '|' -d "$MESSAGING_DATABASE_URL" -c \
    "SELECT id, role, first_name || ' ' || last_name FROM users ORDER BY id LIMIT 8" 2>/dev/null || true)
  {
    printf '['
    while IFS='|' read -r id role name; do
      [ -n "$id" ] || continue
      tok=$("$TOKEN_BIN" "$id" 2>/dev/null) || continue
      [ "$first" = 1 ] || printf ','
      first=0
      printf '{"id":%s,"role":"%s","name":"%s","token":"%s"}' "$id" "$role" "${name//\"/\\\"}" "$tok"
    done <<<"$rows"
    printf ']\n'
  } >"$VAR/demo-tokens.json.tmp" && mv "$VAR/demo-tokens.json.tmp" "$VAR/demo-tokens.json"
}

banner() {
  local base; base=$(cat "$RUN/url")
  local rows
  rows=$(psql -X -At -F ' ' -d "$MESSAGING_DATABASE_URL" -c \
    "SELECT id, role, first_name || ' ' || last_name FROM users ORDER BY id LIMIT 8" 2>/dev/null || true)
  echo
  echo "Demo users and tokens (valid 24 h; make token USER=ID for another):"
  local first_tok="" id role name
  while read -r id role name; do
    [ -n "$id" ] || continue
    tok=$("$TOKEN_BIN" "$id" 2>/dev/null || true)
    [ -n "$first_tok" ] || first_tok=$tok
    printf '  %-3s %-8s %-22s %s\n' "$id" "$role" "$name" "$tok"
  done <<<"$rows"
  cat <<EOT

Try:
  curl -s $base/api/health
  curl -s -H "Authorization: Bearer $first_tok" $base/api/messaging/conversations
  curl -s -H "Authorization: Bearer $first_tok" $base/api/messaging/unread-count
  curl -s -H "Authorization: Bearer $first_tok" -H 'Content-Type: application/json' \\
       -d '{"content":"Bonjour docteur"}' $base/api/messaging/conversations/1/messages
Socket.IO: $base/socket.io/ (through nginx) or directly on the gateway port.
EOT
}

stop_pid() { # PIDFILE NAME
  local f=$1 pid i
  alive "$f" "$2" || { rm -f "$f"; return 0; }
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

do_stop() {
  [ -d "$RUN" ] || return 0
  stop_pid "$RUN/nginx.pid" nginx
  local f
  for f in "$RUN"/gateway-*.pid; do [ -e "$f" ] && stop_pid "$f" messaging-gateway; done
  stop_pid "$RUN/api.pid" messaging-api
  if [ -e "$RUN/pg.started" ]; then
    "$ROOT/scripts/pg.sh" stop "$VAR/pg"
    rm -f "$RUN/pg.started"
  fi
  rm -f "$RUN/url"
}

cmd=${1:-}
case "$cmd" in
  start) do_start; banner ;;
  run)
    do_start
    banner
    trap 'echo; log "stopping"; do_stop; exit 0' INT TERM
    log "running in the foreground; Ctrl-C stops everything"
    while alive "$RUN/api.pid" messaging-api && alive "$RUN/nginx.pid" nginx; do sleep 1; done
    log "a process of the stack exited; stopping the rest (see $LOG)"
    do_stop; exit 1 ;;
  stop) do_stop ;;
  token)
    id=${2:-}
    [[ "$id" =~ ^[1-9][0-9]*$ ]] || die "usage: make token USER=ID (a user id)"
    [ -x "$TOKEN_BIN" ] || die "$TOKEN_BIN is not built (run make)"
    setup_secret
    "$TOKEN_BIN" "$id" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
