#!/usr/bin/env python3
"""`make fuzz`: the guest-input fuzzer (tests/fuzz/viommu_fuzz.py) against
an ASan/UBSan/gcov QEMU (build/obj-fuzz: ASAN_GCOV=1 scripts/build-asan.sh) with
simulated host devices, for intel-iommu x-flts=on and arm-smmuv3
accel=on.  Prints inputs, operations per input, executions per second and
crashes while it runs; at the end the line coverage of
hw/i386/intel_iommu_accel.c and hw/arm/smmuv3-accel.c (gcov), and writes
docs/fuzz.md.

  scripts/fuzz.py [--inputs N] [--seed S] [--targets vtd,smmu] [--batch B]
                  [--out DIR] [--no-doc] [--start I]
  scripts/fuzz.py --replay FILE.json     # run a saved reproducer

Environment: QEMU_OBJ_ASAN (build/obj-asan; make fuzz: build/obj-fuzz; a
build without gcov gives no coverage), IOMMUFD_SIM_LIB
(build/sim/libiommufd-sim.so), QEMU_WT (the work tree, for gcov's
sources; build/qemu).

Crashes go to DIR/crash-TARGET-INDEX.json (DIR: build/fuzz), each with
the command that replays it.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import concurrent.futures
import datetime
import glob
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / 'tests' / 'fuzz'))
import viommu_fuzz as vf  # noqa: E402
import lf_engine  # noqa: E402

COVER = {'vtd': 'hw/i386/intel_iommu_accel.c',
         'smmu': 'hw/arm/smmuv3-accel.c'}
# the object files (meson's names) whose .gcda/.gcno hold them
OBJFILE = {'vtd': 'libsystem_i386.a.p/hw_i386_intel_iommu_accel.c',
           'smmu': 'libsystem_arm.a.p/hw_arm_smmuv3-accel.c'}


def find_gcno(obj, target):
    """The .gcno of the file under @obj (meson names it after the source)."""
    base = os.path.basename(COVER[target])
    hits = glob.glob(os.path.join(obj, '**', '*' + base.replace('/', '_') +
                                  '.gcno'), recursive=True)
    return hits[0] if hits else None


def coverage(obj, prefix, target):
    """(lines executed, lines) of COVER[target] from the .gcda files
    written under @prefix (GCOV_PREFIX) and the .gcno in @obj."""
    gcno = find_gcno(obj, target)
    if not gcno:
        return None
    gcda = os.path.join(prefix, gcno.lstrip('/')[:-len('.gcno')] + '.gcda')
    if not os.path.exists(gcda):
        return (0, None)
    work = os.path.join(prefix, 'gcov-' + target)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    stem = os.path.join(work, os.path.basename(gcno)[:-len('.gcno')])
    shutil.copy(gcno, stem + '.gcno')
    shutil.copy(gcda, stem + '.gcda')
    out = subprocess.run(['gcov', '-n', '-o', work, stem + '.gcda'],
                         cwd=obj, capture_output=True, text=True).stdout
    m = re.search(r"File '[^']*%s'\nLines executed:([\d.]+)%% of (\d+)"
                  % re.escape(os.path.basename(COVER[target])), out)
    if not m:
        return (0, None)
    total = int(m.group(2))
    return (round(float(m.group(1)) * total / 100), total)


def fuzz_target(name, args, prefix):
    target = vf.TARGETS[name]()
    out = os.path.join(args.out, name)
    os.makedirs(out, exist_ok=True)
    runner = vf.Runner(target, obj=args.obj, timeout=args.timeout,
                       workdir=os.path.join(out, 'run'))
    runner.env_extra = {'GCOV_PREFIX': prefix, 'GCOV_PREFIX_STRIP': '0'}
    crashes = []
    batch = []
    ops = 0
    t0 = last = time.monotonic()
    i = args.start
    end = args.start + args.inputs
    first = [i]                 # first input of the running QEMU

    def crash(c, idx):
        path = os.path.join(out, 'crash-%s-%d.json' % (name, idx))
        vf.save_reproducer(path, target, args.seed, list(batch), c,
                           history=(first[0], idx), batch=args.batch)
        crashes.append((idx, c.kind, path))
        print('CRASH %s input %d: %s\n  saved %s\n  replay: %s --replay %s'
              % (name, idx, c.kind, path, sys.argv[0], path), flush=True)
        print('\n'.join('  | ' + ln for ln in c.detail.splitlines()[:40]),
              flush=True)

    try:
        runner.start()
        since_start = 0
        while i < end:
            prog = vf.program_for(target, args.seed, i, fresh=not batch)
            batch.append(prog)
            ops += len(prog)
            try:
                runner.run_program(prog)
                if len(batch) >= args.batch:
                    runner.reset()
                    batch = []
                since_start += 1
                if since_start >= args.restart_every:
                    runner.stop()
                    runner.start()
                    first[0] = i + 1
                    batch = []
                    since_start = 0
            except vf.Crash as c:
                crash(c, i)
                if runner.q:
                    runner.q.kill()
                    runner.q = None
                batch = []
                since_start = 0
                first[0] = i + 1
                runner.start()
            i += 1
            now = time.monotonic()
            if now - last >= args.progress:
                last = now
                n = i - args.start
                print('%s: %d inputs, %.1f ops/input, %.0f exec/s, %d crashes'
                      % (name, n, ops / n, n / (now - t0), len(crashes)),
                      flush=True)
                write_status(out, {'inputs': n, 'ops': ops,
                                   'secs': now - t0, 'crashes': crashes,
                                   'restarts': runner.starts - 1,
                                   'done': False})
        try:
            runner.stop()
        except vf.Crash as c:
            crash(c, i - 1)
    except KeyboardInterrupt:
        if runner.q:
            try:
                runner.stop()
            except vf.Crash:
                pass
        print('%s: interrupted' % name)
    n = i - args.start
    secs = time.monotonic() - t0
    res = {'inputs': n, 'ops': ops, 'secs': secs, 'crashes': crashes,
           'restarts': runner.starts - 1, 'done': n >= args.inputs}
    write_status(out, res)
    return res


def write_status(out, res):
    with open(os.path.join(out, 'status.json.tmp'), 'w') as f:
        json.dump(res, f)
    os.replace(os.path.join(out, 'status.json.tmp'),
               os.path.join(out, 'status.json'))


def _fuzz_one(job):
    name, args, prefix = job
    return name, fuzz_target(name, args, prefix)


def signature(path):
    """What a saved crash is: its sanitizer line and first QEMU frame."""
    try:
        with open(path) as f:
            detail = json.load(f).get('detail') or ''
    except (OSError, ValueError):
        return 'unknown'
    for ln in detail.splitlines():
        if 'Assertion' in ln or 'assertion failed' in ln:
            return ln.strip().replace('`', "'")
    first = frame = None
    for ln in detail.splitlines():
        if first is None and re.search(r'runtime error:|ERROR: \w+Sanitizer|'
                                       r'Assertion|assertion', ln):
            first = re.sub(r'0x[0-9a-f]+', '0x...', ln.strip())
            first = re.sub(r'==\d+==', '', first)
        elif first is not None and frame is None:
            m = re.search(r'#\d+ 0x[0-9a-f]+ in (\S+) (\S+)', ln)
            if m and '../qemu/' in m.group(2):
                frame = '%s (%s)' % (m.group(1), m.group(2))
    if first is None:
        return 'no sanitizer report'
    return (first + (' in ' + frame if frame else '')).replace('`', "'")


DOC_HEAD = [
    '# Fuzzing the nested vIOMMUs (`make fuzz`)',
    '',
    'Written by `scripts/fuzz.py` (do not edit by hand; each engine rewrites',
    'its own section).  How the fuzzers work and why:',
    '[tests/fuzz/README.md](../tests/fuzz/README.md).',
    '',
]


def update_doc(path, engine, lines):
    """Replace @engine's section of @path (between its markers)."""
    begin, end = '<!-- engine:%s -->' % engine, '<!-- /engine:%s -->' % engine
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = ''
    if '<!-- engine:' not in text:
        text = '\n'.join(DOC_HEAD) + '\n'
    block = '\n'.join([begin] + lines + [end])
    if begin in text:
        pre, rest = text.split(begin, 1)
        text = pre + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + '\n\n' + block + '\n'
    with open(path, 'w') as f:
        f.write(text)


def lines_text(c):
    """(covered, total) as 'N/M lines (P%)', 'n/a' without data."""
    if not c or not c[1]:
        return 'n/a'
    return '%d/%d lines (%.1f%%)' % (c[0], c[1], 100.0 * c[0] / c[1])


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M UTC')


def write_doc(path, args, results, cov, cmd):
    lines = [
        '## qtest engine: structure-aware programs over the qtest protocol',
        '',
        '- Command: `%s`' % cmd,
        '- Seed: `%s`, first input index %d, %d programs per system_reset'
        % (args.seed, args.start, args.batch),
        '- Date: %s; QEMU: `%s` (ASan + UBSan + gcov)' % (now_utc(), args.obj),
        '- An input is one generated program (PCI setup, vIOMMU tables and',
        '  enabling, then invalidations, table edits, register writes, DMA',
        '  from the simulated device, hot-plug/unplug; some fields mutated).',
        '',
        '| vIOMMU | inputs | ops/input | exec/s | time | crashes | '
        'coverage |',
        '|---|---|---|---|---|---|---|',
    ]
    for name, r in results.items():
        cs = '%s: %s' % (COVER[name], lines_text(cov.get(name)))
        if r.get('done', True):
            state = ''
        elif args.status:
            state = ' (stopped or running; of %d)' % args.inputs
        else:
            state = ' (interrupted; of %d)' % args.inputs
        lines.append('| %s%s | %d | %.1f | %.1f | %.0f s | %d | %s |'
                     % (name, state,
                        r['inputs'], r['ops'] / max(1, r['inputs']),
                        r['inputs'] / max(r['secs'], 1e-9), r['secs'],
                        len(r['crashes']), cs))
    lines.append('')
    any_crash = False
    for name, r in results.items():
        sigs = {}
        for idx, kind, p in r['crashes']:
            sigs.setdefault(signature(p), []).append((idx, kind, p))
        for sig, hits in sigs.items():
            if not any_crash:
                lines += ['### Crashes', '',
                          'Grouped by sanitizer report and first QEMU frame; '
                          'analysis and reproducers: tests/fuzz/README.md '
                          '(Findings), tests/fuzz/regressions/.', '']
                any_crash = True
            idx, kind, p = hits[0]
            lines.append('- %s, %d crash(es), first at input %d (%s): `%s`; '
                         '`scripts/fuzz.py --replay %s`'
                         % (name, len(hits), idx, kind, sig,
                            os.path.relpath(p, TOP)))
    if not any_crash:
        lines += ['No crashes.']
    update_doc(path, 'qtest', lines)


def lf_summary(name, r, c):
    cs = lines_text(c)
    return ('%s: %d inputs, %.0f exec/s, %d crashes, %d corpus entries, '
            'coverage of %s: %s' % (name, r['inputs'],
                                   r['inputs'] / max(r['secs'], 1e-9),
                                   len(r['crashes']), r['corpus'],
                                   COVER[name], cs))


def write_lf_doc(path, args, results, cov, cmd):
    lines = [
        '## libFuzzer engine: in process, coverage-guided',
        '',
        '- Command: `%s`' % cmd,
        '- Seed: `%s`; %d generated seed programs per vIOMMU (the qtest '
        'engine\'s generator), %d inputs per system_reset'
        % (args.seed, args.seeds, args.batch),
        '- Date: %s; QEMU: `%s` (clang, libFuzzer, ASan + UBSan, '
        'source-based coverage)' % (now_utc(), args.lf_obj),
        '- Both vIOMMUs at once, one libFuzzer process each, on a %d-core '
        'machine' % os.cpu_count(),
        '- An input is one program of the target\'s operations '
        '(tests/fuzz/libfuzzer/viommu_prog_fuzz.c), mutated by libFuzzer '
        'from the seeds and from what gave new coverage; inputs include '
        'the seeds\' first execution.',
        '',
        '| vIOMMU | inputs | exec/s | time | crashes | corpus | coverage |',
        '|---|---|---|---|---|---|---|',
    ]
    for name, r in results.items():
        cs = '%s: %s' % (COVER[name], lines_text(cov.get(name)))
        lines.append('| %s | %d | %.0f | %.0f s | %d | %d | %s |'
                     % (name, r['inputs'], r['inputs'] / max(r['secs'], 1e-9),
                        r['secs'], len(r['crashes']), r['corpus'], cs))
    lines.append('')
    crashes = [(n, c) for n, r in results.items() for c in r['crashes']]
    for name, c in crashes:
        lines.append('- %s, after %d inputs: `%s`; artifacts: %s'
                     % (name, c['after'], c['report'].replace('`', "'"),
                        ', '.join(os.path.relpath(a, TOP)
                                  for a in c['artifacts']) or 'none'))
    if not crashes:
        lines.append('No crashes.')
    update_doc(path, 'libfuzzer', lines)


def main_libfuzzer(args):
    names = args.targets.split(',')
    for name in names:
        b = os.path.join(args.lf_obj, lf_engine.BINARY[name])
        if not os.access(b, os.X_OK):
            sys.exit('%s not found: run scripts/build-libfuzzer.sh' % b)
    out = os.path.join(args.out, 'libfuzzer')
    os.makedirs(out, exist_ok=True)

    def one(name):
        log = os.path.join(out, name + '.log')
        if os.path.exists(log):
            os.unlink(log)
        print('%s: libFuzzer log %s' % (name, os.path.relpath(log, TOP)),
              flush=True)
        return name, lf_engine.run_target(
            name, args.lf_obj, out, args.inputs, args.seed, args.seeds,
            args.batch, args.timeout, log)

    with concurrent.futures.ThreadPoolExecutor(len(names)) as ex:
        results = dict(ex.map(one, names))
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    cov = {}
    for name in names:
        cov[name] = lf_engine.coverage(name, args.lf_obj, out, COVER[name])
        print(lf_summary(name, results[name], cov[name]), flush=True)
        for c in results[name]['crashes']:
            print('  CRASH after %d inputs: %s\n    %s' % (
                c['after'], c['report'], ' '.join(c['artifacts'])))
    if not args.no_doc:
        write_lf_doc(args.doc, args, results, cov,
                     ' '.join(['scripts/fuzz.py'] + sys.argv[1:]))
        print('wrote %s' % os.path.relpath(args.doc, TOP))
    return 1 if any(r['crashes'] for r in results.values()) else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--inputs', type=int,
                    default=int(os.environ.get('FUZZ_INPUTS', 1000000)))
    ap.add_argument('--seed', default=os.environ.get('FUZZ_SEED', '1'))
    ap.add_argument('--start', type=int, default=0)
    ap.add_argument('--targets', default='vtd,smmu')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--restart-every', type=int, default=5000)
    ap.add_argument('--timeout', type=int, default=20)
    ap.add_argument('--progress', type=float, default=30)
    ap.add_argument('--obj', default=vf.default_obj())
    ap.add_argument('--out', default=str(TOP / 'build' / 'fuzz'))
    ap.add_argument('--doc', default=str(TOP / 'docs' / 'fuzz.md'))
    ap.add_argument('--no-doc', action='store_true')
    ap.add_argument('--replay')
    ap.add_argument('--parallel', action='store_true',
                    help='fuzz the targets at the same time (one process '
                    'each)')
    ap.add_argument('--status', action='store_true',
                    help='write docs/fuzz.md from a running (or finished) '
                    'run\'s status files and gcov data so far')
    ap.add_argument('--engine', choices=('qtest', 'libfuzzer'),
                    default=os.environ.get('FUZZ_ENGINE', 'qtest'),
                    help='qtest: the structure-aware qtest driver; '
                    'libfuzzer: in process, its seeds from the same '
                    'generator (scripts/build-libfuzzer.sh)')
    ap.add_argument('--seeds', type=int, default=2000,
                    help='libfuzzer: generated seed programs per vIOMMU')
    ap.add_argument('--lf-obj', default=os.environ.get(
        'QEMU_OBJ_LF', str(TOP / 'build' / 'obj-libfuzzer')))
    ap.add_argument('--full', action='store_true',
                    help='with --replay: every input since QEMU started')
    args = ap.parse_args()

    if args.replay:
        c = vf.replay(args.replay, obj=args.obj, timeout=args.timeout,
                      full=args.full)
        if c:
            print('crash: %s\n%s' % (c.kind, c.detail))
            return 1
        print('no crash')
        return 0

    if args.engine == 'libfuzzer':
        return main_libfuzzer(args)
    for name in args.targets.split(','):
        q = os.path.join(args.obj, vf.TARGETS[name].qemu)
        if not os.access(q, os.X_OK):
            sys.exit('%s not found: run scripts/build-asan.sh' % q)
    prefix = os.path.join(args.out, 'gcov')
    cmd = ' '.join(['scripts/fuzz.py'] + sys.argv[1:])
    results, cov = {}, {}
    names = args.targets.split(',')
    if args.status:
        cmd = os.environ.get('FUZZ_CMD', cmd.replace(' --status', ''))
        for name in names:
            with open(os.path.join(args.out, name, 'status.json')) as f:
                results[name] = json.load(f)
    else:
        shutil.rmtree(prefix, ignore_errors=True)
        os.makedirs(prefix)
        if args.parallel:
            with multiprocessing.Pool(len(names)) as pool:
                results = dict(pool.map(_fuzz_one, [(n, args, prefix)
                                                    for n in names]))
        else:
            for name in names:
                results[name] = fuzz_target(name, args, prefix)
    for name in names:
        cov[name] = coverage(args.obj, prefix, name)
        r = results[name]
        print('%s: %d inputs, %.1f ops/input, %.0f exec/s, %d crashes, '
              'coverage of %s: %s'
              % (name, r['inputs'], r['ops'] / max(1, r['inputs']),
                 r['inputs'] / max(r['secs'], 1e-9), len(r['crashes']),
                 COVER[name], lines_text(cov[name])), flush=True)
    if not args.no_doc:
        write_doc(args.doc, args, results, cov, cmd)
        print('wrote %s' % os.path.relpath(args.doc, TOP))
    return 1 if any(r['crashes'] for r in results.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
