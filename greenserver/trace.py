"""A global tracing hook: structured events from every process.

``add_handler(fn)`` makes ``fn(event)`` see every ``spawn``, ``exit``, ``link``,
``unlink``, ``monitor``, ``down``, ``send``, ``receive``, ``call``, ``cast``,
``reply``, ``restart`` and ``crash``. An event is a dict with at least
``event`` (the kind) and ``pid``: as in Erlang's trace messages, the process
that *acts*. Each record names every process involved:

* ``send`` {pid: sender, to: receiver (pid or name, as given), msg}
* ``receive`` {pid: receiver, msg}
* ``call`` / ``cast`` {pid: caller, server, request}
* ``reply`` {pid: the server replying, to: the client, value, ref}
* ``spawn`` {pid: new process, parent, fn, link, monitor} (an adopted
  greenlet: {pid, parent: None, adopted: True})
* ``exit`` {pid, reason}; ``crash`` {pid, reason}
* ``link`` / ``unlink`` {pid, other}
* ``monitor`` {pid: watcher, target, ref}; ``down`` {pid: watcher, target, ref, reason}
* ``restart`` {pid: supervisor, child_id, old, new}

Messages appear as the user wrote them: a call's request, a reply's value,
never the library's envelope objects. ``pid`` is None for an action taken
outside any process (the hub delivering a send from another OS thread).

Handlers run synchronously inside the process that caused the event; an
event caused by a handler itself is not traced, and a handler that raises is
reported and kept. With no handler installed, each hot path pays a single
attribute check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ._instrument import EVENTS, Event, Handle, add, remove

__all__ = ["EVENTS", "Event", "Handle", "add_handler", "remove_handler"]


def add_handler(
    fn: Callable[[Event], object],
    events: Iterable[str] | None = None,
    pids: Iterable[object] | None = None,
) -> Handle:
    """Install *fn* as a trace handler; return the handle that removes it.

    Args:
        fn: Called with each event dict.
        events: Only these kinds (default: all). Unknown kinds raise ValueError.
        pids: Only events whose actor (``event["pid"]``) is one of these
            (default: all), as ``erlang:trace(Pid, ...)`` traces what a process does.
    """
    return add(fn, events, pids)


def remove_handler(handle: Handle) -> None:
    """Uninstall a handler; ``ValueError`` if it is not installed."""
    remove(handle)
