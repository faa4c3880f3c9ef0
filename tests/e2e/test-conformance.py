#!/usr/bin/python3
"""Differential conformance test of the simulator against Linux 7.2
(issue 14 item 3): e2e/conformance.c runs a fixed list of iommufd and
VFIO cdev sequences on one VFIO device behind an SMMUv3 and prints one
canonical line per step.  It runs twice:

- natively, with LD_PRELOAD=build/sim/libiommufd-sim.so and the device
  sim/conformance/l0-smmuv3-edu.cfg (the SMMUv3 and edu device L0 gives
  L1);
- inside L1 on the real kernel (e2e/run-l1.sh with APPEND=e2e.conformance
  e2e.nol2: /init runs /bin/conformance, whose lines start with "conf: ").

tests/e2e/test-conformance-vtd.py runs the same for the Intel chain
(main('x86_64')): the program's vtd.* steps, on the simulator's
sim/conformance/l0-vtd-edu.cfg and in the x86_64 L1.

Any step whose line differs fails, unless the step is in the allow-list
of sim/README.md ("Conformance allow-list"), which gives the reason.
Prints TAP; needs the e2e artifacts (make check builds them) and
rebuilds only the initramfs (not L2) if the probe changed.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import difflib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / 'tests' / 'lib'))
import qemutest  # noqa: E402

SRC = TOP / 'e2e' / 'conformance.c'
OUT = TOP / 'build' / 'conformance'
# Per chain: the simulator's device (L0's IOMMU as L1 sees it), the L0
# QEMU, and the minimum number of steps (all, and the IOMMU's own ones).
CHAINS = {
    'arm64': dict(cfg='l0-smmuv3-edu.cfg', qemu='qemu-system-aarch64',
                  out='', min_steps=150, prefix='', min_own=150),
    'x86_64': dict(cfg='l0-vtd-edu.cfg', qemu='qemu-system-x86_64',
                   out='vtd', min_steps=150, prefix='vtd.', min_own=60),
}
LINE = re.compile(r'^conf: (\d{3}) ([^:]+): (.*)$')


def allow_list():
    """Step names of the "Conformance allow-list" section of
    sim/README.md: lines "* `step`: reason"."""
    steps = {}
    text = (TOP / 'sim' / 'README.md').read_text()
    m = re.search(r'^### Conformance allow-list\n(.*?)(?=^#|\Z)', text,
                  re.M | re.S)
    for line in (m.group(1) if m else '').splitlines():
        e = re.match(r'^\* `([^`]+)`: (.+)', line)
        if e:
            steps[e.group(1)] = e.group(2)
    return steps


def parse(text):
    """{"NNN step": result}, the ordered keys, and whether the run
    reached END.  Every step prints one line whatever happens, so the
    numbers match between runs (names repeat, e.g. destroy.ioas)."""
    steps, order, end = {}, [], False
    for raw in text.splitlines():
        line = raw.rstrip('\r')
        m = LINE.match(line)
        if m:
            key = '%s %s' % (m.group(1), m.group(2))
            steps[key] = m.group(3)
            order.append(key)
        elif line.startswith('conf: END '):
            end = True
    return steps, order, end


def canonical(steps, order):
    return ['%s: %s' % (n, steps[n]) for n in order]


def name(key):
    return key.split(' ', 1)[1]


def own(steps, prefix):
    return [n for n in steps if name(n).startswith(prefix)]


def counts(steps, prefix):
    """ "N steps", with the IOMMU's own ones when they have a prefix."""
    if not prefix:
        return '%d steps' % len(steps)
    return '%d steps (%d %s*)' % (len(steps), len(own(steps, prefix)),
                                  prefix)


def main(arch='arm64'):
    c = CHAINS[arch]
    t = qemutest.Tap()
    start = time.time()
    out = OUT / c['out']
    cfg = TOP / 'sim' / 'conformance' / c['cfg']
    out.mkdir(parents=True, exist_ok=True)
    native = out / 'conformance-native'
    # The uAPI headers the simulator and QEMU are built against (the work
    # tree's generated linux-headers/, scripts/linux-headers.sh).
    wt = Path(os.environ.get('QEMU_WT', TOP / 'build' / 'qemu'))
    r = subprocess.run(['cc', '-O2', '-Wall', '-Werror',
                        '-I' + str(wt / 'linux-headers'), '-o',
                        str(native), str(SRC)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if not t.ok(r.returncode == 0, 'conformance.c builds natively'):
        t.diag(r.stdout)
        return t.done()

    # 1. the simulator
    env = dict(os.environ, LD_PRELOAD=qemutest.default_sim_lib(),
               IOMMUFD_SIM_LOG=str(out / 'sim.log'))
    r = subprocess.run([str(native), 'sim:' + str(cfg)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    (out / 'sim.txt').write_text(r.stdout)
    sim, sim_order, sim_end = parse(r.stdout)
    t.ok(r.returncode == 0 and sim_end and len(sim) >= c['min_steps'] and
         len(own(sim, c['prefix'])) >= c['min_own'],
         'simulator run: %s, complete (exit %d)'
         % (counts(sim, c['prefix']), r.returncode))

    # 2. the real kernel in L1 (the initramfs script keeps L2 as it is)
    env = dict(os.environ, L1_ARCH=arch)
    r = subprocess.run(['bash', str(TOP / 'e2e' / 'build-l1-initramfs.sh')],
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if not t.ok(r.returncode == 0, 'L1 initramfs with /bin/conformance'):
        t.diag(r.stdout[-3000:])
        return t.done()
    env.setdefault('QEMU', str(Path(qemutest.default_qemu()).parent /
                               c['qemu']))
    env.setdefault('TIMEOUT', '600')
    env['APPEND'] = 'e2e.conformance e2e.nol2 loglevel=1'
    r = subprocess.run(['bash', str(TOP / 'e2e' / 'run-l1.sh')], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    (out / 'l1.txt').write_text(r.stdout)
    kern, kern_order, kern_end = parse(r.stdout)
    kver = re.search(r'L1 init, kernel (\S+)', r.stdout)
    ok = t.ok(r.returncode == 0 and kern_end and
              len(kern) >= c['min_steps'] and
              len(own(kern, c['prefix'])) >= c['min_own'],
              'L1 (Linux %s) run: %s, complete (run-l1.sh exit %d)'
              % (kver.group(1) if kver else '?', counts(kern, c['prefix']),
                 r.returncode))
    if not ok:
        t.diag(r.stdout[-4000:])

    # 3. the comparison
    t.ok(sim_order == kern_order,
         'both runs have the same steps in the same order')
    allowed = allow_list()
    diff = [n for n in kern_order if n in sim and sim[n] != kern[n]]
    diff += [n for n in sorted(set(kern) ^ set(sim))]
    bad = [n for n in diff if name(n) not in allowed]
    t.ok(not bad, 'the simulator matches Linux on every step (%d differ, '
         '%d of them allow-listed in sim/README.md)'
         % (len(diff), len(diff) - len(bad)))
    for n in diff:
        t.diag('%s %s\n  Linux: %s\n  sim:   %s'
               % ('allowed' if name(n) in allowed else 'DIFFERS', n,
                  kern.get(n, '(missing)'), sim.get(n, '(missing)')))
    if bad:
        t.diag(''.join(difflib.unified_diff(
            [x + '\n' for x in canonical(kern, kern_order)],
            [x + '\n' for x in canonical(sim, sim_order)],
            'linux', 'sim', n=1)))
    # the other chain's entries (steps vtd.* are the Intel chain's)
    mine = [a for a in allowed
            if a.startswith('vtd.') == (c['prefix'] == 'vtd.')]
    stale = [a for a in mine
             if not any(name(n) == a for n in diff)]
    t.ok(not stale, 'every allow-list entry is still needed%s'
         % (' (not: %s)' % ', '.join(stale) if stale else ''))
    t.diag('%d steps compared in %.1f s' % (len(kern), time.time() - start))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())
