#!/usr/bin/env bash
# Browser tests of the web client (web/): starts a private stack (PostgreSQL,
# the API, one gateway, nginx serving web/) from BUILD_DIR on free loopback
# ports, runs the Node tests of t/browser/ (web/messagingSocket.js from Node,
# then the demo page in headless Chromium driven by playwright-core), stops
# everything and writes build/test-results/browser.txt.
#
#   t/browser/run.sh BUILD_DIR              run the tests
#   t/browser/run.sh BUILD_DIR --serve      start the same stack and wait (Ctrl-C stops it):
#                                           prints the URL and tokens, for working on the page
#   t/browser/run.sh BUILD_DIR FILE...      only these test files
#
# Chromium is Debian's `chromium` package (installed here when missing);
# playwright-core never downloads a browser. Screenshots: build/browser-shots/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
BUILD=$(cd "${1:?usage: t/browser/run.sh BUILD_DIR [--serve | FILE...]}" && pwd -P) || exit 1
ROOT=$(cd "$HERE/../.." && pwd -P)
cd "$ROOT"
. scripts/lib.sh
shift
RESULTS=$ROOT/build/test-results
SHOTS=$ROOT/build/browser-shots
mkdir -p "$RESULTS" "$SHOTS"

result() { echo "browser: $1 passed, $2 failed" | tee "$RESULTS/browser.txt"; }
fail_setup() { echo "browser: $*" >&2; result 0 1; exit 1; }

# ---- what the tests need: Chromium, playwright-core, the npm packages of t/
# (and a colour emoji font, so that the screenshots show emoji as typed).
CHROMIUM=${MSG_CHROMIUM:-/usr/bin/chromium}
want=()
[ -x "$CHROMIUM" ] || want+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-color-emoji 2>/dev/null | grep -q "install ok installed" || want+=(fonts-noto-color-emoji)
if [ "${#want[@]}" -gt 0 ]; then
  echo "browser: installing ${want[*]} (Debian packages)" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${want[@]}" </dev/null >&2 ||
    { $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null && $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${want[@]}" </dev/null >&2; } ||
    [ -x "$CHROMIUM" ] || fail_setup "could not install chromium"
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d "$HERE/node_modules/playwright-core" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  echo "browser: npm ci in t/browser" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error </dev/null >&2) || fail_setup "npm ci in t/browser failed"
fi
# socket.io-client (the module's Node tests) and pg (fixtures) come from t/.
if [ ! -d t/node_modules/socket.io-client ] || [ ! -d t/node_modules/pg ]; then
  echo "browser: npm ci in t/" >&2
  (cd t && npm ci --no-audit --no-fund --loglevel=error </dev/null >&2) || fail_setup "npm ci in t/ failed"
fi
for f in fcgi-api/messaging-api ws-gateway/messaging-gateway tools/msg-token; do
  [ -x "$BUILD/$f" ] || fail_setup "$BUILD/$f is not built"
done

# ---- a private stack, like scripts/run-integration.sh
export MESSAGING_VAR=$BUILD/browser-var
if [ -e "$MESSAGING_VAR/run/api.pid" ]; then MESSAGING_VAR=$MESSAGING_VAR scripts/stack.sh stop >/dev/null 2>&1; fi
[ ! -d "$MESSAGING_VAR/pg" ] || scripts/pg.sh destroy "$MESSAGING_VAR/pg" >/dev/null 2>&1
rm -rf "$MESSAGING_VAR"; mkdir -p "$MESSAGING_VAR/log"
pick_ports() {
  read -r HTTP_PORT WS_PORT < <(scripts/free-ports.sh 2)
  export MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT
  export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
}
pick_ports
export MESSAGING_BIN_DIR=$BUILD MESSAGING_GATEWAYS=1
# Demo data for --serve (the page's demo users); the tests make their own users.
if [ "${1:-}" = --serve ]; then export MESSAGING_SEED=1; else export MESSAGING_SEED=0; fi
MESSAGING_JWT_SECRET=$(openssl rand -hex 32); export MESSAGING_JWT_SECRET
export MESSAGING_CONFIG=$MESSAGING_VAR/test.conf
printf 'api_workers = 2\nlog_level = warn\n' >"$MESSAGING_CONFIG"
san_options

cleanup() { scripts/stack.sh stop >/dev/null 2>&1; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port taken between the choice and its use (other test runs share the
# machine) fails the start: one more try on other ports.
started=0
for attempt in 1 2; do
  if scripts/stack.sh start >"$MESSAGING_VAR/log/start-$attempt.log" 2>&1; then started=1; break; fi
  echo "browser: the stack did not start (attempt $attempt):" >&2
  tail -n 25 "$MESSAGING_VAR/log/start-$attempt.log" >&2
  scripts/stack.sh stop >/dev/null 2>&1
  mkdir -p "$MESSAGING_VAR/failed-$attempt"
  mv "$MESSAGING_VAR/pg" "$MESSAGING_VAR/log"/*.log "$MESSAGING_VAR/failed-$attempt/" 2>/dev/null
  pick_ports
done
[ "$started" = 1 ] || fail_setup "the stack did not start"
DB_URL=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
# The environment a restarted gateway needs (the same as the stack's).
export MESSAGING_DATABASE_URL=$DB_URL
export MSG_BASE_URL=http://127.0.0.1:$HTTP_PORT MSG_DB_URL=$DB_URL MSG_JWT_SECRET=$MESSAGING_JWT_SECRET
export MSG_WS_URL=http://127.0.0.1:$WS_PORT MSG_WS_PORT=$WS_PORT MSG_VAR=$MESSAGING_VAR
export MSG_GATEWAY_BIN=$BUILD/ws-gateway/messaging-gateway MSG_CHROMIUM=$CHROMIUM MSG_SHOTS=$SHOTS

if [ "${1:-}" = --serve ]; then
  echo "browser: the page is at $MSG_BASE_URL/ ; tokens (paste one):"
  psql -X -At -F ' ' -d "$DB_URL" -c "SELECT id, role, first_name || ' ' || last_name FROM users ORDER BY id" |
    while read -r id role name; do printf '  %s %-8s %-20s %s\n' "$id" "$role" "$name" "$("$BUILD/tools/msg-token" "$id")"; done
  echo "browser: Ctrl-C stops it"
  while :; do sleep 3600 & wait $!; done
fi

files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(t/browser/*.test.mjs)
rm -f "$SHOTS"/*.png
log=$MESSAGING_VAR/log/browser-tests.log
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
node_counts "$log"

scripts/stack.sh stop >/dev/null 2>&1
trap - EXIT
if san_found; then
  echo "browser: sanitizer reports from the servers:" >&2
  san_show
  rc=1; f=$(( ${f:-0} + 1 ))
fi
[ "$rc" = 0 ] || [ "${f:-0}" != 0 ] || f=1
result "${p:-0}" "${f:-1}"
exit "$rc"
