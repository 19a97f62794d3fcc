"""GenServer cases: call round trip, drained casts, start_link + first call.

Each is driven from the runner's own greenlet (a process), beside a raw
gevent baseline doing the same job with ``gevent.queue.Queue``:

* ``gen_server.call`` runs in the ``pingpong`` group, interleaved with
  ``pingpong.queue`` and ``pingpong.switch`` (its baselines).
* ``gen_server.cast`` (N casts, then one call as a barrier) against
  ``gevent.queue_drained`` (N ``Queue.put`` to a consumer greenlet, then a
  sentinel and a join).
* ``gen_server.start_link_first_call`` against ``gevent.spawn_roundtrip``
  (spawn a greenlet that answers one Queue message).
* ``gen_server.start_link_100k``: 100,000 servers started and all alive at
  the end, in a fresh interpreter (``bench._start_link_many``).

``call``, ``cast`` and ``start_link_100k`` are also compared with their BEAM
twins (``_cases_beam``), against issue 10's targets.
"""

from __future__ import annotations

from typing import Any

import gevent
from gevent.queue import Queue

import greenserver as gs

from ._fresh import python_module
from ._harness import Context, case, timed

WARMUP = 1_000  # round trips before the timed loop of each sample
BATCH = 100  # start cases: servers alive at once (stopped, untimed, between batches)


def batches(n: int, size: int = BATCH) -> list[int]:
    """Split *n* into batch sizes, so a start case keeps few servers alive at once.

    Thousands of live servers would make each start slower (the cyclic GC
    walks them all), which a restart, with one child alive, does not pay.
    """
    return [min(size, n - i) for i in range(0, n, size)]


class Echo(gs.GenServer):
    """Replies to a call with the request; counts casts (its state)."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(0 if arg is None else arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(request, state)

    def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
        return gs.NoReply(state + 1)


def call_round_trip(n: int) -> float:
    """Seconds per ``GenServer.call`` to an Echo server started by the runner.

    Shared by ``gen_server.call`` and ``trace.call_*``.
    """
    pid = gs.GenServer.start_link(Echo, None)
    call = gs.GenServer.call
    try:

        def loop(k: int) -> object:
            msg: object = None
            for i in range(k):
                msg = call(pid, i)
            return msg

        loop(WARMUP)
        last: list[object] = []
        elapsed = timed(lambda: last.append(loop(n)))
        assert last == [n - 1], last
        return elapsed / n
    finally:
        gs.GenServer.stop(pid)


# --- call -----------------------------------------------------------------------


@case(
    "gen_server.call",
    baseline=("pingpong.queue", "pingpong.switch", "beam.call"),
    group="pingpong",
    targets={"beam.call": 1.5},
)
def gen_server_call(ctx: Context) -> float:
    """Round trip: GenServer.call on an echo server, from the runner process."""
    return call_round_trip(ctx.n(20_000, 2_000))


BACKLOG = 100_000  # unrelated messages queued in the caller's mailbox


@case("gen_server.call_backlog", baseline="gen_server.call", group="pingpong")
def gen_server_call_backlog(ctx: Context) -> float:
    """GenServer.call from a process holding 100k unrelated messages (target <= 2x a call)."""
    me = gs.self()
    for i in range(BACKLOG):
        gs.send(me, ("backlog", i))
    try:
        return call_round_trip(ctx.n(20_000, 2_000))
    finally:
        for _ in range(BACKLOG):
            gs.receive(timeout=0)


# --- cast -----------------------------------------------------------------------


@case(
    "gen_server.cast",
    baseline=("gevent.queue_drained", "beam.cast"),
    targets={"beam.cast": 2.0},
)
def gen_server_cast(ctx: Context) -> float:
    """N GenServer.cast, then one call as a barrier (all handled); per cast."""
    n = ctx.n(50_000, 5_000)
    pid = gs.GenServer.start_link(Echo, None)
    cast, call = gs.GenServer.cast, gs.GenServer.call
    try:
        call(pid, "ready")

        def go() -> object:
            for i in range(n):
                cast(pid, i)
            return call(pid, "barrier")

        elapsed = timed(go)
        assert gs.sys.get_state(pid) == n
        return elapsed / n
    finally:
        gs.GenServer.stop(pid)


def _consume(inbox: Queue[object], count: list[int]) -> None:
    get = inbox.get
    k = 0
    while get() is not None:
        k += 1
    count[0] = k


@case("gevent.queue_drained", group="gen_server")
def gevent_queue_drained(ctx: Context) -> float:
    """Baseline: N Queue.put to a consumer greenlet, then a sentinel and join; per put."""
    n = ctx.n(50_000, 5_000)
    inbox: Queue[object] = Queue()
    count = [0]
    consumer = gevent.spawn(_consume, inbox, count)
    gevent.sleep(0)  # let it block in get(), as the server blocks in receive
    put = inbox.put

    def go() -> None:
        for i in range(n):
            put(i)
        put(None)
        consumer.join()

    elapsed = timed(go)
    assert count[0] == n, count
    return elapsed / n


# --- start_link + first call ------------------------------------------------------


@case("gen_server.start_link_first_call", baseline="gevent.spawn_roundtrip")
def gen_server_start_link_first_call(ctx: Context) -> float:
    """GenServer.start_link of an echo server plus its first call (stop not timed)."""
    n = ctx.n(5_000, 500)
    start_link, call, stop = gs.GenServer.start_link, gs.GenServer.call, gs.GenServer.stop
    pids: list[gs.Pid] = []

    def go(k: int) -> None:
        add = pids.append
        for i in range(k):
            pid = start_link(Echo, None)
            call(pid, i)
            add(pid)

    elapsed = 0.0
    try:
        for k in batches(n):
            elapsed += timed(lambda: go(k))  # noqa: B023 (called at once)
            while pids:  # outside the timing
                stop(pids.pop())
    finally:
        for pid in pids:
            stop(pid)
    return elapsed / n


def _answer_one(inbox: Queue[object], outbox: Queue[object]) -> None:
    outbox.put(inbox.get())


@case("gevent.spawn_roundtrip", group="gen_server")
def gevent_spawn_roundtrip(ctx: Context) -> float:
    """Baseline: gevent.spawn a greenlet that answers one Queue message, and get the answer."""
    n = ctx.n(5_000, 500)
    spawn = gevent.spawn
    outbox: Queue[object] = Queue()
    get = outbox.get
    glets: list[gevent.Greenlet[..., None]] = []

    def go(k: int) -> None:
        add = glets.append
        for i in range(k):
            inbox: Queue[object] = Queue()
            add(spawn(_answer_one, inbox, outbox))
            inbox.put(i)
            get()

    elapsed = 0.0
    try:
        for k in batches(n):
            elapsed += timed(lambda: go(k))  # noqa: B023 (called at once)
            gevent.joinall(glets)  # outside the timing
            glets.clear()
    finally:
        gevent.joinall(glets)
    return elapsed / n


# --- start_link with 100k servers alive (fresh interpreter) -----------------------


def _start_link_100k_n(ctx: Context) -> int:
    return ctx.n(100_000, 10_000)


def _start_link_100k_profile(ctx: Context) -> float:
    """In-process for ``python -m bench.profile`` (the servers are left to settle())."""
    from . import _start_link_many

    return float(_start_link_many.run(_start_link_100k_n(ctx))["seconds_per_op"])


@case(
    "gen_server.start_link_100k",
    baseline="beam.start_link_100k",
    group="start_link_100k",
    warmup=False,
    max_repeats=5,
    targets={"beam.start_link_100k": 2.0},
    profile=_start_link_100k_profile,
)
def gen_server_start_link_100k(ctx: Context) -> float:
    """GenServer.start_link of 100k servers, all alive at the end (fresh process); per server."""
    n = _start_link_100k_n(ctx)
    doc = python_module("bench._start_link_many", str(n), timeout=600)
    return float(doc["seconds_per_op"])
