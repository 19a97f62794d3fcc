"""Task and TaskSupervisor: one-off computations in processes (Elixir's ``Task``).

A task runs one function in its own process and hands its return value to
the process that spawned it, its *owner*:

* ``Task.spawn`` (Elixir's ``Task.async``) links the task to the owner and
  monitors it with an *alias* ref, ``task.ref``. The task sends ``(ref, value)``
  to that alias when its function returns (Elixir's ``{ref, result}``), then
  exits ``"normal"``; the owner collects the reply (or the ``Down`` of a task
  that died) with ``result``, ``yield_`` or ``shutdown``. Once a reply or a
  ``Down`` has been collected the alias is deactivated, so nothing about the
  task can reach a later receive.
* ``Task.start_link`` / ``Task.start`` run a function for its effects only.
* ``Task.map`` (Elixir's ``Task.async_stream``) runs a function over an
  iterable with bounded concurrency, as a lazy generator of outcomes.
* ``TaskSupervisor`` is a ``DynamicSupervisor`` of temporary task children;
  ``spawn_nolink`` gives the caller a ``Task`` it monitors without a link, so
  a crash comes back as an outcome instead of killing the caller.

Outcomes are tuples as in Elixir: ``("ok", value)`` for a returned value and
``("exit", reason)`` for a task that died, with its exit reason (the
exception itself for a crash).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final, Generic, Literal, TypeAlias, TypeVar, final

from . import _instrument, _reports
from ._child_spec import ChildSpec
from ._dynamic_supervisor import DynamicSupervisor
from ._errors import CallTimeoutError, ServerExitError
from ._links import abandon_wait, demonitor_process, monitor, monitor_process, send_alias, unlink
from ._messages import receive, receive_in
from ._names import Via
from ._pid import Pid, Ref
from ._process import Down, Process, current_process, exit, spawn_process, terminate

T = TypeVar("T")
X = TypeVar("X")

Outcome: TypeAlias = tuple[Literal["ok"], T] | tuple[Literal["exit"], object]

DEFAULT_MAX_CONCURRENCY: Final = 8
"""``Task.map``'s default bound. Elixir uses the number of schedulers, but
greenlets share one OS thread, so the CPU count means nothing here: eight
keeps a typical I/O fan-out busy without flooding the other side."""


def _is_reply(msg: object, ref: Ref) -> bool:
    """Whether *msg* is the ``(ref, value)`` a task sends when its function returns."""
    return type(msg) is tuple and len(msg) == 2 and msg[0] is ref


class _Body:
    """The function a task process runs: call ``fn(*args)``, send the value to ``ref``.

    ``ref`` is set by whoever spawns the process, before it can first run.
    The instance takes *fn*'s ``__qualname__``, so the kernel's crash report
    names the user's function, not this wrapper.
    """

    def __init__(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        self.fn = fn
        self.args = args
        self.ref: Ref | None = None
        self.__qualname__ = getattr(fn, "__qualname__", None) or repr(fn)

    def __call__(self) -> None:
        value = self.fn(*self.args)
        ref = self.ref
        assert ref is not None, "a task ran before its owner's ref was set"
        reply = (ref, value)
        owner = ref.alias_owner()
        if _instrument.enabled and owner is not None:
            _instrument.emit("send", _instrument.actor(), to=owner.pid, msg=reply)
        send_alias(ref, reply)


def _spawn_task(body: _Body, owner: Process, *, link: bool) -> Pid:
    """Spawn *body* and have *owner* monitor it through an alias ref.

    The new process cannot run before this returns (spawning only schedules
    it), so the ref is in place before the task can reply or die. *owner*
    need not be the calling process: ``TaskSupervisor.spawn_nolink`` runs
    this inside the supervisor, for the client.
    """
    proc, _ = spawn_process(body, (), {}, link=link, current=body.fn)
    body.ref, _ = monitor_process(owner, proc.pid, alias=True)
    return proc.pid


def _is_word(reason: object, word: str) -> bool:
    return type(reason) is str and reason == word


def _check_callable(fn: object, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what} needs a callable; got {fn!r}")


def _check_timeout(timeout: object, what: str) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError(f"{what}: timeout must be seconds >= 0 or None; got {timeout!r}")


@final
class Task(Generic[T]):
    """A function running in its own process, whose result its owner awaits.

    ``Task.spawn(fn, *args)`` starts one (Elixir's ``Task.async``); the owner
    then calls ``task.result()``, ``task.yield_()`` or ``task.shutdown()``,
    which are also callable as ``gs.Task.yield_(task, timeout)`` and so on.
    Only the owner (the process that spawned it) may collect a task's
    outcome, and only once.

    >>> import greenserver as gs
    >>> task = gs.Task.spawn(sum, [1, 2, 3])
    >>> task.result()
    6
    >>> [outcome for outcome in gs.Task.map(abs, [-1, 2, -3])]
    [('ok', 1), ('ok', 2), ('ok', 3)]

    A process that must not block, such as a GenServer, can take the
    outcome as messages instead, as in Elixir: the reply is the tuple
    ``(task.ref, value)``, after which ``gs.demonitor(task.ref, flush=True)``
    drops the task's ``Down``; a task that dies without replying sends
    ``gs.Down(task.ref, task.pid, reason)``.

    Attributes:
        pid: The task's process.
        owner: The process that may collect the outcome.
        ref: The owner's monitor of the task, and the tag of its reply.
    """

    __slots__ = ("_abandoned", "_collected", "owner", "pid", "ref")

    def __init__(self, pid: Pid, ref: Ref, owner: Pid) -> None:
        self.pid = pid
        self.owner = owner
        self.ref = ref
        self._collected = False
        self._abandoned = False

    def __repr__(self) -> str:
        return f"Task(pid={self.pid!r}, owner={self.owner!r})"

    # --- starting ------------------------------------------------------------------

    @staticmethod
    def spawn(fn: Callable[..., T], *args: object) -> Task[T]:
        """Run ``fn(*args)`` in a new process linked to the caller; return its Task.

        Elixir's ``Task.async``. The caller is the task's owner: it monitors
        the task and collects the value with ``result``, ``yield_`` or
        ``shutdown``. The link works both ways: if the task crashes, the
        owner dies with the same reason unless it traps exits (then it gets an
        ``ExitSignal``, and ``result`` raises ``ServerExitError``); if the
        owner dies, so does the task. An owner that traps exits also gets
        ``ExitSignal(pid, "normal")`` when the task ends, as in Elixir.
        Keyword arguments for *fn* go through ``functools.partial``.

        Raises:
            TypeError: *fn* is not callable.
        """
        _check_callable(fn, "Task.spawn()")
        owner = current_process()
        body = _Body(fn, args)
        pid = _spawn_task(body, owner, link=True)
        assert body.ref is not None
        return Task(pid, body.ref, owner.pid)

    @staticmethod
    def start_link(fn: Callable[..., object], *args: object) -> Pid:
        """Run ``fn(*args)`` for its side effects in a process linked to the caller.

        Nobody receives the return value. Called in a supervisor as a child's
        start function (see ``child_spec``), the task is linked to the
        supervisor. A crash logs a ``crash_report`` and kills the caller
        unless it traps exits.
        """
        _check_callable(fn, "Task.start_link()")
        return spawn_process(fn, args, {}, link=True)[0].pid

    @staticmethod
    def start(fn: Callable[..., object], *args: object) -> Pid:
        """Run ``fn(*args)`` for its side effects in an unlinked process."""
        _check_callable(fn, "Task.start()")
        return spawn_process(fn, args, {})[0].pid

    @staticmethod
    def child_spec(arg: object) -> ChildSpec:
        """Describe a supervised task: ``(gs.Task, fn)`` or ``(gs.Task, (fn, *args))``.

        As in Elixir, the child is ``"temporary"`` (a task that ends is not
        restarted) and runs ``Task.start_link``; change that with
        ``spec.replace(restart="transient")``.
        """
        if callable(arg):
            fn, args = arg, ()
        elif isinstance(arg, tuple) and arg and callable(arg[0]):
            fn, args = arg[0], tuple(arg[1:])
        else:
            raise TypeError(f"a Task child needs a callable or (callable, *args); got {arg!r}")
        return ChildSpec(id=Task, start=(Task.start_link, (fn, *args), {}), restart="temporary")

    # --- collecting ----------------------------------------------------------------

    def result(self, timeout: float | None = 5.0) -> T:
        """Wait for the task's return value and return it (Elixir's ``Task.await``).

        If the task crashes and the owner does not trap exits, the link has
        already killed the owner: this raises ``gs.Exit`` with the task's
        reason, ending the owner as Elixir's ``await`` does.

        Unlike Elixir's ``await``, a timeout does not end the owner: the task
        keeps running, and the owner may call ``result``, ``yield_`` or
        ``shutdown`` again.

        Raises:
            CallTimeoutError: No value within *timeout* seconds (a ``TimeoutError``).
            ServerExitError: The task died without a value (``.reason`` is its
                exit reason); the owner traps exits, or the task exited ``"normal"``
                without returning (``raise gs.Exit("normal")``), or it was not linked
                (``TaskSupervisor.spawn_nolink``).
            RuntimeError: The caller is not the owner, or the outcome was
                already collected.
        """
        me = self._owner_process("result")
        _check_timeout(timeout, "Task.result()")
        outcome = self._collect(me, timeout)
        if outcome is None:
            raise CallTimeoutError(
                f"task {self.pid!r} returned nothing within {timeout}s; it keeps running",
                server=self.pid,
            )
        if outcome[0] == "ok":
            return outcome[1]
        reason = outcome[1]
        raise ServerExitError(
            f"task {self.pid!r} exited with {_reports.short(reason)} before returning a value",
            reason=reason,
            server=self.pid,
        )

    def yield_(self, timeout: float | None = 5.0) -> Outcome[T] | None:
        """Wait up to *timeout* seconds for the task's outcome (Elixir's ``Task.yield``).

        Returns ``("ok", value)``, ``("exit", reason)`` if the task died (the
        owner traps exits, or the task was not linked), or ``None`` if it is
        still running: it keeps running and may be yielded again. A crash of a
        linked task kills an owner that does not trap exits, as with ``result``.

        Raises:
            RuntimeError: The caller is not the owner, or the outcome was
                already collected.
        """
        me = self._owner_process("yield_")
        _check_timeout(timeout, "Task.yield_()")
        return self._collect(me, timeout)

    def shutdown(self, timeout: float | Literal["brutal_kill"] | None = 5.0) -> Outcome[T] | None:
        """Unlink and stop the task; return its outcome if it ended meanwhile.

        Sends the exit signal ``"shutdown"`` and waits *timeout* seconds
        (``None``: forever) for the task to go, then kills it;
        ``"brutal_kill"`` kills it at once. Returns ``("ok", value)`` if the
        task returned before it was stopped, ``("exit", reason)`` if it died
        of something other than this shutdown, else ``None``. The outcome is
        collected: later calls of ``result``/``yield_`` raise, while
        ``shutdown`` again returns ``None``. An ``ExitSignal`` from a task
        that died before the unlink stays in a trapping owner's mailbox.

        Raises:
            RuntimeError: The caller is not the owner.
            ValueError: *timeout* is malformed.
        """
        me = self._owner_process("shutdown", collected_ok=True)
        brutal = _is_word(timeout, "brutal_kill")
        if not brutal:
            _check_timeout(timeout, "Task.shutdown()")
        if self._collected:
            return None
        pid, ref = self.pid, self.ref
        unlink(pid)
        exit(pid, "kill" if brutal else "shutdown")

        def is_down(msg: object) -> bool:
            return type(msg) is Down and msg.ref is ref

        killed = brutal
        try:
            try:
                down = receive_in(me, is_down, None if brutal else timeout, 0, True)  # type: ignore[arg-type]
            except TimeoutError:
                exit(pid, "kill")
                killed = True
                down = receive_in(me, is_down, None, 0, True)
        except BaseException:
            self._abandon(me, lambda m: is_down(m) or _is_reply(m, ref))
            raise
        self._collected = True
        assert type(down) is Down
        try:
            reply = receive_in(me, lambda m: _is_reply(m, ref), 0)
        except TimeoutError:
            reply = None
        demonitor_process(me, ref)
        if reply is not None:
            return ("ok", reply[1])  # type: ignore[index]
        reason = down.reason
        # As in Elixir: dying of this very shutdown is no outcome.
        ours = ("killed",) if brutal else ("shutdown", "killed") if killed else ("shutdown",)
        if type(reason) is str and reason in ours:
            return None
        return ("exit", reason)

    def _abandon(self, me: Process, match: Callable[[object], bool]) -> None:
        """A wait for the outcome was cut short (gevent.Timeout, a kill, Ctrl-C).

        As Elixir's ``Task.ignore``: the task runs on (still linked, if it
        was), its outcome is dropped and can no longer be collected, and
        nothing of it stays in the owner's mailbox.
        """
        self._collected = True
        self._abandoned = True
        abandon_wait(me, self.ref, match, 0)

    def _owner_process(self, what: str, *, collected_ok: bool = False) -> Process:
        me = current_process()
        if self._abandoned and not collected_ok:
            raise RuntimeError(
                f"the outcome of task {self.pid!r} was abandoned when a wait for it was "
                f"interrupted; {what}() cannot collect it"
            )
        if me.pid is not self.owner:
            raise RuntimeError(
                f"task {self.pid!r} must be collected by its owner {self.owner!r}; "
                f"{what}() was called from {me.pid!r}"
            )
        if self._collected and not collected_ok:
            raise RuntimeError(
                f"the outcome of task {self.pid!r} was already collected; "
                f"{what}() can only be called while it is pending"
            )
        return me

    def _collect(self, me: Process, timeout: float | None) -> Outcome[T] | None:
        """Take the task's reply or ``Down`` from *me*'s mailbox; None on timeout."""
        ref = self.ref

        def is_outcome(msg: object) -> bool:
            return _is_reply(msg, ref) or (type(msg) is Down and msg.ref is ref)

        try:
            msg = receive_in(me, is_outcome, timeout, 0, True)
        except TimeoutError:
            return None
        except BaseException:
            self._abandon(me, is_outcome)
            raise
        self._collected = True
        # The task's Down follows its reply; demonitor drops it (and the alias).
        demonitor_process(me, ref, flush=True)
        if type(msg) is Down:
            return ("exit", msg.reason)
        return ("ok", msg[1])  # type: ignore[index]

    # --- many items ----------------------------------------------------------------

    @staticmethod
    def map(
        fn: Callable[[X], T],
        iterable: Iterable[X],
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        ordered: bool = True,
        timeout: float | None = 5.0,
        on_timeout: Literal["exit", "kill_task"] = "exit",
    ) -> Iterator[Outcome[T]]:
        """Run ``fn(item)`` for each item in its own task; yield the outcomes lazily.

        Elixir's ``Task.async_stream``. Nothing starts until the first
        ``next()``; items are taken from *iterable* only as slots free up,
        and at most *max_concurrency* tasks run (or wait, finished, to be
        yielded in order) at once. Each item gives ``("ok", value)`` or, if
        its task died, ``("exit", reason)``: tasks are monitored, not linked,
        so a crash (logged as a ``crash_report``) never kills the caller.
        With ``ordered=False`` outcomes come in completion order.

        *timeout* bounds each task's run, counted from its spawn. A task past
        it is killed; with ``on_timeout="exit"`` (Elixir's default) the
        generator then kills the other tasks and raises ``TimeoutError``, with
        ``"kill_task"`` it yields ``("exit", "timeout")`` for that item and goes
        on. Closing the generator early (``break`` out of a ``for`` over it, or
        ``close()``) kills the running tasks, and so does the death of the
        iterating process. Iterate it from one process only.

        Raises:
            TypeError: *fn* is not callable or *iterable* is not iterable.
            ValueError: An option is malformed.
        """
        _check_callable(fn, "Task.map()")
        items = iter(iterable)
        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ValueError(f"max_concurrency must be an int >= 1; got {max_concurrency!r}")
        _check_timeout(timeout, "Task.map()")
        if on_timeout not in ("exit", "kill_task"):
            raise ValueError(f"on_timeout must be 'exit' or 'kill_task'; got {on_timeout!r}")
        return _stream(fn, items, max_concurrency, bool(ordered), timeout, on_timeout)


# --- Task.map ------------------------------------------------------------------------


@final
class _Job:
    __slots__ = ("deadline", "index", "item", "proc")

    def __init__(self, index: int, item: object, proc: Process, deadline: float) -> None:
        self.index = index
        self.item = item
        self.proc = proc
        self.deadline = deadline


def _stream(
    fn: Callable[[X], T],
    items: Iterator[X],
    max_concurrency: int,
    ordered: bool,
    timeout: float | None,
    on_timeout: str,
) -> Iterator[Outcome[T]]:
    me = current_process()
    running: dict[Ref, _Job] = {}
    finished: dict[int, Outcome[T]] = {}  # ordered mode: done, waiting for their turn
    guard, _ = spawn_process(_guard, (me.pid, running), {}, current=_guard)
    # Receive timeouts are real timers, so deadlines use real time, not _clock.
    forever = float("inf")

    def is_ours(msg: object) -> bool:
        if type(msg) is Down:
            return msg.ref in running
        return type(msg) is tuple and len(msg) == 2 and type(msg[0]) is Ref and msg[0] in running

    def resumed() -> None:
        if current_process() is not me:
            raise RuntimeError(
                f"a Task.map() generator belongs to {me.pid!r}, which receives its "
                f"tasks' results; it was resumed by {current_process().pid!r}"
            )

    try:
        exhausted = False
        spawned = 0
        emitted = 0
        while True:
            # A slot is held from spawn until the outcome is yielded, so at
            # most max_concurrency outcomes are ever pending (as in Elixir).
            while not exhausted and len(running) + len(finished) < max_concurrency:
                try:
                    item = next(items)
                except StopIteration:
                    exhausted = True
                    break
                body = _Body(fn, (item,))
                pid = _spawn_task(body, me, link=False)
                assert body.ref is not None
                deadline = forever if timeout is None else time.monotonic() + timeout
                running[body.ref] = _Job(spawned, item, pid._proc, deadline)
                spawned += 1
            if emitted in finished:
                outcome = finished.pop(emitted)
                emitted += 1
                yield outcome
                resumed()
                continue
            if not running:
                return
            soonest = min(job.deadline for job in running.values())
            wait = None if soonest == forever else max(0.0, soonest - time.monotonic())
            try:
                msg = receive_in(me, is_ours, wait, 0, True)
            except TimeoutError:
                late = _expire(me, running, on_timeout, timeout)
                if ordered:
                    finished.update((job.index, ("exit", "timeout")) for job in late)
                    continue
                for _ in late:
                    emitted += 1
                    yield ("exit", "timeout")
                    resumed()
                continue
            result: Outcome[T]
            if type(msg) is Down:
                ref = msg.ref
                result = ("exit", msg.reason)
            else:
                assert type(msg) is tuple
                ref = msg[0]
                result = ("ok", msg[1])
            job = running.pop(ref)
            demonitor_process(me, ref, flush=True)
            if ordered:
                finished[job.index] = result
            else:
                emitted += 1
                yield result
                resumed()
    finally:
        _kill_all(me, running)
        terminate(guard, "normal")


def _expire(
    me: Process, running: dict[Ref, _Job], on_timeout: str, timeout: float | None
) -> list[_Job]:
    """Deal with the tasks past their deadline; return those killed for "kill_task"."""
    now = time.monotonic()
    late = sorted(
        ((ref, job) for ref, job in running.items() if job.deadline <= now),
        key=lambda pair: pair[1].index,
    )
    if late and on_timeout == "exit":
        job = late[0][1]
        raise TimeoutError(
            f"Task.map(): the task for item {_reports.short(job.item)} (index {job.index}) "
            f"did not finish within {timeout}s"
        )
    for ref, job in late:
        del running[ref]
        terminate(job.proc, "killed")
        demonitor_process(me, ref, flush=True)
    return [job for _, job in late]


def _kill_all(me: Process, running: dict[Ref, _Job]) -> None:
    # Kernel calls only: this may run in a dying owner or in whatever greenlet
    # drops the last reference to an unfinished generator.
    for ref, job in list(running.items()):
        terminate(job.proc, "killed")
        demonitor_process(me, ref)
    # Results and Downs that arrived but were never taken go too: they would
    # surface in a later receive (a GenServer's handle_info).
    me.mailbox.remove_if(
        lambda m: (
            (type(m) is Down and m.ref in running)
            or (type(m) is tuple and len(m) == 2 and type(m[0]) is Ref and m[0] in running)
        )
    )
    running.clear()


def _guard(owner: Pid, running: dict[Ref, _Job]) -> None:
    """Kill a stream's tasks if its owner dies between two ``next()`` calls.

    A dying owner blocked inside the generator cleans up itself (its
    ``finally``), but one that dies elsewhere may keep the suspended generator
    alive (a traceback holds its frame), so this process watches it.
    """
    ref = monitor(owner)
    receive(lambda msg: type(msg) is Down and msg.ref is ref)
    for job in list(running.values()):
        terminate(job.proc, "killed")


# --- TaskSupervisor ------------------------------------------------------------------


def _start_task_child(fn: Callable[..., object], args: tuple[object, ...]) -> Pid:
    # Runs in the supervisor: the task is linked to it.
    return spawn_process(fn, args, {}, link=True)[0].pid


def _start_nolink_child(body: _Body, owner: Process) -> Pid:
    # Runs in the supervisor, which may let the task run before it answers
    # the owner: the owner's monitor must exist before that, so it is made here.
    return _spawn_task(body, owner, link=True)


_RESTARTS: Final = ("temporary", "transient", "permanent")
_SUPERVISOR_OPTIONS: Final = ("name", "max_children", "max_restarts", "max_seconds")


class TaskSupervisor:
    """A DynamicSupervisor of task processes (Elixir's ``Task.Supervisor``).

    Start it in a supervision tree or with ``start_link``; give it work with
    ``start_child`` (fire and forget) or ``spawn_nolink`` (the caller gets a
    ``Task`` and is not linked to it, so a crash comes back as an outcome).
    Stop it with ``TaskSupervisor.stop`` (or ``gs.DynamicSupervisor.stop``):
    its tasks get ``"shutdown"`` first.
    """

    @staticmethod
    def start_link(
        *,
        name: str | Via | None = None,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> Pid:
        """Start a task supervisor linked to the caller.

        Raises:
            ValueError, TypeError: An option is malformed.
            AlreadyStartedError: *name* is taken.
        """
        return DynamicSupervisor.start_link(
            max_children=max_children,
            max_restarts=max_restarts,
            max_seconds=max_seconds,
            name=name,
        )

    @staticmethod
    def child_spec(arg: object = None) -> ChildSpec:
        """Describe a task supervisor as a supervisor's child: ``gs.TaskSupervisor``
        or ``(gs.TaskSupervisor, {"name": ..., "max_children": ...})``."""
        options = {} if arg is None else arg
        if not isinstance(options, dict):
            raise TypeError(f"TaskSupervisor options must be a dict; got {arg!r}")
        unknown = sorted(set(options) - set(_SUPERVISOR_OPTIONS), key=repr)
        if unknown:
            raise TypeError(
                f"unknown TaskSupervisor options {unknown!r}; "
                f"expected some of {list(_SUPERVISOR_OPTIONS)!r}"
            )
        return ChildSpec(
            id=options.get("name", TaskSupervisor),
            start=(TaskSupervisor.start_link, (), dict(options)),
            type="supervisor",
        )

    @staticmethod
    def start_child(
        sup: object,
        fn: Callable[..., object],
        *args: object,
        restart: Literal["temporary", "transient", "permanent"] = "temporary",
        shutdown: float | Literal["brutal_kill"] | None = 5.0,
    ) -> Pid:
        """Run ``fn(*args)`` under *sup*, unlinked from the caller; return its pid.

        The return value is dropped. A crash logs a ``crash_report`` and a
        ``supervisor_report``; a ``"temporary"`` task is never restarted,
        ``"transient"`` and ``"permanent"`` ones are (with the same arguments).

        Raises:
            SupervisorError: ``"max_children"``.
            NoProcessError: *sup* is not running.
            TypeError, ValueError: *fn* or an option is malformed.
        """
        _check_callable(fn, "TaskSupervisor.start_child()")
        if restart not in _RESTARTS:
            raise ValueError(
                f"restart must be 'temporary', 'transient' or 'permanent'; got {restart!r}"
            )
        spec = ChildSpec(
            id=None, start=(_start_task_child, (fn, args), {}), restart=restart, shutdown=shutdown
        )
        pid = DynamicSupervisor.start_child(sup, spec)
        assert pid is not None
        return pid

    @staticmethod
    def spawn_nolink(
        sup: object,
        fn: Callable[..., T],
        *args: object,
        shutdown: float | Literal["brutal_kill"] | None = 5.0,
    ) -> Task[T]:
        """Run ``fn(*args)`` under *sup* as a Task the caller owns but is not linked to.

        Elixir's ``Task.Supervisor.async_nolink``. The caller monitors the
        task: ``yield_`` gives ``("exit", reason)`` for a crash and ``result``
        raises ``ServerExitError``; the caller lives on either way. The task
        keeps running if the caller dies; it stops with its supervisor.

        Raises:
            SupervisorError: ``"max_children"``.
            NoProcessError: *sup* is not running.
            TypeError, ValueError: *fn* or *shutdown* is malformed.
        """
        _check_callable(fn, "TaskSupervisor.spawn_nolink()")
        owner = current_process()
        body = _Body(fn, args)
        spec = ChildSpec(
            id=None,
            start=(_start_nolink_child, (body, owner), {}),
            restart="temporary",
            shutdown=shutdown,
        )
        pid = DynamicSupervisor.start_child(sup, spec)
        assert pid is not None
        assert body.ref is not None
        return Task(pid, body.ref, owner.pid)

    @staticmethod
    def children(sup: object) -> list[Pid]:
        """Return the pids of *sup*'s running tasks."""
        return [pid for _, pid, _ in DynamicSupervisor.which_children(sup)]

    @staticmethod
    def terminate_child(sup: object, pid: Pid) -> None:
        """Stop the task *pid* as its shutdown option says.

        Raises:
            SupervisorError: ``"not_found"``: *pid* is not a task of *sup*.
        """
        DynamicSupervisor.terminate_child(sup, pid)

    @staticmethod
    def stop(sup: object, reason: object = "normal", timeout: float | None = None) -> None:
        """Stop *sup* after shutting down its tasks."""
        DynamicSupervisor.stop(sup, reason, timeout)
