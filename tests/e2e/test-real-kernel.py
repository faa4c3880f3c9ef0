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

import os
import re
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402


def main():
    t = qemutest.Tap()
    env = dict(os.environ)
    env.setdefault('QEMU', str(Path(qemutest.default_qemu()).parent /
                               'qemu-system-aarch64'))
    env.setdefault('TIMEOUT', '900')
    r = subprocess.run(['bash', str(TOP / 'e2e' / 'run-l1.sh')], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    out = r.stdout
    m = re.search(r'^e2e: (\S+) driver: (\S+)', out, re.M)
    t.ok(m is not None and m.group(2) == 'vfio-pci',
         'L1 (Linux %s) bound edu %s to vfio-pci'
         % ((re.search(r'L1 init, kernel (\S+)', out) or [None, '?'])[1],
            m.group(1) if m else '(not found)'))
    t.ok('probe: PASS' in out,
         'L1 kernel: the probe created a nesting parent, vIOMMU, vDEVICE '
         'and a nested HWPT')
    passed = qemutest.tap_from_driver(t, out)
    t.ok(passed, 'L2: the driver reached PASS')
    t.ok(r.returncode == 0, 'e2e/run-l1.sh passed (exit %d)' % r.returncode)
    report = re.search(r"^e2e-driver: what L2 QEMU asked.*?(?=^e2e-driver: "
                       r"(?:ok|FAIL))", out, re.M | re.S)
    if report:
        t.diag(report.group(0))
    if r.returncode or not passed:
        t.diag(out[-6000:])
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
