#!/usr/bin/env python3
"""Helpers for the Redis cluster runner (tests/cluster) in run.sh.

cluster-skip.py SKIPFILE TESTDIR
    Turns every `test "NAME" {` / `test {NAME} {` whose NAME is listed in SKIPFILE into a no-op
    in the .tcl files of TESTDIR (a private copy of the suite), printing "NAME: SKIPPED" instead.

cluster-skip.py --score LOG UNIT...
    Splits the runner's LOG by "Testing unit:" and writes, for each cluster/NN-name (or
    sentinel/NN-name) UNIT, the "ok err exc rc" score file run.sh reads (LOG's directory, named
    like the other units' logs). The runner's exit code is read from LOG's name with .rc for .log
    (cluster-runner.rc, sentinel-runner.rc): both runners share tests/instances.tcl's output format.
"""
import os
import re
import sys


def skip(skipfile, testdir):
    names = set()
    with open(skipfile, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.add(line)
    for fn in sorted(os.listdir(testdir)):
        if not fn.endswith(".tcl"):
            continue
        path = os.path.join(testdir, fn)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        changed = False
        for name in names:
            for quoted in ('"%s"' % name, "{%s}" % name):
                pattern = "test " + quoted + " {"
                if pattern in text:
                    text = text.replace(pattern, "skipped_test " + quoted + " {")
                    changed = True
        if changed:
            text = ("proc skipped_test {name code} {puts \"[clock format [clock seconds] -format %H:%M:%S]> $name: SKIPPED\"}\n"
                    + text)
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(text)


def score(log, units):
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    rc_path = (log[:-4] if log.endswith(".log") else log) + ".rc"
    try:
        rc = int(open(rc_path).read().strip())
    except (OSError, ValueError):
        rc = 1
    sections = {}
    current = None
    for line in lines:
        m = re.search(r"Testing unit: (\S+)\.tcl", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        if current is not None:
            sections[current].append(line)
    # A unit also fails when the runner aborted in it (an instance did not start), found leaked
    # fds or a crash report (printed at cleanup, so counted in the last unit), or when the runner
    # died without its final verdict (timeout): then the last unit it started fails.
    markers = ("WARNING: Aborting the test", "ERROR: Sentinel has leaked fds", "*** Crash report found in")
    ended = any(re.search(r"GOOD! No errors|WARNING \d+ test\(s\) failed|WARNING: Aborting the test", l) for l in lines)
    last = current
    for unit in units:
        name = unit.split("/", 1)[1]
        key = next((k for k in sections if k.startswith(name)), None)
        body = sections.get(key, [])
        if key is not None and key == last and rc != 0 and not ended:
            body = body + ["FAILED: caught an error in the test: the runner ended without a verdict (rc=%d)" % rc]
        ok = sum(1 for l in body if re.match(r"^\d\d:\d\d:\d\d> .*: .*OK", l) and "FAILED" not in l)
        err = sum(1 for l in body if l.startswith("FAILED: caught an error") or any(m in l for m in markers))
        # Log lines in run.sh's format, so its summary prints the failures.
        out = os.path.join(os.path.dirname(log), unit.replace("/", "_") + ".log")
        with open(out, "w", encoding="utf-8") as f:
            for l in body:
                if re.match(r"^\d\d:\d\d:\d\d> .*: .*OK", l) and "FAILED" not in l:
                    f.write("[ok]: " + l + "\n")
                elif "FAILED" in l and re.match(r"^\d\d:\d\d:\d\d> ", l):
                    f.write("[err]: " + l + "\n")
                elif any(m in l for m in markers):
                    f.write("[err]: " + l + "\n")
                elif l.startswith("FAILED: caught an error") and "FAILED" not in "".join(body[:0]):
                    f.write("[exception]: " + l + "\n")
        unit_rc = 0 if (key is not None and err == 0) else (rc or 1)
        with open(out + ".score", "w") as f:
            f.write("%d %d %d %d\n" % (ok, err, 0, unit_rc))


if __name__ == "__main__":
    if sys.argv[1] == "--score":
        score(sys.argv[2], sys.argv[3:])
    else:
        skip(sys.argv[1], sys.argv[2])
