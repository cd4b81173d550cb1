#!/usr/bin/env bash
# Prints N free TCP ports on loopback (the kernel's choice, released at once),
# spaced so that PORT+1 (a second gateway instance) is free as well.
set -euo pipefail
n=${1:-1}
node -e '
  const net = require("net");
  const want = Number(process.argv[1]);
  const probe = (p) => new Promise((res) => { const s = net.createServer(); s.once("error", () => res(false));
    s.listen(p, "127.0.0.1", () => s.close(() => res(true))); });
  (async () => {
    const out = [];
    while (out.length < want) {
      const s = net.createServer();
      await new Promise((r) => s.listen(0, "127.0.0.1", r));
      const p = s.address().port; await new Promise((r) => s.close(r));
      if (p < 65000 && !out.includes(p) && !out.includes(p + 1) && await probe(p + 1)) out.push(p);
    }
    console.log(out.join(" "));
  })();' "$n"
