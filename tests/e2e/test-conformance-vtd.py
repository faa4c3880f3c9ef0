#!/usr/bin/python3
"""The VT-d half of the differential conformance test (issue 14 item 3):
tests/e2e/test-conformance.py for the Intel chain.  e2e/conformance.c
sees a VT-d behind the device and runs its vtd.* steps (after the
common VFIO and size steps), once on the simulator with
sim/conformance/l0-vtd-edu.cfg (the CAP/ECAP GET_HW_INFO reports in the
Intel L1) and once inside the x86_64 L1 on Linux 7.2 (e2e/run-l1.sh with
L1_ARCH=x86_64: q35, intel-iommu x-flts=on,x-nested=on, edu bound to
vfio-pci); any differing step fails.  Prints TAP; L1_ARCH=x86_64
e2e/build.sh must have run (make check does that).

SPDX-License-Identifier: GPL-2.0-or-later
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    'test_conformance', HERE / 'test-conformance.py')
conformance = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conformance)

if __name__ == '__main__':
    sys.exit(conformance.main('x86_64'))
