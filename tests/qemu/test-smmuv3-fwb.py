#!/usr/bin/python3
"""The emulated SMMUv3 advertises S2FWB (IDR3.FWB) when it implements
stage 2 (IDR0.S2P) and its s2fwb property is on: Linux only creates a
vIOMMU on an SMMU with FWB or CANWBS, which is what lets a real kernel nest
on QEMU's SMMU (the real-kernel test, e2e/).  The machine types that
predate the property keep FWB clear (compat).  Prints TAP.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402

SMMU_BASE = 0x09050000              # virt's VIRT_SMMU region
IDR0, IDR3 = 0x0, 0xc
S2P, S1P = 1 << 0, 1 << 1
FWB = 1 << 8


def idrs(machine, *extra):
    qemu = qemutest.default_qemu().replace('qemu-system-x86_64',
                                           'qemu-system-aarch64')
    q = qemutest.Qemu(['-M', machine + ',iommu=smmuv3', '-cpu', 'max'] +
                      list(extra), qemu=qemu).start()
    try:
        return q.readl(SMMU_BASE + IDR0), q.readl(SMMU_BASE + IDR3)
    finally:
        q.quit()


def main():
    t = qemutest.Tap()
    fwb_on = ('-global', 'arm-smmuv3.s2fwb=on')
    idr0, idr3 = idrs('virt', *fwb_on)
    t.ok(idr0 & S2P and idr3 & FWB,
         'nested SMMU (virt), s2fwb=on: S2P and FWB advertised '
         '(IDR0 0x%x IDR3 0x%x)' % (idr0, idr3))
    idr0, idr3 = idrs('virt')
    t.ok(idr0 & S2P and not idr3 & FWB,
         'nested SMMU (virt-10.0 compat): S2P without FWB '
         '(IDR0 0x%x IDR3 0x%x)' % (idr0, idr3))
    idr0, idr3 = idrs('virt-9.1', *fwb_on)
    t.ok(not idr0 & S2P and not idr3 & FWB,
         'stage-1 SMMU (virt-9.1), s2fwb=on: neither S2P nor FWB '
         '(IDR0 0x%x IDR3 0x%x)' % (idr0, idr3))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
