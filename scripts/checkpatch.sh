#!/usr/bin/env bash
# Run the base tree's scripts/checkpatch.pl on one patch file; report as TAP.
# Errors fail; warnings are shown in the log but pass (as in QEMU's CI).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
need_base
patch=$(realpath "$1")
echo "1..1"
out=$(cd "$WT" && perl scripts/checkpatch.pl "$patch" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
if [ $rc -eq 0 ]; then
    echo "ok 1 - checkpatch $(basename "$patch")"
else
    echo "not ok 1 - checkpatch $(basename "$patch")"
fi
