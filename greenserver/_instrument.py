"""The tracing hook's engine: free when no handler is installed.

Hot paths test ``_instrument.enabled`` (one module attribute) and do nothing
more unless a handler is installed. ``greenserver.trace`` is the public face.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, final

from greenlet import getcurrent

from . import _reports

EVENTS: Final = frozenset(
    {
        "spawn",
        "exit",
        "link",
        "unlink",
        "monitor",
        "down",
        "send",
        "receive",
        "call",
        "cast",
        "reply",
        "restart",
        "crash",
    }
)

Event = dict[str, Any]

enabled = False
_handlers: list[Handle] = []
_emitting = False

# How a library envelope (a call, a cast, a reply...) shows in a record: as
# what the user wrote, never as the envelope object. The modules that define
# envelopes register them here (they sit above this module).
_views: dict[type, Callable[[Any], object]] = {}


def register_view(envelope: type, view: Callable[[Any], object]) -> None:
    """Make records show an *envelope* message as ``view(envelope)``."""
    _views[envelope] = view


def shown(msg: object) -> object:
    """Return *msg* as a record shows it: what the user wrote, not an envelope."""
    view = _views.get(type(msg))
    return msg if view is None else view(msg)


def actor() -> object:
    """Return the pid of the process running now, or None (the hub, a plain greenlet).

    It never adopts the greenlet: tracing must not create processes.
    """
    proc = getattr(getcurrent(), "gs_process", None)
    return None if proc is None else proc.pid


@final
class Handle:
    """An installed trace handler; pass it to ``remove_handler``."""

    __slots__ = ("events", "fn", "pids")

    def __init__(
        self,
        fn: Callable[[Event], object],
        events: frozenset[str] | None,
        pids: frozenset[object] | None,
    ) -> None:
        self.fn = fn
        self.events = events
        self.pids = pids

    def __repr__(self) -> str:
        return f"<trace handler {self.fn!r}>"


def add(
    fn: Callable[[Event], object],
    events: Iterable[str] | None = None,
    pids: Iterable[object] | None = None,
) -> Handle:
    """Install *fn*; see ``greenserver.trace.add_handler``."""
    global enabled
    if not callable(fn):
        raise TypeError(f"a trace handler must be callable; got {fn!r}")
    kinds = None
    if events is not None:
        if isinstance(events, str):
            raise TypeError(f"events must be a list of event kinds, not the string {events!r}")
        kinds = frozenset(events)
        unknown = kinds - EVENTS
        if unknown:
            raise ValueError(
                f"unknown trace event kinds {sorted(unknown)!r}; expected some of {sorted(EVENTS)}"
            )
    handle = Handle(fn, kinds, None if pids is None else frozenset(pids))
    _handlers.append(handle)
    enabled = True
    return handle


def remove(handle: Handle) -> None:
    """Uninstall *handle*; see ``greenserver.trace.remove_handler``."""
    global enabled
    try:
        _handlers.remove(handle)
    except ValueError:
        raise ValueError(f"{handle!r} is not installed") from None
    enabled = bool(_handlers)


def emit(kind: str, pid: object, **fields: Any) -> None:
    """Deliver one event to every handler that wants it.

    An event caused by a handler itself (say, a handler that sends a
    message) is not traced, so a handler can never recurse into itself.
    """
    global _emitting
    if _emitting:
        return
    _emitting = True
    try:
        event: Event = {"event": kind, "pid": pid, **fields}
        for handle in tuple(_handlers):
            if handle.events is not None and kind not in handle.events:
                continue
            if handle.pids is not None and pid not in handle.pids:
                continue
            try:
                handle.fn(event)
            except Exception as exc:
                _reports.error("trace_handler_error", handler=repr(handle.fn), exc_info=exc)
    finally:
        _emitting = False
