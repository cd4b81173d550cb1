#!/usr/bin/env bash
# The gateway's flush of receipts never waits for a lock
# (messaging.mark_delivered_many, sql/api/60_writes.sql): a conversation
# whose row another transaction holds is handed back with status 409 and
# nothing stored for it; its neighbours in the same call are marked; once
# the lock is gone the same mark moves the marker.
#
#   t/sql/test_receipt_locks.sh DATABASE_URL     (or MESSAGING_DATABASE_URL set)
#
# Expects a migrated database (run after t/sql/test_operations.sh by
# scripts/run-integration.sh); its fixtures carry a random tag and are
# deleted at the end. Prints "sql-receipt-locks: N passed, M failed".
set -uo pipefail

url=${1:-${MESSAGING_DATABASE_URL:-}}
[ -n "$url" ] || { echo "usage: $0 DATABASE_URL" >&2; exit 2; }
. "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

tag=k$(date +%s)$$$RANDOM
holder=
cleanup() {
  [ -z "$holder" ] || kill "$holder" 2>/dev/null
  q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sqllock-$tag'" >/dev/null 2>&1
  delete_fixtures "sqllock-$tag-"
  q -c "DELETE FROM messaging.deliveries d WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = d.conversation_id)" >/dev/null 2>&1
}
trap cleanup EXIT

q >/dev/null <<SQL || { echo "sql-receipt-locks: 0 passed, 1 failed (fixtures)"; exit 1; }
INSERT INTO users (role, first_name, last_name, email) VALUES
  ('patient', 'Lina', 'Locked', 'sqllock-$tag-p@example.test'),
  ('medecin', 'Marc', 'Free',   'sqllock-$tag-d1@example.test'),
  ('medecin', 'Nora', 'Held',   'sqllock-$tag-d2@example.test');
INSERT INTO patient_doctor (patient_id, doctor_id)
SELECT p.id, d.id FROM users p, users d
 WHERE p.email = 'sqllock-$tag-p@example.test' AND d.email IN ('sqllock-$tag-d1@example.test', 'sqllock-$tag-d2@example.test');
SQL
id_of() { q -c "SELECT id FROM users WHERE email = 'sqllock-$tag-$1@example.test'"; }
P=$(id_of p) D1=$(id_of d1) D2=$(id_of d2)
conv() { q -c "SELECT (body::json -> 'conversation' ->> 'id') FROM messaging.create_conversation($P, NULL, $1)"; }
send() { q -c "SELECT (body::json -> 'message' ->> 'id') FROM messaging.send_message($P, NULL, $1, 'hello', NULL, 10000, false)"; }
CF=$(conv "$D1") CH=$(conv "$D2")
MF=$(send "$CF") MH=$(send "$CH")
many="SELECT string_agg(status || ':' || (data::json ->> 'conversationId'), ' ' ORDER BY status)
        FROM messaging.mark_delivered_many(ARRAY[$D1, $D2], ARRAY[$CF, $CH]::bigint[], ARRAY[$MF, $MH]::bigint[])"

# Another transaction holds CH's row (as a send does while it commits).
PGAPPNAME=sqllock-$tag "$PSQL" -X -q -d "$url" -c "BEGIN" \
  -c "SELECT 1 FROM conversations WHERE id = $CH FOR NO KEY UPDATE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 1 200); do
  held=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqllock-$tag' AND query LIKE '%pg_sleep%' AND state = 'active'")
  [ "$held" = 1 ] && break
  q -c "SELECT pg_sleep(0.05)" >/dev/null
done
check "the holder has the row" "$held" 1

started=$(date +%s%N)
check "a locked conversation is handed back (409), its neighbour marked (200)" "$(q -c "$many")" "200:$CF 409:$CH"
waited=$((($(date +%s%N) - started) / 1000000))
check "... without waiting for the lock (${waited} ms)" "$([ "$waited" -lt 5000 ] && echo yes)" yes
check "... nothing stored for the locked one" \
  "$(q -c "SELECT count(*) FROM messaging.deliveries WHERE conversation_id = $CH")" 0
check "... nor an event" \
  "$(q -c "SELECT count(*) FROM messaging.events WHERE conversation_id = $CH AND kind = 'messages_delivered'")" 0

q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sqllock-$tag'" >/dev/null
wait "$holder" 2>/dev/null
holder=
check "the lock gone, the same mark moves the marker" "$(q -c "$many")" "200:$CH"
check "... to the message" \
  "$(q -c "SELECT up_to_id FROM messaging.deliveries WHERE conversation_id = $CH AND user_id = $D2")" "$MH"

echo "sql-receipt-locks: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
