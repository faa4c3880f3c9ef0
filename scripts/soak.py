#!/usr/bin/env python3
"""make soak: 200 hot-plug/unplug cycles per vendor (intel-iommu x-flts=on
on q35, arm-smmuv3 accel=on on virt) of a simulated VFIO device, with the
guest binding it, DMA and an invalidation in each cycle
(tests/lib/soaklib.py).  Checks after every unplug that no host object QEMU
made is left and that each cycle makes the same host calls, at the end that
the simulator's report has nothing live, and that QEMU's VmRSS after the
last cycle is within 5% of the one after the first.  Writes the figures to
docs/reliability.md.  Exit status 1 if a check failed.

Options: --cycles N (default 200), --vendor vtd|smmuv3 (default both, one
after the other), --no-doc.
Env: QEMU_SYSTEM_X86_64, IOMMUFD_SIM_LIB (tests/lib/qemutest.py).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests', 'lib'))
import qemutest  # noqa: E402
import scenario as sc  # noqa: E402
import soaklib  # noqa: E402
import reliability_doc as doc  # noqa: E402

RSS_LIMIT = 0.05


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cycles', type=int, default=200)
    ap.add_argument('--vendor', choices=sorted(sc.VENDORS), action='append')
    ap.add_argument('--no-doc', action='store_true')
    args = ap.parse_args()
    vendors = args.vendor or list(sc.VENDORS)
    missing = sc.missing_binaries(10)
    if missing:
        sys.exit('soak: not found: %s (make build sim)'
                 % ' '.join(missing))

    results = []
    with tempfile.TemporaryDirectory(prefix='soak-') as tmp:
        for v in vendors:
            def progress(r):
                if r.done % 50 == 0:
                    print('%s: %d/%d cycles, VmRSS %s kB'
                          % (r.vendor, r.done, r.cycles, r.rss[-1]),
                          flush=True)
            r = soaklib.soak(v, args.cycles, tmp, progress=progress)
            growth = r.rss_growth()
            r.rss_ok = growth is not None and abs(growth) <= RSS_LIMIT
            results.append(r)
            print('%s: %d/%d cycles in %.0f s; VmRSS after cycle 1 %s kB, '
                  'after cycle %d %s kB (%+.1f%%, min %s max %s); host '
                  'objects after the unplugs max %s; live.all at exit %s; '
                  '%d failures'
                  % (v, r.done, r.cycles, r.seconds, r.rss_first, r.done,
                     r.rss_last, 100 * (growth or 0), min(r.rss or [0]),
                     max(r.rss or [0]), max(r.live_after or [0]),
                     r.report.get('live.all'), len(r.failures)), flush=True)
            for cycle, text in r.failures[:20]:
                print('  cycle %d: %s' % (cycle, text))
            if not r.rss_ok:
                print('  VmRSS grew by more than %d%%' % (100 * RSS_LIMIT))

    bad = [r for r in results
           if r.failures or not r.rss_ok or r.done != r.cycles]
    if not args.no_doc:
        text = ['## Hot-plug soak', '',
                textwrap.fill(
                    'Written by `make soak` (scripts/soak.py) on %s UTC: %s, '
                    'repository at %s.  Per vendor one QEMU, the iommufd '
                    'passed in as libvirt does (-object iommufd,fd=N: QEMU '
                    'never closes it, so whatever it does not destroy at an '
                    'unplug stays on the host); per cycle: device_add, '
                    'firmware, the guest binds the device through its '
                    'vIOMMU, DMA, remap + invalidation + DMA, device_del. '
                    'After each unplug no host object of those QEMU made '
                    '(from the simulator\'s log) may be left, the device must '
                    'be released, and each cycle must make the same host '
                    'calls as the second.  VmRSS (/proc/PID/status) is read '
                    '50 ms after each unplug, once QEMU\'s RCU thread has '
                    'freed the old memory maps (read at once it swings by '
                    'about 10%% with those batches); the last must be within '
                    '%d%% of the first.  tests/qemu/test-soak.py runs %d '
                    'cycles per vendor in `make check` (without the RSS '
                    'criterion).'
                    % (datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M'),
                       doc.qemu_version(sc.qemu_binary('x86_64')),
                       doc.series_head(), 100 * RSS_LIMIT, 20), 76), '',
                '| vendor | cycles | VmRSS after cycle 1 | VmRSS after the '
                'last | change | min / median / max | host objects left '
                'after an unplug (max) | host calls per cycle | live.all at '
                'exit | time | result |',
                '|---|---|---|---|---|---|---|---|---|---|---|']
        for r in results:
            calls = sum(r.calls[1].values()) if len(r.calls) > 1 else '?'
            text.append('| %s | %d/%d | %s kB | %s kB | %+.1f%% | %s / %d / '
                        '%s kB | %s | %s | %s | %.0f s | %s |'
                        % (r.vendor, r.done, r.cycles, r.rss_first,
                           r.rss_last, 100 * (r.rss_growth() or 0),
                           min(r.rss or [0]),
                           statistics.median(r.rss or [0]),
                           max(r.rss or [0]), max(r.live_after or [0]),
                           calls, r.report.get('live.all'), r.seconds,
                           'pass' if r not in bad else
                           'FAIL (%d failures%s)'
                           % (len(r.failures), '' if r.rss_ok else
                              ', VmRSS')))
        for r in results:
            if r.failures:
                text += ['', 'Failures (%s):' % r.vendor, '']
                text += ['- cycle %d: %s' % f for f in r.failures[:20]]
        print('wrote %s' % doc.write_section('soak', '\n'.join(text)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
