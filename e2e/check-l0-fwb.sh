#!/usr/bin/env bash
# Read the SMMU's IDR0 and IDR3 of L0's "-M virt,iommu=smmuv3" through the
# qtest protocol (no guest) and report whether IDR0.S2P and IDR3.FWB are set.
# Exit status 0 when FWB is advertised.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

QEMU=${QEMU:-$OBJ/qemu-system-aarch64}
SMMU_BASE=0x09050000    # VIRT_SMMU in hw/arm/virt.c's memory map

info "reading IDR0/IDR3 with $QEMU"
# QEMU does not quit when the qtest stream ends: read the two answers, then
# let the timeout end it.
out=$( (printf 'readl %#x\nreadl %#x\n' $((SMMU_BASE)) $((SMMU_BASE + 0xc)) |
      timeout 10 "$QEMU" -M virt,gic-version=3,iommu=smmuv3 -cpu max \
          -global arm-smmuv3.s2fwb=on \
          -accel qtest -qtest stdio -display none -nodefaults 2>/dev/null |
      sed -n 's/^OK \(0x[0-9a-f]*\)$/\1/p') || true)
idr0=$(sed -n 1p <<< "$out")
idr3=$(sed -n 2p <<< "$out")
[ -n "$idr3" ] || die "no answer from the qtest protocol"
s2p=$(( (idr0 >> 1) & 1 ))
fwb=$(( (idr3 >> 8) & 1 ))
say "IDR0 $idr0 (S2P $s2p)  IDR3 $idr3 (FWB $fwb)"
[ "$fwb" = 1 ]
