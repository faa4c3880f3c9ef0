#!/usr/bin/python3
"""Boot the demo guest (scripts/guest-build.sh) on the patched QEMU with a
simulated passthrough device, run the simdma workload, and collect what
happened on both sides.

  guest-run.py [--arch amd64|arm64] [--mode none|shadow|nested]
               [--iterations N] [--json]

Modes (amd64: q35 + intel-iommu; arm64: virt + arm-smmuv3):
  none    no vIOMMU: DMA addresses are guest physical addresses
  shadow  amd64 only, intel-iommu caching-mode=on: QEMU mirrors every guest
          map/unmap into the host with IOAS_MAP/IOAS_UNMAP
  nested  the guest's stage-1 table is nested on VFIO's stage 2 and QEMU
          forwards invalidations: intel-iommu x-scalable-mode=on,x-flts=on,
          or arm-smmuv3 accel=on on pcie.0
"""

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402

VIOMMU = {
    'none': [],
    # Shadowed IOVAs are mapped into the host's default domain, which Linux
    # 7.2 makes first-stage (47-bit aperture) on a VT-d with both stages:
    # aw-bits=48 is refused there (vtd_check_hiod), 39 fits.
    'shadow': ['-device', 'intel-iommu,intremap=on,caching-mode=on,'
               'aw-bits=39'],
    'nested': ['-device', 'intel-iommu,intremap=on,caching-mode=on,'
               'x-scalable-mode=on,x-flts=on'],
}
CMDLINE = {
    'none': '',
    'shadow': 'intel_iommu=on iommu.strict=1',
    'nested': 'intel_iommu=on,sm_on iommu.strict=1',
}


def jdev(**props):
    return json.dumps(props, separators=(',', ':'))


def machine_args(arch, mode, fd, guest, append, smmu_props=None):
    """QEMU arguments for the guest.  On arm64 every -device is JSON:
    QEMU creates JSON devices after key=value ones, and the vSMMU must
    exist before the devices on its bus (libvirt writes JSON too)."""
    if arch == 'amd64':
        return ['-M', 'q35,kernel-irqchip=split', '-m', '512M',
                '-accel', 'tcg', '-serial', 'stdio',
                '-kernel', str(guest / 'vmlinuz'),
                '-initrd', str(guest / 'initrd.gz'),
                '-append', 'console=ttyS0 ' + append] + VIOMMU[mode] + [
            '-object', 'iommufd,id=iommufd0',
            '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1',
            '-device', 'vfio-pci,id=pt0,iommufd=iommufd0,fd=%d,bus=rp0'
            % fd]
    devs = []
    if mode == 'nested':
        devs.append(jdev(driver='arm-smmuv3', id='smmu0',
                         **{'primary-bus': 'pcie.0', 'accel': True},
                         **(smmu_props or {})))
    elif mode != 'none':
        sys.exit('guest-run: mode %s is not available on arm64' % mode)
    devs += [jdev(driver='pcie-root-port', id='rp0', bus='pcie.0',
                  chassis=1),
             jdev(driver='vfio-pci', id='pt0', iommufd='iommufd0',
                  fd=str(fd), bus='rp0')]
    args = ['-M', 'virt,gic-version=3', '-cpu', 'max', '-m', '512M',
            '-accel', 'tcg', '-serial', 'stdio',
            '-kernel', str(guest / 'vmlinuz'),
            '-initrd', str(guest / 'initrd.gz'),
            '-append', 'console=ttyAMA0 ' + append,
            '-object', 'iommufd,id=iommufd0']
    for d in devs:
        args += ['-device', d]
    return args


def run(mode, iterations, timeout=900, arch='amd64', sim_fail=None,
        extra_append='', smmu_props=None):
    guest = TOP / 'build' / ('guest' if arch == 'amd64' else 'guest-arm64')
    for f in ('vmlinuz', 'initrd.gz'):
        if not (guest / f).exists():
            sys.exit('guest-run: %s missing; run scripts/guest-build.sh'
                     % (guest / f))
    with tempfile.TemporaryDirectory(prefix='guest-') as tmp:
        # on SMMUv3 a physical StreamID other than the guest's (0x100), so
        # that event records show the host replaced it
        fd = qemutest.device_memfd('iommu=vtd\nname=demo\n'
                                   if arch == 'amd64' else
                                   'iommu=smmuv3\nname=demo\nsid=0x42\n')
        env = dict(os.environ)
        env['LD_PRELOAD'] = qemutest.default_sim_lib()
        env['IOMMUFD_SIM_REPORT'] = os.path.join(tmp, 'report')
        env['IOMMUFD_SIM_LOG'] = os.path.join(tmp, 'log')
        if sim_fail:
            # the simulator fails a host call, see sim/README.md
            env['IOMMUFD_SIM_FAIL'] = sim_fail
        append = ('quiet panic=-1 %s simdma.iterations=%d %s'
                  % (CMDLINE[mode] if arch == 'amd64' else
                     'iommu.strict=1', iterations, extra_append)).rstrip()
        args = machine_args(arch, mode, fd, guest, append, smmu_props)
        start = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        qemu = qemutest.default_qemu()
        if arch == 'arm64':
            qemu = qemu.replace('qemu-system-x86_64', 'qemu-system-aarch64')
        q = qemutest.Qemu(args, qemu=qemu, env=env, pass_fds=[fd],
                          qtest=False)
        rc, unplugged = 'error', False
        try:
            q.start()
            q.wait_output('guest: done', timeout)
            # the guest's pciehp/ACPI hotplug driver completes the unplug
            q.qmp_cmd('device_del', id='pt0')
            q.wait_event('DEVICE_DELETED', timeout=60,
                         match=lambda e: e['data'].get('device') == 'pt0')
            unplugged = True
        except qemutest.QemuError as e:
            print('guest-run: %s' % e, file=sys.stderr)
        finally:
            rc = q.quit()
            out = q.stderr()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        os.close(fd)
        wall = time.monotonic() - start
        try:
            rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
        except OSError:
            rep = {}
        try:
            with open(env['IOMMUFD_SIM_LOG']) as f:
                log = f.read().splitlines()
        except OSError:
            log = []
    res = {'mode': mode, 'arch': arch, 'rc': rc, 'unplugged': unplugged,
           'wall_s': round(wall, 1),
           'qemu_cpu_s': round((after.ru_utime - before.ru_utime) +
                               (after.ru_stime - before.ru_stime), 2),
           'console': out, 'report': rep, 'log': log}
    for line in out.splitlines():
        m = re.search(r'simdma: (result|device|stray) (.*)', line)
        if m:
            for k, v in re.findall(r'(\w+)=(0x[0-9a-f]+|\d+)', m.group(2)):
                res[(m.group(1) + '_' + k) if m.group(1) == 'stray' else k] = \
                    int(v, 0)
    # data_type 1: VTD_S1; 2: ARM_SMMUV3 (vSTEs, incl. abort/bypass)
    res['nested_hwpts'] = sum(1 for line in log
                              if line.startswith('iommufd HWPT_ALLOC') and
                              re.search(r'data_type=0x[12] ', line) and
                              line.endswith('-> 0'))
    return res


def summary(r):
    rep = r['report']
    lines = [
        '%s mode %s: QEMU exit %s, %.1f s wall, %.2f s QEMU CPU, device %s'
        % (r['arch'], r['mode'], r['rc'], r['wall_s'], r['qemu_cpu_s'],
           'hot-unplugged' if r['unplugged'] else 'NOT unplugged'),
        '  guest: %s cycles, %s mismatches, %s faults, %s timeouts, '
        '%s ops/s' % (r.get('cycles', '?'), r.get('mismatches', '?'),
                      r.get('faults', '?'), r.get('timeouts', '?'),
                      r.get('ops_per_s', '?')),
        '  host: %d IOAS_MAP, %d IOAS_UNMAP, %d HWPT_INVALIDATE calls with '
        '%d entries, %d nested HWPTs, IOTLB %d hits / %d misses, '
        '%d host objects left'
        % (rep.get('ioctl.IOAS_MAP', 0), rep.get('ioctl.IOAS_UNMAP', 0),
           rep.get('inv.calls', 0), rep.get('inv.entries', 0),
           r['nested_hwpts'], rep.get('iotlb.hits', 0),
           rep.get('iotlb.misses', 0), rep.get('live.all', -1)),
    ]
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--arch', choices=['amd64', 'arm64'], default='amd64')
    ap.add_argument('--mode', choices=sorted(VIOMMU), default='nested')
    ap.add_argument('--iterations', type=int, default=10000)
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--console', action='store_true',
                    help='print the guest console')
    a = ap.parse_args()
    r = run(a.mode, a.iterations, arch=a.arch)
    if a.console:
        print(r['console'])
    if a.json:
        print(json.dumps({k: v for k, v in r.items() if k != 'console'}))
    else:
        print(summary(r))
    ok = (r['rc'] == 0 and r['unplugged'] and
          r['report'].get('live.all') == 0 and
          r.get('cycles') == a.iterations and
          r.get('mismatches') == 0 and r.get('faults') == 0 and
          r.get('timeouts') == 0)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
