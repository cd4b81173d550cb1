#!/usr/bin/env bash
# Runs the unit test programs given as arguments; each prints
# "unit NAME: N passed, M failed". Totals go to build/test-results/unit.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-results
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
