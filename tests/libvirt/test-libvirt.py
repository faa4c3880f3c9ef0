#!/usr/bin/python3
"""libvirt runs the patched QEMU with nested vIOMMUs (docs/libvirt.md).

Transient domains (virsh create) on the system libvirt daemon, with the
patched QEMU as <emulator> through tests/libvirt/qemu-sim-wrapper, which
creates the simulated passthrough device (libvirt closes fds it did not
open) and preloads the simulator:

  amd64: q35 with <iommu model='intel'> and <qemu:override> turning on
         x-scalable-mode and fsts on libvirt's intel-iommu device;
  arm64: virt with -device arm-smmuv3,primary-bus=pcie.0,accel=on in
         <qemu:commandline> (libvirt 9.0 has no accel SMMU of its own) and
         <qemu:capabilities> dropping libvirt 9.0's -no-acpi, which QEMU
         10.0 no longer has; with a libvirt whose schema has <iommu>
         <driver pciBus=... accel=...> (12.9), libvirt's own SMMUs
         instead and no <qemu:capabilities> (12.9 writes acpi=off): two
         <iommu model='smmuv3'>, on pcie.0 and on a pxb-pcie, with accel,
         ats, ril, ssidsize and oas; the test checks the two -device
         arm-smmuv3 libvirt writes, the SMMUs the guest probes and QEMU's
         properties, and hot-plugs a second simulated device behind the
         pxb-pcie's root port, which must get a vIOMMU of its own (the
         -kernel guest does not see devices behind a pxb-pcie, so its DMA
         runs behind pcie.0's SMMU only).

Each boots the demo guest (scripts/guest-build.sh), whose simdma driver
must do its DMA cycles through a nested domain without a wrong byte; then
the device is hot-unplugged (device_del), a new simulated device is passed
with virsh qemu-monitor-command --pass-fds + getfd and hot-plugged
(device_add), the guest's driver must run its DMA again on it, and after
a second unplug and the end of QEMU the simulator's report must show no
host object left and one vIOMMU per plug of an SMMU's first device.
Prints TAP.

The daemons (libvirtd, virtlogd) are started only if they are not
running, and the ones started here are stopped at the end.  QEMU runs as
root through a per-domain static DAC label (no qemu.conf change), TCG.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402

URI = 'qemu:///system'
CYCLES = 200
WRAPPER = TOP / 'tests' / 'libvirt' / 'qemu-sim-wrapper'
RUN = '/run/libvirt'
DAEMONS = [('virtlogd', RUN + '/virtlogd-sock', '/run/virtlogd.pid'),
           ('libvirtd', RUN + '/libvirt-sock', '/run/libvirtd.pid')]
QEMU_USER = 'libvirt-qemu'
DOMLOG = '/var/log/libvirt/qemu/%s.log'
RNG = '/usr/share/libvirt/schemas/domaincommon.rng'

ARCHES = {
    'amd64': {
        'qemu': qemutest.default_qemu(),
        'guest': TOP / 'build' / 'guest',
        'sim': 'iommu=vtd',
        'domain_kind': 2,               # VT-d nested (guest first stage)
        'what': 'q35, <iommu model=intel> + <qemu:override> '
                'x-scalable-mode/fsts',
    },
    'arm64': {
        'qemu': qemutest.default_qemu().replace('qemu-system-x86_64',
                                                'qemu-system-aarch64'),
        'guest': TOP / 'build' / 'guest-arm64',
        'sim': 'iommu=smmuv3',
        'domain_kind': 5,               # SMMUv3 nested (guest STE/CD)
        'what': 'virt, -device arm-smmuv3,primary-bus=pcie.0,accel=on',
    },
}


def virsh(*args, pass_fds=(), timeout=120):
    try:
        return subprocess.run(['virsh', '-c', URI] + list(args),
                              pass_fds=pass_fds, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, -1, '', 'timeout')


def monitor(dom, cmd, args=None, pass_fds=()):
    """A QMP command through libvirt; returns (ok, reply or error)."""
    msg = {'execute': cmd}
    if args:
        msg['arguments'] = args
    extra = ['--pass-fds', ','.join(map(str, pass_fds))] if pass_fds else []
    r = virsh('qemu-monitor-command', dom, *extra, json.dumps(msg),
              pass_fds=pass_fds)
    if r.returncode != 0:
        return False, r.stderr.strip()
    try:
        reply = json.loads(r.stdout)
    except ValueError:
        return False, r.stdout
    return 'return' in reply, reply


def sock_alive(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait(cond, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def start_daemons(t):
    """Start virtlogd and libvirtd unless they run; returns the pids of
    the ones started here."""
    started = []
    for name, sock, pidfile in DAEMONS:
        if sock_alive(sock):
            t.diag('%s already running, used as is' % name)
            continue
        r = subprocess.run([name, '-d'], capture_output=True, text=True)
        up = r.returncode == 0 and wait(lambda: sock_alive(sock), 30)
        pid = None
        try:
            pid = int(Path(pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        if pid:
            started.append((name, pid))
        if not up:
            t.diag('%s -d: rc %s %s' % (name, r.returncode, r.stderr))
            return started, False
        t.diag('started %s (pid %s)' % (name, pid))
    return started, True


def stop_daemons(started):
    ok = True
    for name, pid in reversed(started):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        if not wait(lambda: not os.path.exists('/proc/%d' % pid), 30):
            ok = False
    return ok


def emulator_script(arch, qemu):
    """build/libvirt/<qemu name>: the <emulator>.  A stable path keeps
    libvirt's capability cache; the real QEMU's mtime in the script makes
    a rebuilt QEMU a changed emulator (new ctime: probed again)."""
    d = TOP / 'build' / 'libvirt'
    d.mkdir(parents=True, exist_ok=True)
    path = d / os.path.basename(qemu)
    st = os.stat(qemu)
    text = ('#!/bin/sh\n# generated by tests/libvirt/test-libvirt.py; '
            'QEMU mtime %d size %d\nexec /usr/bin/python3 %s '
            '--probe-kvm-as-libvirt --qemu %s --sim %s -- "$@"\n'
            % (st.st_mtime, st.st_size, WRAPPER, qemu,
               qemutest.default_sim_lib()))
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix('.tmp')
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.rename(path)
    return str(path)


def accessible_as_qemu_user(paths):
    """libvirt probes the emulator's capabilities as its qemu user."""
    bad = []
    for p in paths:
        r = subprocess.run(['runuser', '-u', QEMU_USER, '--', 'test', '-r',
                            str(p)], capture_output=True)
        if r.returncode != 0:
            bad.append(str(p))
    return bad


def secmodels():
    r = virsh('capabilities')
    return re.findall(r'<secmodel>\s*<model>([^<]+)</model>', r.stdout)


# libvirt 12.9, native SMMUs: two root complexes, pcie.0 (root ports 1
# and 2) and a pxb-pcie (controller 3, root bus 128, root port 4), one
# <iommu model='smmuv3'> each, every <driver> attribute 12.9 has for the
# accel SMMU set, with values the simulated host SMMU backs (sim/README.md:
# SSID 20 bits, OAS 44, RIL; no ATS, so ats='on' would be refused at plug:
# "the host SMMU of ... has no ATS (IDR0.ATS); set ats=off").  The two
# differ so that the test sees which values went to which SMMU.
PXB_INDEX, PXB_BUSNR, PXB_PORT = 3, 128, 4
NATIVE_SMMUS = [
    {'pciBus': 0, 'bus': 'pcie.0', 'ats': 'off', 'ril': 'on',
     'ssidsize': 20, 'oas': 44},
    {'pciBus': PXB_INDEX, 'bus': 'pci.%d' % PXB_INDEX, 'ats': 'off',
     'ril': 'off', 'ssidsize': 16, 'oas': 40},
]


def native_iommu_xml():
    return '\n    '.join(
        "<iommu model='smmuv3'>\n      <driver pciBus='%(pciBus)d' "
        "accel='on' ats='%(ats)s' ril='%(ril)s' ssidsize='%(ssidsize)d' "
        "oas='%(oas)d'/>\n    </iommu>" % s for s in NATIVE_SMMUS)


def native_smmu_devices():
    """The -device arm-smmuv3 each <iommu> must become (12.9's
    qemuBuildPCINestedSmmuv3DevProps(): accel a JSON boolean, ats and ril
    strings, ssidsize and oas numbers as strings)."""
    return [{'driver': 'arm-smmuv3', 'primary-bus': s['bus'],
             'id': 'iommu%d' % i, 'accel': True, 'ats': s['ats'],
             'ril': s['ril'], 'ssidsize': str(s['ssidsize']),
             'oas': str(s['oas'])} for i, s in enumerate(NATIVE_SMMUS)]


def domain_xml(arch, name, emulator, work, models, native_smmu=False):
    a = ARCHES[arch]
    g = a['guest']
    env = {'IOMMUFD_SIM_DEVS': a['sim'] + ';name=libvirt0',
           'IOMMUFD_SIM_REPORT': str(work / (arch + '.report')),
           'IOMMUFD_SIM_LOG': str(work / (arch + '.sim.log'))}
    vfio = json.dumps({'driver': 'vfio-pci', 'id': 'pt0',
                       'iommufd': 'iommufd0', 'fd': '@DEV0@',
                       'bus': 'pci.1', 'addr': '0x0'},
                      separators=(',', ':'))
    args = ['-object', 'iommufd,id=iommufd0']
    if arch == 'amd64':
        os_xml = ("<type arch='x86_64' machine='q35'>hvm</type>")
        cmdline = ('console=ttyS0 intel_iommu=on,sm_on')
        features = "<acpi/><ioapic driver='qemu'/>"
        cpu = ''
        iommu = ("<iommu model='intel'><driver intremap='on' "
                 "caching_mode='on'/></iommu>")
        override = """  <qemu:override>
    <qemu:device alias='iommu0'>
      <qemu:frontend>
        <qemu:property name='x-scalable-mode' type='bool' value='true'/>
        <qemu:property name='fsts' type='bool' value='true'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
"""
        caps = ''
    else:
        os_xml = "<type arch='aarch64' machine='virt'>hvm</type>"
        cmdline = 'console=ttyAMA0'
        # no <acpi/>: libvirt 9.0 wants UEFI for it on aarch64
        features = "<gic version='3'/>"
        cpu = "<cpu mode='custom' match='exact'><model>max</model></cpu>"
        if native_smmu:
            # libvirt 12.9: one -device arm-smmuv3 per <iommu> with pciBus
            iommu = native_iommu_xml()
        else:
            iommu = ''
            args += ['-device', json.dumps(
                {'driver': 'arm-smmuv3', 'id': 'smmu0',
                 'primary-bus': 'pcie.0', 'accel': True},
                separators=(',', ':'))]
        override = ''
        # libvirt 9.0 writes -no-acpi, which QEMU 10.0 no longer has; 11.3
        # and 12.9 write -machine ...,acpi=off instead and need nothing
        caps = '' if native_smmu else """  <qemu:capabilities>
    <qemu:del capability='no-acpi'/>
  </qemu:capabilities>
"""
    args += ['-device', vfio]
    controllers = ''
    if native_smmu:
        # pci.4 stays empty until the test hot-plugs a device into it
        controllers = (
            "\n    <controller type='pci' model='pcie-expander-bus' "
            "index='%d'>\n      <target busNr='%d'/>\n    </controller>"
            "\n    <controller type='pci' model='pcie-root-port' "
            "index='%d'>\n      <address type='pci' bus='%d' slot='0'/>"
            "\n    </controller>" % (PXB_INDEX, PXB_BUSNR, PXB_PORT,
                                      PXB_INDEX))
    cmdline += ' panic=-1 loglevel=7 iommu.strict=1 simdma.iterations=%d' \
        % CYCLES
    seclabels = ("<seclabel type='static' model='dac' relabel='no'>"
                 "<label>+0:+0</label></seclabel>")
    for m in models:
        if m not in ('dac', 'none'):
            seclabels += "\n  <seclabel type='none' model='%s'/>" % m
    qargs = ''.join("    <qemu:arg value='%s'/>\n" % v for v in args)
    qenv = ''.join("    <qemu:env name='%s' value='%s'/>\n" % kv
                   for kv in env.items())
    return f"""<domain type='qemu'
        xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    {os_xml}
    <kernel>{g / 'vmlinuz'}</kernel>
    <initrd>{g / 'initrd.gz'}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features>{features}</features>
  {cpu}
  <on_crash>destroy</on_crash>
  {seclabels}
  <devices>
    <emulator>{emulator}</emulator>
    <controller type='pci' model='pcie-root'/>
    <controller type='pci' model='pcie-root-port' index='1'/>
    <controller type='pci' model='pcie-root-port' index='2'/>{controllers}
    <controller type='usb' model='none'/>
    {iommu}
    <serial type='file'>
      <source path='{work / (arch + '.console')}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
{qargs}{qenv}  </qemu:commandline>
{override}{caps}</domain>
"""


RESULT_RE = re.compile(r'^\[[^\]]*\] simdma: (result|device) (.*)$', re.M)


def results(console):
    """The guest driver's runs, one dict per probed device (the kernel's
    own lines, not the init script's copies of them)."""
    try:
        text = Path(console).read_text(errors='replace').replace('\r', '')
    except OSError:
        return []
    runs = []
    for kind, rest in RESULT_RE.findall(text):
        vals = {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', rest)}
        if kind == 'result':
            runs.append(vals)
        elif runs:
            runs[-1].update(vals)
    return runs


def dma_ok(run, kind):
    return (run.get('cycles') == CYCLES and run.get('mismatches') == 0 and
            run.get('faults') == 0 and run.get('timeouts') == 0 and
            run.get('map_errors') == 0 and run.get('domain') == kind)


def dma_desc(run):
    return ', '.join('%s %s' % (k, run.get(k, '?'))
                     for k in ('cycles', 'mismatches', 'faults', 'timeouts',
                               'domain'))


def peripheral(dom):
    ok, reply = monitor(dom, 'qom-list', {'path': '/machine/peripheral'})
    if not ok:
        return None
    return [p['name'] for p in reply['return']]


def released(simlog, simname):
    try:
        text = Path(simlog).read_text()
    except OSError:
        return False
    return ('device %s released\n' % simname) in text


def unplug(dom, dev, simlog, simname, timeout=120):
    """device_del, then wait until QEMU has removed the device and closed
    its host fd: vfio-pci lets the host device go only when the device
    object is finalized, which can come after it left the QOM tree."""
    ok, reply = monitor(dom, 'device_del', {'id': dev})
    if not ok:
        return False, 'device_del: %s' % reply
    if not wait(lambda: dev not in (peripheral(dom) or [dev]), timeout):
        return False, 'device_del %s: still there after %ds' % (dev, timeout)
    if not wait(lambda: released(simlog, simname), 30):
        return False, ('device_del %s: removed, but the host device %s was '
                       'not released within 30 s' % (dev, simname))
    return True, 'device_del %s, gone, host device %s released' % (dev,
                                                                   simname)


def hotplug(dom, cfg, dev='pt1', bus='pci.2'):
    fd = qemutest.device_memfd(cfg, name='iommufd-sim-vfio-hotplug')
    try:
        ok, reply = monitor(dom, 'getfd', {'fdname': 'hot' + dev},
                            pass_fds=[fd])
    finally:
        os.close(fd)
    if not ok:
        return False, 'getfd: %s' % reply
    ok, reply = monitor(dom, 'device_add',
                        {'driver': 'vfio-pci', 'id': dev,
                         'iommufd': 'iommufd0', 'fd': 'hot' + dev,
                         'bus': bus, 'addr': '0x0'})
    return ok, 'device_add: %s' % reply


def qom_get(dom, path, prop):
    ok, reply = monitor(dom, 'qom-get', {'path': path, 'property': prop})
    return reply['return'] if ok else None


def cmdline_devices(text):
    """The -device JSON objects of libvirt's QEMU command lines in a
    domain log, one "-device '{...}' \\" line each."""
    devs = []
    for m in re.finditer(r"^-device '(\{.*\})'(?: \\)?$", text, re.M):
        try:
            devs.append(json.loads(m.group(1)))
        except ValueError:
            pass
    return devs


def check_native_cmdline(text):
    """(ok, what): libvirt 12.9 wrote one -device arm-smmuv3 per <iommu>,
    each with the primary-bus of its root complex and the XML's values,
    the pxb-pcie and its root port, and no -no-acpi or iommu=smmuv3."""
    devs = cmdline_devices(text)
    smmus = [d for d in devs if d.get('driver') == 'arm-smmuv3']
    pxb = [d for d in devs if d.get('driver') == 'pxb-pcie']
    port = [d for d in devs if d.get('id') == 'pci.%d' % PXB_PORT]
    machine = re.findall(r'^-machine (\S+)', text, re.M)
    bad = []
    if smmus != native_smmu_devices():
        bad.append('arm-smmuv3 devices %s' % smmus)
    if not (len(pxb) == 1 and pxb[0].get('id') == 'pci.%d' % PXB_INDEX and
            pxb[0].get('bus_nr') == PXB_BUSNR and
            pxb[0].get('bus') == 'pcie.0'):
        bad.append('pxb-pcie %s' % pxb)
    if not (len(port) == 1 and port[0].get('driver') == 'pcie-root-port' and
            port[0].get('bus') == 'pci.%d' % PXB_INDEX):
        bad.append('root port %s' % port)
    if len(machine) != 1 or 'iommu=' in machine[0] or \
            'acpi=off' not in machine[0].split(','):
        bad.append('-machine %s' % machine)
    if re.search(r'^-no-acpi', text, re.M):
        bad.append('-no-acpi')
    if bad:
        return False, 'wrong: ' + '; '.join(bad)
    return True, ('%s; pxb-pcie bus_nr %d, root port on pci.%d; -machine '
                  '...,acpi=off, no -no-acpi'
                  % (' '.join(json.dumps(d, separators=(',', ':'))
                              for d in smmus), PXB_BUSNR, PXB_INDEX))


SMMU_PROBE_RE = re.compile(r'\] arm-smmu-v3 (\S+): ias \d+-bit, oas (\d+)-bit '
                           r'\(features 0x([0-9a-f]+)\)')
SMMU_FEAT_RANGE_INV = 1 << 15           # Linux's ARM_SMMU_FEAT_RANGE_INV


def guest_smmus(console):
    """[(name, oas bits, RIL)] of the SMMUs the guest's driver probed."""
    try:
        text = Path(console).read_text(errors='replace')
    except OSError:
        return []
    seen = {}
    for name, oas, feat in SMMU_PROBE_RE.findall(text):
        seen[name] = (name, int(oas), bool(int(feat, 16) &
                                           SMMU_FEAT_RANGE_INV))
    return sorted(seen.values())


def check_qemu_smmus(dom):
    """(ok, what): the properties of QEMU's two SMMUs, as libvirt set them."""
    bad, got = [], []
    for i, want in enumerate(NATIVE_SMMUS):
        path = '/machine/peripheral/iommu%d' % i
        bus = qom_get(dom, path, 'primary-bus')
        vals = {p: qom_get(dom, path, p)
                for p in ('accel', 'ats', 'ril', 'ssidsize', 'oas')}
        got.append('iommu%d primary-bus %s %s' % (
            i, bus, ' '.join('%s=%s' % kv for kv in vals.items())))
        onoff = {'on': ('on', True), 'off': ('off', False)}
        if not (isinstance(bus, str) and bus.endswith('/' + want['bus']) and
                vals['accel'] is True and
                vals['ats'] in onoff[want['ats']] and
                vals['ril'] in onoff[want['ril']] and
                str(vals['ssidsize']) == str(want['ssidsize']) and
                str(vals['oas']) == str(want['oas'])):
            bad.append(got[-1])
    return not bad, '; '.join(got)


def viommu_allocs(simlog):
    """{device name: [vIOMMU ids]}: each VIOMMU_ALLOC the simulator
    answered, counted for the device bound last before it (QEMU allocates
    an accel SMMU's vIOMMU when it plugs the SMMU's first device)."""
    try:
        lines = Path(simlog).read_text().splitlines()
    except OSError:
        return {}
    out, dev = {}, None
    for line in lines:
        m = re.match(r'vfio BIND\((\S+)\) -> 0$', line)
        if m:
            dev = m.group(1)
        m = re.match(r'iommufd VIOMMU_ALLOC .*out_viommu_id=(0x[0-9a-f]+) '
                     r'-> 0$', line)
        if m and dev:
            out.setdefault(dev, []).append(int(m.group(1), 16))
    return out


def nested_hwpts(simlog):
    try:
        lines = Path(simlog).read_text().splitlines()
    except OSError:
        return 0
    return sum(1 for line in lines
               if line.startswith('iommufd HWPT_ALLOC') and
               re.search(r'data_type=0x[12] ', line) and
               line.endswith('-> 0'))


def native_pxb(t, arch, name, console, simlog):
    """The pxb-pcie's SMMU: the guest probes both SMMUs with the values
    libvirt gave them, QEMU has them, and a simulated device hot-plugged
    into the pxb-pcie's root port gets a vIOMMU of its own.  The -kernel
    guest (device tree, no firmware) does not enumerate the pxb-pcie's
    root bus, only its host bridge function on pcie.0, so the slot stays
    powered off: QEMU plugs and unplugs the device without the guest,
    and the guest's DMA runs on pcie.0's SMMU only (docs/libvirt.md)."""
    smmus = guest_smmus(console)
    want = [(s['oas'], s['ril'] == 'on') for s in NATIVE_SMMUS]
    qok, qwhat = check_qemu_smmus(name)
    t.ok(qok and [s[1:] for s in smmus] == want,
         '%s: the guest probes two SMMUs (%s; oas and range invalidation '
         'as in the XML), QEMU has them: %s'
         % (arch, ', '.join('%s oas %d%s' % (n, o, ' RIL' if r else '')
                            for n, o, r in smmus) or 'none', qwhat))
    plugged, what = hotplug(name, ARCHES[arch]['sim'] + '\nname=libvirt2\n',
                            'pt2', 'pci.%d' % PXB_PORT)
    bus = qom_get(name, '/machine/peripheral/pt2', 'parent_bus')
    allocs = viommu_allocs(simlog)
    v0, v2 = allocs.get('libvirt0', []), allocs.get('libvirt2', [])
    t.ok(plugged and isinstance(bus, str) and
         bus.endswith('/pci.%d' % PXB_PORT) and len(v0) == 1 and
         len(v2) == 1 and v0 != v2 and not released(simlog, 'libvirt0'),
         '%s: hot-plug behind the pxb-pcie\'s root port pci.%d (%s; '
         'parent_bus %s): vIOMMU %s for it, pt0 on pcie.0 keeps vIOMMU %s, '
         'two at once, one per SMMU'
         % (arch, PXB_PORT, what, bus, v2 or 'none', v0 or 'none'))


def native_smmu():
    """Whether this libvirt writes -device arm-smmuv3 itself for
    <iommu model='smmuv3'><driver pciBus=... accel=.../> (12.9 does)."""
    try:
        rng = Path(RNG).read_text()
    except OSError:
        return False
    m = re.search(r'<define name="iommu">(.*?)</define>', rng, re.S)
    return bool(m and 'name="pciBus"' in m.group(1) and
                'name="accel"' in m.group(1))


def run_arch(t, arch, emulator, work, models, native=False):
    a = ARCHES[arch]
    name = 'nested-viommu-test-%s-%d' % (arch, os.getpid())
    xml = work / (arch + '.xml')
    xml.write_text(domain_xml(arch, name, emulator, work, models, native))
    what = a['what']
    if native:
        what = ("virt, two <iommu model='smmuv3'><driver pciBus=... "
                "accel='on' ats ril ssidsize oas/>, on pcie.0 and on a "
                "pxb-pcie; no <qemu:capabilities>")
    start = time.monotonic()
    r = virsh('create', str(xml), timeout=300)
    created = r.returncode == 0
    t.ok(created, '%s: virsh create (%s), %.0f s'
         % (arch, what, time.monotonic() - start))
    log = Path(DOMLOG % name)
    try:
        if created:
            run_domain(t, arch, name, work, log, start, native)
        else:
            t.diag(r.stderr)
            if log.exists():
                t.diag(log.read_text()[-3000:])
    finally:
        try:
            log.unlink()                # the domain log this run created
        except OSError:
            pass


def run_domain(t, arch, name, work, log, start, native=False):
    a = ARCHES[arch]
    console = work / (arch + '.console')
    try:
        logtext = log.read_text()
    except OSError:
        logtext = ''
    line = [x for x in logtext.splitlines()
            if '"intel-iommu"' in x or '"arm-smmuv3"' in x]
    t.diag('libvirt: %s' % (line[0].strip() if line else
                            '(no vIOMMU -device in the log)'))
    if native:
        ok, what = check_native_cmdline(logtext)
        t.ok(ok, '%s: libvirt 12.9 wrote, from its own XML: %s'
             % (arch, what))
    simlog = work / (arch + '.sim.log')
    gone2, what = False, 'not reached'
    gone3, what3 = not native, ''
    try:
        wait(lambda: len(results(console)) >= 1, 400, 1)
        runs = results(console)
        first = runs[0] if runs else {}
        t.ok(dma_ok(first, a['domain_kind']),
             '%s: boot + guest DMA through the nested vIOMMU (%s), %.0f s'
             % (arch, dma_desc(first), time.monotonic() - start))
        if native:
            native_pxb(t, arch, name, console, simlog)
        gone, what = unplug(name, 'pt0', simlog, 'libvirt0')
        t.ok(gone, '%s: hot-unplug through virsh qemu-monitor-command: %s'
             % (arch, what))
        plugged, what = hotplug(name, a['sim'] + '\nname=libvirt1\n')
        if plugged:
            wait(lambda: len(results(console)) >= 2, 180, 1)
        runs = results(console)
        second = runs[1] if len(runs) > 1 else {}
        t.ok(plugged and dma_ok(second, a['domain_kind']),
             '%s: hot-plug with --pass-fds/getfd/device_add, the guest '
             'driver\'s DMA on the new device (%s; %s)'
             % (arch, what, dma_desc(second)))
        gone2, what = unplug(name, 'pt1', simlog, 'libvirt1')
        if native:
            gone3, what3 = unplug(name, 'pt2', simlog, 'libvirt2')
    finally:
        d = virsh('destroy', '--graceful', name, timeout=120)
        if d.returncode != 0:
            t.diag('destroy --graceful: %s' % d.stderr)
            virsh('destroy', name)
    rep = {}
    try:
        rep = qemutest.read_report(str(work / (arch + '.report')))
    except OSError:
        pass
    hwpts = nested_hwpts(simlog)
    # arm64: one vIOMMU per plug of a first device on an SMMU, pt0, pt1
    # (and pt2); VT-d nesting has none
    viommus = 0 if arch == 'amd64' else 3 if native else 2
    if native:
        what += '; %s' % (what3 if gone3 else 'FAILED: ' + what3)
    t.ok(gone2 and gone3 and rep.get('live.all') == 0 and hwpts >= 2 and
         rep.get('inv.entries', 0) >= 2 * CYCLES and
         rep.get('ioctl.VIOMMU_ALLOC', 0) == viommus,
         '%s: second unplug (%s), %s host objects left at exit, %d nested '
         'HWPTs, %s invalidations forwarded, %s vIOMMUs allocated (%d '
         'expected), %.0f s in all'
         % (arch, what if gone2 else 'FAILED: ' + what,
            rep.get('live.all', '?'), hwpts, rep.get('inv.entries', '?'),
            rep.get('ioctl.VIOMMU_ALLOC', 0), viommus,
            time.monotonic() - start))
    if t.failed:
        try:
            t.diag(Path(console).read_text(errors='replace')[-3000:])
        except OSError:
            pass
        try:
            t.diag(log.read_text()[-2000:])
        except OSError:
            pass


def main():
    t = qemutest.Tap()
    missing = [p for p in ('virsh', 'libvirtd', 'virtlogd')
               if subprocess.run(['sh', '-c', 'command -v ' + p],
                                 capture_output=True).returncode]
    if not t.ok(not missing and os.geteuid() == 0,
                'libvirt installed (scripts/deps.sh), running as root (%s)'
                % (', '.join(missing) + ' missing' if missing else
                   'uid %d' % os.geteuid())):
        return t.done()
    need = [qemutest.default_sim_lib()]
    for a in ARCHES.values():
        need += [a['qemu'], a['guest'] / 'vmlinuz', a['guest'] / 'initrd.gz']
    absent = [str(p) for p in need if not os.path.exists(p)]
    bad = accessible_as_qemu_user([WRAPPER] + [a['qemu']
                                               for a in ARCHES.values()])
    if not t.ok(not absent and not bad,
                'QEMU, simulator and guests built; the emulator readable '
                'by %s, which libvirt probes it as%s'
                % (QEMU_USER, ': ' + ' '.join(absent + bad)
                   if absent or bad else '')):
        return t.done()

    started, up = start_daemons(t)
    try:
        reach = virsh('uri', timeout=60)
        r = virsh('version', timeout=60)
        lib = re.search(r'Using library: (libvirt \S+)', r.stdout)
        t.ok(up and reach.returncode == 0,
             'libvirt daemon reachable at %s (%s)'
             % (URI, lib.group(1) if lib else reach.stderr.strip()))
        if up:
            models = secmodels()
            native = native_smmu()
            with tempfile.TemporaryDirectory(prefix='libvirt-test-') as w:
                work = Path(w)
                for arch, a in ARCHES.items():
                    run_arch(t, arch, emulator_script(arch, a['qemu']),
                             work, models, native and arch == 'arm64')
    finally:
        stopped = stop_daemons(started)
        t.ok(stopped, 'daemons started by the test stopped (%s)'
             % (', '.join('%s %d' % s for s in started) or 'none started'))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
