"""Hot-plug soak: N hot-plug/unplug cycles of a simulated VFIO device
behind a nesting vIOMMU (tests/lib/scenario.py's guests), DMA and an
invalidation in each, in one QEMU.  Used by scripts/soak.py (make soak,
200 cycles, writes docs/reliability.md) and tests/qemu/test-soak.py (a
short run in make check).

The iommufd is passed to QEMU as libvirt does (-object iommufd,fd=N, a
simulator context on a memfd): QEMU never closes it, so every host object
QEMU fails to destroy at an unplug stays in it, where a leak shows (with an
iommufd QEMU opens itself, the last unplug closes it and the kernel frees
whatever was left).

Per cycle: getfd + device_add, slot power on, firmware, the guest binds
the device (vIOMMU on, translation through its tables), DMA, remap +
invalidation + DMA, device_del + slot power off + DEVICE_DELETED.  After
each unplug the simulator's log must show no host object left of those
QEMU made (IOAS, HWPTs, vIOMMU, vDEVICE) and the same host calls as in the
second (the first one plugs with the vIOMMU still off; from the second
on the guest's vIOMMU is on when the device arrives), and the device
released (unbound from the iommufd).  QEMU's VmRSS is sampled after each
cycle (@settle seconds after the unplug).  At the end, quit: the
simulator's report must show nothing live.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import shutil
import tempfile
import time

import qemutest
import scenario as sc


class SoakResult:
    def __init__(self, vendor, cycles):
        self.vendor = vendor
        self.cycles = cycles
        self.done = 0               # cycles completed
        self.failures = []          # [(cycle, text)]
        self.rss = []               # kB after each cycle
        self.live_after = []        # host objects after each unplug
        self.calls = []             # {op: n} per cycle
        self.log_lines = []         # log lines per cycle
        self.report = {}
        self.rc = None
        self.seconds = 0.0
        self.stderr = ''

    def fail(self, cycle, text):
        self.failures.append((cycle, text))

    @property
    def rss_first(self):
        return self.rss[0] if self.rss else None

    @property
    def rss_last(self):
        return self.rss[-1] if self.rss else None

    def rss_growth(self):
        if not self.rss or not self.rss[0]:
            return None
        return (self.rss[-1] - self.rss[0]) / self.rss[0]


class LogReader:
    """The simulator log, read on from where the last read stopped."""

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def new_lines(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except OSError:
            return []
        return data.splitlines()


def soak(vendor, cycles, tmp, timeout=20, progress=None, settle=0.05,
         fail=None):
    """Run @cycles hot-plug cycles; returns a SoakResult."""
    cls = sc.VENDORS[vendor]
    res = SoakResult(vendor, cycles)
    own = tempfile.mkdtemp(prefix='soak-%s.' % vendor, dir=tmp)
    g = cls(own, 'soak-' + vendor, timeout=timeout, fail=fail)
    ctx = os.memfd_create('iommufd-sim-soak', 0)
    os.set_inheritable(ctx, True)
    g.iommufd_fd = ctx
    t0 = time.monotonic()
    tracker = sc.ObjTracker()
    try:
        g.start(cold_plug=False)
    except (qemutest.QemuError, OSError) as e:
        res.fail(0, 'QEMU did not start: %s' % e)
        return res
    # (Guest.start closed ctx: QEMU has it)
    log = LogReader(g.env['IOMMUFD_SIM_LOG'])
    tracker.feed(log.new_lines())
    try:
        for cycle in range(1, cycles + 1):
            dev_id = 'd%d' % cycle
            errs = g.plug(dev_id)
            if errs[0] is not None:
                res.fail(cycle, 'device_add: %s' % errs)
                if errs[-1] is not None:
                    break
            if not g.firmware():
                res.fail(cycle, 'device not visible after the plug')
            st, d = g.bind()
            if st != 'ok':
                res.fail(cycle, 'bind: %s %s' % (st, d))
            st, d = g.dma_iova()
            if st != 'ok':
                res.fail(cycle, 'DMA: %s %s' % (st, d))
            st, d = g.invalidate()
            if st != 'ok':
                res.fail(cycle, 'invalidation + DMA: %s %s' % (st, d))
            err = g.unplug(dev_id)
            if err:
                res.fail(cycle, 'unplug: %s' % err)
            lines = log.new_lines()
            tracker.feed(lines)
            calls = sc.count_calls(lines)
            res.calls.append(calls)
            res.log_lines.append(len(lines))
            res.live_after.append(len(tracker.live))
            released = sum(1 for ln in lines if ln.startswith('device ') and
                           ln.endswith(' released'))
            if released != 1:
                res.fail(cycle, 'device released %d times at the unplug, '
                         'not once' % released)
            if tracker.live:
                res.fail(cycle, 'host objects left after the unplug: %s'
                         % ', '.join('%s %d' % (k, i) for i, k in
                                     sorted(tracker.live.items())))
            if len(res.calls) > 2 and calls != res.calls[1]:
                diff = {op: (res.calls[1].get(op, 0), calls.get(op, 0))
                        for op in set(calls) | set(res.calls[1])
                        if calls.get(op, 0) != res.calls[1].get(op, 0)}
                res.fail(cycle, "host calls differ from cycle 2 "
                         '(op: (first, this)): %s' % diff)
            # QEMU's RCU thread frees the old memory maps (FlatViews) of
            # the plug and unplug in batches; sampled at once, VmRSS swings
            # by +-10% with those batches (glibc trims the heap when they
            # are freed), which would hide a leak of that size.  Let it.
            time.sleep(settle)
            res.rss.append(g.vmrss())
            res.done = cycle
            if progress:
                progress(res)
            if len(res.failures) > 20:
                break
    except sc.Hang as e:
        res.fail(res.done + 1, 'hang: %s' % e)
    except (qemutest.QemuError, OSError) as e:
        res.fail(res.done + 1, 'QEMU: %s' % str(e).splitlines()[0])
    finally:
        alive = g.alive()
        if not alive:
            res.fail(res.done, 'QEMU not answering QMP at the end')
        g.q.quit()
        res.rc = g.q.proc.returncode
        res.stderr = g.q.stderr()
        g.q.log.close()
        rep = g.env['IOMMUFD_SIM_REPORT']
        if os.path.exists(rep):
            res.report = qemutest.read_report(rep)
        res.seconds = time.monotonic() - t0
        shutil.rmtree(g.q.dir, ignore_errors=True)
        shutil.rmtree(own, ignore_errors=True)
    if res.rc != 0:
        res.fail(res.done, 'QEMU exit status %s' % res.rc)
    if res.report.get('live.all') != 0:
        res.fail(res.done, 'live.all %s at exit' % res.report.get('live.all'))
    m = sc.SANITIZER_RE.search(res.stderr)
    if m:
        res.fail(res.done, 'stderr: %s' % m.group(0))
    return res
