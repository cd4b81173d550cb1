#!/usr/bin/env bash
# make bench-section9: what presence, delivery receipts and the access log
# (API.md section 9) cost. Two private stacks of this checkout on one
# machine, identical but for messaging.conf: A with presence, delivery_receipts
# and audit_log off, B with them on (the default). The load tools beside the
# checkout (../shared/bench/load, or BENCH_LOAD) run the side-by-side's
# workloads against both, alternating rounds (AB, BA, AB): memory per joined
# socket, REST through nginx, and the fan-out sweep. Prints the medians and
# B/A; the target (issue 13): every figure of the delivery pipeline within
# 10 % with them on. Results: build/bench/section9-*.json and .log.
#
# Environment: BENCH_LOAD, BENCH_ROUNDS (3), BENCH_CONNECTIONS (sockets held,
# 10000), BENCH_FANOUT_RATES (the sweep, msgs/s), BENCH_STEPS (a part of
# "connect rest fanout"), BENCH_B_CONF (lines added to B's messaging.conf,
# e.g. "delivery_receipts = off", to price one part alone).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
LOAD=${BENCH_LOAD:-$ROOT/../shared/bench/load}
[ -f "$LOAD/compare.mjs" ] || { echo "bench-section9: no load tools at $LOAD (set BENCH_LOAD)" >&2; exit 2; }
LOAD=$(cd "$LOAD" && pwd -P)
[ -d "$LOAD/node_modules" ] || (cd "$LOAD" && npm install --no-audit --no-fund >&2) || exit 1
command -v wrk >/dev/null || scripts/deps.sh --test
OUT=$ROOT/build/bench
mkdir -p "$OUT"
R=${BENCH_ROUNDS:-3}
RATES=${BENCH_FANOUT_RATES:-250,500,750,1000,1250,1500,2000,2500,3000,4000,5000,6000,8000}
SECRET=$(openssl rand -hex 32)

# One stack: NAME SWITCH (on|off). Prints "ws http pids db".
start_stack() {
  local name=$1 sw=$2 var=$ROOT/build/bench-s9-$1
  (
    export MESSAGING_VAR=$var
    scripts/stack.sh stop >/dev/null 2>&1 || true
    [ ! -d "$var/pg" ] || scripts/pg.sh destroy "$var/pg" >/dev/null 2>&1
    rm -rf "$var"; mkdir -p "$var"
    read -r http ws < <(scripts/free-ports.sh 2)
    export MESSAGING_HTTP_PORT=$http MESSAGING_WS_PORT=$ws MESSAGING_SEED=0 MESSAGING_GATEWAYS=1
    export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000)) MESSAGING_JWT_SECRET=$SECRET
    export MESSAGING_CONFIG=$var/bench.conf
    printf 'log_level = warn\npresence = %s\ndelivery_receipts = %s\naudit_log = %s\n' "$sw" "$sw" "$sw" >"$MESSAGING_CONFIG"
    [ "$name" = off ] || printf '%b\n' "${BENCH_B_CONF:-}" >>"$MESSAGING_CONFIG"
    # The side-by-side's nginx limit: none per token for a load generator.
    export MESSAGING_RATE_LIMIT=100000r/s MESSAGING_RATE_BURST=100000
    ulimit -n 20000 2>/dev/null
    scripts/stack.sh start >"$var/start.log" 2>&1 || { cat "$var/start.log" >&2; exit 1; }
    local pids
    pids=$(cat "$var"/run/api.pid "$var"/run/gateway-*.pid "$var"/run/nginx.pid | paste -sd+)
    echo "$ws $http $pids $(scripts/pg.sh url "$var/pg" "$MESSAGING_PG_PORT")"
  )
}
stop_stacks() {
  for n in off on; do MESSAGING_VAR=$ROOT/build/bench-s9-$n scripts/stack.sh stop >/dev/null 2>&1; done
}
trap stop_stacks EXIT

echo "bench-section9: starting two stacks (section 9 off, on)" >&2
read -r WS_A HTTP_A PIDS_A DB_A < <(start_stack off off) || exit 1
read -r WS_B HTTP_B PIDS_B DB_B < <(start_stack on on) || exit 1
[ -n "${DB_A:-}" ] && [ -n "${DB_B:-}" ] || { echo "bench-section9: a stack did not start" >&2; exit 1; }
for s in A:"$DB_A" B:"$DB_B"; do
  (cd "$LOAD" && node fixtures.mjs --db "${s#*:}" --secret "$SECRET" --patients 1000 --doctors 100 --messages 100 \
    --out "$OUT/section9-fx-${s%%:*}.json") >/dev/null || exit 1
done
A="label=off,ws=http://127.0.0.1:$WS_A,http=http://127.0.0.1:$HTTP_A,pid=$PIDS_A,fixtures=$OUT/section9-fx-A.json"
B="label=on,ws=http://127.0.0.1:$WS_B,http=http://127.0.0.1:$HTTP_B,pid=$PIDS_B,fixtures=$OUT/section9-fx-B.json"

compare() { # WORKLOAD ROUNDS FLAGS...
  local w=$1 r=$2; shift 2
  echo "bench-section9: $w ($r round(s))" >&2
  (cd "$LOAD" && node compare.mjs --workload "$w" --a "$A" --b "$B" --rounds "$r" --out "$OUT/section9-$w.json" -- "$@") \
    >/dev/null 2>"$OUT/section9-$w.log"
  local rc=$?
  sed -n '/^metric/,$p' "$OUT/section9-$w.log"
  return $rc
}
STEPS=" ${BENCH_STEPS:-connect rest fanout} "
want() { [[ "$STEPS" == *" $1 "* ]]; }
rc=0
want connect && { compare connect 1 --connections "${BENCH_CONNECTIONS:-10000}" --hold 30 --connect-timeout 20 --settle 15 || rc=1; }
want rest && { compare rest "$R" --endpoints messages,unread,conversations,post --duration 10 --warmup 2 --connections 64 || rc=1; }
want fanout && { compare fanout "$R" --conversations 500 --duration 10 --warmup 2 --pause 2 --drain 5 --rate "$RATES" || rc=1; }
# What the gateways did (events out, catch-up reads, transactions):
# build/bench/section9-metrics-off|on.txt.
for t in off:"$WS_A" on:"$WS_B"; do
  curl -fsS "http://127.0.0.1:${t#*:}/metrics" 2>/dev/null |
    grep -E '^messaging_(catchups|catchup_rooms|db_transactions|db_group_commits)_total|^messaging_events_out_total' \
      >"$OUT/section9-metrics-${t%%:*}.txt"
done
exit $rc
