#!/usr/bin/env bash
# `make e2e`: build what is missing and run the three-level test once:
# L0 (build/obj/qemu-system-aarch64, TCG) -> L1 (Linux 7.2, iommufd) ->
# L2 (the patched QEMU, driven over qtest by e2e-driver).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

start=$(date +%s)
"$TOP/e2e/build.sh"
QEMU=${QEMU:-$OBJ/qemu-system-aarch64} "$TOP/e2e/run-l1.sh" && rc=0 || rc=$?
info "make e2e: $(( $(date +%s) - start )) s, exit status $rc"
exit "$rc"
