"""Helpers for tests that drive iommufd-sim's DMA test device from qtest:
register layout (sim/include/iommufd-sim-regs.h), a q35 topology with the
device behind a pcie-root-port, and what firmware and a guest would do to
it (bus numbers, BAR, slot power, DMA).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os

import qemutest

VENDOR, DEVICE = 0x1b36, 0x11f0
RP = (0, 2, 0)                  # pcie-root-port rp0 at 00:02.0
DEV = (1, 0, 0)                 # the vfio device behind it
BAR = 0xc0000000                # inside the root port's memory window

# BAR0 registers (sim/include/iommufd-sim-regs.h)
R_ID, R_CTRL, R_STATUS = 0x000, 0x008, 0x00c
R_SRC, R_DST, R_LEN, R_OP, R_PATTERN, R_DOORBELL = \
    0x010, 0x018, 0x020, 0x028, 0x02c, 0x030
R_FAULT_CODE, R_ATTACHED_PT, R_DOMAIN_KIND = 0x034, 0x060, 0x064
ID_VALUE = 0x53494d44
OP_COPY, OP_FILL = 1, 2
ST_DONE, ST_ERROR = 2, 4
DOMAIN_S2 = 1

DEV_CFG = ('iommu=vtd\nvendor=0x%x\ndevice=0x%x\nname=smoke\n'
           % (VENDOR, DEVICE))

COMMON = ['-machine', 'q35', '-m', '256M',
          '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
          '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2']


def setup_bridge(q):
    """What firmware would do: bus numbers and a memory window."""
    q.pci_write(RP, 0x18, 0x00010100)           # primary 0, sec 1, sub 1
    q.pci_write(RP, 0x20, 0xc000c000)           # mem window 0xc0000000/1M
    q.pci_write(RP, 0x24, 0x0000fff0)           # no prefetchable window
    q.pci_write(RP, 0x04, 0x0006, 2)            # memory + bus master


def slot_ctl(q, power_on):
    cap = q.pci_find_cap(RP, 0x10)
    ctl = q.pci_read(RP, cap + 0x18, 2) & ~0x0700
    ctl |= 0x0100 if power_on else 0x0700      # PIC on / PIC off + PCC off
    q.pci_write(RP, cap + 0x18, ctl, 2)


def dma(q, op, src, dst, length, pattern=0):
    q.writel(BAR + R_PATTERN, pattern)
    q.writeq(BAR + R_SRC, src)
    q.writeq(BAR + R_DST, dst)
    q.writel(BAR + R_LEN, length)
    q.writel(BAR + R_OP, op)
    q.writel(BAR + R_DOORBELL, 1)
    return q.readl(BAR + R_STATUS)




def common_args(tmp):
    return COMMON + ['-bios', qemutest.dummy_bios(tmp)]


def env_for(tmp, tag, fail=None):
    """QEMU's environment: the simulator preloaded, its log and report in
    @tmp, optional fault injection (IOMMUFD_SIM_FAIL syntax)."""
    env = dict(os.environ)
    env['LD_PRELOAD'] = qemutest.default_sim_lib()
    env['IOMMUFD_SIM_REPORT'] = os.path.join(tmp, tag + '.report')
    env['IOMMUFD_SIM_LOG'] = os.path.join(tmp, tag + '.log')
    if fail:
        env['IOMMUFD_SIM_FAIL'] = fail
    else:
        env.pop('IOMMUFD_SIM_FAIL', None)
    return env


def read_log(env):
    with open(env['IOMMUFD_SIM_LOG']) as f:
        return f.read().splitlines()


def log_fields(line):
    """{'flags': 1, ...} from a log line's name=0x.. words."""
    out = {}
    for word in line.split():
        if '=' in word:
            k, v = word.split('=', 1)
            try:
                out[k] = int(v, 0)
            except ValueError:
                pass
    return out
