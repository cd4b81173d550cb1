#!/usr/bin/env bash
# Adds up the suites' "NAME: N passed, M failed" lines of build/test-results.
set -uo pipefail
cd "$(dirname "$0")/.."
p=0 f=0
for r in build/test-results/*.txt; do
  [ -e "$r" ] || continue
  line=$(tail -n 1 "$r")
  echo "  $line"
  p=$((p + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
  f=$((f + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
done
echo "tests: $p passed, $f failed"
[ "$f" = 0 ] && [ "$p" -gt 0 ]
