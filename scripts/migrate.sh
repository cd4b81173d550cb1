#!/usr/bin/env bash
# Applies the numbered migrations sql/NNN_name.sql that the database has not
# recorded yet, in order, each in one transaction together with its record
# in messaging.schema_migrations; then, on every run, the functions of
# sql/api/*.sql, in order, each file in one transaction.
#
#   scripts/migrate.sh DATABASE_URL      (or MESSAGING_DATABASE_URL set)
#
# The numbered files hold what is applied once: tables, types, indexes,
# triggers, data migrations (they run before sql/api, so they call none of
# its functions). sql/api holds every function as it is now (CREATE OR
# REPLACE; DROP FUNCTION IF EXISTS for those that are gone): changing a
# function changes its one file, and the next run applies it.
#
# Prints one line per migration applied, then "functions: N files of
# sql/api applied", then "migrations: N applied, M already present".
# Running it again applies no migration. Concurrent runs are serialised by a
# transaction-level advisory lock, and each run re-checks the record under
# that lock. Exits non-zero (and names the file) on the first error; that
# file's transaction is rolled back.
# Environment: PSQL (default: psql on PATH, else PostgreSQL 15's).
set -euo pipefail

url=${1:-${MESSAGING_DATABASE_URL:-}}
if [ -z "$url" ]; then
  echo "usage: $0 DATABASE_URL (or set MESSAGING_DATABASE_URL)" >&2
  exit 2
fi

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
sqldir=$(cd -- "$here/../sql" && pwd -P)

PSQL=${PSQL:-$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)}
psql_run() { "$PSQL" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$url" "$@"; }

# One key for every run of this script against the database.
LOCK="SELECT pg_advisory_xact_lock(hashtext('messaging.schema_migrations')) AS locked \\gset"

# The bookkeeping itself, under the same lock.
psql_run >/dev/null <<SQL || { echo "$0: cannot prepare messaging.schema_migrations" >&2; exit 1; }
SET client_min_messages = warning;
$LOCK
CREATE SCHEMA IF NOT EXISTS messaging;
CREATE TABLE IF NOT EXISTS messaging.schema_migrations (
  version    text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
SQL

shopt -s nullglob
files=("$sqldir"/[0-9]*.sql)
applied=0 present=0
for f in "${files[@]}"; do
  version=$(basename -- "$f" .sql)
  # Under the lock: skip when recorded (by an earlier or a concurrent run),
  # else apply the file and record it, in this one transaction.
  if ! out=$(psql_run -v version="$version" -v file="$f" 2>&1 <<'SQL'
SET client_min_messages = warning;
SELECT pg_advisory_xact_lock(hashtext('messaging.schema_migrations')) AS locked \gset
SELECT EXISTS (SELECT 1 FROM messaging.schema_migrations WHERE version = :'version') AS already \gset
\if :already
\echo MIGRATION-PRESENT
\else
\i :file
SET LOCAL client_min_messages = warning;
INSERT INTO messaging.schema_migrations (version) VALUES (:'version');
\echo MIGRATION-APPLIED
\endif
SQL
  ); then
    printf '%s\n' "$out" | grep -v '^MIGRATION-' >&2 || true
    echo "$0: migration $version failed; it was rolled back" >&2
    exit 1
  fi
  printf '%s\n' "$out" | grep -v '^MIGRATION-' || true
  case "$out" in
    *MIGRATION-APPLIED*) applied=$((applied + 1)); echo "applied $version" ;;
    *MIGRATION-PRESENT*) present=$((present + 1)) ;;
    *) echo "$0: migration $version: unexpected output" >&2; exit 1 ;;
  esac
done

# The functions, on every run, under the same lock.
api=("$sqldir"/api/*.sql)
[ ${#api[@]} -gt 0 ] || { echo "$0: no sql/api/*.sql beside the migrations" >&2; exit 1; }
for f in "${api[@]}"; do
  if ! out=$(psql_run -v file="$f" 2>&1 <<'SQL'
SET client_min_messages = warning;
SELECT pg_advisory_xact_lock(hashtext('messaging.schema_migrations')) AS locked \gset
\i :file
SQL
  ); then
    printf '%s\n' "$out" >&2
    echo "$0: sql/api/$(basename -- "$f") failed; it was rolled back" >&2
    exit 1
  fi
  [ -z "$out" ] || printf '%s\n' "$out"
done
echo "functions: ${#api[@]} files of sql/api applied"
echo "migrations: $applied applied, $present already present"
