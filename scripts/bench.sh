#!/usr/bin/env bash
# make bench: the REST benchmark through nginx with keep-alive (wrk), against
# a private stack on free loopback ports with P patients, D doctors and M
# messages per conversation, and PostgreSQL's own ceiling for storing a
# message (pgbench, the same INSERT + UPDATE, same concurrency). Then the
# protocol benchmarks when they are built. Results: build/bench/*.json.
#
# Environment: BENCH_PATIENTS (1000), BENCH_DOCTORS (100), BENCH_MESSAGES (100),
# BENCH_CONNECTIONS (64), BENCH_DURATION (10 s), BENCH_ROUNDS (3: medians),
# BENCH_WORKERS (API workers, default from the configuration).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
P=${BENCH_PATIENTS:-1000} D=${BENCH_DOCTORS:-100} M=${BENCH_MESSAGES:-100}
C=${BENCH_CONNECTIONS:-64} T=${BENCH_DURATION:-10} R=${BENCH_ROUNDS:-3}
OUT=$ROOT/build/bench
mkdir -p "$OUT"
command -v wrk >/dev/null && command -v pgbench >/dev/null || scripts/deps.sh --test

export MESSAGING_VAR=$ROOT/build/bench-var
scripts/stack.sh stop >/dev/null 2>&1 || true
[ ! -d "$MESSAGING_VAR/pg" ] || scripts/pg.sh destroy "$MESSAGING_VAR/pg" >/dev/null 2>&1
rm -rf "$MESSAGING_VAR"; mkdir -p "$MESSAGING_VAR"
read -r HTTP_PORT WS_PORT < <(scripts/free-ports.sh 2)
export MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT MESSAGING_SEED=0
export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
export MESSAGING_JWT_SECRET=$(openssl rand -hex 32)
export MESSAGING_CONFIG=$MESSAGING_VAR/bench.conf
printf 'log_level = warn\nws_db_connections = %s\n' "${BENCH_WS_DB:-4}" >"$MESSAGING_CONFIG"
[ -n "${BENCH_WORKERS:-}" ] && printf 'api_workers = %s\n' "$BENCH_WORKERS" >>"$MESSAGING_CONFIG"
trap 'scripts/stack.sh stop >/dev/null 2>&1' EXIT

echo "bench: starting the stack (release build)" >&2
scripts/stack.sh start >"$MESSAGING_VAR/start.log" 2>&1 || { cat "$MESSAGING_VAR/start.log" >&2; exit 1; }
DB=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
BASE=http://127.0.0.1:$HTTP_PORT

echo "bench: fixtures: $P patients, $D doctors, $M messages per conversation" >&2
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v patients="$P" -v doctors="$D" -v messages="$M" \
  -v tag="$(date +%s)" -v out="$MESSAGING_VAR/pairs.txt" -f t/bench/fixtures.sql >/dev/null || exit 1
while read -r uid conv; do
  printf '%s %s\n' "$(tools/msg-token "$uid")" "$conv"
done <"$MESSAGING_VAR/pairs.txt" >"$MESSAGING_VAR/users.txt"
echo "bench: $(wc -l <"$MESSAGING_VAR/users.txt") users with tokens, $(psql -X -At -d "$DB" -c 'SELECT count(*) FROM messages') messages" >&2

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run_wrk() { # ENDPOINT -> one JSON line per round in $OUT/rest-ENDPOINT.jsonl
  local ep=$1 i
  : >"$OUT/rest-$ep.jsonl"
  ENDPOINT=$ep BENCH_USERS=$MESSAGING_VAR/users.txt wrk -t2 -c"$C" -d2s -s t/bench/rest.lua "$BASE" >/dev/null 2>&1
  for ((i = 0; i < R; i++)); do
    ENDPOINT=$ep BENCH_USERS=$MESSAGING_VAR/users.txt wrk -t2 -c"$C" -d"${T}s" -s t/bench/rest.lua "$BASE" 2>&1 |
      grep '^{' >>"$OUT/rest-$ep.jsonl"
  done
}

field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# The database's ceiling for storing a message, same concurrency.
read -r LO HI < <(psql -X -At -F ' ' -d "$DB" -c 'SELECT min(id), max(id) FROM conversations')
cat >"$MESSAGING_VAR/ceiling.sql" <<EOT
\set cid random($LO, $HI)
BEGIN;
INSERT INTO messages (conversation_id, sender_id, content) SELECT id, patient_id, 'pgbench ceiling message: the quick brown fox jumps over the lazy dog' FROM conversations WHERE id = :cid;
UPDATE conversations SET last_message_at = now(), updated_at = now() WHERE id = :cid;
COMMIT;
EOT
run_pgbench() {
  local i
  : >"$OUT/pg-ceiling.txt"
  for ((i = 0; i < R; i++)); do
    pgbench -n -M prepared -f "$MESSAGING_VAR/ceiling.sql" -c "$C" -j 2 -T "$T" "$DB" 2>/dev/null |
      sed -nE 's/^tps = ([0-9.]+).*/\1/p' >>"$OUT/pg-ceiling.txt"
  done
}

{
  echo "| what ($C connections, ${T}s x $R rounds, medians) | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---|---|---|---|"
} >"$OUT/rest.md"
for ep in messages unread post; do
  echo "bench: wrk $ep" >&2
  run_wrk "$ep"
  rps=$(field rps <"$OUT/rest-$ep.jsonl" | median)
  p50=$(field p50_ms <"$OUT/rest-$ep.jsonl" | median)
  p99=$(field p99_ms <"$OUT/rest-$ep.jsonl" | median)
  bad=$(field non2xx <"$OUT/rest-$ep.jsonl" | awk '{s+=$1} END {print s+0}')
  echo "| $ep | $rps | $p50 | $p99 | $bad |" >>"$OUT/rest.md"
  eval "RPS_$ep=$rps"
done
echo "bench: pgbench ceiling" >&2
run_pgbench
ceiling=$(median <"$OUT/pg-ceiling.txt")
echo "| PostgreSQL ceiling (pgbench INSERT + UPDATE) | $ceiling tps | | | |" >>"$OUT/rest.md"
ratio=$(awk -v a="$RPS_post" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
echo >>"$OUT/rest.md"
echo "POST / ceiling: $ratio" >>"$OUT/rest.md"
cat "$OUT/rest.md"

# ------------------------------------------------------------ the access log's cost
# GET .../messages with audit_log on and off, side by side (alternating
# rounds, medians): the API re-reads its configuration on SIGHUP.
audit_set() { # on|off: every worker on the new setting before returning
  local want=$1 i k n0 n1 pid
  sed -i '/^audit_log *=/d' "$MESSAGING_CONFIG"; echo "audit_log = $want" >>"$MESSAGING_CONFIG"
  pid=$(cat "$MESSAGING_VAR/run/api.pid"); kill -HUP "$pid"
  read -r tok conv <"$MESSAGING_VAR/users.txt"
  for ((i = 0; i < 200; i++)); do
    n0=$(psql -X -At -d "$DB" -c 'SELECT count(*) FROM messaging.audit_log')
    for ((k = 0; k < 16; k++)); do
      curl -s -o /dev/null -H "Authorization: Bearer $tok" "$BASE/api/messaging/conversations/$conv/messages?limit=1"
    done
    n1=$(psql -X -At -d "$DB" -c 'SELECT count(*) FROM messaging.audit_log')
    if { [ "$want" = on ] && [ $((n1 - n0)) -eq 16 ]; } || { [ "$want" = off ] && [ "$n1" = "$n0" ]; }; then return 0; fi
    sleep 0.1
  done
  echo "bench: audit_log = $want did not take effect" >&2; return 1
}
: >"$OUT/audit-on.jsonl"; : >"$OUT/audit-off.jsonl"
for ((r = 0; r < R; r++)); do
  for mode in off on; do
    echo "bench: GET messages, audit_log = $mode (round $((r + 1)))" >&2
    audit_set "$mode" || break 2
    ENDPOINT=messages BENCH_USERS=$MESSAGING_VAR/users.txt wrk -t2 -c"$C" -d"${T}s" -s t/bench/rest.lua "$BASE" 2>&1 |
      grep '^{' >>"$OUT/audit-$mode.jsonl"
  done
done
audit_set on || true
AON=$(field rps <"$OUT/audit-on.jsonl" | median); AOFF=$(field rps <"$OUT/audit-off.jsonl" | median)
{
  echo "| GET .../messages ($C connections, ${T}s x $R rounds, alternating, medians) | req/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|"
  echo "| audit_log = off | $AOFF | $(field p50_ms <"$OUT/audit-off.jsonl" | median) | $(field p99_ms <"$OUT/audit-off.jsonl" | median) |"
  echo "| audit_log = on | $AON | $(field p50_ms <"$OUT/audit-on.jsonl" | median) | $(field p99_ms <"$OUT/audit-on.jsonl" | median) |"
  echo
  echo "on / off: $(awk -v a="$AON" -v b="$AOFF" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }') (the target: at least 0.85)"
} >"$OUT/audit.md"
cat "$OUT/audit.md"
[ -z "${BENCH_AUDIT_ONLY:-}" ] || exit 0

# ------------------------------------------------------------ Socket.IO
# One gateway (the stack's first): joined WebSocket connections and its
# memory per connection, then fan-out (send_message -> new_message at the
# other participant) at rising rates.
GW_PID=$(cat "$MESSAGING_VAR/run/gateway-0.pid")
SIO_N=${BENCH_SIO_CONNECTIONS:-19000}
echo "bench: Socket.IO: $SIO_N joined connections on one gateway" >&2
(cd t && node bench/sio-load.mjs connect --url "http://127.0.0.1:$WS_PORT" --users "$MESSAGING_VAR/users.txt" \
   --n "$SIO_N" --pid "$GW_PID" --hold "${BENCH_HOLD:-10}") >"$OUT/sio-connect.json" || echo '{}' >"$OUT/sio-connect.json"
cat "$OUT/sio-connect.json"
psql -X -At -F ' ' -d "$DB" -c "SELECT patient_id, doctor_id, id FROM conversations ORDER BY id LIMIT ${BENCH_FANOUT_CONVERSATIONS:-500}" |
  while read -r p d c; do printf '%s %s %s\n' "$(tools/msg-token "$p")" "$(tools/msg-token "$d")" "$c"; done >"$MESSAGING_VAR/pairs.txt"
echo "bench: Socket.IO fan-out" >&2
(cd t && node bench/sio-load.mjs fanout --url "http://127.0.0.1:$WS_PORT" --pairs "$MESSAGING_VAR/pairs.txt" \
   --rates "${BENCH_FANOUT_RATES:-500,1000,2000,3000,4000,5000,6000,8000}" --duration "${BENCH_FANOUT_DURATION:-5}") \
   >"$OUT/sio-fanout.json" || echo '{}' >"$OUT/sio-fanout.json"
cat "$OUT/sio-fanout.json"
scripts/stack.sh stop >/dev/null 2>&1
trap - EXIT

# The protocol layers' own benchmarks, when built.
if grep -q '^bench-protocol:' ws-gateway/protocol.mk 2>/dev/null; then
  make --no-print-directory bench-protocol
fi
