#!/usr/bin/env bash
# Integration tests: starts a private PostgreSQL, the API (and the gateway,
# when built) and nginx from BUILD_DIR on free loopback ports, runs the SQL
# tests and the Node tests in t/integration/ against them, and stops
# everything. Sanitizer reports of the servers fail the run.
#
#   scripts/run-integration.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
. scripts/lib.sh
BUILD=$(cd "${1:?usage: run-integration.sh BUILD_DIR}" && pwd -P)
RESULTS=$ROOT/build/test-results
mkdir -p "$RESULTS"

# A folder of this run's own: two runs at once must not share a stack.
mkdir -p "$BUILD"
export MESSAGING_VAR=$(mktemp -d "$BUILD/test-var.XXXXXX")
chmod 755 "$MESSAGING_VAR"; mkdir -p "$MESSAGING_VAR/log"
read -r HTTP_PORT WS_PORT < <(scripts/free-ports.sh 2)
export MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT
export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
export MESSAGING_BIN_DIR=$BUILD MESSAGING_SEED=0 MESSAGING_GATEWAYS=${MESSAGING_GATEWAYS:-2}
# These tests drive a few tokens hard: the local site's limit per token is
# raised here (the operator's tests check the default, 50r/s burst 100).
export MESSAGING_RATE_LIMIT=${MESSAGING_RATE_LIMIT:-100000r/s} MESSAGING_RATE_BURST=${MESSAGING_RATE_BURST:-100000}
export MESSAGING_JWT_SECRET=$(openssl rand -hex 32)
# A configuration of the tests' own, whatever conf/messaging.conf holds.
export MESSAGING_CONFIG=$MESSAGING_VAR/test.conf
printf 'api_workers = 3\nlog_level = warn\nws_cors_origins = *\nws_send_queue_bytes = 262144\n' >"$MESSAGING_CONFIG"
san_options

cleanup() { scripts/stack.sh stop >/dev/null 2>&1; }
trap cleanup EXIT

if ! scripts/stack.sh start >"$MESSAGING_VAR/log/start.log" 2>&1; then
  cat "$MESSAGING_VAR/log/start.log" >&2
  echo "integration: 0 passed, 1 failed" | tee "$RESULTS/integration.txt"
  exit 1
fi
DB_URL=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
# What a test needs to start one more gateway with the same configuration.
export MESSAGING_DATABASE_URL=$DB_URL
cat >"$MESSAGING_VAR/pgctl" <<EOT
#!/usr/bin/env bash
# start | stop | kill the tests' private PostgreSQL (kill: an immediate shutdown, as a crash)
case "\$1" in
  stop) exec "$ROOT/scripts/pg.sh" stop "$MESSAGING_VAR/pg" ;;
  kill) exec "$ROOT/scripts/pg.sh" stop "$MESSAGING_VAR/pg" immediate ;;
  start) "$ROOT/scripts/pg.sh" start "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT" >/dev/null ;;
esac
EOT
chmod +x "$MESSAGING_VAR/pgctl"

export MSG_BASE_URL=http://127.0.0.1:$HTTP_PORT MSG_DB_URL=$DB_URL MSG_JWT_SECRET=$MESSAGING_JWT_SECRET
export MSG_API_BIN=$BUILD/fcgi-api/messaging-api MSG_PG_CTL=$MESSAGING_VAR/pgctl
export MSG_WS_URL=http://127.0.0.1:$WS_PORT MSG_WS_URL2=http://127.0.0.1:$((WS_PORT + 1))
export MSG_GATEWAY_BIN=$BUILD/ws-gateway/messaging-gateway MSG_VAR=$MESSAGING_VAR

rc=0
# The SQL side, straight against the database: t/sql/test_operations.sh
# first (it applies the migrations), then the others; one total.
sp=0 sf=0
for t in t/sql/test_operations.sh $(ls t/sql/test_*.sh | grep -v '/test_operations.sh$'); do
  [ -x "$t" ] || continue
  log=$MESSAGING_VAR/log/sql-$(basename "$t" .sh).log
  "$t" "$DB_URL" >"$log" 2>&1 || { rc=1; tail -n 30 "$log"; }
  line=$(tail -n 1 "$log")
  tail -n 1 "$log"
  if [[ "$line" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    sp=$((sp + BASH_REMATCH[1])); sf=$((sf + BASH_REMATCH[2]))
  else
    sf=$((sf + 1))
  fi
done
echo "sql: $sp passed, $sf failed" | tee "$RESULTS/sql.txt"

# The Node tests, one file at a time (one of them restarts the database).
node --test --test-concurrency=1 --test-reporter=spec ${MSG_TEST_FILES:-t/integration/} 2>&1 | tee "$MESSAGING_VAR/log/node-tests.log"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
node_counts "$MESSAGING_VAR/log/node-tests.log"

scripts/stack.sh stop >/dev/null 2>&1
trap - EXIT
# Leaks and undefined behaviour reported by any server process fail the run.
if san_found; then
  echo "integration: sanitizer reports from the servers:" >&2
  san_show
  rc=1; f=$(( ${f:-0} + 1 ))
fi
echo "integration: ${p:-0} passed, ${f:-1} failed" | tee "$RESULTS/integration.txt"
# The logs stay for a failed run; a passed run leaves nothing behind.
if [ "$rc" = 0 ]; then scripts/pg.sh destroy "$MESSAGING_VAR/pg" >/dev/null 2>&1; rm -rf "$MESSAGING_VAR"
else echo "integration: logs in $MESSAGING_VAR/log" >&2; fi
exit $rc
