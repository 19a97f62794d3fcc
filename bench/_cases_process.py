"""Process kernel cases: message round trips and spawning, beside raw gevent/greenlet.

Every case drives the benchmark from the runner's own greenlet (the main
one, which greenserver adopts as a process), so the gs case and its
baselines have the same shape: the runner is one party, a spawned
process/greenlet is the other.
"""

from __future__ import annotations

from collections.abc import Callable

import gevent
import greenlet
from gevent.queue import Queue

import greenserver as gs

from ._harness import Context, case, timed

WARMUP = 1_000  # round trips before the timed loop of each sample


def _down_of(ref: gs.Ref) -> Callable[[object], bool]:
    return lambda msg: type(msg) is gs.Down and msg.ref is ref


# --- ping-pong ------------------------------------------------------------------


def _gs_echo(parent: gs.Pid) -> None:
    receive, send = gs.receive, gs.send
    while True:
        msg = receive()
        if msg is None:
            return
        send(parent, msg)


@case("pingpong.gs", baseline=("pingpong.queue", "pingpong.switch"))
def pingpong_gs(ctx: Context) -> float:
    """Round trip: gs.send to an echo process, gs.receive its reply."""
    n = ctx.n(50_000, 5_000)
    echo = gs.spawn(_gs_echo, gs.self())
    send, receive = gs.send, gs.receive

    def loop(k: int) -> object:
        msg: object = None
        for i in range(k):
            send(echo, i)
            msg = receive()
        return msg

    loop(WARMUP)
    last: list[object] = []
    elapsed = timed(lambda: last.append(loop(n)))
    assert last == [n - 1], last
    ref = gs.monitor(echo)
    send(echo, None)
    gs.receive(_down_of(ref))
    return elapsed / n


def _queue_echo(inbox: Queue[object], outbox: Queue[object]) -> None:
    get, put = inbox.get, outbox.put
    while True:
        msg = get()
        if msg is None:
            return
        put(msg)


@case("pingpong.queue")
def pingpong_queue(ctx: Context) -> float:
    """Baseline: put/get through two gevent.queue.Queue to an echo greenlet."""
    n = ctx.n(50_000, 5_000)
    inbox: Queue[object] = Queue()
    outbox: Queue[object] = Queue()
    echo = gevent.spawn(_queue_echo, inbox, outbox)
    put, get = inbox.put, outbox.get

    def loop(k: int) -> object:
        msg: object = None
        for i in range(k):
            put(i)
            msg = get()
        return msg

    loop(WARMUP)
    last: list[object] = []
    elapsed = timed(lambda: last.append(loop(n)))
    assert last == [n - 1], last
    put(None)
    echo.join()
    return elapsed / n


@case("pingpong.switch")
def pingpong_switch(ctx: Context) -> float:
    """Floor: a bare greenlet.switch pair (two raw greenlets switching back and forth)."""
    n = ctx.n(200_000, 20_000)
    main = greenlet.getcurrent()

    def echo(msg: object) -> None:
        back = main.switch
        while msg is not None:
            msg = back(msg)

    glet = greenlet.greenlet(echo)  # parent: this greenlet
    go = glet.switch

    def loop(k: int) -> object:
        msg: object = None
        for i in range(k):
            msg = go(i)
        return msg

    loop(WARMUP)
    last: list[object] = []
    elapsed = timed(lambda: last.append(loop(n)))
    assert last == [n - 1], last
    go(None)
    assert glet.dead
    return elapsed / n


# --- spawn ----------------------------------------------------------------------


def _gs_notify(parent: gs.Pid) -> None:
    gs.send(parent, None)


@case("spawn.gs", baseline=("spawn.gevent", "spawn.greenlet"))
def spawn_gs(ctx: Context) -> float:
    """gs.spawn of N processes that each send the runner one message, then N receives."""
    n = ctx.n(10_000, 1_000)
    me = gs.self()
    spawn, receive = gs.spawn, gs.receive

    def go() -> None:
        for _ in range(n):
            spawn(_gs_notify, me)
        for _ in range(n):
            receive()

    return timed(go) / n


def _gevent_notify(queue: Queue[object]) -> None:
    queue.put(None)


@case("spawn.gevent")
def spawn_gevent(ctx: Context) -> float:
    """Baseline: gevent.spawn of N greenlets that each put to one Queue, then N gets."""
    n = ctx.n(10_000, 1_000)
    queue: Queue[object] = Queue()
    spawn, get = gevent.spawn, queue.get
    glets: list[gevent.Greenlet[..., None]] = []

    def go() -> None:
        add = glets.append
        for _ in range(n):
            add(spawn(_gevent_notify, queue))
        for _ in range(n):
            get()

    elapsed = timed(go)
    gevent.joinall(glets)
    return elapsed / n


def _raw_notify(out: list[object]) -> None:
    out.append(None)


@case("spawn.greenlet")
def spawn_greenlet(ctx: Context) -> float:
    """Floor: create N raw greenlets, then switch into each (it appends to a list and ends)."""
    n = ctx.n(10_000, 1_000)
    out: list[object] = []
    make = greenlet.greenlet

    def go() -> None:
        glets = [make(_raw_notify) for _ in range(n)]
        for glet in glets:
            glet.switch(out)

    elapsed = timed(go)
    assert len(out) == n
    return elapsed / n
