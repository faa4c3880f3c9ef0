#!/usr/bin/python3
"""Dry runs of the real-kernel tests' L2 drivers without L1: built for
this machine, e2e/driver.c drives QEMU with an emulated arm-smmuv3 and
e2e/driver-vtd.c one with an emulated intel-iommu (x-flts=on, QEMU's own
first-stage translation), each with an emulated edu device, through the
same tables, invalidations, blocking and bypass entries they use against
the L1 kernel.  A failure here points at the driver, not at the series.
Prints TAP.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402

BUILD = Path(os.environ.get('BUILD', TOP / 'build'))

# driver source, vIOMMU, native binary, QEMU binary (environment
# override), args
DRIVERS = [
    ('driver.c', 'arm-smmuv3', 'e2e-driver-native', 'QEMU_AARCH64',
     'qemu-system-aarch64',
     ['-M', 'virt,highmem=off', '-m', '256M', '-nodefaults',
      '-display', 'none',
      '-device', 'arm-smmuv3,primary-bus=pcie.0,id=smmu0',
      '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=2',
      '-device', 'edu,id=edu0,bus=rp0,dma_mask=0xffffffffff']),
    ('driver-vtd.c', 'intel-iommu', 'e2e-driver-vtd-native',
     'QEMU_SYSTEM_X86_64',
     'qemu-system-x86_64',
     ['-M', 'q35', '-m', '256M', '-nodefaults', '-display', 'none',
      '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
      '-device', 'intel-iommu,x-scalable-mode=on,x-flts=on,caching-mode=on',
      '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=4',
      '-device', 'edu,id=edu0,bus=rp0']),
]


def run(t, src, viommu, name, env_var, binary, args):
    qemu = os.environ.get(env_var, str(Path(qemutest.default_qemu()).parent /
                                       binary))
    exe = BUILD / 'e2e' / name
    exe.parent.mkdir(parents=True, exist_ok=True)
    cc = subprocess.run(['cc', '-O2', '-Wall', '-Wextra', '-Werror', '-o',
                         str(exe), str(TOP / 'e2e' / src),
                         str(TOP / 'e2e' / 'driver-lib.c')],
                        capture_output=True, text=True)
    if not t.ok(cc.returncode == 0, 'e2e/%s builds for this machine' % src):
        t.diag(cc.stderr)
        return
    r = subprocess.run([str(exe), '--emulated', qemu] + args,
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, E2E_TRACE_LOG=str(
                           exe.parent / (name + '.log'))))
    passed = qemutest.tap_from_driver(t, r.stdout + r.stderr)
    t.ok(r.returncode == 0 and passed,
         '%s passes against the emulated %s and edu (exit %d)'
         % (src, viommu, r.returncode))
    if r.returncode:
        t.diag(r.stdout + r.stderr)


def main():
    t = qemutest.Tap()
    for d in DRIVERS:
        run(t, *d)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
