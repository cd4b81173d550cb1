#!/usr/bin/env bash
# Runs the unit test programs given as arguments; each prints
# "unit NAME: N passed, M failed". Totals go to build/test-results/unit.txt.
# The tests of the database code (test_db, test_pgconn) need a real, migrated
# PostgreSQL: a private cluster is started for them (as run-integration.sh
# does) unless MSG_UNIT_DB_URL names one; when neither, they fail.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-results
export LSAN_OPTIONS="suppressions=$PWD/t/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
pgdir=
if [ -z "${MSG_UNIT_DB_URL:-}" ]; then
  pgdir=$(mktemp -d "$PWD/build/unit-pg.XXXXXX")
  chmod 755 "$pgdir"
  port=$((20000 + RANDOM % 20000))
  if url=$(scripts/pg.sh start "$pgdir/pg" "$port" 2>"$pgdir/start.log") &&
     scripts/migrate.sh "$url" >"$pgdir/migrate.log" 2>&1; then
    export MSG_UNIT_DB_URL=$url
  else
    echo "unit: no database for the tests that need one:" >&2
    cat "$pgdir/start.log" "$pgdir/migrate.log" 2>/dev/null | tail -n 20 >&2
  fi
fi
cleanup() { [ -z "$pgdir" ] || { scripts/pg.sh destroy "$pgdir/pg" >/dev/null 2>&1; rm -rf "$pgdir"; }; }
trap cleanup EXIT
passed=0 failed=0 rc=0
for t in "$@"; do
  out=$("$t" 2>&1); code=$?
  echo "$out"
  line=$(grep -E '^unit [a-z_]+: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  if [ -z "$line" ]; then failed=$((failed + 1)); rc=1; echo "unit $t: crashed (exit $code)"; continue; fi
  p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$code" = 0 ] || rc=1
done
echo "unit: $passed passed, $failed failed" | tee build/test-results/unit.txt
exit $rc
