"""Supervisor cases: restarting a crashed child; a DynamicSupervisor with 100k children.

``supervisor.restart``: a one_for_one Supervisor with one Echo child; the
runner kills the child (``gs.exit(pid, "kill")``) and calls
``which_children`` as a barrier (the supervisor handles the exit signal, and
so restarts the child, before it answers). Per restart, compared with:

* ``supervisor.start_link``: ``GenServer.start_link`` of the same child class,
  alone, in batches of 100 stopped untimed (the target is a restart within 2x
  of it);
* ``supervisor.by_hand``: the same job done by the runner itself, trapping
  exits: kill, receive the ``ExitSignal``, ``start_link`` a new child, one
  call (the barrier's round trip).

``dynsup.*``: ``bench._dynsup_scale`` in a fresh interpreter starts N
(100,000; ``--quick`` 10,000) small GenServers under one DynamicSupervisor,
calls each once and stops the supervisor; the cases report seconds per child
for each phase and the resident bytes per child (beside ``idle_mem.gs.rss``).

Reports are silenced while these run (structlog filters everything below
CRITICAL), so the figures leave out the cost of rendering the
``supervisor_report`` each restart logs; the configuration is restored after.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import structlog

import greenserver as gs

from ._cases_gen_server import Echo, batches
from ._fresh import SharedRun, python_module
from ._harness import Context, case, timed

# max_restarts high enough never to trip. The window is short on purpose:
# the supervisor keeps every restart time inside it and filters that list on
# each restart, so with a window of seconds a benchmark restarting tens of
# thousands of times a second would measure that filtering, quadratic in N.
MAX_RESTARTS = 10**9
MAX_SECONDS = 0.001


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Drop every structlog event below CRITICAL; restore the configuration after."""
    old = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    try:
        yield
    finally:
        structlog.configure(**old)


def _n(ctx: Context) -> int:
    return ctx.n(5_000, 500)


@case("supervisor.restart", baseline=("supervisor.start_link", "supervisor.by_hand"))
def supervisor_restart(ctx: Context) -> float:
    """Kill the child of a one_for_one Supervisor, which_children as barrier; per restart."""
    n = _n(ctx)
    which, kill = gs.Supervisor.which_children, gs.exit
    with quiet_logs():
        sup = gs.Supervisor.start_link(
            [(Echo, None)],
            strategy="one_for_one",
            max_restarts=MAX_RESTARTS,
            max_seconds=MAX_SECONDS,
        )
        try:
            [(_, first, _)] = which(sup)

            def go() -> object:
                pid = first
                for _ in range(n):
                    kill(pid, "kill")
                    [(_, pid, _)] = which(sup)
                return pid

            last: list[object] = []
            elapsed = timed(lambda: last.append(go()))
            assert isinstance(last[0], gs.Pid), last
            assert last[0] != first, last
            assert gs.GenServer.call(last[0], "alive?") == "alive?"
        finally:
            gs.Supervisor.stop(sup)
    return elapsed / n


@case("supervisor.start_link")
def supervisor_start_link(ctx: Context) -> float:
    """Baseline: GenServer.start_link of the same child class (stop not timed)."""
    n = _n(ctx)
    start_link, stop = gs.GenServer.start_link, gs.GenServer.stop
    pids: list[gs.Pid] = []

    def go(k: int) -> None:
        add = pids.append
        for _ in range(k):
            add(start_link(Echo, None))

    elapsed = 0.0
    with quiet_logs():
        try:
            for k in batches(n):
                elapsed += timed(lambda: go(k))  # noqa: B023 (called at once)
                while pids:  # outside the timing
                    stop(pids.pop())
        finally:
            for pid in pids:
                stop(pid)
    return elapsed / n


@case("supervisor.by_hand")
def supervisor_by_hand(ctx: Context) -> float:
    """Baseline: runner traps exits; kill child, receive ExitSignal, start_link, one call."""
    n = _n(ctx)
    start_link, call, kill, receive = (
        gs.GenServer.start_link,
        gs.GenServer.call,
        gs.exit,
        gs.receive,
    )

    def exit_of(pid: gs.Pid) -> Callable[[object], bool]:
        return lambda m: type(m) is gs.ExitSignal and m.pid == pid

    with quiet_logs():
        old = gs.trap_exits(True)
        pid = start_link(Echo, None)
        try:

            def go() -> None:
                nonlocal pid
                for i in range(n):
                    kill(pid, "kill")
                    receive(exit_of(pid))
                    pid = start_link(Echo, None)
                    call(pid, i)

            elapsed = timed(go)
        finally:
            gs.GenServer.stop(pid)
            receive(exit_of(pid))  # its "normal" exit, trapped
            gs.trap_exits(old)
    return elapsed / n


# --- DynamicSupervisor at scale (bench._dynsup_scale, in a fresh interpreter) -----


def _scale_run(n: int) -> dict[str, Any]:
    doc: dict[str, Any] = python_module("bench._dynsup_scale", str(n), timeout=600)
    return doc


_scale = SharedRun(_scale_run)


def _scale_figure(key: str, ctx: Context) -> float:
    return _scale.figure(key, ctx.n(100_000, 10_000))


@case(
    "dynsup.start_per_child",
    baseline="supervisor.start_link",
    group="dynsup",
    warmup=False,
    max_repeats=5,
)
def dynsup_start_per_child(ctx: Context) -> float:
    """DynamicSupervisor.start_child of N (100k; --quick 10k) small GenServers; per child."""
    return _scale_figure("start_per_child", ctx)


@case(
    "dynsup.call_per_child", baseline="gen_server.call", group="dynsup", warmup=False, max_repeats=5
)
def dynsup_call_per_child(ctx: Context) -> float:
    """One GenServer.call to each of the N children, in turn; per child."""
    return _scale_figure("call_per_child", ctx)


@case("dynsup.stop_per_child", group="dynsup", warmup=False, max_repeats=5)
def dynsup_stop_per_child(ctx: Context) -> float:
    """DynamicSupervisor.stop with N children (shuts them all down); per child."""
    return _scale_figure("stop_per_child", ctx)


@case(
    "dynsup.rss_per_child",
    unit="B/proc",
    baseline="idle_mem.gs.rss",
    group="dynsup",
    warmup=False,
    max_repeats=5,
)
def dynsup_rss_per_child(ctx: Context) -> float:
    """RSS delta per child while all N are alive (statm), supervisor bookkeeping included."""
    return _scale_figure("rss_per_child", ctx)
