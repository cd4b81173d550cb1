#!/usr/bin/env bash
# msgctl against the ops tests' stack (run by t/ops/run.sh, which sets
# MSG_DB_URL, MESSAGING_CONFIG, MESSAGING_JWT_SECRET, MESSAGING_BIN_DIR,
# MSG_GATEWAYS, OPS_T and OPS_API_URL). Prints "ok - ..." / "not ok - ...".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
M=$ROOT/scripts/msgctl
: "${MSG_DB_URL:?run by t/ops/run.sh}" "${OPS_T:?}" "${OPS_API_URL:?}"
export MESSAGING_DATABASE_URL=$MSG_DB_URL
TAG=$(date +%s%N | tail -c 9)
OUT="" RC=0

run() { OUT=$("$M" "$@" 2>"$OPS_T/msgctl.err"); RC=$?; }
ok() { echo "ok - msgctl: $1"; }
bad() { echo "not ok - msgctl: $1"; echo "    exit $RC; stdout: ${OUT:0:300}"; sed 's/^/    stderr: /' "$OPS_T/msgctl.err" | head -n 3; }
# t NAME WANT_RC MSGCTL_ARGS...: the exit code is WANT_RC
t() { local name=$1 want=$2; shift 2; run "$@"; if [ "$RC" = "$want" ]; then ok "$name"; else bad "$name (expected exit $want)"; fi; }
# j EXPR: a JavaScript condition on the JSON in $OUT (as `o`)
j() { node -e "const o = JSON.parse(process.argv[1]); if (!($1)) process.exit(1)" "$OUT" 2>/dev/null; }
tj() { # NAME WANT_RC EXPR MSGCTL_ARGS...
  local name=$1 want=$2 expr=$3; shift 3; run --json "$@"
  if [ "$RC" = "$want" ] && j "$expr"; then ok "$name"; else bad "$name"; fi
}
jv() { node -e 'const o = JSON.parse(process.argv[1]); console.log(eval(process.argv[2]))' "$OUT" "$1"; }

t "--help exits 0" 0 --help
t "no command: usage, exit 2" 2
t "unknown command: exit 2" 2 frobnicate
t "unknown option: exit 2" 2 --frob migrations
tj "an error under --json is a JSON error object" 2 'o.error.code === "invalid_usage"' user create nurse A B
t "a missing configuration file: exit 3" 3 --config /nonexistent/messaging.conf migrations
t "an unreachable database: exit 6" 6 --database "postgresql:///x?host=/nonexistent&connect_timeout=2" migrations

# Migrations.
nsql=$(ls "$ROOT"/sql/[0-9]*.sql | wc -l)
tj "migrations --json: every sql/ file applied" 0 "o.pending === 0 && o.applied === $nsql && o.migrations.every(m => m.applied && m.appliedAt)" migrations
t "migrations --check: nothing pending, exit 0" 0 migrations --check
run migrations
if [ "$RC" = 0 ] && grep -q "^migrations: $nsql applied, 0 pending$" <<<"$OUT" && grep -q '^001_base  *applied ' <<<"$OUT"; then ok "migrations: a line per file and a summary"; else bad "migrations: text"; fi
tj "migrate --json: nothing to apply twice" 0 "o.applied.length === 0 && o.alreadyPresent === $nsql" migrate
psql -X -q -d "$MSG_DB_URL" -c 'CREATE DATABASE ops_fresh' >/dev/null 2>&1
FRESH=${MSG_DB_URL/\/messaging\?//ops_fresh?}
t "migrations --check on an empty database: exit 7" 7 --database "$FRESH" migrations --check
tj "migrate applies every migration to an empty database" 0 "o.applied.length === $nsql && o.applied[0] === '001_base'" --database "$FRESH" migrate
t "then nothing is pending" 0 --database "$FRESH" migrations --check

# The configuration file instead of the environment.
CONF=$OPS_T/msgctl.conf
{ cat "$MESSAGING_CONFIG"; echo "database_url = \"$MSG_DB_URL\""; } >"$CONF"
OUT=$(env -u MESSAGING_DATABASE_URL MESSAGING_CONFIG="$CONF" "$M" migrations --check 2>&1); RC=$?
[ "$RC" = 0 ] && ok "database_url from MESSAGING_CONFIG's file" || bad "database_url from MESSAGING_CONFIG's file"

# Users and links.
tj "user create patient (JSON)" 0 'o.id > 0 && o.role === "patient" && o.firstName === "Hélène"' user create patient Hélène "Ops $TAG" "helene.$TAG@ops.test"
P=$(jv o.id)
run user create medecin Jean "Ops $TAG" "jean.$TAG@ops.test"
[[ "$RC" = 0 && "$OUT" =~ ^[0-9]+$ ]] && ok "user create medecin prints the id" || bad "user create medecin prints the id"
D=$OUT
run -q user create patient Paul "Ops $TAG"
[ "$RC" = 0 ] && [ -z "$OUT" ] && ok "--quiet prints nothing" || bad "--quiet prints nothing"
P2=$(psql -X -At -d "$MSG_DB_URL" -c "SELECT max(id) FROM users WHERE first_name = 'Paul' AND last_name = 'Ops $TAG'")
t "a duplicate e-mail: exit 5" 5 user create patient Autre "Ops $TAG" "helene.$TAG@ops.test"
t "a wrong role: exit 2" 2 user create nurse A B
tj "user show" 0 "o.id === $D && o.role === 'medecin' && o.email === 'jean.$TAG@ops.test'" user show "$D"
t "user show of a missing user: exit 4" 4 user show 2000000000
tj "user list --role medecin" 0 "o.users.some(u => u.id === $D) && o.users.every(u => u.role === 'medecin')" user list --role medecin --limit 100000
tj "link a doctor and a patient (either order)" 0 "o.patientId === $P && o.doctorId === $D && o.changed === true" link "$D" "$P"
run link "$P" "$D"
[ "$RC" = 0 ] && grep -q 'already linked' <<<"$OUT" && ok "link again: exit 0, already linked" || bad "link again"
t "link two patients: exit 5" 5 link "$P" "$P2"
t "link a missing user: exit 4" 4 link "$P" 2000000000
t "link with a bad id: exit 2" 2 link "$P" abc
run -q link "$P2" "$D"
tj "unlink" 0 "o.changed === true && o.unlinked === true" unlink "$P2" "$D"
tj "unlink again: nothing to do" 0 "o.changed === false" unlink "$D" "$P2"

# A token minted by msgctl works against the API (through Apache).
tj "token --json" 0 "o.userId === $P && o.role === 'patient' && o.token.split('.').length === 3" token "$P" --ttl 600
TP=$(jv o.token)
run token "$D"; TD=$OUT
t "token for a missing user: exit 4" 4 token 2000000000
t "token with a bad TTL: exit 2" 2 token "$P" --ttl -5
code=$(curl -sk -o "$OPS_T/conv.json" -w '%{http_code}' -H "Authorization: Bearer $TP" -H 'Content-Type: application/json' \
  -d "{\"participantId\":$D}" "$OPS_API_URL/api/messaging/conversations")
C=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).conversation.id)' "$OPS_T/conv.json" 2>/dev/null)
[ "$code" = 201 ] && [ -n "$C" ] && ok "the minted token is accepted by the API" || { RC=$code OUT=$(cat "$OPS_T/conv.json"); bad "the minted token is accepted by the API"; }
post() { curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
  -d '{"content":"bonjour"}' "$OPS_API_URL/api/messaging/conversations/$C/messages"; }

# Close and reopen a conversation.
tj "conversation close" 0 "o.id === $C && o.status === 'closed' && o.changed === true" conversation close "$C"
code=$(post "$TD"); [ "$code" = 409 ] && ok "a closed conversation refuses messages (409)" || { RC=$code; OUT=""; bad "a closed conversation refuses messages (409)"; }
run conversation close "$C"
[ "$RC" = 0 ] && grep -q 'already' <<<"$OUT" && ok "close again: exit 0, already closed" || bad "close again"
tj "conversation reopen" 0 "o.status === 'active' && o.changed === true" conversation reopen "$C"
code=$(post "$TP"); [ "$code" = 201 ] && ok "a reopened conversation accepts messages (201)" || { RC=$code; OUT=""; bad "a reopened conversation accepts messages (201)"; }
tj "conversation show" 0 "o.status === 'active' && o.messages === 1 && o.patientId === $P" conversation show "$C"
t "conversation close of a missing one: exit 4" 4 conversation close 2000000000

# The access log: msgctl's own changes, the API's reads, the reports.
tj "audit --json --conversation: msgctl's close and reopen, via admin, with the operator" 0 \
  "o.filter(r => r.action === 'conversation_close' && r.via === 'admin' && r.conversationId === $C && r.detail.operator && r.detail.changed === true).length === 1 && o.some(r => r.action === 'conversation_reopen')" \
  audit --conversation "$C"
tj "audit --json: the API's rows are via rest, keys as documented" 0 \
  "o.some(r => r.action === 'message_send' && r.via === 'rest' && r.userId === $P) && o.every(r => Object.keys(r).sort().join() === 'action,at,conversationId,detail,id,userId,via')" \
  audit --user "$P"
tj "audit --json: a refused change is logged (conversation close of a missing one)" 0 \
  "o.some(r => r.action === 'conversation_close' && r.detail.outcome === 'refused')" audit --since 2000-01-01T00:00:00Z
tj "audit --since the future: nothing" 0 "Array.isArray(o) && o.length === 0" audit --since 2999-01-01
run audit --csv --user "$P"
[ "$RC" = 0 ] && head -n 1 <<<"$OUT" | grep -qx 'id,at,user_id,action,conversation_id,via,detail' && grep -q ',message_send,' <<<"$OUT" && ok "audit --csv: a header and rows" || bad "audit --csv"
run audit --user "$P" --limit 1
[ "$RC" = 0 ] && [ "$(wc -l <<<"$OUT")" = 1 ] && grep -q "user $P" <<<"$OUT" && ok "audit: one line per row, --limit" || bad "audit: text"
t "audit --since garbage: exit 2" 2 audit --since yesterday
t "audit --user abc: exit 2" 2 audit --user abc
t "audit --json --csv: exit 2" 2 audit --json --csv
tj "access-report --json: who, name, role, action, time, via" 0 \
  "o.some(r => r.userId === $D && r.role === 'medecin' && r.name && r.action === 'message_send' && r.via === 'rest' && r.at) && o.some(r => r.userId === null && r.action === 'conversation_close')" \
  access-report "$P"
run access-report "$P"
[ "$RC" = 0 ] && grep -q "user $D .*medecin .*message_send .*rest" <<<"$OUT" && ok "access-report: a table" || bad "access-report: text"
t "access-report of a doctor (not a patient): exit 4" 4 access-report "$D"
t "access-report with a bad id: exit 2" 2 access-report x

# Gateway stats.
read -r G1 G2 <<<"$MSG_GATEWAYS"
tj "stats --json of both gateways" 0 "o.gateways.length === 2 && o.gateways.every(g => g.stats && 'connections' in g.stats && 'rooms' in g.stats) && 'connections' in o.total" stats --gateway "$G1" --gateway "$G2"
run stats --gateway "$G1"
[ "$RC" = 0 ] && grep -q '^GATEWAY  *CONNECTIONS  *USERS  *ROOMS$' <<<"$OUT" && ok "stats: a table" || bad "stats: a table"
run stats
[ "$RC" = 0 ] && grep -q "127.0.0.1:${G1##*:}" <<<"$OUT" && ok "stats: the default gateway is ws_port (MESSAGING_WS_PORT)" || bad "stats: default gateway"
t "stats of a gateway that is not there: exit 6" 6 stats --gateway http://127.0.0.1:9
# Token lifetime: bounded by jwt_max_ttl (86400 s here, the default).
run token "$P" --ttl 86401
[ "$RC" = 2 ] && grep -q 'jwt_max_ttl' "$OPS_T/msgctl.err" && ok "token --ttl beyond jwt_max_ttl: exit 2, says why" || bad "token --ttl beyond jwt_max_ttl"
t "token --ttl of exactly jwt_max_ttl" 0 token "$P" --ttl 86400

# Revocation: the old token refused by the API, a new one accepted.
get_unread() { curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$OPS_API_URL/api/messaging/unread-count"; }
code=$(get_unread "$TP"); [ "$code" = 200 ] && ok "before revoke: the token works" || { RC=$code; OUT=""; bad "before revoke: the token works"; }
tj "revoke --json" 0 "o.userId === $P && /Z$/.test(o.revokedAt) && o.acceptedFrom >= o.revokedAt" revoke "$P"
code=$(get_unread "$TP"); [ "$code" = 401 ] && ok "after revoke: the old token gets 401" || { RC=$code; OUT=""; bad "after revoke: the old token gets 401"; }
run token "$P"; TP2=$OUT
code=$(get_unread "$TP2"); [ "$code" = 200 ] && ok "after revoke: a token minted afterwards works" || { RC=$code; bad "after revoke: a token minted afterwards works"; }
code=$(get_unread "$TD"); [ "$code" = 200 ] && ok "after revoke: another user's token still works" || { RC=$code; OUT=""; bad "after revoke: another user's token still works"; }
run revoke "$P"
[ "$RC" = 0 ] && grep -q "^user $P: tokens issued before " <<<"$OUT" && ok "revoke: a line of text" || bad "revoke: a line of text"
t "revoke of a missing user: exit 4" 4 revoke 2000000000
t "revoke with a bad id: exit 2" 2 revoke abc

# No secret on a command line: psql, migrate.sh and curl as msgctl runs
# them record their arguments and their parent's (msgctl's) command line.
SPY=$OPS_T/spy; mkdir -p "$SPY/bin"
REAL_PSQL=$(command -v psql); REAL_CURL=$(command -v curl)
cat >"$SPY/psql" <<EOT
#!/usr/bin/env bash
{ printf '%s\n' "\$*"; tr '\0' ' ' </proc/\$PPID/cmdline; echo; } >>"$SPY/argv"
printf '%s\n' "\${PGPASSWORD:-}" >>"$SPY/pgpassword"
exec "$REAL_PSQL" "\$@"
EOT
cat >"$SPY/bin/curl" <<EOT
#!/usr/bin/env bash
{ printf '%s\n' "\$*"; tr '\0' ' ' </proc/\$PPID/cmdline; echo; } >>"$SPY/argv"
cat >"$SPY/curl-stdin"
exec "$REAL_CURL" "\$@" <"$SPY/curl-stdin"
EOT
chmod +x "$SPY/psql" "$SPY/bin/curl"
SECRET_PW="pw-$TAG-not-on-argv"
ADMIN="adm-$TAG-not-on-argv\"x"
{ cat "$MESSAGING_CONFIG"; printf 'admin_token = %s\n' "$ADMIN"; } >"$OPS_T/msgctl-admin.conf"
spy_run() { OUT=$(env PSQL="$SPY/psql" PATH="$SPY/bin:$PATH" "$@" 2>"$OPS_T/msgctl.err"); RC=$?; }
# The cluster trusts local connections: a password is ignored, yet passed on.
for form in query userinfo; do
  if [ $form = query ]; then url="${MSG_DB_URL}&password=$SECRET_PW"
  else url=$(sed "s|^postgresql://|postgresql://postgres:$SECRET_PW@|" <<<"$MSG_DB_URL"); fi
  : >"$SPY/argv"; : >"$SPY/pgpassword"
  spy_run env MESSAGING_DATABASE_URL="$url" "$M" user show "$P"
  [ "$RC" = 0 ] && [ -s "$SPY/argv" ] && ! grep -q "$SECRET_PW" "$SPY/argv" && grep -qx "$SECRET_PW" "$SPY/pgpassword" &&
    ok "the database password of a URI ($form) reaches psql through PGPASSWORD, on no command line" ||
    bad "the database password of a URI ($form) on a command line: $(grep -c "$SECRET_PW" "$SPY/argv") lines"
done
kv="host=$(sed -n 's/.*[?&]host=\([^&]*\).*/\1/p' <<<"$MSG_DB_URL") port=$(sed -n 's/.*[?&]port=\([^&]*\).*/\1/p' <<<"$MSG_DB_URL") dbname=messaging user=postgres password='$SECRET_PW q\\'s'"
: >"$SPY/argv"; : >"$SPY/pgpassword"
spy_run env MESSAGING_DATABASE_URL="$kv" "$M" migrate
[ "$RC" = 0 ] && ! grep -q "$SECRET_PW" "$SPY/argv" && grep -qx "$SECRET_PW q's" "$SPY/pgpassword" &&
  ok "a key=value password (quoted) too, migrate.sh included" || bad "a key=value password on a command line"
: >"$SPY/argv"
spy_run "$M" --config "$OPS_T/msgctl-admin.conf" stats --gateway "$G1"
[ "$RC" = 0 ] && grep -q '^-sS' "$SPY/argv" && ! grep -qF "adm-$TAG" "$SPY/argv" &&
  grep -qF "Authorization: Bearer adm-$TAG-not-on-argv\\\"x" "$SPY/curl-stdin" &&
  ok "the admin token reaches curl on its standard input (-K -), on no command line" ||
  bad "the admin token on a command line: $(head -c 300 "$SPY/argv")"
echo "msgctl tests done"
