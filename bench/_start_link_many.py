"""N ``GenServer.start_link`` servers alive at once, in a fresh interpreter.

    python -m bench._start_link_many N

Warms up (1,000 servers started and stopped), then starts N Echo servers
from the main process, each linked to it and all alive at the end, and times
that. Prints one JSON line: ``seconds_per_op`` (per server), ``gc_share``
(the part of that time the cyclic GC took) and ``alive``. The BEAM twin
(``twins.exs start_link``) does the same; the issue's figure is for N =
100,000. Unlike ``gen_server.start_link_first_call`` (batches of 100), every
start here pays for the N servers already alive: the cyclic GC walks them,
as it would in a real node.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from typing import Any

import greenserver as gs

from ._cases_gen_server import Echo
from ._gc_time import gc_time

WARMUP = 1_000


def start_many(n: int) -> list[gs.Pid]:
    """Start *n* linked Echo servers; return their pids."""
    start_link = gs.GenServer.start_link
    return [start_link(Echo, i) for i in range(n)]


def run(n: int) -> dict[str, Any]:
    """Start *n* servers (after a warm-up) and return the figures; they stay alive."""
    me = gs.self()
    for pid in start_many(WARMUP):
        gs.GenServer.stop(pid)
    gc.collect()
    with gc_time() as gc_start:
        t0 = time.perf_counter()
        pids = start_many(n)
        elapsed = time.perf_counter() - t0
    alive = sum(1 for pid in gs.processes() if pid != me)
    if alive != n or len(pids) != n:
        raise AssertionError(f"{alive} servers alive after starting {n}")
    return {
        "n": n,
        "seconds_per_op": elapsed / n,
        "gc_share": gc_start.seconds / elapsed,
        "alive": alive,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._start_link_many", description=__doc__)
    parser.add_argument("n", type=int)
    args = parser.parse_args(argv)
    doc = run(args.n)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    # Skip the teardown: stopping N servers measures nothing, and the
    # process's exit takes them all.
    os._exit(0)


if __name__ == "__main__":
    main()
