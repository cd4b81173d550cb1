# Sourced by the t/sql/test_*.sh scripts, after `set -uo pipefail` and with
# $url set: psql as q, the TAP-like counters and the removal of fixtures.

PSQL=${PSQL:-$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)}
q() { "$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -d "$url" "$@"; }

pass=0 failed=0
tmp=$(mktemp -d)
ok()     { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
check()  { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }

# delete_fixtures PREFIX: the users whose email starts with PREFIX, their
# conversations, messages and events; then the temporary folder.
delete_fixtures() {
  q >/dev/null 2>&1 <<SQL
SET client_min_messages = warning;
CREATE TEMP TABLE tu AS SELECT id FROM users WHERE email LIKE '$1%';
CREATE TEMP TABLE tc AS SELECT id FROM conversations WHERE patient_id IN (SELECT id FROM tu) OR doctor_id IN (SELECT id FROM tu);
DELETE FROM messaging.events WHERE conversation_id IN (SELECT id FROM tc);
DELETE FROM messages WHERE conversation_id IN (SELECT id FROM tc);
DELETE FROM conversations WHERE id IN (SELECT id FROM tc);
DELETE FROM patient_doctor WHERE patient_id IN (SELECT id FROM tu) OR doctor_id IN (SELECT id FROM tu);
DELETE FROM users WHERE id IN (SELECT id FROM tu);
SQL
  rm -rf "$tmp"
}
