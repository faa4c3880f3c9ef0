#!/usr/bin/env bash
# `make e2e` / `make e2e-intel` (L1_ARCH=x86_64): build what is missing and
# run the three-level test once: L0 (build/obj's QEMU, TCG) -> L1 (Linux
# 7.2, iommufd) -> L2 (the patched QEMU, driven over qtest by the driver).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

start=$(date +%s)
"$TOP/e2e/build.sh"
"$TOP/e2e/run-l1.sh" && rc=0 || rc=$?
info "make e2e (L1 ${L1_ARCH:-arm64}): $(( $(date +%s) - start )) s, exit status $rc"
exit "$rc"
