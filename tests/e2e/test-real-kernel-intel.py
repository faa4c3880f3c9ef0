#!/usr/bin/python3
"""The Intel real-kernel end-to-end test (issue 15, e2e/README.md): L0 is
the patched QEMU under TCG emulating a nesting VT-d (intel-iommu
x-nested=on) with QEMU's edu device behind it; L1 is x86_64 Linux 7.2
with intel-iommu and iommufd, which binds edu to vfio-pci; L2 is the
patched qemu-system-x86_64, run inside L1 with -device
intel-iommu,x-flts=on and the edu device through vfio-pci, driven over
qtest by e2e/driver-vtd.c.  edu's DMA, performed by L0, only lands in the
right L2 page if the L1 kernel nested the guest's first-stage table and
got its invalidations.  Prints TAP; L1_ARCH=x86_64 e2e/build.sh must have
run (make check does that).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402


def main():
    t = qemutest.Tap()
    out, rc = qemutest.real_kernel_run(t, 'x86_64', 'qemu-system-x86_64')
    t.ok('DMAR: Intel(R) Virtualization Technology for Directed I/O' in out
         and 'Enabled IRQ remapping' in out,
         'L1 kernel: intel-iommu with interrupt remapping on L0\'s VT-d')
    qemutest.real_kernel_verdict(t, out, rc)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
