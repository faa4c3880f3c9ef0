#!/usr/bin/python3
"""make bench: the same guest DMA workload in shadow and in nested mode.

Boots the demo guest (Debian kernel + simdma module) once per mode with the
workload and once with an empty workload, so that QEMU's CPU time per
operation excludes booting.  Prints a table and writes it to
docs/bench.md.  It only measures; nothing here asserts a speed.

  bench.py [--iterations N] [--modes shadow,nested]
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / 'scripts'))
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location('guest_run',
                                               TOP / 'scripts' /
                                               'guest-run.py')
guest_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(guest_run)


def measure(mode, iterations):
    idle = guest_run.run(mode, 0)
    busy = guest_run.run(mode, iterations)
    rep, rep0 = busy['report'], idle['report']

    def delta(key):
        return rep.get(key, 0) - rep0.get(key, 0)
    ok = (busy['rc'] == 0 and busy.get('cycles') == iterations and
          busy.get('mismatches') == 0 and busy.get('faults') == 0)
    unmaps = 2 * iterations                 # two buffers per cycle
    host = delta('ioctl.IOAS_MAP') + delta('ioctl.IOAS_UNMAP') + \
        delta('ioctl.HWPT_INVALIDATE')
    cpu = busy['qemu_cpu_s'] - idle['qemu_cpu_s']
    return {
        'mode': mode, 'ok': ok,
        'ops_per_s': busy.get('ops_per_s', 0),
        'mismatches': busy.get('mismatches', '?'),
        'host_per_unmap': host / unmaps if unmaps else 0,
        'cpu_us_per_op': cpu * 1e6 / iterations if iterations else 0,
        'inv_entries': delta('inv.entries'),
        'inv_calls': delta('inv.calls'),
        'ioas_map': delta('ioctl.IOAS_MAP'),
        'ioas_unmap': delta('ioctl.IOAS_UNMAP'),
    }


def table(rows, iterations):
    head = ['', *[r['mode'] for r in rows]]
    lines = [
        ('guest DMA map+unmap cycles/s', ['%d' % r['ops_per_s']
                                          for r in rows]),
        ('data mismatches', ['%s' % r['mismatches'] for r in rows]),
        ('host ioctls per guest unmap', ['%.2f' % r['host_per_unmap']
                                         for r in rows]),
        ('QEMU CPU time per cycle (us)', ['%.0f' % r['cpu_us_per_op']
                                          for r in rows]),
        ('IOAS_MAP / IOAS_UNMAP calls', ['%d / %d' % (r['ioas_map'],
                                                      r['ioas_unmap'])
                                         for r in rows]),
        ('invalidation entries / host calls',
         ['%d / %d' % (r['inv_entries'], r['inv_calls']) for r in rows]),
        ('run completed', ['yes' if r['ok'] else 'NO' for r in rows]),
    ]
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '---|' * len(head)]
    out += ['| %s | %s |' % (name, ' | '.join(vals)) for name, vals in lines]
    return '\n'.join(out)


ARM_PAGES = (1, 4, 16)
ARM_REPEATS = 3


def measure_arm64(pages, iterations):
    """One arm64 run: simdma buffers of @pages 4 KiB pages behind
    arm-smmuv3 accel=on,ril=off, where the guest's arm-smmu-v3 driver
    invalidates an unmapped buffer with one TLBI_NH_VA per page and one
    CMD_SYNC.  The series sends the commands of one CMD_SYNC in one
    HWPT_INVALIDATE; a per-command design would make one call each."""
    r = guest_run.run('nested', iterations, arch='arm64',
                      extra_append='simdma.size=%d' % (pages * 4096),
                      smmu_props={'ril': 'off'})
    rep = r['report']
    unmaps = 2 * iterations
    return {
        'ok': (r['rc'] == 0 and r.get('cycles') == iterations and
               r.get('mismatches') == 0 and r.get('faults') == 0),
        'ops_per_s': r.get('ops_per_s', 0),
        'entries_per_call': (rep.get('inv.entries', 0) /
                             max(rep.get('inv.calls', 0), 1)),
        'calls_per_unmap': rep.get('inv.calls', 0) / unmaps,
        'entries_per_unmap': rep.get('inv.entries', 0) / unmaps,
    }


def med_range(vals, fmt):
    vals = sorted(vals)
    return '%s (%s-%s)' % (fmt % vals[len(vals) // 2], fmt % vals[0],
                           fmt % vals[-1])


def arm64_table(iterations):
    runs = {p: [] for p in ARM_PAGES}
    for i in range(ARM_REPEATS):            # interleaved: p1 p4 p16 p1 ...
        for p in ARM_PAGES:
            print('bench: arm64, %d-page buffers, run %d/%d, %d cycles...'
                  % (p, i + 1, ARM_REPEATS, iterations), flush=True)
            runs[p].append(measure_arm64(p, iterations))
    rows = [
        ('guest DMA map+unmap cycles/s', 'ops_per_s', '%d'),
        ('guest invalidation commands per CMD_SYNC (= entries per host call)',
         'entries_per_call', '%.2f'),
        ('host HWPT_INVALIDATE calls per guest unmap (this series)',
         'calls_per_unmap', '%.2f'),
        ('host calls per guest unmap, one call per command',
         'entries_per_unmap', '%.2f'),
    ]
    head = ['', *['%d page%s' % (p, 's' if p > 1 else '')
                  for p in ARM_PAGES]]
    out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, key, fmt in rows:
        out.append('| %s | %s |' % (name, ' | '.join(
            med_range([r[key] for r in runs[p]], fmt) for p in ARM_PAGES)))
    out.append('| runs completed | %s |' % ' | '.join(
        '%d/%d' % (sum(r['ok'] for r in runs[p]), ARM_REPEATS)
        for p in ARM_PAGES))
    ok = all(r['ok'] for p in ARM_PAGES for r in runs[p])
    return '\n'.join(out), ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iterations', type=int, default=10000)
    ap.add_argument('--modes', default='shadow,nested')
    ap.add_argument('--arm64-iterations', type=int, default=2000,
                    help='cycles per arm64 run (0: no arm64 table)')
    a = ap.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for mode in a.modes.split(','):
        print('bench: %s mode, %d cycles...' % (mode, a.iterations),
              flush=True)
        rows.append(measure(mode, a.iterations))
    t = table(rows, a.iterations)
    print()
    print(t)
    arm, arm_ok = '', True
    if a.arm64_iterations:
        arm, arm_ok = arm64_table(a.arm64_iterations)
        print()
        print(arm)
    try:
        rev = subprocess.run(['git', '-C', str(TOP), 'rev-parse', '--short',
                              'HEAD'], capture_output=True,
                             text=True).stdout.strip()
    except OSError:
        rev = '?'
    doc = TOP / 'docs' / 'bench.md'
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(
        '# Nested vs shadow: guest DMA workload\n\n'
        'Written by `make bench` (%s, project %s, %s, %d CPUs, TCG, load '
        'average %.1f when it started).  The '
        'guest (Debian\'s 6.12 kernel) maps, DMAs and unmaps 4 KiB buffers '
        'through the DMA API with iommu.strict=1, %d cycles, against a '
        'simulated passthrough device (iommufd-sim).  Shadow: intel-iommu '
        'caching-mode=on; QEMU mirrors guest mappings with IOAS_MAP/UNMAP.  '
        'Nested: x-scalable-mode=on,x-flts=on; the guest\'s first-stage '
        'table is nested on stage 2 and QEMU forwards invalidations.  QEMU '
        'CPU time excludes booting (a run without workload is '
        'subtracted).\n\n%s\n'
        % (datetime.date.today().isoformat(), rev, platform.machine(),
           os.cpu_count(), load, a.iterations, t) +
        ('\n## arm64: invalidation batching behind arm-smmuv3 accel=on\n\n'
         'The arm64 guest (Debian\'s 6.12 kernel, iommu.strict=1) behind '
         '`arm-smmuv3,accel=on,ril=off`, %d cycles per run, buffers of 1, '
         '4 and 16 pages: without range invalidation its arm-smmu-v3 '
         'driver invalidates an unmapped buffer with one TLBI_NH_VA per '
         'page and one CMD_SYNC.  QEMU sends the commands of one CMD_SYNC '
         'in one HWPT_INVALIDATE; the last row is what a design sending '
         'one call per command would make (the commands the host got, per '
         'unmap).  %d runs per buffer size, interleaved; median (range).'
         '\n\n%s\n' % (a.arm64_iterations, ARM_REPEATS, arm)
         if arm else ''))
    print('\nwritten to %s' % doc.relative_to(TOP))
    return 0 if all(r['ok'] for r in rows) and arm_ok else 1


if __name__ == '__main__':
    sys.exit(main())
