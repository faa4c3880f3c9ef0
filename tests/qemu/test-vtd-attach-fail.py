#!/usr/bin/python3
"""intel-iommu x-flts=on when the host refuses to attach the nested HWPT
the guest's PASID entry asks for.  Prints TAP.

Linux 7.2 accepts the stage-1 configuration at IOMMU_HWPT_ALLOC
(intel_iommu_domain_alloc_nested) and checks it at attach
(intel_pasid_setup_nested); so does the simulator.  The guest sets EAFE
in its PASID entry, which the simulated host refuses (its ECAP has no
EAFS; the vIOMMU does not offer EAFS either, so it is the guest's
mistake): QEMU's HWPT_ALLOC succeeds and its ATTACH fails with EINVAL.  QEMU must then free the new
HWPT and detach the device (its DMA blocked, not left on stage 2 or on
an old nested HWPT), bind again when the guest fixes the entry, and
leak nothing.  The same happens when the refused entry replaces one
that was bound (the old nested HWPT must go too).

The test plays firmware and the guest's VT-d driver through qtest:
scalable-mode root, context and PASID tables, a 4-level first-stage
table, queued invalidation.  A failed VT-d attach leaves the host
device's DMA blocked whatever QEMU does next (the simulator models
device_block_translation), so DOMAIN_KIND alone cannot tell a detach
from a left-over attachment: the test also checks ATTACHED_PT (iommufd's
view) and the log.

Env: QEMU_SYSTEM_X86_64, IOMMUFD_SIM_LIB (see tests/lib/qemutest.py).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
from simdev import (BAR, DEV, R_ATTACHED_PT, R_DOMAIN_KIND, R_ID,  # noqa: E402
                    ID_VALUE, ST_DONE, ST_ERROR, common_args, env_for,
                    read_log, setup_bridge, slot_ctl)

R_DATA = 0x800
OP_READ = 3
DOMAIN_BLOCKED, DOMAIN_VTD_NESTED = 0, 2

# VT-d registers (hw/i386/intel_iommu_internal.h) at the q35 address
VTD = 0xfed90000
CAP, GCMD, GSTS, RTADDR, FSTS, IQT, IQA = 0x8, 0x18, 0x1c, 0x20, 0x34, 0x88, \
    0x90
GCMD_TE, GCMD_SRTP, GCMD_QIE = 1 << 31, 1 << 30, 1 << 26
RTADDR_SMT, IQA_DW_256, FSTS_IQE, CAP_CM = 1 << 10, 1 << 11, 1 << 4, 1 << 7

# Guest memory
G_ROOT, G_CTX, G_PDIR, G_PTBL, G_IQ, G_STATUS = \
    0x1000000, 0x1001000, 0x1002000, 0x1003000, 0x1004000, 0x1005000
G_PML4, G_PDPT, G_PD, G_PT = 0x1010000, 0x1011000, 0x1012000, 0x1013000
G_PAGE = 0x2000000
IOVA = 0x40000000
DID = 5
FL_PRW_US = 0x7                 # P, R/W, U/S
PE_SRE = 1 << 0                 # PASID entry qword 2
PE_EAFE = 1 << 7

DEV_CFG = 'iommu=vtd\nname=attach-fail\n'   # default host ECAP: no SRS/EAFS


class Guest:
    def __init__(self, q):
        self.q = q
        self.gcmd = 0
        self.tail = 0
        self.seq = 0

    def vtd_gcmd(self, set_bits, oneshot=0):
        self.gcmd |= set_bits
        self.q.writel(VTD + GCMD, self.gcmd | oneshot)

    def pasid_entry(self, flags):
        q = self.q
        q.writeq(G_PTBL, 1 | (2 << 2) | (1 << 6))     # P, FPD off, AW, FLT
        q.writeq(G_PTBL + 8, DID)
        q.writeq(G_PTBL + 16, G_PML4 | flags)
        for i in range(3, 8):
            q.writeq(G_PTBL + i * 8, 0)

    def tables(self, flags):
        q = self.q
        for base in (G_ROOT, G_PML4):
            q.memwrite(base, bytes(0x4000))
        q.writeq(G_ROOT + DEV[0] * 16, G_CTX | 1)
        q.writeq(G_CTX + (DEV[1] * 8 + DEV[2]) * 32, G_PDIR | 1)
        q.writeq(G_PDIR, G_PTBL | 1)
        self.pasid_entry(flags)
        q.writeq(G_PML4, G_PDPT | FL_PRW_US)
        q.writeq(G_PDPT + ((IOVA >> 30) & 511) * 8, G_PD | FL_PRW_US)
        q.writeq(G_PD, G_PT | FL_PRW_US)
        q.writeq(G_PT, G_PAGE | FL_PRW_US)
        q.memwrite(G_PAGE, b'\xaa' * 0x1000)

    def enable(self):
        q = self.q
        assert q.readq(VTD + CAP) & CAP_CM
        q.writeq(VTD + RTADDR, G_ROOT | RTADDR_SMT)
        self.vtd_gcmd(0, GCMD_SRTP)
        q.writeq(VTD + IQA, G_IQ | IQA_DW_256)
        q.writeq(VTD + IQT, 0)
        self.vtd_gcmd(GCMD_QIE)
        self.vtd_gcmd(GCMD_TE)
        return bool(q.readl(VTD + GSTS) & GCMD_TE)

    def iq_put(self, v0, v1):
        addr = G_IQ + self.tail * 32
        for i, v in enumerate((v0, v1, 0, 0)):
            self.q.writeq(addr + i * 8, v)
        self.tail = (self.tail + 1) % 128

    def pasid_cache_inv(self):
        """PASID-selective PASID-cache invalidation + wait; True if the
        wait descriptor completed."""
        self.iq_put(0x7 | (1 << 4) | (DID << 16), 0)
        self.seq += 1
        self.q.writel(G_STATUS, 0)
        self.iq_put(0x5 | (1 << 5) | (self.seq << 32), G_STATUS)
        self.q.writeq(VTD + IQT, self.tail << 5)
        return (not self.q.readl(VTD + FSTS) & FSTS_IQE and
                self.q.readl(G_STATUS) == self.seq)


def dev_read(q, iova):
    """16 bytes at @iova through the device, or None if the DMA faulted."""
    q.writeq(BAR + 0x010, iova)
    q.writel(BAR + 0x020, 16)
    q.writel(BAR + 0x028, OP_READ)
    q.writel(BAR + 0x030, 1)
    st = q.readl(BAR + 0x00c)
    if st & ST_ERROR or not st & ST_DONE:
        return None
    return q.memread(BAR + R_DATA, 16)


def calls(env, start):
    """The log's iommufd/vfio call lines from index @start on."""
    return [ln for ln in read_log(env)[start:]
            if ln.startswith(('iommufd ', 'vfio '))]


def refused_then_blocked(t, q, env, start, what, old_s1=None):
    """HWPT_ALLOC VTD_S1 ok, ATTACH of it EINVAL, then QEMU destroys it,
    detaches the device (and destroys @old_s1); DMA blocked."""
    lines = calls(env, start)
    alloc = [ln for ln in lines if ' HWPT_ALLOC ' in ln and
             'data_type=0x1' in ln]
    t.ok(len(alloc) == 1 and alloc[0].endswith('-> 0'),
         '%s: HWPT_ALLOC of the VTD_S1 HWPT succeeds (%s)'
         % (what, alloc))
    att = [i for i, ln in enumerate(lines)
           if ln.startswith('vfio ATTACH') and 'pt_id=' in ln]
    t.ok(len(att) == 1 and att[0] + 1 < len(lines) and
         lines[att[0] + 1].startswith('vfio ATTACH') and
         lines[att[0] + 1].endswith('-> -EINVAL'),
         '%s: its ATTACH fails with EINVAL (%s)'
         % (what, lines[att[0]:att[0] + 2] if att else None))
    rest = '\n'.join(lines[att[0] + 1:] if att else [])
    t.ok('DESTROY' in rest and 'DETACH' in rest,
         '%s: QEMU destroys the refused HWPT and detaches the device'
         % what)
    if old_s1 is not None:
        t.ok('iommufd DESTROY id=0x%x -> 0' % old_s1 in rest,
             '%s: and destroys the nested HWPT that was bound before (%d)'
             % (what, old_s1))
    t.ok(q.readl(BAR + R_ATTACHED_PT) == 0 and
         q.readl(BAR + R_DOMAIN_KIND) == DOMAIN_BLOCKED,
         '%s: the device is detached, DMA blocked (attached %d kind %d)'
         % (what, q.readl(BAR + R_ATTACHED_PT),
            q.readl(BAR + R_DOMAIN_KIND)))
    t.ok(dev_read(q, IOVA) is None, '%s: a DMA faults' % what)


def run(t, tmp):
    fd = qemutest.device_memfd(DEV_CFG)
    env = env_for(tmp, 'attach-fail')
    args = common_args(tmp) + [
        '-device', 'intel-iommu,x-scalable-mode=on,x-flts=on,'
        'caching-mode=on',
        '-object', 'iommufd,id=x',
        '-device', 'vfio-pci,id=dev0,iommufd=x,fd=%d,bus=rp0' % fd]
    q = qemutest.Qemu(args, env=env, pass_fds=[fd])
    try:
        q.start()
    except qemutest.QemuError as e:
        t.ok(False, 'QEMU starts with x-flts=on and the simulated device')
        t.diag(e)
        return
    rc = None
    try:
        t.ok(True, 'QEMU starts with x-flts=on and the simulated device')
        setup_bridge(q)
        q.pci_write(DEV, 0x10, BAR)
        q.pci_write(DEV, 0x04, 0x0006, 2)
        t.ok(q.readl(BAR + R_ID) == ID_VALUE, 'BAR0 ID register')
        g = Guest(q)

        # 1. translation enabled with an EAFE entry: refused from stage 2
        start = len(read_log(env))
        g.tables(PE_EAFE)
        t.ok(g.enable(), 'guest enables translation (EAFE in its entry)')
        refused_then_blocked(t, q, env, start, 'EAFE entry from stage 2')
        t.ok('cannot attach' in q.stderr(),
             'QEMU says why the device is blocked')

        # 2. the guest drops EAFE: bound
        g.pasid_entry(0)
        t.ok(g.pasid_cache_inv(), 'PASID-cache invalidation completes')
        s1 = q.readl(BAR + R_ATTACHED_PT)
        t.ok(q.readl(BAR + R_DOMAIN_KIND) == DOMAIN_VTD_NESTED and s1,
             'without EAFE the device is nested (HWPT %d)' % s1)
        t.ok(dev_read(q, IOVA) == b'\xaa' * 16, 'DMA through stage 1')

        # 3. EAFE again, replacing a bound nested HWPT
        start = len(read_log(env))
        g.pasid_entry(PE_EAFE)
        t.ok(g.pasid_cache_inv(), 'PASID-cache invalidation completes')
        refused_then_blocked(t, q, env, start, 'EAFE entry replacing S1',
                             old_s1=s1)

        # 4. and back
        g.pasid_entry(0)
        t.ok(g.pasid_cache_inv() and
             q.readl(BAR + R_DOMAIN_KIND) == DOMAIN_VTD_NESTED and
             dev_read(q, IOVA) == b'\xaa' * 16,
             'bound again once the guest drops EAFE')

        # 4b. SRE, which the vIOMMU offers (ECAP.SRS) and this host lacks:
        # it only matters for requests with PASID, none of which are bound,
        # so QEMU drops it and the device stays nested, no attach refused
        start = len(read_log(env))
        g.pasid_entry(PE_SRE)
        t.ok(g.pasid_cache_inv() and
             q.readl(BAR + R_DOMAIN_KIND) == DOMAIN_VTD_NESTED and
             dev_read(q, IOVA) == b'\xaa' * 16 and
             not any('ATTACH' in line and '-> -E' in line
                     for line in read_log(env)[start:]),
             'SRE on a host without SRS: still nested, no attach refused')

        # 5. unplug: QEMU hands the device back and frees what it made
        q.qmp_cmd('device_del', id='dev0')
        slot_ctl(q, power_on=False)             # the guest's eject
        q.wait_event('DEVICE_DELETED', timeout=10,
                     match=lambda e: e['data'].get('device') == 'dev0')
        t.ok(True, 'hot-unplug completed')
    except (qemutest.QemuError, AssertionError) as e:
        t.ok(False, 'test ran to the end (%r)' % e)
    finally:
        rc = q.quit()
        os.close(fd)
    t.ok(rc == 0, 'QEMU exits cleanly (%s)' % rc)
    try:
        rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
    except OSError as e:
        t.ok(False, 'simulator report written (%s)' % e)
        return
    t.ok(rep.get('live.all') == 0,
         'no simulator object left at exit (live.all %s)'
         % rep.get('live.all'))
    if rep.get('live.all') != 0:
        t.diag(open(env['IOMMUFD_SIM_REPORT']).read())


def main():
    t = qemutest.Tap()
    qemu, lib = qemutest.default_qemu(), qemutest.default_sim_lib()
    for path, what in ((qemu, 'QEMU binary'), (lib, 'simulator library')):
        if not os.access(path, os.R_OK):
            print('1..0 # SKIP %s not found: %s' % (what, path))
            return 0
    keep = os.environ.get('SIM_TEST_KEEP')      # keep the log and report
    if keep:
        os.makedirs(keep, exist_ok=True)
        run(t, keep)
    else:
        with tempfile.TemporaryDirectory(prefix='vtd-attach-fail-') as tmp:
            run(t, tmp)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
