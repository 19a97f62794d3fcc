"""Chaos: random kills land wherever a process happens to be, and nothing survives them.

Victims of five kinds run side by side: one sleeps in gevent, one blocks on
a pipe (I/O), one calls a server, one waits inside ``with gevent.Timeout``,
one holds a registered name and a Registry key. A seeded ``random.Random``
kills them, with varied reasons, at random points of their loops, and a
killed victim is replaced. Each victim checks ``alive(self)`` after every
wake-up: a process that runs after its death records a violation.

Afterwards: no violation; the server is monitored by nobody, and answers;
no name, registry entry or message is left behind; every process is gone.
Excluded from the default run; ``make stress`` runs it.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.event
import gevent.socket
import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

pytestmark = pytest.mark.stress

SEED = 20_261_201
KILLS = 3_000
REASONS = ("kill", "boom", "shutdown", ValueError("chaos"))
BOUND = 5.0


class Server(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(0)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        if request == "slow":
            gevent.sleep(0.0005)  # noqa: TID251 - the server is slow: callers wait inside calls
        return gs.Reply(request, state + 1)


class Victims:
    """Spawns victims and collects what they should never see."""

    def __init__(self, server: gs.Pid, pipe_read: int) -> None:
        self.server = server
        self.pipe_read = pipe_read
        self.violations: list[str] = []
        self.started = 0
        self.unwound = 0
        self.kinds: list[Callable[[], None]] = [
            self.unwinding(kind)
            for kind in (self.sleeper, self.reader, self.caller, self.timed, self.registrar)
        ]

    def unwinding(self, kind: Callable[[], None]) -> Callable[[], None]:
        """Count the victims that started and those whose code has unwound.

        (Engines are reused once a victim has unwound: the count, not the
        greenlet's end, says a victim's code is done.)
        """

        def victim() -> None:
            self.started += 1
            try:
                kind()
            finally:
                self.unwound += 1

        return victim

    def enter(self) -> gs.Pid:
        return gs.self()

    def all_unwound(self) -> bool:
        return self.unwound == self.started

    def check(self, me: gs.Pid, where: str) -> None:
        if not gs.alive(me):
            self.violations.append(f"{me!r} ran after its death ({where})")

    def sleeper(self) -> None:
        me = self.enter()
        while True:
            gevent.sleep(random.choice((0, 0.0001, 0.001)))  # noqa: TID251 - a victim in gevent
            self.check(me, "sleep")

    def reader(self) -> None:
        me = self.enter()
        while True:
            with contextlib.suppress(gevent.socket.timeout):
                gevent.socket.wait_read(self.pipe_read, timeout=0.001)
            self.check(me, "io")

    def caller(self) -> None:
        me = self.enter()
        while True:
            gs.GenServer.call(self.server, random.choice(("fast", "slow")))
            self.check(me, "call")

    def timed(self) -> None:
        me = self.enter()
        while True:
            try:
                with gevent.Timeout(0.0005):
                    gs.receive(lambda m: False)
            except gevent.Timeout:
                pass
            self.check(me, "timeout")

    def registrar(self) -> None:
        me = self.enter()
        gs.register(f"victim{id(me)}", me)
        gs.Registry.register("chaos_registry", me, None)
        while True:
            gevent.sleep(0.0001)  # noqa: TID251 - a victim in gevent
            self.check(me, "registered")
            gs.spawn_link(gs.receive, lambda m: False)


def _pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    try:
        yield read, write
    finally:
        os.close(read)
        os.close(write)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    yield from _pipe()


def test_random_kills_anywhere_leave_nothing_behind(
    gs_reports: ReportLog, pipe: tuple[int, int]
) -> None:
    rng = random.Random(SEED)
    registry = gs.Registry.start(keys="unique", name="chaos_registry")
    server = gs.GenServer.start(Server, None)
    assert server is not None
    victims = Victims(server, pipe[0])
    live: list[tuple[gs.Pid, gs.Ref]] = [gs.spawn_monitor(victims.kinds[i % 5]) for i in range(25)]
    for i in range(KILLS):
        if i % 7 == 0:
            os.write(pipe[1], b"x")
        index = rng.randrange(len(live))
        pid, ref = live[index]
        gs.exit(pid, rng.choice(REASONS))
        wait_down(ref, BOUND)
        live[index] = gs.spawn_monitor(victims.kinds[rng.randrange(5)])
        if rng.random() < 0.5:
            # Let the others run into their waits before the next kill.
            with contextlib.suppress(TimeoutError):
                gs.receive(lambda m: False, timeout=rng.choice((0.0, 0.0002)))
    for pid, ref in live:
        gs.exit(pid, "kill")
        wait_down(ref, BOUND)
    # Every killed victim's greenlet unwinds (its pending wake-ups fired).
    for _ in range(1000):
        if victims.all_unwound():
            break
        with contextlib.suppress(TimeoutError):
            gs.receive(lambda m: False, timeout=0.001)
    assert victims.all_unwound()

    assert victims.violations == []
    info = gs.info(server)
    assert info is not None
    assert info["monitored_by"] == []
    assert gs.GenServer.call(server, "fast") == "fast"
    assert [n for n in gs.registered() if n.startswith("victim")] == []
    assert gs.Registry.count("chaos_registry") == 0
    with pytest.raises(TimeoutError):
        gs.receive(timeout=0)
    gs.GenServer.stop(server)
    gs.GenServer.stop(registry)
