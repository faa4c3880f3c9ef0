#!/usr/bin/python3
"""The real-kernel end-to-end test (issue 7, e2e/README.md): L0 is the
patched QEMU under TCG emulating a nesting SMMUv3 with QEMU's edu device
behind it; L1 is Linux 7.2 with iommufd, which binds edu to vfio-pci; L2
is the patched QEMU cross-built for arm64, run inside L1 with
-device arm-smmuv3,accel=on and the edu device through vfio-pci, driven
over qtest by e2e/driver.c.  edu's DMA, performed by L0, only lands in
the right L2 page if the L1 kernel installed the guest's stage 1 and got
its invalidations.  Prints TAP; e2e/build.sh must have run (make check
does that).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402


def main():
    t = qemutest.Tap()
    out, rc = qemutest.real_kernel_run(t, 'arm64', 'qemu-system-aarch64')
    t.ok('probe: PASS' in out,
         'L1 kernel: the probe created a nesting parent, vIOMMU, vDEVICE '
         'and a nested HWPT')
    qemutest.real_kernel_verdict(t, out, rc)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
