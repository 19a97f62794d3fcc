"""An application started with ``stop_on_exit=True``; ``test_application_exit.py`` runs it.

``python exit_app.py MODE``: ``return`` lets the interpreter exit, ``wait``
blocks until a signal, ``host`` first installs the host program's own
SIGTERM handler (as gunicorn does), which must still run. Each ``terminate``
and the ``stop`` callback print a line, so the test sees their order.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import structlog

import greenserver as gs

# Reports go to stderr: stdout is what the test reads.
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


class Worker(gs.GenServer[str]):
    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        return super().child_spec(arg).replace(id=arg)

    def init(self, arg: Any) -> gs.Ok[str]:
        gs.trap_exits(True)  # the supervisor's "shutdown" then runs terminate
        return gs.Ok(arg)

    def terminate(self, reason: Any, state: str) -> None:
        print(f"terminate {state} {reason}", flush=True)


class ExitApp(gs.Application):
    def start(self, arg: Any) -> gs.Pid:
        return gs.Supervisor.start_link([(Worker, "a"), (Worker, "b")])

    def stop(self) -> None:
        print("stop callback", flush=True)


def host_handler(signum: int, frame: object) -> None:
    print("host handler", flush=True)
    raise SystemExit(3)


def main(mode: str) -> None:
    if mode == "host":
        signal.signal(signal.SIGTERM, host_handler)
    ExitApp.ensure_started(stop_on_exit=True)
    print("ready", flush=True)
    if mode in ("wait", "host"):
        gs.receive(timeout=60.0)  # a signal ends the program before that


if __name__ == "__main__":
    main(sys.argv[1])
