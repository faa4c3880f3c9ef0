#!/usr/bin/python3
"""A stock Linux guest (Debian's 6.12 kernel) drives a simulated
passthrough device through its DMA API behind intel-iommu, in nested and
in shadow mode, and on arm64 behind arm-smmuv3 accel=on
(scripts/guest-run.py).  Prints TAP.

Nested: the guest's intel-iommu driver uses first-stage tables; the device
must translate through a VT-d nested HWPT, every guest unmap must reach
the host as an invalidation, no byte may be wrong, and nothing may be left
on the host after hot-unplug.  The workload reuses IOVAs for different
pages, so a missed invalidation shows up as wrong data or faults.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import importlib.util
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    'guest_run', TOP / 'scripts' / 'guest-run.py')
guest_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(guest_run)
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402

CYCLES = 2000


def check_common(t, r, mode, cycles):
    t.ok(r['rc'] == 0 and r.get('cycles') == cycles,
         '%s: guest ran %d cycles, QEMU exited cleanly (rc %s, cycles %s)'
         % (mode, cycles, r['rc'], r.get('cycles')))
    t.ok(r.get('mismatches') == 0 and r.get('faults') == 0 and
         r.get('timeouts') == 0,
         '%s: no mismatches, faults or MSI timeouts (%s/%s/%s)'
         % (mode, r.get('mismatches'), r.get('faults'), r.get('timeouts')))
    t.ok(r['unplugged'] and r['report'].get('live.all') == 0,
         '%s: hot-unplugged, no host objects left (%s)'
         % (mode, r['report'].get('live.all')))


def main():
    t = qemutest.Tap()
    r = guest_run.run('nested', CYCLES)
    rep = r['report']
    check_common(t, r, 'nested', CYCLES)
    t.ok(r.get('domain') == 2 and r['nested_hwpts'] >= 1,
         'nested: device translated through a VT-d nested HWPT (domain %s, '
         '%d nested HWPT allocations)' % (r.get('domain'),
                                          r['nested_hwpts']))
    t.ok(rep.get('inv.entries', 0) >= 2 * CYCLES,
         'nested: every guest unmap reached the host as an invalidation '
         '(%s entries for %d unmaps)' % (rep.get('inv.entries'), 2 * CYCLES))
    t.ok(rep.get('iotlb.stale_hits', 0) == 0,
         'nested: no stale IOTLB hits (%s)' % rep.get('iotlb.stale_hits', 0))
    t.ok(rep.get('ioctl.IOAS_MAP', 0) < 100,
         'nested: guest mappings are not shadowed (%s IOAS_MAP calls)'
         % rep.get('ioctl.IOAS_MAP'))
    if t.failed:
        t.diag(r['console'][-3000:])

    # The host fails one invalidation in the middle of the workload: the
    # stock guest driver must neither hang (an invalidation queue error at
    # its wait descriptor would make it spin) nor see stale translations.
    r = guest_run.run('nested', CYCLES, timeout=300,
                      sim_fail='HWPT_INVALIDATE:%d:EIO' % CYCLES)
    rep = r['report']
    check_common(t, r, 'nested, host invalidation failure', CYCLES)
    t.ok(rep.get('fail.injected') == 1,
         'nested, host invalidation failure: the host failed one '
         'HWPT_INVALIDATE (%s)' % rep.get('fail.injected'))
    t.ok(rep.get('iotlb.stale_hits', 0) == 0 and r['nested_hwpts'] >= 2,
         'nested, host invalidation failure: a new nested HWPT, no stale '
         'IOTLB hits (%d nested HWPTs, %s stale hits)'
         % (r['nested_hwpts'], rep.get('iotlb.stale_hits', 0)))
    if t.failed:
        t.diag(r['console'][-3000:])

    r = guest_run.run('nested', CYCLES, arch='arm64',
                      extra_append='simdma.stray=1')
    rep = r['report']
    check_common(t, r, 'arm64 nested', CYCLES)
    t.ok(r.get('domain') == 5 and r['nested_hwpts'] >= 3,
         'arm64 nested: device translated through an SMMUv3 S1 nested HWPT '
         '(domain %s, %d vSTE HWPTs incl. abort/bypass)'
         % (r.get('domain'), r['nested_hwpts']))
    t.ok(rep.get('inv.entries', 0) >= 2 * CYCLES,
         'arm64 nested: every guest unmap reached the host vIOMMU as an '
         'invalidation (%s entries for %d unmaps)'
         % (rep.get('inv.entries'), 2 * CYCLES))
    # as on x86: strict mode reuses IOVAs, so an invalidation the host
    # lost would be a hit on the previous cycle's translation
    t.ok(rep.get('iotlb.misses', 0) > 0 and
         rep.get('iotlb.stale_hits', 0) == 0,
         'arm64 nested: no stale IOTLB hits (%s stale, %s hits, %s misses)'
         % (rep.get('iotlb.stale_hits', 0), rep.get('iotlb.hits', 0),
            rep.get('iotlb.misses', 0)))
    t.ok(rep.get('ioctl.VIOMMU_ALLOC', 0) == 1
         and rep.get('ioctl.VDEVICE_ALLOC', 0) >= 1,
         'arm64 nested: one host vIOMMU and a vDEVICE (%s/%s)'
         % (rep.get('ioctl.VIOMMU_ALLOC'), rep.get('ioctl.VDEVICE_ALLOC')))
    # simdma.stray: a DMA from an IOVA the guest just unmapped.  The host
    # records F_TRANSLATION with the vDEVICE's ID; the guest's own
    # arm-smmu-v3 driver must find it in its event queue and log it.
    vsids = set(int(m.group(1), 16) for m in
                (re.search(r'VDEVICE_ALLOC .*virt_id=0x([0-9a-f]+)', line)
                 for line in r['log']) if m)
    logged = set(int(m.group(1), 16) for m in
                 re.finditer(r'arm-smmu-v3.*0x([0-9a-f]{8})00000010\b',
                             r['console']))
    t.ok(r.get('stray_status', 0) & 4 and
         'event 0x10 received' in r['console'] and logged and
         logged <= vsids,
         'arm64 nested: a DMA from an unmapped IOVA faulted (status %s) and '
         'the guest driver logged F_TRANSLATION for its StreamID (logged '
         '%s, vDEVICE IDs %s)' % (r.get('stray_status'),
                                 sorted(map(hex, logged)),
                                 sorted(map(hex, vsids))))
    if t.failed:
        t.diag(r['console'][-3000:])

    r = guest_run.run('shadow', CYCLES // 4)
    rep = r['report']
    check_common(t, r, 'shadow', CYCLES // 4)
    t.ok(rep.get('ioctl.IOAS_MAP', 0) >= CYCLES // 2,
         'shadow: QEMU mirrored guest mappings with IOAS_MAP (%s calls)'
         % rep.get('ioctl.IOAS_MAP'))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
