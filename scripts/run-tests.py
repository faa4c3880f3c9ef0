#!/usr/bin/env python3
"""Run the project's tests and print one summary line.

Every test program speaks TAP on stdout ("1..N", "ok N - ...", "not ok N
- ...").  Logs go to build/test-logs/.  The last line is "N passed, N
failed" and, if anything was skipped, ", N skipped".  Nothing is hidden:

- A result is a failure if it is "not ok" (also "not ok ... # TODO",
  which GLib's g_test_incomplete() prints), or "ok ... # TODO" (a TODO
  that passes: drop the TODO).  Indented (subtest) "not ok" lines are
  failures too; indented "ok" lines are not counted (their parent is).
- A skip ("ok/not ok ... # SKIP", a "1..0 # SKIP" plan, or exit status
  77, meson's skip code) fails the run unless tests/allowed-skips.txt
  lists it with a reason:  "NAME  # reason" allows any skip of the test
  NAME (as printed after "---"), "NAME SUBTEST  # reason" only the
  result whose description is SUBTEST (a GLib path such as
  /aarch64/arm-smmuv3-accel/order).  Allowed skips are printed with
  their reason and counted as skipped.
- The results must match the plan: a plan printed before the results
  is the exact count; one printed after them must equal the results so
  far, and nothing may follow it (GLib with several -p prints one such
  plan per path).  No plan, results out of sequence, "Bail out!", a
  non-zero exit status, or no results at all is a failure.

Options before the tests: --allowed-skips FILE, --logs DIR.
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
ALLOWED_SKIPS = os.path.join(TOP, "tests", "allowed-skips.txt")

TAP_RE = re.compile(r"^(\s*)(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
# "# SKIP reason" / "# TODO reason" after the description (any case)
DIRECTIVE_RE = re.compile(r"(?:^|\s)#\s*(skip|todo)\S*(?:\s+(.*))?$", re.I)
BAIL_RE = re.compile(r"^\s*Bail out!\s*(.*)$")
SKIP_EXIT = 77


class AllowedSkips:
    """tests/allowed-skips.txt: "NAME [SUBTEST]  # reason" per line."""

    def __init__(self, path):
        self.path = path
        self.entries = {}
        self.errors = []
        if not os.path.exists(path):
            return
        with open(path) as f:
            for i, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                body, _, reason = line.partition("#")
                words = body.split(None, 1)
                if not reason.strip():
                    self.errors.append(f"{path}:{i}: no reason given")
                    continue
                key = (words[0], words[1].strip() if len(words) > 1 else None)
                self.entries[key] = reason.strip()

    def reason(self, name, subtest=None):
        """Why a skip of @name (@subtest: one of its results) is fine."""
        if subtest is not None and (name, subtest) in self.entries:
            return self.entries[(name, subtest)]
        return self.entries.get((name, None))


class Totals:
    def __init__(self, allowed):
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        self.allowed = allowed


def check_tap(totals, name, out, rc):
    """Count the results of one test program; returns (p, f, s)."""
    allowed = totals.allowed
    relpath = os.path.relpath(allowed.path, TOP)
    p = f = s = 0
    count = 0              # top-level results
    lead_plan = None       # plan printed before any result
    plan_at = None         # results seen when the last plan was printed
    skip_all = None        # reason of a "1..0 # SKIP" plan

    def fail(text):
        nonlocal f
        f += 1
        totals.failures.append(f"{name}: {text}")
        print(f"    FAIL {text}")

    def skip(subtest, why, label=None):
        nonlocal s
        label = label or subtest or "the whole test"
        reason = allowed.reason(name, subtest)
        if reason:
            s += 1
            print(f"    skip {label}: {why} (allowed: {reason})")
        else:
            fail(f"{label} skipped ({why}); not in {relpath}")

    for line in out.splitlines():
        m = PLAN_RE.match(line)
        if m:
            n, directive = int(m.group(1)), m.group(2) or ""
            if plan_at is None and count == 0:
                lead_plan = n
            elif n != count:
                fail(f"plan 1..{n} printed after {count} results")
            plan_at = count
            d = re.match(r"skip\S*\s*(.*)", directive, re.I)
            if d and n == 0:
                skip_all = d.group(1).strip() or "no reason given"
            continue
        m = BAIL_RE.match(line)
        if m:
            fail(f"Bail out! {m.group(1)}")
            continue
        m = TAP_RE.match(line)
        if not m:
            continue
        indent, word, num, rest = m.groups()
        d = DIRECTIVE_RE.search(rest)
        desc = (rest[:d.start()] if d else rest).strip()
        kind = d.group(1).lower() if d else None
        why = ((d.group(2) if d else None) or "").strip() or "no reason given"
        if not indent:
            count += 1
            if num is not None and int(num) != count:
                fail(f"result {num} out of sequence (expected {count})")
        label = desc or f"result {num or count}"
        if indent:
            label += " (subtest)"
        if kind == "skip":
            skip(desc, why, label)
        elif kind == "todo":
            fail(f"{label} # TODO {why}" if word == "not ok" else
                 f"{label} passed although marked TODO ({why})")
        elif word == "not ok":
            fail(label)
        elif not indent:
            p += 1

    whole_skip = skip_all is not None or rc == SKIP_EXIT
    if skip_all is not None:
        skip(None, skip_all)
    elif rc == SKIP_EXIT:
        skip(None, f"exit status {SKIP_EXIT}")
    if rc not in (0, SKIP_EXIT) and f == 0:
        fail(f"exit status {rc}")
    if plan_at is None:
        if count:
            fail("no TAP plan (1..N)")
    elif lead_plan is not None and count != lead_plan:
        fail(f"{count} results for a plan of {lead_plan}")
    elif lead_plan is None and count != plan_at:
        fail(f"{count - plan_at} results after the plan 1..{plan_at}")
    if count == 0 and rc == 0 and not whole_skip:
        fail("no TAP results")
    return p, f, s


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

    p, f, s = check_tap(totals, name, out, rc)
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
    global LOGS
    args = sys.argv[1:]
    allowed_path = ALLOWED_SKIPS
    while args and args[0] in ("--allowed-skips", "--logs") and len(args) > 1:
        opt, val = args.pop(0), args.pop(0)
        if opt == "--logs":
            LOGS = os.path.abspath(val)
        else:
            allowed_path = os.path.abspath(val)
    os.makedirs(LOGS, exist_ok=True)
    totals = Totals(AllowedSkips(allowed_path))
    for err in totals.allowed.errors:
        totals.failed += 1
        totals.failures.append(err)
        print(f"FAIL {err}")
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
