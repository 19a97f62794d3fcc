"""Resident memory per idle process, each sample in a fresh interpreter (``bench._memory``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ._harness import Context, case

_ROOT = Path(__file__).resolve().parent.parent  # the directory holding bench/


def idle_bytes(kind: str, mode: str, ctx: Context) -> float:
    """Run ``python -m bench._memory`` once; return the bytes per idle process it saw."""
    n = ctx.n(20_000, 2_000)
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(_ROOT) if not path else f"{_ROOT}{os.pathsep}{path}"
    proc = subprocess.run(
        [sys.executable, "-m", "bench._memory", kind, str(n), "--mode", mode],
        capture_output=True,
        text=True,
        cwd=_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench._memory {kind} {n} --mode {mode} failed:\n{proc.stderr}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(doc["bytes_per_proc"])


@case("idle_mem.gs.rss", unit="B/proc", baseline="idle_mem.gevent.rss", warmup=False, max_repeats=5)
def idle_mem_gs_rss(ctx: Context) -> float:
    """RSS delta per process blocked in gs.receive() (N of them, fresh interpreter)."""
    return idle_bytes("gs", "rss", ctx)


@case(
    "idle_mem.gen_server.rss",
    unit="B/proc",
    baseline="idle_mem.gevent.rss",
    warmup=False,
    max_repeats=5,
)
def idle_mem_gen_server_rss(ctx: Context) -> float:
    """RSS delta per idle GenServer (blocked in its loop's receive)."""
    return idle_bytes("gen_server", "rss", ctx)


@case(
    "idle_mem.hibernated.rss",
    unit="B/proc",
    baseline="idle_mem.gevent.rss",
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
