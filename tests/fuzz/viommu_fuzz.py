"""Structure-aware guest-input fuzzer for intel-iommu x-flts=on (q35) and
arm-smmuv3 accel=on (virt), each with a simulated VFIO device attached
(iommufd-sim, LD_PRELOAD), driven over the qtest protocol.

An *input* is one program: a list of operations that a guest could do,
generated from (seed, target, index) alone, so the same seed gives the
same inputs.  A program starts as a mostly valid programming sequence
(PCI setup, root/context/PASID tables or stream table/STEs/CDs, page
tables, enabling the vIOMMU and its queue), continues with random steps
(invalidation descriptors or commands, table and page-table edits,
register writes, DMA from the simulated device, device hot-plug and
unplug), and then a few of its operations are mutated (bit flips, random
values, neighbouring addresses, dropped or repeated operations).

Operations (JSON-serialisable lists):
  ["w", size, addr, value]    memory/MMIO write (size 1, 2, 4, 8)
  ["r", size, addr]           memory/MMIO read
  ["o", size, port, value]    I/O port write;  ["i", size, port]: read
  ["plug", slot]              QMP getfd + device_add of a new device
  ["unplug", slot]            QMP device_del + slot power off (guest eject)
  ["ack"]                     SMMUv3: GERRORN = GERROR (acknowledge errors)
  ["iqfix"]                   VT-d: after a queue error, IQT = IQH, clear IQE

The runner pipelines the qtest lines of a program (they are sent in one
write, responses are read after), runs a number of programs in one QEMU
process and resets it (QMP system_reset) every `batch` programs.  A
crash is QEMU dying (signal, abort, non-zero exit), a sanitizer report
(ASan/UBSan write to log_path), or a hang (no qtest answer in `timeout`
seconds).  The reproducer of a crash is the list of programs since the
last reset (QEMU starts fresh for a replay), saved as JSON.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import glob
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests' / 'lib'))
import qemutest  # noqa: E402

M64 = (1 << 64) - 1
SAN_EXIT = 66          # exitcode= of ASAN_OPTIONS/UBSAN_OPTIONS

# ASan/UBSan: stop at the first report, write it to log_path (checked by
# the runner), exit non-zero.  The simulator is preloaded before libasan,
# so ASan's link-order check is off (see docs/fuzz.md).
# @full_stacks: unwind malloc/free stacks the slow way.  GLib has no frame
# pointers: the fast unwinder stops at g_malloc, which leaves the leak
# suppressions (tests/fuzz/lsan.supp) nothing to match; so always on,
# though it costs about half of QEMU's speed under ASan.
def sanitizer_env(report_prefix, leaks=True, full_stacks=True):
    supp = REPO / 'tests' / 'fuzz' / 'lsan.supp'
    asan = ('halt_on_error=1:abort_on_error=0:exitcode=66:'
            'verify_asan_link_order=0:detect_leaks=%d:'
            'handle_abort=1:fast_unwind_on_malloc=%d:log_path=%s'
            % (1 if leaks else 0, 0 if full_stacks else 1, report_prefix))
    return {
        'ASAN_OPTIONS': asan,
        'LSAN_OPTIONS': 'suppressions=%s:print_suppressions=0' % supp,
        'UBSAN_OPTIONS': 'halt_on_error=1:print_stacktrace=1:exitcode=66:'
                         'log_path=%s' % report_prefix,
    }


def default_obj():
    return os.environ.get('QEMU_OBJ_ASAN',
                          str(REPO / 'build' / 'obj-asan'))


# --------------------------------------------------------------------------
# generator helpers

class Gen:
    """Builds one program; `ops` collects the operations."""

    def __init__(self, rng):
        self.r = rng
        self.ops = []

    def w(self, size, addr, val):
        self.ops.append(['w', size, addr, val & ((1 << (8 * size)) - 1)])

    def r_(self, size, addr):
        self.ops.append(['r', size, addr])

    def wq(self, addr, val):
        self.w(8, addr, val)

    def wl(self, addr, val):
        self.w(4, addr, val)

    def pick(self, *choices):
        return self.r.choice(choices)

    def chance(self, p):
        return self.r.random() < p

    def bits(self, n):
        return self.r.getrandbits(n)


def mutate(rng, ops, protect=0):
    """Mutate a few operations of @ops (not the first @protect)."""
    n = len(ops)
    if n <= protect:
        return ops
    for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
        i = rng.randrange(protect, n)
        op = list(ops[i])
        kind = rng.random()
        if op[0] in ('w', 'o'):
            size = op[1]
            mask = (1 << (8 * size)) - 1
            if kind < 0.45:
                op[3] ^= 1 << rng.randrange(8 * size)
            elif kind < 0.6:
                op[3] = rng.getrandbits(8 * size)
            elif kind < 0.7:
                op[3] = rng.choice((0, mask, mask >> 1, 1 << (8 * size - 1)))
            elif kind < 0.8 and op[0] == 'w':
                op[2] = (op[2] + rng.choice((-16, -8, -4, 4, 8, 16, 64,
                                             4096))) & M64
            elif kind < 0.9:
                op[3] = (op[3] + rng.choice((-1, 1, 0x1000, -0x1000))) & mask
            else:
                ops.insert(i, list(op))           # repeated
                continue
            ops[i] = op
        elif kind < 0.3 and op[0] not in ('plug', 'unplug', 'ack', 'iqfix'):
            del ops[i]                             # dropped
            n -= 1
            if n <= protect:
                break
    return ops


# --------------------------------------------------------------------------
# simulated device (sim/include/iommufd-sim-regs.h)

R_CTRL, R_STATUS, R_SRC, R_DST, R_LEN, R_PASID, R_OP, R_PATTERN, \
    R_DOORBELL = 0x008, 0x00c, 0x010, 0x018, 0x020, 0x024, 0x028, 0x02c, 0x030
R_DATA = 0x800


def gen_dma(g, bar, iovas):
    """A DMA from the simulated device (its BAR registers)."""
    op = g.pick(1, 1, 2, 3, 4, 5, 6, g.bits(4))
    src = g.r.choice(iovas) + g.pick(0, 0, 0x10, 0xff0, g.bits(12))
    dst = g.r.choice(iovas) + g.pick(0, 0x800, g.bits(12))
    length = g.pick(16, 64, 0x1000, 0x2000, 1, 0x800, g.bits(14))
    if g.chance(0.3):
        g.wl(bar + R_CTRL, g.pick(0, 2, 4, 6, 1))
    if g.chance(0.2):
        g.wl(bar + R_PASID, g.pick(0, 1, 2, 3, g.bits(20)))
    g.wl(bar + R_STATUS, 6)
    g.wq(bar + R_SRC, src)
    g.wq(bar + R_DST, dst)
    g.wl(bar + R_LEN, length)
    g.wl(bar + R_OP, op)
    if op == 2:
        g.wl(bar + R_PATTERN, g.bits(32))
    g.wl(bar + R_DOORBELL, 1)
    g.r_(4, bar + R_STATUS)


# --------------------------------------------------------------------------
# intel-iommu (VT-d) on q35

VTD = 0xfed90000
G_ROOT, G_CTX, G_PDIR, G_PTBL, G_IQ, G_STATUS = \
    0x1000000, 0x1001000, 0x1002000, 0x1003000, 0x1004000, 0x1005000
G_CTX2 = 0x1006000
G_PML5, G_PML4, G_PDPT, G_PD, G_PT = \
    0x100f000, 0x1010000, 0x1011000, 0x1012000, 0x1013000
G_PAGES = 0x2000000
IOVA_BASE = 0x40000000
IQ_ENTRIES = 128
FL = 1 | 2 | 4                  # P, RW, US

VTD_REGS = [0x18, 0x20, 0x28, 0x34, 0x38, 0x3c, 0x40, 0x44, 0x58, 0x64,
            0x68, 0x6c, 0x70, 0x78, 0x80, 0x88, 0x90, 0x9c, 0xa0, 0xa4,
            0xa8, 0xac, 0xb8, 0xc0, 0xc8, 0xd0, 0xdc, 0xe0, 0xf0, 0xf8,
            0x220, 0x228, 0x230, 0x238]


class Vtd:
    name = 'vtd'
    qemu = 'qemu-system-x86_64'
    dev_cfg = 'iommu=vtd\nname=fuzz\n'
    # root ports: rp0 at 00:02.0 (bus 1), rp1 at 00:03.0 (bus 2)
    slots = {0: ('rp0', (0, 2, 0), 1), 1: ('rp1', (0, 3, 0), 2)}
    bars = {0: 0xc0000000, 1: 0xc0100000}

    def args(self, tmp, fd):
        return ['-machine', 'q35', '-m', '256M', '-nic', 'none',
                '-bios', qemutest.dummy_bios(tmp),
                '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
                '-device', 'intel-iommu,x-scalable-mode=on,x-flts=on,'
                'caching-mode=on',
                '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,'
                'addr=0x2',
                '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=2,'
                'addr=0x3',
                '-object', 'iommufd,id=x', '-object', 'iommufd,id=y',
                '-device', 'vfio-pci,id=dev0,iommufd=x,fd=%d,bus=rp0' % fd]

    # PCI config through 0xcf8/0xcfc
    def cfg_w(self, g, bdf, off, val, size=4):
        bus, dev, fn = bdf
        g.ops.append(['o', 4, 0xcf8, 0x80000000 | bus << 16 | dev << 11 |
                      fn << 8 | (off & 0xfc)])
        g.ops.append(['o', size, 0xcfc + (off & 3), val])

    def cfg_rb(self, q, bdf, off):
        return q.pci_read(bdf, off, 1)

    def slot_ctl_ops(self, power_on, slot, cap):
        # Slot Control (PCIe cap + 0x18): power indicator and controller
        _, rp, _ = self.slots[slot]
        g = Gen(random.Random(0))
        self.cfg_w(g, rp, cap + 0x18, 0x01c0 if power_on else 0x07c0, 2)
        return g.ops

    def pci_setup(self, g, fw=False):
        for slot, (_, rp, bus) in self.slots.items():
            bar = self.bars[slot]
            self.cfg_w(g, rp, 0x18, 0x000000 | bus << 8 | bus << 16)
            self.cfg_w(g, rp, 0x20, ((bar >> 16) & 0xfff0) |
                       ((bar >> 16) & 0xfff0) << 16)
            self.cfg_w(g, rp, 0x24, 0x0000fff0)
            self.cfg_w(g, rp, 0x04, 0x0006, 2)
            self.cfg_w(g, (bus, 0, 0), 0x10, bar)
            self.cfg_w(g, (bus, 0, 0), 0x04, 6 if fw else g.pick(6, 2, 4), 2)

    def pasid_entry(self, g, pasid=0, present=True):
        pe = [0] * 8
        if present:
            pgtt = g.pick(1, 1, 1, 1, 4, 2, 3, g.bits(3))
            aw = g.pick(2, 2, 2, 3, g.bits(3))     # 48-bit, 57-bit
            pe[0] = 1 | (aw << 2) | (pgtt << 6)
            if g.chance(0.1):
                pe[0] |= 2                          # FPD
            if g.chance(0.1):
                pe[0] |= G_PML4 | (1 << 10)         # SLTT, SLEE
            pe[1] = g.pick(5, 5, 5, 6, g.bits(16))  # DID
            if g.chance(0.1):
                pe[1] |= g.pick(1 << 23, 1 << 24)   # PGSNP, PWSNP
            pe[2] = (G_PML5 if aw == 3 else G_PML4)
            if g.chance(0.08):
                pe[2] |= g.pick(1, 1 << 4, 1 << 7, 3 << 2)  # SRE, WPE, EAFE, FLPM
        base = G_PTBL + (pasid & 63) * 64
        for i in range(8):
            if i < 3 or g.chance(0.05):
                g.wq(base + i * 8, pe[i] if i < 3 else g.bits(64))

    def page_tables(self, g):
        g.wq(G_PML5, G_PML4 | FL)
        g.wq(G_PML4, G_PDPT | FL)
        g.wq(G_PDPT + ((IOVA_BASE >> 30) & 511) * 8, G_PD | FL)
        g.wq(G_PD, G_PT | FL)
        for n in range(g.pick(2, 4, 8)):
            g.wq(G_PT + n * 8, (G_PAGES + n * 0x1000) | FL)
        if g.chance(0.3):                           # a 2 MiB page
            g.wq(G_PD + 8, 0x2200000 | FL | (1 << 7))
        if g.chance(0.2):                           # a 1 GiB page
            g.wq(G_PDPT + 2 * 8, 0 | FL | (1 << 7))

    def iq_desc(self, g):
        did = g.pick(5, 5, 5, 5, 6, g.bits(16))
        pasid = g.pick(0, 0, 0, 0, 1, g.bits(20))
        addr = IOVA_BASE + g.pick(0, 0x1000, 0x2000, 0x200000,
                                  g.bits(12) << 12)
        am = g.pick(0, 0, 1, 2, 9, g.bits(6))
        ih = g.pick(0, 1 << 6)
        t = g.pick('pc', 'pc', 'piotlb', 'piotlb', 'piotlb', 'piotlb',
                   'piotlb', 'cc', 'iotlb', 'dev', 'devp', 'iec', 'wait',
                   'rand')
        if t == 'pc':
            gran = g.pick(0, 1, 1, 3, 2)
            return (7 | gran << 4 | did << 16 | pasid << 32, 0)
        if t == 'piotlb':
            gran = g.pick(2, 3, 3, 0, 1)
            return (6 | gran << 4 | did << 16 | pasid << 32, addr | ih | am)
        if t == 'cc':
            gran = g.pick(1, 2, 3)
            sid = g.pick(0x100, 0x200, g.bits(16))
            return (1 | gran << 4 | did << 16 | sid << 32, 0)
        if t == 'iotlb':
            gran = g.pick(1, 2, 3)
            return (2 | gran << 4 | did << 16, addr | ih | am)
        if t == 'dev':
            return (3 | g.pick(0x100, 0x200) << 32, addr | g.bits(1))
        if t == 'devp':
            return (8 | g.pick(0x100, 0x200) << 16 | pasid << 32,
                    addr | g.bits(1) << 11)
        if t == 'iec':
            return (4 | g.bits(1) << 4 | g.bits(16) << 32, 0)
        if t == 'wait':
            return (5 | g.pick(1 << 5, 1 << 4, 1 << 6) | 1 << 32, G_STATUS)
        return (g.bits(64), g.bits(64))

    def enable(self, g, st):
        g.wl(VTD + 0x18, 0)                         # TE, QIE off
        rt = G_ROOT | (1 << 10 if g.chance(0.95) else 0)   # SMT
        g.wq(VTD + 0x20, rt)
        g.wl(VTD + 0x18, 1 << 30)                   # SRTP
        st['dw'] = g.chance(0.9)
        g.wq(VTD + 0x90, G_IQ | (1 << 11 if st['dw'] else 0) |
             (0 if st['dw'] else 0))                # 4 KiB queue
        g.wq(VTD + 0x88, 0)
        st['tail'] = 0
        g.wl(VTD + 0x18, 1 << 26)                   # QIE
        if g.chance(0.95):
            g.wl(VTD + 0x18, (1 << 26) | (1 << 31))  # + TE

    def requeue(self, g, st):
        """Restart the invalidation queue at 0 with translation left on
        (TE toggles rebuild every address space: slow).  ["iqfix"] first
        recovers from a queue error a predecessor left (head != tail)."""
        g.ops.append(['iqfix'])
        # the root table again (a predecessor may have left a legacy or
        # mutated one): SRTP with TE on
        g.wq(VTD + 0x20, G_ROOT | (1 << 10 if g.chance(0.97) else 0))
        g.wl(VTD + 0x18, (1 << 31) | (1 << 30) | (1 << 26))
        g.wl(VTD + 0x18, 1 << 31)                   # QIE off, TE on
        st['dw'] = g.chance(0.9)
        g.wq(VTD + 0x90, G_IQ | (1 << 11 if st['dw'] else 0))
        g.wq(VTD + 0x88, 0)
        st['tail'] = 0
        g.wl(VTD + 0x18, (1 << 26) | (1 << 31))

    def iq_submit(self, g, st, descs):
        # a driver ends each batch with a wait descriptor (QEMU only lets
        # the queue be disabled after one, and flushes to the host there)
        if g.chance(0.85):
            descs = list(descs) + [(5 | 1 << 5 | 1 << 32, G_STATUS)]
        shift = 5 if st['dw'] else 4
        n = IQ_ENTRIES if st['dw'] else 2 * IQ_ENTRIES
        for lo, hi in descs:
            a = G_IQ + (st['tail'] << shift)
            g.wq(a, lo)
            g.wq(a + 8, hi)
            if st['dw']:
                g.wq(a + 16, 0)
                g.wq(a + 24, 0)
            st['tail'] = (st['tail'] + 1) % n
        g.wq(VTD + 0x88, st['tail'] << shift)
        g.r_(4, VTD + 0x34)
        if g.chance(0.3):
            g.wl(VTD + 0x34, 0x7f)                  # FSTS W1C
            g.wl(VTD + 0x9c, 1)                     # ICS

    def program(self, rng, plug_ops=True, fresh=True):
        g = Gen(rng)
        st = {}
        if g.chance(0.05):
            self.pci_setup(g)
        # tables: root (bus 1 and 2) -> context (devfn 0) -> PASID dir/table
        for bus, ctx in ((1, G_CTX), (2, G_CTX2)):
            g.wq(G_ROOT + bus * 16, ctx | 1)
            g.wq(G_ROOT + bus * 16 + 8, 0)
            g.wq(ctx, G_PDIR | 1 | (g.pick(0, 0, 0, 1, 7) << 9))
            g.wq(ctx + 8, g.pick(0, 0, 0, 1, g.bits(20)))  # RID_PASID
            g.wq(ctx + 16, 0)
            g.wq(ctx + 24, 0)
        g.wq(G_PDIR, G_PTBL | 1)
        self.pasid_entry(g, 0)
        self.page_tables(g)
        if fresh or g.chance(0.15):
            self.enable(g, st)
        else:
            self.requeue(g, st)
        self.iq_submit(g, st, [(7 | 1 << 4 | 5 << 16, 0)])
        protect = 0 if rng.random() < 0.3 else len(g.ops)
        for _ in range(rng.randrange(3, 16)):
            k = rng.random()
            if k < 0.3:
                self.iq_submit(g, st, [self.iq_desc(g) for _ in
                                       range(g.pick(1, 1, 2, 3, 8))])
            elif k < 0.55:
                gen_dma(g, self.bars[g.pick(0, 0, 0, 1)],
                        [IOVA_BASE, IOVA_BASE + 0x1000, G_PAGES, 0x200000,
                         g.bits(48)])
            elif k < 0.65:
                self.pasid_entry(g, g.pick(0, 0, 1, 2), g.chance(0.8))
                self.iq_submit(g, st, [self.iq_desc(g)])
            elif k < 0.75:
                n = g.bits(3)
                g.wq(G_PT + n * 8, g.pick((G_PAGES + g.bits(3) * 0x1000) |
                                          FL, 0, g.bits(64)))
                if g.chance(0.5):
                    g.wq(g.pick(G_PML4, G_PDPT, G_PD) + g.bits(2) * 8,
                         g.pick(0, G_PT | FL, g.bits(64)))
            elif k < 0.8:
                g.wq(g.pick(G_CTX, G_CTX2, G_ROOT + 16) + g.pick(0, 8),
                     g.pick(0, G_PDIR | 1, g.bits(64)))
            elif k < 0.92:
                reg = g.r.choice(VTD_REGS)
                if reg in (0x20, 0x28, 0x80, 0x88, 0x90, 0xb8, 0xf0, 0xf8):
                    g.wq(VTD + reg, g.pick(g.bits(64), 1 << 63 | g.bits(8) <<
                                           56, G_IQ | g.bits(12)))
                else:
                    g.wl(VTD + reg, g.pick(g.bits(32), 1 << 31 | 1 << 26,
                                           1 << 30, 1 << 27, 0))
            elif k < 0.95:
                self.enable(g, st)
            elif plug_ops:
                g.ops.append([g.pick('plug', 'unplug', 'unplug'),
                              g.pick(0, 1)])
        g.ops = mutate(rng, g.ops, protect)
        return g.ops


# --------------------------------------------------------------------------
# arm-smmuv3 accel=on on virt

SMMU = 0x0c000000
ECAM = 0x3f000000
STRTAB, STRTAB_L2, CMDQ, EVTQ = 0x40100000, 0x40180000, 0x40200000, 0x40210000
CD_ADDR = 0x40300000
PT_L0, PT_L1, PT_L2, PT_L3 = 0x40400000, 0x40401000, 0x40402000, 0x40403000
BUFS = 0x40500000
IOVA_SRC = 0x1000000
CMDQ_LOG2 = 8
SIDS = (0x100, 0x200)


class Smmu:
    name = 'smmu'
    qemu = 'qemu-system-aarch64'
    dev_cfg = 'iommu=smmuv3\nname=fuzz\nsmmu_idr0=0x094c301b\n'
    slots = {0: ('rp0', (0, 2, 0), 1), 1: ('rp1', (0, 3, 0), 2)}
    bars = {0: 0x10000000, 1: 0x10100000}

    def args(self, tmp, fd):
        return ['-M', 'virt,gic-version=2,highmem=off', '-m', '1G',
                '-object', 'iommufd,id=x', '-object', 'iommufd,id=y',
                '-device', 'arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on',
                '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,'
                'addr=0x2',
                '-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=2,'
                'addr=0x3',
                '-device', 'vfio-pci,id=dev0,iommufd=x,fd=%d,bus=rp0' % fd]

    @staticmethod
    def ecam(bdf, off):
        bus, dev, fn = bdf
        return ECAM + (bus << 20) + (dev << 15) + (fn << 12) + off

    def cfg_w(self, g, bdf, off, val, size=4):
        g.w(size, self.ecam(bdf, off), val)

    def cfg_rb(self, q, bdf, off):
        return q.readb(self.ecam(bdf, off))

    def slot_ctl_ops(self, power_on, slot, cap):
        _, rp, _ = self.slots[slot]
        return [['w', 2, self.ecam(rp, cap + 0x18),
                 0x01c0 if power_on else 0x07c0]]

    def pci_setup(self, g, fw=False):
        for slot, (_, rp, bus) in self.slots.items():
            bar = self.bars[slot]
            self.cfg_w(g, rp, 0x18, bus << 8 | bus << 16)
            self.cfg_w(g, rp, 0x20, ((bar >> 16) & 0xfff0) |
                       ((bar >> 16) & 0xfff0) << 16)
            self.cfg_w(g, rp, 0x24, 0x0000fff0)
            self.cfg_w(g, rp, 0x04, 0x0006, 2)
            self.cfg_w(g, (bus, 0, 0), 0x10, bar)
            self.cfg_w(g, (bus, 0, 0), 0x04, 6 if fw else g.pick(6, 2, 0), 2)

    def ste_addr(self, st, sid):
        if st['fmt'] == 0:
            return STRTAB + sid * 64
        split = st['split']
        return STRTAB_L2 + (sid >> split) * (64 << split) + \
            (sid & ((1 << split) - 1)) * 64

    def write_ste(self, g, st, sid):
        cfg = g.pick(5, 5, 5, 5, 4, 0, 6, 7, g.bits(3))
        s1fmt = g.pick(0, 0, 0, 1, 2)
        cdmax = g.pick(0, 0, 0, 1, 4, g.bits(5))
        w = [0] * 8
        w[0] = g.pick(1, 1, 1, 1, 0) | cfg << 1 | s1fmt << 4 | \
            (CD_ADDR & 0x000fffffffffffc0) | cdmax << 59
        if g.chance(0.15):
            w[1] = g.pick(1, 2, 1 << 29, 2 << 28, 1 << 27, 3 << 30,
                          g.bits(64))
        if cfg in (6, 7) or g.chance(0.05):
            w[2] = g.bits(16) | 16 << 32 | 2 << 38 | 1 << 51 | g.bits(3) << 48
            w[3] = PT_L0
        if g.chance(0.05):
            w[g.r.randrange(4, 8)] = g.bits(64)
        base = self.ste_addr(st, sid)
        for i in range(8):
            if w[i] or i < 2 or g.chance(0.1):
                g.wq(base + i * 8, w[i])

    def write_cd(self, g, idx=0):
        t0sz = g.pick(25, 25, 25, 16, 33, g.bits(6))
        tg0 = g.pick(0, 0, 0, 1, 2, 3)              # 4K, 64K, 16K
        asid = g.pick(1, 1, 2, g.bits(16))
        w0 = t0sz | tg0 << 6 | g.pick(0, 1) << 8 | g.pick(0, 1) << 10 | \
            g.pick(3, 0, 2) << 12 | g.pick(1, 1, 0) << 30 | \
            g.pick(1, 1, 1, 1, 0) << 31
        w0 |= g.pick(2, 2, 5, 6, 0) << 32 | g.pick(1, 1, 1, 0) << 41 | \
            g.pick(1, 1, 0) << 45 | g.pick(1, 1, 0) << 46 | asid << 48
        if g.chance(0.1):
            w0 |= g.pick(1 << 15, 1 << 35, 1 << 42, 1 << 43, 1 << 44,
                         1 << 47, 3 << 38, 1 << 14)
        w1 = PT_L1 | g.pick(0, 0, 0, 1 << 62, g.bits(4) << 52)
        base = CD_ADDR + idx * 64
        g.wq(base, w0)
        g.wq(base + 8, w1)
        g.wq(base + 16, 0 if g.chance(0.9) else g.bits(64))
        g.wq(base + 24, 0xff)
        return asid

    def page_tables(self, g):
        def pte(pa, table):
            return pa | 3 | (0 if table else (1 << 10) | (3 << 8) |
                             g.pick(1 << 6, 1 << 6, 0, 1 << 7))
        g.wq(PT_L0, PT_L1 | 3)
        g.wq(PT_L1, PT_L2 | 3)
        g.wq(PT_L2 + ((IOVA_SRC >> 21) & 511) * 8, PT_L3 | 3)
        for n in range(g.pick(2, 4, 8)):
            g.wq(PT_L3 + n * 8, pte(BUFS + n * 0x1000, False))
        if g.chance(0.3):                           # 2 MiB block
            g.wq(PT_L2 + 16, (BUFS & ~0x1fffff) | 1 | (1 << 10) | (1 << 6))
        if g.chance(0.2):                           # 1 GiB block
            g.wq(PT_L1 + 8, 0x40000000 | 1 | (1 << 10) | (1 << 6))

    def cmd(self, g, st):
        sid = g.pick(*SIDS, SIDS[0], g.bits(10))
        asid = g.pick(st['asid'], st['asid'], g.bits(16))
        addr = IOVA_SRC + g.pick(0, 0x1000, 0x2000, g.bits(20) << 12)
        op = g.pick(3, 3, 3, 4, 5, 6, 7, 0x10, 0x11, 0x11, 0x12, 0x12, 0x12,
                    0x13, 0x28, 0x2a, 0x30, 0x40, 0x40, 0x46, 1, 2, 0x41,
                    0x44, 0x18, 0x20, g.bits(8))
        w0, w1 = op, 0
        if op in (1, 3, 4, 5, 6, 0x40, 0x41, 0x44):
            w0 |= sid << 32
        if op in (3, 5):
            w1 = g.pick(1, 1, 0)
        if op == 4:
            w1 = g.pick(0, 1, 8, 31, g.bits(5))
        if op == 7:
            w1 = 31
        if op in (5, 0x40):
            w0 |= g.pick(0, 0, 1, g.bits(20)) << 12
        if op == 0x11:
            w0 |= asid << 48
        if op in (0x12, 0x13):
            w0 |= asid << 48 if op == 0x12 else 0
            if g.chance(0.3):                       # range: NUM, SCALE, TG
                w0 |= g.bits(5) << 12 | g.bits(5) << 20
                w1 |= g.pick(1, 2, 3) << 10 | g.bits(2) << 8
            w1 |= addr | g.pick(1, 0)
        if op == 0x40:
            w1 = addr | g.pick(0, 1) | g.pick(0, 1, 12, 63) << 0
        if op == 0x46:
            w0 |= g.pick(0, 0, 1, 2) << 12
        if g.chance(0.05):
            w0 |= g.bits(64) & ~0xff
        return (w0, w1)

    def cmdq_submit(self, g, st, cmds):
        n = 1 << CMDQ_LOG2
        for w0, w1 in cmds:
            idx = st['prod'] & (n - 1)
            g.wq(CMDQ + idx * 16, w0)
            g.wq(CMDQ + idx * 16 + 8, w1)
            st['prod'] = (st['prod'] + 1) & (2 * n - 1)
        if g.chance(0.8):
            idx = st['prod'] & (n - 1)
            g.wq(CMDQ + idx * 16, 0x46)
            g.wq(CMDQ + idx * 16 + 8, 0)
            st['prod'] = (st['prod'] + 1) & (2 * n - 1)
        g.wl(SMMU + 0x98, st['prod'])
        g.r_(4, SMMU + 0x9c)

    def requeue(self, g, st):
        """Restart the command queue at 0, the SMMU left enabled with the
        previous program's stream table (linear, as a fresh enable mostly
        makes it)."""
        g.wl(SMMU + 0x20, 0x5)                      # SMMUEN, EVTQEN
        g.ops.append(['ack'])
        g.wq(SMMU + 0x90, CMDQ | CMDQ_LOG2)
        g.wl(SMMU + 0x98, 0)
        g.wl(SMMU + 0x9c, 0)
        st['fmt'], st['split'], st['prod'] = 0, 0, 0
        g.wl(SMMU + 0x20, 0xd)

    def enable(self, g, st):
        g.wl(SMMU + 0x20, 0)                        # CR0: all off
        g.ops.append(['ack'])
        st['fmt'] = 1 if g.chance(0.35) else 0
        st['split'] = g.pick(6, 8, 8, 10) if st['fmt'] else 0
        log2 = g.pick(10, 10, 10, 9, 12, 16) if st['fmt'] == 0 else 10
        if st['fmt']:
            nl1 = max(1, (1 << log2) >> st['split'])
            for i in range(min(nl1, 16)):
                g.wq(STRTAB + i * 8, (STRTAB_L2 + i * (64 << st['split'])) |
                     g.pick(st['split'] + 1, st['split'] + 1, 0, g.bits(5)))
        g.wq(SMMU + 0x80, STRTAB | (g.pick(0, 0, 1) << 62))
        g.wl(SMMU + 0x88, log2 | st['split'] << 6 | st['fmt'] << 16)
        g.wq(SMMU + 0x90, CMDQ | CMDQ_LOG2)
        g.wq(SMMU + 0xa0, EVTQ | 5)
        g.wl(SMMU + 0x98, 0)
        g.wl(SMMU + 0x9c, 0)
        st['prod'] = 0
        g.wl(SMMU + 0x20, g.pick(0xd, 0xd, 0xd, 0xd, 0x9, 0x1, 0xc, 0xf))

    def program(self, rng, plug_ops=True, fresh=True):
        g = Gen(rng)
        st = {}
        if g.chance(0.05):
            self.pci_setup(g)
        self.page_tables(g)
        st['asid'] = self.write_cd(g, 0)
        if g.chance(0.3):
            self.write_cd(g, 1)
        if fresh or g.chance(0.15):
            self.enable(g, st)
        else:
            self.requeue(g, st)
        for sid in SIDS:
            self.write_ste(g, st, sid)
        self.cmdq_submit(g, st, [(3 | SIDS[0] << 32, 1),
                                 (3 | SIDS[1] << 32, 1)])
        protect = 0 if rng.random() < 0.3 else len(g.ops)
        for _ in range(rng.randrange(3, 16)):
            k = rng.random()
            if k < 0.3:
                self.cmdq_submit(g, st, [self.cmd(g, st) for _ in
                                         range(g.pick(1, 1, 2, 3, 8))])
            elif k < 0.55:
                gen_dma(g, self.bars[g.pick(0, 0, 0, 1)],
                        [IOVA_SRC, IOVA_SRC + 0x1000, BUFS, g.bits(48)])
            elif k < 0.65:
                self.write_ste(g, st, g.pick(*SIDS))
                self.cmdq_submit(g, st, [self.cmd(g, st),
                                         (3 | g.pick(*SIDS) << 32, 1)])
            elif k < 0.72:
                st['asid'] = self.write_cd(g, g.pick(0, 0, 1))
                self.cmdq_submit(g, st, [(5 | g.pick(*SIDS) << 32, 1)])
            elif k < 0.8:
                g.wq(g.pick(PT_L3, PT_L2, PT_L1) + g.bits(3) * 8,
                     g.pick(0, (BUFS + g.bits(3) * 0x1000) | 0x743,
                            PT_L3 | 3, g.bits(64)))
            elif k < 0.9:
                reg = g.pick(0x20, 0x28, 0x2c, 0x44, 0x50, 0x64, 0x80, 0x88,
                             0x90, 0x98, 0x9c, 0xa0, 0x100a8, 0x100ac, 0xb0,
                             0x3c, g.bits(12) & ~3)
                if reg in (0x80, 0x90, 0xa0, 0xb0):
                    g.wq(SMMU + reg, g.pick(g.bits(64), STRTAB, CMDQ | 4))
                else:
                    g.wl(SMMU + reg, g.pick(g.bits(32), 0xd, 0, 1 << 31,
                                            10 | 1 << 16))
                if g.chance(0.3):
                    g.ops.append(['ack'])
            elif k < 0.95:
                self.enable(g, st)
                for sid in SIDS:
                    self.write_ste(g, st, sid)
                self.cmdq_submit(g, st, [(4, 31)])  # CFGI_ALL
            elif plug_ops:
                g.ops.append([g.pick('plug', 'unplug', 'unplug'),
                              g.pick(0, 1)])
        g.ops = mutate(rng, g.ops, protect)
        return g.ops


TARGETS = {'vtd': Vtd, 'smmu': Smmu}


def program_for(target, seed, index, plug_ops=True, fresh=True):
    """Input @index of @seed; @fresh: the first after QEMU started or was
    reset (it always enables the vIOMMU; later ones mostly continue on
    the state their predecessors left, as re-enabling is slow)."""
    rng = random.Random('%s:%s:%d:%d' % (seed, target.name, index, fresh))
    return target.program(rng, plug_ops, fresh)


# --------------------------------------------------------------------------
# runner

class Crash(Exception):
    def __init__(self, kind, detail):
        super().__init__('%s: %s' % (kind, detail))
        self.kind = kind
        self.detail = detail


def _line(op):
    k = op[0]
    if k == 'w':
        return '%s 0x%x 0x%x' % ({1: 'writeb', 2: 'writew', 4: 'writel',
                                  8: 'writeq'}[op[1]], op[2], op[3])
    if k == 'r':
        return '%s 0x%x' % ({1: 'readb', 2: 'readw', 4: 'readl',
                             8: 'readq'}[op[1]], op[2])
    if k == 'o':
        return '%s 0x%x 0x%x' % ({1: 'outb', 2: 'outw', 4: 'outl'}[op[1]],
                                 op[2], op[3])
    if k == 'i':
        return '%s 0x%x' % ({1: 'inb', 2: 'inw', 4: 'inl'}[op[1]], op[2])
    raise ValueError(op)


class Runner:
    """One QEMU process for a target, restarted after a crash."""

    def __init__(self, target, obj=None, sim_lib=None, timeout=20,
                 workdir=None, leaks=True, log=None, shared_iommufd=False,
                 full_stacks=True):
        self.t = target
        self.full_stacks = full_stacks
        # Hot-plugged devices of slot 0 use iommufd x (dev0's), those of
        # slot 1 iommufd y: QEMU 10.0 corrupts its migration notifier list
        # when two devices share a VFIO container and both go away
        # (tests/fuzz/README.md, finding 1; tests/fuzz/regressions/).  With
        # @shared_iommufd both slots use x, which reproduces it.
        self.iommufd = {0: 'x', 1: 'x' if shared_iommufd else 'y'}
        self.obj = obj or default_obj()
        self.sim = sim_lib or qemutest.default_sim_lib()
        self.timeout = timeout
        self.leaks = leaks
        self.dir = workdir or tempfile.mkdtemp(prefix='viommu-fuzz-')
        os.makedirs(self.dir, exist_ok=True)
        self.log = log
        self.q = None
        self.starts = 0
        self.plugged = {}
        self.fds = []
        self.ops_done = 0
        self.env_extra = {}

    # ---- process ----
    def start(self):
        self.starts += 1
        self.report_prefix = os.path.join(self.dir, 'san')
        for f in glob.glob(self.report_prefix + '.*'):
            os.unlink(f)
        fd = qemutest.device_memfd(self.t.dev_cfg)
        env = dict(os.environ)
        env['LD_PRELOAD'] = self.sim
        env.update(sanitizer_env(self.report_prefix, self.leaks,
                                 self.full_stacks))
        env['IOMMUFD_SIM_REPORT'] = os.path.join(self.dir, 'sim.report')
        env.pop('IOMMUFD_SIM_LOG', None)
        env.pop('IOMMUFD_SIM_FAIL', None)
        env.update(self.env_extra)
        self.q = qemutest.Qemu(self.t.args(self.dir, fd),
                               qemu=os.path.join(self.obj, self.t.qemu),
                               env=env, pass_fds=[fd], timeout=self.timeout)
        try:
            self.q.start()
        except (qemutest.QemuError, OSError) as e:
            os.close(fd)
            raise Crash('start', str(e))
        os.close(fd)
        self.plugged = {0: 'dev0', 1: None}
        self.plug_n = 0
        # the root ports' PCIe capability (Slot Control for hotplug)
        self.cap = {}
        try:
            self.firmware()
            for slot, (_, rp, _) in self.t.slots.items():
                pos = self.t.cfg_rb(self.q, rp, 0x34) & 0xfc
                while pos and self.t.cfg_rb(self.q, rp, pos) != 0x10:
                    pos = self.t.cfg_rb(self.q, rp, pos + 1) & 0xfc
                if not pos:
                    raise Crash('start', 'no PCIe capability in %s' % (rp,))
                self.cap[slot] = pos
        except (qemutest.QemuError, OSError) as e:
            self._dead('start: %s' % e)

    def alive(self):
        return self.q is not None and self.q.proc.poll() is None

    def sanitizer_reports(self):
        """Sanitizer reports (not ASan's warnings, e.g. about swapcontext)."""
        out = []
        for f in sorted(glob.glob(self.report_prefix + '.*')):
            with open(f, errors='replace') as fh:
                text = fh.read()
            if re.search(r'ERROR: |SUMMARY: |runtime error:', text):
                out.append(text)
        return '\n'.join(out)

    def _dead(self, why):
        """QEMU stopped answering: find out how and raise Crash."""
        q = self.q
        try:
            q.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            q.proc.send_signal(signal.SIGABRT)     # a hang: get its state
            try:
                q.proc.wait(10)
            except subprocess.TimeoutExpired:
                q.kill()
            rep = self.sanitizer_reports()
            self.q = None
            raise Crash('hang', '%s\n%s\n%s' % (why, rep, q.stderr()[-4000:]))
        rc = q.proc.returncode
        rep = self.sanitizer_reports()
        self.q = None
        san = rep or rc == SAN_EXIT or re.search(
            r'ERROR: \w+Sanitizer|runtime error:', q.stderr())
        kind = 'sanitizer' if san else ('signal %d' % -rc if rc < 0
                                         else 'exit %d' % rc)
        raise Crash(kind, '%s\n%s\n%s' % (why, rep, q.stderr()[-4000:]))

    def stop(self):
        """Clean exit (writes gcov data and the simulator report); a
        sanitizer report at exit (a leak) is a crash too."""
        if not self.q:
            return
        q = self.q
        rc = q.quit()
        q.log.close()
        rep = self.sanitizer_reports()
        self.q = None
        if rep or rc not in (0, None):
            raise Crash('sanitizer' if rep or rc == SAN_EXIT
                        else 'exit %s' % rc,
                        'at exit\n%s\n%s' % (rep, q.stderr()[-4000:]))

    # ---- operations ----
    def _pipeline(self, lines):
        if not lines:
            return
        q = self.q
        try:
            q.qt.sendall(('\n'.join(lines) + '\n').encode())
            want = len(lines)
            buf = q._qt_buf
            got = 0
            deadline = time.monotonic() + self.timeout
            while True:
                while b'\n' in buf:
                    resp, buf = buf.split(b'\n', 1)
                    if resp.startswith(b'IRQ'):
                        continue
                    if not resp.startswith(b'OK'):
                        q._qt_buf = buf
                        raise Crash('protocol', '%r after %d lines'
                                    % (resp, got))
                    got += 1
                if got >= want:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([q.qt], [], [], left)[0]:
                    self._dead('no qtest answer in %ds' % self.timeout)
                data = q.qt.recv(1 << 16)
                if not data:
                    self._dead('qtest connection closed')
                buf += data
            q._qt_buf = buf
        except (BrokenPipeError, ConnectionResetError) as e:
            self._dead('qtest: %s' % e)

    def _qmp(self, cmd, fds=(), **args):
        try:
            return self.q.qmp_cmd(cmd, fds=fds, **args)
        except qemutest.QemuError as e:
            if 'closed' in str(e) or not self.alive():
                self._dead('QMP %s: %s' % (cmd, e))
            return e                                # a refused command
        except (OSError, socket.timeout) as e:
            self._dead('QMP %s: %s' % (cmd, e))

    def _plug(self, slot):
        if self.plugged.get(slot):
            return
        bus_id = self.t.slots[slot][0]
        fd = qemutest.device_memfd(self.t.dev_cfg)
        self.plug_n += 1
        name = 'hp%d' % self.plug_n
        try:
            r = self._qmp('getfd', fds=[fd], fdname=name)
        finally:
            os.close(fd)
        r = self._qmp('device_add', driver='vfio-pci', id=name, bus=bus_id,
                      iommufd=self.iommufd[slot], fd=name)
        if not isinstance(r, Exception):
            self.plugged[slot] = name
            self._pipeline([_line(o) for o in self.t.slot_ctl_ops(True, slot, self.cap[slot])])

    def _unplug(self, slot):
        name = self.plugged.get(slot)
        if not name:
            return
        r = self._qmp('device_del', id=name)
        if isinstance(r, Exception):
            return
        self._pipeline([_line(o) for o in self.t.slot_ctl_ops(False, slot, self.cap[slot])])
        try:
            self.q.wait_event('DEVICE_DELETED', timeout=2,
                              match=lambda e: e['data'].get('device') == name)
            self.plugged[slot] = None
        except qemutest.QemuError:
            if not self.alive():
                self._dead('during unplug of %s' % name)
            # still pending: leave it to a later program
        except OSError as e:
            self._dead('during unplug: %s' % e)

    def _iqfix(self):
        """VT-d: after an invalidation queue error (FSTS.IQE), tail =
        head and IQE cleared, as a driver's error handler would."""
        q = self.q
        try:
            fsts = int(q.qtest('readl 0x%x' % (VTD + 0x34)), 16)
            if fsts & 0x10:
                head = int(q.qtest('readq 0x%x' % (VTD + 0x80)), 16)
                q.qtest('writeq 0x%x 0x%x' % (VTD + 0x88, head))
                q.qtest('writel 0x%x 0x%x' % (VTD + 0x34, 0x10))
        except (qemutest.QemuError, OSError) as e:
            self._dead('iqfix: %s' % e)

    def _ack(self):
        self._pipeline([])
        q = self.q
        try:
            v = int(q.qtest('readl 0x%x' % (SMMU + 0x60)), 16)
            q.qtest('writel 0x%x 0x%x' % (SMMU + 0x64, v))
        except (qemutest.QemuError, OSError) as e:
            self._dead('ack: %s' % e)

    def firmware(self):
        """What firmware does at boot (after start and each reset): bus
        numbers and windows of the root ports, the devices' BARs."""
        g = Gen(random.Random(0))
        self.t.pci_setup(g, fw=True)
        self._pipeline([_line(o) for o in g.ops])

    def run_program(self, ops):
        """Run one program; raises Crash."""
        lines = []
        for op in ops:
            if op[0] in ('plug', 'unplug', 'ack', 'iqfix'):
                self._pipeline(lines)
                lines = []
                {'plug': self._plug, 'unplug': self._unplug,
                 'ack': lambda: self._ack(),
                 'iqfix': lambda: self._iqfix()}[op[0]](*op[1:])
            else:
                lines.append(_line(op))
        self._pipeline(lines)
        self.ops_done += len(ops)
        if not self.alive():
            self._dead('after the program')

    def reset(self):
        r = self._qmp('system_reset')
        if isinstance(r, Exception):
            raise Crash('reset', str(r))
        try:
            self.q.wait_event('RESET', timeout=self.timeout)
        except qemutest.QemuError as e:
            if not self.alive():
                self._dead('during system_reset')
            raise Crash('hang', 'no RESET event: %s' % e)
        self.firmware()


def save_reproducer(path, target, seed, programs, crash, history=None,
                    batch=None, options=None):
    """@programs: those since the last reset; @history: (first, last)
    input indices since QEMU started, with a reset every @batch."""
    with open(path, 'w') as f:
        json.dump({'target': target.name, 'seed': seed,
                   'kind': crash.kind if crash else None,
                   'detail': crash.detail[:20000] if crash else None,
                   'history': history, 'batch': batch,
                   'options': options or {},
                   'programs': programs}, f, indent=None)
        f.write('\n')


def replay(path, obj=None, sim_lib=None, timeout=20, leaks=True,
           full=False):
    """Run the programs of a reproducer in a fresh QEMU; returns None or
    the Crash.  @full: regenerate and run every input since QEMU started
    (the 'history'), with the run's resets."""
    with open(path) as f:
        rep = json.load(f)
    target = TARGETS[rep['target']]()
    r = Runner(target, obj=obj, sim_lib=sim_lib, timeout=timeout, leaks=leaks,
               full_stacks=True, **rep.get('options', {}))
    try:
        r.start()
        if full and rep.get('history'):
            first, last = rep['history']
            n = 0
            for i in range(first, last + 1):
                r.run_program(program_for(target, rep['seed'], i,
                                          fresh=n % rep['batch'] == 0))
                n += 1
                if n % rep['batch'] == 0 and i != last:
                    r.reset()
        else:
            for prog in rep['programs']:
                r.run_program(prog)
        r.stop()
    except Crash as c:
        if r.q:
            r.q.kill()
        return c
    return None
