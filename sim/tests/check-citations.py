#!/usr/bin/env python3
"""Every errno a simulator rule returns names the Linux 7.2 function it models.

For each function of sim/src/*.c that contains `return -E...`, a comment
naming a kernel function as `path/file.c:function` (path relative to the
kernel tree: drivers/..., include/...) must appear in the function body or
in the comment block just above it.  Functions that model no kernel code
(hardware, the shim, fault injection, ...) are listed in
citation-allow.txt with the reason; README.md's "Deliberate differences"
says the same.  The allow-list must not name a function that no longer
exists or no longer needs it.

With LINUX_SRC pointing at a Linux 7.2 tree, every citation is also
checked: the file must exist and define (or declare) the function.

Prints TAP; exit status 1 on any failure.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
ALLOW = os.path.join(HERE, "citation-allow.txt")

CITE = re.compile(r"\b((?:drivers|include)/[\w/.-]+\.[ch]):(\w+)")
RET_ERRNO = re.compile(r"\breturn\s+-E[A-Z0-9]+\b")
SIG_NAME = re.compile(r"(\w+)\s*\($")


def functions(path):
    """Yield (name, text of leading comment + signature + body, body)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i] != "{":
            i += 1
            continue
        # signature: lines above up to a blank line / comment end / '}'
        s = i - 1
        while s > 0 and lines[s - 1].strip() and \
                not lines[s - 1].rstrip().endswith(("*/", "}", ";")):
            s -= 1
        sig = " ".join(lines[s:i])
        m = SIG_NAME.search(sig.split("(", 1)[0] + "(")
        name = m.group(1) if m else "?"
        # leading comment block directly above the signature
        c = s
        if c > 0 and lines[c - 1].rstrip().endswith("*/"):
            c -= 1
            while c > 0 and "/*" not in lines[c]:
                c -= 1
        e = i + 1
        while e < len(lines) and lines[e] != "}":
            e += 1
        body = "\n".join(lines[i:e + 1])
        yield name, "\n".join(lines[c:e + 1]), body
        i = e + 1


def load_allow():
    allow = {}
    for raw in open(ALLOW, encoding="utf-8"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit("citation-allow.txt: %s has no reason" % key)
        allow[key] = reason.strip()
    return allow


def kernel_has(ksrc, path, func, cache={}):
    full = os.path.join(ksrc, path)
    if full not in cache:
        try:
            cache[full] = open(full, encoding="utf-8", errors="replace").read()
        except OSError:
            cache[full] = None
    text = cache[full]
    return text is not None and re.search(r"\b%s\b" % re.escape(func), text)


def main():
    allow = load_allow()
    used = set()
    ksrc = os.environ.get("LINUX_SRC")
    failures = []
    ncited = 0
    for fn in sorted(os.listdir(SRC)):
        if not fn.endswith(".c"):
            continue
        for name, text, body in functions(os.path.join(SRC, fn)):
            key = "%s:%s" % (fn, name)
            cites = CITE.findall(text)
            ncited += len(cites)
            if ksrc:
                for path, func in cites:
                    if not kernel_has(ksrc, path, func):
                        failures.append("%s cites %s:%s, not in %s"
                                        % (key, path, func, ksrc))
            if not RET_ERRNO.search(body):
                continue
            if key in allow:
                used.add(key)
                if cites:
                    failures.append("%s is allow-listed but cites %s"
                                    % (key, cites[0][0] + ":" + cites[0][1]))
                continue
            if not cites:
                failures.append("%s returns an errno without a kernel "
                                "citation" % key)
    for key in sorted(set(allow) - used):
        failures.append("citation-allow.txt: %s is stale (gone, or returns "
                        "no errno)" % key)
    print("1..1")
    for f in failures:
        print("# " + f)
    print("%s 1 - errno rules cite Linux 7.2 (%d citations)"
          % ("not ok" if failures else "ok", ncited))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
