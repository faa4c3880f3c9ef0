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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iterations', type=int, default=10000)
    ap.add_argument('--modes', default='shadow,nested')
    a = ap.parse_args()
    rows = []
    for mode in a.modes.split(','):
        print('bench: %s mode, %d cycles...' % (mode, a.iterations),
              flush=True)
        rows.append(measure(mode, a.iterations))
    t = table(rows, a.iterations)
    print()
    print(t)
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
        'Written by `make bench` (%s, project %s, %s, %d CPUs, TCG).  The '
        'guest (Debian\'s 6.12 kernel) maps, DMAs and unmaps 4 KiB buffers '
        'through the DMA API with iommu.strict=1, %d cycles, against a '
        'simulated passthrough device (iommufd-sim).  Shadow: intel-iommu '
        'caching-mode=on; QEMU mirrors guest mappings with IOAS_MAP/UNMAP.  '
        'Nested: x-scalable-mode=on,x-flts=on; the guest\'s first-stage '
        'table is nested on stage 2 and QEMU forwards invalidations.  QEMU '
        'CPU time excludes booting (a run without workload is '
        'subtracted).\n\n%s\n'
        % (datetime.date.today().isoformat(), rev, platform.machine(),
           os.cpu_count(), a.iterations, t))
    print('\nwritten to %s' % doc.relative_to(TOP))
    return 0 if all(r['ok'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
