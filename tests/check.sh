# Shared by the shell test scripts (sourced): a temporary directory, pass
# and fail counting, and the checks.  A script ends with `finish NAME`.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     | /' <<<"$2" | head -40; }
# run COMMAND...: runs it, keeping stdout, stderr and $status (no job noise).
# A program that hangs is stopped after 120 s (status 124), so that one
# stuck test shows up by name instead of stalling the whole run.
run() { { timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"; } 2>/dev/null; status=$?; }
# expect NAME STATUS COMMAND...: runs COMMAND, checks its exit status.
expect() {
    local name=$1 want=$2; shift 2
    run "$@"
    if [ "$status" = "$want" ]; then ok "$name"; else bad "$name (exit $status, want $want)" "$(cat "$tmp/out" "$tmp/err")"; fi
}
# has NAME FILE PATTERN: FILE contains the extended regex PATTERN.
has()   { if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 (no /$3/)" "$(head -20 "$2")"; fi; }
lines() { if [ "$(wc -l <"$2")" = "$3" ]; then ok "$1"; else bad "$1 ($(wc -l <"$2") lines, want $3)" "$(cat "$2")"; fi; }
same()  { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1" "$(diff "$2" "$3" | head -20)"; fi; }
is()    { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got $2, want $3)" "$(cat "$tmp/out" "$tmp/err")"; fi; }
finish() { echo "$1: $passed passed, $failed failed"; [ "$failed" = 0 ]; }
