"""docs/reliability.md: the hand-written head and the sections that
scripts/sweep.py and scripts/soak.py regenerate (each its own, between
"<!-- NAME:begin -->" and "<!-- NAME:end -->").

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import re

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(TOP, 'docs', 'reliability.md')

HEAD = """# Reliability: fault-injection sweep and hot-plug soak

Two measurements of how QEMU's nested vIOMMU support (intel-iommu
x-flts=on on q35, arm-smmuv3 accel=on on virt) copes with the host, both
on the iommufd simulator (sim/README.md) with qtest playing firmware and
the guest's vIOMMU driver (tests/lib/scenario.py).  Both sections below
are written by the scripts that measure them; do not edit them by hand.

<!-- sweep:begin -->
(run `make sweep`)
<!-- sweep:end -->

<!-- soak:begin -->
(run `make soak`)
<!-- soak:end -->
"""


def write_section(name, text):
    """Replace section @name of docs/reliability.md with @text."""
    try:
        with open(DOC) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = HEAD
    begin, end = '<!-- %s:begin -->' % name, '<!-- %s:end -->' % name
    if begin not in doc:
        doc = doc.rstrip('\n') + '\n\n%s\n%s\n' % (begin, end)
    doc = re.sub(re.escape(begin) + '.*?' + re.escape(end),
                 lambda m: begin + '\n' + text.strip('\n') + '\n' + end,
                 doc, flags=re.S)
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, 'w') as f:
        f.write(doc)
    return DOC


def qemu_version(binary):
    import subprocess
    try:
        out = subprocess.run([binary, '--version'], capture_output=True,
                             text=True, timeout=30).stdout
        return out.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return '?'


def series_head():
    import subprocess
    try:
        return subprocess.run(['git', '-C', TOP, 'log', '-1', '--format=%h'],
                              capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return '?'
