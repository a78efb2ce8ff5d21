#!/usr/bin/env bash
# protect-wrap from the outside: exit codes, error lines, --check on the
# system's own libc and loader, and a moved install tree.
# Usage: test_cli.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
wrap=$build/bin/protect-wrap
. "$src/tests/check.sh"

libc=$(ldd /bin/true | awk '/libc.so.6/ {print $3}')
ldso=$(readlink -f /lib64/ld-linux-x86-64.so.2)

expect "help exits 0" 0 "$wrap" --help
has "help shows usage" "$tmp/out" "^Usage: protect-wrap --policy FILE"
has "help names hardened mode's switch" "$tmp/out" "--no-hardened"
expect "--no-hardened outside run mode is bad usage" 2 "$wrap" --no-hardened --validate "$src/policy/zlib.policy"
has "--no-hardened outside run mode: says so" "$tmp/err" "^protect-wrap: --policy, --dry-run, --audit, --stats and --no-hardened are for running a program$"
expect "no arguments is bad usage" 2 "$wrap"
has "bad usage says what and where to look" "$tmp/err" "^protect-wrap: no PROGRAM to run$"
expect "unknown option" 2 "$wrap" --frobnicate
has "unknown option is named" "$tmp/err" "unknown option '--frobnicate'"
expect "--policy without a file" 2 "$wrap" --policy
expect "modes exclude each other" 2 "$wrap" --check --validate x
expect "--json only with --check" 2 "$wrap" --json --validate x
expect "run without a policy" 2 "$wrap" /bin/true

expect "shipped policies validate" 0 "$wrap" --validate "$src"/policy/*.policy
printf '[library]\npath = libz.so.1\nmode = loud\n[entries]\nexport = *\nfoo = 1\n' >"$tmp/bad.policy"
expect "invalid policy exits 1" 1 "$wrap" --validate "$tmp/bad.policy" "$src/policy/zlib.policy"
has "error names file and line" "$tmp/err" "^$tmp/bad.policy:3: mode must be"
has "every error is reported" "$tmp/err" "^$tmp/bad.policy:6: unknown key 'foo'"
lines "one line per error" "$tmp/err" 2

printf '[library]\npath = libonly-in-runpath.so\n' >"$tmp/bare.policy"
expect "a bare name off the default path is valid" 0 "$wrap" --validate "$tmp/bare.policy"
has "... with a warning naming file and line" "$tmp/err" \
    "^$tmp/bare.policy:2: warning: library 'libonly-in-runpath.so' is not on the default search path"

expect "--output without --learn" 2 "$wrap" --output x.policy -p "$src/policy/zlib.policy" /bin/true
has "... says so" "$tmp/err" "^protect-wrap: --output goes with --learn$"
expect "--learn with --policy" 2 "$wrap" --learn libz.so.1 -p "$src/policy/zlib.policy" -- /bin/true
expect "--learn of a missing library" 2 "$wrap" --learn libnothere.so.7 -- /bin/true
has "... one line" "$tmp/err" "^protect-wrap: libnothere.so.7: library not found$"
expect "--learn without a program" 2 "$wrap" --learn libz.so.1
expect "--audit outside run mode" 2 "$wrap" --audit --validate "$src/policy/zlib.policy"

expect "gen-policy for zlib" 0 "$wrap" --gen-policy libz.so.1
cp "$tmp/out" "$tmp/gen.policy"
has "generated policy names the soname" "$tmp/gen.policy" "^path = libz.so.1$"
expect "generated policy validates" 0 "$wrap" --validate "$tmp/gen.policy"
expect "gen-policy of a missing library" 2 "$wrap" --gen-policy libnothere.so.7
has "missing library is one line" "$tmp/err" "^protect-wrap: libnothere.so.7: library not found$"

expect "check libc" 0 "$wrap" --check "$libc"
has "libc's WRPKRU is in pkey_set" "$tmp/out" "^  wrpkru: 1$"
has "with its symbol" "$tmp/out" "at 0x[0-9a-f]+ \(pkey_set\+0x[0-9a-f]+\)"
has "libc gateable share" "$tmp/out" "gateable: [0-9]+ of [0-9]+ \(99\.[0-9]%|100\.0%"
expect "check a library by name" 0 "$wrap" --check libz.so.1
has "found where the loader would" "$tmp/out" "^/.*/libz.so.1"
expect "check the loader" 0 "$wrap" --check "$ldso"
has "the loader's two XRSTOR" "$tmp/out" "^  xrstor: 2$"

printf 'INPUT(-lc)\n' >"$tmp/linker-script.so"
head -c 100 "$libc" >"$tmp/truncated.so"
expect "bad files exit 2, the others still checked" 2 "$wrap" --check --json "$tmp/linker-script.so" "$libc" "$tmp/truncated.so" "$ldso"
has "not ELF: one line naming the file" "$tmp/err" "^protect-wrap: $tmp/linker-script.so: not an ELF file$"
has "truncated: one line naming the file" "$tmp/err" "^protect-wrap: $tmp/truncated.so: truncated ELF file"
lines "one error line per bad file" "$tmp/err" 2
if python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
libs = d["libraries"]
assert d["checked"] == 2 and d["failed"] == 2, d
for lib in libs:
    for key in ("library", "exports", "gateable", "not_gateable", "wrpkru", "xrstor"):
        assert key in lib, key
assert [w["symbol"] for w in libs[0]["wrpkru"]] == ["pkey_set"], libs[0]["wrpkru"]
assert len(libs[1]["xrstor"]) == 2
assert all("name" in n and "reason" in n for n in libs[0]["not_gateable"])
PY
then ok "json document has the report"; else bad "json document has the report"; fi

# Run mode.  The protected runs themselves are in tests/runtime; here only
# what protect-wrap decides before the program runs.
if "$build/tests/pku_probe" >/dev/null 2>&1; then
    expect "runs the program" 0 "$wrap" --policy "$src/policy/zlib.policy" -- /bin/true
    expect "passes the exit status through" 7 "$wrap" -p "$src/policy/zlib.policy" sh -c 'exit 7'
else
    expect "no PKU: refuses to run the program unprotected" 1 "$wrap" --policy "$src/policy/zlib.policy" -- /bin/echo main-ran
    has "no PKU: says why in one line" "$tmp/err" "^libprotect: this CPU or kernel has no memory protection keys \\(PKU\\): cannot run the program protected \\(protect-wrap --dry-run, or PROTECT_DRY_RUN=1, gates it without protecting it\\)$"
    if grep -q main-ran "$tmp/out"; then bad "no PKU: the program did not run"; else ok "no PKU: the program did not run"; fi
fi
expect "program not found" 127 "$wrap" -p "$src/policy/zlib.policy" /nonexistent/program
has "program not found is one line" "$tmp/err" "^protect-wrap: /nonexistent/program: No such file or directory$"
expect "invalid policy stops the run" 1 "$wrap" -p "$tmp/bad.policy" /bin/true
expect "shim refuses an invalid policy before main" 1 \
    env LD_PRELOAD="$build/lib/libprotect.so" PROTECT_POLICY="$tmp/bad.policy" /bin/echo main-ran
if grep -q main-ran "$tmp/out"; then bad "program did not run with an invalid policy"; else ok "program did not run with an invalid policy"; fi
has "shim names the policy error" "$tmp/err" "^$tmp/bad.policy:3: mode must be"

# An installed tree works after being moved.
if cmake --install "$build" --prefix "$tmp/prefix" >/dev/null 2>&1 && mv "$tmp/prefix" "$tmp/moved"; then
    # (without PKU the shim refuses, with exit 1: either way it was found and ran)
    "$tmp/moved/bin/protect-wrap" -v -p "$tmp/moved/share/libprotect/policy/sqlite3.policy" /bin/true >"$tmp/out" 2>"$tmp/err"
    case $? in 0|1) ok "moved install runs its shim" ;; *) bad "moved install runs its shim" "$(cat "$tmp/err")" ;; esac
    has "the shim is the moved one" "$tmp/err" "LD_PRELOAD=$tmp/moved/lib[^ ]*/libprotect.so"
    if [ -n "$(find "$tmp/moved" -path '*/pkgconfig/libprotect.pc')" ]; then ok "pkg-config file installed"; else bad "pkg-config file installed"; fi
else
    bad "cmake --install"
fi

finish cli
