#!/usr/bin/env bash
# `make run` / `make start` never lie (t/ops/run.sh runs this): a stack whose
# var/ is private (mode 0700, as a checkout in root's home), a busy port, a
# gateway that cannot start, a run killed with kill -9, Ctrl-C. Each stack
# here uses the database of the operator's stack (MESSAGING_DATABASE_URL).
#
# Environment: OPS_T (work folder), OPS_BUILD (the built programs), DB_URL,
# MESSAGING_JWT_SECRET, MESSAGING_CONFIG. Prints "ok - ..." / "not ok - ..."
# lines, then "stack tests done".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
W=$OPS_T/stack-life
rm -rf "$W"; mkdir -p "$W"
export MESSAGING_DATABASE_URL=$DB_URL MESSAGING_BIN_DIR=$OPS_BUILD MESSAGING_SEED=0
unset MESSAGING_VAR MESSAGING_HTTP_PORT MESSAGING_WS_PORT MESSAGING_GATEWAYS

ok() { echo "ok - stack: $1"; }
notok() { echo "not ok - stack: $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -n 15 | sed 's/^/    /'; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 5 "$1" 2>/dev/null; }
pids_of() { # VAR: the PIDs its pid files name
  cat "$1"/run/*.pid 2>/dev/null | tr '\n' ' '
}
none_alive() { # PID...: none of them runs any more
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
  return 0
}

# A var/ that only root can enter, as under /root.
PRIV=$W/private; mkdir -p "$PRIV"; chmod 0700 "$PRIV"
B=$PRIV/var
read -r BH BW CH CW < <(scripts/free-ports.sh 4)
stackB() { MESSAGING_VAR=$B MESSAGING_HTTP_PORT=$BH MESSAGING_WS_PORT=$BW MESSAGING_GATEWAYS=2 scripts/stack.sh "$@"; }

# ---- a private var/: up, and the web server's workers reach what they need
out=$(stackB start 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "^stack: up: http://127.0.0.1:$BH " <<<"$out"; then ok "make start in a private var/ says up"
else notok "make start in a private var/ says up" "$out"; fi
. "$B/run/paths" 2>/dev/null
if [ "$(id -u)" = 0 ]; then
  case "${MESSAGING_PUB:-}" in
    "$PRIV"/*|"") notok "a private var/: the public runtime folder is outside it" "MESSAGING_PUB=${MESSAGING_PUB:-}" ;;
    *) if runuser -u www-data -- test -w "$MESSAGING_API_SOCKET"; then ok "a private var/: the API socket is in $MESSAGING_PUB, reachable by www-data"
       else notok "a private var/: the API socket is reachable by www-data" "$(ls -la "$MESSAGING_PUB" 2>&1)"; fi ;;
  esac
fi
h=$(code "http://127.0.0.1:$BH/api/health") p=$(code "http://127.0.0.1:$BH/")
g0=$(code "http://127.0.0.1:$BW/health") g1=$(code "http://127.0.0.1:$((BW + 1))/health")
if [ "$h$p$g0$g1" = 200200200200 ]; then ok "nginx (workers not root), the API and both gateways answer"
else notok "nginx, the API and both gateways answer" "health $h, page $p, gateways $g0 $g1; $(tail -n 5 "$B/log/nginx-error.log" 2>/dev/null)"; fi
if grep -Eq '^[[:space:]]*listen[^;]*reuseport' "$B/nginx.conf"; then notok "no reuseport in the rendered local site" "$(grep -n reuseport "$B/nginx.conf")"
else ok "no reuseport in the rendered local site"; fi

# ---- started twice: refused, the first one untouched
out=$(stackB start 2>&1); rc=$?
if [ $rc != 0 ] && grep -q 'a previous run is still running' <<<"$out" && [ "$(code "http://127.0.0.1:$BH/api/health")" = 200 ]; then
  ok "a second start of a running stack is refused, the first one keeps running"
else notok "a second start of a running stack is refused" "rc $rc: $out"; fi

# ---- a busy port: one line naming it and its holder; nothing left behind
C=$W/c
out=$(MESSAGING_VAR=$C MESSAGING_HTTP_PORT=$BH MESSAGING_WS_PORT=$CW scripts/stack.sh start 2>&1); rc=$?
line=$(grep -c . <<<"$out")
if [ $rc != 0 ] && [ "$line" = 1 ] && grep -Eq "^stack: port $BH is busy \(held by \"nginx\" pid [0-9]+\)" <<<"$out" &&
   [ -z "$(pids_of "$C")" ]; then
  ok "a busy HTTP port: one line naming the port and nginx's pid, nothing started"
else notok "a busy HTTP port: one line naming the port and its holder" "rc $rc: $out"; fi
out=$(MESSAGING_VAR=$C MESSAGING_HTTP_PORT=$CH MESSAGING_WS_PORT=$((BW + 1)) scripts/stack.sh start 2>&1); rc=$?
if [ $rc != 0 ] && grep -Eq "^stack: port $((BW + 1)) is busy \(held by \"messaging-gatew[a-z]*\" pid [0-9]+\)" <<<"$out" &&
   [ -z "$(pids_of "$C")" ]; then
  ok "a busy gateway port: named with its holder, nothing started"
else notok "a busy gateway port: named with its holder" "rc $rc: $out"; fi

# ---- a gateway that dies at start: not "up", and nothing half-started
FAKE=$W/fakebin; mkdir -p "$FAKE/fcgi-api" "$FAKE/ws-gateway" "$FAKE/tools"
ln -s "$OPS_BUILD/fcgi-api/messaging-api" "$FAKE/fcgi-api/messaging-api"
ln -s "$OPS_BUILD/tools/msg-token" "$FAKE/tools/msg-token"
printf '#!/bin/sh\necho "messaging-gateway: cannot listen (a test stand-in)" >&2\nexit 1\n' >"$FAKE/ws-gateway/messaging-gateway"
chmod +x "$FAKE/ws-gateway/messaging-gateway"
out=$(MESSAGING_VAR=$C MESSAGING_BIN_DIR=$FAKE MESSAGING_HTTP_PORT=$CH MESSAGING_WS_PORT=$CW scripts/stack.sh start 2>&1); rc=$?
if [ $rc != 0 ] && ! grep -q '^stack: up' <<<"$out" && grep -q '^stack: not started: gateway 0 exited' <<<"$out" &&
   [ -z "$(pids_of "$C")" ] && [ "$(code "http://127.0.0.1:$CH/api/health")" = 000 ]; then
  ok "a gateway that exits at start: no \"up\", the reason named, nginx and the API stopped"
else notok "a gateway that exits at start: no \"up\", nothing left running" "rc $rc: $(grep '^stack:' <<<"$out")"; fi

# ---- kill -9 of the whole stack: the next start cleans the stale pid files
victims=$(pids_of "$B")
nginx_master=$(cat "$B/run/nginx.pid" 2>/dev/null)
workers=$(ps -o pid= --ppid "$nginx_master" 2>/dev/null | tr '\n' ' ')
# shellcheck disable=SC2086
kill -KILL $victims $workers 2>/dev/null
for _ in $(seq 100); do none_alive $victims $workers && break; sleep 0.1; done
out=$(stackB start 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "^stack: cleaning what a killed run left in $B/run: api gateway-0 gateway-1 nginx" <<<"$out" &&
   grep -q '^stack: up' <<<"$out" && [ "$(code "http://127.0.0.1:$BH/api/health")" = 200 ]; then
  ok "after kill -9 of every process: the stale pid files are named and cleaned, the stack comes up"
else notok "after kill -9: the stale pid files are cleaned" "rc $rc: $(grep '^stack:' <<<"$out")"; fi
stackB stop >/dev/null 2>&1
if none_alive $(pids_of "$B") && [ "$(code "http://127.0.0.1:$BH/api/health")" = 000 ] && [ ! -e "${MESSAGING_PUB:-/nonexistent}" ]; then
  ok "make stop stops everything and removes the public runtime folder"
else notok "make stop stops everything" "$(ls -la "$B/run" "${MESSAGING_PUB:-}" 2>&1)"; fi

# ---- make run, then Ctrl-C (SIGINT to the foreground script): everything stops
(
  set -m # job control: the background job keeps SIGINT (as at a terminal)
  MESSAGING_VAR=$B MESSAGING_HTTP_PORT=$BH MESSAGING_WS_PORT=$BW MESSAGING_GATEWAYS=2 \
    scripts/stack.sh run >"$W/run.log" 2>&1 </dev/null &
  echo $! >"$W/run.pid"
  wait
) &
RUNNER=$!
for _ in $(seq 600); do grep -q 'Ctrl-C stops everything' "$W/run.log" 2>/dev/null && break; sleep 0.1; done
during=$(pids_of "$B")
kill -INT "$(cat "$W/run.pid")" 2>/dev/null
for _ in $(seq 300); do kill -0 "$RUNNER" 2>/dev/null || break; sleep 0.1; done
# shellcheck disable=SC2086
if grep -q 'Ctrl-C stops everything' "$W/run.log" && [ -n "$during" ] && none_alive $during &&
   [ "$(code "http://127.0.0.1:$BH/api/health")" = 000 ]; then
  ok "make run: Ctrl-C stops nginx, the API and the gateways"
else notok "make run: Ctrl-C stops everything" "$(tail -n 5 "$W/run.log"; echo "still: $during")"; stackB stop >/dev/null 2>&1; fi
echo "stack tests done"
