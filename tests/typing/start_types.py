"""What ``mypy --strict`` infers for start/start_link; `make typecheck` checks this file.

It is never run. Each ``# type: ignore[code]`` marks a mistake mypy must
report: strict mode warns about an unused ignore, so if mypy stopped
catching one of them, `make typecheck` would fail.
"""

from __future__ import annotations

from typing import Any, assert_type

import greenserver as gs
from stack import Stack


class Counter(gs.GenServer[int]):
    def init(self, start: int) -> gs.Ok[int]:
        return gs.Ok(start)


class MaybeCounter(gs.GenServer[int]):
    """Its init may return Ignore, so starting it may give None."""

    def init(self, start: int) -> gs.Ok[int] | gs.Ignore:
        return gs.Ok(start) if start >= 0 else gs.Ignore()


class NoArgument(gs.GenServer[None]):
    def init(self, arg: None) -> gs.Ok[None]:
        return gs.Ok(None)


class OwnStartLink(gs.GenServer[int]):
    """A client API may define its own start_link, with any signature."""

    @classmethod
    def start_link(cls, start: int, *, name: str) -> gs.Pid:
        return gs.GenServer.start_link(cls, start, name=name)

    def init(self, start: int) -> gs.Ok[int]:
        return gs.Ok(start)


class Tree(gs.Supervisor):
    def init(self, arg: int) -> gs.SupervisorSpec:
        return gs.Supervisor.spec([(Counter, arg)])


class MaybeTree(gs.Supervisor):
    def init(self, arg: int) -> gs.SupervisorSpec | gs.Ignore:
        return gs.Ignore()


def starts_give_a_pid() -> None:
    assert_type(Counter.start_link(1), gs.Pid)
    assert_type(Counter.start(1, name="counter", timeout=1.0, hibernate_after=5.0), gs.Pid)
    assert_type(gs.GenServer.start_link(Counter, 1), gs.Pid)
    assert_type(gs.GenServer.start(Counter, 1, name=gs.Via("reg", "c")), gs.Pid)
    assert_type(Stack.start_link(["hello"]), gs.Pid)
    assert_type(NoArgument.start_link(), gs.Pid)
    assert_type(NoArgument.start_link(None), gs.Pid)
    assert_type(OwnStartLink.start_link(1, name="own"), gs.Pid)
    assert_type(gs.Supervisor.start_link([Counter, (Counter, 2)], strategy="one_for_all"), gs.Pid)
    assert_type(Tree.start_link(1), gs.Pid)
    pid: gs.Pid = Counter.start_link(1)  # no assert needed
    print(pid)


def an_init_that_may_ignore_gives_an_optional_pid() -> None:
    assert_type(MaybeCounter.start_link(1), gs.Pid | None)
    assert_type(gs.GenServer.start(MaybeCounter, 1), gs.Pid | None)
    assert_type(MaybeTree.start_link(1), gs.Pid | None)
    pid: gs.Pid = MaybeCounter.start_link(1)  # type: ignore[assignment]
    print(pid)


def mistakes_mypy_reports(anything: Any) -> None:
    Counter.start_link("one")  # type: ignore[arg-type]
    Counter.start_link()  # type: ignore[call-arg]
    Counter.start_link(1, nmae="counter")  # type: ignore[call-arg]
    Counter.start_link(1, timeout="soon")  # type: ignore[arg-type]
    gs.GenServer.start_link(Counter, "one")  # type: ignore[misc]
    gs.GenServer.start_link(int, 1)  # type: ignore[arg-type]
    Tree.start_link("one")  # type: ignore[arg-type]
    Tree.start_link(1, strategy="one_for_all")  # type: ignore[call-arg]
    gs.Supervisor.start_link([Counter], strategy=1)  # type: ignore[call-overload]
