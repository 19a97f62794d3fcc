"""The process kernel: what a process is, how it runs, how it dies.

A process is a ``Process`` object (pid, mailbox, links, monitors, flags); the
greenlet that runs it is an attribute, its *engine*, borrowed from a pool
and given back whenever the process waits with no stack to keep (a dormant
behaviour). This module spawns processes, runs them on engines, and carries
out exit signals and deaths with all their effects on the link and monitor
tables. Around it, one concept each: ``_names`` (registered names and
resolving destinations), ``_messages`` (send and receive), ``_links`` (the
link and monitor API), ``_foreign`` (calls from other OS threads).

Erlang's rules, which the rest of the library relies on:

* A process that exits with a non-normal reason sends an exit signal to each
  linked process: one that traps exits gets an ``ExitSignal`` message, any
  other dies with the same reason. ``"normal"`` exits kill nobody.
* ``exit(pid, "kill")`` cannot be trapped; the target dies with ``"killed"``,
  and that is what its links see.
* A process dies *at once*: when an exit signal kills it, its name is freed,
  its ``Down`` and ``ExitSignal`` messages are delivered and it leaves the
  process table before the signalling call returns, so nobody can see it
  dead with those effects still missing. Its greenlet then unwinds at its
  next switch point (a greenlet cannot be pre-empted: a process spinning on
  the CPU dies only when it next blocks).
* A killed process never runs another line of its code: its engine's next
  switch raises ``Exit``, whatever wakes it (a message, a gevent timer, I/O,
  a ``sleep(0)`` already queued), and so does any kernel call it makes
  (spawn, send, link, monitor, register, call, start). One that catches
  ``Exit`` and carries on is thrown ``Exit`` again at each switch.
* Messages from one process to another arrive in the order they were sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, NamedTuple, final

from gevent import Greenlet
from greenlet import GreenletExit, getcurrent
from greenlet import greenlet as RawGreenlet

from . import _instrument, _reports, _scheduler
from ._errors import Exit
from ._mailbox import Mailbox
from ._pid import Pid, Ref
from ._scheduler import hub, real_get_ident

if TYPE_CHECKING:
    from gevent.hub import Hub


class Down(NamedTuple):
    """The message a monitor delivers when its target dies."""

    ref: Ref
    pid: object
    reason: object


class ExitSignal(NamedTuple):
    """The message a process that traps exits gets instead of dying."""

    pid: object
    reason: object


_raw_switch = RawGreenlet.switch
_raw_throw = RawGreenlet.throw


@final
class Engine(RawGreenlet):
    """The greenlet a spawned process runs on.

    The kernel switches into engines with greenlet's own ``switch``; these
    overrides only see the wake-ups that gevent makes (a timer, an I/O
    watcher, a ``sleep``, a ``Timeout``). A dead process gets ``Exit``
    instead, so it cannot run on after its death, however it was woken.
    """

    __slots__ = ("gs_process",)

    gs_process: Process

    def switch(self, *args: Any, **kwargs: Any) -> Any:
        proc = self.gs_process
        if not proc.alive:
            return _raw_throw(self, exit_of(proc))
        return _raw_switch(self, *args, **kwargs)

    def throw(self, *args: Any) -> Any:
        proc = self.gs_process
        if not proc.alive:
            return _raw_throw(self, exit_of(proc))
        return _raw_throw(self, *args)


class _QuietExit(GreenletExit, Exit):
    """The ``Exit`` thrown into a killed adopted ``gevent.Greenlet``.

    gevent takes a ``GreenletExit`` as a kill: no traceback from the hub, and
    ``glet.exception`` stays ``None``; ``except gs.Exit`` still catches it.
    """


@final
class Process:
    """One process: identity, mailbox, links, monitors and flags."""

    __slots__ = (
        "adopted",
        "alive",
        "calling",
        "context",
        "current",
        "engine",
        "exit_raised",
        "links",
        "mailbox",
        "monitored_by",
        "monitors",
        "name",
        "pid",
        "reason",
        "reductions",
        "remote",
        "sent",
        "signal_from",
        "trap_exit",
    )

    def __init__(self, current: object) -> None:
        self.pid = Pid(self)
        self.mailbox = Mailbox()
        self.engine: RawGreenlet | None = None
        self.alive = True
        self.reason: object = None
        self.signal_from: Pid | None = None  # who sent the exit signal that killed it
        self.trap_exit = False
        self.links: set[Process] | None = None
        self.monitors: dict[Ref, Process] | None = None  # refs this process holds
        self.monitored_by: dict[Ref, Process] | None = None  # refs held on it
        self.name: str | None = None
        self.current = current
        self.reductions = 0
        self.sent = 0  # messages sent: sends, casts, call requests and replies
        self.adopted = False
        self.exit_raised = False
        # The server this process is blocked calling, if any: lets a call
        # detect a cycle (A calls B while B calls A) instead of deadlocking.
        self.calling: Process | None = None
        # A dormant process's contextvars, kept while it has no engine.
        self.context: Any = None
        # Not None for a stand-in of another node's process (see RemoteBackend).
        self.remote: object = None

    def __repr__(self) -> str:
        return f"<Process {self.pid!r}{'' if self.alive else ' dead'}>"


_table: dict[Pid, Process] = {}


def is_normal(reason: object) -> bool:
    """Return whether *reason* is a normal exit: no report, no transient restart."""
    if type(reason) is str:
        return reason in ("normal", "shutdown")
    return type(reason) is tuple and len(reason) == 2 and reason[0] == "shutdown"


def is_reason(reason: object, word: str) -> bool:
    return type(reason) is str and reason == word


# --- who am I -------------------------------------------------------------


def current_process() -> Process:
    """Return the calling greenlet's process, adopting the greenlet if needed.

    Raises:
        Exit: The caller's process is dead: a dead process cannot act. (An
            adopted greenlet that has already had its ``Exit`` becomes a new
            process instead: the main greenlet survives a killed test.)
    """
    glet = getcurrent()
    proc: Process | None = getattr(glet, "gs_process", None)
    if proc is None:
        return _adopt(glet)
    if not proc.alive:
        if proc.adopted and proc.exit_raised:
            return _adopt(glet)
        raise exit_of(proc)
    return proc


def refuse_if_dead() -> Process | None:
    """Return the caller's process, if it is one; raise ``Exit`` if it is dead.

    For kernel calls that do not otherwise need the caller's process (send,
    cast, spawn): unlike ``current_process`` it never adopts. A dead process
    must not act.
    """
    proc: Process | None = getattr(getcurrent(), "gs_process", None)
    if proc is not None and not proc.alive and not (proc.adopted and proc.exit_raised):
        raise exit_of(proc)
    return proc


class ForeignThreadError(RuntimeError):
    """A plain OS thread tried to act as a process (it can only call, cast and send)."""


def _adopt(glet: RawGreenlet) -> Process:
    h: Hub = hub()
    if glet is h:
        raise RuntimeError("the gevent hub cannot act as a process; spawn one instead")
    if real_get_ident() != _scheduler.node_thread:
        raise ForeignThreadError(
            "this OS thread is not the one running greenserver's hub: from here use "
            "GenServer.call/cast/stop, gs.send and gs.sys functions, which are thread-safe"
        )
    proc = Process(current=getattr(glet, "run", None) or glet)
    proc.adopted = True
    proc.engine = glet
    glet.gs_process = proc  # type: ignore[attr-defined]
    _table[proc.pid] = proc
    if isinstance(glet, Greenlet):
        glet.rawlink(_adopted_greenlet_ended)
    if _instrument.enabled:
        _instrument.emit("spawn", proc.pid, parent=None, adopted=True)
    return proc


def _adopted_greenlet_ended(glet: Greenlet[..., object]) -> None:
    proc: Process | None = getattr(glet, "gs_process", None)
    if proc is None:
        return
    # Break the cycle greenlet -> process -> greenlet (engine, current): the
    # finished greenlet is then freed at once by reference counting instead
    # of by the cyclic GC (issue 14: per request greenlet, 11 objects left to
    # the GC became 4; bench adoption.first_call: 2-3 us cheaper).
    glet.gs_process = None  # type: ignore[attr-defined]
    if proc.alive:
        exc = glet.exception
        reason: object
        if exc is None:
            # gevent reports a kill (``glet.kill()``, ``gevent.kill``) as a
            # GreenletExit *value*: a killed process exits "killed", as in Erlang.
            reason = "killed" if isinstance(glet.value, GreenletExit) else "normal"
        else:
            # As in _run_body: ``raise gs.Exit(reason)`` ends the process with
            # *reason*, not with the Exit instance.
            reason = exc.reason if isinstance(exc, Exit) else exc
        terminate(proc, reason)
    proc.engine = None
    proc.current = None


def self() -> Pid:
    """Return the current process's pid; any greenlet becomes a process on first use."""
    return current_process().pid


# --- spawning ---------------------------------------------------------------


def spawn_process(
    fn: Callable[..., object],
    args: tuple[object, ...],
    kwargs: dict[str, Any],
    *,
    link: bool = False,
    monitor: bool = False,
    current: object = None,
) -> tuple[Process, Ref | None]:
    """Create a process running ``fn(*args, **kwargs)`` and schedule it.

    The link or monitor with the caller is in place before the new process
    can run, so it can never be missed.
    """
    if not callable(fn):
        raise TypeError(f"spawn needs a callable; got {fn!r}")
    refuse_if_dead()
    proc = Process(current=fn if current is None else current)
    ref = None
    if link or monitor:
        me = current_process()
        if link:
            add_link(me, proc)
        if monitor:
            ref = add_monitor(me, proc)
    _table[proc.pid] = proc
    if _instrument.enabled:
        _instrument.emit(
            "spawn", proc.pid, parent=_instrument.actor(), fn=fn, link=link, monitor=monitor
        )
    borrow_engine(proc, fn, args, kwargs)
    return proc, ref


def spawn(fn: Callable[..., object], *args: object, **kwargs: Any) -> Pid:
    """Start ``fn(*args, **kwargs)`` as a new process and return its pid.

    The process ends when *fn* returns (reason ``"normal"``), raises
    ``gs.Exit(reason)``, or raises any other exception (the exception is
    the reason, and a ``crash_report`` is logged).
    """
    return spawn_process(fn, args, kwargs)[0].pid


def spawn_link(fn: Callable[..., object], *args: object, **kwargs: Any) -> Pid:
    """Spawn a process linked to the caller; the link exists before it runs."""
    return spawn_process(fn, args, kwargs, link=True)[0].pid


def spawn_monitor(fn: Callable[..., object], *args: object, **kwargs: Any) -> tuple[Pid, Ref]:
    """Spawn a process monitored by the caller; return ``(pid, ref)``."""
    proc, ref = spawn_process(fn, args, kwargs, monitor=True)
    assert ref is not None
    return proc.pid, ref


# --- engines: borrowed to run, given back when done or dormant ---------------

_Job = tuple["Process", Callable[..., object], tuple[object, ...], dict[str, Any]]

# Started engines parked in ``_scheduler.idle()``, waiting for a job. A job
# is handed over by a direct switch (no hub trip, no new greenlet), and an
# engine that is started already carries no recursion depth along.
_pool: list[Engine] = []
POOL_MAX: Final = 256


def borrow_engine(
    proc: Process, fn: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, Any]
) -> None:
    """Schedule ``fn(*args, **kwargs)`` as *proc*'s code on a pooled or new engine.

    The engine is taken when the job's turn comes (``_scheduler.schedule_job``):
    often the very engine that just finished the job before it.
    """
    _scheduler.schedule_job((proc, fn, args, kwargs))


def _take_engine() -> Engine:
    return _pool.pop() if _pool else Engine(_engine_main, hub())


_scheduler.engine_source = _take_engine


def idle_engines() -> list[RawGreenlet]:
    """Return the engines parked in the pool (live greenlets, accounted for)."""
    return list(_pool)


def _engine_main(job: _Job) -> None:
    """Run jobs, one process at a time; back to the pool after each clean end."""
    engine = getcurrent()
    assert isinstance(engine, Engine)
    while True:
        proc, fn, args, kwargs = job
        del job
        engine.gs_process = proc
        # Each process has its own contextvars: a dormant one gets its own
        # back (hibernate kept them), a new one starts empty.
        if proc.context is not None:
            engine.gr_context = proc.context
            proc.context = None
        proc.engine = engine
        _run_body(proc, fn, args, kwargs)
        del proc, fn, args, kwargs
        if engine.gr_context is not None:
            engine.gr_context = None  # never the last borrower's
        if len(_pool) >= POOL_MAX:
            return
        _pool.append(engine)
        job = _scheduler.idle()  # type: ignore[assignment]


def _run_body(
    proc: Process, fn: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, Any]
) -> None:
    """Run a process's code on the current engine; turn its ending into an exit.

    Returns when the process is dead or dormant: either way the engine's
    stack is unwound and it can serve another process. A KeyboardInterrupt
    or SystemExit goes on out of the engine (gevent hands it to the main
    greenlet).
    """
    if not proc.alive:  # killed before it ever ran
        if proc.engine is getcurrent():
            proc.engine = None
        return
    reason: object = "normal"
    reraise: BaseException | None = None
    try:
        if fn(*args, **kwargs) is HIBERNATED:
            return  # the process lives on without this engine
    except Exit as exc:
        reason = exc.reason
    except GreenletExit:
        reason = "killed"
    except BaseException as exc:
        reason = exc
        if proc.alive:
            report_crash(proc, _qualname(fn), exc)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            reraise = exc
    if proc.alive:
        terminate(proc, reason)
    if proc.engine is getcurrent():
        proc.engine = None
    if reraise is not None:
        raise reraise


class _Hibernated:
    __slots__ = ()

    def __repr__(self) -> str:
        return "HIBERNATED"


HIBERNATED: Final = _Hibernated()


def hibernate(proc: Process, wake: Callable[[], None]) -> object:
    """Let *proc* (the current process) give up its engine until a message comes.

    Returns ``HIBERNATED``, which the process's function must return at once:
    its stack unwinds and its engine goes back to the pool. The next message
    calls *wake* (no arguments), which borrows an engine (``borrow_engine``)
    to run the rest of the process. A behaviour does this
    whenever its mailbox is empty: an idle server holds no greenlet, only
    its state.

    Raises:
        Exit: *proc* is dead.
    """
    if not proc.alive:
        raise exit_of(proc)
    engine = getcurrent()
    if engine is proc.engine:
        proc.engine = None
        # contextvars the process set live on in its next engine.
        proc.context = engine.gr_context
    box = proc.mailbox
    if len(box):
        wake()
    else:
        box.sleep_until_message(wake)
    return HIBERNATED


_NO_DETAILS: Final[dict[str, object]] = {
    "last_message": None,
    "state": None,
    "client": None,
    "phase": None,
}


def report_crash(
    proc: Process,
    class_name: str,
    reason: object,
    details: Callable[[], dict[str, object]] | None = None,
) -> None:
    """Log the one ``crash_report`` of an abnormal exit (and trace a ``crash``).

    *details* gives the fields a behaviour adds (its last message, its state
    as ``format_status`` shows it, ...); it is only called when the report
    will be shown.
    """
    if _instrument.enabled:
        _instrument.emit("crash", proc.pid, reason=reason)
    if not _reports.enabled(logging.ERROR):
        return
    _reports.error(
        "crash_report",
        pid=proc.pid,
        name=proc.name,
        **{"class": class_name},
        reason=_reports.short(reason),
        # The keys every crash_report has (API.md), whoever crashed.
        **(details() if details is not None else _NO_DETAILS),
        exc_info=_reports.exc_info_of(reason),
    )


def _qualname(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


# --- dying ------------------------------------------------------------------


def terminate(proc: Process, reason: object, from_: Pid | None = None) -> None:
    """Make *proc* dead now, with all the effects of its death, then unwind it.

    *from_* is the process whose exit signal kills it, if any: the ``Exit``
    raised in *proc* names it. Deaths it causes through links happen in the
    same step (a worklist, not recursion, so a long chain of links cannot
    overflow the stack).
    """
    work: list[tuple[Process, object, Pid | None]] = [(proc, reason, from_)]
    while work:
        victim, why, sender = work.pop()
        if victim.alive:
            _bury(victim, why, work, sender)


def _bury(
    proc: Process,
    reason: object,
    work: list[tuple[Process, object, Pid | None]],
    sender: Pid | None,
) -> None:
    proc.alive = False
    proc.reason = reason
    proc.signal_from = None if sender is proc.pid else sender
    pid = proc.pid
    _table.pop(pid, None)
    # What the process owned goes first (its name: as in OTP, the name is free
    # before anyone can see the process dead, so a supervisor's immediate
    # restart never finds it taken; a Registry's table).
    if _at_death and proc in _at_death:
        for cleanup in _at_death.pop(proc):
            cleanup()
    if _instrument.enabled:
        _instrument.emit("exit", pid, reason=reason)
    monitors = proc.monitors
    if monitors:
        proc.monitors = None
        for ref, target in monitors.items():
            if target.monitored_by is not None:
                target.monitored_by.pop(ref, None)
            ref.deactivate()
            if target.remote is not None:
                remote_backend.demonitor(proc, target, ref)
    watchers = proc.monitored_by
    if watchers:
        proc.monitored_by = None
        for ref, watcher in watchers.items():
            if watcher.monitors is not None:
                watcher.monitors.pop(ref, None)
            if watcher.alive:
                if _instrument.enabled:
                    _instrument.emit("down", watcher.pid, ref=ref, target=pid, reason=reason)
                if watcher.remote is not None:
                    remote_backend.down(watcher, ref, proc, reason)
                else:
                    watcher.mailbox.put(Down(ref, pid, reason))
    links = proc.links
    if links:
        proc.links = None
        for other in links:
            if other.links is not None:
                other.links.discard(proc)
            if not other.alive:
                continue
            if other.remote is not None:
                remote_backend.link_exit(proc, other, reason)
            elif other.trap_exit:
                other.mailbox.put(ExitSignal(pid, reason))
            elif not is_reason(reason, "normal"):
                work.append((other, reason, pid))
    proc.mailbox.clear()
    proc.calling = None
    _unwind(proc)


def _unwind(proc: Process) -> None:
    """Arrange for a dead process's greenlet to stop running its code."""
    engine = proc.engine
    if engine is None or engine is getcurrent() or engine.dead:
        return
    if proc.mailbox.interrupt():  # blocked in receive: wake it to raise Exit
        return
    # Parked in gevent (a sleep, I/O, a lock): throw Exit in soon. A wake-up
    # gevent had already queued may come first; Engine.switch turns it into
    # Exit too. (An adopted greenlet is not ours: its kernel calls raise.)
    hub().loop.run_callback(_throw_exit, proc)


def _throw_exit(proc: Process) -> None:
    engine = proc.engine
    if engine is None or engine.dead or proc.exit_raised:
        return
    if isinstance(engine, Greenlet):
        _raw_throw(engine, exit_of(proc, _QuietExit))
    else:
        _raw_throw(engine, exit_of(proc))


def exit_of(proc: Process, kind: type[Exit] = Exit) -> Exit:
    """Return the ``Exit`` a dead process gets now: its reason and who killed it.

    Only called to raise or throw it, so it also notes that the process got
    its ``Exit`` (an adopted greenlet is then adopted anew on next use).
    """
    proc.exit_raised = True
    return kind(proc.reason, proc.signal_from)


_at_death: dict[Process, list[Callable[[], object]]] = {}


def at_death(proc: Process, cleanup: Callable[[], object]) -> None:
    """Run ``cleanup()`` when *proc* dies, whatever kills it (as ETS tables
    are freed with their owner). It runs inside the death, so it must not block.
    """
    if not proc.alive:
        cleanup()
        return
    _at_death.setdefault(proc, []).append(cleanup)


def raise_if_dead(proc: Process) -> None:
    if not proc.alive:
        raise exit_of(proc)


def deliver_signal(target: Process, sender: Pid, reason: object) -> None:
    """An exit signal sent with ``exit(pid, reason)`` (not through a link)."""
    if not target.alive:
        return
    if is_reason(reason, "kill"):
        terminate(target, "killed", sender)
    elif target.trap_exit:
        target.mailbox.put(ExitSignal(sender, reason))
    elif not is_reason(reason, "normal") or target.pid is sender:
        terminate(target, reason, sender)


def exit(pid: Pid, reason: object) -> None:
    """Send an exit signal with *reason* to *pid*.

    A target that traps exits gets ``ExitSignal(sender, reason)``, unless
    *reason* is ``"kill"``, which cannot be trapped: the target dies with
    ``"killed"``. A non-trapping target ignores ``"normal"`` (unless it is the
    caller itself) and dies of any other reason. A dead target is ignored.
    """
    target = process_of(pid, "exit")
    me = current_process()
    if target.remote is not None:
        remote_backend.exit(me, target, reason)
        return
    deliver_signal(target, me.pid, reason)
    raise_if_dead(me)


# --- links and monitors -----------------------------------------------------


def add_link(a: Process, b: Process) -> None:
    if a.links is None:
        a.links = set()
    a.links.add(b)
    if b.links is None:
        b.links = set()
    b.links.add(a)
    if b.remote is not None:
        remote_backend.link(a, b)
    if _instrument.enabled:
        _instrument.emit("link", a.pid, other=b.pid)


def add_monitor(
    watcher: Process, target: Process, *, alias: bool = False, ref: Ref | None = None
) -> Ref:
    if ref is None:
        ref = Ref(watcher, alias)
    if watcher.monitors is None:
        watcher.monitors = {}
    watcher.monitors[ref] = target
    if target.monitored_by is None:
        target.monitored_by = {}
    target.monitored_by[ref] = watcher
    if target.remote is not None:
        remote_backend.monitor(watcher, target, ref)
    if _instrument.enabled:
        _instrument.emit("monitor", watcher.pid, ref=ref, target=target.pid)
    return ref


# --- messages ---------------------------------------------------------------


# --- inspection -------------------------------------------------------------


def process_of(pid: object, what: str) -> Process:
    if type(pid) is not Pid:
        raise TypeError(f"{what}() needs a Pid; got {pid!r}")
    return pid._proc


def alive(pid: Pid) -> bool:
    """Return whether *pid* is a live process."""
    return process_of(pid, "alive").alive


def processes() -> list[Pid]:
    """Return the pids of every live process."""
    return list(_table)


def live_processes() -> Iterable[Process]:
    """Return the live process objects (for introspection modules)."""
    return tuple(_table.values())


def info(pid: Pid) -> dict[str, object] | None:
    """Return facts about a live process, or None if it is dead.

    Keys: ``status`` ("running"; "runnable": woken or not yet started;
    "waiting": blocked in ``receive``, hibernating, or blocked in a gevent
    primitive such as a socket read), ``message_queue_len``, ``links``, ``monitors``
    (pids this process monitors), ``monitored_by``, ``trap_exit``,
    ``registered_name``, ``reductions`` (messages received), ``current`` (the
    function or behaviour class it runs).
    """
    proc = process_of(pid, "info")
    if not proc.alive:
        return None
    engine = proc.engine
    if engine is getcurrent():
        status = "running"
    elif proc.mailbox.is_waiting():
        status = "waiting"
    elif engine is None or not engine or _scheduler.is_queued(engine):
        status = "runnable"
    else:
        status = "waiting"  # parked in the hub by gevent (I/O, a lock, a sleep)
    return {
        "status": status,
        "message_queue_len": len(proc.mailbox),
        "links": [p.pid for p in proc.links or ()],
        "monitors": [p.pid for p in (proc.monitors or {}).values()],
        "monitored_by": [p.pid for p in (proc.monitored_by or {}).values()],
        "trap_exit": proc.trap_exit,
        "registered_name": proc.name,
        "reductions": proc.reductions,
        "messages_out": proc.sent,
        "current": proc.current,
    }


# --- local names ------------------------------------------------------------


# --- processes of other nodes -------------------------------------------------
#
# A pid of another node is a ``Pid`` whose process is a *stand-in*: a
# ``Process`` with ``remote`` set, whose mailbox forwards what it is given to
# that node (greenserver.node makes both). Sends, casts and calls reach it
# through ``mailbox.put`` like any process, so the local fast paths pay
# nothing for distribution. Links, monitors and exit signals that involve a
# stand-in go through ``remote_backend``; the functions below are how the
# distribution layer delivers what other nodes tell it.


class RemoteBackend:
    """What the kernel asks of the distribution layer (greenserver.node installs one)."""

    def resolve(self, dest: tuple[object, object]) -> Process | None:
        raise TypeError(
            f"{dest!r} names a process of another node, but this node is not "
            "distributed: call gs.node.start() first"
        )

    def link(self, local: Process, remote: Process) -> None:
        """*local* linked itself to *remote*."""

    def unlink(self, local: Process, remote: Process) -> None:
        """*local* removed its link to *remote*."""

    def link_exit(self, local: Process, remote: Process, reason: object) -> None:
        """*local*, linked to *remote*, died of *reason*."""

    def monitor(self, watcher: Process, remote: Process, ref: Ref) -> None:
        """*watcher* monitors *remote* under *ref*."""

    def demonitor(self, watcher: Process, remote: Process, ref: Ref) -> None:
        """*watcher* dropped (or died with) its monitor *ref* on *remote*."""

    def down(self, watcher: Process, ref: Ref, target: Process, reason: object) -> None:
        """*target*, monitored by the remote *watcher* under *ref*, died of *reason*."""

    def exit(self, sender: Process, remote: Process, reason: object) -> None:
        """*sender* called ``exit(remote, reason)``."""


remote_backend = RemoteBackend()
