"""Exit signals over random process graphs, checked against a small model.

Hypothesis draws a few processes, each trapping exits or not, random links
and monitors among them and from the test process (which traps exits and
monitors everyone), then a sequence of steps: the test calls ``gs.exit``, a
process ends itself with ``raise gs.Exit(reason)``, or a process unlinks
from another. A pure-Python model of Erlang's rules says who dies, with what
reason, and which ``Down`` and ``ExitSignal`` messages each survivor gets;
the kernel must agree after every step. Every spawned process forwards what
it receives to the test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

import greenserver as gs
from greenserver.testing import wait_all_idle

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0

REASONS = ("normal", "shutdown", "boom", "kill")

T: Literal["T"] = "T"  # the test process, in the model
Node = int | Literal["T"]
# (observer, "down" or "exit", the process the message is about, reason)
Event = tuple[Node, str, Node, object]


@dataclass(frozen=True)
class Scenario:
    traps: tuple[bool, ...]
    links: tuple[tuple[int, int], ...]  # (a, b): a calls gs.link(b)
    monitors: tuple[tuple[int, int], ...]  # (watcher, target)
    test_links: frozenset[int]  # processes the test links to
    # In order: ("exit", target, reason): the test calls gs.exit(target, reason);
    # ("quit", target, reason): target raises gs.Exit(reason);
    # ("unlink", a, b): a calls gs.unlink(b).
    steps: tuple[tuple[str, int, object], ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(2, 8))
    index = st.integers(0, n - 1)
    pair = st.tuples(index, index).filter(lambda p: p[0] != p[1])
    reason = st.sampled_from(REASONS)
    step = st.one_of(
        st.tuples(st.just("exit"), index, reason),
        st.tuples(st.just("quit"), index, reason),
        pair.map(lambda p: ("unlink", *p)),
    )
    return Scenario(
        traps=tuple(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        links=tuple(draw(st.lists(pair, max_size=12))),
        monitors=tuple(draw(st.lists(pair, max_size=12))),
        test_links=frozenset(draw(st.sets(index, max_size=n))),
        steps=tuple(draw(st.lists(step, max_size=6))),
    )


class Model:
    """Erlang's rules for exit signals, links and monitors, and nothing else."""

    def __init__(self, sc: Scenario) -> None:
        self.n = len(sc.traps)
        self.alive = [True] * self.n
        self.traps: dict[Node, bool] = {i: t for i, t in enumerate(sc.traps)}
        self.traps[T] = True
        self.links: set[frozenset[Node]] = {frozenset(p) for p in sc.links}
        self.links |= {frozenset((T, i)) for i in sc.test_links}
        self.monitors: list[tuple[Node, Node]] = list(sc.monitors)
        self.monitors += [(T, i) for i in range(self.n)]

    def is_alive(self, node: Node) -> bool:
        return node == T or self.alive[node]

    def step(self, kind: str, target: int, arg: object) -> Counter[Event]:
        """Play one step; return the messages the survivors get."""
        events: list[Event] = []
        if not self.alive[target]:
            pass  # a signal or a message to a dead process does nothing
        elif kind == "exit":  # an exit signal from the test
            if arg == "kill":
                self._die(target, "killed", events)
            elif self.traps[target]:
                events.append((target, "exit", T, arg))
            elif arg != "normal":
                self._die(target, arg, events)
        elif kind == "quit":  # the process ends itself: any reason, "kill" too
            self._die(target, arg, events)
        else:
            assert kind == "unlink"
            self.links.discard(frozenset((target, arg)))  # type: ignore[arg-type]
        # A message to a process that died in the same step dies with its mailbox.
        return Counter(e for e in events if self.is_alive(e[0]))

    def _die(self, first: int, reason: object, events: list[Event]) -> None:
        work: list[Node] = [first]
        while work:
            proc = work.pop()
            if not self.is_alive(proc):
                continue
            assert proc != T
            self.alive[proc] = False
            for watcher, target in self.monitors:
                if target == proc and self.is_alive(watcher):
                    events.append((watcher, "down", proc, reason))
            self.monitors = [m for m in self.monitors if proc not in m]
            for link in [link for link in self.links if proc in link]:
                self.links.discard(link)
                (other,) = link - {proc}
                if not self.is_alive(other):
                    continue
                if self.traps[other]:
                    events.append((other, "exit", proc, reason))
                elif reason != "normal":
                    work.append(other)

    def links_of(self, node: Node) -> set[Node]:
        return {other for link in self.links if node in link for other in link - {node}}

    def monitored_by(self, watcher: Node) -> Counter[Node]:
        return Counter(target for w, target in self.monitors if w == watcher)


def node(test: gs.Pid, index: int) -> None:
    """Set up as configured, say "ready", then forward every message to *test*."""
    config = gs.receive()
    assert type(config) is tuple
    trap, links, monitors = config
    gs.trap_exits(trap)
    for pid in links:
        gs.link(pid)
    refs = {gs.monitor(pid): target for pid, target in monitors}
    gs.send(test, ("ready", index, refs))
    while True:
        msg = gs.receive()
        if type(msg) is tuple and msg[0] == "quit":
            raise gs.Exit(msg[1])
        if type(msg) is tuple and msg[0] == "unlink":
            gs.unlink(msg[1])
        else:  # a Down or an ExitSignal (their type is not plain tuple)
            gs.send(test, ("fwd", index, msg))


class World:
    """The real processes of a scenario, and a translation of their messages."""

    def __init__(self, sc: Scenario) -> None:
        self.test = gs.self()
        self.pids: list[gs.Pid] = []
        self.index: dict[gs.Pid, Node] = {self.test: T}
        self.refs: dict[Node, dict[gs.Ref, int]] = {}

    def start(self, sc: Scenario) -> None:
        n = len(sc.traps)
        for i in range(n):
            pid = gs.spawn(node, self.test, i)
            self.pids.append(pid)
            self.index[pid] = i
        self.refs[T] = {gs.monitor(pid): i for i, pid in enumerate(self.pids)}
        for i in sc.test_links:
            gs.link(self.pids[i])
        for i, pid in enumerate(self.pids):
            links = [self.pids[b] for a, b in sc.links if a == i]
            monitors = [(self.pids[t], t) for w, t in sc.monitors if w == i]
            gs.send(pid, (sc.traps[i], links, monitors))
        for _ in range(n):
            msg = gs.receive(lambda m: type(m) is tuple and m[0] == "ready", timeout=BOUND)
            assert type(msg) is tuple
            _, i, refs = msg
            self.refs[i] = refs

    def event(self, observer: Node, msg: object) -> Event:
        if type(msg) is gs.Down:
            target = self.refs[observer][msg.ref]
            assert msg.pid == self.pids[target]
            return (observer, "down", target, msg.reason)
        assert type(msg) is gs.ExitSignal, msg
        assert type(msg.pid) is gs.Pid
        return (observer, "exit", self.index[msg.pid], msg.reason)

    def drain(self) -> Counter[Event]:
        """Take every message waiting in the test's mailbox, as model events."""
        events: Counter[Event] = Counter()
        while True:
            try:
                msg = gs.receive(timeout=0)
            except TimeoutError:
                return events
            if type(msg) is tuple and msg[0] == "fwd":
                _, observer, inner = msg
                events[self.event(observer, inner)] += 1
            else:
                events[self.event(T, msg)] += 1

    def links_of(self, pid: gs.Pid) -> set[Node]:
        info = gs.info(pid)
        assert info is not None
        links = info["links"]
        assert type(links) is list
        return {self.index[p] for p in links}

    def monitored_by(self, pid: gs.Pid) -> Counter[Node]:
        info = gs.info(pid)
        assert info is not None
        monitors = info["monitors"]
        assert type(monitors) is list
        return Counter(self.index[p] for p in monitors)

    def stop(self) -> None:
        """Kill every survivor and take every message: leave a clean node."""
        for pid in self.pids:
            gs.exit(pid, "kill")
        wait_all_idle()
        self.drain()
        assert not any(gs.alive(pid) for pid in self.pids)


class TestExitPropagation:
    @settings(max_examples=100, deadline=None)
    @given(scenarios())
    def test_kernel_agrees_with_the_model(self, sc: Scenario) -> None:
        gs.trap_exits(True)
        model = Model(sc)
        world = World(sc)
        try:
            world.start(sc)
            assert world.drain() == Counter()
            for kind, target, arg in sc.steps:
                expected = model.step(kind, target, arg)
                pid = world.pids[target]

                if kind == "exit":
                    gs.exit(pid, arg)
                    # Death is atomic: the test's own messages are there at once...
                    direct = world.drain()
                    assert direct == Counter({e: c for e, c in expected.items() if e[0] == T})
                    expected -= direct
                elif kind == "quit":
                    gs.send(pid, ("quit", arg))
                else:
                    assert type(arg) is int
                    gs.send(pid, ("unlink", world.pids[arg]))
                # ...and the survivors forward theirs once they have run.
                wait_all_idle()

                assert world.drain() == expected
                assert [gs.alive(pid) for pid in world.pids] == model.alive
                assert world.links_of(world.test) == model.links_of(T)
                for i, pid in enumerate(world.pids):
                    if model.alive[i]:
                        assert world.links_of(pid) == model.links_of(i)
                        assert world.monitored_by(pid) == model.monitored_by(i)
        finally:
            world.stop()
            gs.trap_exits(False)
