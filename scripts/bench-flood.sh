#!/usr/bin/env bash
# make bench-flood (and make bench): one socket floods the gateway with
# send_message at FLOOD_RATE events/s (default 5000) while another pair's
# send-to-deliver latency is measured, without and then with the flood
# (API.md section 8; target: p99 with the flood within 2x of without).
# A private stack on free loopback ports, release build. Prints one JSON
# line, also in build/bench/flood.json.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
OUT=$ROOT/build/bench
mkdir -p "$OUT"
[ -d t/node_modules ] || scripts/deps.sh --test
export MESSAGING_VAR=$ROOT/build/bench-flood-var
scripts/stack.sh stop >/dev/null 2>&1 || true
[ ! -d "$MESSAGING_VAR/pg" ] || scripts/pg.sh destroy "$MESSAGING_VAR/pg" >/dev/null 2>&1
rm -rf "$MESSAGING_VAR"; mkdir -p "$MESSAGING_VAR"
read -r HTTP_PORT WS_PORT < <(scripts/free-ports.sh 2)
export MESSAGING_HTTP_PORT=$HTTP_PORT MESSAGING_WS_PORT=$WS_PORT MESSAGING_SEED=0 MESSAGING_GATEWAYS=1
export MESSAGING_PG_PORT=$((20000 + RANDOM % 20000))
export MESSAGING_JWT_SECRET=$(openssl rand -hex 32)
export MESSAGING_CONFIG=$MESSAGING_VAR/bench.conf
printf 'log_level = warn\n' >"$MESSAGING_CONFIG"
trap 'scripts/stack.sh stop >/dev/null 2>&1' EXIT
echo "bench-flood: starting the stack" >&2
scripts/stack.sh start >"$MESSAGING_VAR/start.log" 2>&1 || { cat "$MESSAGING_VAR/start.log" >&2; exit 1; }
DB=$(scripts/pg.sh url "$MESSAGING_VAR/pg" "$MESSAGING_PG_PORT")
# Two pairs with a conversation each: the measured one, and the flooder's.
read -r p1 d1 c1 p2 d2 c2 < <(psql -X -At -F' ' -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' | tail -n 1
WITH u AS (INSERT INTO users (role, first_name, last_name)
           VALUES ('patient','Flood','P1'), ('medecin','Flood','D1'), ('patient','Flood','P2'), ('medecin','Flood','D2')
           RETURNING id, role, last_name),
     l AS (INSERT INTO patient_doctor (patient_id, doctor_id)
           SELECT p.id, d.id FROM u p JOIN u d ON d.last_name = 'D' || substr(p.last_name, 2) WHERE p.role = 'patient'
           RETURNING patient_id, doctor_id),
     c AS (INSERT INTO conversations (patient_id, doctor_id, status) SELECT patient_id, doctor_id, 'active' FROM l
           RETURNING id, patient_id, doctor_id)
SELECT string_agg(patient_id || ' ' || doctor_id || ' ' || id, ' ' ORDER BY id) FROM c;
SQL
)
tok() { "$ROOT/tools/msg-token" "$1"; }
echo "bench-flood: pair $p1/$d1 in $c1 measured, $p2 floods $c2 at ${FLOOD_RATE:-5000}/s" >&2
(cd t && node bench/flood.mjs "http://127.0.0.1:$WS_PORT" "$(tok "$p1")" "$(tok "$d1")" "$c1" "$(tok "$p2")" "$c2") |
  tee "$OUT/flood.json"
