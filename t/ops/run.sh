#!/usr/bin/env bash
# The operator's tests (make test-ops): the systemd units (systemd-analyze
# verify), the nginx and Apache sites of conf/ (configuration check, then REST
# and Socket.IO smoke tests through each, rendered for loopback with a test
# certificate: WebSocket and polling, two gateway instances, sticky polling),
# reloads under traffic (SIGHUP), msgctl, and `make install` into a
# staging folder.
#
#   t/ops/run.sh BUILD_DIR        (e.g. build/san)
#
# Writes build/test-results/ops.txt ("ops: N passed, M failed"); exits 1 on
# any failure. Apache is installed from Debian when missing (its service is
# not started: policy-rc.d).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$ROOT"
. scripts/lib.sh
BUILD=$(cd "${1:?usage: t/ops/run.sh BUILD_DIR}" && pwd -P)
RESULTS=$ROOT/build/test-results
mkdir -p "$RESULTS"
T=$BUILD/ops
# The last run's cluster first (under /tmp for a private checkout: scripts/pg.sh).
[ ! -d "$T/var/pg" ] || scripts/pg.sh destroy "$T/var/pg" >/dev/null 2>&1
rm -rf "$T"; mkdir -p "$T/log"
LOG=$T/log/ops.log
: >"$LOG"
START=$(date +%s)

PASS=0 FAIL=0 SKIP=0
pass() { PASS=$((PASS + 1)); echo "ok - $1"; }
fail() { FAIL=$((FAIL + 1)); echo "not ok - $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -n 25 | sed 's/^/    /'; }
skip() { SKIP=$((SKIP + 1)); echo "skip - $1"; }
# check NAME CMD...: passes when CMD exits 0; its output is shown on failure.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
  printf '== %s\n%s\n' "$name" "$out" >>"$LOG"
}
# expect_rc CODE NAME CMD...: passes when CMD exits with CODE.
expect_rc() {
  local want=$1 name=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  printf '== %s (rc %s)\n%s\n' "$name" "$rc" "$out" >>"$LOG"
  if [ "$rc" = "$want" ]; then pass "$name"; else fail "$name" "exit $rc, expected $want: $out"; fi
}

PIDS=()
cleanup() {
  local p kids
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  # The gateways go too: Apache's children let go of their tunnels sooner.
  MESSAGING_VAR=$T/var scripts/stack.sh stop >/dev/null 2>&1
  for p in "${PIDS[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      kids=$(ps -o pid= --ppid "$p" 2>/dev/null)
      kill -KILL "$p" $kids 2>/dev/null
    fi
  done
  PIDS=()
  [ -z "${STAGE:-}" ] || rm -rf "$STAGE"
  [ -z "${OPS_PUB:-}" ] || rm -rf "$OPS_PUB"
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() { # PACKAGE...: from Debian, without starting services
  local made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d; made=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" </dev/null >>"$LOG" 2>&1 ||
    { as_root apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null >>"$LOG" 2>&1 &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" </dev/null >>"$LOG" 2>&1; }
  local rc=$?
  [ "$made" = 0 ] || as_root rm -f /usr/sbin/policy-rc.d
  return $rc
}
command -v systemd-analyze >/dev/null || apt_install systemd
[ -x /usr/sbin/apache2 ] || apt_install apache2

# ------------------------------------------------------------------ systemd
echo "# systemd units"
U=$T/systemd; mkdir -p "$U"
for f in conf/systemd/*.socket conf/systemd/*.service conf/systemd/*.target; do
  sed -e "s|/usr/local/bin/messaging-api|$BUILD/fcgi-api/messaging-api|" \
      -e "s|/usr/local/bin/messaging-gateway|$BUILD/ws-gateway/messaging-gateway|" "$f" >"$U/${f##*/}"
done
cp "$U/messaging-gateway@.service" "$U/messaging-gateway@5001.service"
verify_units() {
  local out
  out=$(cd "$U" && systemd-analyze verify --man=no ./messaging-api.socket ./messaging-api.service \
        ./messaging-gateway@5001.service ./messaging-gateway.target 2>&1) || { echo "$out"; return 1; }
  # Unknown keys and bad values are only warnings: any output fails.
  [ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify: messaging-api.socket, messaging-api.service, messaging-gateway@.service" verify_units
hardened() {
  local f k bad=""
  for f in conf/systemd/messaging-api.service conf/systemd/messaging-gateway@.service; do
    for k in '^User=messaging$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^PrivateTmp=yes$' \
             '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' '^SystemCallFilter=@system-service$' \
             '^Restart=on-failure$' '^KillSignal=SIGTERM$' '^TimeoutStopSec=' '^ExecReload=/bin/kill -HUP \$MAINPID$' \
             '^CapabilityBoundingSet=$'; do
      grep -Eq "$k" "$f" || bad+="$f lacks $k"$'\n'
    done
  done
  grep -q '^StandardInput=socket$' conf/systemd/messaging-api.service || bad+="messaging-api.service: the socket must be fd 0"$'\n'
  grep -q '^StandardOutput=journal$' conf/systemd/messaging-api.service || bad+="messaging-api.service: stdout must not be the socket"$'\n'
  [ -z "$bad" ] || { printf '%s' "$bad"; return 1; }
}
check "units are hardened, restart on failure, stop gracefully, reload with SIGHUP" hardened

# ------------------------------------------------------------------ the stack
echo "# stack: PostgreSQL, API, two gateways"
read -r HTTP_PORT WS_PORT AP_PORT NG_PORT < <(scripts/free-ports.sh 4)
export MESSAGING_VAR=$T/var MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT
export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
export MESSAGING_BIN_DIR=$BUILD MESSAGING_SEED=0 MESSAGING_GATEWAYS=2
export MESSAGING_JWT_SECRET=$(openssl rand -hex 32)
mkdir -p "$MESSAGING_VAR/log"
export MESSAGING_CONFIG=$MESSAGING_VAR/test.conf
printf 'api_workers = 3\nlog_level = warn\nws_cors_origins = *\n' >"$MESSAGING_CONFIG"
# The API's socket is 0660: as root, Apache's workers (www-data) reach it
# through its group, as on a real host.
if [ "$(id -u)" = 0 ] && getent group www-data >/dev/null; then echo 'api_socket_group = www-data' >>"$MESSAGING_CONFIG"; fi
san_options
RUN=$MESSAGING_VAR/run
if ! scripts/stack.sh start >"$T/log/stack-start.log" 2>&1; then
  fail "the stack starts (scripts/stack.sh start)" "$(tail -n 20 "$T/log/stack-start.log")"
  echo "ops: $PASS passed, $FAIL failed" | tee "$RESULTS/ops.txt"
  exit 1
fi
DB_URL=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
export MSG_DB_URL=$DB_URL MSG_JWT_SECRET=$MESSAGING_JWT_SECRET
export MSG_GATEWAYS="http://127.0.0.1:$WS_PORT http://127.0.0.1:$((WS_PORT + 1))"
API_PID=$(cat "$RUN/api.pid")
# What the web servers' workers reach (the API socket, the web root, the
# error pages): under /tmp when this checkout is private (scripts/stack.sh).
. "$RUN/paths"
GW_PIDS="$(cat "$RUN/gateway-0.pid") $(cat "$RUN/gateway-1.pid")"

# A test certificate for 127.0.0.1, made now.
CERT=$T/tls; mkdir -p "$CERT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$CERT/key.pem" -out "$CERT/cert.pem" >>"$LOG" 2>&1
export NODE_EXTRA_CA_CERTS=$CERT/cert.pem
WEB_FILE=$(cd web 2>/dev/null && find . -type f -name '*.*' ! -name '.*' | sed 's|^\./||' | sort | head -n 1)
export OPS_WEB_FILE=$WEB_FILE OPS_CONFIG=$MESSAGING_CONFIG

# Placeholders of the real-host sites, for this machine.
site_sed=(-e "s|unix:/run/messaging/api.sock|unix:$MESSAGING_API_SOCKET|g"
          -e "s|127.0.0.1:5001|127.0.0.1:$WS_PORT|g" -e "s|127.0.0.1:5002|127.0.0.1:$((WS_PORT + 1))|g"
          -e "s|/etc/letsencrypt/live/messaging.example.org/fullchain.pem|$CERT/cert.pem|g"
          -e "s|/etc/letsencrypt/live/messaging.example.org/privkey.pem|$CERT/key.pem|g"
          -e "s|/usr/local/share/messaging/web|$MESSAGING_WEB_ROOT|g"
          -e "s|/usr/local/share/messaging/conf/apache/errors|$MESSAGING_ERRORS_DIR|g"
          # Short upstream timeouts: the 504 check below waits for them.
          -e "s|fastcgi_read_timeout 30s;|fastcgi_read_timeout 3s;|"
          -e 's|fcgi://messaging-api/api/" timeout=30|fcgi://messaging-api/api/" timeout=3|')

# The web servers' workers run as www-data (as root): their runtime files
# (Apache's mutexes and shared memory, nginx's temporary files) go where that
# user reaches, like the stack's own (scripts/stack.sh).
WEB_USER=www-data
if [ "$(id -u)" = 0 ] && ! runuser -u "$WEB_USER" -- test -x "$T" 2>/dev/null; then
  OPS_PUB=$(mktemp -d /tmp/messaging-ops.XXXXXX)
else
  OPS_PUB=$(mktemp -d "$T/pub.XXXXXX")
fi
chmod 0755 "$OPS_PUB"

launch() { # NAME CMD...: in the background, recorded for cleanup
  local name=$1; shift
  setsid "$@" >>"$T/log/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}
wait_url() { # URL: answers within 10 s
  for _ in $(seq 100); do curl -sk -o /dev/null -m 1 "$1" && return 0; sleep 0.1; done
  return 1
}

# tally LOG: the ok / not ok lines of a sub-script's LOG shown and counted
# (with their indented details).
tally() {
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok - "*) PASS=$((PASS + 1)); echo "$line" ;;
      "not ok - "*) FAIL=$((FAIL + 1)); echo "$line" ;;
      "    "*) echo "$line" ;;
    esac
  done <"$1"
}

# smoke NAME URL: t/ops/smoke.mjs NAME against URL (with the caller's
# OPS_* variables), its ok / not ok lines shown and counted.
smoke() {
  local out p f
  out=$(node t/ops/smoke.mjs "$1" "$2" 2>&1)
  printf '%s\n' "$out" | tee -a "$LOG" | grep -E '^(ok|not ok) ' | sed 's/^/  /'
  p=$(sed -n "s/^smoke $1: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p" <<<"$out")
  f=$(sed -n "s/^smoke $1: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p" <<<"$out")
  [ -n "$p" ] || { f=1; p=0; printf '%s\n' "$out" | tail -n 15; }
  PASS=$((PASS + p)); FAIL=$((FAIL + f))
}

# ------------------------------------------------------------------ Apache
echo "# Apache (conf/apache/messaging.conf)"
A=$T/apache; AR=$OPS_PUB/apache-run; mkdir -p "$AR" "$A/logs"
sed "${site_sed[@]}" -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$AP_PORT>|" \
    -e "s|<VirtualHost \*:443>|<VirtualHost 127.0.0.1:$((AP_PORT + 1))>|" conf/apache/messaging.conf >"$A/site.conf"
cat >"$A/envvars" <<EOT
export APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$AR/apache2.pid APACHE_RUN_DIR=$AR APACHE_LOCK_DIR=$AR
export APACHE_LOG_DIR=$A/logs LANG=C
EOT
M=/usr/lib/apache2/modules
{
  echo "# A private Apache for the tests: the site of conf/apache/ on loopback."
  echo "ServerRoot \"$A\""
  echo "ServerName 127.0.0.1"
  echo "DefaultRuntimeDir $AR"
  echo "PidFile $AR/apache2.pid"
  echo "Mutex file:$AR default"
  echo "Listen 127.0.0.1:$AP_PORT"
  echo "Listen 127.0.0.1:$((AP_PORT + 1))"
  [ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n'
  echo "ErrorLog $A/logs/error.log"
  echo "LogLevel warn"
  for m in mpm_event authz_core authz_host mime dir alias headers env setenvif proxy proxy_http proxy_fcgi \
           proxy_balancer lbmethod_byrequests slotmem_shm ssl socache_shmcb; do
    echo "LoadModule ${m}_module $M/mod_$m.so"
  done
  echo "TypesConfig /etc/mime.types"
  echo "SSLSessionCache shmcb:$AR/ssl_scache(512000)"
  echo "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %O\" combined"
  echo "StartServers 1"
  echo "Include $A/site.conf"
} >"$A/apache2.conf"
check "apache2ctl configtest (the site rendered for loopback)" env APACHE_CONFDIR="$A" apache2ctl configtest
( set -a; . "$A/envvars"; exec setsid /usr/sbin/apache2 -d "$A" -f "$A/apache2.conf" -DFOREGROUND ) >>"$T/log/apache.log" 2>&1 </dev/null &
PIDS+=($!)
if wait_url "https://127.0.0.1:$((AP_PORT + 1))/api/health"; then
  pass "Apache starts with the site"
  redirect() {
    local h; h=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$AP_PORT/api/health")
    [ "$h" = "301 https://messaging.example.org/api/health" ] || { echo "got: $h"; return 1; }
  }
  check "Apache: port 80 redirects to https" redirect
  OPS_EXPECT_BOTH=1 OPS_API_PID=$API_PID smoke apache "https://127.0.0.1:$((AP_PORT + 1))"
else
  fail "Apache starts with the site" "$(tail -n 20 "$A/logs/error.log" "$T/log/apache.log" 2>/dev/null)"
fi

# ------------------------------------------------------------------ nginx
echo "# nginx (conf/nginx/messaging.conf)"
N=$T/nginx; NT=$OPS_PUB/nginx-tmp; mkdir -p "$NT" "$N/logs"
sed "${site_sed[@]}" -e "s|listen 80;|listen 127.0.0.1:$NG_PORT;|" -e '/listen \[::\]:/d' -e "s|/var/log/nginx/|$N/logs/|g" \
    -e "s|listen 443 ssl|listen 127.0.0.1:$((NG_PORT + 1)) ssl|" conf/nginx/messaging.conf >"$N/site.conf"
{
  [ "$(id -u)" = 0 ] && echo "user $WEB_USER;"
  echo "daemon off; worker_processes 1; pid $N/nginx.pid; error_log $N/logs/error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"
  echo "  include /etc/nginx/mime.types; access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $NT/$t;"; done
  echo "  include $N/site.conf;"
  echo "}"
} >"$N/nginx.conf"
check "nginx -t (the real-host site rendered for loopback)" /usr/sbin/nginx -t -p "$N" -c "$N/nginx.conf"
launch nginx /usr/sbin/nginx -p "$N" -c "$N/nginx.conf"
if wait_url "https://127.0.0.1:$((NG_PORT + 1))/api/health"; then
  pass "nginx starts with the site"
  OPS_RATE_LIMIT=1 OPS_API_PID=$API_PID smoke nginx "https://127.0.0.1:$((NG_PORT + 1))"
else
  fail "nginx starts with the site" "$(tail -n 20 "$N/logs/error.log" "$T/log/nginx.log" 2>/dev/null)"
fi

# ------------------------------------------------------------------ local site
echo "# the local site (conf/nginx/local.conf.in, as make run renders it)"
LOCAL=http://127.0.0.1:$HTTP_PORT
check "the local site has no reuseport (a second nginx on its port must fail)" \
  bash -c "! grep -En '^[[:space:]]*listen[^;]*reuseport' '$MESSAGING_VAR/nginx.conf'"
OPS_RATE_LIMIT=1 smoke local "$LOCAL"

# ------------------------------------------------------------------ gateway reload
echo "# gateway SIGHUP"
if "$BUILD/ws-gateway/messaging-gateway" --help 2>&1 | grep -q SIGHUP; then
  printf 'log_level = info\n' >>"$MESSAGING_CONFIG"
  out=$(OPS_GATEWAY_PIDS=$GW_PIDS node t/ops/smoke.mjs gateway-reload "https://127.0.0.1:$((AP_PORT + 1))" 2>&1)
  printf '%s\n' "$out" >>"$LOG"
  if grep -q '^ok - gateway-reload: gateway SIGHUP' <<<"$out"; then pass "gateway SIGHUP keeps its clients (through Apache)"
  else fail "gateway SIGHUP keeps its clients (through Apache)" "$(grep -E '^not ok|^smoke' <<<"$out")"; fi
else
  skip "gateway SIGHUP keeps its clients (messaging-gateway --help does not mention SIGHUP yet)"
fi

# ------------------------------------------------------------------ msgctl
echo "# msgctl"
APIURL="https://127.0.0.1:$((AP_PORT + 1))"
OPS_T=$T OPS_API_URL=$APIURL OPS_BUILD=$BUILD t/ops/msgctl.sh >"$T/log/msgctl.log" 2>&1
tally "$T/log/msgctl.log"
grep -q '^msgctl tests done$' "$T/log/msgctl.log" || fail "msgctl tests ran to the end" "$(tail -n 10 "$T/log/msgctl.log")"

# ------------------------------------------------------------------ make run / start
echo "# make run and make start: private var/, busy ports, a gateway that dies, kill -9, Ctrl-C"
OPS_T=$T OPS_BUILD=$BUILD DB_URL=$DB_URL t/ops/stack-life.sh >"$T/log/stack-life.log" 2>&1
tally "$T/log/stack-life.log"
grep -q '^stack tests done$' "$T/log/stack-life.log" || fail "stack tests ran to the end" "$(tail -n 10 "$T/log/stack-life.log")"

# ------------------------------------------------------------------ access logs
echo "# access logs: /socket.io/ without its query string (the sid is a credential)"
log_clean() { # FILE: has /socket.io/ lines (within 5 s: nginx buffers), none with a query string
  local f=$1 i
  for i in $(seq 50); do grep -q ' /socket\.io/' "$f" 2>/dev/null && break; sleep 0.1; done
  grep -q ' /socket\.io/' "$f" 2>/dev/null || { echo "$f: no /socket.io/ request logged"; return 1; }
  if grep -E '/socket\.io/[^ ]*\?|sid=|EIO=' "$f"; then echo "$f: a /socket.io/ query string is logged"; return 1; fi
  grep -q ' /api/' "$f" || [ "$2" = no-api ] || { echo "$f: no /api/ request logged"; return 1; }
}
check "Apache's access log: /socket.io/ logged without its query" log_clean "$A/logs/messaging-access.log"
check "nginx real-host site's access log: /socket.io/ logged without its query" log_clean "$N/logs/messaging-access.log"
check "the local site's access log: /socket.io/ logged without its query" log_clean "$MESSAGING_VAR/log/nginx-access.log" no-api

# ------------------------------------------------------------------ API down
echo "# the API stopped: the web servers answer 503, then 504, in JSON"
kill -TERM "$API_PID" 2>/dev/null
for _ in $(seq 100); do kill -0 "$API_PID" 2>/dev/null || break; sleep 0.1; done
json_error() { # URL STATUS CODE [CURL-ARGS...]: the contract's error body and Content-Type
  local url=$1 want=$2 code=$3 out status ctype body; shift 3
  out=$(curl -sk -D - -o "$T/body" "$@" "$url") || { echo "curl failed"; return 1; }
  status=$(head -n 1 <<<"$out" | awk '{print $2}')
  ctype=$(grep -i '^content-type:' <<<"$out" | tr -d '\r' | sed 's/^[^:]*: *//')
  body=$(cat "$T/body")
  [ "$status" = "$want" ] && [ "$ctype" = "application/json; charset=utf-8" ] &&
    node -e 'const b = JSON.parse(process.argv[1]); if (b.error.code !== process.argv[2] || typeof b.error.message !== "string") process.exit(1)' "$body" "$code" ||
    { echo "got $status ($ctype): $body"; return 1; }
}
check "Apache: API down gives 503 with the JSON error" json_error "https://127.0.0.1:$((AP_PORT + 1))/api/health" 503 unavailable
check "nginx: API down gives 503 with the JSON error" json_error "https://127.0.0.1:$((NG_PORT + 1))/api/health" 503 unavailable
check "local site: API down gives 503 with the JSON error" json_error "$LOCAL/api/health" 503 unavailable
# An API that accepts and never answers: the web servers time out (3 s here).
rm -f "$MESSAGING_API_SOCKET"
node -e '
  const net = require("net"), fs = require("fs");
  const held = [];
  const srv = net.createServer((c) => held.push(c));
  srv.listen(process.argv[1], () => { fs.chmodSync(process.argv[1], 0o666); console.log("ready"); });
  setTimeout(() => process.exit(0), 60000);' "$MESSAGING_API_SOCKET" >"$T/blackhole.out" 2>&1 &
HOLE=$!; PIDS+=("$HOLE")
for _ in $(seq 100); do grep -q ready "$T/blackhole.out" && break; sleep 0.1; done
check "Apache: an API that does not answer gives 504 with the JSON error" json_error "https://127.0.0.1:$((AP_PORT + 1))/api/health" 504 unavailable
check "nginx: an API that does not answer gives 504 with the JSON error" json_error "https://127.0.0.1:$((NG_PORT + 1))/api/health" 504 unavailable
kill "$HOLE" 2>/dev/null

# ------------------------------------------------------------------ make install
echo "# make install"
# Outside build/: the top Makefile includes every build/**/*.d it finds, and
# an installed tree has folders named like that (sysusers.d).
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/messaging-ops-install.XXXXXX")
ST=$STAGE/stage
install_run() { # DESTDIR PREFIX
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory install VARIANT=release \
    DESTDIR="$1" PREFIX="$2"
}
check "make install DESTDIR=... PREFIX=/usr/local" install_run "$ST" /usr/local
installed() {
  local d=$ST/usr/local bad="" f
  for f in bin/messaging-api bin/messaging-gateway bin/msg-token bin/msgctl share/messaging/scripts/migrate.sh; do
    [ -x "$d/$f" ] || bad+="missing or not executable: $f"$'\n'
  done
  for f in sql/*.sql sql/api/*.sql; do [ -f "$d/share/messaging/$f" ] || bad+="missing: share/messaging/$f"$'\n'; done
  for f in share/messaging/conf/messaging.conf share/messaging/conf/nginx/messaging.conf \
           share/messaging/conf/apache/messaging.conf share/messaging/conf/apache/errors/unavailable.json \
           share/man/man1/messaging-api.1 share/man/man1/messaging-gateway.1 share/man/man1/msgctl.1 \
           share/doc/messaging/operations.md lib/systemd/system/messaging-api.socket \
           lib/systemd/system/messaging-api.service lib/systemd/system/messaging-gateway@.service \
           lib/sysusers.d/messaging.conf; do
    [ -f "$d/$f" ] || bad+="missing: $f"$'\n'
  done
  [ -z "$WEB_FILE" ] || cmp -s "web/$WEB_FILE" "$d/share/messaging/web/$WEB_FILE" || bad+="web/ not copied"$'\n'
  [ "$(stat -c %a "$ST/etc/messaging/messaging.conf" 2>/dev/null)" = 640 ] || bad+="etc/messaging/messaging.conf missing or not 0640"$'\n'
  "$d/bin/msgctl" --help >/dev/null || bad+="installed msgctl --help fails"$'\n'
  grep -q '^MSGCTL_SYSCONFDIR=/etc$' "$d/bin/msgctl" || bad+="msgctl: SYSCONFDIR not set"$'\n'
  [ -z "$bad" ] || { printf '%s' "$bad"; return 1; }
}
check "the staged tree holds the programs, sql/, the web files, conf examples, units and man pages" installed
keep_conf() {
  echo "# edited" >>"$ST/etc/messaging/messaging.conf"
  install_run "$ST" /usr/local >/dev/null || return 1
  tail -n 1 "$ST/etc/messaging/messaging.conf" | grep -q '^# edited$' || { echo "the live configuration was overwritten"; return 1; }
}
check "make install again keeps the administrator's /etc/messaging/messaging.conf" keep_conf
prefixed() {
  install_run "$STAGE/stage2" /opt/messaging >/dev/null || return 1
  local u=$STAGE/stage2/opt/messaging/lib/systemd/system
  grep -q '^ExecStart=/opt/messaging/bin/messaging-api ' "$u/messaging-api.service" &&
  grep -q '^ExecStart=/opt/messaging/bin/messaging-gateway ' "$u/messaging-gateway@.service" &&
  grep -q '/opt/messaging/share/messaging/web' "$STAGE/stage2/opt/messaging/share/messaging/conf/apache/messaging.conf" &&
  grep -q 'root /opt/messaging/share/messaging/web;' "$STAGE/stage2/opt/messaging/share/messaging/conf/nginx/messaging.conf" ||
    { echo "PREFIX not applied to the installed units or sites"; return 1; }
}
check "PREFIX=/opt/messaging is written into the installed units and sites" prefixed
installed_msgctl() { # the installed msgctl finds its migrations
  psql -X -q -d "$DB_URL" -c 'CREATE DATABASE ops_installed' >/dev/null || return 1
  local url=${DB_URL/\/messaging\?//ops_installed?} rc
  "$ST/usr/local/bin/msgctl" --database "$url" migrations --check >/dev/null; rc=$?
  [ $rc = 7 ] || { echo "migrations --check on an empty database: exit $rc, expected 7"; return 1; }
  "$ST/usr/local/bin/msgctl" --database "$url" -q migrate || return 1
  "$ST/usr/local/bin/msgctl" --database "$url" migrations --check >/dev/null || { echo "still pending after migrate"; return 1; }
}
check "the installed msgctl applies the installed migrations" installed_msgctl
manpages() {
  local f out
  command -v man >/dev/null || { echo "man is not installed"; return 0; }
  for f in docs/man/*.1; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null) || { echo "$f: man failed"; return 1; }
    [ -z "$out" ] || { echo "$f: $out"; return 1; }
  done
}
check "man pages render without warnings" manpages

# ------------------------------------------------------------------ make deb
echo "# make deb: the Debian package, installed, checked, purged; lintian"
deb_build() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory deb >"$T/log/deb.log" 2>&1 ||
    { tail -n 30 "$T/log/deb.log"; return 1; }
  ls "$ROOT"/build/deb/messaging-backend_*.deb >/dev/null 2>&1 || { echo "no .deb in build/deb/"; return 1; }
}
check "make deb builds a .deb with dpkg-buildpackage and debhelper" deb_build
DEB=$(ls "$ROOT"/build/deb/messaging-backend_*.deb 2>/dev/null | head -n 1)
deb_lintian() {
  command -v lintian >/dev/null || apt_install lintian || { echo "lintian could not be installed"; return 1; }
  local out; out=$(lintian --fail-on error "$DEB" 2>&1) || { echo "$out"; return 1; }
  printf '%s\n' "$out" >>"$LOG"
  if grep -q '^E: ' <<<"$out"; then echo "$out"; return 1; fi
}
deb_unowned() { # a file of the package that is on this machine but no package's: not ours to overwrite
  local f
  for f in /usr/bin/messaging-api /usr/bin/messaging-gateway /usr/bin/msgctl /etc/messaging/messaging.conf; do
    [ -e "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1 && { echo "$f"; return 0; }
  done
  return 1
}
deb_install() {
  local made=0 rc
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod 755 /usr/sbin/policy-rc.d; made=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$DEB" </dev/null >"$T/log/deb-install.log" 2>&1
  rc=$?
  [ "$made" = 0 ] || as_root rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || { tail -n 20 "$T/log/deb-install.log"; return 1; }
  dpkg-query -W -f='${Status}' messaging-backend | grep -q 'install ok installed' || { echo "not installed"; return 1; }
}
deb_installed() {
  local bad="" f
  for f in /usr/bin/messaging-api /usr/bin/messaging-gateway /usr/bin/msgctl /usr/bin/msg-token /usr/share/messaging/scripts/migrate.sh; do
    [ -x "$f" ] || bad+="missing or not executable: $f"$'\n'
  done
  for f in sql/*.sql sql/api/*.sql; do [ -f "/usr/share/messaging/$f" ] || bad+="missing: /usr/share/messaging/$f"$'\n'; done
  for f in /lib/systemd/system/messaging-api.socket /lib/systemd/system/messaging-api.service \
           /lib/systemd/system/messaging-gateway@.service /usr/share/messaging/conf/nginx/messaging.conf \
           /usr/share/messaging/conf/apache/messaging.conf /usr/share/messaging/web/index.html \
           /usr/share/man/man1/messaging-api.1.gz /usr/share/man/man1/msgctl.1.gz /usr/share/doc/messaging-backend/copyright; do
    [ -f "$f" ] || bad+="missing: $f"$'\n'
  done
  getent passwd messaging >/dev/null || bad+="no system user messaging"$'\n'
  [ "$(stat -c '%U:%G %a' /etc/messaging/messaging.conf 2>/dev/null)" = "root:messaging 640" ] ||
    bad+="/etc/messaging/messaging.conf: $(stat -c '%U:%G %a' /etc/messaging/messaging.conf 2>&1), expected root:messaging 640"$'\n'
  dpkg-query -W -f='${Conffiles}\n' messaging-backend | grep -q '^ /etc/messaging/messaging.conf ' ||
    bad+="/etc/messaging/messaging.conf is not a conffile"$'\n'
  grep -q '^ExecStart=/usr/bin/messaging-api ' /lib/systemd/system/messaging-api.service || bad+="the unit does not name /usr/bin/messaging-api"$'\n'
  ! systemctl is-enabled messaging-api.socket >/dev/null 2>&1 || bad+="messaging-api.socket was enabled on install"$'\n'
  [ -z "$bad" ] || { printf '%s' "$bad"; return 1; }
}
deb_check_config() {
  local out
  out=$(env -i PATH=/usr/bin:/bin MESSAGING_DATABASE_URL=postgresql:///messaging MESSAGING_JWT_SECRET=$(openssl rand -hex 32) \
        /usr/bin/messaging-api --config /etc/messaging/messaging.conf --check-config 2>&1) || { echo "$out"; return 1; }
  grep -q '^jwt_secret = (set, hidden)$' <<<"$out" || { echo "$out"; return 1; }
}
deb_purge() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -q messaging-backend </dev/null >"$T/log/deb-purge.log" 2>&1 ||
    { tail -n 20 "$T/log/deb-purge.log"; return 1; }
  local left=""
  dpkg-query -W -f='${Status}' messaging-backend 2>/dev/null | grep -q 'installed' && left+="still installed"$'\n'
  for f in /usr/bin/messaging-api /usr/bin/msgctl /usr/share/messaging /etc/messaging /lib/systemd/system/messaging-api.socket; do
    [ -e "$f" ] && left+="left behind: $f"$'\n'
  done
  [ -z "$left" ] || { printf '%s' "$left"; return 1; }
}
if [ -n "$DEB" ]; then
  check "lintian finds no error in the .deb" deb_lintian
  if dpkg-query -W -f='${Status}' messaging-backend 2>/dev/null | grep -q 'ok installed'; then
    skip "the .deb installs (messaging-backend is already installed on this machine: left alone)"
  elif held=$(deb_unowned); then
    skip "the .deb installs ($held exists and belongs to no package: not overwritten)"
  elif check "apt-get install ./messaging-backend_*.deb" deb_install; [ "$(dpkg-query -W -f='${Status}' messaging-backend 2>/dev/null)" = "install ok installed" ]; then
    check "the package holds the programs, sql/, units, sites, man pages; a system user; its config a conffile (root:messaging 0640); nothing enabled" deb_installed
    check "the installed messaging-api --check-config" deb_check_config
    check "the installed msgctl --help" /usr/bin/msgctl --help
    check "apt-get purge leaves nothing behind" deb_purge
  fi
fi

# ------------------------------------------------------------------ end
rm -rf "$STAGE"
cleanup
trap - EXIT
if san_found; then
  fail "no sanitizer reports from the servers" "$(head -n 30 "$MESSAGING_VAR"/log/asan.* "$MESSAGING_VAR"/log/ubsan.* 2>/dev/null; grep -Eh -A 8 "$san_pat" "$MESSAGING_VAR"/log/*.log 2>/dev/null | head -n 30)"
else
  pass "no sanitizer reports from the servers"
fi
echo "ops: $PASS passed, $FAIL failed$([ "$SKIP" = 0 ] || echo ", $SKIP skipped") ($(( $(date +%s) - START )) s; log in $LOG)" >&2
echo "ops: $PASS passed, $FAIL failed" | tee "$RESULTS/ops.txt"
[ "$FAIL" = 0 ]
