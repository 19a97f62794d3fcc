"""Functions other nodes start here by remote spawn (``gs.node.spawn``, Elixir's ``Node.spawn``)."""

from __future__ import annotations

import os

import greenserver as gs


def report(to: object, *values: object) -> None:
    """Send ``("ran", node, values...)`` to *to* (a pid or a ``(name, node)`` pair)."""
    gs.send(to, ("ran", gs.node.name(), *values))


def echo_server(name: str) -> None:
    """Register *name* and answer ``(pid, x)`` with ``x`` until told ``"stop"``.

    ``"halt"`` ends the whole OS process at once, as ``kill -9`` would.
    """
    gs.register(name, gs.self())
    while True:
        msg = gs.receive()
        if msg == "stop":
            return
        if msg == "halt":  # the OS process dies at once, as with kill -9
            os._exit(9)
        if isinstance(msg, tuple) and len(msg) == 2:
            gs.send(msg[0], msg[1])


def burn(n: int) -> int:
    """A CPU-bound job: sum of squares below *n*."""
    return sum(i * i for i in range(n))
