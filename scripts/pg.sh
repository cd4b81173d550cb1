#!/usr/bin/env bash
# A private PostgreSQL cluster for `make run` and the tests.
#
#   scripts/pg.sh start DIR PORT   create (if needed) and start; prints the URL
#   scripts/pg.sh stop DIR [MODE]  shutdown, fast by default; immediate: as
#                                  a crash (nothing running: no error)
#   scripts/pg.sh url DIR PORT     the URL only
#   scripts/pg.sh destroy DIR      stop, then remove the cluster and its files
#
# It listens on a unix socket in DIR only (no TCP port to collide with), with
# trust authentication for the bootstrap user "postgres". As root, the
# cluster belongs to the OS user postgres (PostgreSQL refuses root).
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
OS_USER=postgres
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi; }

url_of() { echo "postgresql:///messaging?host=$1&port=$2&user=postgres"; }

# The cluster's folder: DIR itself, or, when the cluster's owner cannot reach
# it (a checkout under a private home, as root), a folder under /tmp named
# after DIR and an id kept in DIR: always the same answer for the same DIR,
# and a new cluster for a DIR made anew (a test run that removed its var/
# must not find the last run's databases).
cluster_dir() {
  mkdir -p "$1"
  local d id; d=$(cd "$1" && pwd -P)
  if [ "$(id -u)" = 0 ] && ! runuser -u "$OS_USER" -- test -x "$d" 2>/dev/null; then
    [ -s "$d/.cluster-id" ] || openssl rand -hex 8 >"$d/.cluster-id"
    id=$(cat "$d/.cluster-id")
    d=${TMPDIR:-/tmp}/messaging-pg-$(printf '%s %s' "$d" "$id" | sha256sum | cut -c1-16)
    mkdir -p "$d"
  fi
  echo "$d"
}

cmd=${1:-}; shift || true
case "$cmd" in
  start)
    dir=$(cluster_dir "$1") port=$2
    [ -x "$PG_BIN/postgres" ] || { echo "pg.sh: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1; }
    if [ "$(id -u)" = 0 ]; then
      chown "$OS_USER" "$dir"; chmod 700 "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c max_connections=200 -c shared_buffers=128MB -c fsync=on" \
        start >/dev/null || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    fi
    if ! as_owner "$PG_BIN/psql" -X -h "$dir" -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='messaging'" | grep -q 1; then
      as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres messaging
    fi
    url_of "$dir" "$port"
    ;;
  stop)
    [ -d "$1" ] || exit 0
    dir=$(cluster_dir "$1")
    [ -d "$dir/data" ] || exit 0
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
    ;;
  url)
    url_of "$(cluster_dir "$1")" "$2" ;;
  destroy)
    [ -d "$1" ] || exit 0
    dir=$(cluster_dir "$1")
    [ ! -d "$dir/data" ] || as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    [ "$dir" = "$(cd "$1" && pwd -P)" ] || rm -rf "$1"
    ;;
  *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
