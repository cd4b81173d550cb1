#!/usr/bin/env bash
# Runs each libFuzzer target for a while: t/fuzz/run.sh SECONDS BIN...
# Corpora live in build/fuzz/corpus/<target>/ (seeded from t/fuzz/seeds/).
set -euo pipefail
secs=$1; shift
fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  corpus=build/fuzz/corpus/$name
  mkdir -p "$corpus"
  [[ -d t/fuzz/seeds/$name ]] && cp -n t/fuzz/seeds/$name/* "$corpus"/ 2>/dev/null || true
  if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix=build/fuzz/ "$corpus" > "build/fuzz/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' build/fuzz/$name.log | awk '{print $2}') runs)"
  else
    echo "fuzz $name: FAILED (see build/fuzz/$name.log)"; fail=1
  fi
done
exit $fail
