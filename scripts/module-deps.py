#!/usr/bin/env python3
"""Prints which top-level modules of a crate's src/ use which (`crate::` paths in code, not in
comments or tests), and fails if they form a loop. Usage: scripts/module-deps.py ws-server/src"""
import collections, os, re, sys

src = sys.argv[1] if len(sys.argv) > 1 else "ws-server/src"
lib = open(os.path.join(src, "lib.rs")).read()
mods = set(re.findall(r"^(?:pub )?mod (\w+);", lib, re.M))
# Re-exports at the crate root: `pub use module::{A, B};` maps A and B to module.
exports = {}
for m, names in re.findall(r"^pub use (\w+)::\{?([^};]*)\}?;", lib, re.M):
    for n in re.findall(r"\w+", names):
        exports[n] = m
graph = collections.defaultdict(set)
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.relpath(os.path.join(root, f), src)
        mod = path.split(os.sep)[0].removesuffix(".rs")
        if mod not in mods:
            continue
        code = open(os.path.join(root, f)).read().split("#[cfg(test)]")[0]
        code = "\n".join(l for l in code.splitlines() if not l.lstrip().startswith("//"))
        for m in re.finditer(r"crate::(\{[^}]*\}|\w+)", code):
            for n in re.findall(r"\w+", m.group(1)):
                dep = n if n in mods else exports.get(n)
                if dep and dep != mod:
                    graph[mod].add(dep)
for m in sorted(mods):
    print(f"{m:>10} -> {', '.join(sorted(graph[m])) or '-'}")
loops, state = [], {}
def visit(u, stack):
    state[u] = 1
    stack.append(u)
    for v in sorted(graph[u]):
        if state.get(v) == 1:
            loops.append(stack[stack.index(v):] + [v])
        elif not state.get(v):
            visit(v, stack)
    stack.pop()
    state[u] = 2
for m in sorted(mods):
    if not state.get(m):
        visit(m, [])
if loops:
    print("import loops:", *(" -> ".join(l) for l in loops), sep="\n  ")
    sys.exit(1)
print("no import loops")
