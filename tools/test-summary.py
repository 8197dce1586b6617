#!/usr/bin/env python3
"""Summarise a tools/test.sh run: one line per stage, then the case count.

    tools/test-summary.py STAGES_FILE

STAGES_FILE has one tab-separated line per stage, written by tools/test.sh:

    name  status  seconds  kind  arg  [note]

status is pass, fail or skip; seconds is how long the stage took. kind says
where the test cases are counted:
  meson  arg is a build directory; cases come from its meson-logs/testlog.json
         (Criterion "Synthesis" lines, pytest's junit XML or summary line, else
         one case per meson test)
  count  arg is "passed,failed,skipped" counted by the caller
  none   no cases (e.g. installing dependencies)

The very last line printed is "N passed, N failed" (", N skipped" when some
were skipped). Exit status 0 only when no stage failed, no case failed and at
least one case passed: a run that tested nothing fails. Stdlib only.
"""

import json
import os
import re
import sys
import xml.etree.ElementTree as ET

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CRITERION = re.compile(
    r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)"
)
PYTEST_SUMMARY = re.compile(r"\b\d+ (?:passed|failed|errors?|skipped)\b.* in [\d.]+s")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
PASSING_RESULTS = {"OK", "EXPECTEDFAIL"}
MAX_LISTED = 20


class Count:
    def __init__(self, passed=0, failed=0, skipped=0):
        self.passed = passed
        self.failed = failed
        self.skipped = skipped
        self.failures = []  # names of failed cases, for the report

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures

    def total(self):
        return self.passed + self.failed + self.skipped

    def line(self):
        text = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text


def criterion_count(output):
    matches = CRITERION.findall(output)
    if not matches:
        return None
    tested, passing, _failing, _crashing = (int(x) for x in matches[-1])
    # Criterion's "Failing" already includes "Crashing"; skipped tests are not "Tested".
    count = Count(passed=passing, failed=tested - passing)
    for line in output.splitlines():
        m = re.match(r"^\[(?:FAIL|CRASH)\] (\w+::\w+)", line)
        if m and m.group(1) not in count.failures:
            count.failures.append(m.group(1))
    return count


def junit_count(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    count = Count()
    for suite in suites:
        tests = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        count.passed += max(0, tests - bad - skipped)
        count.failed += bad
        count.skipped += skipped
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                count.failures.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    return count


def pytest_count(output):
    lines = [line for line in output.splitlines() if PYTEST_SUMMARY.search(line)]
    if not lines:
        return None
    count = Count()
    for number, word in PYTEST_COUNT.findall(lines[-1]):
        n = int(number)
        if word in ("passed", "xfailed", "xpassed"):
            count.passed += n
        elif word == "skipped":
            count.skipped += n
        else:
            count.failed += n
    for line in output.splitlines():
        m = re.match(r"^(?:FAILED|ERROR) (\S+)", line)
        if m:
            count.failures.append(m.group(1))
    return count


def meson_test_count(entry, builddir):
    """Cases in one meson test; never fewer than one failure if meson says it failed."""
    # meson names tests "project:suite / name"; the bare name is enough here.
    name = entry.get("name", "?").split(" / ")[-1]
    result = entry.get("result", "?")
    output = ANSI.sub("", (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or ""))
    count = criterion_count(output)
    junit = [a for a in entry.get("command") or [] if a.startswith("--junitxml=")]
    if count is None and junit:
        count = junit_count(os.path.join(builddir, junit[-1][len("--junitxml=") :]))
    if count is None:
        count = pytest_count(output)
    if count is None:
        count = Count()
        if result == "SKIP":
            count.skipped = 1
        elif result in PASSING_RESULTS:
            count.passed = 1
    if result not in PASSING_RESULTS and result != "SKIP" and count.failed == 0:
        count.failed = 1
        count.failures.append(f"{name} ({result})")
    elif count.failures:
        count.failures = [f"{name}: {f}" for f in count.failures]
    return count


def meson_count(builddir):
    path = os.path.join(builddir, "meson-logs", "testlog.json")
    count = Count()
    tests = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            for line in log:
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                tests += 1
                count.add(meson_test_count(entry, builddir))
    except OSError:
        pass
    return count, tests


def parse_counts(arg):
    try:
        passed, failed, skipped = (int(x) for x in arg.split(","))
    except ValueError:
        return Count()
    return Count(passed, failed, skipped)


def main():
    if len(sys.argv) != 2:
        print("usage: test-summary.py STAGES_FILE", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    stages = []
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 4:
                    stages.append((fields + ["", ""])[:6])
    except OSError as e:
        stages.append(["stages", "fail", "", "none", "", f"cannot read the stage list: {e}"])

    total = Count()
    any_failed = False
    rows = []
    for name, status, seconds, kind, arg, note in stages:
        count = Count()
        if kind == "meson":
            count, tests = meson_count(arg)
            if status == "pass" and count.total() == 0:
                status, note = "fail", f"no test cases ran in {arg} ({tests} meson tests)"
        elif kind == "count":
            count = parse_counts(arg)
        if status == "fail" and count.failed == 0:
            # A stage that broke before its tests (setup, compile) is one failed case.
            count.failed = 1
            count.failures.append(note or "stage failed")
        any_failed = any_failed or status == "fail"
        total.add(count)
        rows.append((name, status, seconds, count, note))

    print()
    print("==> Summary")
    width = max([len(r[0]) for r in rows] + [5])
    for name, status, seconds, count, note in rows:
        label = {"pass": "pass", "fail": "FAIL", "skip": "skip"}.get(status, status)
        took = f"{seconds}s" if status != "skip" and seconds.isdigit() else ""
        cases = count.line() if count.total() else ""
        extra = f"  ({note})" if note and status != "fail" else ""
        print(f"  {name:<{width}}  {label:<4}  {took:>5}  {cases}{extra}".rstrip())
        if status == "fail" and note and note not in count.failures:
            print(f"      {note}")
        for failure in count.failures[:MAX_LISTED]:
            print(f"      failed: {failure}")
        if len(count.failures) > MAX_LISTED:
            print(f"      ... and {len(count.failures) - MAX_LISTED} more")
    if total.total() == 0:
        print("  no test cases were counted: this run tested nothing")
    sys.stdout.flush()
    print(total.line(), flush=True)
    ok = not any_failed and total.failed == 0 and total.passed > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
