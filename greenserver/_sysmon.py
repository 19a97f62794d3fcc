"""The system monitor, as Erlang's ``erlang:system_monitor``: what stalls a node.

Two conditions are watched, both on by default with conservative limits:

* ``long_schedule``: a process ran longer than T seconds without switching,
  so no other process, timer or socket got a turn. The classic cause is an
  unpatched blocking call (``time.sleep``, a blocking socket) or a long CPU
  loop in a legacy app. A timer in the hub beats every T/4 seconds (at most
  every 0.1 s); a watchdog OS thread, as gevent's monitor thread does,
  notices when the beats stop for longer than T and samples the greenlet
  that runs: which process it is and where it is (its innermost frames).
  The hot paths pay nothing: no greenlet switch is traced.
* ``long_message_queue``: a mailbox holds more than N messages. A hub timer
  scans the process table about once a second (less often on a node so big
  that a scan would cost more than 2% of its time). A process is reported
  once, and again only after its queue has fallen below N/2 (Erlang's
  enable/disable pair).

Each warning is a structlog ``system_monitor`` event (warning level, with
``kind``, ``pid``, ``name``, ``current`` and the kind's own keys), is kept
among the recent ones (the observer shows them), and is sent as a
``SystemMonitorWarning`` message to the process named with ``notify=``.

The process that a long schedule names is the one running when the limit
was crossed: a node stalled by many processes that each ran a little
without ever letting the hub run would name the last of them. The main
greenlet is reported only while processes are ready to run: a REPL waiting
for input, or a test runner between tests, holds the hub too, but starves
no one that is ready.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from collections import deque
from time import monotonic, time
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from gevent.monkey import get_original
from greenlet import getcurrent

from . import _messages, _process, _reports, _scheduler
from ._pid import Pid

if TYPE_CHECKING:
    from types import FrameType

DEFAULT_LONG_SCHEDULE: Final = 0.5
DEFAULT_LONG_MESSAGE_QUEUE: Final = 10_000
RECENT: Final = 100  # warnings kept for the observer
_MAX_BEAT: Final = 0.1
_SCAN_EVERY: Final = 1.0
_SCAN_SHARE: Final = 0.02  # a scan may cost this share of the node's time
_STACK_DEPTH: Final = 8

_start_new_thread = get_original("_thread", "start_new_thread")
_allocate_lock = get_original("_thread", "allocate_lock")


class SystemMonitorWarning(NamedTuple):
    """The message a ``notify`` process gets for each system monitor warning."""

    kind: str
    pid: Pid | None
    info: dict[str, Any]


_long_schedule: float | None = DEFAULT_LONG_SCHEDULE
_long_message_queue: int | None = DEFAULT_LONG_MESSAGE_QUEUE
_notify: Pid | None = None
_recent: deque[dict[str, Any]] = deque(maxlen=RECENT)

_started = False
_last_beat = 0.0
_beat_timer: Any = None
_scan_timer: Any = None
_flagged: set[Pid] = set()
_watchdog_stop: Any = None  # a real lock: released to stop the watchdog thread
_main: Any = None  # the node thread's main greenlet


def settings() -> dict[str, Any]:
    """Return the limits in force: ``long_schedule``, ``long_message_queue``, ``notify``."""
    return {
        "long_schedule": _long_schedule,
        "long_message_queue": _long_message_queue,
        "notify": _notify,
    }


def configure(changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the *changes* (keys of ``settings()``) and return the settings in force."""
    global _long_schedule, _long_message_queue, _notify
    unknown = sorted(set(changes) - {"long_schedule", "long_message_queue", "notify"})
    if unknown:
        raise TypeError(f"unknown system monitor settings {unknown!r}")
    if "long_schedule" in changes:
        value = changes["long_schedule"]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
        ):
            raise ValueError(f"long_schedule must be seconds > 0 or None; got {value!r}")
        _long_schedule = None if value is None else float(value)
    if "long_message_queue" in changes:
        value = changes["long_message_queue"]
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(f"long_message_queue must be an int >= 1 or None; got {value!r}")
        _long_message_queue = value
        _flagged.clear()
    if "notify" in changes:
        value = changes["notify"]
        if value is not None and type(value) is not Pid:
            raise TypeError(f"notify must be a Pid or None; got {value!r}")
        _notify = value
    if _started:
        _apply()
    return settings()


def recent() -> list[dict[str, Any]]:
    """Return the recent warnings, oldest first (each has ``time``, ``kind``, ``pid``...)."""
    return list(_recent)


# --- starting and stopping ----------------------------------------------------


def _node_started() -> None:
    """Start watching, in the node's thread, once its hub exists."""
    global _started, _main
    _started = True
    main = getcurrent()
    while main.parent is not None:
        main = main.parent
    _main = main
    _apply()


def _apply() -> None:
    """Arm the timers and the watchdog as the settings say (in the node's thread)."""
    global _beat_timer, _scan_timer, _last_beat
    loop = _scheduler.hub().loop
    if _beat_timer is not None:
        _beat_timer.close()
        _beat_timer = None
    _stop_watchdog()
    if _long_schedule is not None:
        period = _beat_period(_long_schedule)
        _last_beat = monotonic()
        # ref=False: the beat never keeps a finished program's hub alive.
        _beat_timer = loop.timer(period, period, ref=False)
        _beat_timer.start(_beat)
        _start_watchdog()
    if _scan_timer is not None:
        _scan_timer.close()
        _scan_timer = None
    if _long_message_queue is not None:
        _arm_scan(_SCAN_EVERY)


def _beat_period(limit: float) -> float:
    return min(_MAX_BEAT, limit / 4)


def _beat() -> None:
    global _last_beat
    _last_beat = monotonic()


def _start_watchdog() -> None:
    global _watchdog_stop
    stop = _allocate_lock()
    stop.acquire()
    _watchdog_stop = stop
    _start_new_thread(_watchdog, (stop,))


def _stop_watchdog() -> None:
    global _watchdog_stop
    if _watchdog_stop is not None:
        _watchdog_stop.release()
        _watchdog_stop = None


def _after_fork_in_child() -> None:
    # The watchdog thread did not survive the fork; the hub's timers did.
    global _watchdog_stop
    _watchdog_stop = None
    if _started and _long_schedule is not None:
        _start_watchdog()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_watchdog)


# --- long_schedule: the watchdog thread ------------------------------------------


def _watchdog(stop: Any) -> None:
    """Run in an OS thread of its own: report when the hub's beats stop."""
    reported_beat = -1.0
    while True:
        limit = _long_schedule
        if limit is None:
            return
        period = _beat_period(limit)
        if stop.acquire(True, period):
            return
        last = _last_beat
        stalled = monotonic() - last
        # The hub should have beaten *period* after *last*: whatever ran
        # since then kept it from running for longer than the limit.
        if stalled - period > limit and last != reported_beat:
            main = _main
            if main is not None and main.gr_frame is None and not _scheduler.has_ready():
                continue  # the main greenlet holds the hub, but nothing waits for it
            reported_beat = last
            try:
                _report_long_schedule(stalled - period)
            except Exception as exc:  # never let the watchdog die of a report
                _reports.error("system_monitor_error", exc_info=exc)


def _running_process() -> _process.Process | None:
    """Return the process whose greenlet runs in the node's thread now, if any.

    A greenlet that runs has no saved frame (``gr_frame`` is None) while a
    suspended one has; an unstarted or finished one is false.
    """
    for proc in _process.live_processes():
        engine = proc.engine
        if engine is not None and engine and engine.gr_frame is None:
            return proc
    return None


def _report_long_schedule(ran_for: float) -> None:
    thread = _scheduler.node_thread
    frame = sys._current_frames().get(thread) if thread is not None else None
    proc = _running_process()
    stack = _stack(frame)
    info: dict[str, Any] = {
        "ran_for": round(ran_for, 3),
        "limit": _long_schedule,
        "where": stack[-1] if stack else None,
        "frames": stack,
    }
    if proc is None:
        info["current"] = _not_a_process()
    _warn("long_schedule", proc, info)


def _not_a_process() -> str:
    """Say what runs in the node's thread when no process does."""
    hub = _scheduler.hub()  # made already: the watchdog runs only after it
    if hub and hub.gr_frame is None:
        return "the gevent hub (a loop callback)"
    main = _main
    if main is not None and main.gr_frame is None:
        return "the main greenlet (not a process)"
    return "a greenlet that is not a process"


def _stack(frame: FrameType | None) -> list[str]:
    """Return the innermost frames of *frame*'s stack as ``file:line in function``."""
    if frame is None:
        return []
    summary = traceback.extract_stack(frame, limit=_STACK_DEPTH)
    return [f"{fs.filename}:{fs.lineno} in {fs.name}" for fs in summary]


# --- long_message_queue: the hub's scan ---------------------------------------------


def _arm_scan(after: float) -> None:
    global _scan_timer
    _scan_timer = _scheduler.hub().loop.timer(after, ref=False)
    _scan_timer.start(_scan)


def _scan() -> None:
    """Run in the hub: report mailboxes above the limit; rearm below half of it."""
    limit = _long_message_queue
    if limit is None:
        return
    began = monotonic()
    flagged = _flagged
    seen: set[Pid] = set()
    for proc in _process.live_processes():
        length = len(proc.mailbox)
        if length > limit:
            seen.add(proc.pid)
            if proc.pid not in flagged:
                flagged.add(proc.pid)
                _warn("long_message_queue", proc, {"message_queue_len": length, "limit": limit})
        elif proc.pid in flagged and length >= limit // 2:
            seen.add(proc.pid)
    flagged.intersection_update(seen)
    cost = monotonic() - began
    _arm_scan(max(_SCAN_EVERY, cost / _SCAN_SHARE))


# --- one warning ---------------------------------------------------------------------


def _warn(kind: str, proc: _process.Process | None, info: dict[str, Any]) -> None:
    pid = None if proc is None else proc.pid
    current = proc.current if proc is not None else None
    fields: dict[str, Any] = {
        "kind": kind,
        "pid": pid,
        "name": None if proc is None else proc.name,
        # A function or a class; an adopted greenlet without one by its type.
        "current": getattr(current, "__qualname__", None) or type(current).__name__,
        **info,
    }
    if proc is None:
        fields["current"] = info.get("current")
    _recent.append({"time": time(), **fields})
    _reports.warning("system_monitor", **fields)
    notify = _notify
    if notify is not None and notify._proc.alive:
        _messages.send(notify, SystemMonitorWarning(kind, pid, fields))


_scheduler.node_start_hooks.append(_node_started)
if _scheduler.node_thread is not None:  # the node came first (a reload): start now
    _node_started()
