#!/usr/bin/env bash
# make bench-protocol: codec rates, then resident memory per idle Engine.IO
# WebSocket session of the conformance server (release build).
# usage: bench.sh BUILD_DIR [SESSIONS]
set -euo pipefail
build=$1 n=${2:-5000}
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
"$build/t/protocol/bench_codec"

[[ -d $here/node_modules ]] || (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# a long ping interval: idle means idle (the protocol default is 25 s)
"$build/ws-gateway/conformance-server" --port "$port" --ping-interval 25000 2>/dev/null &
spid=$!
trap 'kill -TERM $spid 2>/dev/null' EXIT
sleep 0.5
rss() { awk '/VmRSS/ {print $2}' /proc/$spid/status; }
# warm up the allocator and lws tables with a few sessions first
node "$here/idle-sessions.mjs" "$port" 50 200 >/dev/null
sleep 0.3
before=$(rss)
node "$here/idle-sessions.mjs" "$port" "$n" 3000 > /tmp/idle.$$ &
cpid=$!
# sample while the sessions are held
sleep 1
while ! grep -q open /tmp/idle.$$ 2>/dev/null; do sleep 0.2; done
sleep 1
after=$(rss)
opened=$(awk '{print $2}' /tmp/idle.$$)
wait $cpid
rm -f /tmp/idle.$$
echo "bench idle websocket sessions: $opened held, VmRSS ${before} kB -> ${after} kB," \
     "$(( (after - before) * 1024 / (opened > 0 ? opened : 1) )) bytes/session" \
     "($(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN{printf "%.2f", (a-b)/n}') KiB)"
