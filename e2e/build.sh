#!/usr/bin/env bash
# Build everything the real-kernel end-to-end test needs besides L0 (the
# patched QEMU in build/obj): the L1 kernel, L2 (the patched QEMU and the
# test driver, cross-built for arm64 or, with L1_ARCH=x86_64, build/obj's
# own) and L1's initramfs.  Each step is cached; prints the time each took.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

for step in build-l1-kernel build-l2-qemu build-l1-initramfs; do
    start=$(date +%s)
    "$TOP/e2e/$step.sh"
    info "$step (${L1_ARCH:-arm64}): $(( $(date +%s) - start )) s"
done
