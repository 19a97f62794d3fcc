"""Parking and waking greenlets, with a direct hand-off between them.

A greenlet that blocks on a mailbox *parks*; whoever makes it runnable
*wakes* it by putting it on the ready queue. A parking greenlet first looks
at that queue and switches straight to the next runnable greenlet, so a
message between two processes costs two greenlet switches and no trip
through the gevent hub. At most ``HANDOFF_BUDGET`` direct switches happen
between two visits to the hub, so sockets and timers are never starved (the
BEAM's reductions do the same job).

Every wake-up names the wait it ends as a ``(waitable, seq)`` pair; a waitable
bumps its ``_seq`` when a wait ends, so a stale wake-up (the wait already
ended by a timeout or an exit signal) is recognised and dropped.

Receive timeouts are armed lazily: a parking greenlet only notes its
deadline, and a real gevent timer is made when the hub next runs. A call
answered before the hub runs, the common case, never pays for a timer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

import gevent
from gevent.exceptions import LoopExit
from gevent.monkey import get_original
from greenlet import getcurrent
from greenlet import greenlet as RawGreenlet

if TYPE_CHECKING:
    from gevent.hub import Hub

HANDOFF_BUDGET: Final = 100
PASS_LIMIT: Final = 1000


class Wait:
    """What a parked greenlet waits on (a mailbox is one): one wait at a time.

    It owns the three things a wait needs and nothing else touches them from
    outside this module: the greenlet blocked on it, the counter that names
    the current wait (a wake-up carrying an older count is stale and
    dropped), and the timeout's timer.
    """

    __slots__ = ("_seq", "_timer", "_waiter")

    def __init__(self) -> None:
        self._waiter: RawGreenlet | None = None
        self._seq = 0
        self._timer: Any = None

    def end_wait(self) -> None:
        """The wait is over, however it ended: later wake-ups for it are stale."""
        self._waiter = None
        self._seq += 1
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.close()

    def interrupt(self) -> bool:
        """Wake the blocked greenlet with INTERRUPT; return whether one was blocked."""
        glet = self._waiter
        if glet is None:
            return False
        self._waiter = None
        make_ready(glet, self, self._seq, INTERRUPT)
        return True


class _WakeValue:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


WAKE: Final = _WakeValue("WAKE")
TIMEOUT: Final = _WakeValue("TIMEOUT")
INTERRUPT: Final = _WakeValue("INTERRUPT")

# (greenlet, waitable or None for a first start, seq, value to switch in)
# (None, None, 0, job) is a job waiting for an engine (see schedule_job).
_ReadyEntry = tuple["RawGreenlet | None", "Wait | None", int, object]

_ready: deque[_ReadyEntry] = deque()
# Unstarted greenlets: only the hub starts them.
_starting: deque[tuple[RawGreenlet, Wait | None, int, object]] = deque()
_unarmed: list[tuple[Wait, int, RawGreenlet, float]] = []
_pass_scheduled = False
_budget = HANDOFF_BUDGET
_hub: Hub | None = None
# The kernel switches with greenlet's own method: an engine's ``switch``
# override (``_process.Engine``) guards the wake-ups that gevent makes.
_switch = RawGreenlet.switch

# The OS thread whose hub runs every process. Read through the *original*
# get_ident: after monkey.patch_all() the patched one names greenlets.
real_get_ident: Callable[[], int] = get_original("_thread", "get_ident")
node_thread: int | None = None

# Called once, in the node's thread, when its hub is first made: the system
# monitor starts there (on by default, yet no thread or timer at import).
node_start_hooks: list[Callable[[], None]] = []


def hub() -> Hub:
    """Return the hub that runs every process (the first thread's hub)."""
    global _hub, node_thread
    h = _hub
    if h is None:
        h = _hub = gevent.get_hub()
        node_thread = real_get_ident()
        if not h:
            # A finished engine returns into its parent, the hub. Were the hub
            # never started, that return would start it with a bogus argument,
            # so run it once now (what gevent.sleep(0) does).
            h.loop.run_callback(getcurrent().switch)
            _switch(h)
        for hook in node_start_hooks:
            hook()
    return h


def make_ready(glet: RawGreenlet, box: Wait | None, seq: int, value: object) -> None:
    """Queue *glet* to be switched into with *value*, unless the wait ended first.

    A greenlet that has not started yet is only ever started by the hub: a
    greenlet inherits the Python recursion depth of the stack that starts it,
    so starting one from deep inside another process would pile depth upon
    depth along a chain of starts until ``RecursionError``.
    """
    global _pass_scheduled
    if glet:
        _ready.append((glet, box, seq, value))
    else:
        _starting.append((glet, box, seq, value))
    if not _pass_scheduled:
        _pass_scheduled = True
        hub().loop.run_callback(_hub_pass)


def schedule_job(job: object) -> None:
    """Queue *job* to run on an engine that is only taken when its turn comes.

    Taking the engine late matters under load: ten thousand processes woken
    in one loop pass would otherwise hold ten thousand engines at once (the
    pool runs dry and new greenlets are made and thrown away), where taking
    them in turn lets one engine, given back, serve the next job at once.
    """
    global _pass_scheduled
    _ready.append((None, None, 0, job))
    if not _pass_scheduled:
        _pass_scheduled = True
        hub().loop.run_callback(_hub_pass)


def _start_later(glet: RawGreenlet, value: object) -> None:
    global _pass_scheduled
    _starting.append((glet, None, 0, value))
    if not _pass_scheduled:
        _pass_scheduled = True
        hub().loop.run_callback(_hub_pass)


def _no_engines() -> RawGreenlet:
    raise RuntimeError("a job was scheduled before the kernel gave the scheduler its engines")


# Where a job's engine comes from: the kernel's pool (``_process`` sets it).
engine_source: Callable[[], RawGreenlet] = _no_engines


def park(box: Wait, deadline: float | None) -> object:
    """Block the current greenlet until it is woken; return the wake value.

    The caller has set ``box._waiter`` to the current greenlet. *deadline*
    (a ``time.monotonic()`` value) arms a timeout that wakes it with TIMEOUT.
    """
    global _pass_scheduled, _budget
    if deadline is not None:
        _unarmed.append((box, box._seq, getcurrent(), deadline))
        if not _pass_scheduled:
            _pass_scheduled = True
            hub().loop.run_callback(_hub_pass)
    # idle(), inlined: this is every blocking receive (test_scheduler pins it).
    ready = _ready
    while ready and _budget > 0:
        glet, other, seq, value = ready.popleft()
        if glet is None:  # a job: an engine is taken now, when it is its turn
            glet = engine_source()
            if not glet:  # a new engine: only the hub starts one
                _start_later(glet, value)
                continue
        elif other is not None and other._seq != seq:
            continue  # a stale wake-up: that wait is over
        _budget -= 1
        return _switch(glet, value)
    h = _hub if _hub is not None else hub()
    if getcurrent() is h:
        raise RuntimeError("cannot block inside the gevent hub (a loop callback)")
    try:
        return _switch(h)
    except LoopExit as exc:
        return _wait_for_threads(h, exc)


def idle() -> object:
    """Block the current greenlet until someone switches to it; return the value.

    Switches straight to the next ready greenlet when there is one (and the
    budget allows), else to the hub. ``park`` ends here; a pooled engine
    waits here for its next job.
    """
    global _budget
    ready = _ready
    while ready and _budget > 0:
        glet, other, seq, value = ready.popleft()
        if glet is None:  # a job: an engine is taken now, when it is its turn
            glet = engine_source()
            if not glet:  # a new engine: only the hub starts one
                _start_later(glet, value)
                continue
        elif other is not None and other._seq != seq:
            continue  # a stale wake-up: that wait is over
        _budget -= 1
        return _switch(glet, value)
    h = _hub if _hub is not None else hub()
    if getcurrent() is h:
        raise RuntimeError("cannot block inside the gevent hub (a loop callback)")
    try:
        return _switch(h)
    except LoopExit as exc:
        return _wait_for_threads(h, exc)


_active_threads: Callable[[], int] = get_original("threading", "active_count")
_keep_alive: Any = None


def _wait_for_threads(h: Hub, loop_exit: LoopExit) -> object:
    """gevent saw nothing that could wake the hub's loop; other OS threads can.

    A message from another OS thread reaches the hub through a thread-safe
    callback, which does not keep the loop alive: a process blocked in
    ``receive`` would get gevent's ``LoopExit`` before the thread sends. While
    other threads run, a referenced watcher keeps the loop waiting for them,
    as an Erlang process waits in ``receive`` for as long as it takes.
    """
    global _keep_alive
    if _active_threads() <= 1:
        raise loop_exit  # no other thread: a real deadlock, as gevent says
    if _keep_alive is None:
        _keep_alive = h.loop.async_()
        _keep_alive.start(lambda: None)
    return _switch(h)


def _hub_pass() -> None:
    """Run in the hub: arm pending timeouts, then run what became ready."""
    global _pass_scheduled, _budget
    _pass_scheduled = False
    _budget = HANDOFF_BUDGET
    if _unarmed:
        _arm_timers()
    starting = _starting
    for _ in range(len(starting)):
        glet, box, seq, value = starting.popleft()
        if box is None or box._seq == seq:
            _switch(glet, value)
    ready = _ready
    # At most PASS_LIMIT switches per pass: a hundred thousand processes woken
    # at once (a supervisor stopping its children) then run over several
    # passes, and gevent polls sockets and timers in between.
    for _ in range(min(len(ready), PASS_LIMIT)):
        if not ready:
            break
        entry, box, seq, value = ready.popleft()
        if entry is None:
            _switch(engine_source(), value)  # the hub may start a new engine
        elif box is None or box._seq == seq:
            _switch(entry, value)
    if (ready or starting or _unarmed) and not _pass_scheduled:
        _pass_scheduled = True
        hub().loop.run_callback(_hub_pass)


def _arm_timers() -> None:
    loop = hub().loop
    now = monotonic()
    pending = _unarmed[:]
    del _unarmed[:]
    for box, seq, glet, deadline in pending:
        if box._seq == seq and box._waiter is glet and box._timer is None:
            timer = loop.timer(max(0.0, deadline - now))
            box._timer = timer
            timer.start(_expire, box, seq, glet)


def _expire(box: Wait, seq: int, glet: RawGreenlet) -> None:
    if box._seq == seq and box._waiter is glet:
        box._waiter = None
        _switch(glet, TIMEOUT)


def is_foreign_thread() -> bool:
    """Return whether the caller runs in an OS thread other than the node's."""
    if node_thread is None:
        hub()
    return real_get_ident() != node_thread


def run_in_node(fn: Callable[..., object], *args: object) -> None:
    """Run ``fn(*args)`` in the node's hub soon; safe to call from any OS thread."""
    hub().loop.run_callback_threadsafe(fn, *args)


def has_ready() -> bool:
    """Return whether some greenlet waits to be started or switched into."""
    return bool(_ready or _starting)


def is_queued(glet: RawGreenlet) -> bool:
    """Return whether *glet* waits in the ready queues (for introspection; O(n))."""
    return any(entry[0] is glet for entry in _ready) or any(entry[0] is glet for entry in _starting)
