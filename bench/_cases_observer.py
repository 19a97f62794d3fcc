"""What an open observer page costs a big node: call round trips beside 100,000 processes.

Both cases time the same ``GenServer.call`` loop for a few seconds on a node
holding ``N`` idle processes (100,000; 10,000 with ``--quick``).
``observer.call_open`` has an observer serving one page, through a
server-sent events client that reads every snapshot, sorted by mailbox
length (a sort over the whole table); ``observer.call_closed`` has none. The
ratio is the collector's cost to the node while a page is open; the budget
is 1.05.
"""

from __future__ import annotations

from collections.abc import Callable

import gevent
from gevent import socket

import greenserver as gs
from greenserver.testing import wait_all_idle

from ._cases_gen_server import call_round_trip
from ._harness import Context, case


def _with_idle(n: int, fn: Callable[[], float]) -> float:
    # Spawning and killing N processes in one go stalls the node on purpose:
    # the system monitor would rightly say so, around the measurement.
    limit = gs.sys.system_monitor()["long_schedule"]
    gs.sys.system_monitor(long_schedule=None)
    idle = [gs.spawn(gs.receive) for _ in range(n)]
    wait_all_idle(timeout=120)
    gs.sys.system_monitor(long_schedule=limit)
    try:
        return fn()
    finally:
        gs.sys.system_monitor(long_schedule=None)
        for pid in idle:
            gs.exit(pid, "kill")
        gs.sys.system_monitor(long_schedule=limit)


def _read_events(port: int, seen: list[int]) -> None:
    """A page: read the event stream, counting snapshots, until closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.connect(("127.0.0.1", port))  # a numeric address: no resolver thread
        sock.sendall(
            b"GET /events?sort=mailbox&desc=1 HTTP/1.1\r\nHost: localhost\r\n"
            b"Accept: text/event-stream\r\n\r\n"
        )
        while True:
            data = sock.recv(65536)
            if not data:
                return
            seen[0] += data.count(b"\n\ndata: ") + data.startswith(b"data: ")
    finally:
        sock.close()


def _calls(ctx: Context) -> int:
    return ctx.n(1_000_000, 100_000)  # some 3 s: several snapshots


@case("observer.call_closed")
def observer_call_closed(ctx: Context) -> float:
    """GenServer.call round trip beside N idle processes, no observer."""
    return _with_idle(ctx.n(100_000, 10_000), lambda: call_round_trip(_calls(ctx)))


@case("observer.call_open", baseline="observer.call_closed")
def observer_call_open(ctx: Context) -> float:
    """The same, with an observer page open (an SSE client sorting by mailbox)."""

    def measure() -> float:
        observer = gs.observer.serve()
        seen = [0]
        reader = gevent.spawn(_read_events, observer.port, seen)
        try:
            return call_round_trip(_calls(ctx))
        finally:
            reader.kill(block=True)
            observer.stop()

    return _with_idle(ctx.n(100_000, 10_000), measure)


@case("observer.collector_share", unit="share", warmup=False, max_repeats=3)
def observer_collector_share(ctx: Context) -> float:
    """The collector's own share of the node's time, a page open for ~8 s beside N processes."""

    def measure() -> float:
        observer = gs.observer.serve()
        seen = [0]
        reader = gevent.spawn(_read_events, observer.port, seen)
        try:
            call_round_trip(ctx.n(2_500_000, 250_000))  # the node keeps working meanwhile
            stats = observer.statistics()
            assert stats.snapshots >= 2, f"the page got {stats.snapshots} snapshot(s)"
            return stats.share
        finally:
            reader.kill(block=True)
            observer.stop()

    return _with_idle(ctx.n(100_000, 10_000), measure)
