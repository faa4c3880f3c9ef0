#!/usr/bin/python3
"""Host failures while an arm-smmuv3 accel=on vSMMU sets up its host
objects for a hot-plugged VFIO device (the nesting parent, the vIOMMU, the
abort and bypass nested HWPTs): device_add fails with a message, QEMU
keeps running, and nothing is left on the host.  Exercises the part-1
helper iommufd_backend_alloc_viommu() and the HWPT allocations with fault
injection.  Also: a host SMMU the vSMMU cannot be backed by is refused
when the device is on the command line (plugged before the first reset).
Prints TAP.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'lib'))
import qemutest  # noqa: E402
import simdev as sd  # noqa: E402

# (injected failure, what it breaks, words expected in the error)
FAULTS = [
    ('HWPT_ALLOC:1:ENOSPC', 'the nesting parent', 'nesting parent'),
    ('VIOMMU_ALLOC:1:ENOMEM', 'the host vIOMMU', 'viommu'),
    ('HWPT_ALLOC:2:ENOMEM', 'the abort HWPT', 'hwpt'),
    ('HWPT_ALLOC:3:ENOMEM', 'the bypass HWPT', 'hwpt'),
]


def jdev(**props):
    return json.dumps(props, separators=(',', ':'))


def case(t, tmp, spec, step, words):
    what = 'fail %s' % spec
    env = sd.env_for(tmp, spec.replace(':', '-'), spec)
    qemu = qemutest.default_qemu().replace('qemu-system-x86_64',
                                           'qemu-system-aarch64')
    args = ['-M', 'virt', '-object', 'iommufd,id=iommufd0',
            '-device', jdev(driver='arm-smmuv3', id='smmu0', accel=True,
                            **{'primary-bus': 'pcie.0'}),
            '-device', jdev(driver='pcie-root-port', id='rp0',
                            bus='pcie.0', chassis=1)]
    q = qemutest.Qemu(args, qemu=qemu, env=env).start()
    dev = qemutest.device_memfd('iommu=smmuv3\nname=arm\n')
    try:
        q.getfd('simdev', dev)
        try:
            q.qmp_cmd('device_add', driver='vfio-pci', id='d0', bus='rp0',
                      iommufd='iommufd0', fd='simdev')
            err = None
        except qemutest.QemuError as e:
            err = str(e)
        t.ok(err is not None and words in err.lower(),
             '%s: device_add fails at %s with a message: %s'
             % (what, step, err))
        t.ok(q.qmp_cmd('query-status').get('status') is not None,
             '%s: QEMU keeps running' % what)
    finally:
        rc = q.quit()
        os.close(dev)
    rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
    t.ok(rc == 0 and rep.get('fail.injected') == 1 and
         rep.get('live.all') == 0 and rep.get('contexts') == 0,
         '%s: QEMU exits cleanly, nothing left on the host (rc %s, '
         'live.all %s)' % (what, rc, rep.get('live.all')))
    if rep.get('live.all') != 0:
        t.diag(open(env['IOMMUFD_SIM_REPORT']).read())


def cold_plug_refused(t, tmp):
    """-device vfio-pci on the command line, host SMMU without range
    invalidation: QEMU must refuse to start and name the property."""
    env = sd.env_for(tmp, 'norill')
    qemu = qemutest.default_qemu().replace('qemu-system-x86_64',
                                           'qemu-system-aarch64')
    dev = qemutest.device_memfd('iommu=smmuv3\nname=norill\nsmmu_idr3=0\n')
    try:
        r = subprocess.run([qemu, '-M', 'virt', '-accel', 'qtest',
                            '-display', 'none', '-nodefaults',
                            '-object', 'iommufd,id=iommufd0',
                            '-device', 'arm-smmuv3,primary-bus=pcie.0,'
                            'id=smmu0,accel=on',
                            '-device', 'vfio-pci,iommufd=iommufd0,fd=%d,'
                            'bus=pcie.0,addr=3' % dev],
                           env=env, pass_fds=[dev], capture_output=True,
                           text=True, timeout=60)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, 'QEMU started (still running after 60 s)'
    finally:
        os.close(dev)
    t.ok(rc == 1 and 'ril=off' in err,
         'cold-plugged device, host SMMU without RIL: QEMU refuses to '
         'start, naming ril=off (rc %s): %s' % (rc, err.strip()))
    # QEMU exits at once (error_fatal): the kernel frees what is left when
    # the process closes /dev/iommu, as it does for any QEMU start failure.
    rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
    t.ok(rep.get('ioctl.VIOMMU_ALLOC', 0) == 0,
         'cold plug refused before a host vIOMMU was allocated '
         '(VIOMMU_ALLOC calls: %s)' % rep.get('ioctl.VIOMMU_ALLOC', 0))


def main():
    t = qemutest.Tap()
    with tempfile.TemporaryDirectory(prefix='arm-faults-') as tmp:
        for spec, step, words in FAULTS:
            try:
                case(t, tmp, spec, step, words)
            except qemutest.QemuError as e:
                t.ok(False, 'fail %s: %s' % (spec, e))
        cold_plug_refused(t, tmp)
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
