#!/usr/bin/env python3
"""Per-request profile from two callgrind runs, for bench/http.sh.

    cgprofile.py BASE.out RUN.out N [TOP]

BASE is a run that served no request (startup and shutdown), RUN one that
served N requests; everything below is (RUN - BASE) / N, so only the work per
request remains. Prints:

  * the top functions by inclusive and by self instructions per request;
  * calls per request to the allocator and to Swift's runtime (malloc, free,
    swift_allocObject, swift_retain, ...);
  * every call chain reaching malloc/calloc/realloc/free/posix_memalign that
    runs per request, when the runs used callgrind's
    --separate-callers<N>=malloc (and so on): those give contexts named
    malloc'caller'caller's-caller..., one per chain.

Swift names are demangled with swift-demangle --simplified when it is found
(PATH or /opt/swift/usr/bin), else left mangled.
"""
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

ALLOC = ("malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign")
RUNTIME = ALLOC + ("swift_allocObject", "swift_slowAlloc", "swift_deallocObject", "swift_slowDealloc",
                   "swift_retain", "swift_release", "swift_bridgeObjectRetain", "swift_bridgeObjectRelease",
                   "swift_beginAccess", "swift_isUniquelyReferenced_nonNull_native",
                   "swift_allocBox", "swift_allocEmptyBox")

NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path):
    """self[fn], call_cost[fn] (cost of its calls to other functions),
    calls[(fn, callee)] = count, edge_cost[(fn, callee)] = inclusive cost of
    those calls, total."""
    names = {}
    self_cost = defaultdict(int)
    call_cost = defaultdict(int)
    calls = defaultdict(int)
    edge_cost = defaultdict(int)
    fn = None
    callee = None
    pending = None  # call count for the next cost line
    total = 0
    with open(path, errors="replace") as f:
        for line in f:
            c = line[0] if line else ""
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending is not None:
                    calls[(fn, callee)] += pending
                    edge_cost[(fn, callee)] += cost
                    if callee != fn:
                        call_cost[fn] += cost
                    pending = None
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("fn="):
                fn = resolve(names, line[3:].rstrip("\n"))
            elif line.startswith("cfn="):
                callee = resolve(names, line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    return self_cost, call_cost, calls, edge_cost, total


def resolve(names, text):
    m = NAME.match(text)
    if not m:
        return text
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
        return m.group(2)
    return names.get(m.group(1), text)


def demangler():
    tool = shutil.which("swift-demangle") or "/opt/swift/usr/bin/swift-demangle"
    return tool if os.path.exists(tool) else None


def demangle_all(names):
    names = sorted(set(names))
    tool = demangler()
    if not tool or not names:
        return {n: n for n in names}
    out = subprocess.run([tool, "--simplified"], input="\n".join(names) + "\n",
                         capture_output=True, text=True, check=False).stdout.split("\n")
    if len(out) < len(names):
        return {n: n for n in names}
    return {n: (d.strip() or n) for n, d in zip(names, out)}


def short(name, width=110):
    return name if len(name) <= width else name[: width - 1] + "…"


def main():
    base_path, run_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 25
    b_self, b_ccost, b_calls, b_edge, b_total = parse(base_path)
    r_self, r_ccost, r_calls, r_edge, r_total = parse(run_path)

    def base_fn(name):
        return name.split("'", 1)[0]

    fns = set(r_self) | set(r_ccost)
    self_per = {}
    incl_per = {}
    for f in fns:
        self_per[f] = (r_self.get(f, 0) - b_self.get(f, 0)) / n
        incl_per[f] = self_per[f] + (r_ccost.get(f, 0) - b_ccost.get(f, 0)) / n

    # Contexts (fn'caller'...) are merged into their function for the tables.
    merged_self = defaultdict(float)
    merged_incl = defaultdict(float)
    for f in fns:
        merged_self[base_fn(f)] += self_per[f]
        merged_incl[base_fn(f)] += incl_per[f]

    chains = set()
    for (caller, callee), _ in r_calls.items():
        if "'" in callee and base_fn(callee) in ALLOC:
            chains.add(callee)
    all_names = set(merged_self) | {p for c in chains for p in c.split("'")} | {c for (c, _) in r_calls}
    dm = demangle_all([x for x in all_names if x])

    print("instructions per request: %.0f (totals %d - %d over %d requests)"
          % ((r_total - b_total) / n, r_total, b_total, n))
    print()
    print("top %d functions by inclusive instructions per request" % top)
    print("%12s %12s  %s" % ("inclusive", "self", "function"))
    for f in sorted(merged_incl, key=lambda x: -merged_incl[x])[:top]:
        print("%12.1f %12.1f  %s" % (merged_incl[f], merged_self[f], short(dm.get(f, f))))
    print()
    print("top %d functions by self instructions per request" % top)
    print("%12s %12s  %s" % ("self", "inclusive", "function"))
    for f in sorted(merged_self, key=lambda x: -merged_self[x])[:top]:
        print("%12.1f %12.1f  %s" % (merged_self[f], merged_incl[f], short(dm.get(f, f))))

    # Who calls the functions that cost the most by themselves.
    edges = defaultdict(lambda: [0.0, 0.0])
    for key in set(r_edge) | set(b_edge):
        caller, callee = key
        e = edges[(base_fn(caller), base_fn(callee))]
        e[0] += (r_calls.get(key, 0) - b_calls.get(key, 0)) / n
        e[1] += (r_edge.get(key, 0) - b_edge.get(key, 0)) / n
    print()
    print("callers of the top 10 functions by self instructions (calls and inclusive instructions per request)")
    for f in sorted(merged_self, key=lambda x: -merged_self[x])[:10]:
        print("  %s" % short(dm.get(f, f)))
        rows = [(c, v) for (c, callee), v in edges.items() if callee == f and v[0] >= 0.05]
        for c, v in sorted(rows, key=lambda kv: -kv[1][1])[:6]:
            print("    %8.2f calls %10.1f instr  <- %s" % (v[0], v[1], short(dm.get(c, c), 120)))

    # Calls per request to the allocator and runtime, by callee.
    per_callee = defaultdict(float)
    per_edge = defaultdict(float)
    for key in set(r_calls) | set(b_calls):
        caller, callee = key
        d = (r_calls.get(key, 0) - b_calls.get(key, 0)) / n
        bf = base_fn(callee)
        if bf in RUNTIME:
            per_callee[bf] += d
            per_edge[(base_fn(caller), bf)] += d
    print()
    print("calls per request")
    for name in RUNTIME:
        if abs(per_callee.get(name, 0)) >= 0.005:
            print("%10.2f  %s" % (per_callee[name], name))
    print()
    print("direct callers of allocation functions (calls per request >= 0.01)")
    shown = 0
    for (caller, callee), d in sorted(per_edge.items(), key=lambda kv: -kv[1]):
        if callee in ("malloc", "calloc", "realloc", "free", "posix_memalign", "swift_allocObject",
                      "swift_slowAlloc", "swift_allocBox") and d >= 0.01:
            print("%10.2f  %-18s <- %s" % (d, callee, short(dm.get(caller, caller), 140)))
            shown += 1
    if not shown:
        print("      none")

    print()
    print("main callers of swift_retain / swift_release / swift_isUniquelyReferenced (calls per request >= 0.5)")
    for (caller, callee), d in sorted(per_edge.items(), key=lambda kv: -kv[1]):
        if callee in ("swift_retain", "swift_release", "swift_isUniquelyReferenced_nonNull_native",
                      "swift_bridgeObjectRetain", "swift_bridgeObjectRelease") and d >= 0.5:
            print("%10.2f  %-18s <- %s" % (d, callee.replace("_nonNull_native", ""), short(dm.get(caller, caller), 140)))

    # Whole chains, when callgrind separated the allocator's callers.
    per_chain = defaultdict(float)
    for key in set(r_calls) | set(b_calls):
        caller, callee = key
        if "'" in callee and base_fn(callee) in ALLOC:
            per_chain[callee] += (r_calls.get(key, 0) - b_calls.get(key, 0)) / n
    if per_chain:
        print()
        print("allocation call chains per request (callee <- caller <- ...), >= 0.01")
        shown = 0
        for chain, d in sorted(per_chain.items(), key=lambda kv: -kv[1]):
            if d < 0.01:
                continue
            parts = chain.split("'")
            print("%10.2f  %s" % (d, parts[0]))
            for p in parts[1:]:
                print("              <- %s" % short(dm.get(p, p), 150))
            shown += 1
        if not shown:
            print("      none")


if __name__ == "__main__":
    main()
