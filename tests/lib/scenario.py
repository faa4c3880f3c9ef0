"""One life of a simulated VFIO device behind a nesting vIOMMU, played
through qtest, for the fault-injection sweep and the soak
(tests/qemu/test-fault-sweep.py, scripts/sweep.py, scripts/soak.py).

Two vendors, one scenario each (Vtd, Smmu):

  cold-plug   QEMU starts with the device on the command line
  bind        firmware numbers the buses and gives the device a BAR; the
              guest's vIOMMU driver writes its tables (VT-d: scalable-mode
              root/context/PASID entry with a 4-level first-stage table;
              SMMUv3: STE with a stage-1 CD) and enables translation
  dma         the device copies through the guest's IOVAs
  invalidate  the guest remaps an IOVA and invalidates it (VT-d: PASID
              IOTLB descriptor + wait descriptor on the invalidation queue;
              SMMUv3: CMDQ TLBI_NH_VA + CMD_SYNC); the next DMA must use the
              new page
  reset       system_reset; firmware again; the device is on stage 2 only
              (vIOMMU off) and DMA to a guest physical address works
  unplug      native PCIe hot-unplug (device_del + the guest's slot power
              off, DEVICE_DELETED)
  replug      getfd + device_add of a new device fd, slot power on,
              firmware, the guest binds it again and DMAs
  unplug2     unplug again, then quit

Every wait is bounded (the qtest/QMP socket timeout, the event timeouts):
a hang shows as a timeout, not as a stuck test.  The guest driver behaves
like Linux's on errors: a VT-d invalidation queue error (FSTS.IQE) makes it
replace the descriptor at IQH with its wait descriptor and clear IQE; an
SMMUv3 CMDQ error (GERROR.CMDQ_ERR) makes it replace an illegal command
(CERROR_ILL) with CMD_SYNC, retry an aborted fetch (CERROR_ABT), acknowledge
through GERRORN and restart the queue.  When a bind leaves DMA faulting,
the driver tries the bind once more (PASID-cache invalidation / CFGI_STE),
as a guest would after an error; a failed device_add is tried once more.

The result records each step (ok / fault / error / wrong / ...), whether
QEMU is still alive, its exit status, its stderr and the simulator's log
and exit report.  judge() turns that into a list of problems (empty: the
run passed).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import errno
import os
import re
import shutil
import signal
import socket
import tempfile
import time

import qemutest
from simdev import log_fields as _fields

# ---- the simulated device's BAR0 (sim/include/iommufd-sim-regs.h) ----
R_ID, R_CTRL, R_STATUS = 0x000, 0x008, 0x00c
R_SRC, R_DST, R_LEN, R_OP, R_DOORBELL = 0x010, 0x018, 0x020, 0x028, 0x030
R_FAULT_CODE, R_ATTACHED_PT, R_DOMAIN_KIND = 0x034, 0x060, 0x064
R_DATA = 0x800
ID_VALUE = 0x53494d44
OP_COPY, OP_READ = 1, 3
ST_DONE, ST_ERROR = 2, 4
DOMAIN_NAMES = {0: 'blocked', 1: 's2', 2: 'vtd-nested', 3: 'smmu-abort',
                4: 'smmu-bypass', 5: 'smmu-s1'}

ERRNO_TEXT = {
    'ENOMEM': 'Cannot allocate memory',
    'EIO': 'Input/output error',
    'EINVAL': 'Invalid argument',
    'EBUSY': 'Device or resource busy',
    'ENOSPC': 'No space left on device',
}

# Every op IOMMUFD_SIM_FAIL takes (sim/README.md, Observability) and the
# errno the sweep injects for it.  Allocations get ENOMEM (what the kernel
# returns when its object allocation fails); DESTROY gets EBUSY, the only
# error the kernel's iommufd_destroy gives for an id that exists (an object
# still in use); queries and requests the driver refuses get EINVAL (bad
# argument for this device); operations that reach the hardware (GET_HW_INFO,
# HWPT_INVALIDATE, RESET, IOAS_UNMAP) get EIO.
FAIL_ERRNO = {
    'OPEN_IOMMU': 'ENOMEM',         # iommufd_fops_open: the ctx allocation
    'BIND': 'ENOMEM',               # iommufd_device_bind: the idev object
    'ATTACH': 'ENOMEM',             # attach allocates (pasid entry, resv
                                    # regions); EINVAL would make QEMU try
                                    # another HWPT, a different path
    'DETACH': 'EINVAL',             # vfio_df_ioctl_detach_pt: only EINVAL
    'GET_INFO': 'EINVAL',
    'GET_REGION_INFO': 'EINVAL',
    'GET_IRQ_INFO': 'EINVAL',
    'SET_IRQS': 'EINVAL',
    'RESET': 'EIO',                 # the function reset fails
    'FEATURE': 'EINVAL',
    'DESTROY': 'EBUSY',
    'IOAS_ALLOC': 'ENOMEM',
    'IOAS_ALLOW_IOVAS': 'ENOMEM',
    'IOAS_COPY': 'ENOMEM',
    'IOAS_IOVA_RANGES': 'EINVAL',
    'IOAS_MAP': 'ENOMEM',           # pinning / the area allocation
    'IOAS_UNMAP': 'EIO',
    'OPTION': 'EINVAL',
    'HWPT_ALLOC': 'ENOMEM',
    'GET_HW_INFO': 'EIO',
    'HWPT_SET_DIRTY_TRACKING': 'EIO',
    'HWPT_GET_DIRTY_BITMAP': 'EIO',
    'HWPT_INVALIDATE': 'EIO',       # the host refuses/fails the flush
    'VIOMMU_ALLOC': 'ENOMEM',
    'VDEVICE_ALLOC': 'ENOMEM',
}



# Why that errno, per op (docs/reliability.md)
FAIL_WHY = {
    'OPEN_IOMMU': 'iommufd_fops_open allocates the context',
    'BIND': 'iommufd_device_bind allocates the device object',
    'ATTACH': 'attach allocates (PASID entry, reserved regions); EINVAL '
              'would make QEMU try another HWPT, a different path',
    'DETACH': 'the only error vfio_df_ioctl_detach_pt has',
    'DESTROY': 'the only error DESTROY gives for an id that exists (the '
               'object is in use)',
    'RESET': 'the function reset fails',
    'IOAS_MAP': 'pinning or the area allocation fails',
    'IOAS_UNMAP': 'the host fails to unmap',
    'GET_HW_INFO': 'the driver cannot report the hardware',
    'HWPT_INVALIDATE': 'the host fails the flush (on SMMUv3 entry_num 0: '
                       'the first command is refused)',
}


def fail_why(op):
    if op in FAIL_WHY:
        return FAIL_WHY[op]
    e = fail_errno(op)
    return {'ENOMEM': 'an allocation in the kernel fails',
            'EINVAL': 'the kernel refuses the request for this device',
            'EIO': 'the operation reaches the hardware and fails'}.get(e, '')


def fail_errno(op):
    """The errno injected into @op: FAIL_ERRNO's, else ENOMEM for an
    allocation (an op the simulator learnt after this table was written,
    e.g. VEVENTQ_ALLOC) and EINVAL for anything else."""
    if op in FAIL_ERRNO:
        return FAIL_ERRNO[op]
    return 'ENOMEM' if op.endswith('_ALLOC') or op.startswith('OPEN') \
        else 'EINVAL'


STEPS = ('start', 'bind', 'dma', 'invalidate', 'reset', 'unplug', 'replug',
         'dma2', 'unplug2', 'quit')


def qemu_binary(arch):
    """Next to default_qemu() (QEMU_SYSTEM_X86_64), as the other tests."""
    x86 = qemutest.default_qemu()
    if arch == 'x86_64':
        return x86
    return x86.replace('qemu-system-x86_64', 'qemu-system-' + arch)


def wait_for_files(paths, seconds=60):
    """QEMU may be rebuilt under a running test: wait up to @seconds for
    binaries that are briefly missing (not at all for one whose directory
    does not exist: nothing is being built there).  Returns the missing
    ones."""
    deadline = time.monotonic() + seconds
    while True:
        missing = [p for p in paths if not os.access(p, os.R_OK)]
        if not missing or time.monotonic() > deadline or \
                not all(os.path.isdir(os.path.dirname(p)) for p in missing):
            return missing
        time.sleep(1)


def missing_binaries(seconds=60):
    """Both QEMU targets and the simulator, waited for as wait_for_files();
    returns the missing ones."""
    return wait_for_files([qemu_binary('x86_64'), qemu_binary('aarch64'),
                           qemutest.default_sim_lib()], seconds)


def wait_for_file(path, seconds=60):
    return not wait_for_files([path], seconds)


# ---- log parsing ----
CALL_RE = re.compile(r'^(?:iommufd ([A-Z_]+) |vfio ([A-Z_]+)\()')
INJECT_RE = re.compile(r'^(\w+) inject -(\w+) \(call (\d+)\)')


def count_calls(lines):
    """{OP: calls} as IOMMUFD_SIM_FAIL counts them: one log line per call
    that got past the size checks ("iommufd OP ..." / "vfio OP(dev)"; a
    VFIO ATTACH has two lines, the first one "pt_id=... (was ...)"),
    the opens of /dev/iommu, and the injected calls, which have no line of
    their own."""
    calls = {}
    for ln in lines:
        m = CALL_RE.match(ln)
        if m:
            op = m.group(1) or m.group(2)
            if ' size check ' in ln:
                continue
            if op == 'ATTACH' and ' (was ' in ln:
                continue                # the first of ATTACH's two lines
            if op == 'HWPT_INVALIDATE' and 'inject refusal' in ln:
                continue
            calls[op] = calls.get(op, 0) + 1
            continue
        if ln.startswith('open /dev/iommu'):
            calls['OPEN_IOMMU'] = calls.get('OPEN_IOMMU', 0) + 1
            continue
        m = INJECT_RE.match(ln)
        if m:
            calls[m.group(1)] = calls.get(m.group(1), 0) + 1
    return calls


class ObjTracker:
    """Host objects per iommufd context, from the simulator's log: what
    QEMU made (IOAS_ALLOC, HWPT_ALLOC, VIOMMU_ALLOC, VDEVICE_ALLOC) and
    destroyed (DESTROY), and what was still there when the context was
    released (the kernel frees it then; QEMU left it to the close)."""

    def __init__(self):
        self.live = {}              # id -> kind, current context
        self.left_at_close = []     # [(kind, id)] per release
        self.max_live = 0

    def feed(self, lines):
        for ln in lines:
            if ln.startswith('iommufd ') and ln.endswith('-> 0'):
                op = ln.split()[1]
                f = _fields(ln)
                # IOAS_ALLOC out_ioas_id, HWPT_ALLOC out_hwpt_id, ...,
                # VEVENTQ_ALLOC out_veventq_id
                out = [k for k in f if k.startswith('out_') and
                       k.endswith('_id')]
                if op.endswith('_ALLOC') and len(out) == 1:
                    self.live[f[out[0]]] = op[:-6].lower()
                    self.max_live = max(self.max_live, len(self.live))
                elif op == 'DESTROY' and 'id' in f:
                    self.live.pop(f['id'], None)
            elif re.match(r'iommufd context \d+ released', ln):
                self.left_at_close += sorted(
                    (k, i) for i, k in self.live.items())
                self.live = {}


class Result:
    def __init__(self, vendor, fail):
        self.vendor = vendor
        self.fail = fail
        self.steps = []             # [(step, status, detail)]
        self.exited_at_start = False
        self.rc = None
        self.signal = None
        self.hang = None
        self.stderr = ''
        self.log = []
        self.report = {}
        self.error = None           # exception text of the driver
        self.iommufd = 'own'        # or 'fd' (run_scenario)
        self.alive_at_end = None
        self.seconds = 0.0
        self.rss = []               # VmRSS (kB) samples, soak
        self.log_path = None        # set: step() notes the log's length
        self.marks = []             # [(step, log lines before its end)]

    def step(self, name, status, detail=''):
        self.steps.append((name, status, detail))
        if self.log_path:
            try:
                with open(self.log_path) as f:
                    self.marks.append((name, sum(1 for _ in f)))
            except OSError:
                self.marks.append((name, 0))

    def phase_of_calls(self):
        """{OP: [step of call 1, step of call 2, ...]} from the marks."""
        out = {}
        start = 0
        for name, end in self.marks + [('quit', len(self.log))]:
            for op, n in count_calls(self.log[start:end]).items():
                out.setdefault(op, []).extend([name] * n)
            start = max(start, end)
        return out

    def status(self, name):
        for s, st, _ in self.steps:
            if s == name:
                return st
        return None

    def summary(self):
        return ' '.join('%s=%s' % (s, st) for s, st, _ in self.steps)


class Hang(Exception):
    pass


class Guest:
    """The parts common to both vendors: QEMU, PCI, the device, QMP."""

    arch = None
    dev_cfg = None
    root_port = None        # (bus, dev, fn)
    dev_bdf = (1, 0, 0)
    bar = None

    def __init__(self, tmp, tag, fail=None, timeout=15, extra_env=None,
                 log=True):
        self.tmp = tmp
        self.tag = tag
        self.env = dict(os.environ)
        self.env['LD_PRELOAD'] = qemutest.default_sim_lib()
        self.env['IOMMUFD_SIM_REPORT'] = os.path.join(tmp, tag + '.report')
        if log:
            self.env['IOMMUFD_SIM_LOG'] = os.path.join(tmp, tag + '.log')
        else:
            self.env.pop('IOMMUFD_SIM_LOG', None)
        for p in (self.env['IOMMUFD_SIM_REPORT'],
                  self.env.get('IOMMUFD_SIM_LOG')):
            if p and os.path.exists(p):
                os.unlink(p)
        if fail:
            self.env['IOMMUFD_SIM_FAIL'] = fail
        else:
            self.env.pop('IOMMUFD_SIM_FAIL', None)
        self.env.update(extra_env or {})
        self.timeout = timeout
        self.q = None
        self.plugs = 0

    iommufd_fd = None       # set: -object iommufd,fd= (as libvirt does)

    def iommufd_arg(self):
        if self.iommufd_fd is None:
            return 'iommufd,id=x'
        return 'iommufd,id=x,fd=%d' % self.iommufd_fd

    # -- config space: subclasses provide cfg_read/cfg_write(bdf, off, v, n)
    def find_cap(self, bdf, cap_id):
        pos = self.cfg_read(bdf, 0x34, 1) & 0xfc
        for _ in range(48):
            if not pos:
                return 0
            if self.cfg_read(bdf, pos, 1) == cap_id:
                return pos
            pos = self.cfg_read(bdf, pos + 1, 1) & 0xfc
        return 0

    def firmware(self):
        """Bus numbers, the root port's window, the device's BAR, MSI."""
        rp = self.root_port
        self.cfg_write(rp, 0x18, 0x00010100, 4)
        base = self.bar >> 16
        self.cfg_write(rp, 0x20, base | base << 16, 4)
        self.cfg_write(rp, 0x24, 0x0000fff0, 4)
        self.cfg_write(rp, 0x04, 0x0006, 2)
        dev = self.dev_bdf
        if self.cfg_read(dev, 0, 4) != 0x11f01b36:
            return False
        self.cfg_write(dev, 0x10, self.bar, 4)
        self.cfg_write(dev, 0x04, 0x0006, 2)
        cap = self.find_cap(dev, 0x05)
        if cap:
            ctl = self.cfg_read(dev, cap + 2, 2)
            is64 = ctl & 0x80
            self.cfg_write(dev, cap + 4, self.msi_addr & 0xffffffff, 4)
            if is64:
                self.cfg_write(dev, cap + 8, self.msi_addr >> 32, 4)
            self.cfg_write(dev, cap + (12 if is64 else 8), self.msi_data, 2)
            self.cfg_write(dev, cap + 2, ctl | 1, 2)
        return self.q.readl(self.bar + R_ID) == ID_VALUE

    def slot_power(self, on):
        rp = self.root_port
        cap = self.find_cap(rp, 0x10)
        ctl = self.cfg_read(rp, cap + 0x18, 2) & ~0x0700
        ctl |= 0x0100 if on else 0x0700
        self.cfg_write(rp, cap + 0x18, ctl, 2)

    # -- the device
    def domain(self):
        return DOMAIN_NAMES.get(self.q.readl(self.bar + R_DOMAIN_KIND), '?')

    def copy(self, src, dst, length):
        q = self.q
        q.writel(self.bar + R_CTRL, 0)
        q.writel(self.bar + R_STATUS, ST_DONE | ST_ERROR)
        q.writeq(self.bar + R_SRC, src)
        q.writeq(self.bar + R_DST, dst)
        q.writel(self.bar + R_LEN, length)
        q.writel(self.bar + R_OP, OP_COPY)
        q.writel(self.bar + R_DOORBELL, 1)
        return q.readl(self.bar + R_STATUS)

    def dma_check(self, src_iova, dst_iova, dst_gpa, fill, others=()):
        """Copy 64 bytes @src_iova -> @dst_iova.  'ok' when the data is at
        @dst_gpa, 'fault' when the device reports an error and nothing
        landed, 'wrong' otherwise (also when it landed at one of @others:
        a stale or untranslated access)."""
        q = self.q
        pattern = bytes(((fill + i) & 0xff) for i in range(64))
        q.memwrite(self.src_gpa, pattern)
        for a in (dst_gpa,) + tuple(others):
            q.memwrite(a, bytes(64))
        st = self.copy(src_iova, dst_iova, 64)
        got = q.memread(dst_gpa, 64)
        stray = [hex(a) for a in others if q.memread(a, 64) == pattern]
        if st & ST_ERROR:
            if got == pattern or stray:
                return 'wrong', 'error status but data written (%s)' % stray
            return 'fault', 'status 0x%x fault %d domain %s' % (
                st, q.readl(self.bar + R_FAULT_CODE), self.domain())
        if not st & ST_DONE:
            return 'wrong', 'status 0x%x: neither done nor error' % st
        if got == pattern and not stray:
            return 'ok', 'domain %s' % self.domain()
        return 'wrong', 'done but data %s, stray copies at %s (domain %s)' \
            % ('correct' if got == pattern else 'missing', stray,
               self.domain())

    # -- QEMU
    def alive(self):
        if self.q is None or self.q.proc.poll() is not None:
            return False
        try:
            return self.q.qmp_cmd('query-status').get('status') is not None
        except (OSError, qemutest.QemuError):
            return False

    def qmp_error(self, cmd, **args):
        try:
            self.q.qmp_cmd(cmd, **args)
            return None
        except qemutest.QemuError as e:
            return str(e)

    def plug(self, dev_id):
        """getfd + device_add (once more if it fails); returns (error of
        the first try or None, error of the retry or None)."""
        errs = []
        for attempt in range(2):
            fd = qemutest.device_memfd(self.dev_cfg, 'iommufd-sim-vfio-r%d'
                                       % self.plugs)
            self.plugs += 1
            try:
                name = 'fd%d' % self.plugs
                self.q.getfd(name, fd)
                err = self.qmp_error('device_add', driver='vfio-pci',
                                     id=dev_id, bus='rp0', iommufd='x',
                                     fd=name)
            finally:
                os.close(fd)
            errs.append(err)
            if err is None:
                self.slot_power(True)
                return errs
        return errs

    def unplug(self, dev_id, timeout=10):
        err = self.qmp_error('device_del', id=dev_id)
        if err:
            return err
        self.slot_power(False)
        try:
            self.q.wait_event('DEVICE_DELETED', timeout=timeout,
                              match=lambda e: e['data'].get('device') ==
                              dev_id)
        except qemutest.QemuError as e:
            if 'timeout' in str(e):
                raise Hang('DEVICE_DELETED not seen within %d s' % timeout)
            raise
        return None

    def vmrss(self):
        try:
            with open('/proc/%d/status' % self.q.proc.pid) as f:
                for ln in f:
                    if ln.startswith('VmRSS:'):
                        return int(ln.split()[1])
        except OSError:
            pass
        return None

    def start(self, cold_plug=True):
        args = list(self.machine_args())
        pass_fds = [] if self.iommufd_fd is None else [self.iommufd_fd]
        fd = None
        if cold_plug:
            fd = qemutest.device_memfd(self.dev_cfg)
            pass_fds.append(fd)
            args += ['-device', 'vfio-pci,id=dev0,bus=rp0,iommufd=x,fd=%d'
                     % fd]
        try:
            # a binary being relinked is missing, or EACCES/ETXTBSY
            deadline = time.monotonic() + 120
            while True:
                wait_for_file(qemu_binary(self.arch))
                self.q = qemutest.Qemu(args, qemu=qemu_binary(self.arch),
                                       env=self.env, pass_fds=pass_fds,
                                       timeout=self.timeout)
                try:
                    self.q.start()
                    break
                except OSError as e:
                    if self.q.proc is not None or \
                            time.monotonic() > deadline or \
                            e.errno not in (errno.EACCES, errno.ETXTBSY,
                                            errno.ENOENT, errno.ENOEXEC):
                        raise
                    shutil.rmtree(self.q.dir, ignore_errors=True)
                    time.sleep(2)
        finally:
            if fd is not None:
                os.close(fd)
            if self.iommufd_fd is not None:
                os.close(self.iommufd_fd)       # QEMU has its own now
        return self.q

    # ---- the scenario ----
    def bind_and_dma(self, res, bind_step, dma_step):
        """The guest binds the device; DMA through its IOVAs.  A DMA that
        faults after the bind gets one more bind (as a guest retries)."""
        st, detail = self.bind()
        res.step(bind_step, st, detail)
        dma, d = self.dma_iova()
        if dma == 'fault':
            st2, detail2 = self.rebind()
            dma2, d2 = self.dma_iova()
            res.step(dma_step, dma2 if dma2 != 'ok' else 'recovered',
                     'first try: %s; after a rebind (%s %s): %s'
                     % (d, st2, detail2, d2))
        else:
            res.step(dma_step, dma, d)

    def run(self, res, replug=True):
        """The whole scenario into @res."""
        try:
            self.start()
        except (qemutest.QemuError, OSError) as e:
            # QEMU exits while realizing: before or after it connected,
            # so EOF, a timeout or EPIPE/ECONNRESET on the QMP socket
            proc = self.q.proc if self.q else None
            if proc is None:
                raise
            try:
                proc.wait(10)
            except Exception:
                raise e
            res.exited_at_start = True
            res.step('start', 'exit', (str(e) or repr(e)).splitlines()[0])
            return
        res.step('start', 'ok')
        if not self.firmware():
            res.step('firmware', 'error', 'device not visible/ID wrong')
        self.bind_and_dma(res, 'bind', 'dma')
        res.step('invalidate', *self.invalidate())

        err = self.qmp_error('system_reset')
        if err:
            res.step('reset', 'error', err)
        else:
            try:
                self.q.wait_event('RESET', timeout=10)
            except qemutest.QemuError:
                raise Hang('no RESET event within 10 s')
            self.after_reset()
            ok = self.firmware()
            st, d = self.dma_gpa()
            res.step('reset', st if ok else 'error',
                     d if ok else 'device gone after reset')

        err = self.unplug('dev0')
        res.step('unplug', 'error' if err else 'ok', err or '')
        if not replug:
            return
        errs = self.plug('dev1')
        if errs[-1] is not None:
            res.step('replug', 'error', '; '.join(map(str, errs)))
            return
        res.step('replug', 'ok' if errs[0] is None else 'retried',
                 errs[0] or '')
        if not self.firmware():
            res.step('firmware2', 'error', 'device not visible after plug')
        self.bind_and_dma(res, 'bind2', 'dma2')
        err = self.unplug('dev1')
        res.step('unplug2', 'error' if err else 'ok', err or '')


# ---------------------------------------------------------------- VT-d
VTD = 0xfed90000
V_CAP, V_GCMD, V_GSTS, V_RTADDR, V_FSTS, V_IQH, V_IQT, V_IQA = \
    0x8, 0x18, 0x1c, 0x20, 0x34, 0x80, 0x88, 0x90
GCMD_TE, GCMD_SRTP, GCMD_QIE = 1 << 31, 1 << 30, 1 << 26
RTADDR_SMT, IQA_DW_256, FSTS_IQE = 1 << 10, 1 << 11, 1 << 4
G_ROOT, G_CTX, G_PDIR, G_PTBL, G_IQ, G_STATUS = \
    0x1000000, 0x1001000, 0x1002000, 0x1003000, 0x1004000, 0x1005000
G_PML4, G_PDPT, G_PD, G_PT = 0x1010000, 0x1011000, 0x1012000, 0x1013000
G_SRC, G_DST, G_DST2 = 0x2000000, 0x2001000, 0x2002000
V_IOVA = 0x40000000             # PT entry n: V_IOVA + n * 4K
DID = 5
FL = 0x7                        # P, R/W, U/S


class Vtd(Guest):
    """q35, intel-iommu x-flts=on, the device behind pcie-root-port rp0."""

    arch = 'x86_64'
    name = 'vtd'
    dev_cfg = 'iommu=vtd\nname=sweep\n'
    root_port = (0, 2, 0)
    bar = 0xc0000000
    src_gpa = G_SRC
    msi_addr, msi_data = 0xfee00000, 0x30

    def machine_args(self):
        return ['-machine', 'q35', '-m', '256M', '-bios',
                qemutest.dummy_bios(self.tmp),
                '-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
                '-device', 'intel-iommu,x-scalable-mode=on,x-flts=on,'
                'caching-mode=on',
                '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,'
                'addr=0x2',
                '-object', self.iommufd_arg()]

    def cfg_read(self, bdf, off, n):
        q = self.q
        q.outl(0xcf8, 0x80000000 | bdf[0] << 16 | bdf[1] << 11 |
               bdf[2] << 8 | (off & 0xfc))
        return {1: q.inb, 2: q.inw, 4: q.inl}[n](0xcfc + (off & 3))

    def cfg_write(self, bdf, off, v, n):
        q = self.q
        q.outl(0xcf8, 0x80000000 | bdf[0] << 16 | bdf[1] << 11 |
               bdf[2] << 8 | (off & 0xfc))
        {1: q.outb, 2: q.outw, 4: q.outl}[n](0xcfc + (off & 3), v)

    def after_reset(self):
        self.gcmd = 0

    def tables(self):
        q = self.q
        q.memwrite(G_ROOT, bytes(0x4000))
        q.memwrite(G_PML4, bytes(0x4000))
        q.writeq(G_ROOT + self.dev_bdf[0] * 16, G_CTX | 1)
        q.writeq(G_CTX + (self.dev_bdf[1] * 8 + self.dev_bdf[2]) * 32,
                 G_PDIR | 1)
        q.writeq(G_PDIR, G_PTBL | 1)
        q.writeq(G_PTBL, 1 | (2 << 2) | (1 << 6))   # P, AW 48, FLT
        q.writeq(G_PTBL + 8, DID)
        q.writeq(G_PTBL + 16, G_PML4)
        for i in range(3, 8):
            q.writeq(G_PTBL + i * 8, 0)
        q.writeq(G_PML4, G_PDPT | FL)
        q.writeq(G_PDPT + ((V_IOVA >> 30) & 511) * 8, G_PD | FL)
        q.writeq(G_PD, G_PT | FL)
        self.map(0, G_SRC)
        self.map(1, G_DST)

    def map(self, n, gpa):
        self.q.writeq(G_PT + n * 8, gpa | FL)

    def gcmd_set(self, bits, oneshot=0):
        self.gcmd |= bits
        self.q.writel(VTD + V_GCMD, self.gcmd | oneshot)

    def iq_put(self, v0, v1):
        addr = G_IQ + self.tail * 32
        for i, v in enumerate((v0, v1, 0, 0)):
            self.q.writeq(addr + i * 8, v)
        self.tail = (self.tail + 1) % 128

    def iq_submit(self):
        """Wait descriptor + IQT.  'ok' when it completed; 'error' when the
        queue stopped (IQE), which the driver clears the Linux way."""
        q = self.q
        self.seq += 1
        q.writel(G_STATUS, 0)
        wait = (0x5 | (1 << 5) | (self.seq << 32), G_STATUS)
        self.iq_put(*wait)
        q.writeq(VTD + V_IQT, self.tail << 5)
        if q.readl(VTD + V_FSTS) & FSTS_IQE:
            head = (q.readq(VTD + V_IQH) >> 5) & 127
            for i, v in enumerate(wait + (0, 0)):
                q.writeq(G_IQ + head * 32 + i * 8, v)
            q.writel(VTD + V_FSTS, FSTS_IQE)
            q.writeq(VTD + V_IQT, self.tail << 5)
            return 'error', 'IQE at descriptor %d' % head
        if q.readl(G_STATUS) != self.seq:
            return 'error', 'wait descriptor did not complete'
        return 'ok', ''

    def pasid_cache_inv(self):
        self.iq_put(0x7 | (1 << 4) | (DID << 16), 0)
        return self.iq_submit()

    def bind(self):
        q = self.q
        self.tail = 0
        self.seq = getattr(self, 'seq', 0)
        self.gcmd = 0
        self.tables()
        if not q.readq(VTD + V_CAP) & (1 << 7):
            return 'error', 'no caching mode'
        q.writel(VTD + V_GCMD, 0)               # off, as a driver starts
        q.writeq(VTD + V_RTADDR, G_ROOT | RTADDR_SMT)
        self.gcmd_set(0, GCMD_SRTP)
        q.writeq(VTD + V_IQA, G_IQ | IQA_DW_256)
        q.writeq(VTD + V_IQT, 0)
        self.gcmd_set(GCMD_QIE)
        self.gcmd_set(GCMD_TE)
        if not q.readl(VTD + V_GSTS) & GCMD_TE:
            return 'error', 'TE not set'
        st, d = self.pasid_cache_inv()
        return st, d or 'domain %s' % self.domain()

    def rebind(self):
        return self.pasid_cache_inv()

    def dma_iova(self):
        return self.dma_check(V_IOVA, V_IOVA + 0x1000, G_DST, 0x10,
                              others=(G_DST2,))

    def invalidate(self):
        """Remap the destination IOVA to G_DST2, invalidate it, copy."""
        self.map(1, G_DST2)
        self.iq_put(0x6 | (3 << 4) | (DID << 16), (V_IOVA + 0x1000) | 0)
        inv, d = self.iq_submit()
        st, d2 = self.dma_check(V_IOVA, V_IOVA + 0x1000, G_DST2, 0x40,
                                others=(G_DST,))
        self.map(1, G_DST)
        if inv != 'ok':
            # the guest was told: a stale or failed DMA is its own
            return ('error', '%s; then DMA %s: %s' % (d, st, d2))
        return st, d2

    def dma_gpa(self):
        """After reset: vIOMMU off, stage 2 only, IOVA = GPA."""
        return self.dma_check(G_SRC, G_DST, G_DST, 0x70)


# ---------------------------------------------------------------- SMMUv3
ECAM = 0x3f000000
SMMU = 0x0c000000
S_CR0, S_GERROR, S_GERRORN, S_STRTAB_BASE, S_STRTAB_CFG = \
    0x20, 0x60, 0x64, 0x80, 0x88
S_CMDQ_BASE, S_CMDQ_PROD, S_CMDQ_CONS, S_EVTQ_BASE = 0x90, 0x98, 0x9c, 0xa0
STRTAB, CMDQ, EVTQ, CD_ADDR = 0x40100000, 0x40200000, 0x40210000, 0x40300000
PT_L1, PT_L2, PT_L3 = 0x40400000, 0x40401000, 0x40402000
BUF_SRC, BUF_DST, BUF_DST2 = 0x40500000, 0x40501000, 0x40502000
S_IOVA_SRC, S_IOVA_DST = 0x1000000, 0x1001000
STRTAB_LOG2, CMDQ_LOG2 = 9, 10
CMD_CFGI_STE, CMD_TLBI_NH_VA, CMD_SYNC = 0x03, 0x12, 0x46
ASID = 1
CERROR_ILL, CERROR_ABT = 1, 2


class Smmu(Guest):
    """virt, arm-smmuv3 accel=on on pcie.0, the device behind a
    pcie-root-port (StreamID 0x100: bus 1, devfn 0)."""

    arch = 'aarch64'
    name = 'smmuv3'
    dev_cfg = 'iommu=smmuv3\nname=sweep\n'
    root_port = (0, 2, 0)
    bar = 0x10000000
    src_gpa = BUF_SRC
    msi_addr, msi_data = 0x08020040, 80
    sid = 0x100

    def machine_args(self):
        return ['-M', 'virt,gic-version=2,highmem=off', '-m', '1G',
                '-object', self.iommufd_arg(),
                '-device', 'arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on',
                '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,'
                'addr=0x2']

    def _ecam(self, bdf, off):
        return ECAM + (bdf[0] << 20) + ((bdf[1] << 3 | bdf[2]) << 12) + off

    def cfg_read(self, bdf, off, n):
        a = self._ecam(bdf, off)
        return {1: self.q.readb, 2: self.q.readw, 4: self.q.readl}[n](a)

    def cfg_write(self, bdf, off, v, n):
        a = self._ecam(bdf, off)
        {1: self.q.writeb, 2: self.q.writew, 4: self.q.writel}[n](a, v)

    def after_reset(self):
        pass

    def tables(self):
        q = self.q
        cd = [0] * 16
        cd[0] = 25 | (1 << 30) | (1 << 31)          # T0SZ 25, EPD1, V
        cd[1] = 2 | (1 << 9) | (1 << 13) | (1 << 14) | (ASID << 16)
        cd[2] = PT_L1 & 0xffffffff
        cd[3] = PT_L1 >> 32
        cd[6] = 0xff
        q.memwrite(CD_ADDR, b''.join(v.to_bytes(4, 'little') for v in cd))
        q.memwrite(PT_L1, bytes(0x3000))
        q.writeq(PT_L1, PT_L2 | 3)
        q.writeq(PT_L2 + ((S_IOVA_SRC >> 21) & 0x1ff) * 8, PT_L3 | 3)
        self.map(S_IOVA_SRC, BUF_SRC)
        self.map(S_IOVA_DST, BUF_DST)
        q.memwrite(STRTAB, bytes(64 << STRTAB_LOG2))
        q.writeq(STRTAB + self.sid * 64, 1 | (5 << 1) |
                 (CD_ADDR & 0x000fffffffffffc0))

    def map(self, iova, pa):
        # page, AF, AP[1] (EL0 RW), inner shareable
        self.q.writeq(PT_L3 + ((iova >> 12) & 0x1ff) * 8,
                      pa | 3 | (1 << 6) | (3 << 8) | (1 << 10))

    def cmd(self, w0, w1):
        idx = self.prod & ((1 << CMDQ_LOG2) - 1)
        self.q.writeq(CMDQ + idx * 16, w0)
        self.q.writeq(CMDQ + idx * 16 + 8, w1)
        self.prod = (self.prod + 1) & ((2 << CMDQ_LOG2) - 1)

    def cmd_run(self):
        """Make the SMMU consume the queue; on a CMDQ error do what Linux's
        arm_smmu_cmdq_skip_err does, at most 4 times.  Returns ('ok'|'error',
        detail)."""
        q = self.q
        errors = []
        for _ in range(5):
            q.writel(SMMU + S_CMDQ_PROD, self.prod)
            cons = q.readl(SMMU + S_CMDQ_CONS)
            if (cons & 0xfffff) == self.prod:
                break
            gerror = q.readl(SMMU + S_GERROR)
            gerrorn = q.readl(SMMU + S_GERRORN)
            if not (gerror ^ gerrorn) & 1:
                errors.append('queue stopped at 0x%x without CMDQ_ERR'
                              % cons)
                break
            err = (cons >> 24) & 0x7f
            errors.append('CERROR %d at 0x%x' % (err, cons & 0xfffff))
            if err == CERROR_ILL:
                idx = cons & ((1 << CMDQ_LOG2) - 1)
                q.writeq(CMDQ + idx * 16, CMD_SYNC)
                q.writeq(CMDQ + idx * 16 + 8, 0)
            q.writel(SMMU + S_GERRORN, gerror)
        else:
            errors.append('queue still stopped after 4 retries')
        if errors:
            return 'error', '; '.join(errors)
        return 'ok', ''

    def cfgi_ste(self):
        self.cmd(CMD_CFGI_STE | self.sid << 32, 1)
        self.cmd(CMD_SYNC, 0)
        return self.cmd_run()

    def bind(self):
        q = self.q
        self.tables()
        q.writel(SMMU + S_CR0, 0)
        q.writeq(SMMU + S_STRTAB_BASE, STRTAB)
        q.writel(SMMU + S_STRTAB_CFG, STRTAB_LOG2)
        q.writeq(SMMU + S_CMDQ_BASE, CMDQ | CMDQ_LOG2)
        q.writeq(SMMU + S_EVTQ_BASE, EVTQ | 5)
        q.writel(SMMU + S_CMDQ_PROD, 0)
        q.writel(SMMU + S_CMDQ_CONS, 0)
        self.prod = 0
        q.writel(SMMU + S_CR0, 1 | 4 | 8)           # SMMUEN, EVTQEN, CMDQEN
        st, d = self.cfgi_ste()
        return st, d or 'domain %s' % self.domain()

    def rebind(self):
        return self.cfgi_ste()

    def dma_iova(self):
        return self.dma_check(S_IOVA_SRC, S_IOVA_DST, BUF_DST, 0x10,
                              others=(BUF_DST2,))

    def invalidate(self):
        self.map(S_IOVA_DST, BUF_DST2)
        for iova in (S_IOVA_SRC, S_IOVA_DST):
            self.cmd(CMD_TLBI_NH_VA | ASID << 48, (iova & ~0xfff) | 1)
        self.cmd(CMD_SYNC, 0)
        inv, d = self.cmd_run()
        st, d2 = self.dma_check(S_IOVA_SRC, S_IOVA_DST, BUF_DST2, 0x40,
                                others=(BUF_DST,))
        self.map(S_IOVA_DST, BUF_DST)
        if inv != 'ok':
            return ('error', '%s; then DMA %s: %s' % (d, st, d2))
        return st, d2

    def dma_gpa(self):
        return self.dma_check(BUF_SRC, BUF_DST, BUF_DST, 0x70)


VENDORS = {'vtd': Vtd, 'smmuv3': Smmu}


def run_scenario(vendor, tmp, fail=None, tag=None, timeout=15,
                 marks=False, keep=False, iommufd='own'):
    """Run the scenario once; returns a Result.  @marks: note where in
    the log each step ends (Result.phase_of_calls).  @iommufd 'own': QEMU
    opens /dev/iommu itself (and closes it when its last device goes);
    'fd': it gets an iommufd with fd= as from libvirt and never closes
    it."""
    cls = VENDORS[vendor]
    tag = tag or '%s-%s-%s' % (vendor, iommufd,
                               (fail or 'none').replace(':', '-'))
    own = tempfile.mkdtemp(prefix=tag + '.', dir=tmp)    # BIOS, log, report
    g = cls(own, tag, fail=fail, timeout=timeout)
    if iommufd == 'fd':
        g.iommufd_fd = os.memfd_create('iommufd-sim-sweep', 0)
        os.set_inheritable(g.iommufd_fd, True)
    res = Result(vendor, fail)
    res.iommufd = iommufd
    if marks:
        res.log_path = g.env.get('IOMMUFD_SIM_LOG')
    t0 = time.monotonic()
    try:
        g.run(res)
    except Hang as e:
        res.hang = str(e)
    except (qemutest.QemuError, OSError, socket.timeout) as e:
        text = str(e)
        if 'timed out' in text or 'timeout' in text:
            res.hang = text.splitlines()[0]
        else:
            res.error = text.splitlines()[0] if text else repr(e)
    finally:
        finish(g, res)
        if not keep:
            shutil.rmtree(own, ignore_errors=True)
    res.seconds = time.monotonic() - t0
    return res


def finish(g, res):
    """Quit (or collect the exit of) QEMU; read its stderr, the log and the
    report."""
    q = g.q
    if q is not None and q.proc is not None:
        if not res.exited_at_start:
            res.alive_at_end = g.alive()
            if res.hang:
                # a hung QEMU: take a look, then kill it
                q.proc.send_signal(signal.SIGABRT)
                try:
                    q.proc.wait(10)
                except Exception:
                    q.kill()
            else:
                q.quit()
        else:
            try:
                q.proc.wait(10)
            except Exception:
                q.kill()
        rc = q.proc.returncode
        if rc is not None and rc < 0:
            res.signal = -rc
        res.rc = rc
        res.stderr = q.stderr()
        try:
            q.log.close()
        except Exception:
            pass
        shutil.rmtree(q.dir, ignore_errors=True)
    log = g.env.get('IOMMUFD_SIM_LOG')
    if log and os.path.exists(log):
        with open(log) as f:
            res.log = f.read().splitlines()
    rep = g.env['IOMMUFD_SIM_REPORT']
    if os.path.exists(rep):
        res.report = qemutest.read_report(rep)
    if not res.exited_at_start and res.alive_at_end is not False:
        res.step('quit', 'ok' if res.rc == 0 else 'error',
                 'exit status %s' % res.rc)


SANITIZER_RE = re.compile(r'AddressSanitizer|UndefinedBehaviorSanitizer|'
                          r'LeakSanitizer|runtime error:|'
                          r'Assertion .* failed|\*\*\*.*detected')


def judge(res, injected_op=None, injected_errno=None):
    """What went wrong in @res (a list of strings; empty: it passed).

    - QEMU must not die of a signal, abort, hang or print a sanitizer
      error;
    - a failure while the cold-plugged device is realized may end QEMU,
      but with exit status 1 and a message naming the problem (the
      errno's text); otherwise QEMU must answer QMP to the end and exit
      with 0 on quit;
    - no DMA may land where the guest's tables do not send it ('wrong');
      a fault or an error status is fine; but a one-off host failure must
      not break the device for good: after the guest's retry (a rebind,
      a second device_add) the last DMA of the run must work;
    - the injected call happened once (fail.injected 1), and after the
      final unplug and quit no host object is left (live.all 0 and no
      open context in the simulator's exit report)."""
    p = []
    if res.signal:
        p.append('QEMU killed by signal %d' % res.signal)
    if res.hang:
        p.append('hang: %s' % res.hang)
    if res.error:
        p.append('driver error: %s' % res.error)
    m = SANITIZER_RE.search(res.stderr or '')
    if m:
        p.append('stderr: %s' % m.group(0))
    if res.fail and res.report.get('fail.injected', 0) != 1 and \
            not (res.signal and not res.report):
        p.append('fail.injected %s, not 1' % res.report.get('fail.injected'))
    if res.exited_at_start:
        msg = (res.stderr or '').strip()
        if res.rc != 1:
            p.append('exit at start with status %s' % res.rc)
        want = ERRNO_TEXT.get(injected_errno or '', '')
        if not msg:
            p.append('exit at start without a message')
        elif want and want.lower() not in msg.lower():
            p.append('exit message does not name the error (%s): %s'
                     % (want, msg.splitlines()[-1][:200]))
        return p
    if res.alive_at_end is False and not res.signal and not res.hang:
        p.append('QEMU exited during the run (status %s)' % res.rc)
    for step, st, d in res.steps:
        if st == 'wrong':
            p.append('%s: DMA went wrong: %s' % (step, d))
        if step == 'quit' and st != 'ok':
            p.append('quit: %s' % d)
    if not p:
        last = [s for s in ('dma2',) if res.status(s) is not None]
        if res.status('replug') == 'error':
            p.append('replug failed twice: %s' % [d for s, _, d in res.steps
                                                  if s == 'replug'])
        elif not last:
            p.append('did not get to the DMA after the re-plug (%s)'
                     % res.summary())
        elif res.status('dma2') not in ('ok', 'recovered'):
            p.append('the device does not work after the re-plug: %s'
                     % [d for s, _, d in res.steps if s == 'dma2'])
        for s in ('unplug', 'unplug2'):
            if res.status(s) not in ('ok', None):
                p.append('%s: %s' % (s, [d for x, _, d in res.steps
                                         if x == s]))
    tracker = ObjTracker()
    tracker.feed(res.log)
    if tracker.left_at_close and injected_op not in ('DESTROY', 'DETACH'):
        # The kernel frees them when QEMU closes /dev/iommu, which QEMU
        # does when its last device goes; but with an iommufd that stays
        # open (libvirt passes one with fd=, another device uses it) they
        # stay for the life of the VM.  Only a refused DESTROY or DETACH
        # (the kernel kept the object in use) is an excuse.
        p.append('QEMU did not destroy host objects it made, left them to '
                 'the close of /dev/iommu: %s'
                 % ', '.join('%s %d' % o for o in tracker.left_at_close))
    # With an iommufd passed in, QEMU holds it to the end: the report,
    # written at exit, has that context open; nothing may be live in it,
    # unless the host refused a DESTROY or DETACH (the kernel keeps the
    # object in use then).
    excused = res.iommufd == 'fd' and injected_op in ('DESTROY', 'DETACH')
    contexts = 1 if res.iommufd == 'fd' else 0
    if res.report and not excused:
        if res.report.get('live.all') != 0 or \
                res.report.get('contexts', 0) > contexts:
            p.append('host objects left at exit: live.all %s contexts %s (%s)'
                     % (res.report.get('live.all'),
                        res.report.get('contexts'),
                        ' '.join('%s=%s' % (k, v) for k, v in
                                 sorted(res.report.items())
                                 if k.startswith('live.') and v)))
    elif not res.report and not res.signal:
        p.append('no simulator report')
    return p
