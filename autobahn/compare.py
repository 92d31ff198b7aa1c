#!/usr/bin/env python3
"""Compares an Autobahn report (index.json) with the committed expected results.

Usage: compare.py INDEX_JSON AGENT EXPECTED_JSON [--write]

Fails (exit 1) on any case whose behavior or behaviorClose is not OK or INFORMATIONAL (so
NON-STRICT and UNIMPLEMENTED fail: permessage-deflate, 12.* and 13.*, is implemented), and on
any difference from EXPECTED_JSON: a case added, missing, or changed. --write replaces
EXPECTED_JSON with the report instead. Also prints the total duration of the 9.x
(performance) and 12.x/13.x (permessage-deflate) cases.
"""
import json
import sys

ALLOWED = {"OK", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(p) for p in case_id.split("."))


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    index_path, agent, expected_path = sys.argv[1:4]
    with open(index_path) as f:
        report = json.load(f)[agent]
    got = {
        case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]}
        for case, r in sorted(report.items(), key=lambda kv: case_key(kv[0]))
    }
    perf_ms = sum(r.get("duration", 0) for case, r in report.items() if case.startswith("9."))
    perf_n = sum(1 for case in report if case.startswith("9."))
    print(f"autobahn: {agent}: 9.x cases: {perf_n}, total duration {perf_ms} ms")
    pmd = [r.get("duration", 0) for case, r in report.items() if case.startswith(("12.", "13."))]
    print(f"autobahn: {agent}: 12.x/13.x cases: {len(pmd)}, total duration {sum(pmd)} ms")
    if "--write" in sys.argv[4:]:
        with open(expected_path, "w") as f:
            json.dump(got, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"autobahn: wrote {len(got)} expected results to {expected_path}")
        return 0
    bad = [c for c, r in got.items() if r["behavior"] not in ALLOWED or r["behaviorClose"] not in ALLOWED]
    with open(expected_path) as f:
        expected = json.load(f)
    diffs = []
    for case in sorted(set(expected) | set(got), key=case_key):
        if expected.get(case) != got.get(case):
            diffs.append(f"  {case}: expected {expected.get(case)}, got {got.get(case)}")
    for c in bad:
        print(f"autobahn: {agent}: case {c} is {got[c]['behavior']} / {got[c]['behaviorClose']}")
    if diffs:
        print(f"autobahn: {agent}: {len(diffs)} case(s) differ from {expected_path}:")
        print("\n".join(diffs))
    if bad or diffs:
        return 1
    print(f"autobahn: {agent}: {len(got)} cases match {expected_path}, all strict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
