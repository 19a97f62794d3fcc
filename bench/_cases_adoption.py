"""Adoption: what a fresh greenlet pays for its first call (issue 14).

A web server runs each request in a fresh greenlet; the first greenserver
call it makes adopts it as a process, and the process ends with the
greenlet. The goal: that first call costs at most 2 µs more than a call
from a process that already exists.

* ``adoption.first_call``: the *marginal* cost of a first call. Fresh
  gevent greenlets (spawned and joined in batches, as a server would) each
  make one ``GenServer.call``; from that is subtracted the same run of
  greenlets doing nothing. Adoption, the process's end and the garbage
  both leave are included.
* ``adoption.existing_call``: calls from one gevent greenlet that is already
  a process (the same kind of greenlet, no adoption).
* ``adoption.gevent_first_round_trip``: the raw-gevent counterpart of the
  first case (a fresh greenlet's ``Queue`` round trip to a server greenlet).

These three count CPU time (``time.thread_time``), not wall time, and end
each run with a full garbage collection, counted: the benchmark machine is
shared, and part of the cost of a process is the cyclic garbage it leaves.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import gevent
from gevent.queue import Queue

import greenserver as gs

from ._cases_gen_server import Echo
from ._harness import Context, case

BATCH = 100  # greenlets alive at once, as concurrent requests would be


def _cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of ``fn()`` plus the garbage collection of what it left."""
    gc.collect()
    start = time.thread_time()
    fn()
    gc.collect()
    return time.thread_time() - start


def _nothing() -> None:
    return None


def _per_greenlet(n: int, body: Callable[[], object]) -> float:
    """CPU seconds per fresh greenlet running *body*, spawned and joined in batches."""
    spawn, joinall = gevent.spawn, gevent.joinall

    def go() -> None:
        for _ in range(n // BATCH):
            joinall([spawn(body) for _ in range(BATCH)])

    return _cpu(go) / (n // BATCH * BATCH)


def _marginal(n: int, body: Callable[[], object]) -> float:
    """Per greenlet: fresh greenlets running *body*, minus fresh greenlets doing nothing."""
    _per_greenlet(10 * BATCH, body)  # warm up both shapes
    _per_greenlet(10 * BATCH, _nothing)
    return _per_greenlet(n, body) - _per_greenlet(n, _nothing)


@case(
    "adoption.first_call",
    baseline=("adoption.existing_call", "adoption.gevent_first_round_trip"),
)
def first_call(ctx: Context) -> float:
    """A fresh greenlet's first GenServer.call, adoption and the process's end included."""
    server = gs.GenServer.start_link(Echo, None)
    call = gs.GenServer.call
    try:
        return _marginal(ctx.n(20_000, 2_000), lambda: call(server, 1))
    finally:
        gs.GenServer.stop(server)


@case("adoption.existing_call")
def existing_call(ctx: Context) -> float:
    """Baseline: GenServer.call from a greenlet that is already a process."""
    n = ctx.n(20_000, 2_000)
    server = gs.GenServer.start_link(Echo, None)
    call = gs.GenServer.call

    def calls(k: int) -> None:
        for i in range(k):
            call(server, i)

    def caller() -> tuple[gs.Pid, float]:
        calls(1_000)  # adopted here, and warmed up, before the clock starts
        return gs.self(), _cpu(lambda: calls(n)) / n

    try:
        pid, seconds = gevent.spawn(caller).get()
        ref = gs.monitor(pid)  # its end is noticed in a hub callback: wait for it
        gs.receive(lambda m: type(m) is gs.Down and m.ref is ref)
        return seconds
    finally:
        gs.GenServer.stop(server)


def _queue_server(inbox: Queue[tuple[Queue[object], object]]) -> None:
    while True:
        reply_to, msg = inbox.get()
        if msg is None:
            return
        reply_to.put(msg)


@case("adoption.gevent_first_round_trip")
def gevent_first_round_trip(ctx: Context) -> float:
    """Baseline: a fresh greenlet's first Queue round trip to a server greenlet (raw gevent)."""
    inbox: Queue[tuple[Queue[object], object]] = Queue()
    server = gevent.spawn(_queue_server, inbox)

    def round_trip() -> object:
        reply: Queue[object] = Queue()
        inbox.put((reply, 1))
        return reply.get()

    try:
        return _marginal(ctx.n(20_000, 2_000), round_trip)
    finally:
        inbox.put((Queue(), None))
        server.join()
