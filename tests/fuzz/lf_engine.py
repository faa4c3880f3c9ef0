"""The libFuzzer engine of `make fuzz` (scripts/fuzz.py --engine libfuzzer).

QEMU runs in process (qemu-fuzz-ARCH --fuzz-target=viommu-prog, built by
scripts/build-libfuzzer.sh from tests/fuzz/libfuzzer/viommu_prog_fuzz.c)
and libFuzzer mutates programs with coverage feedback.  The structure
knowledge stays here: the seeds are programs of viommu_fuzz.py's
generator, encoded as the target's 18-byte operations, and the machine,
firmware and device configuration are the qtest engine's.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import glob
import json
import os
import random
import re
import struct
import subprocess
import time

import viommu_fuzz as vf
import qemutest

KIND = {'w': 0, 'r': 1, 'o': 2, 'i': 3, 'plug': 4, 'unplug': 5, 'ack': 6,
        'iqfix': 7}
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}
BASE = {'vtd': vf.VTD, 'smmu': vf.SMMU}
# What the generator's programs access (viommu_fuzz.py): RAM, the vIOMMU,
# the simulated devices' BARs behind the root ports, PCI configuration
# (ECAM on virt, ports 0xcf8-0xcff on q35).  The target folds mutated
# addresses into these.
RANGES = {
    'vtd': {'mmio': [(0x100000, 0x10000000 - 0x100000), (vf.VTD, 0x1000),
                     (0xc0000000, 0x200000)],
            'pio': [(0xcf8, 8)]},
    'smmu': {'mmio': [(0x40000000, 0x40000000), (vf.SMMU, 0x20000),
                      (vf.ECAM, 0x1000000), (0x10000000, 0x200000)],
             'pio': []},
}
BINARY = {'vtd': 'qemu-fuzz-x86_64', 'smmu': 'qemu-fuzz-aarch64'}
# a crash stops libFuzzer; it is restarted, but not forever
MAX_CRASH_ROUNDS = 10


def encode(ops):
    """A program as the target's operations (viommu_prog_fuzz.c)."""
    out = bytearray()
    for op in ops:
        k = op[0]
        size, addr, val = 1, 0, 0
        if k in ('w', 'o'):
            size, addr, val = op[1], op[2], op[3]
        elif k in ('r', 'i'):
            size, addr = op[1], op[2]
        elif k in ('plug', 'unplug'):
            val = op[1]
        out += struct.pack('<BBQQ', KIND[k], SIZE[size], addr & vf.M64,
                           val & vf.M64)
    return bytes(out)


def write_seeds(target, seed, n, batch, out):
    """@n generated programs; every @batch-th one enables the vIOMMU from
    scratch, as after a reset in the qtest engine."""
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        prog = vf.program_for(target, seed, i, fresh=i % batch == 0)
        with open(os.path.join(out, 'seed-%05d' % i), 'wb') as f:
            f.write(encode(prog))


def ranges(lst):
    return ','.join('0x%x:0x%x' % r for r in lst)


def symbolizer(work):
    """llvm-symbolizer without the simulator: ASan starts it as a child,
    which inherits LD_PRELOAD (and the simulator broke it).  ASan picks
    the protocol from the name, so the wrapper keeps it."""
    d = os.path.join(work, 'bin')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'llvm-symbolizer')
    with open(path, 'w') as f:
        f.write('#!/bin/sh\nunset LD_PRELOAD\nexec llvm-symbolizer "$@"\n')
    os.chmod(path, 0o755)
    return path


def environment(target, work, fd, batch):
    g = vf.Gen(random.Random(0))
    target.pci_setup(g, fw=True)
    fw = os.path.join(work, 'firmware.bin')
    with open(fw, 'wb') as f:
        f.write(encode(g.ops))
    env = dict(os.environ)
    env.update({
        'LD_PRELOAD': qemutest.default_sim_lib(),
        'VIOMMU_FUZZ_ARGS': ' '.join(target.args(work, fd)),
        'VIOMMU_FUZZ_FIRMWARE': fw,
        'VIOMMU_FUZZ_DEVCFG': target.dev_cfg,
        'VIOMMU_FUZZ_RESET': str(batch),
        'VIOMMU_FUZZ_BASE': hex(BASE[target.name]),
        'VIOMMU_FUZZ_MMIO': ranges(RANGES[target.name]['mmio']),
        'VIOMMU_FUZZ_PIO': ranges(RANGES[target.name]['pio']),
        'IOMMUFD_SIM_REPORT': os.path.join(work, 'sim.report'),
        # libFuzzer catches the reports (deadly signal); UBSan must stop
        'ASAN_OPTIONS': 'abort_on_error=1:detect_leaks=0:'
                        'verify_asan_link_order=0:handle_abort=1:'
                        'external_symbolizer_path=' + symbolizer(work),
        'UBSAN_OPTIONS': 'halt_on_error=1:abort_on_error=1:'
                         'print_stacktrace=1',
        'LLVM_PROFILE_FILE': os.path.join(work, 'prof', '%p.profraw'),
    })
    for k in ('IOMMUFD_SIM_LOG', 'IOMMUFD_SIM_FAIL', 'QEMU_FUZZ_ARGS'):
        env.pop(k, None)
    return env


def stats(text):
    """libFuzzer's -print_final_stats lines."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'^stat::(\w+):\s+(\d+)', text, re.M)}


def run_target(name, obj, out, runs, seed, seeds, batch, timeout, log):
    """Fuzz @name for @runs inputs; libFuzzer stops at a crash, so it is
    started again (same corpus, next seed) until @runs were executed."""
    target = vf.TARGETS[name]()
    work = os.path.join(out, name)
    corpus, seed_dir = os.path.join(work, 'corpus'), os.path.join(work,
                                                                  'seeds')
    arts = os.path.join(work, 'artifacts') + '/'
    for d in (corpus, arts, os.path.join(work, 'prof')):
        os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(work, 'prof', '*.profraw')):
        os.unlink(f)
    write_seeds(target, seed, seeds, batch, seed_dir)
    done, crashes, rounds, t0 = 0, [], 0, time.monotonic()
    while done < runs:
        fd = qemutest.device_memfd(target.dev_cfg)
        env = environment(target, work, fd, batch)
        before = set(os.listdir(arts))
        cmd = [os.path.join(obj, BINARY[name]), '--fuzz-target=viommu-prog',
               '-runs=%d' % (runs - done), '-seed=%d' % (int(seed) + rounds),
               '-max_len=16384', '-timeout=%d' % timeout,
               '-rss_limit_mb=6144', '-print_final_stats=1',
               # leaks: the qtest engine checks them at exit (LSan); here
               # the VM's state lives on between inputs
               '-detect_leaks=0',
               '-artifact_prefix=' + arts, corpus, seed_dir]
        with open(log, 'a') as lf:
            lf.write('$ %s\n' % ' '.join(cmd))
            lf.flush()
            p = subprocess.run(cmd, env=env, pass_fds=[fd], stdout=lf,
                               stderr=subprocess.STDOUT)
        os.close(fd)
        with open(log, errors='replace') as lf:
            text = lf.read().rsplit('$ ', 1)[-1]
        n = stats(text).get('number_of_executed_units', 0)
        new = sorted(set(os.listdir(arts)) - before)
        rounds += 1
        done += n
        if p.returncode == 0:
            continue
        crashes.append({'round': rounds, 'after': done, 'status': p.returncode,
                        'artifacts': [arts + a for a in new],
                        'report': first_report(text)})
        if (not new and n == 0) or len(crashes) >= MAX_CRASH_ROUNDS:
            break               # dies at start, or keeps crashing: stop
    secs = time.monotonic() - t0
    return {'inputs': done, 'secs': secs, 'crashes': crashes,
            'rounds': rounds, 'corpus': len(os.listdir(corpus)),
            'seeds': seeds}


def first_report(text):
    for ln in text.splitlines():
        if re.search(r'ERROR: \w+Sanitizer|runtime error:|Assertion|'
                     r'deadly signal|fuzz target exited|timeout after', ln):
            return re.sub(r'==\d+==', '', ln.strip())
    return 'exit status without a report'


def coverage(name, obj, out, source):
    """(lines covered, lines) of @source from the runs' profiles."""
    prof = glob.glob(os.path.join(out, name, 'prof', '*.profraw'))
    if not prof:
        return None
    merged = os.path.join(out, name, 'merged.profdata')
    subprocess.run(['llvm-profdata', 'merge', '-sparse', '-o', merged] + prof,
                   check=True)
    res = subprocess.run(['llvm-cov', 'export', '-summary-only',
                          os.path.join(obj, BINARY[name]),
                          '-instr-profile=' + merged],
                         capture_output=True, text=True, check=True)
    for f in json.loads(res.stdout)['data'][0]['files']:
        if f['filename'].endswith('/' + source):
            s = f['summary']['lines']
            return (s['covered'], s['count'])
    return None
