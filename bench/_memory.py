"""Measure the memory of N idle processes, in a fresh interpreter.

    python -m bench._memory KIND N [--mode rss|tracemalloc]

KIND is ``gs`` (N processes blocked in ``gs.receive()``), ``gen_server`` (N
idle GenServers), ``hibernated`` (N idle GenServers that hibernated: they
hold no greenlet stack) or ``gevent`` (N ``gevent.spawn`` greenlets blocked in
``Queue.get()``, each on its own queue).
Prints one JSON line: the memory before and after starting them, and the
difference per process.

Modes:

* ``rss``: resident set size from ``/proc/self/statm``. Sees everything,
  including what C extensions ``malloc`` (greenlet's saved stack slices) and
  the interpreter's per-greenlet frame stacks, at page granularity.
* ``tracemalloc``: bytes allocated through Python's allocators and still
  held. tracemalloc's own bookkeeping inflates RSS, which is why the two
  modes run in separate interpreters.

Running in a fresh interpreter keeps one measurement's allocator state (free
lists, pymalloc arenas, heap fragmentation) out of the other.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from typing import Any

import gevent
from gevent.queue import Queue

import greenserver as gs

KINDS = ("gs", "gen_server", "hibernated", "gevent")
MODES = ("rss", "tracemalloc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Return the current resident set size (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        # ru_maxrss is the peak, in KiB on Linux: good enough while only growing.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _idle_gs(started: list[int]) -> None:
    started[0] += 1
    gs.receive()


def _idle_gevent(queue: Queue[object], started: list[int]) -> None:
    started[0] += 1
    queue.get()


class _Idle(gs.GenServer[None]):
    def init(self, arg: object) -> gs.Ok[None]:
        return gs.Ok(None)


def start(kind: str, n: int) -> list[Any]:
    """Start *n* idle processes of *kind*; return when every one of them is blocked."""
    started = [0]
    holders: list[Any]
    if kind == "gs":
        holders = [gs.spawn(_idle_gs, started) for _ in range(n)]
    elif kind in ("gen_server", "hibernated"):
        after = 0 if kind == "hibernated" else None
        holders = [_Idle.start(None, hibernate_after=after) for _ in range(n)]
        started[0] = n
    else:
        holders = [gevent.spawn(_idle_gevent, Queue(), started) for _ in range(n)]
    deadline = time.monotonic() + 60
    while started[0] < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {started[0]} of {n} {kind} processes started")
        gevent.sleep(0)
    gevent.sleep(0)
    return holders


def check_blocked(kind: str, holders: list[Any]) -> None:
    """Raise unless every holder is alive and blocked (not finished, not runnable)."""
    if kind != "gevent":
        for pid in holders:
            info = gs.info(pid)
            if info is None or info["status"] != "waiting":
                raise RuntimeError(f"{pid!r} is not blocked in receive: {info!r}")
    else:
        for glet in holders:
            if not glet or glet.dead:
                raise RuntimeError(f"{glet!r} is not blocked in Queue.get()")


def stop(kind: str, holders: list[Any]) -> None:
    """Kill the processes *start* made and wait for them to be gone."""
    if kind != "gevent":
        for pid in holders:
            gs.exit(pid, "kill")
        for _ in range(3):
            gevent.sleep(0)
    else:
        gevent.killall(holders, block=True)


def measure(kind: str, n: int, mode: str) -> dict[str, object]:
    """Return the memory *n* idle processes of *kind* take, measured in *mode*."""
    gs.self()  # the parent is a process, as in the other benchmarks
    # Warm up: import-time and first-use allocations (code objects, caches,
    # the hub's callback machinery) must not count as per-process memory.
    stop(kind, start(kind, 200))
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    holders = start(kind, n)
    gc.collect()
    if mode == "tracemalloc":
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = rss_bytes()
    check_blocked(kind, holders)  # after measuring: it allocates
    return {
        "kind": kind,
        "n": n,
        "mode": mode,
        "before": before,
        "after": after,
        "bytes_per_proc": (after - before) / n,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._memory", description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("n", type=int)
    parser.add_argument("--mode", choices=MODES, default="rss")
    args = parser.parse_args(argv)
    doc = measure(args.kind, args.n, args.mode)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    # Skip the interpreter's teardown: unwinding N blocked greenlets is slow
    # and measures nothing.
    os._exit(0)


if __name__ == "__main__":
    main()
