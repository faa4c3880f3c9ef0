#!/usr/bin/python3
"""Fault-injection sweep: every host call of a device's life behind a
nesting vIOMMU fails once, and QEMU must cope.  Prints TAP.

For each vendor (intel-iommu x-flts=on on q35, arm-smmuv3 accel=on on
virt) tests/lib/scenario.py plays one scenario through qtest: cold-plug a
simulated VFIO device, the guest enables the vIOMMU and binds the device
(VT-d: scalable-mode root/context/PASID entry with a first-stage table;
SMMUv3: STE with a stage-1 CD), DMA, an invalidation (VT-d invalidation
queue; SMMUv3 CMDQ TLBI + CMD_SYNC) checked by the next DMA, system_reset,
hot-unplug, hot-plug again, bind, DMA, unplug, quit.

A run without injection counts, from the simulator's log
(IOMMUFD_SIM_LOG), how often each op IOMMUFD_SIM_FAIL knows is called
(OPEN_IOMMU, BIND, GET_HW_INFO, IOAS_ALLOC, HWPT_ALLOC, ATTACH (which is
also the replace), DETACH, VIOMMU_ALLOC, VDEVICE_ALLOC, HWPT_INVALIDATE,
DESTROY, IOAS_MAP/UNMAP, GET_INFO, SET_IRQS, RESET, ...).  Then for every
op and every n up to its count the scenario runs with
IOMMUFD_SIM_FAIL=OP:n:ERRNO (the errno per op: scenario.FAIL_ERRNO, with
the reasons) and must end well (scenario.judge): QEMU alive and answering
QMP, or, for a failure while the cold-plugged device is realized, exit
status 1 with a message naming the error; no signal, abort, hang or
sanitizer report; no DMA landing where the guest's tables do not send it
(a fault, an error status or a blocked device is fine); the device
working again after the guest's retry and a re-plug; exactly one
injection; and after the final unplug and quit nothing left on the host
(live.all 0, no open context in IOMMUFD_SIM_REPORT), nor anything QEMU
made and left for the kernel to free when /dev/iommu is closed (unless the
injected failure was a DESTROY or DETACH the host refused).

Each vendor's scenario runs twice, with the iommufd QEMU opens itself
(closed when the last device goes, the kernel frees what is left) and
with one passed in with fd= as libvirt does (never closed: what QEMU does
not destroy stays, and the exit report shows it).  The whole matrix
(about 430 runs) takes 20-30 s with two QEMUs at a time.
scripts/sweep.py (make sweep) runs the same and writes docs/reliability.md.

Env: QEMU_SYSTEM_X86_64 (qemu-system-aarch64 is taken from the same
directory), IOMMUFD_SIM_LIB (see tests/lib/qemutest.py);
SWEEP_JOBS (default 2) QEMUs at a time.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
import faultsweep as fs  # noqa: E402
import scenario as sc  # noqa: E402


def main():
    t = qemutest.Tap()
    missing = sc.missing_binaries()
    if missing:
        t.ok(False, 'binaries present: missing %s' % missing)
        return t.done()
    jobs = int(os.environ.get('SWEEP_JOBS', '2'))
    with tempfile.TemporaryDirectory(prefix='fault-sweep-') as tmp:
        cases = []
        for vendor, mode in ((v, m) for m in fs.MODES for v in sc.VENDORS):
            res, problems, vcases = fs.baseline(vendor, tmp, mode)
            what = vendor + (' fd=' if mode == 'fd' else '')
            t.ok(not problems and res.status('dma2') == 'ok',
                 '%s: the scenario passes without injection (%s)'
                 % (what, res.summary()))
            for p in problems:
                t.diag('  ' + p)
            ops = sorted({c.op for c in vcases})
            # the calls the scenario must reach for the sweep to mean much
            want = {'OPEN_IOMMU', 'BIND', 'GET_HW_INFO', 'IOAS_ALLOC',
                    'HWPT_ALLOC', 'ATTACH', 'DETACH', 'HWPT_INVALIDATE',
                    'DESTROY', 'IOAS_MAP', 'IOAS_UNMAP', 'GET_INFO',
                    'SET_IRQS', 'RESET'}
            if vendor == 'smmuv3':
                want |= {'VIOMMU_ALLOC', 'VDEVICE_ALLOC'}
            if mode == 'fd':
                want.discard('OPEN_IOMMU')
            t.ok(want <= set(ops),
                 '%s: the scenario reaches %d calls of %d ops (%s); '
                 'missing: %s' % (what, len(vcases), len(ops),
                                  ' '.join(ops),
                                  sorted(want - set(ops)) or 'none'))
            cases += vcases
        seconds = fs.run_all(cases, tmp, workers=jobs)
        t.diag('%d injected runs in %.0f s, %d at a time'
               % (len(cases), seconds, jobs))
        t.diag(fs.format_table(fs.table(cases)))
        for c in cases:
            t.ok(c.passed, '%s %s (%s): %s'
                 % (fs.name(c), c.spec, fs.PHASE_NAMES.get(c.phase, c.phase),
                    'QEMU copes' if c.passed else '; '.join(c.problems)))
            if not c.passed:
                t.diag(fs.describe(c))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
