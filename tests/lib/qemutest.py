"""Minimal QEMU driver for simulator tests: qtest + QMP over unix sockets.

stdlib only.  QEMU connects to two sockets we listen on (as libqtest does):
the qtest protocol socket and a QMP monitor.  The helpers speak the qtest
text protocol (readl/writel/readq/writeq/read/write/outl/inl ...), QMP
(commands, events, getfd with SCM_RIGHTS) and PCI config cycles through
the legacy 0xcf8/0xcfc ports.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import re
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_qemu():
    return os.environ.get('QEMU_SYSTEM_X86_64',
                          str(REPO_ROOT / 'build' / 'obj' /
                              'qemu-system-x86_64'))


def default_sim_lib():
    return os.environ.get('IOMMUFD_SIM_LIB',
                          str(REPO_ROOT / 'build' / 'sim' /
                              'libiommufd-sim.so'))


def device_memfd(config, name='iommufd-sim-vfio'):
    """A simulated VFIO device: a memfd holding key=value configuration,
    inheritable (no CLOEXEC) so it can be passed to QEMU."""
    fd = os.memfd_create(name, 0)
    os.write(fd, config.encode())
    os.set_inheritable(fd, True)
    return fd


def dummy_bios(directory, size=256 * 1024):
    """x86 machines refuse to start without a BIOS image even under qtest
    (no CPU runs, so the contents do not matter).  Returns the path."""
    path = os.path.join(directory, 'dummy-bios.bin')
    with open(path, 'wb') as f:
        f.write(b'\xf4' * size)                # hlt
    return path


def read_report(path):
    """Parse the simulator's exit report ("key value" lines)."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    out[parts[0]] = parts[1]
    return out


class QemuError(Exception):
    pass


class Qemu:
    def __init__(self, args, qemu=None, env=None, pass_fds=(), timeout=30,
                 qtest=True):
        self.qemu = qemu or default_qemu()
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.pass_fds = tuple(pass_fds)
        self.timeout = timeout
        self.use_qtest = qtest          # False: a real guest runs (TCG)
        self.dir = tempfile.mkdtemp(prefix='qemutest-')
        self.log_path = os.path.join(self.dir, 'qemu.log')
        self.events = []
        self.proc = None
        self._qt_buf = b''
        self._qmp_buf = b''

    # ---- lifecycle ----
    def _listen(self, name):
        path = os.path.join(self.dir, name)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        s.settimeout(self.timeout)
        return s, path

    def start(self):
        qmp_l, qmp_path = self._listen('qmp.sock')
        cmd = [self.qemu, '-display', 'none', '-nodefaults',
               '-chardev', 'socket,path=%s,id=qmp0' % qmp_path,
               '-mon', 'chardev=qmp0,mode=control']
        if self.use_qtest:
            qt_l, qt_path = self._listen('qtest.sock')
            cmd += ['-accel', 'qtest', '-qtest', 'unix:' + qt_path,
                    '-qtest-log', '/dev/null']
        cmd += self.args
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, env=self.env, pass_fds=self.pass_fds,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        try:
            if self.use_qtest:
                self.qt, _ = qt_l.accept()
                self.qt.settimeout(self.timeout)
            self.qmp, _ = qmp_l.accept()
        except socket.timeout:
            self.kill()
            raise QemuError('QEMU did not connect:\n' + self.stderr())
        finally:
            if self.use_qtest:
                qt_l.close()
            qmp_l.close()
        self.qmp.settimeout(self.timeout)
        self._qmp_recv()                        # greeting
        self.qmp_cmd('qmp_capabilities')
        return self

    def wait_output(self, text, timeout):
        """Wait until QEMU's stdout/stderr (e.g. a serial console on
        stdio) contains @text; returns the output so far."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.stderr()
            if text in out:
                return out
            if self.proc.poll() is not None:
                raise QemuError('QEMU exited (%s) before "%s":\n%s'
                                % (self.proc.returncode, text, out[-2000:]))
            if time.monotonic() > deadline:
                raise QemuError('timeout waiting for "%s"' % text)
            time.sleep(0.2)

    def stderr(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''

    def quit(self):
        """Clean exit through QMP; returns QEMU's exit status."""
        if self.proc and self.proc.poll() is None:
            try:
                self.qmp_cmd('quit')
            except (OSError, QemuError):
                pass
            try:
                self.proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.quit()
        self.log.close()

    # ---- qtest ----
    def qtest(self, line):
        self.qt.sendall((line + '\n').encode())
        while True:
            while b'\n' not in self._qt_buf:
                data = self.qt.recv(65536)
                if not data:
                    raise QemuError('qtest connection closed:\n' +
                                    self.stderr())
                self._qt_buf += data
            resp, self._qt_buf = self._qt_buf.split(b'\n', 1)
            resp = resp.decode()
            if resp.startswith('IRQ'):
                continue                        # asynchronous irq events
            if not resp.startswith('OK'):
                raise QemuError('qtest %r -> %r' % (line, resp))
            return resp[2:].strip()

    def _rd(self, op, addr):
        return int(self.qtest('%s 0x%x' % (op, addr)), 16)

    def _wr(self, op, addr, val):
        self.qtest('%s 0x%x 0x%x' % (op, addr, val))

    def readb(self, a): return self._rd('readb', a)
    def readw(self, a): return self._rd('readw', a)
    def readl(self, a): return self._rd('readl', a)
    def readq(self, a): return self._rd('readq', a)
    def writeb(self, a, v): self._wr('writeb', a, v)
    def writew(self, a, v): self._wr('writew', a, v)
    def writel(self, a, v): self._wr('writel', a, v)
    def writeq(self, a, v): self._wr('writeq', a, v)
    def inb(self, a): return self._rd('inb', a)
    def inw(self, a): return self._rd('inw', a)
    def inl(self, a): return self._rd('inl', a)
    def outb(self, a, v): self._wr('outb', a, v)
    def outw(self, a, v): self._wr('outw', a, v)
    def outl(self, a, v): self._wr('outl', a, v)

    def memread(self, addr, size):
        hexdata = self.qtest('read 0x%x 0x%x' % (addr, size))
        return bytes.fromhex(hexdata[2:])

    def memwrite(self, addr, data):
        self.qtest('write 0x%x 0x%x 0x%s' % (addr, len(data), data.hex()))

    # ---- PCI config through 0xcf8/0xcfc ----
    @staticmethod
    def _cfg_addr(bus, dev, fn, off):
        return 0x80000000 | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc)

    def pci_read(self, bdf, off, size=4):
        self.outl(0xcf8, self._cfg_addr(*bdf, off))
        port = 0xcfc + (off & 3)
        return {1: self.inb, 2: self.inw, 4: self.inl}[size](port)

    def pci_write(self, bdf, off, val, size=4):
        self.outl(0xcf8, self._cfg_addr(*bdf, off))
        port = 0xcfc + (off & 3)
        {1: self.outb, 2: self.outw, 4: self.outl}[size](port, val)

    def pci_find_cap(self, bdf, cap_id):
        pos = self.pci_read(bdf, 0x34, 1) & 0xfc
        for _ in range(48):
            if not pos:
                break
            if self.pci_read(bdf, pos, 1) == cap_id:
                return pos
            pos = self.pci_read(bdf, pos + 1, 1) & 0xfc
        return 0

    # ---- QMP ----
    def _qmp_recv(self):
        while b'\n' not in self._qmp_buf:
            data = self.qmp.recv(65536)
            if not data:
                raise QemuError('QMP connection closed:\n' + self.stderr())
            self._qmp_buf += data
        line, self._qmp_buf = self._qmp_buf.split(b'\n', 1)
        return json.loads(line)

    def qmp_cmd(self, cmd, fds=(), **args):
        """Run a QMP command; returns 'return' or raises with the error."""
        msg = {'execute': cmd}
        if args:
            msg['arguments'] = args
        data = json.dumps(msg).encode()
        if fds:
            socket.send_fds(self.qmp, [data], list(fds))
        else:
            self.qmp.sendall(data)
        while True:
            resp = self._qmp_recv()
            if 'event' in resp:
                self.events.append(resp)
                continue
            if 'error' in resp:
                raise QemuError('%s: %s' % (cmd, resp['error']))
            return resp.get('return')

    def getfd(self, name, fd):
        return self.qmp_cmd('getfd', fds=[fd], fdname=name)

    def wait_event(self, name, timeout=None, match=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name and (match is None or match(ev)):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise QemuError('timeout waiting for ' + name)
            self.qmp.settimeout(left)
            try:
                self.events.append(self._qmp_recv())
            except socket.timeout:
                raise QemuError('timeout waiting for ' + name)
            finally:
                self.qmp.settimeout(self.timeout)


class Tap:
    """TAP output: ok()/skip(), plan printed at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc):
        self.n += 1
        if not cond:
            self.failed += 1
        print('%sok %d - %s' % ('' if cond else 'not ', self.n, desc))
        sys.stdout.flush()
        return cond

    def diag(self, msg):
        for line in str(msg).splitlines():
            print('# ' + line)
        sys.stdout.flush()

    def done(self):
        print('1..%d' % self.n)
        return 1 if self.failed else 0


def tap_from_driver(t, text, prefix='e2e-driver: '):
    """One TAP line per "<prefix>ok: ..." / "<prefix>FAIL: ..." line of
    e2e/driver.c's output; returns True if the driver reached PASS."""
    passed = False
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        rest = line[len(prefix):].rstrip('\r')
        if rest.startswith('ok: '):
            t.ok(True, rest[4:])
        elif rest.startswith('FAIL: '):
            t.ok(False, rest[6:])
        elif rest == 'PASS':
            passed = True
    return passed


def real_kernel_run(t, l1_arch, qemu_binary):
    """Boot L1 on L0 with e2e/run-l1.sh (L1_ARCH=@l1_arch, L0 the
    patched @qemu_binary next to default_qemu()), check that L1 bound edu
    to vfio-pci; returns the console output and run-l1.sh's exit status."""
    env = dict(os.environ, L1_ARCH=l1_arch)
    env.setdefault('QEMU', str(Path(default_qemu()).parent / qemu_binary))
    env.setdefault('TIMEOUT', '900')
    r = subprocess.run(['bash', str(REPO_ROOT / 'e2e' / 'run-l1.sh')],
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    out = r.stdout
    m = re.search(r'^e2e: (\S+) driver: (\S+)', out, re.M)
    t.ok(m is not None and m.group(2) == 'vfio-pci',
         'L1 (Linux %s) bound edu %s to vfio-pci'
         % ((re.search(r'L1 init, kernel (\S+)', out) or [None, '?'])[1],
            m.group(1) if m else '(not found)'))
    return out, r.returncode


def real_kernel_verdict(t, out, rc):
    """The L2 driver's checks as TAP lines, its verdict and run-l1.sh's,
    and the report of what L1 created (or the console's end)."""
    passed = tap_from_driver(t, out)
    t.ok(passed, 'L2: the driver reached PASS')
    t.ok(rc == 0, 'e2e/run-l1.sh passed (exit %d)' % rc)
    report = re.search(r"^e2e-driver: what L2 QEMU asked.*?(?=^e2e-driver: "
                       r"(?:ok|FAIL))", out, re.M | re.S)
    if report:
        t.diag(report.group(0))
    if rc or not passed:
        t.diag(out[-6000:])
