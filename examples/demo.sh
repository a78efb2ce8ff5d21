#!/usr/bin/env bash
# The main job, on a fresh machine: install, build, then protect the
# unmodified sqlite3 shell (Debian's) with the shipped policy and show it.
# On a CPU without PKU the protected part runs in a QEMU guest that has it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
if build/tests/pku_probe >/dev/null; then
    exec bash examples/demo-steps.sh "$PWD/build" "$PWD"
fi
echo "(this CPU has no PKU: the demo runs in a QEMU guest whose CPU has it)"
PKU_VM_PROGRAMS="sqlite3 diff" exec tests/vm/pku-vm bash examples/demo-steps.sh "$PWD/build" "$PWD"
