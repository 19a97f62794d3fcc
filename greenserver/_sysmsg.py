"""Debug options of a behaviour process (OTP's ``sys`` debug structure).

A server with no debug option pays one ``is None`` test per message. With
options on, each event — a message in, a reply out, a new state — goes to
the enabled sinks: ``trace`` (print it), ``log`` (keep the last N),
``statistics`` (count it) and installed debug functions.

Events are dicts: ``{"event": "in", "kind": "call"|"cast"|"info"|"continue"|"system",
"message": ..., "from": pid or None}``, ``{"event": "out", "reply": ..., "to": pid}``
and ``{"event": "state", "state": ...}``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final, final

from . import _clock, _reports

DEFAULT_LOG_SIZE: Final = 10

Event = dict[str, Any]
DebugFn = Callable[[Event], object]


@final
class Debug:
    """The debug options of one process; ``None`` on a process means all off."""

    __slots__ = (
        "fns",
        "log",
        "messages_in",
        "messages_out",
        "start_reductions",
        "start_time",
        "stats",
        "trace",
    )

    def __init__(self) -> None:
        self.trace = False
        self.log: deque[Event] | None = None
        self.stats = False
        self.start_time = 0.0
        self.start_reductions = 0
        self.messages_in = 0
        self.messages_out = 0
        self.fns: list[DebugFn] = []

    @property
    def empty(self) -> bool:
        return not (self.trace or self.log is not None or self.stats or self.fns)

    def options(self) -> list[object]:
        """Return the active options, as ``get_status`` shows them."""
        shown: list[object] = []
        if self.trace:
            shown.append("trace")
        if self.log is not None:
            shown.append(("log", self.log.maxlen))
        if self.stats:
            shown.append("statistics")
        shown.extend(("install", fn) for fn in self.fns)
        return shown

    def set_log(self, flag: object) -> None:
        if flag is False:
            self.log = None
        elif flag is True:
            self.log = deque(self.log or (), maxlen=DEFAULT_LOG_SIZE)
        elif isinstance(flag, int) and not isinstance(flag, bool) and flag > 0:
            self.log = deque(self.log or (), maxlen=flag)
        else:
            raise ValueError(f"log flag must be True, False, a size > 0 or 'get'; got {flag!r}")

    def set_stats(self, flag: object, reductions: int = 0) -> None:
        """Turn statistics on or off; counts start from now (*reductions* so far)."""
        if flag is True:
            if not self.stats:
                self.stats = True
                self.start_time = _clock.wall()
                self.start_reductions = reductions
                self.messages_in = self.messages_out = 0
        elif flag is False:
            self.stats = False
        else:
            raise ValueError(f"statistics flag must be True, False or 'get'; got {flag!r}")

    def event(self, pid: object, name: object, event: Event) -> None:
        """Deliver *event* of process *pid* to every enabled sink."""
        kind = event["event"]
        if self.stats:
            if kind == "in":
                self.messages_in += 1
            elif kind == "out":
                self.messages_out += 1
        if self.log is not None:
            self.log.append(event)
        if self.trace:
            print(describe(pid, name, event), flush=True)
        for fn in tuple(self.fns):
            try:
                fn(event)
            except Exception as exc:
                # As in OTP: a failing debug function is removed, not fatal.
                self.fns.remove(fn)
                _reports.error("debug_fn_error", pid=pid, fn=repr(fn), exc_info=exc)


def from_options(options: Iterable[object] | None) -> Debug | None:
    """Build the debug state for ``start(..., debug=[...])``.

    Options: ``"trace"``, ``"log"`` or ``("log", n)``, ``"statistics"``,
    ``("install", fn)``.
    """
    if options is None:
        return None
    if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        raise TypeError(f"debug must be a list of options; got {options!r}")
    debug = Debug()
    for option in options:
        if option == "trace":
            debug.trace = True
        elif option == "log":
            debug.set_log(True)
        elif type(option) is tuple and len(option) == 2 and option[0] == "log":
            debug.set_log(option[1])
        elif option == "statistics":
            debug.set_stats(True)
        elif type(option) is tuple and len(option) == 2 and option[0] == "install":
            if not callable(option[1]):
                raise TypeError(f"an installed debug function must be callable; got {option[1]!r}")
            debug.fns.append(option[1])
        else:
            raise ValueError(
                f"unknown debug option {option!r}; expected 'trace', 'log', ('log', n), "
                "'statistics' or ('install', fn)"
            )
    return None if debug.empty else debug


def describe(pid: object, name: object, event: Event) -> str:
    """Render an event the way ``sys:trace`` prints it."""
    who = f"{pid!r}" if name is None else f"{pid!r} ({name})"
    kind = event["event"]
    if kind == "in":
        origin = "" if event.get("from") is None else f" from {event['from']!r}"
        return f"*DBG* {who} got {event['kind']} {_reports.short(event['message'])}{origin}"
    if kind == "out":
        return f"*DBG* {who} sent {_reports.short(event['reply'])} to {event['to']!r}"
    return f"*DBG* {who} new state {_reports.short(event.get('state'))}"
