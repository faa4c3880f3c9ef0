#!/usr/bin/python3
"""QEMU smoke test for iommufd-sim (no vIOMMU): a simulated VFIO device
realizes under q35 with -object iommufd, shows up in guest config space,
runs DMA into guest RAM through stage 2 (IOVA = GPA), and is hot-unplugged;
a second case hotplugs it with QMP getfd + device_add.  Prints TAP.

Unplug: q35 uses ACPI hotplug for root ports by default, which needs a
guest to eject.  We switch the root port to native PCIe hotplug
(ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off) and play the guest:
after device_del presses the attention button, we power the slot off
through the root port's Slot Control register, which makes QEMU unplug.

Env: QEMU_SYSTEM_X86_64 (default build/obj/qemu-system-x86_64),
     IOMMUFD_SIM_LIB (default build/sim/libiommufd-sim.so).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
from simdev import *  # noqa: E402,F401,F403

def check_device(t, q, what):
    ids = q.pci_read(DEV, 0, 4)
    t.ok(ids == (DEVICE << 16 | VENDOR),
         '%s: vendor/device id in guest config space (0x%08x)' % (what, ids))
    q.pci_write(DEV, 0x10, BAR)
    q.pci_write(DEV, 0x04, 0x0006, 2)           # memory + bus master
    t.ok(q.readl(BAR + R_ID) == ID_VALUE, '%s: BAR0 ID register' % what)
    t.ok(q.readl(BAR + R_DOMAIN_KIND) == DOMAIN_S2 and
         q.readl(BAR + R_ATTACHED_PT) != 0,
         '%s: attached to a stage-2 paging HWPT' % what)


def check_dma(t, q, what):
    st = dma(q, OP_FILL, 0, 0x100000, 0x1000, 0x04030201)
    data = q.memread(0x100000, 0x1000)
    t.ok(st == ST_DONE and data == bytes([1, 2, 3, 4]) * 0x400,
         '%s: DMA fill lands in guest RAM at IOVA = GPA (status 0x%x)'
         % (what, st))
    msg = b'iommufd-sim says hello to guest RAM'
    q.memwrite(0x200000, msg)
    st = dma(q, OP_COPY, 0x200000, 0x300010, len(msg))
    t.ok(st == ST_DONE and q.memread(0x300010, len(msg)) == msg,
         '%s: DMA copy between guest pages' % what)
    st = dma(q, OP_FILL, 0, 0x7fff0000000, 16)
    t.ok(st & ST_ERROR and q.readl(BAR + R_FAULT_CODE) == 1,
         '%s: DMA outside guest RAM faults (stage 2 unmapped)' % what)


def unplug(t, q, dev_id, what):
    q.qmp_cmd('device_del', id=dev_id)
    slot_ctl(q, power_on=False)                 # the guest's eject
    try:
        q.wait_event('DEVICE_DELETED', timeout=10,
                     match=lambda e: e['data'].get('device') == dev_id)
        t.ok(True, '%s: hot-unplug completed' % what)
    except qemutest.QemuError as e:
        t.ok(False, '%s: hot-unplug completed (%s)' % (what, e))
    t.ok(q.pci_read(DEV, 0, 4) == 0xffffffff, '%s: device gone' % what)


def check_report(t, env, what, contexts):
    try:
        rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
    except OSError as e:
        t.ok(False, '%s: simulator report written (%s)' % (what, e))
        return
    t.ok(rep.get('live.all') == 0 and rep.get('contexts') == contexts,
         '%s: report shows zero live objects, %d open context(s)'
         % (what, contexts))
    t.ok(rep.get('ioctl.IOAS_MAP', 0) > 0 and rep.get('ioctl.IOAS_UNMAP', 0) > 0
         and rep.get('ioctl.DETACH', 0) > 0,
         '%s: QEMU mapped guest RAM and tore it down' % what)
    if rep.get('live.all') != 0:
        t.diag(open(env['IOMMUFD_SIM_REPORT']).read())


def case_coldplug(t, tmp):
    """-object iommufd,id=x -device vfio-pci,iommufd=x,fd=N at startup."""
    fd = qemutest.device_memfd(DEV_CFG)
    env = env_for(tmp, 'cold')
    args = common_args(tmp) + ['-object', 'iommufd,id=x',
                     '-device', 'vfio-pci,id=dev0,iommufd=x,fd=%d,bus=rp0'
                     % fd]
    q = qemutest.Qemu(args, env=env, pass_fds=[fd])
    try:
        q.start()
    except qemutest.QemuError as e:
        t.ok(False, 'cold plug: QEMU starts with the simulated device')
        t.diag(e)
        return
    try:
        t.ok(True, 'cold plug: QEMU starts with the simulated device')
        setup_bridge(q)
        check_device(t, q, 'cold plug')
        check_dma(t, q, 'cold plug')
        unplug(t, q, 'dev0', 'cold plug')
    except qemutest.QemuError as e:
        t.ok(False, 'cold plug: %s' % e)
    finally:
        rc = q.quit()
        os.close(fd)
    t.ok(rc == 0, 'cold plug: QEMU exits cleanly (%s)' % rc)
    t.diag(q.stderr())
    check_report(t, env, 'cold plug', contexts=0)


def case_hotplug(t, tmp):
    """iommufd passed by fd; device via QMP getfd + device_add fd=NAME."""
    ctx = os.memfd_create('iommufd-sim', 0)
    os.set_inheritable(ctx, True)
    env = env_for(tmp, 'hot')
    args = common_args(tmp) + ['-object', 'iommufd,id=x,fd=%d' % ctx]
    q = qemutest.Qemu(args, env=env, pass_fds=[ctx])
    try:
        q.start()
    except qemutest.QemuError as e:
        t.ok(False, 'hotplug: QEMU starts with iommufd fd=%d' % ctx)
        t.diag(e)
        return
    dev = qemutest.device_memfd(DEV_CFG)
    try:
        t.ok(True, 'hotplug: QEMU starts with iommufd fd=N (a memfd)')
        setup_bridge(q)
        q.getfd('simdev', dev)
        q.qmp_cmd('device_add', driver='vfio-pci', id='hp0', bus='rp0',
                  iommufd='x', fd='simdev')
        t.ok(True, 'hotplug: device_add with fd=NAME from getfd')
        slot_ctl(q, power_on=True)              # the guest powers the slot
        check_device(t, q, 'hotplug')
        check_dma(t, q, 'hotplug')
        unplug(t, q, 'hp0', 'hotplug')
    except qemutest.QemuError as e:
        t.ok(False, 'hotplug: %s' % e)
    finally:
        rc = q.quit()
        os.close(dev)
        os.close(ctx)
    t.ok(rc == 0, 'hotplug: QEMU exits cleanly (%s)' % rc)
    t.diag(q.stderr())
    # the iommufd fd belongs to the caller: QEMU keeps it open
    check_report(t, env, 'hotplug', contexts=1)


def main():
    t = qemutest.Tap()
    qemu, lib = qemutest.default_qemu(), qemutest.default_sim_lib()
    for path, what in ((qemu, 'QEMU binary'), (lib, 'simulator library')):
        if not os.access(path, os.R_OK):
            print('1..0 # SKIP %s not found: %s' % (what, path))
            return 0
    keep = os.environ.get('SIM_SMOKE_KEEP')     # keep logs/reports there
    if keep:
        os.makedirs(keep, exist_ok=True)
        case_coldplug(t, keep)
        case_hotplug(t, keep)
    else:
        with tempfile.TemporaryDirectory(prefix='sim-smoke-') as tmp:
            case_coldplug(t, tmp)
            case_hotplug(t, tmp)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
