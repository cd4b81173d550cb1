#!/usr/bin/env bash
# Tests of the SQL side of API.md sections 7 and 8 that the operations'
# tests do not cover: revocation (sql/020: revoke_user, token_revoked,
# token_check, authenticate with iat, its NOTIFY) and a read that marks
# nothing (sql/013: no event).
#
#   t/sql/test_revocation.sh DATABASE_URL     (or MESSAGING_DATABASE_URL set)
#
# Expects a migrated database (run after t/sql/test_operations.sh by
# scripts/run-integration.sh); its fixtures carry a random tag and are
# deleted at the end. Prints "sql-revocation: N passed, M failed".
set -uo pipefail

url=${1:-${MESSAGING_DATABASE_URL:-}}
[ -n "$url" ] || { echo "usage: $0 DATABASE_URL" >&2; exit 2; }
. "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

tag=r$(date +%s)$$$RANDOM
cleanup() { delete_fixtures "sqlrev-$tag-"; }
trap cleanup EXIT

q >/dev/null <<SQL || { echo "sql-revocation: 0 passed, 1 failed (fixtures)"; exit 1; }
INSERT INTO users (role, first_name, last_name, email) VALUES
  ('patient', 'Rose', 'Revoked', 'sqlrev-$tag-p@example.test'),
  ('medecin', 'Paul', 'Other',   'sqlrev-$tag-d@example.test');
INSERT INTO patient_doctor (patient_id, doctor_id)
SELECT p.id, d.id FROM users p, users d
 WHERE p.email = 'sqlrev-$tag-p@example.test' AND d.email = 'sqlrev-$tag-d@example.test';
SQL
P=$(q -c "SELECT id FROM users WHERE email = 'sqlrev-$tag-p@example.test'")
D=$(q -c "SELECT id FROM users WHERE email = 'sqlrev-$tag-d@example.test'")
NOBODY=$(q -c "SELECT coalesce(max(id), 0) + 1000000 FROM users")
NOW=$(q -c "SELECT floor(extract(epoch FROM now()))::bigint")

# ---------------------------------------------------------------- before
check "authenticate with an iat, nobody revoked: 200" "$(q -c "SELECT status FROM messaging.authenticate($P, NULL, $((NOW - 60)))")" 200
check "authenticate without iat, nobody revoked: 200" "$(q -c "SELECT status FROM messaging.authenticate($P, 'patient', NULL)")" 200
check "token_check of a user never revoked: true" "$(q -c "SELECT messaging.token_check($P, NULL)")" t
check "revoke_user of a user that does not exist: NULL, nothing recorded" \
  "$(q -c "SELECT messaging.revoke_user($NOBODY) IS NULL AND NOT EXISTS (SELECT 1 FROM messaging.revocations WHERE user_id = $NOBODY)")" t
check "authenticate still refuses an unknown user first" "$(q -c "SELECT body::json->'error'->>'message' FROM messaging.authenticate($NOBODY, NULL, $NOW)")" "Unknown user"

# ---------------------------------------------------------------- revoke, with its NOTIFY
"$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -d "$url" >"$tmp/notify" 2>&1 <<SQL
LISTEN messaging_events;
SELECT extract(epoch FROM messaging.revoke_user($P));
SELECT 1;
SQL
payload=$(sed -n 's/^Asynchronous notification "messaging_events" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$tmp/notify")
check "revoke_user: NOTIFY messaging_events with exactly the tagged payload" "$payload" "{\"t\":\"revoke\",\"userId\":$P}"
AT=$(q -c "SELECT extract(epoch FROM revoked_at) FROM messaging.revocations WHERE user_id = $P")
check "revoke_user: returned the moment it recorded" "$(head -n 1 "$tmp/notify")" "$AT"
CEIL=$(q -c "SELECT ceil(extract(epoch FROM revoked_at))::bigint FROM messaging.revocations WHERE user_id = $P")

# ---------------------------------------------------------------- after
st() { q -c "SELECT status || ' ' || coalesce(body::json->'error'->>'message', 'ok') FROM messaging.authenticate($P, NULL, $1)"; }
check "authenticate: a token issued before the revocation is refused" "$(st $((CEIL - 5)))" "401 Token revoked"
check "authenticate: a token of the revocation's second is refused (it may be older)" "$(st $((CEIL - 1)))" "401 Token revoked"
check "authenticate: a token without iat is refused" "$(st NULL)" "401 Token revoked"
check "authenticate: a token issued after it works" "$(st "$CEIL")" "200 ok"
check "authenticate of 006's form (no iat) is refused too" "$(q -c "SELECT status FROM messaging.authenticate($P, NULL)")" 401
check "token_revoked: the one rule" \
  "$(q -c "SELECT messaging.token_revoked($P, $((CEIL - 1)))::text || messaging.token_revoked($P, $CEIL)::text || messaging.token_revoked($P, NULL)::text || messaging.token_revoked($D, NULL)::text")" \
  "truefalsetruefalse"
state=$(q -c "DO \$\$ BEGIN PERFORM messaging.token_check($P, $((CEIL - 1))); RAISE NOTICE 'none'; EXCEPTION WHEN others THEN RAISE NOTICE 'state=%', SQLSTATE; END \$\$" 2>&1 | sed -n 's/.*state=\([0-9A-Z]*\).*/\1/p')
check "token_check of a revoked token raises SQLSTATE 28000" "$state" 28000
check "token_check of a later token: true" "$(q -c "SELECT messaging.token_check($P, $CEIL)")" t
check "another user is not affected" "$(q -c "SELECT status FROM messaging.authenticate($D, NULL, NULL)")" 200
check "a role mismatch is still a role mismatch" \
  "$(q -c "SELECT body::json->'error'->>'message' FROM messaging.authenticate($P, 'medecin', $CEIL)")" "Token role does not match the user"
# Again, later: the moment moves forward, never back.
q -c "SELECT pg_sleep(0.01)" >/dev/null
q -c "SELECT messaging.revoke_user($P)" >/dev/null
check "revoke_user again: the moment moves forward" \
  "$(q -c "SELECT extract(epoch FROM revoked_at) > $AT FROM messaging.revocations WHERE user_id = $P")" t
check "one row per user" "$(q -c "SELECT count(*) FROM messaging.revocations WHERE user_id = $P")" 1

# ---------------------------------------------------------------- a read that marks nothing
C=$(q -c "SELECT (messaging.create_conversation($P, NULL, $D)).body::json->'conversation'->>'id'")
q -c "SELECT messaging.send_message($P, NULL, $C, 'one', NULL, 10000, false)" >/dev/null
q -c "SELECT messaging.send_message($P, NULL, $C, 'two', NULL, 10000, false)" >/dev/null
E0=$(q -c "SELECT coalesce(max(id), 0) FROM messaging.events WHERE conversation_id = $C")
check "mark_read that marks 2: updatedCount 2" "$(q -c "SELECT body::json->>'updatedCount' FROM messaging.mark_read($D, NULL, $C, false)")" 2
check "... and one messages_read event" \
  "$(q -c "SELECT count(*) || ' ' || min(kind) || ' ' || min(payload::json->>'updatedCount') FROM messaging.events WHERE conversation_id = $C AND id > $E0")" "1 messages_read 2"
E1=$(q -c "SELECT max(id) FROM messaging.events WHERE conversation_id = $C")
check "mark_read again: 200, updatedCount 0" \
  "$(q -c "SELECT status || ' ' || (body::json->>'updatedCount') FROM messaging.mark_read($D, NULL, $C, true)")" "200 0"
check "... and no event" "$(q -c "SELECT count(*) FROM messaging.events WHERE conversation_id = $C AND id > $E1")" 0
check "the other side's read of its own messages marks nothing: no event" \
  "$(q -c "SELECT (body::json->>'updatedCount') || ' ' || (SELECT count(*) FROM messaging.events WHERE conversation_id = $C AND id > $E1) FROM messaging.mark_read($P, NULL, $C, false)")" "0 0"
# Deleting a user takes its revocation with it.
X=$(q -c "INSERT INTO users (role, first_name, last_name, email) VALUES ('patient', 'X', 'Gone', 'sqlrev-$tag-x@example.test') RETURNING id")
q -c "SELECT messaging.revoke_user($X)" >/dev/null
q -c "DELETE FROM users WHERE id = $X" >/dev/null
check "a deleted user's revocation goes with it" "$(q -c "SELECT count(*) FROM messaging.revocations WHERE user_id = $X")" 0
echo "sql-revocation: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
