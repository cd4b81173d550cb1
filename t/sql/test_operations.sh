#!/usr/bin/env bash
# Tests of the SQL side: migrations, every operation of sql/ (through
# t/sql/test_operations.sql), NOTIFY payloads, idempotent clientId under
# concurrency, and the per-conversation ordering of the event log.
#
#   t/sql/test_operations.sh DATABASE_URL     (or MESSAGING_DATABASE_URL set)
#
# Applies the migrations first. Works on a database that holds other data:
# its fixtures carry a random tag and are deleted at the end (their events
# too). Prints "sql: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

url=${1:-${MESSAGING_DATABASE_URL:-}}
[ -n "$url" ] || { echo "usage: $0 DATABASE_URL" >&2; exit 2; }
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd -- "$here/../.." && pwd -P)
. "$here/lib.sh"
# qv 'SQL with :'"'"'var'"'"'' -v var=value ...: psql interpolates variables only in
# what it reads, not in -c.
qv() { local sql=$1; shift; printf '%s\n' "$sql" | q "$@"; }

# ---------------------------------------------------------------- migrations
if out=$("$root/scripts/migrate.sh" "$url" 2>&1); then ok "migrate.sh applies"; else not_ok "migrate.sh applies: $out"; fi
out=$("$root/scripts/migrate.sh" "$url" 2>&1)
check "migrate.sh again applies nothing" "$(printf '%s\n' "$out" | tail -n 1 | sed 's/, .*//')" "migrations: 0 applied"
nfiles=$(ls "$root"/sql/[0-9]*.sql | wc -l)
check "every migration recorded" "$(q -c "SELECT count(*) FROM messaging.schema_migrations WHERE version IN ($(for f in "$root"/sql/[0-9]*.sql; do printf "'%s'," "$(basename "$f" .sql)"; done | sed 's/,$//'))")" "$nfiles"
# Each file is safe to run twice (the application may already have the
# tables; sql/api runs at every migrate.sh).
twice=ok
for f in "$root"/sql/[0-9]*.sql "$root"/sql/api/*.sql; do
  q --single-transaction -c 'SET client_min_messages = warning' -f "$f" >/dev/null 2>"$tmp/err" || { twice="$(basename "$f"): $(head -c 300 "$tmp/err")"; break; }
done
check "each migration file runs again without error" "$twice" ok
# Two concurrent runs on an already migrated database do not race.
"$root/scripts/migrate.sh" "$url" >"$tmp/m1" 2>&1 & m1=$!
"$root/scripts/migrate.sh" "$url" >"$tmp/m2" 2>&1 & m2=$!
if wait $m1 && wait $m2; then ok "concurrent migrate.sh runs"; else not_ok "concurrent migrate.sh runs: $(cat "$tmp/m1" "$tmp/m2")"; fi

# ---------------------------------------------------------------- fixtures
tag=t$(date +%s)$$$RANDOM
cleanup() { delete_fixtures "sqltest-$tag-"; }
trap cleanup EXIT

q >/dev/null <<SQL || { echo "sql: fixtures failed"; exit 1; }
INSERT INTO users (role, first_name, last_name, email) VALUES
  ('patient', 'Hélène', 'Dubois',   'sqltest-$tag-p1@example.test'),
  ('patient', 'Zoé',    'Lefèvre',  'sqltest-$tag-p2@example.test'),
  ('patient', 'Anaïs',  'Bézier',   'sqltest-$tag-p3@example.test'),
  ('medecin', 'Élise',  'Martin',   'sqltest-$tag-d1@example.test'),
  ('medecin', 'Jérôme', 'Caron',    'sqltest-$tag-d2@example.test'),
  ('medecin', 'Benoît', 'Rousseau', 'sqltest-$tag-d3@example.test');
INSERT INTO patient_doctor (patient_id, doctor_id)
SELECT p.id, d.id FROM users p, users d
 WHERE (p.email, d.email) IN (('sqltest-$tag-p1@example.test', 'sqltest-$tag-d1@example.test'),
                              ('sqltest-$tag-p1@example.test', 'sqltest-$tag-d2@example.test'),
                              ('sqltest-$tag-p2@example.test', 'sqltest-$tag-d1@example.test'),
                              ('sqltest-$tag-p2@example.test', 'sqltest-$tag-d3@example.test'),
                              ('sqltest-$tag-p3@example.test', 'sqltest-$tag-d1@example.test'));
SQL
id_of() { q -c "SELECT id FROM users WHERE email = 'sqltest-$tag-$1@example.test'"; }
P2=$(id_of p2); D3=$(id_of d3); D1=$(id_of d1)

# ---------------------------------------------------------------- the operations
# run_sql NAME: t/sql/test_NAME.sql with the fixtures' tag, its "ok -" and
# "not ok -" lines counted; a script that stops is a failure.
run_sql() {
  "$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -v tag="$tag" -d "$url" -f "$here/test_$1.sql" >"$tmp/$1" 2>"$tmp/$1.err"
  local rc=$?
  cat "$tmp/$1"
  pass=$((pass + $(grep -c '^ok - ' "$tmp/$1")))
  failed=$((failed + $(grep -c '^not ok - ' "$tmp/$1")))
  if [ $rc -ne 0 ]; then not_ok "test_$1.sql stopped: $(head -c 500 "$tmp/$1.err")"; fi
}

run_sql operations
# The access log (sql/040_audit.sql), same fixtures.
run_sql audit
# Presence and delivery markers (sql/041, sql/043), same fixtures.
run_sql presence

# A conversation of its own for what follows: p2 with d3.
C=$(q -c "SELECT (messaging.create_conversation($P2, NULL, $D3)).body::json->'conversation'->>'id'")
C2=$(q -c "SELECT (messaging.create_conversation($P2, NULL, $D1)).body::json->'conversation'->>'id'")

# ---------------------------------------------------------------- NOTIFY
# psql prints 'Asynchronous notification "messaging_events" with payload "..." ...'
notifications() {
  sed -n 's/^Asynchronous notification "messaging_events" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p'
}
big=$(printf 'é%.0s' $(seq 1 5000))   # 10000 bytes: the event does not fit in 8000
"$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -d "$url" >"$tmp/notify" 2>&1 <<SQL
LISTEN messaging_events;
SELECT (messaging.send_message($P2, NULL, $C, 'notifié', 'n-1', 10000, true)).status;
SELECT (messaging.send_message($P2, NULL, $C, 'notifié', 'n-1', 10000, true)).status;
SELECT (messaging.send_message($P2, NULL, $C, 'sans notify', NULL, 10000, false)).status;
SELECT (messaging.send_message($P2, NULL, $C, '$big', NULL, 10000, true)).status;
SELECT (messaging.mark_read($D3, NULL, $C, true)).status;
SELECT messaging.doorbell() > 0;
SELECT messaging.ring(ARRAY[$C, $C2]) > 0;
SELECT 1;
SQL
notifications <"$tmp/notify" >"$tmp/payloads"
check "notify: one bell per event written with p_notify, one per doorbell" "$(wc -l <"$tmp/payloads" | tr -d ' ')" 5
p1=$(sed -n 1p "$tmp/payloads"); p2=$(sed -n 2p "$tmp/payloads"); p3=$(sed -n 3p "$tmp/payloads")
p4=$(sed -n 4p "$tmp/payloads"); p5=$(sed -n 5p "$tmp/payloads")
check "notify: a write's bell names its conversation" "$p1" "{\"t\" : \"bell\", \"origin\" : \"db\", \"conversations\" : [$C]}"
check "notify: a large message rings the same small bell" "$p2" "$p1"
check "notify: messages_read rings too" "$p3" "$p1"
check "notify: doorbell() names nothing (every conversation)" "$p4" '{"t" : "bell", "origin" : "api"}'
check "notify: ring(conversations) names them" "$p5" "{\"t\" : \"bell\", \"origin\" : \"api\", \"conversations\" : [$C,$C2]}"
check "notify: the event of a large message reads whole" \
  "$(qv "SELECT char_length(payload::json->'message'->>'content') FROM messaging.session_replay(ARRAY[(SELECT max(id) FROM messaging.events WHERE conversation_id = :c AND kind = 'new_message')], NULL, NULL, 1)" -v c="$C")" \
  5000

# ---------------------------------------------------------------- same clientId at the same instant
# 1) Held apart by a lock on the conversation, then released at once.
"$PSQL" -X -q -tA -d "$url" -c "BEGIN; SELECT 1 FROM conversations WHERE id = $C FOR UPDATE; SELECT pg_sleep(1); COMMIT;" >/dev/null 2>&1 & holder=$!
sleep 0.3
for i in 1 2 3; do
  q -c "SELECT status || ' ' || (body::json->'message'->>'id') FROM messaging.send_message($P2, NULL, $C, 'double', 'same-instant', 10000, false)" >"$tmp/dup$i" 2>&1 &
done
wait
check "same clientId, concurrent: one 201, the others 200" "$(cut -d' ' -f1 "$tmp"/dup? | sort | tr '\n' ' ')" "200 200 201 "
check "same clientId, concurrent: the same message for all" "$(cut -d' ' -f2 "$tmp"/dup? | sort -u | wc -l | tr -d ' ')" 1
check "same clientId, concurrent: stored once" "$(q -c "SELECT count(*) FROM messages WHERE conversation_id = $C AND client_id = 'same-instant'")" 1
check "same clientId, concurrent: one event" "$(q -c "SELECT count(*) FROM messaging.events e JOIN messages m ON m.id = e.message_id WHERE e.conversation_id = $C AND m.client_id = 'same-instant'")" 1
# 2) Simply fired together, many times.
for k in $(seq 1 20); do
  for i in 1 2; do q -c "SELECT status FROM messaging.send_message($P2, NULL, $C, 'race', 'race-$k', 10000, false)" >"$tmp/race$k.$i" 2>&1 & done
done
wait
check "same clientId fired together x20: one 201 and one 200 each" "$(for k in $(seq 1 20); do cat "$tmp/race$k.1" "$tmp/race$k.2" | sort | tr '\n' ' '; echo; done | sort -u)" "200 201 "
check "same clientId fired together x20: stored once each" "$(q -c "SELECT count(*) FROM messages WHERE conversation_id = $C AND client_id LIKE 'race-%'")" 20

# ---------------------------------------------------------------- ordering under concurrency
# Writers send into two conversations at once while a reader follows each
# conversation with events_since_each(its last seen id). If an event
# could commit after a later one of the same conversation, the reader would
# skip it and never reach the total.
writers=4 per=100
base=$(q -c "SELECT coalesce(max(id), 0) FROM messaging.events")
# The reader follows both conversations until it has read the END message
# of each, sent once every writer is done; then it must have read every
# event written (a read that marks nothing writes none: the count is the
# table's).
q >"$tmp/reader" 2>&1 <<SQL &
DO \$\$
DECLARE
  last_c bigint := $base; last_c2 bigint := $base; seen bigint := 0; ends int := 0; n bigint; m bigint; e int;
  t0 timestamptz := clock_timestamp();
BEGIN
  WHILE ends < 2 AND clock_timestamp() < t0 + interval '60 seconds' LOOP
    SELECT count(*), max(x.id), count(*) FILTER (WHERE x.payload::json->'message'->>'content' = 'END')
      INTO n, m, e FROM messaging.events_since_each(ARRAY[$C], ARRAY[last_c], 1000) x;
    IF n > 0 THEN seen := seen + n; last_c := m; ends := ends + e; END IF;
    SELECT count(*), max(x.id), count(*) FILTER (WHERE x.payload::json->'message'->>'content' = 'END')
      INTO n, m, e FROM messaging.events_since_each(ARRAY[$C2], ARRAY[last_c2], 1000) x;
    IF n > 0 THEN seen := seen + n; last_c2 := m; ends := ends + e; END IF;
  END LOOP;
  RAISE NOTICE 'seen=%', seen;
END \$\$;
SQL
reader_pid=$!
pids=()
for w in $(seq 1 $writers); do
  ( for i in $(seq 1 $per); do
      if [ $((i % 3)) -eq 0 ]; then echo "SELECT (messaging.mark_read($D3, NULL, $C, false)).status;"
      else echo "SELECT (messaging.send_message($P2, NULL, $(( i % 2 ? C : C2 )), 'order $w.$i', NULL, 10000, false)).status;"; fi
    done ) | q >/dev/null 2>"$tmp/w$w.err" &
  pids+=($!)
done
wait "${pids[@]}"
q -c "SELECT (messaging.send_message($P2, NULL, $C, 'END', NULL, 10000, false)).status" >/dev/null
q -c "SELECT (messaging.send_message($P2, NULL, $C2, 'END', NULL, 10000, false)).status" >/dev/null
wait "$reader_pid"
reader=$(cat "$tmp/reader")
expected=$(q -c "SELECT count(*) FROM messaging.events WHERE id > $base AND conversation_id IN ($C, $C2)")
check "per-conversation reader resuming from its last id misses nothing" "$(printf '%s\n' "$reader" | sed -n 's/.*seen=\([0-9]*\).*/\1/p')" "$expected"
check "writers succeeded" "$(cat "$tmp"/w*.err)" ""
check "event order = message id order in each conversation" \
  "$(q -c "SELECT count(*) FROM (SELECT (payload::json->'message'->>'id')::bigint AS mid, lag((payload::json->'message'->>'id')::bigint) OVER (PARTITION BY conversation_id ORDER BY id) AS prev FROM messaging.events WHERE id > $base AND kind = 'new_message') s WHERE mid < prev")" 0

echo "sql: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
