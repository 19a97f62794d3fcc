"""N GenServer children under one DynamicSupervisor, in a fresh interpreter.

    python -m bench._dynsup_scale N

Starts a DynamicSupervisor, starts N children under it (each holding a small
state), calls each once, stops the supervisor. Prints one JSON line: seconds
for each phase (total and per child) and the resident memory per child (RSS
delta from ``/proc/self/statm`` while all N are alive, divided by N; it
includes the supervisor's bookkeeping for each child).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
from typing import Any

import structlog

import greenserver as gs

from ._memory import rss_bytes


class Holder(gs.GenServer):
    """A child holding a small state; a call returns it."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok({"id": arg, "hits": 0})

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        state["hits"] += 1
        return gs.Reply(state["id"], state)


def run(n: int) -> dict[str, object]:
    """Start, call and stop *n* children of one DynamicSupervisor; return the figures."""
    me = gs.self()
    start_child, call = gs.DynamicSupervisor.start_child, gs.GenServer.call

    # Warm up imports, caches and the allocator's pools.
    sup = gs.DynamicSupervisor.start_link()
    for i in range(200):
        call(start_child(sup, (Holder, i)), "get")
    gs.DynamicSupervisor.stop(sup)
    gc.collect()

    rss0 = rss_bytes()
    t0 = time.perf_counter()
    sup = gs.DynamicSupervisor.start_link()
    pids = [start_child(sup, (Holder, i)) for i in range(n)]
    t1 = time.perf_counter()
    gc.collect()
    rss1 = rss_bytes()

    t2 = time.perf_counter()
    for i, pid in enumerate(pids):
        got = call(pid, "get")
        if got != i:
            raise AssertionError(f"child {i} answered {got!r}")
    t3 = time.perf_counter()

    counts = gs.DynamicSupervisor.count_children(sup)
    if counts["active"] != n:
        raise AssertionError(f"{counts} after starting {n} children")
    del pids

    t4 = time.perf_counter()
    gs.DynamicSupervisor.stop(sup)
    t5 = time.perf_counter()
    left = [p for p in gs.processes() if p != me]
    if left:
        raise AssertionError(f"{len(left)} process(es) alive after the supervisor stopped")

    return {
        "n": n,
        "start_s": t1 - t0,
        "call_s": t3 - t2,
        "stop_s": t5 - t4,
        "start_per_child": (t1 - t0) / n,
        "call_per_child": (t3 - t2) / n,
        "stop_per_child": (t5 - t4) / n,
        "rss_before": rss0,
        "rss_alive": rss1,
        "rss_per_child": (rss1 - rss0) / n,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._dynsup_scale", description=__doc__)
    parser.add_argument("n", type=int)
    args = parser.parse_args(argv)
    # structlog's default configuration prints every debug progress_report
    # (one line per child started) to stdout: keep reports out of the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    doc = run(args.n)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    os._exit(0)  # nothing left to tear down that is worth waiting for


if __name__ == "__main__":
    main()
