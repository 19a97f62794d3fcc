"""The greenserver showcase that ``make demo`` runs: processes, then servers.

Each step prints what happened; the program exits 0 when every step behaved.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))
from stack import Stack


def step(title: str) -> None:
    print(f"\n== {title}")


def echo() -> None:
    """A process that answers ("ping", sender) with ("pong", self) until told to stop."""
    while True:
        msg: Any = gs.receive()
        if msg == "stop":
            return
        _tag, sender = msg
        gs.send(sender, ("pong", gs.self()))


def crasher() -> None:
    gs.receive()  # wait for the word, then fail
    raise ValueError("something went wrong")


def main() -> None:
    # Crash reports go through structlog; show them briefly on stdout.
    structlog.configure(
        processors=[
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )

    step("processes and messages")
    me = gs.self()
    pid = gs.spawn(echo)
    gs.send(pid, ("ping", me))
    print(f"{me} sent ping to {pid}, got {gs.receive(timeout=1)}")
    gs.send(pid, "stop")

    step("a crash seen through a monitor")
    victim, ref = gs.spawn_monitor(crasher)
    gs.send(victim, "go")
    down: Any = gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=1)
    print(f"Down from {down.pid}: reason {down.reason!r}")

    step("links: a trapping process gets an ExitSignal instead of dying")
    gs.trap_exits(True)
    linked = gs.spawn_link(crasher)
    gs.exit(linked, "kill")
    signal: Any = gs.receive(lambda m: isinstance(m, gs.ExitSignal), timeout=1)
    print(f"ExitSignal from {signal.pid}: reason {signal.reason!r} ('kill' arrives as 'killed')")
    gs.trap_exits(False)

    step("a GenServer: the Stack from Elixir's docs")
    stack = Stack.start_link(["hello"], name="stack")
    print("Stack.pop ->", Stack.pop(stack))
    Stack.push("stack", "world")
    print("Stack.pop ->", Stack.pop("stack"))
    gs.GenServer.stop(stack)
    print("stopped; name free:", gs.whereis("stack") is None)

    step("a supervisor brings a crashed server back with a fresh state")
    sup = gs.Supervisor.start_link([(Stack, ["hello"])], name="stack_sup")
    [(_, child, _)] = gs.Supervisor.which_children(sup)
    assert isinstance(child, gs.Pid)
    Stack.push(child, "world")
    print("before the crash, state:", gs.sys.get_state(child))
    gs.exit(child, "boom")
    [(_, restarted, _)] = gs.Supervisor.which_children(sup)
    print(f"{child} crashed; the supervisor started {restarted}")
    print("after the restart, state:", gs.sys.get_state(restarted))
    gs.sys.print_tree("stack_sup")
    gs.Supervisor.stop(sup)

    leftover = [p for p in gs.processes() if p != me]
    assert not leftover, f"processes left behind: {leftover}"
    print("\nall done: no process left behind")


if __name__ == "__main__":
    main()
