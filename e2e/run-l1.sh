#!/usr/bin/env bash
# Boot the L1 guest of the real-kernel end-to-end test on L0, our QEMU
# under TCG, emulating a nesting IOMMU with QEMU's edu device behind it:
#   L1_ARCH=arm64 (default): virt with an SMMUv3 (stage 1 over stage 2);
#     console log build/e2e/l1-console.log.
#   L1_ARCH=x86_64 (the Intel chain): q35 with an intel-iommu that nests
#     (x-nested=on, the series' emulated nested VT-d) and remaps
#     interrupts; console log
#     build/e2e/l1-console-x86_64.log.
# The console goes to stdout and to the log.
#
# Environment: QEMU (L0 binary; default build/obj/qemu-system-aarch64 or
# -x86_64), TIMEOUT (seconds, default 300), APPEND (extra kernel arguments,
# e.g. "e2e.shell" for an interactive shell instead of powering off).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

OUT=$BUILD/e2e
L1_ARCH=${L1_ARCH:-arm64}
case $L1_ARCH in
    arm64)
        KERNEL=${KERNEL:-$OUT/Image}
        INITRD=${INITRD:-$OUT/initramfs.cpio.gz}
        QEMU=${QEMU:-$OBJ/qemu-system-aarch64}
        LOG=$OUT/l1-console.log
        # edu's default DMA mask is 28 bits; the bypass STE check DMAs to
        # L2 guest physical addresses, which are above 1 GiB.
        # S2FWB is what lets L1 create a vIOMMU; virt-10.0 keeps it off
        # (compat).
        # shellcheck disable=SC2054 # the commas are in -M, -cpu and -device values
        machine=(-M virt,gic-version=3,iommu=smmuv3 -cpu max,pauth-impdef=on
                 -global arm-smmuv3.s2fwb=on
                 -device edu,dma_mask=0xffffffffff)
        console=ttyAMA0 ;;
    x86_64)
        KERNEL=${KERNEL:-$OUT/bzImage}
        INITRD=${INITRD:-$OUT/initramfs-x86_64.cpio.gz}
        QEMU=${QEMU:-$OBJ/qemu-system-x86_64}
        LOG=$OUT/l1-console-x86_64.log
        # Linux binds iommufd devices only with isolated MSIs: interrupt
        # remapping.  The L2 guest's DMA addresses all fit edu's 28-bit
        # mask.  -nodefaults: SeaBIOS spends 30 s on q35's default empty
        # CD-ROM before it boots the kernel.
        # shellcheck disable=SC2054 # the commas are in -device values
        machine=(-M q35 -accel tcg -cpu max -nodefaults
                 -device intel-iommu,intremap=on,x-scalable-mode=on,x-flts=on,x-nested=on,caching-mode=on
                 -device edu)
        console="ttyS0 intel_iommu=on" ;;
    *) die "L1_ARCH must be arm64 or x86_64, not $L1_ARCH" ;;
esac
TIMEOUT=${TIMEOUT:-300}

[ -x "$QEMU" ] || die "no L0 QEMU at $QEMU"
[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run e2e/build-l1-kernel.sh"
[ -f "$INITRD" ] || die "no initramfs at $INITRD: run e2e/build-l1-initramfs.sh"

cmd=("$QEMU" "${machine[@]}"
     -smp 2 -m 1G -nic none
     -display none -monitor none -serial stdio -no-reboot
     -kernel "$KERNEL" -initrd "$INITRD"
     -append "console=$console panic=-1 ${APPEND:-}")
info "L0: ${cmd[*]}"
info "console log: $LOG (timeout ${TIMEOUT}s)"
start=$(date +%s.%N)
rc=0
# L0's own messages go to a file of their own: on the console stream they
# could land in the middle of a line L1 prints (a probe step, say).
timeout "$TIMEOUT" "${cmd[@]}" 2> "$LOG.l0-stderr" | tee "$LOG" || rc=$?
[ ! -s "$LOG.l0-stderr" ] || info "L0's stderr: $LOG.l0-stderr"
if [ "$rc" != 0 ] && [ -s "$LOG.l0-stderr" ]; then
    cat "$LOG.l0-stderr" >&2
fi
info "L0 exited with status $rc after $(printf '%.1f' \
    "$(echo "$(date +%s.%N) - $start" | bc)") s"
# The verdict comes from the console: vfio0 must exist, the probe and the
# L2 driver must pass (unless L2 was left out with APPEND=e2e.nol2).
if [ "$rc" = 0 ]; then
    if ! grep -q ' vfio0' "$LOG"; then
        info "FAIL: no /dev/vfio/devices/vfio0 in L1"; rc=1
    elif grep -q '^e2e: running probe' "$LOG" && ! grep -q '^probe: PASS' "$LOG"; then
        info "FAIL: probe did not pass"; rc=1
    elif ! grep -qw e2e.nol2 <<< "${APPEND:-}" && ! grep -q '^e2e-driver: PASS' "$LOG"; then
        info "FAIL: the L2 test did not pass"; rc=1
    else
        info "PASS"
    fi
fi
exit "$rc"
