#!/usr/bin/env bash
# The C files' style, checked against .clang-format (one style for the whole
# tree): every tracked .c and .h file as clang-format would write it. Prints
# the files out of style and "style: N passed, M failed" (also in
# build/test-results/style.txt). `make format` rewrites them in place.
#
#   scripts/check-style.sh [--fix]
set -uo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
command -v "$CF" >/dev/null || { echo "check-style: $CF is not installed (scripts/deps.sh --test)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
if [ "${1:-}" = --fix ]; then
  "$CF" -i --style=file "${files[@]}"
  exit 0
fi
mkdir -p build/test-results
p=0 f=0
for c in "${files[@]}"; do
  if "$CF" --style=file --dry-run --Werror "$c" >/dev/null 2>&1; then p=$((p + 1)); else f=$((f + 1)); echo "not in style: $c (make format)"; fi
done
echo "style: $p passed, $f failed" | tee build/test-results/style.txt
[ "$f" = 0 ]
