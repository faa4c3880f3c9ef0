#!/usr/bin/python3
"""A short hot-plug soak (scripts/soak.py runs the long one, make soak):
SOAK_CYCLES (default 20) hot-plug/unplug cycles per vendor of a simulated
VFIO device behind intel-iommu x-flts=on (q35) and arm-smmuv3 accel=on
(virt), with the iommufd passed in as libvirt does (QEMU never closes it,
so a host object it fails to destroy stays).  Each cycle: device_add, the
guest binds the device through its vIOMMU, DMA, remap + invalidation +
DMA, device_del.  Asserts per vendor: every cycle completed with working
DMA, no host object left after any unplug, the device released each time,
the same host calls in every cycle from the second on, live.all 0 in the
simulator's report, QEMU exits cleanly.  VmRSS after the first and the
last cycle is printed; its 5% criterion is only meaningful over the long
run and is checked by make soak.  Prints TAP.

Env: QEMU_SYSTEM_X86_64, IOMMUFD_SIM_LIB (tests/lib/qemutest.py),
SOAK_CYCLES.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
import scenario as sc  # noqa: E402
import soaklib  # noqa: E402


def main():
    t = qemutest.Tap()
    cycles = int(os.environ.get('SOAK_CYCLES', '20'))
    missing = sc.missing_binaries()
    if missing:
        t.ok(False, 'binaries present: missing %s' % missing)
        return t.done()
    with tempfile.TemporaryDirectory(prefix='soak-') as tmp:
        for vendor in sc.VENDORS:
            r = soaklib.soak(vendor, cycles, tmp)
            t.ok(r.done == cycles and not r.failures,
                 '%s: %d/%d hot-plug cycles with DMA and invalidation, no '
                 'failure (%d failures)'
                 % (vendor, r.done, cycles, len(r.failures)))
            for cycle, text in r.failures[:10]:
                t.diag('  cycle %d: %s' % (cycle, text))
            t.ok(len(r.live_after) == r.done and r.done > 0 and
                 max(r.live_after) == 0,
                 '%s: no host object left after any unplug (max %s)'
                 % (vendor, max(r.live_after or [None])))
            t.ok(r.report.get('live.all') == 0 and r.rc == 0,
                 '%s: live.all %s in the report after %d cycles, exit '
                 'status %s' % (vendor, r.report.get('live.all'), r.done,
                                r.rc))
            t.diag('%s: VmRSS after cycle 1 %s kB, after cycle %d %s kB '
                   '(%.0f s)' % (vendor, r.rss_first, r.done, r.rss_last,
                                 r.seconds))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
