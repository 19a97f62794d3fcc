"""A global tracing hook: structured events from every process.

``add_handler(fn)`` makes ``fn(event)`` see every ``spawn``, ``exit``, ``link``,
``unlink``, ``monitor``, ``down``, ``send``, ``receive``, ``call``, ``cast``,
``reply``, ``restart`` and ``crash``. An event is a dict with at least
``event`` (the kind) and ``pid`` (the process it is about), plus fields of
its kind (``msg``, ``reason``, ``server``, ``request``...).

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
        pids: Only events about these pids (default: all).
    """
    return add(fn, events, pids)


def remove_handler(handle: Handle) -> None:
    """Uninstall a handler; ``ValueError`` if it is not installed."""
    remove(handle)
