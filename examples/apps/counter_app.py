"""A counter application, shared by the recipes in ``docs/applications.md``.

One ``Counter`` server under a supervisor that gives up after two restarts
within a minute. Its ``terminate`` prints a line, so you (and the recipes'
tests) can see that a shutdown stopped it cleanly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import greenserver as gs


class Counter(gs.GenServer[int]):
    """Counts the calls it gets; ``Counter.crash()`` makes it crash."""

    @classmethod
    def increment(cls) -> int:
        return gs.GenServer.call("counter", "increment")  # type: ignore[no-any-return]

    @classmethod
    def crash(cls) -> None:
        gs.GenServer.call("counter", "crash")

    def init(self, arg: Any) -> gs.Ok[int]:
        gs.trap_exits(True)  # so that a shutdown runs terminate
        return gs.Ok(0)

    def handle_call(self, request: Any, from_: gs.Ref, state: int) -> gs.Reply[int]:
        if request == "crash":
            raise RuntimeError("the counter crashed on purpose")
        return gs.Reply(state + 1, state + 1)

    def terminate(self, reason: Any, state: int) -> None:
        # One write per line: workers of one gunicorn share its stdout.
        print(f"counter terminate pid={os.getpid()} count={state} reason={reason}\n", end="")
        sys.stdout.flush()


class CounterApp(gs.Application):
    def start(self, arg: Any) -> gs.Pid | None:
        counter = gs.ChildSpec("counter", start=(Counter.start_link, (None,), {"name": "counter"}))
        return gs.Supervisor.start_link([counter], max_restarts=2, max_seconds=60)


def counter_app() -> gs.Pid:
    """Start the application in this OS process unless it runs (cheap when it does)."""
    try:
        return CounterApp.ensure_started(stop_on_exit=True)
    except gs.StartError:
        # It gave up (a report says why): clear that, so the next request
        # starts it afresh, and fail this one.
        CounterApp.stop()
        raise
