#!/usr/bin/env python3
"""Pauses a CPU takes while every CPU in the list is busy.

On a virtual machine the host may take a virtual CPU away for a while when
the others are busy too: whatever runs there stops. Under a benchmark such a
pause holds every request in flight on that CPU, so a few pauses a second
show in the latency tail (p99, p99.9) of every proxy alike.

Usage: hoststalls.py SECONDS CPU [CPU ...]

Spins one process pinned to each CPU, all at the same time, for SECONDS (at
most 60), and prints for each CPU the gaps of at least 0.3 ms in which its
process did not run: how many, their total and the longest.
"""
import os
import sys
import time

THRESHOLD_NS = 300_000


def spin(seconds):
    """Returns (count, total_ns, longest_ns) of the gaps seen while spinning."""
    start = time.perf_counter_ns()
    end = start + int(seconds * 1e9)
    last = start
    count = total = longest = 0
    while last < end:
        now = time.perf_counter_ns()
        gap = now - last
        if gap >= THRESHOLD_NS:
            count += 1
            total += gap
            longest = max(longest, gap)
        last = now
    return count, total, longest


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: hoststalls.py SECONDS CPU [CPU ...]")
    seconds = min(float(sys.argv[1]), 60.0)
    cpus = [int(c) for c in sys.argv[2:]]
    go_read, go_write = os.pipe()
    children = []
    for cpu in cpus:
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.sched_setaffinity(0, {cpu})
            os.read(go_read, 1)  # all start together: each CPU busy while the others are
            count, total, longest = spin(seconds)
            os.write(result_write, f"{count} {total} {longest}".encode())
            os._exit(0)
        os.close(result_write)
        children.append((cpu, pid, result_read))
    os.close(go_read)
    os.write(go_write, b"x" * len(cpus))
    for cpu, pid, result_read in children:
        count, total, longest = (int(v) for v in os.read(result_read, 100).split())
        os.waitpid(pid, 0)
        print(f"CPU {cpu}: {count} pauses >= 0.3 ms in {seconds:g} s, {total / 1e6:.1f} ms in all "
              f"({100 * total / (seconds * 1e9):.2f} %), longest {longest / 1e6:.1f} ms")


if __name__ == "__main__":
    main()
