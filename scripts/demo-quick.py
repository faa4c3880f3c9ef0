#!/usr/bin/python3
"""make demo-quick: the patched QEMU with a simulated passthrough device.

Starts q35 with `-object iommufd -device vfio-pci,fd=N` where the VFIO
device and /dev/iommu are iommufd-sim (LD_PRELOAD), then plays guest and
firmware through qtest: programs the device, runs DMA into guest RAM and
checks it, hot-unplugs it, and tells in plain words what QEMU asked of the
"host" along the way.
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests' / 'lib'))
import qemutest  # noqa: E402
import simdev as sd  # noqa: E402


def say(msg=''):
    print(msg, flush=True)


def host_view(log):
    """Summarise the simulator log: what QEMU did on the host."""
    def ok(op):
        return [sd.log_fields(line) for line in log
                if line.startswith('iommufd ' + op + ' ') and
                line.endswith('-> 0')]
    maps, unmaps = ok('IOAS_MAP'), ok('IOAS_UNMAP')
    seen_info = False
    hwpts = [sd.log_fields(line) for line in log
             if line.startswith('iommufd HWPT_ALLOC') and line.endswith('-> 0')]
    for line in log:
        if line.startswith('vfio BIND'):
            say('   - bound the VFIO device to the iommufd context')
        elif line.startswith('iommufd GET_HW_INFO') and line.endswith('-> 0'):
            f = sd.log_fields(line)
            kind = {1: 'Intel VT-d', 2: 'ARM SMMUv3'}.get(
                f.get('out_data_type'), 'unknown')
            if not seen_info:
                say('   - asked the host IOMMU what it is: %s' % kind)
            else:
                say('   - realized the host IOMMU device (its capabilities '
                    'are kept for a vIOMMU)')
            seen_info = True
        elif line.startswith('iommufd IOAS_ALLOC') and line.endswith('-> 0'):
            say('   - created an I/O address space (IOAS %d)'
                % sd.log_fields(line)['out_ioas_id'])
        elif line.startswith('vfio ATTACH(') and 'pt_id' in line:
            say('   - attached the device to HWPT %d'
                % sd.log_fields(line)['pt_id'])
    for f in hwpts:
        say('   - HWPT %d: %s' % (f['out_hwpt_id'],
            'nesting parent (stage 2 of nested translation)'
            if f['flags'] & 1 else 'plain stage-2 domain (no vIOMMU)'))
    total = (sum(f.get('length', 0) for f in maps) -
             sum(f.get('length', 0) for f in unmaps))
    say('   - mapped guest memory for DMA: %d MiB in %d map call(s), IOVA = '
        'guest physical address' % (total >> 20, len(maps)))


def main():
    qemu, lib = qemutest.default_qemu(), qemutest.default_sim_lib()
    for path in (qemu, lib):
        if not os.access(path, os.R_OK):
            sys.exit('demo: %s is missing; run make first' % path)
    say('Nested vIOMMU series: demo with a simulated passthrough device')
    say('QEMU: %s' % qemu)
    say('host: iommufd-sim (%s), a stand-in for /dev/iommu and a VFIO '
        'device' % lib)
    say()
    with tempfile.TemporaryDirectory(prefix='demo-') as tmp:
        env = sd.env_for(tmp, 'demo')
        fd = qemutest.device_memfd(sd.DEV_CFG)
        args = sd.common_args(tmp) + [
            '-object', 'iommufd,id=iommufd0',
            '-device', 'vfio-pci,id=pt0,bus=rp0,iommufd=iommufd0,fd=%d' % fd]
        say('1. Starting q35 with -object iommufd -device vfio-pci,fd=%d' % fd)
        q = qemutest.Qemu(args, env=env, pass_fds=[fd]).start()
        say('   QEMU realized the device. What it asked of the host:')
        host_view(sd.read_log(env))
        say()
        say('2. Programming the device as firmware and a guest driver would')
        sd.setup_bridge(q)
        ids = q.pci_read(sd.DEV, 0, 4)
        say('   guest sees PCI device %04x:%04x behind the root port'
            % (ids & 0xffff, ids >> 16))
        q.pci_write(sd.DEV, 0x10, sd.BAR)
        q.pci_write(sd.DEV, 0x04, 0x0006, 2)
        say()
        say('3. DMA into guest memory')
        st = sd.dma(q, sd.OP_FILL, 0, 0x100000, 0x10000, 0x600df00d)
        ok1 = (st == sd.ST_DONE and
               q.memread(0x100000, 0x10000) ==
               (0x600df00d).to_bytes(4, 'little') * 0x4000)
        say('   fill 64 KiB at guest address 0x100000: %s'
            % ('data correct' if ok1 else 'WRONG (status 0x%x)' % st))
        msg = b'hello from a simulated passthrough device'
        q.memwrite(0x200000, msg)
        st = sd.dma(q, sd.OP_COPY, 0x200000, 0x300000, len(msg))
        ok2 = st == sd.ST_DONE and q.memread(0x300000, len(msg)) == msg
        say('   copy %d bytes 0x200000 -> 0x300000: %s'
            % (len(msg), 'data correct' if ok2 else 'WRONG'))
        st = sd.dma(q, sd.OP_FILL, 0, 0x7f0000000000, 16)
        ok3 = bool(st & sd.ST_ERROR)
        say('   DMA outside guest RAM: %s'
            % ('blocked by the IOMMU (fault)' if ok3 else 'NOT blocked'))
        say()
        say('4. Hot-unplugging the device and quitting')
        q.qmp_cmd('device_del', id='pt0')
        sd.slot_ctl(q, power_on=False)
        q.wait_event('DEVICE_DELETED', timeout=10)
        rc = q.quit()
        os.close(fd)
        rep = qemutest.read_report(env['IOMMUFD_SIM_REPORT'])
        say('   QEMU exit status %s; host ioctls: %d; host objects left: %d'
            % (rc, rep.get('ioctl.total', 0), rep.get('live.all', -1)))
        say()
        good = ok1 and ok2 and ok3 and rc == 0 and rep.get('live.all') == 0
        say('Result: %s' % ('OK' if good else 'FAILED'))
        return 0 if good else 1


if __name__ == '__main__':
    sys.exit(main())
