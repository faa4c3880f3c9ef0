#!/usr/bin/python3
"""A bounded slice of `make fuzz` for make check (TAP): fixed seeds, a few
hundred inputs per vIOMMU on the ASan/UBSan QEMU with simulated host
devices, then every saved reproducer of a crash the fuzzer found
(tests/fuzz/regressions/*.json).  Fails on any crash: QEMU killed by a
signal, an abort or assertion, a sanitizer report (leaks at exit
included), or a hang.

Besides "no crash", the slice checks that it reached what it is for: the
simulator's exit report must show nested HWPTs allocated and
invalidations forwarded (HWPT_INVALIDATE), DMA by the device, and the
runner must have hot-plugged and unplugged devices.

Env: QEMU_OBJ_ASAN (default build/obj-asan), IOMMUFD_SIM_LIB (default
build/sim/libiommufd-sim.so), FUZZ_SLICE_INPUTS (inputs per vIOMMU).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import glob
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import viommu_fuzz as vf  # noqa: E402
import qemutest  # noqa: E402

SEEDS = {'vtd': 'slice-1', 'smmu': 'slice-1'}
BATCH = 8


def slice_run(t, name, n, tmp):
    target = vf.TARGETS[name]()
    r = vf.Runner(target, workdir=os.path.join(tmp, name))
    crashes = []
    plugs = [0, 0]
    orig_plug, orig_unplug = r._plug, r._unplug

    def plug(slot):
        before = r.plugged.get(slot)
        orig_plug(slot)
        plugs[0] += before is None and r.plugged.get(slot) is not None

    def unplug(slot):
        before = r.plugged.get(slot)
        orig_unplug(slot)
        plugs[1] += before is not None and r.plugged.get(slot) is None
    r._plug, r._unplug = plug, unplug

    ops = 0
    t0 = time.monotonic()
    batch = []
    report = {}
    try:
        r.start()
    except vf.Crash as c:
        t.ok(False, '%s: QEMU starts' % name)
        t.diag(c.detail[-3000:])
        return
    for i in range(n):
        prog = vf.program_for(target, SEEDS[name], i, fresh=not batch)
        batch.append(prog)
        ops += len(prog)
        try:
            r.run_program(prog)
            if len(batch) >= BATCH:
                r.reset()
                batch = []
        except vf.Crash as c:
            path = os.path.join(tmp, 'crash-%s-%d.json' % (name, i))
            vf.save_reproducer(path, target, SEEDS[name], batch, c)
            crashes.append((i, c))
            batch = []
            if r.q:
                r.q.kill()
            try:
                r.start()
            except vf.Crash as c2:
                crashes.append((i, c2))
                break
    try:
        r.stop()
    except vf.Crash as c:
        crashes.append((n, c))
    secs = time.monotonic() - t0
    try:
        report = qemutest.read_report(os.path.join(tmp, name, 'sim.report'))
    except OSError:
        pass
    t.ok(not crashes, '%s: %d inputs (seed %s, %.1f ops each, %.0f/s), '
         'no crash' % (name, n, SEEDS[name], ops / max(n, 1),
                       n / max(secs, 1e-9)))
    for i, c in crashes[:5]:
        t.diag('%s input %d: %s' % (name, i, c.kind))
        t.diag('\n'.join(c.detail.splitlines()[:60]))
    # what the last QEMU process (since the last crash) did on the host
    t.ok(report.get('ioctl.HWPT_ALLOC', 0) > 0 and
         report.get('ioctl.HWPT_INVALIDATE', 0) > 0 and
         report.get('dma.ops', 0) > 0,
         '%s: reached the accel paths: HWPT_ALLOC %s, HWPT_INVALIDATE %s, '
         'DMA ops %s (simulator report)'
         % (name, report.get('ioctl.HWPT_ALLOC'),
            report.get('ioctl.HWPT_INVALIDATE'), report.get('dma.ops')))
    t.ok(plugs[0] > 0 and plugs[1] > 0,
         '%s: hot-plugged %d and unplugged %d devices' % (name, *plugs))


def main():
    t = qemutest.Tap()
    obj = vf.default_obj()
    lib = qemutest.default_sim_lib()
    n = int(os.environ.get('FUZZ_SLICE_INPUTS', '400'))
    for path in (os.path.join(obj, 'qemu-system-x86_64'),
                 os.path.join(obj, 'qemu-system-aarch64'), lib):
        t.ok(os.access(path, os.X_OK if 'qemu' in path else os.R_OK),
             'present: %s' % path)
    if t.failed:
        return t.done()
    with tempfile.TemporaryDirectory(prefix='fuzz-slice-') as tmp:
        for name in ('vtd', 'smmu'):
            slice_run(t, name, n, tmp)
        regs = sorted(glob.glob(str(HERE / 'regressions' / '*.json')))
        for path in regs:
            c = vf.replay(path)
            t.ok(c is None, 'regression %s: no crash%s'
                 % (os.path.basename(path), '' if c is None else
                    ' (got: %s)' % c.kind))
            if c:
                t.diag('\n'.join(c.detail.splitlines()[:60]))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
