#!/usr/bin/env python3
"""make sweep: the fault-injection sweep of tests/qemu/test-fault-sweep.py
(every host call of the scenario in tests/lib/scenario.py failed once, for
intel-iommu x-flts=on and arm-smmuv3 accel=on), with the table and every
failed case written to docs/reliability.md.  Exit status 1 if a case
failed.

Options: --jobs N (QEMUs at a time, default 2), --vendor vtd|smmuv3
(default both), --no-doc (print only), --keep DIR (keep the logs of the
failed cases in DIR), --case VENDOR[/fd]:OP:N:ERRNO (one case, with
QEMU's stderr and the simulator log: a reproducer).
Env: QEMU_SYSTEM_X86_64, IOMMUFD_SIM_LIB (tests/lib/qemutest.py).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import datetime
import os
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests', 'lib'))
import faultsweep as fs  # noqa: E402
import qemutest  # noqa: E402
import scenario as sc  # noqa: E402
import reliability_doc as doc  # noqa: E402


def errno_table(ops):
    lines = ['| op | errno | why |', '|---|---|---|']
    for op in sorted(set(sc.FAIL_ERRNO) | set(ops)):
        lines.append('| %s | %s | %s%s |'
                     % (op, sc.fail_errno(op), sc.fail_why(op),
                        '' if op in ops else ' (not reached by the '
                        'scenario)'))
    return '\n'.join(lines)


def one_case(text):
    who, spec = text.split(':', 1)
    vendor, _, mode = who.partition('/')
    op, n, err = spec.split(':')
    with tempfile.TemporaryDirectory(prefix='sweep-') as tmp:
        c = fs.Case(vendor, op, int(n), '?', mode or 'own')
        c.errno, c.spec = err, spec
        res = sc.run_scenario(vendor, tmp, fail=spec, iommufd=c.mode)
        c.result = res
        c.problems = sc.judge(res, op, err)
    print('%s %s: %s' % (fs.name(c), spec, '; '.join(c.problems) or
                         'QEMU copes'))
    for step in res.steps:
        print('  %-10s %-9s %s' % step)
    print('QEMU exit status %s; stderr:\n%s' % (res.rc, res.stderr))
    print('simulator log (end):\n' + '\n'.join(res.log[-40:]))
    print('report: ' + ' '.join('%s=%s' % kv for kv in
                                 sorted(res.report.items())
                                 if kv[0].startswith(('live', 'contexts',
                                                      'fail')) and kv[1]))
    return 1 if c.problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--vendor', choices=sorted(sc.VENDORS), action='append')
    ap.add_argument('--no-doc', action='store_true')
    ap.add_argument('--keep')
    ap.add_argument('--case', metavar='VENDOR[/fd]:OP:N:ERRNO',
                    help='run one case (e.g. vtd:ATTACH:6:ENOMEM, '
                    'smmuv3/fd:DESTROY:3:EBUSY) and print its steps, '
                    'QEMU\'s stderr and the simulator log\'s end')
    args = ap.parse_args()
    vendors = args.vendor or list(sc.VENDORS)
    if args.case:
        return one_case(args.case)
    missing = sc.missing_binaries(10)
    if missing:
        sys.exit('sweep: not found: %s (make build sim)'
                 % ' '.join(missing))

    with tempfile.TemporaryDirectory(prefix='sweep-') as tmp:
        cases, base = [], {}
        for v, mode in ((v, m) for m in fs.MODES for v in vendors):
            res, problems, vc = fs.baseline(v, tmp, mode)
            what = v + (' fd=' if mode == 'fd' else '')
            base[what] = (res, problems, len(vc))
            print('%s: baseline %s, %d calls to inject%s'
                  % (what, res.summary(), len(vc),
                     '; PROBLEMS: ' + '; '.join(problems) if problems
                     else ''), flush=True)
            cases += vc
        done = [0]

        def progress(c):
            done[0] += 1
            if not c.passed:
                print('FAIL ' + fs.describe(c), flush=True)
            elif done[0] % 50 == 0:
                print('... %d/%d' % (done[0], len(cases)), flush=True)

        seconds = fs.run_all(cases, tmp, workers=args.jobs,
                             progress=progress)
    rows = fs.table(cases)
    failed = [c for c in cases if not c.passed]
    print(fs.format_table(rows))
    print('%d runs, %d failed, %.0f s with %d QEMUs at a time'
          % (len(cases), len(failed), seconds, args.jobs))
    if args.keep and failed:
        os.makedirs(args.keep, exist_ok=True)
        for c in failed:
            path = os.path.join(args.keep, '%s-%s-%s.txt'
                                % (c.vendor, c.mode,
                                   c.spec.replace(':', '-')))
            with open(path, 'w') as f:
                f.write(fs.describe(c) + '\n\nstderr:\n' + c.result.stderr +
                        '\nlog tail:\n' + '\n'.join(c.log_tail) + '\n')

    if not args.no_doc:
        text = ['## Fault-injection sweep', '',
                'Written by `make sweep` (scripts/sweep.py) on %s UTC: %s, '
                'repository at %s.  The same matrix runs in `make check` as '
                'tests/qemu/test-fault-sweep.py.'
                % (datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M'),
                   doc.qemu_version(sc.qemu_binary('x86_64')),
                   doc.series_head()), '',
                'The scenario, per vendor: cold-plug a simulated VFIO '
                'device; the guest enables the vIOMMU and binds it '
                '(VT-d: scalable-mode root/context/PASID entry with a '
                '4-level first-stage table; SMMUv3: STE with a stage-1 CD); '
                'DMA; remap + invalidation (VT-d invalidation queue; SMMUv3 '
                'CMDQ TLBI_NH_VA + CMD_SYNC) + DMA; system_reset; '
                'hot-unplug; hot-plug; bind; DMA; unplug; quit.  A run '
                'without injection counts every host call '
                '(IOMMUFD_SIM_LOG); then each call n of each op is failed '
                'once (IOMMUFD_SIM_FAIL=OP:n:ERRNO).', '',
                'A case survives when: QEMU is alive and answers QMP to the '
                'end (or, for a failure while the cold-plugged device is '
                'realized, exits with status 1 and a message naming the '
                'error); no signal, abort, hang (every wait is bounded) or '
                'sanitizer report; no DMA lands where the guest\'s tables '
                'do not send it (a fault, an error status or a blocked '
                'device is fine); after the guest\'s retry and the re-plug '
                'the device works; the call was failed exactly once; and '
                'after the final unplug and quit nothing is left on the '
                'host (live.all 0, no open context), nor anything QEMU made '
                'and left for the kernel to free at the close of /dev/iommu '
                '(which stays for the life of the VM when the iommufd is '
                'passed in with fd=, as libvirt does), unless the failed call '
                'was a DESTROY or DETACH the host refused.', '',
                'Runs: %d, failed: %d, %.0f s with %d QEMUs at a time.'
                % (len(cases), len(failed), seconds, args.jobs), '']
        for v in base:
            res, problems, n = base[v]
            text.append('- %s baseline: %s%s' % (v, res.summary(),
                        ' (PROBLEMS: %s)' % '; '.join(problems)
                        if problems else ''))
        text = [textwrap.fill(t, 76) if t and t[0].isalpha() else t
                for t in text]
        text += ['', fs.format_table(rows, markdown=True), '']
        if failed:
            text += ['### Failed cases (expected to fail until QEMU is '
                     'fixed)', '']
            for c in failed:
                d = fs.describe(c).splitlines()
                text.append('- `%s %s`: %s' % (fs.name(c), c.spec,
                                               d[0].split(': ', 1)[1]))
                for extra in d[1:]:
                    text.append('  ' + extra.strip().replace('|', '\\|'))
            text.append('')
        text += ['### Errno per op', '', errno_table({c.op for c in cases})]
        print('wrote %s' % doc.write_section('sweep', '\n'.join(text)))
    return 1 if failed or any(p for _, p, _ in base.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
