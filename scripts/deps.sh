#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages (as root,
# or through sudo) and, with --test, the npm packages of the tests (t/) and
# the tools of `make deb` and its checks; --deb: only those tools.
# Safe to run again: it only acts on what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0 want_deb=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    --deb) want_deb=1 ;;
    *) echo "deps.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

# Build and run.
pkgs=(gcc make pkg-config libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libjwt-dev libjson-c-dev libfcgi-dev
      libpq-dev libssl-dev postgresql postgresql-contrib nginx-light curl ca-certificates openssl iproute2)
# Tests and benchmarks; the Debian package (make deb) and its checks.
if [ "$want_test" = 1 ]; then
  pkgs+=(clang clang-format libclang-rt-14-dev nodejs npm wrk procps debhelper dpkg-dev fakeroot lintian)
elif [ "$want_deb" = 1 ]; then
  pkgs+=(debhelper dpkg-dev fakeroot)
fi

missing=()
for p in "${pkgs[@]}"; do
  # nodejs may come from elsewhere than Debian (a newer build): a working
  # node and npm on PATH are enough.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  # A service started by a package's install script would hold ports we
  # may want; the stack runs its own nginx and PostgreSQL.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Other apt runs on this machine (another checkout's tests) hold the dpkg
  # lock for a while: wait for it rather than fail.
  apt_opts=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${apt_opts[@]}" update -qq </dev/null
  $SUDO apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
fi

if [ "$want_test" = 1 ]; then
  if [ ! -d t/node_modules ] || [ t/package-lock.json -nt t/node_modules/.package-lock.json ]; then
    echo "deps: npm ci in t/" >&2
    (cd t && npm ci --no-audit --no-fund --loglevel=error </dev/null >&2)
  fi
fi
