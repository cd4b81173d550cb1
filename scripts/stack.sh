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
# MESSAGING_SEED=0 (no demo data), MESSAGING_PG_PORT (private cluster's socket port),
# MESSAGING_RATE_LIMIT / MESSAGING_RATE_BURST (nginx limit_req per token of the
# local site, default 50r/s and 100, as in conf/nginx/messaging.conf).
#
# What the web server's workers must reach (the API socket, the web root, the
# demo tokens, nginx's temporary files) lives in a public runtime folder:
# var/pub when the web server's user can reach var/, else (a checkout in a
# private home, as root) /tmp/messaging-pub-HASH, created with the right modes,
# as scripts/pg.sh does for the cluster. var/run/paths names it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
VAR=${MESSAGING_VAR:-$ROOT/var}
mkdir -p "$VAR"; VAR=$(cd "$VAR" && pwd -P)
RUN=$VAR/run LOG=$VAR/log
BIN_DIR=${MESSAGING_BIN_DIR:-$ROOT}
API_BIN=$BIN_DIR/fcgi-api/messaging-api
GW_BIN=$BIN_DIR/ws-gateway/messaging-gateway
TOKEN_BIN=$BIN_DIR/tools/msg-token
export MESSAGING_CONFIG=${MESSAGING_CONFIG:-$ROOT/conf/messaging.conf}
PG_PORT=${MESSAGING_PG_PORT:-55432}

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# The user nginx's workers (and Apache, in the operator's tests) run as: as
# root, www-data (nobody where there is none); otherwise ourselves.
if [ "$(id -u)" = 0 ]; then
  if id -u www-data >/dev/null 2>&1; then WEB_USER=www-data; else WEB_USER=nobody; fi
  WEB_GROUP=$(id -gn "$WEB_USER")
else
  WEB_USER=$(id -un); WEB_GROUP=$(id -gn)
fi
web_can() { # TEST-ARGS...: `test ARGS` as the web server's user
  if [ "$(id -u)" = 0 ]; then runuser -u "$WEB_USER" -- test "$@" 2>/dev/null; else test "$@"; fi
}

# The public runtime folder (see the header): always the same for one var/.
pub_dir() {
  if web_can -x "$VAR"; then echo "$VAR/pub"; return; fi
  local base=${TMPDIR:-/tmp}
  web_can -x "$base" || base=/tmp
  echo "$base/messaging-pub-$(printf '%s' "$VAR" | sha256sum | cut -c1-16)"
}
PUB=$(pub_dir)

# Creates PUB (ours, not a link), readable by the web server's group only;
# setgid, so that the API socket belongs to that group too.
prepare_pub() {
  if [ -L "$PUB" ] || { [ -e "$PUB" ] && [ "$(stat -c %u "$PUB")" != "$(id -u)" ]; }; then
    die "$PUB exists and is not this user's folder: remove it, then start again"
  fi
  mkdir -p "$PUB"
  if [ "$(id -u)" = 0 ]; then chgrp "$WEB_GROUP" "$PUB"; chmod 2750 "$PUB"; else chmod 0755 "$PUB"; fi
  mkdir -p "$PUB/nginx-tmp"
  # The web root: web/ itself when the web server can read it, else a copy.
  WEB_ROOT=$ROOT/web ERRORS_DIR=$ROOT/conf/apache/errors
  if ! web_can -r "$ROOT/web/index.html" || ! web_can -r "$ROOT/conf/apache/errors/unavailable.json"; then
    rm -rf "$PUB/web" "$PUB/errors"
    cp -R "$ROOT/web" "$PUB/web"; cp -R "$ROOT/conf/apache/errors" "$PUB/errors"
    chmod -R u=rwX,go=rX "$PUB/web" "$PUB/errors"
    WEB_ROOT=$PUB/web ERRORS_DIR=$PUB/errors
  fi
  cat >"$RUN/paths" <<EOT
# Written by scripts/stack.sh start: what the web server's workers reach.
MESSAGING_PUB=$PUB
MESSAGING_API_SOCKET=$PUB/api.sock
MESSAGING_WEB_ROOT=$WEB_ROOT
MESSAGING_ERRORS_DIR=$ERRORS_DIR
EOT
}

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

# The private cluster's URL is known before it starts (the configuration
# check needs one); it starts once the ports are known to be free.
PRIVATE_PG=0
setup_db_url() {
  if [ -z "${MESSAGING_DATABASE_URL:-}" ] && ! conf_has database_url; then
    MESSAGING_DATABASE_URL=$("$ROOT/scripts/pg.sh" url "$VAR/pg" "$PG_PORT")
    export MESSAGING_DATABASE_URL
    PRIVATE_PG=1
  fi
}
start_db() {
  [ "$PRIVATE_PG" = 1 ] || return 0
  touch "$RUN/pg.started"
  "$ROOT/scripts/pg.sh" start "$VAR/pg" "$PG_PORT" >/dev/null || return 1
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

# The program a pid file names, for the checks below.
pid_program() { # NAME of a pid file (api, nginx, gateway-N, ...)
  case "$1" in
    api) echo messaging-api ;;
    nginx) echo nginx ;;
    gateway-*) echo messaging-gateway ;;
    *) echo "$1" ;;
  esac
}

# A var/ left by a run that was killed (kill -9, a reboot): pid files whose
# processes are gone are removed with the socket; a process of it that still
# runs stops the start, with what to do.
check_stale() {
  local f name still="" stale=""
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    name=${f##*/}; name=${name%.pid}
    if alive "$f" "$(pid_program "$name")"; then still+=" $name (pid $(cat "$f"))"; else stale+=" $name"; fi
  done
  if [ -n "$still" ]; then
    die "a previous run is still running:$still; run make stop (MESSAGING_VAR=$VAR scripts/stack.sh stop), then start again"
  fi
  if [ -n "$stale" ]; then
    log "cleaning what a killed run left in $RUN:$stale"
    rm -f "$RUN"/*.pid "$RUN/url" "$RUN/paths" "$PUB/api.sock"
  fi
  return 0
}

# Every port the stack listens on must be free: one line naming the first
# busy one, and its holder when ss can see it.
check_ports() { # PORT...
  local p line holder
  command -v ss >/dev/null || return 0
  for p in "$@"; do
    line=$(ss -Hltnp "( sport = :$p )" 2>/dev/null | head -n 1)
    [ -n "$line" ] || continue
    holder=$(sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/\1 pid \2/p' <<<"$line")
    die "port $p is busy${holder:+ (held by $holder)}: stop that program or choose other ports (MESSAGING_HTTP_PORT, MESSAGING_WS_PORT)"
  done
}

render_nginx() {
  local http_port=$1 ws_port=$2 n=$3 servers="" i user_line=""
  for ((i = 0; i < n; i++)); do servers+="        server 127.0.0.1:$((ws_port + i));"$'\n'; done
  # Workers as the web server's user, who reaches everything under PUB.
  [ "$(id -u)" = 0 ] && user_line="user $WEB_USER $WEB_GROUP;"
  local rate=${MESSAGING_RATE_LIMIT:-50r/s} burst=${MESSAGING_RATE_BURST:-100}
  [[ "$rate" =~ ^[1-9][0-9]*r/[sm]$ ]] || die "MESSAGING_RATE_LIMIT must look like 50r/s (got $rate)"
  [[ "$burst" =~ ^[0-9]+$ ]] || die "MESSAGING_RATE_BURST must be a number (got $burst)"
  sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN@|$RUN|g" -e "s|@LOG@|$LOG|g" -e "s|@PUB@|$PUB|g" \
      -e "s|@TMP@|$PUB/nginx-tmp|g" -e "s|@HTTP_PORT@|$http_port|g" -e "s|@WEB@|$WEB_ROOT|g" \
      -e "s|@RATE@|$rate|g" -e "s|@BURST@|$burst|g" \
      "$ROOT/conf/nginx/local.conf.in" | awk -v s="$servers" '{ if ($0 == "@GATEWAY_SERVERS@") printf "%s", s; else print }' \
      >"$VAR/nginx.conf"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' -m 2 "$1" 2>/dev/null || true; }

# "up" means: nginx and the API answer /api/health through nginx, and every
# gateway its own /health; each still runs. Prints what is not up yet.
# A process just launched may not have exec'd its program yet (its cmdline
# is still the shell's): "starting", not "exited", while its PID lives.
gone() { # PIDFILE NAME WHAT LOG: prints why WHAT is not running, or nothing
  alive "$1" "$2" && return 1
  if [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then echo "$3 starting"; else echo "$3 exited (see $4)"; fi
}

not_up() { # HTTP_PORT WS_PORT GATEWAYS
  local i
  gone "$RUN/nginx.pid" nginx nginx "$LOG/nginx-error.log" && return 0
  gone "$RUN/api.pid" messaging-api messaging-api "$LOG/api.log" && return 0
  for ((i = 0; i < $3; i++)); do
    gone "$RUN/gateway-$i.pid" messaging-gateway "gateway $i" "$LOG/gateway-$i.log" && return 0
  done
  [ "$(http_code "http://127.0.0.1:$1/api/health")" = 200 ] || { echo "GET /api/health through nginx on port $1 does not answer 200"; return 0; }
  for ((i = 0; i < $3; i++)); do
    [ "$(http_code "http://127.0.0.1:$(($2 + i))/health")" = 200 ] ||
      { echo "gateway $i: GET /health on port $(($2 + i)) does not answer 200"; return 0; }
  done
  return 1
}

wait_up() { # HTTP_PORT WS_PORT GATEWAYS SECONDS: 0 once up; else prints why not
  local i why=""
  for ((i = 0; i < $4 * 10; i++)); do
    why=$(not_up "$1" "$2" "$3") || return 0
    case "$why" in *exited*) break ;; esac
    sleep 0.1
  done
  echo "$why"
  return 1
}

do_start() {
  [ -x "$API_BIN" ] || die "$API_BIN is not built (run make)"
  mkdir -p "$RUN" "$LOG"
  check_stale
  local gw_bin_ok=0 gateways=${MESSAGING_GATEWAYS:-1}
  [ -x "$GW_BIN" ] && gw_bin_ok=1
  [ "$gw_bin_ok" = 1 ] || gateways=0
  setup_secret
  setup_db_url
  local err
  err=$("$API_BIN" --check-config 2>&1 >/dev/null) || die "configuration: ${err#messaging-api: }"
  local http_port ws_port i ports=()
  http_port=$(config_value http_port); ws_port=$(config_value ws_port)
  ports=("$http_port")
  for ((i = 0; i < gateways; i++)); do ports+=("$((ws_port + i))"); done
  check_ports "${ports[@]}"
  # From here on, whatever goes wrong (Ctrl-C included) stops what started.
  trap 'echo >&2; log "interrupted: stopping what started"; do_stop; exit 130' INT TERM
  start_db || { do_stop; die "the private PostgreSQL cluster did not start (see above)"; }
  "$ROOT/scripts/migrate.sh" "$MESSAGING_DATABASE_URL" >"$LOG/migrate.log" 2>&1 ||
    { cat "$LOG/migrate.log" >&2; do_stop; die "migrations failed"; }
  if [ "${MESSAGING_SEED:-1}" = 1 ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d "$MESSAGING_DATABASE_URL" -f "$ROOT/scripts/seed.sql" >"$LOG/seed.log" 2>&1 ||
      { cat "$LOG/seed.log" >&2; do_stop; die "seeding failed"; }
  fi
  prepare_pub
  launch api "$LOG/api.log" "$API_BIN" --socket "$PUB/api.sock"
  for ((i = 0; i < gateways; i++)); do
    launch "gateway-$i" "$LOG/gateway-$i.log" "$GW_BIN" --port "$((ws_port + i))"
  done
  render_nginx "$http_port" "$ws_port" "$gateways"
  launch nginx "$LOG/nginx.log" /usr/sbin/nginx -p "$VAR" -c "$VAR/nginx.conf"
  local why
  if ! why=$(wait_up "$http_port" "$ws_port" "$gateways" 60); then
    tail -n 20 "$LOG"/*.log >&2 || true
    do_stop
    die "not started: $why"
  fi
  echo "http://127.0.0.1:$http_port" >"$RUN/url"
  demo_tokens
  local gws=""
  [ "$gateways" = 0 ] || gws=", gateway on port $ws_port$([ "$gateways" = 1 ] || echo "-$((ws_port + gateways - 1))")"
  log "up: http://127.0.0.1:$http_port (API and /socket.io/)$gws; logs in $LOG"
  trap - INT TERM
}

# PUB/demo-tokens.json: the demo page's user picker (served by nginx at
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
  } >"$PUB/demo-tokens.json.tmp" && mv "$PUB/demo-tokens.json.tmp" "$PUB/demo-tokens.json"
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
  local f pub=$PUB
  for f in "$RUN"/gateway-*.pid; do [ -e "$f" ] && stop_pid "$f" messaging-gateway; done
  stop_pid "$RUN/api.pid" messaging-api
  if [ -e "$RUN/pg.started" ]; then
    "$ROOT/scripts/pg.sh" stop "$VAR/pg"
    rm -f "$RUN/pg.started"
  fi
  # The public folder this run used (it may differ from today's choice).
  [ -s "$RUN/paths" ] && pub=$(sed -n 's/^MESSAGING_PUB=//p' "$RUN/paths")
  case "$pub" in
    "$VAR/pub" | */messaging-pub-*) [ -d "$pub" ] && [ ! -L "$pub" ] && rm -rf "$pub" ;;
  esac
  rm -f "$RUN/url" "$RUN/paths"
}

all_alive() { # every process of the stack still runs
  local f
  alive "$RUN/api.pid" messaging-api && alive "$RUN/nginx.pid" nginx || return 1
  for f in "$RUN"/gateway-*.pid; do [ -e "$f" ] && { alive "$f" messaging-gateway || return 1; }; done
  return 0
}

cmd=${1:-}
case "$cmd" in
  start) do_start; banner ;;
  run)
    do_start
    banner
    trap 'echo; log "stopping"; do_stop; exit 0' INT TERM
    log "running in the foreground; Ctrl-C stops everything"
    while all_alive; do sleep 1; done
    log "a process of the stack exited; stopping the rest (see $LOG)"
    do_stop; exit 1 ;;
  stop) do_stop ;;
  token)
    id=${2:-}
    [[ "$id" =~ ^[1-9][0-9]*$ ]] || die "usage: make token USER=ID (a user id)"
    [ -x "$TOKEN_BIN" ] || die "$TOKEN_BIN is not built (run make)"
    setup_secret
    "$TOKEN_BIN" "$id" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
