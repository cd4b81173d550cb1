#!/usr/bin/env bash
# make test-protocol: unit tests of the codecs, the project's own protocol
# tests (Node, node:test) against a conformance-server started here on a free
# loopback port, then each libFuzzer target briefly. Last line:
#   protocol: N passed, M failed        (exit 1 when M > 0)
# usage: run.sh --build DIR [--fuzz-runs N] UNIT_BIN... -- FUZZ_BIN...
set -uo pipefail
build=build/san fuzz_runs=20000
units=() fuzzers=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --fuzz-runs) fuzz_runs=$2; shift 2 ;;
    --) shift; fuzzers=("$@"); break ;;
    *) units+=("$1"); shift ;;
  esac
done
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
passed=0 failed=0
note() { echo "protocol: $*"; }

# 1. unit tests of the codecs (t/lib/check.h): each prints "unit NAME: N passed, M failed"
for t in "${units[@]}"; do
  out=$("$t" 2>&1); rc=$?
  echo "$out" | grep -E "FAIL|passed"
  p=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p' | tail -1)
  f=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  [[ $rc -ne 0 && ${f:-0} -eq 0 ]] && { failed=$((failed + 1)); note "$t exited $rc"; }
done

# 2. protocol tests against a server we start and stop
server=$build/ws-gateway/conformance-server
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
log=$build/t/protocol/server.log
mkdir -p "$(dirname "$log")"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$server" --port "$port" --test-hooks >"$log" 2>&1 &
spid=$!
cleanup() { kill -TERM "$spid" 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq 50); do
  node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" && break
  sleep 0.1
done
if [[ ! -d $here/node_modules ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { note "npm ci failed"; failed=$((failed + 1)); }
fi
out=$(cd "$here" && SIO_TEST_PORT=$port timeout 100 node --test --test-reporter=spec \
      engineio.test.mjs socketio.test.mjs client.test.mjs 2>&1); rc=$?
echo "$out" | grep -E "^\s*(✔|✖)" | sed 's/^/  /'
p=$(echo "$out" | sed -n 's/^ℹ pass \([0-9]*\)/\1/p'); f=$(echo "$out" | sed -n 's/^ℹ fail \([0-9]*\)/\1/p')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [[ $rc -ne 0 && ${f:-0} -eq 0 ]]; then failed=$((failed + 1)); echo "$out" | tail -20; fi
[[ ${f:-0} -ne 0 ]] && echo "$out" | grep -A12 "✖" | head -60

# the server must stop cleanly on SIGTERM, with no sanitizer report
kill -TERM "$spid"; wait "$spid"; src=$?; trap - EXIT
if [[ $src -ne 0 ]] || grep -qE "Sanitizer|runtime error" "$log"; then
  note "conformance-server exit $src or sanitizer report (see $log)"; failed=$((failed + 1))
else
  passed=$((passed + 1)); echo "  ✔ conformance-server stopped cleanly, no sanitizer report"
fi

# 3. fuzzers, briefly
for fz in "${fuzzers[@]}"; do
  name=$(basename "$fz"); corpus=$(mktemp -d)
  cp "$here/../fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null
  if "$fz" -runs="$fuzz_runs" -max_len=4096 -timeout=10 -artifact_prefix="$build/" "$corpus" >"$build/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "  ✔ fuzz $name ($fuzz_runs runs)"
  else
    failed=$((failed + 1)); echo "  ✖ fuzz $name (see $build/$name.log)"
  fi
  rm -rf "$corpus"
done

note "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
