#!/usr/bin/python3
"""Dry run of the real-kernel test's L2 driver (e2e/driver.c) without L1:
built for this machine, it drives QEMU with an emulated arm-smmuv3 and an
emulated edu device through the same stream table, context descriptor,
page tables, TLBI, abort and bypass STEs it uses against the L1 kernel.
A failure here points at the driver, not at the series.  Prints TAP.

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


def main():
    t = qemutest.Tap()
    qemu = os.environ.get('QEMU_AARCH64',
                          str(Path(qemutest.default_qemu()).parent /
                              'qemu-system-aarch64'))
    exe = BUILD / 'e2e' / 'e2e-driver-native'
    exe.parent.mkdir(parents=True, exist_ok=True)
    cc = subprocess.run(['cc', '-O2', '-Wall', '-Wextra', '-Werror', '-o',
                         str(exe), str(TOP / 'e2e' / 'driver.c'),
                         str(TOP / 'e2e' / 'driver-lib.c')],
                        capture_output=True, text=True)
    if not t.ok(cc.returncode == 0, 'e2e/driver.c builds for this machine'):
        t.diag(cc.stderr)
        return t.done()
    r = subprocess.run([str(exe), '--emulated', qemu,
                        '-M', 'virt,highmem=off', '-m', '256M',
                        '-nodefaults', '-display', 'none',
                        '-device', 'arm-smmuv3,primary-bus=pcie.0,id=smmu0',
                        '-device', 'pcie-root-port,id=rp0,bus=pcie.0,'
                        'chassis=1,addr=2',
                        '-device', 'edu,id=edu0,bus=rp0,dma_mask=' +
                        '0xffffffffff'],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, E2E_TRACE_LOG=str(
                           exe.parent / 'e2e-driver-native.log')))
    passed = qemutest.tap_from_driver(t, r.stdout + r.stderr)
    t.ok(r.returncode == 0 and passed,
         'the driver passes against the emulated SMMU and edu (exit %d)'
         % r.returncode)
    if r.returncode:
        t.diag(r.stdout + r.stderr)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
