#!/usr/bin/python3
"""vfio-pci refuses a mediated device (mdev) behind a vIOMMU that nests
translation on the host, before attaching it (series patch 26): an mdev has
no host IOMMU to nest on, and attaching it would map all of guest RAM
untranslated.

No mdev exists on this machine, so the test makes one QEMU believes in:
QEMU tells an mdev by its sysfs "subsystem" link resolving to
/sys/bus/mdev (vfio_device_is_mdev()).  In a private mount namespace a
tmpfs over /sys/bus provides that directory, and a fake device directory
links to it.  Needs root (unshare -m).  Prints TAP.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402

REFUSAL = 'which a mediated device does not have'

CASES = [
    # (name, QEMU binary suffix, arguments, nesting)
    ('intel-iommu x-flts=on', 'x86_64',
     ['-M', 'q35', '-device',
      'intel-iommu,x-scalable-mode=on,x-flts=on,caching-mode=on'], True),
    ('intel-iommu x-flts=off', 'x86_64',
     ['-M', 'q35', '-device', 'intel-iommu,x-scalable-mode=on'], False),
    ('arm-smmuv3 accel=on', 'aarch64',
     ['-M', 'virt', '-device',
      'arm-smmuv3,primary-bus=pcie.0,accel=on'], True),
]


def run_qemu(qemu, args, mdev):
    """QEMU with a fake mdev at @mdev, in a namespace where /sys/bus/mdev
    exists; returns (exit status, stderr)."""
    cmd = [qemu, '-accel', 'qtest', '-display', 'none', '-nodefaults'] + \
        args + ['-device', 'vfio-pci,sysfsdev=' + mdev]
    script = ('mount -t tmpfs none /sys/bus && mkdir /sys/bus/mdev && '
              'exec "$@"')
    r = subprocess.run(['unshare', '-m', 'sh', '-c', script, 'sh'] + cmd,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


def main():
    t = qemutest.Tap()
    x86 = qemutest.default_qemu()
    with tempfile.TemporaryDirectory(prefix='mdev-') as tmp:
        mdev = os.path.join(tmp, 'mdev0')
        os.mkdir(mdev)
        os.symlink('/sys/bus/mdev', os.path.join(mdev, 'subsystem'))
        for name, arch, args, nesting in CASES:
            qemu = x86.replace('qemu-system-x86_64', 'qemu-system-' + arch)
            rc, err = run_qemu(qemu, args, mdev)
            err = err.strip()
            if nesting:
                t.ok(rc == 1 and REFUSAL in err and 'fsts=off' in err,
                     '%s: mdev refused before attach, naming the option '
                     '(rc %s): %s' % (name, rc, err))
            else:
                # nothing nests: VFIO goes on and fails on the fake device
                t.ok(rc == 1 and REFUSAL not in err and 'mdev0' in err,
                     '%s: mdev not refused for nesting (rc %s): %s'
                     % (name, rc, err))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
