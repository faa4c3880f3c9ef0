#!/usr/bin/env python3
"""Self-test of scripts/run-tests.py: feed it fake TAP producers (shell
scripts in a temporary directory) and check its verdict (exit status,
summary line, what it prints).  TAP output; fails if the runner lets a
failure or an unlisted skip through, or stops accepting good output.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RUNNER = os.path.join(TOP, "scripts", "run-tests.py")

# (description, [(name, tap text, exit status)], allowed-skips text,
#  runner exit status, summary line, texts the output must contain)
CASES = [
    ("all ok passes",
     [("t/ok", "1..2\nok 1 - a\nok 2 - b\n", 0)], "",
     0, "2 passed, 0 failed", []),
    ("GLib output with diagnostics passes",
     [("t/glib", "# random seed: R02S\n1..2\n# Start of a tests\n"
       "ok 1 /a/one\nok 2 /a/two\n# End of a tests\n", 0)], "",
     0, "2 passed, 0 failed", []),
    ("a plan at the end passes",
     [("t/late", "ok 1 - a\nok 2 - b\n1..2\n", 0)], "",
     0, "2 passed, 0 failed", []),
    ("GLib with two -p paths: one trailing plan per path",
     [("t/paths", "ok 1 /a/x\n1..1\nok 2 /b/y\n1..2\n", 0)], "",
     0, "2 passed, 0 failed", []),
    ("'skip' and hash signs inside a description are not directives",
     [("t/words", "1..2\nok 1 - ranges skip reserved\nok 2 - issue #3\n", 0)],
     "", 0, "2 passed, 0 failed", []),
    ("not ok fails",
     [("t/bad", "1..2\nok 1 - a\nnot ok 2 - b\n", 1)], "",
     1, "1 passed, 1 failed", ["FAIL b"]),
    ("not ok TODO is a failure",
     [("t/todo", "1..2\nok 1 /a\nnot ok 2 /b # TODO not done\n", 0)], "",
     1, "1 passed, 1 failed", ["/b # TODO not done"]),
    ("ok TODO is a failure (unexpected pass)",
     [("t/todo-ok", "1..1\nok 1 - a # TODO later\n", 0)], "",
     1, "0 passed, 1 failed", ["passed although marked TODO"]),
    ("an unlisted ok SKIP fails",
     [("t/skip", "1..2\nok 1 /a\nok 2 /b # SKIP no device\n", 0)], "",
     1, "1 passed, 1 failed", ["/b skipped (no device)"]),
    ("an unlisted skip with exit status 0 fails the run",
     [("t/skip", "1..1\nok 1 /b # skip lowercase\n", 0)], "",
     1, "0 passed, 1 failed", ["skipped (lowercase)"]),
    ("a skip allowed for the test is counted and its reason printed",
     [("t/skip", "1..2\nok 1 /a\nok 2 /b # SKIP no device\n", 0)],
     "t/skip  # the device needs hardware\n",
     0, "1 passed, 0 failed, 1 skipped",
     ["skip /b: no device (allowed: the device needs hardware)"]),
    ("a skip allowed for that subtest is counted",
     [("t/skip", "1..2\nok 1 /a\nok 2 /b # SKIP no device\n", 0)],
     "t/skip /b  # only /b may skip\n",
     0, "1 passed, 0 failed, 1 skipped", ["allowed: only /b may skip"]),
    ("an entry for another subtest does not allow it",
     [("t/skip", "1..2\nok 1 /a\nok 2 /b # SKIP no device\n", 0)],
     "t/skip /a  # only /a may skip\nt/other  # another test\n",
     1, "1 passed, 1 failed", ["/b skipped"]),
    ("an allow-list entry without a reason is an error",
     [("t/ok", "1..1\nok 1 - a\n", 0)], "t/ok\n",
     1, "1 passed, 1 failed", ["no reason given"]),
    ("not ok SKIP is a skip: unlisted it fails",
     [("t/nskip", "1..1\nnot ok 1 - a # SKIP gone\n", 0)], "",
     1, "0 passed, 1 failed", ["a skipped (gone)"]),
    ("not ok SKIP is a skip: listed it is counted",
     [("t/nskip", "1..1\nnot ok 1 - a # SKIP gone\n", 0)],
     "t/nskip  # reason\n", 0, "0 passed, 0 failed, 1 skipped", []),
    ("an unlisted 1..0 SKIP fails",
     [("t/none", "1..0 # SKIP no QEMU binary\n", 0)], "",
     1, "0 passed, 1 failed", ["the whole test skipped (no QEMU binary)"]),
    ("a listed 1..0 SKIP is a skip",
     [("t/none", "1..0 # SKIP no QEMU binary\n", 0)], "t/none  # why\n",
     0, "0 passed, 0 failed, 1 skipped", ["allowed: why"]),
    ("a subtest entry does not allow skipping the whole test",
     [("t/none", "1..0 # SKIP no QEMU binary\n", 0)], "t/none /a  # why\n",
     1, "0 passed, 1 failed", ["the whole test skipped"]),
    ("an unlisted exit status 77 fails",
     [("t/77", "", 77)], "",
     1, "0 passed, 1 failed", ["exit status 77"]),
    ("a listed exit status 77 is a skip",
     [("t/77", "", 77)], "t/77  # meson skip\n",
     0, "0 passed, 0 failed, 1 skipped", []),
    ("more results than the plan fail",
     [("t/more", "1..1\nok 1 - a\nok 2 - b\n", 0)], "",
     1, "2 passed, 1 failed", ["2 results for a plan of 1"]),
    ("fewer results than the plan fail",
     [("t/fewer", "1..3\nok 1 - a\nok 2 - b\n", 0)], "",
     1, "2 passed, 1 failed", ["2 results for a plan of 3"]),
    ("results after a trailing plan fail",
     [("t/after", "ok 1 - a\n1..1\nok 2 - b\n", 0)], "",
     1, "2 passed, 1 failed", ["1 results after the plan 1..1"]),
    ("a trailing plan that does not match fails",
     [("t/late", "ok 1 - a\nok 2 - b\n1..3\n", 0)], "",
     1, "2 passed, 1 failed", ["plan 1..3 printed after 2 results"]),
    ("no plan fails",
     [("t/noplan", "ok 1 - a\n", 0)], "",
     1, "1 passed, 1 failed", ["no TAP plan"]),
    ("results out of sequence fail",
     [("t/seq", "1..2\nok 1 - a\nok 1 - b\n", 0)], "",
     1, "2 passed, 1 failed", ["result 1 out of sequence"]),
    ("an indented (subtest) not ok fails",
     [("t/sub", "1..1\n    1..2\n    ok 1 - x\n    not ok 2 - y\n"
       "ok 1 - parent\n", 0)], "",
     1, "1 passed, 1 failed", ["y (subtest)"]),
    ("an indented not ok TODO fails",
     [("t/sub", "1..1\n    not ok 1 - y # TODO\nok 1 - parent\n", 0)], "",
     1, "1 passed, 1 failed", ["y (subtest) # TODO"]),
    ("an indented unlisted skip fails",
     [("t/sub", "1..1\n    ok 1 - y # SKIP no\nok 1 - parent\n", 0)], "",
     1, "1 passed, 1 failed", ["y (subtest) skipped"]),
    ("Bail out! fails",
     [("t/bail", "1..2\nok 1 - a\nBail out! ERROR: assertion\n", 0)], "",
     1, "1 passed, 2 failed", ["Bail out! ERROR: assertion"]),
    ("a non-zero exit status fails",
     [("t/rc", "1..1\nok 1 - a\n", 3)], "",
     1, "1 passed, 1 failed", ["exit status 3"]),
    ("no results fail",
     [("t/empty", "1..0\n", 0)], "",
     1, "0 passed, 1 failed", ["no TAP results"]),
    ("no output at all fails",
     [("t/silent", "", 0)], "",
     1, "0 passed, 1 failed", ["no TAP results"]),
    ("totals add up over several tests",
     [("t/a", "1..2\nok 1 - a\nok 2 - b\n", 0),
      ("t/b", "1..1\nok 1 /x # SKIP machine\n", 0),
      ("t/c", "1..1\nnot ok 1 - c\n", 1)], "t/b  # reason\n",
     1, "2 passed, 1 failed, 1 skipped", ["FAILED: t/c: c"]),
]


def run_case(tmp, tests, allow):
    """Run the runner on @tests; returns (exit status, output)."""
    allowed = os.path.join(tmp, "allowed-skips.txt")
    with open(allowed, "w") as f:
        f.write(allow)
    argv = [sys.executable, RUNNER, "--allowed-skips", allowed,
            "--logs", os.path.join(tmp, "logs")]
    for i, (name, tap, rc) in enumerate(tests):
        script = os.path.join(tmp, f"fake{i}.sh")
        with open(script, "w") as f:
            f.write("cat <<'EOF_TAP'\n" + tap + "EOF_TAP\n" + f"exit {rc}\n")
        argv += ["--exe", name, "sh", script]
    proc = subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    return proc.returncode, proc.stdout


def main():
    # (descriptions carry no hash sign: this test's own output goes through
    # the runner under make check, where "# SKIP" would be a directive)
    failed = 0
    print(f"1..{len(CASES)}")
    with tempfile.TemporaryDirectory(prefix="run-tests-") as tmp:
        for n, (desc, tests, allow, want_rc, want_last, want_text) in \
                enumerate(CASES, 1):
            rc, out = run_case(tmp, tests, allow)
            lines = out.rstrip("\n").splitlines()
            last = lines[-1] if lines else ""
            problems = []
            if rc != want_rc:
                problems.append(f"exit status {rc}, expected {want_rc}")
            if last != want_last:
                problems.append(f"last line '{last}', expected '{want_last}'")
            problems += [f"no '{t}' in the output" for t in want_text
                         if t not in out]
            if problems:
                failed += 1
                print(f"not ok {n} - {desc}")
                for line in problems + out.splitlines():
                    print(f"# {line}")
            else:
                print(f"ok {n} - {desc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
