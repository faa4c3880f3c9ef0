#!/usr/bin/python3
"""make demo: a stock Linux guest doing DMA through nested translation.

Boots Debian's own kernel under TCG on the patched QEMU with
intel-iommu x-scalable-mode=on,x-flts=on and a simulated passthrough
device (iommufd-sim).  The guest's intel-iommu driver uses first-stage
tables; QEMU binds them into a nested HWPT on the host and forwards the
guest's invalidations.  The simdma module maps, DMAs and unmaps through the
DMA API (iommu.strict=1) and checks every byte.  Prints what happened on
both sides in plain words.

  demo-guest.py [--iterations N] [--arch amd64|arm64]

arm64: Debian's arm64 kernel with its arm-smmu-v3 driver on the virt
machine, behind -device arm-smmuv3,primary-bus=pcie.0,accel=on.
"""

import argparse
import importlib.util
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    'guest_run', TOP / 'scripts' / 'guest-run.py')
guest_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(guest_run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iterations', type=int, default=10000)
    ap.add_argument('--arch', choices=['amd64', 'arm64'], default='amd64')
    a = ap.parse_args()
    viommu = ('intel-iommu x-scalable-mode=on,x-flts=on' if a.arch == 'amd64'
              else 'arm-smmuv3 accel=on')
    print('Nested vIOMMU demo: Debian\'s Linux 6.12 %s guest, %s,'
          % (a.arch, viommu))
    print('and a simulated passthrough device doing %d DMA map/copy/unmap '
          'cycles.' % a.iterations)
    print('Booting the guest under TCG...', flush=True)
    r = guest_run.run('nested', a.iterations, arch=a.arch)
    rep = r['report']

    print('\nWhat the guest\'s IOMMU driver said:')
    for line in r['console'].splitlines():
        if re.search(r'DMAR: (IOMMU enabled|dmar0|Host address width|Using '
                     r'Queued)|iommu: (Default domain|DMA domain TLB)|'
                     r'arm-smmu-v3.*(ias|msi|2-level|features)|'
                     r'Adding to iommu group', line):
            print('  ' + line.split('guest:', 1)[-1].strip())

    print('\nWhat the guest driver (simdma) reported:')
    for line in r['console'].splitlines():
        if 'simdma: result' in line or 'simdma: device' in line:
            print('  ' + line.split('] ', 1)[-1].strip())
    kind = {1: 'stage 2 only (no nesting!)', 2: 'VT-d nested: the guest\'s '
            'first-stage table on top of VFIO\'s stage 2',
            5: 'SMMUv3 nested: the guest\'s STE, CD and stage-1 table on '
            'top of VFIO\'s stage 2'}.get(
                r.get('domain'), 'unknown (%s)' % r.get('domain'))
    print('  -> the device translated through: %s' % kind)
    print('  -> %s cycles, %s data mismatches, %s DMA faults, %s timeouts, '
          '%s cycles/s' % (r.get('cycles', '?'), r.get('mismatches', '?'),
                           r.get('faults', '?'), r.get('timeouts', '?'),
                           r.get('ops_per_s', '?')))

    print('\nWhat the host (the simulator) saw:')
    print('  - nested HWPTs created from the guest\'s %s: %d'
          % ('PASID entry' if a.arch == 'amd64' else
             'STEs (with the abort and bypass ones)', r['nested_hwpts']))
    print('  - guest invalidations forwarded: %d entries in %d host '
          'HWPT_INVALIDATE calls' % (rep.get('inv.entries', 0),
                                     rep.get('inv.calls', 0)))
    print('  - guest map/unmap shadowed with IOAS_MAP/UNMAP: %d/%d calls '
          '(guest RAM at boot and unplug only)'
          % (rep.get('ioctl.IOAS_MAP', 0), rep.get('ioctl.IOAS_UNMAP', 0)))
    print('  - stage-1 IOTLB: %d hits, %d misses, %d stale hits'
          % (rep.get('iotlb.hits', 0), rep.get('iotlb.misses', 0),
             rep.get('iotlb.stale_hits', 0)))
    print('  - device hot-unplugged at the end: %s; host objects left at '
          'exit: %s' % ('yes' if r['unplugged'] else 'NO',
                        rep.get('live.all', '?')))
    print('  - QEMU: exit status %s, %.1f s CPU in total'
          % (r['rc'], r['qemu_cpu_s']))

    ok = (r['rc'] == 0 and r['unplugged'] and rep.get('live.all') == 0 and
          r.get('cycles') == a.iterations and r.get('mismatches') == 0 and
          r.get('faults') == 0 and r.get('timeouts') == 0 and
          r.get('domain') == (2 if a.arch == 'amd64' else 5) and
          r['nested_hwpts'] >= 1)
    print('\nResult: %s' % ('OK' if ok else 'FAILED'))
    if not ok:
        print('\nGuest console:\n' + r['console'][-3000:])
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
