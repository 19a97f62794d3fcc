"""Watch a supervised Stack server from the outside: sys.trace, a trace handler, the tree.

``gs.sys.trace`` makes one server print what it receives, sends and becomes;
a ``gs.trace`` handler sees events of every process (here: calls, casts,
replies, exits and restarts); ``gs.sys.print_tree`` draws the supervision
tree, before and after the supervisor restarts the crashed server.

Run it: ``python examples/trace_server.py``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))
from stack import Stack

TRACED = ["call", "cast", "reply", "exit", "restart"]


def show(event: gs.trace.Event) -> None:
    """Print one trace event; runs inside the process that caused it.

    ``pid`` is the process that acts; the other fields name the others.
    """
    kind, pid = event["event"], event["pid"]
    if kind == "call":
        text = f"{pid} calls {event['server']} with {event['request']!r}"
    elif kind == "cast":
        text = f"{pid} casts {event['request']!r} to {event['server']}"
    elif kind == "reply":
        text = f"{pid} answers {event['value']!r} to {event['to']}"
    elif kind == "exit":
        text = f"{pid} exits: {event['reason']!r}"
    else:
        text = f"{pid} restarted child {event['child_id']!r}: {event['old']} -> {event['new']}"
    print(f"[trace] {kind:<7} {text}")


def stack_pid() -> gs.Pid:
    pid = gs.whereis("stack")
    assert pid is not None
    return pid


def main() -> None:
    # Reports go through structlog: show errors (the crash below) on stdout, briefly.
    structlog.configure(
        processors=[structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    me = gs.self()
    child = gs.ChildSpec("stack", start=(Stack.start_link, (["hello"],), {"name": "stack"}))
    sup = gs.Supervisor.start_link([child], name="stack_sup")

    print("== the supervision tree")
    gs.sys.print_tree("stack_sup")

    print("\n== sys.trace on the stack, and a trace handler for its calls, casts and replies")
    gs.sys.trace("stack", True)
    handle = gs.trace.add_handler(show, events=TRACED, pids=[me, stack_pid()])
    Stack.push("stack", "world")
    print("pop ->", Stack.pop("stack"))
    print("pop ->", Stack.pop("stack"))
    gs.trace.remove_handler(handle)
    gs.sys.trace("stack", False)

    print("\n== the stack crashes; the handler sees its exit and its restart")
    handle = gs.trace.add_handler(show, events=["exit", "restart"])
    gs.exit(stack_pid(), "boom")
    gs.Supervisor.which_children(sup)  # answered once the restart is done
    gs.trace.remove_handler(handle)
    print("after the restart, state:", gs.sys.get_state("stack"))

    print("\n== the tree again: a new pid under the same name")
    gs.sys.print_tree("stack_sup")

    gs.Supervisor.stop(sup)
    leftover = [p for p in gs.processes() if p != me]
    assert not leftover, f"processes left behind: {leftover}"
    print("\nall done: no process left behind")


if __name__ == "__main__":
    main()
