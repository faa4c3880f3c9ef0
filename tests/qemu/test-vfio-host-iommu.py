#!/usr/bin/python3
"""Series part 1 (host IOMMU device, nesting parent) under iommufd-sim,
without a vIOMMU.  Prints TAP.

- the HostIOMMUDevice is realized after the device is attached: the last
  IOMMU_GET_HW_INFO of a device comes after its ATTACH;
- without a vIOMMU that nests, the default HWPT is not a nesting parent;
- a host IOMMU without nesting support changes nothing for a plain device;
- a host failure at each step of realize (GET_HW_INFO before attach and
  for the host device after it, IOAS_ALLOC, HWPT_ALLOC, ATTACH) makes
  device_add fail with a message, QEMU keeps running, the next device_add
  works, and nothing is left behind on the host at exit.

Env: QEMU_SYSTEM_X86_64, IOMMUFD_SIM_LIB (see tests/lib/qemutest.py).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
import simdev as sd  # noqa: E402

IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0


def start(t, tmp, tag, extra=(), fail=None, pass_fds=()):
    env = sd.env_for(tmp, tag, fail)
    q = qemutest.Qemu(sd.common_args(tmp) + ['-object', 'iommufd,id=x'] +
                      list(extra), env=env, pass_fds=pass_fds)
    q.start()
    sd.setup_bridge(q)
    return q, env


def unplug(q, dev_id):
    """device_del plus the guest's part of a native PCIe hot-unplug."""
    q.qmp_cmd('device_del', id=dev_id)
    sd.slot_ctl(q, power_on=False)
    q.wait_event('DEVICE_DELETED', timeout=10,
                 match=lambda e: e['data'].get('device') == dev_id)


def finish(t, q, env, what, dev_id):
    """Unplug @dev_id, quit, and check that no host object is left: QEMU
    does not unrealize devices when it quits, so unplug first."""
    try:
        unplug(q, dev_id)
        t.ok(True, '%s: hot-unplug' % what)
    except qemutest.QemuError as e:
        t.ok(False, '%s: hot-unplug (%s)' % (what, e))
    rc = q.quit()
    t.ok(rc == 0, '%s: QEMU exits cleanly (%s)' % (what, rc))
    rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
    t.ok(rep.get('live.all') == 0 and rep.get('contexts') == 0,
         '%s: no host objects left (live.all %s)' % (what, rep.get('live.all')))
    if rep.get('live.all') != 0:
        t.diag(open(env['IOMMUFD_SIM_REPORT']).read())
    return rep


def plug(q, dev_fd, dev_id):
    """Hotplug the simulated device; returns the QMP error or None."""
    q.getfd('fd-' + dev_id, dev_fd)
    try:
        q.qmp_cmd('device_add', driver='vfio-pci', id=dev_id, bus='rp0',
                  iommufd='x', fd='fd-' + dev_id)
    except qemutest.QemuError as e:
        return str(e)
    sd.slot_ctl(q, power_on=True)
    return None


def dma_works(q):
    q.pci_write(sd.DEV, 0x10, sd.BAR)
    q.pci_write(sd.DEV, 0x04, 0x0006, 2)
    st = sd.dma(q, sd.OP_FILL, 0, 0x100000, 0x1000, 0x5a5a5a5a)
    return st == sd.ST_DONE and q.memread(0x100000, 16) == b'\x5a' * 16


def case_order_and_flags(t, tmp):
    what = 'plain device'
    fd = qemutest.device_memfd(sd.DEV_CFG)
    q, env = start(t, tmp, 'plain', pass_fds=[fd],
                   extra=['-device', 'vfio-pci,id=d0,bus=rp0,iommufd=x,fd=%d'
                          % fd])
    t.ok(dma_works(q), '%s: realized and DMA works' % what)
    finish(t, q, env, what, 'd0')
    os.close(fd)

    log = sd.read_log(env)
    attach = [i for i, l in enumerate(log) if l.startswith('vfio ATTACH(')
              and l.endswith('-> 0')]
    hwinfo = [i for i, l in enumerate(log)
              if l.startswith('iommufd GET_HW_INFO') and l.endswith('-> 0')]
    t.ok(len(attach) == 1 and hwinfo and hwinfo[-1] > attach[0],
         '%s: host IOMMU device realized after ATTACH (GET_HW_INFO at %s, '
         'ATTACH at %s)' % (what, hwinfo, attach))
    allocs = [sd.log_fields(l) for l in log
              if l.startswith('iommufd HWPT_ALLOC') and l.endswith('-> 0')]
    t.ok(len(allocs) == 1 and
         not allocs[0].get('flags', 1) & IOMMU_HWPT_ALLOC_NEST_PARENT,
         '%s: default HWPT is not a nesting parent without a vIOMMU (%s)'
         % (what, allocs))


def case_no_nesting_host(t, tmp):
    what = 'host without nesting'
    fd = qemutest.device_memfd(sd.DEV_CFG + 'nesting=off\n')
    q, env = start(t, tmp, 'nonest', pass_fds=[fd],
                   extra=['-device', 'vfio-pci,id=d0,bus=rp0,iommufd=x,fd=%d'
                          % fd])
    t.ok(q.readl(sd.BAR + sd.R_DOMAIN_KIND) in (0, sd.DOMAIN_S2) and
         dma_works(q), '%s: plain device realizes and DMA works' % what)
    finish(t, q, env, what, 'd0')
    os.close(fd)


# (fault injection spec, what it breaks, words expected in the error)
FAULTS = [
    ('GET_HW_INFO:1:EIO', 'host IOMMU query before attach', 'hardware info'),
    ('IOAS_ALLOC:1:ENOMEM', 'IOAS allocation', 'ioas'),
    ('HWPT_ALLOC:1:ENOSPC', 'HWPT allocation', 'hwpt'),
    ('ATTACH:1:EBUSY', 'attach', 'attach'),
    ('GET_HW_INFO:2:EIO', 'host IOMMU device realize after attach',
     'hardware info'),
]


def case_fault(t, tmp, spec, step, words):
    what = 'fail %s' % spec
    tag = spec.split(':')[0].lower() + spec.split(':')[1]
    q, env = start(t, tmp, tag, fail=spec)
    bad = qemutest.device_memfd(sd.DEV_CFG)
    err = plug(q, bad, 'd0')
    t.ok(err is not None and words in err.lower(),
         '%s: device_add fails at %s with a message: %s' % (what, step, err))
    try:
        st = q.qmp_cmd('query-status')
        alive = st.get('status') is not None
    except qemutest.QemuError:
        alive = False
    t.ok(alive, '%s: QEMU keeps running' % what)
    good = qemutest.device_memfd(sd.DEV_CFG)
    err2 = plug(q, good, 'd1')
    t.ok(err2 is None and dma_works(q),
         '%s: the next device_add works (%s)' % (what, err2))
    rep = finish(t, q, env, what, 'd1')
    t.ok(rep.get('fail.injected') == 1,
         '%s: the fault was injected once' % what)
    os.close(bad)
    os.close(good)


def main():
    t = qemutest.Tap()
    qemu, lib = qemutest.default_qemu(), qemutest.default_sim_lib()
    for path, what in ((qemu, 'QEMU binary'), (lib, 'simulator library')):
        if not os.access(path, os.R_OK):
            t.ok(False, '%s not found: %s' % (what, path))
            return t.done()
    with tempfile.TemporaryDirectory(prefix='host-iommu-') as tmp:
        for case in (case_order_and_flags, case_no_nesting_host):
            try:
                case(t, tmp)
            except qemutest.QemuError as e:
                t.ok(False, '%s: %s' % (case.__name__, e))
        for spec, step, words in FAULTS:
            try:
                case_fault(t, tmp, spec, step, words)
            except qemutest.QemuError as e:
                t.ok(False, 'fail %s: %s' % (spec, e))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
