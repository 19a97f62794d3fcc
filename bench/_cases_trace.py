"""Tracing overhead: a call with no handler, with a no-op handler, and the check alone.

``trace.call_off`` is the same measurement as ``gen_server.call``, kept
separate so the ``trace`` group compares like with like, interleaved.
``trace.check_cost`` times the single test every hot path makes when no
handler is installed (``if _instrument.enabled: pass``) against an empty
loop, and against a whole call: the check costs a few nanoseconds, and a call
makes a handful of them.
"""

from __future__ import annotations

import timeit

import greenserver as gs
from greenserver import _instrument

from ._cases_gen_server import call_round_trip
from ._harness import Context, case


@case("trace.call_off")
def trace_call_off(ctx: Context) -> float:
    """GenServer.call round trip with no trace handler installed."""
    assert not _instrument.enabled, "a trace handler is installed"
    return call_round_trip(ctx.n(20_000, 2_000))


@case("trace.call_noop", baseline="trace.call_off")
def trace_call_noop(ctx: Context) -> float:
    """GenServer.call round trip with a no-op handler (all events) installed."""
    handle = gs.trace.add_handler(lambda event: None)
    try:
        return call_round_trip(ctx.n(20_000, 2_000))
    finally:
        gs.trace.remove_handler(handle)


def _per_loop(stmt: str, n: int) -> float:
    # globals= makes ``_instrument`` a global of the timed code, as it is in
    # the library's modules (LOAD_GLOBAL + LOAD_ATTR), not a fast local.
    timer = timeit.Timer(stmt, globals={"_instrument": _instrument})
    return timer.timeit(n) / n


@case("trace.check_cost", baseline=("trace.check_empty", "trace.call_off"))
def trace_check_cost(ctx: Context) -> float:
    """The hot-path test alone: timeit of `if _instrument.enabled: pass`."""
    assert not _instrument.enabled, "a trace handler is installed"
    return _per_loop("if _instrument.enabled: pass", ctx.n(2_000_000, 200_000))


@case("trace.check_empty")
def trace_check_empty(ctx: Context) -> float:
    """Floor: timeit of `pass` (the loop alone)."""
    return _per_loop("pass", ctx.n(2_000_000, 200_000))
