"""1,000,000 GenServers under one DynamicSupervisor (issue 10), in a fresh
interpreter.

``bench._million`` starts the children, calls each once and prints the
figures; one run feeds the four ``million.gs.*`` cases (start seconds and
the garbage collector's part of them, call seconds, peak RSS). Each sample
takes minutes, so the cases take at most three. A run in which a child fails
to answer is an error, not a figure. ``--quick`` runs 20,000 children: the
absolute targets (30 s, 4 GiB) are then not checked.
"""

from __future__ import annotations

from typing import Any

from . import _million
from ._fresh import SharedRun, python_module
from ._harness import Context, case

GIB = 2**30


def _run(n: int) -> dict[str, Any]:
    doc: dict[str, Any] = python_module("bench._million", str(n), timeout=1800)
    if doc.get("all_answered") is not True:
        raise RuntimeError(f"{doc['answered']} of {n} children answered their call")
    return doc


_shared = SharedRun(_run)


def _n(ctx: Context) -> int:
    return ctx.n(_million.N, _million.QUICK_N)


def _profile(ctx: Context) -> float:
    """In-process for ``python -m bench.profile``: the same work, children left to settle()."""
    return float(_million.run(_n(ctx))["start_s"])


@case(
    "million.gs.start_s",
    unit="s",
    baseline="beam.million.start_s",
    group="million",
    warmup=False,
    max_repeats=_million.REPEATS,
    limit=30.0,
    profile=_profile,
)
def million_start_s(ctx: Context) -> float:
    """Start 1M GenServers under one DynamicSupervisor (fresh interpreter); seconds."""
    return _shared.figure("start_s", _n(ctx))


@case(
    "million.gs.start_gc_s",
    unit="s",
    group="million",
    warmup=False,
    max_repeats=_million.REPEATS,
    profile=_profile,
)
def million_start_gc_s(ctx: Context) -> float:
    """The part of million.gs.start_s spent in the cyclic garbage collector; seconds."""
    return _shared.figure("start_gc_s", _n(ctx))


@case(
    "million.gs.call_s",
    unit="s",
    baseline="beam.million.call_s",
    group="million",
    warmup=False,
    max_repeats=_million.REPEATS,
    profile=_profile,
)
def million_call_s(ctx: Context) -> float:
    """One GenServer.call to each of the 1M children, every one answering; seconds."""
    return _shared.figure("call_s", _n(ctx))


@case(
    "million.gs.peak_rss",
    unit="B",
    baseline="beam.million.peak_rss",
    group="million",
    warmup=False,
    max_repeats=_million.REPEATS,
    limit=4.0 * GIB,
    profile=_profile,
)
def million_peak_rss(ctx: Context) -> float:
    """Peak RSS (ru_maxrss) of the interpreter holding the 1M children."""
    return _shared.figure("peak_rss", _n(ctx))
