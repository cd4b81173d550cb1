#!/usr/bin/env bash
# What NOTIFY costs on the write path (docs/events.md has the figures).
#
#   t/sql/bench_notify.sh DATABASE_URL [SECONDS] [CLIENTS...]
#
# DATABASE_URL must be a scratch database whose users table is empty (or
# absent): the script applies the migrations, inserts 1,000 patients,
# 100 doctors, 1,000 conversations and 100,000 messages, then runs pgbench
# (prepared statements, 2 threads) for SECONDS (default 10) at each client
# count (default 64 16), with a session LISTENing on messaging_events and
# consuming notifications the whole time, on these scripts:
#   plain        INSERT message + UPDATE conversation (the database's ceiling)
#   off          messaging.send_message(..., p_notify => false)
#   notify       messaging.send_message(..., p_notify => true)
#   doorbell     send_message(p_notify false), then SELECT messaging.doorbell()
#                in its own transaction (one doorbell per message: worst case)
#   coalesced    as off, while one more connection rings messaging.doorbell()
#                every 2 ms (at most ~500 NOTIFY/s, each covering every event
#                committed since the previous one)
# VARIANTS="off notify" restricts the list.
# A 3-second warm-up run is not reported. ROUNDS=N (default 1) repeats the
# whole series N times (the machine may be noisy: quote medians).
# Prints one line per run: round, name, clients, tps, mean latency.
set -euo pipefail
url=${1:?usage: $0 DATABASE_URL [SECONDS] [CLIENTS...]}
secs=${2:-10}
shift $(( $# >= 2 ? 2 : 1 ))
clients=("$@"); [ ${#clients[@]} -gt 0 ] || clients=(64 16)
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd -- "$here/../.." && pwd -P)
PSQL=${PSQL:-$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)}
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
q() { "$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -d "$url" "$@"; }

"$root/scripts/migrate.sh" "$url" >/dev/null
[ "$(q -c 'SELECT count(*) FROM users')" = 0 ] || { echo "$0: users is not empty: give a scratch database" >&2; exit 1; }
q <<'SQL'
INSERT INTO users (role, first_name, last_name, email)
SELECT 'patient', 'Patient' || g, 'Bench' || g, 'bench-p' || g || '@example.test' FROM generate_series(1, 1000) g ORDER BY g;
INSERT INTO users (role, first_name, last_name, email)
SELECT 'medecin', 'Docteur' || g, 'Bench' || g, 'bench-d' || g || '@example.test' FROM generate_series(1, 100) g ORDER BY g;
WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM users WHERE role = 'patient'),
     d AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM users WHERE role = 'medecin'),
     pairs AS (SELECT p.id AS pid, d.id AS did FROM p JOIN d ON d.i = p.i % 100),
     l AS (INSERT INTO patient_doctor SELECT pid, did FROM pairs)
INSERT INTO conversations (patient_id, doctor_id, status) SELECT pid, did, 'active' FROM pairs ORDER BY pid;
INSERT INTO messages (conversation_id, sender_id, content, sent_at, is_read)
SELECT c.id, CASE WHEN g % 2 = 1 THEN c.patient_id ELSE c.doctor_id END,
       'fixture message ' || g || ' of conversation ' || c.id || ': the quick brown fox jumps over the lazy dog',
       now() - (100 - g) * interval '1 second', g <= 96
  FROM conversations c CROSS JOIN generate_series(1, 100) g ORDER BY g, c.id;
VACUUM ANALYZE users; VACUUM ANALYZE patient_doctor; VACUUM ANALYZE conversations; VACUUM ANALYZE messages;
SQL
# Conversation i+clo belongs to patient i+plo (both contiguous).
plo=$(q -c "SELECT min(id) FROM users WHERE role = 'patient'")
clo=$(q -c "SELECT min(id) FROM conversations")
[ "$(q -c "SELECT count(*) FROM conversations WHERE patient_id - $plo <> id - $clo")" = 0 ] || { echo "$0: ids not contiguous" >&2; exit 1; }

dir=$(mktemp -d)
listener=
finish() { [ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$dir"; }
trap finish EXIT
text='pgbench message: the quick brown fox jumps over the lazy dog'
head='\set i random(0, 999)
\set uid :plo + :i
\set cid :clo + :i'
printf '%s\nBEGIN;\nINSERT INTO messages (conversation_id, sender_id, content) VALUES (:cid, :uid, '"'%s'"');\nUPDATE conversations SET last_message_at = now(), updated_at = now() WHERE id = :cid;\nCOMMIT;\n' "$head" "$text" >"$dir/plain.sql"
printf '%s\nSELECT status FROM messaging.send_message(:uid, NULL, :cid, '"'%s'"', NULL, 10000, false);\n' "$head" "$text" >"$dir/off.sql"
printf '%s\nSELECT status FROM messaging.send_message(:uid, NULL, :cid, '"'%s'"', NULL, 10000, true);\n' "$head" "$text" >"$dir/notify.sql"
printf '%s\nSELECT status FROM messaging.send_message(:uid, NULL, :cid, '"'%s'"', NULL, 10000, false);\nSELECT messaging.doorbell();\n' "$head" "$text" >"$dir/doorbell.sql"
cp "$dir/off.sql" "$dir/coalesced.sql"
printf 'SELECT messaging.doorbell();\n\\sleep 2 ms\n' >"$dir/ring.sql"

# A listener that keeps consuming, as a gateway would.
( echo 'LISTEN messaging_events;'; while sleep 0.1; do echo 'SELECT 1;'; done ) | "$PSQL" -X -q -d "$url" >/dev/null 2>&1 &
listener=$!
sleep 0.5

run() { # script clients seconds
  "$PGBENCH" -n -M prepared -c "$2" -j 2 -T "$3" -D plo="$plo" -D clo="$clo" -f "$dir/$1.sql" "$url" 2>&1
}
run off 16 3 >/dev/null
for r in $(seq 1 "${ROUNDS:-1}"); do
  for c in "${clients[@]}"; do
    for s in ${VARIANTS:-plain off notify doorbell coalesced}; do
      ringer=
      if [ "$s" = coalesced ]; then
        "$PGBENCH" -n -M prepared -c 1 -T "$secs" -f "$dir/ring.sql" "$url" >"$dir/ring.out" 2>&1 & ringer=$!
      fi
      out=$(run "$s" "$c" "$secs") || { echo "$out" >&2; exit 1; }
      extra=
      if [ -n "$ringer" ]; then
        wait "$ringer"
        extra=" doorbells_per_s=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$dir/ring.out")"
      fi
      tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
      lat=$(printf '%s\n' "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
      printf 'round=%s %-9s clients=%-3s tps=%-6.0f latency_ms=%s%s\n' "$r" "$s" "$c" "$tps" "$lat" "$extra"
    done
  done
done
