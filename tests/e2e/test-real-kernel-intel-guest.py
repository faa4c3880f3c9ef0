#!/usr/bin/python3
"""The demo's stock Linux guest (Debian's amd64 kernel) as the L2 guest of
the Intel real-kernel chain: L0 emulated nested VT-d, L1 Linux 7.2 with
iommufd, L2 the patched QEMU under TCG with intel-iommu x-flts=on and edu
through vfio-pci (e2e/run-l2-guest.sh).  The L2 kernel's intel-iommu
driver gives edu a DMA domain, which QEMU must bind nested on L1's
iommufd; e2e/l2-edudma.c then copies pages through it, every unmap an
IOTLB invalidation the chain must forward for the data to land right.
About 80 s on 2 cores.  Prints TAP.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import re
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402


def main():
    t = qemutest.Tap()
    start = time.time()
    r = subprocess.run(['bash', str(TOP / 'e2e' / 'run-l2-guest.sh')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=1500)
    out = r.stdout
    t.diag('run-l2-guest.sh: exit %d after %.0f s' % (r.returncode,
                                                       time.time() - start))
    up = re.search(r'l2: userspace at ([0-9.]+) s', out)
    t.ok(up is not None,
         'L2 (stock Debian kernel) reached userspace%s'
         % (' after %s s of L2 uptime' % up.group(1) if up else ''))
    t.ok(re.search(r'vtd_accel_attach .*attach nested hwpt', out) is not None,
         "QEMU in L1 bound L2's DMA domain for edu as a nested HWPT")
    dma = re.search(r'edudma: ([0-9]+) rounds, ([0-9]+) bad', out)
    t.ok(dma is not None and int(dma.group(1)) > 0 and dma.group(2) == '0',
         'edu DMA through the nested domain: %s'
         % (dma.group(0) if dma else 'no result'))
    t.ok(r.returncode == 0 and 'run-l2-guest: PASS' in out,
         'the run passes (exit %d)' % r.returncode)
    if t.failed:
        t.diag(out[-4000:])
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
