#!/usr/bin/env python3
"""Run the project's tests and print one summary line.

Every test program speaks TAP on stdout ("1..N", "ok N - ...", "not ok N
- ..."; "# SKIP" marks a skip).  A program that exits non-zero, dies, or
reports fewer results than its plan counts as a failure.  Logs go to
build/test-logs/.  The last line is "N passed, N failed, N skipped".
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
OBJ = os.path.join(BUILD, "obj")
LOGS = os.path.join(BUILD, "test-logs")

TAP_RE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []


def run_one(totals, name, argv, env=None, cwd=None, timeout=1800):
    logname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log"
    logpath = os.path.join(LOGS, logname)
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.time()
    print(f"--- {name}", flush=True)
    try:
        proc = subprocess.run(argv, cwd=cwd or TOP, env=full_env,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
        out = proc.stdout.decode(errors="replace")
        rc = proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        out += f"\n# TIMEOUT after {timeout}s\n"
        rc = -1
    except OSError as e:
        out, rc = f"# cannot run {argv[0]}: {e}\n", -1
    with open(logpath, "w") as f:
        f.write(" ".join(shlex.quote(a) for a in argv) + "\n" + out)

    plan = None
    p = f = s = 0
    for line in out.splitlines():
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            plan = int(m.group(1))
            continue
        m = TAP_RE.match(line)
        if not m:
            continue
        ok = m.group(1) == "ok"
        desc = m.group(3)
        if re.search(r"#\s*skip", desc, re.I):
            s += 1
            print(f"    skip {desc}")
        elif re.search(r"#\s*todo", desc, re.I):
            s += 1
        elif ok:
            p += 1
        else:
            f += 1
            totals.failures.append(f"{name}: {desc}")
            print(f"    FAIL {desc}")
    seen = p + f + s
    if plan is not None and seen < plan:
        f += 1
        totals.failures.append(f"{name}: only {seen} of {plan} results")
        print(f"    FAIL only {seen} of {plan} planned results")
    if rc != 0 and f == 0:
        f += 1
        totals.failures.append(f"{name}: exit status {rc}")
        print(f"    FAIL exit status {rc}")
    if seen == 0 and rc == 0:
        f += 1
        totals.failures.append(f"{name}: no results")
        print("    FAIL no TAP results")
    totals.passed += p
    totals.failed += f
    totals.skipped += s
    print(f"    {p} passed, {f} failed, {s} skipped "
          f"({time.time() - start:.0f}s, log: {os.path.relpath(logpath, TOP)})",
          flush=True)


def meson_tests(builddir=OBJ):
    path = os.path.join(builddir, "meson-info", "intro-tests.json")
    with open(path) as f:
        tests = json.load(f)
    # QEMU names its qtests "qtest-x86_64/intel-iommu-test" already
    return {t["name"]: t for t in tests}


def base_qtests(totals, listfile, extra_env=None):
    tests = meson_tests()
    for line in open(listfile):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        key, filters = words[0], words[1:]
        t = tests.get(key)
        if t is None:
            totals.failed += 1
            totals.failures.append(f"{key}: not in the QEMU build")
            print(f"--- {key}\n    FAIL not in the QEMU build")
            continue
        argv = list(t["cmd"]) + filters
        if "--tap" not in argv:
            argv.append("--tap")
        env = dict(t.get("env") or {})
        env.update(extra_env or {})
        run_one(totals, key, argv, env=env,
                cwd=t.get("workdir") or OBJ, timeout=t.get("timeout") or 900)


def main():
    os.makedirs(LOGS, exist_ok=True)
    totals = Totals()
    args = sys.argv[1:]
    while args:
        kind = args.pop(0)
        if kind == "--base-qtests":
            base_qtests(totals, args.pop(0))
        elif kind == "--series-qtests":
            # qtests the series adds; they drive QEMU on the simulator
            base_qtests(totals, args.pop(0), {
                "IOMMUFD_SIM_LIB": os.path.join(BUILD, "sim",
                                                "libiommufd-sim.so")})
        elif kind == "--meson-tests":
            # every test registered in a meson build directory (the simulator)
            builddir = args.pop(0)
            for t in meson_tests(builddir).values():
                run_one(totals, f"{os.path.basename(builddir)}/{t['name']}",
                        list(t["cmd"]), env=t.get("env") or {},
                        cwd=t.get("workdir") or builddir,
                        timeout=t.get("timeout") or 300)
        elif kind == "--exe":
            # --exe NAME CMD...  (until the next "--" option)
            name = args.pop(0)
            argv = []
            while args and not args[0].startswith("--"):
                argv.append(args.pop(0))
            run_one(totals, name, argv)
        else:
            sys.exit(f"run-tests: unknown argument {kind}")
    print()
    for fl in totals.failures:
        print(f"FAILED: {fl}")
    line = f"{totals.passed} passed, {totals.failed} failed"
    if totals.skipped:
        line += f", {totals.skipped} skipped"
    print(line)
    sys.exit(1 if totals.failed else 0)


if __name__ == "__main__":
    main()
