# Sourced by the test runners (scripts/run-integration.sh, t/browser/run.sh,
# t/ops/run.sh) from the top of the tree ($ROOT); the functions want the
# stack's folder $MESSAGING_VAR set.

# What a sanitizer prints into a server's log.
san_pat='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer'

# san_options: the servers' sanitizer reports go to files (their stderr is
# their log), the leaks of t/lsan.supp left out.
san_options() {
  export ASAN_OPTIONS="detect_leaks=1:log_path=$MESSAGING_VAR/log/asan:abort_on_error=0"
  export UBSAN_OPTIONS="print_stacktrace=1:log_path=$MESSAGING_VAR/log/ubsan"
  export LSAN_OPTIONS="suppressions=$ROOT/t/lsan.supp:print_suppressions=0"
}

# san_found: whether any server of the stack left a sanitizer report (a
# log/asan.* or log/ubsan.* file, or a report in the API's or a gateway's log).
san_found() {
  ls "$MESSAGING_VAR"/log/asan.* "$MESSAGING_VAR"/log/ubsan.* >/dev/null 2>&1 ||
    grep -Eq "$san_pat" "$MESSAGING_VAR"/log/api.log "$MESSAGING_VAR"/log/gateway-*.log 2>/dev/null
}

# san_show: the start of those reports, on stderr.
san_show() {
  head -n 60 "$MESSAGING_VAR"/log/asan.* "$MESSAGING_VAR"/log/ubsan.* 2>/dev/null >&2
  grep -Eh -A 12 "$san_pat" "$MESSAGING_VAR"/log/api.log "$MESSAGING_VAR"/log/gateway-*.log 2>/dev/null | head -n 80 >&2
}

# node_counts LOG: p and f, the passed and failed tests of the last summary
# of node --test's spec reporter in LOG (empty when there is none).
node_counts() {
  p=$(grep -E '^ℹ pass [0-9]+' "$1" | awk '{print $3}' | tail -n 1)
  f=$(grep -E '^ℹ fail [0-9]+' "$1" | awk '{print $3}' | tail -n 1)
}
