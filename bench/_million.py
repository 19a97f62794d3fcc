"""1,000,000 GenServers under one DynamicSupervisor, in a fresh interpreter.

    python -m bench._million [N]

Issue 10's scale case: starts one DynamicSupervisor and N (default
1,000,000) children under it, each a ``Holder`` with a small state, then
calls every child once and checks its answer. Prints one JSON line:
``start_s`` (starting the N children), ``call_s`` (the N calls),
``peak_rss`` (bytes, ``ru_maxrss``: the whole interpreter's peak),
``answered`` and ``all_answered``; ``start_gc_s`` is the part of ``start_s``
the cyclic GC took (``start_gc_full`` full collections). The targets:
started in <= 30 s, peak RSS <= 4 GiB, every child answering. The BEAM twin
(``twins.exs million``) does the same with ``VmHWM`` as its peak.

Reports are silenced (structlog below CRITICAL), as a production node would
not log a million progress reports at debug level either.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from typing import Any

import structlog

import greenserver as gs

from ._dynsup_scale import Holder
from ._gc_time import gc_time

N = 1_000_000
QUICK_N = 20_000  # with --quick
REPEATS = 3  # samples per make bench: each takes minutes and they hardly vary


def start_children(sup: gs.Pid, n: int) -> list[gs.Pid]:
    """Start *n* Holder children of *sup*; return their pids in order."""
    start_child = gs.DynamicSupervisor.start_child
    return [start_child(sup, (Holder, i)) for i in range(n)]


def answered(pids: list[gs.Pid]) -> int:
    """Call every child once; return how many answered with their own id."""
    call = gs.GenServer.call
    return sum(1 for i, pid in enumerate(pids) if call(pid, "get") == i)


def peak_rss_bytes() -> int:
    """Return this process's peak resident set size (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(n: int) -> dict[str, Any]:
    """Start *n* children of one DynamicSupervisor, call each; return the figures.

    The supervisor and its children are left running.
    """
    gs.self()
    sup = gs.DynamicSupervisor.start_link()
    with gc_time() as gc_start:
        t0 = time.perf_counter()
        pids = start_children(sup, n)
        t1 = time.perf_counter()
    count = answered(pids)
    t2 = time.perf_counter()
    active = gs.DynamicSupervisor.count_children(sup)["active"]
    if active != n:
        raise AssertionError(f"{active} children active after starting {n}")
    return {
        "n": n,
        "start_s": t1 - t0,
        "start_gc_s": gc_start.seconds,
        "start_gc_full": gc_start.full,
        "call_s": t2 - t1,
        "peak_rss": peak_rss_bytes(),
        "answered": count,
        "all_answered": count == n,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._million", description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=N)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    doc = run(args.n)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    os._exit(0)  # shutting a million servers down measures nothing


if __name__ == "__main__":
    main()
