"""The fault-injection sweep over tests/lib/scenario.py: a baseline run per
vendor counts the host calls (the simulator's log), then every call n of
every op OP the scenario reaches is failed once with
IOMMUFD_SIM_FAIL=OP:n:ERRNO (scenario.FAIL_ERRNO) and the run judged
(scenario.judge).  Used by tests/qemu/test-fault-sweep.py (TAP) and
scripts/sweep.py (writes docs/reliability.md).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import concurrent.futures
import re
import time

import scenario as sc

PHASE_NAMES = {
    'start': 'startup (realize, first reset)',
    'firmware': 'firmware',
    'bind': 'bind (vIOMMU on)',
    'dma': 'DMA / retry bind',
    'invalidate': 'invalidation',
    'reset': 'system_reset',
    'unplug': 'hot-unplug',
    'replug': 'hot-plug',
    'firmware2': 'firmware',
    'bind2': 'bind after hot-plug',
    'dma2': 'DMA after hot-plug',
    'unplug2': 'final unplug',
    'quit': 'quit',
}


MODES = {'own': 'opened by QEMU', 'fd': 'fd= (libvirt)'}


class Case:
    def __init__(self, vendor, op, n, phase, mode='own'):
        self.vendor, self.op, self.n, self.phase = vendor, op, n, phase
        self.mode = mode
        self.errno = sc.fail_errno(op)
        self.spec = '%s:%d:%s' % (op, n, self.errno)
        self.result = None
        self.problems = None

    @property
    def passed(self):
        return self.problems == []


def baseline(vendor, tmp, mode='own'):
    """The uninjected run: its Result, its problems, and the cases.
    @mode: how QEMU gets its iommufd (MODES, scenario.run_scenario)."""
    res = sc.run_scenario(vendor, tmp, tag='%s-%s-baseline' % (vendor, mode),
                          marks=True, iommufd=mode)
    problems = sc.judge(res)
    cases = []
    for op, phases in sorted(res.phase_of_calls().items()):
        for n, phase in enumerate(phases, 1):
            cases.append(Case(vendor, op, n, phase, mode))
    return res, problems, cases


def run_case(case, tmp):
    res = sc.run_scenario(case.vendor, tmp, fail=case.spec,
                          iommufd=case.mode)
    case.result = res
    case.problems = sc.judge(res, case.op, case.errno)
    tracker = sc.ObjTracker()
    tracker.feed(res.log)
    # what QEMU left for the kernel to free when it closed /dev/iommu
    case.left_at_close = tracker.left_at_close
    # keep the memory down: the log is only needed for a failure
    case.log_tail = res.log[-40:] if case.problems else []
    res.log = []
    return case


def run_all(cases, tmp, workers=2, progress=None):
    """Run @cases, @workers QEMUs at a time."""
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        futs = [ex.submit(run_case, c, tmp) for c in cases]
        for f in concurrent.futures.as_completed(futs):
            c = f.result()
            if progress:
                progress(c)
    return time.monotonic() - t0


def ranges(ns):
    """[1,2,3,5] -> '1-3,5'"""
    out = []
    for n in sorted(ns):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ','.join('%d' % a if a == b else '%d-%d' % (a, b)
                    for a, b in out)


def table(cases):
    """Rows (vendor, iommufd, op, errno, phase, 'n values', survived,
    total): one row per op and phase."""
    rows = {}
    order = []
    for c in cases:
        key = (c.vendor, c.mode, c.op, c.phase)
        if key not in rows:
            rows[key] = []
            order.append(key)
        rows[key].append(c)
    out = []
    for key in order:
        cs = rows[key]
        out.append((key[0], MODES[key[1]], key[2], cs[0].errno,
                    PHASE_NAMES.get(key[3], key[3]),
                    ranges(c.n for c in cs),
                    sum(1 for c in cs if c.passed), len(cs)))
    return out


def format_table(rows, markdown=False):
    head = ('vendor', 'iommufd', 'op', 'errno', 'call site (scenario step)',
            'n', 'survived')
    body = [r[:6] + ('%d/%d' % (r[6], r[7]),) for r in rows]
    if markdown:
        lines = ['| ' + ' | '.join(head) + ' |',
                 '|' + '---|' * len(head)]
        lines += ['| ' + ' | '.join(b) + ' |' for b in body]
        return '\n'.join(lines)
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    return '\n'.join('  '.join(x[i].ljust(w[i]) for i in range(len(head)))
                     .rstrip() for x in [head] + body)


def name(case):
    """'vtd', 'vtd fd=' ..."""
    return case.vendor + (' fd=' if case.mode == 'fd' else '')


def describe(case):
    """A failed case, for a diagnostic or the report."""
    r = case.result
    lines = ['%s %s (%s): %s' % (name(case), case.spec,
                                 PHASE_NAMES.get(case.phase, case.phase),
                                 '; '.join(case.problems))]
    lines.append('  steps: %s' % r.summary())
    # not the CPU register dump of a hw_error(), nor known warnings
    err = [ln for ln in (r.stderr or '').splitlines()
           if 'KVM VFIO device' not in ln and 'VEVENTQ' not in ln and
           not re.match(r'^(CPU #|[A-Z][A-Z0-9]*[ =]+[0-9a-fA-F])', ln)]
    if err:
        lines.append('  stderr: ' + ' | '.join(err[-4:])[:600])
    return '\n'.join(lines)
