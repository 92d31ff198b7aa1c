#!/usr/bin/env bash
# Prints the latest criterion results (target/criterion/*/*/new/) as markdown tables, one per
# benchmark group: each function's time per iteration and throughput, and how many times
# faster ours is than each other function of the group, all from the same `cargo bench` run.
#
#   cargo bench -p oyez-benches && bash scripts/bench-ratios.sh
#   bash scripts/bench-ratios.sh decode_ mask_1048576B     # only groups starting with these
#
# "Ours" in a group is its first function whose name starts with one of: oyez-frame, oyez-tokio,
# apply_mask skew 1, SharedFrame, decode, encode (an exact match first); fanout_* groups have
# no peer and show no ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${CARGO_TARGET_DIR:-target}/criterion
[ -d "$DIR" ] || { echo "no $DIR: run cargo bench -p oyez-benches first" >&2; exit 1; }
python3 - "$DIR" "$@" <<'PY'
import json, os, sys, glob

root, prefixes = sys.argv[1], sys.argv[2:]
# Groups that measure ws-server alone (two views of one fan-out), with no peer to compare.
NO_PEER = ["fanout_"]
OURS = ["oyez-frame", "oyez-tokio", "apply_mask skew 1", "SharedFrame", "decode", "encode"]
groups = {}
for bench in glob.glob(os.path.join(root, "**", "new", "benchmark.json"), recursive=True):
    d = os.path.dirname(bench)
    try:
        meta = json.load(open(bench))
        est = json.load(open(os.path.join(d, "estimates.json")))
    except (OSError, ValueError):
        continue
    g = meta.get("group_id")
    if prefixes and not any(g.startswith(p) for p in prefixes):
        continue
    groups.setdefault(g, []).append((meta.get("function_id") or meta.get("value_str") or "", meta.get("throughput"), est["median"]["point_estimate"]))

def rate(tp, ns):
    if not tp:
        return "-"
    if "Bytes" in tp:
        b = tp["Bytes"] / (ns / 1e9)
        return f"{b / 1e9:.2f} GB/s" if b >= 1e9 else f"{b / 1e6:.1f} MB/s"
    if "Elements" in tp:
        e = tp["Elements"] / (ns / 1e9)
        return f"{e / 1e6:.2f} M/s" if e >= 1e6 else f"{e / 1e3:.1f} k/s"
    return "-"

def t(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return f"{ns / div:.2f} {unit}"
    return f"{ns:.1f} ns"

for g in sorted(groups):
    fns = groups[g]
    fns.sort()
    ours = next((f for p in OURS for f in fns if f[0] == p), None) or next(
        (f for p in OURS for f in fns if f[0].startswith(p)), None
    )
    if any(g.startswith(p) for p in NO_PEER):
        ours = None
    print(f"\n### {g}\n")
    print("| function | median time | throughput | ours is ×faster |")
    print("| --- | ---: | ---: | ---: |")
    for name, tp, ns in sorted(fns, key=lambda f: f[2]):
        r = "(ours)" if ours and name == ours[0] else (f"{ns / ours[2]:.2f}x" if ours else "-")
        print(f"| {name} | {t(ns)} | {rate(tp, ns)} | {r} |")
PY
