"""Resident memory per idle process, each sample in a fresh interpreter (``bench._memory``).

The idle GenServer is also compared with its BEAM twin (``beam.idle_mem``,
the same RSS delta in a fresh Erlang VM); issue 10's target is 1.0x.
"""

from __future__ import annotations

from ._fresh import python_module
from ._harness import Context, case


def idle_bytes(kind: str, mode: str, ctx: Context) -> float:
    """Run ``python -m bench._memory`` once; return the bytes per idle process it saw."""
    n = ctx.n(20_000, 2_000)
    doc = python_module("bench._memory", kind, str(n), "--mode", mode, timeout=120)
    return float(doc["bytes_per_proc"])


@case("idle_mem.gs.rss", unit="B/proc", baseline="idle_mem.gevent.rss", warmup=False, max_repeats=5)
def idle_mem_gs_rss(ctx: Context) -> float:
    """RSS delta per process blocked in gs.receive() (N of them, fresh interpreter)."""
    return idle_bytes("gs", "rss", ctx)


@case(
    "idle_mem.gen_server.rss",
    unit="B/proc",
    baseline=("idle_mem.gevent.rss", "beam.idle_mem"),
    warmup=False,
    max_repeats=5,
    targets={"beam.idle_mem": 1.0},
)
def idle_mem_gen_server_rss(ctx: Context) -> float:
    """RSS delta per idle GenServer (blocked in its loop's receive)."""
    return idle_bytes("gen_server", "rss", ctx)


@case(
    "idle_mem.hibernated.rss",
    unit="B/proc",
    baseline=("idle_mem.gevent.rss", "beam.idle_mem"),
    warmup=False,
    max_repeats=5,
)
def idle_mem_hibernated_rss(ctx: Context) -> float:
    """RSS delta per hibernated GenServer: no greenlet stack held while idle."""
    return idle_bytes("hibernated", "rss", ctx)


@case("idle_mem.gevent.rss", unit="B/proc", warmup=False, max_repeats=5)
def idle_mem_gevent_rss(ctx: Context) -> float:
    """Baseline: RSS delta per gevent.spawn greenlet blocked on its own Queue.get()."""
    return idle_bytes("gevent", "rss", ctx)


@case(
    "idle_mem.gs.tracemalloc",
    unit="B/proc",
    baseline="idle_mem.gevent.tracemalloc",
    warmup=False,
    max_repeats=5,
)
def idle_mem_gs_tracemalloc(ctx: Context) -> float:
    """tracemalloc bytes per process blocked in gs.receive() (Python allocators only)."""
    return idle_bytes("gs", "tracemalloc", ctx)


@case("idle_mem.gevent.tracemalloc", unit="B/proc", warmup=False, max_repeats=5)
def idle_mem_gevent_tracemalloc(ctx: Context) -> float:
    """Baseline: tracemalloc bytes per greenlet blocked on its own Queue.get()."""
    return idle_bytes("gevent", "tracemalloc", ctx)
