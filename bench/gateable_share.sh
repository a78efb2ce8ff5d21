#!/usr/bin/env bash
# Measures the share of exported functions that protect-wrap can gate, over
# every shared object in /usr/lib/x86_64-linux-gnu plus libc and the loader.
# Files that are not x86-64 ELF (linker scripts) are reported and skipped.
# Usage: bench/gateable_share.sh [BUILD_DIR]
set -uo pipefail
build=${1:-build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/bin/protect-wrap" --check --json /usr/lib/x86_64-linux-gnu/*.so* \
    /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2 >"$out" 2>/dev/null
status=$?
if [ "$status" -gt 2 ]; then
    echo "protect-wrap --check failed with status $status" >&2
    exit 1
fi
python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
libs = d["libraries"]
jmp = sum(l["gateable_jmp"] for l in libs)
trap = sum(l["gateable_trap"] for l in libs)
total = d["total_exports"]
print(f"libraries checked: {d['checked']}, not ELF or unreadable: {d['failed']}")
print(f"exported functions: {total}")
print(f"gateable: {jmp + trap} ({100 * (jmp + trap) / total:.3f}%)")
print(f"  by jmp:       {jmp} ({100 * jmp / total:.3f}%)")
print(f"  by int3 trap: {trap} ({100 * trap / total:.3f}%)")
print(f"not gateable: {total - jmp - trap}")
PY
