"""Supervisor: start children in order, restart them by strategy, stop them in reverse.

A supervisor is a GenServer that traps exits. When a child exits it applies
the child's restart type (permanent, transient, temporary) and its own
strategy (one_for_one, one_for_all, rest_for_one). More than
``max_restarts`` restarts within ``max_seconds`` make it give up: it stops
every child in reverse start order and exits with ``"shutdown"``, so its
own supervisor can try a fresh start one level up.

The pieces shared with DynamicSupervisor (shutting a child down, restart
intensity, reports) live here too.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from heapq import heapify, heappop
from inspect import Parameter, Signature
from time import monotonic
from typing import Any, ClassVar, Final, Protocol, TypeVar, final, overload

from . import _clock, _instrument, _reports
from ._child_spec import ChildSpec, to_child_spec
from ._errors import AlreadyStartedError, BadReturnError, Exit, StartError, SupervisorError
from ._gen_server import GenServer, _start
from ._links import demonitor, monitor, trap_exits, unlink
from ._messages import receive, send
from ._names import Via
from ._pid import Pid, Ref
from ._process import Down, ExitSignal, current_process, exit, is_normal
from ._results import Ignore, NoReply, Ok, Reply, Stop

A = TypeVar("A")
R = TypeVar("R")
A_contra = TypeVar("A_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
RESTARTING: Final = "restarting"


# --- shared with DynamicSupervisor ------------------------------------------------


def check_intensity(max_restarts: object, max_seconds: object) -> None:
    """Validate the restart intensity options; raise ValueError naming the culprit."""
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise ValueError(f"max_restarts must be an int >= 0; got {max_restarts!r}")
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not max_seconds > 0
    ):
        raise ValueError(f"max_seconds must be a number of seconds > 0; got {max_seconds!r}")


@final
class Intensity:
    """Counts restarts in a sliding window (OTP's restart intensity)."""

    __slots__ = ("max_restarts", "max_seconds", "restarts")

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.restarts: deque[float] = deque()

    def add_restart(self) -> bool:
        """Record a restart now; return False if that exceeds the limit."""
        now = _clock.now()
        threshold = now - self.max_seconds
        restarts = self.restarts
        # Oldest first, so expired restarts leave from the left: O(1) per restart.
        while restarts and restarts[0] < threshold:
            restarts.popleft()
        restarts.append(now)
        return len(restarts) <= self.max_restarts


def supervisor_name() -> object:
    me = current_process()
    return me.name if me.name is not None else me.pid


def report(child_id: object, pid: object, reason: object, context: str, strategy: str) -> None:
    """Log a ``supervisor_report`` (child_terminated, start_error or shutdown)."""
    if not _reports.enabled(logging.ERROR):
        return
    _reports.error(
        "supervisor_report",
        supervisor=supervisor_name(),
        child_id=child_id,
        pid=pid,
        reason=_reports.short(reason),
        context=context,
        strategy=strategy,
        # No exc_info: the crashed process's own crash_report carries the
        # traceback, and printing it twice only buries it.
    )


def progress(child_id: object, pid: object) -> None:
    """Log a debug-level ``progress_report``: a child started."""
    if not _reports.enabled(logging.DEBUG):
        return
    _reports.debug("progress_report", supervisor=supervisor_name(), child_id=child_id, pid=pid)


def start_spec(spec: ChildSpec, extra: tuple[object, ...] = ()) -> tuple[bool, object]:
    """Run a child's start function in the supervisor; return (ok, pid or None | reason)."""
    me = current_process()
    try:
        result = spec.fn(*extra, *spec.args, **spec.kwargs)
    except StartError as exc:
        return False, exc.reason
    except Exit as exc:
        if not me.alive:
            raise
        return False, exc.reason
    except Exception as exc:
        return False, exc
    if result is None or type(result) is Pid:
        return True, result
    return False, BadReturnError(f"the start function of child {spec.id!r}", result)


def _match_exit_of(pid: Pid) -> Callable[[object], bool]:
    return lambda m: type(m) is ExitSignal and m.pid == pid


def _match_down(ref: Ref) -> Callable[[object], bool]:
    return lambda m: type(m) is Down and m.ref is ref


def shutdown_child(pid: Pid, shutdown: float | str | None) -> object:
    """Stop one child as OTP does; return its exit reason.

    Monitor it, unlink it (picking up an exit that already arrived), send
    ``"shutdown"`` and wait *shutdown* seconds for it to go, then ``"kill"``.
    """
    ref = monitor(pid)
    unlink(pid)
    try:
        early = receive(_match_exit_of(pid), timeout=0)
    except TimeoutError:
        pass
    else:
        demonitor(ref, flush=True)
        assert type(early) is ExitSignal
        return early.reason
    if shutdown == "brutal_kill":
        exit(pid, "kill")
        down = receive(_match_down(ref))
    else:
        exit(pid, "shutdown")
        try:
            down = receive(_match_down(ref), timeout=shutdown)  # type: ignore[arg-type]
        except TimeoutError:
            exit(pid, "kill")
            down = receive(_match_down(ref))
    assert type(down) is Down
    return down.reason


def shutdown_went_as_asked(spec: ChildSpec, reason: object) -> bool:
    """Return whether a child stopped the way its shutdown asked (else OTP reports it).

    ``"brutal_kill"`` expects ``"killed"``; otherwise ``"shutdown"`` is expected,
    and a child killed after its shutdown time is an error. A non-permanent
    child that had already exited ``"normal"`` is fine too.
    """
    expected = "killed" if spec.shutdown == "brutal_kill" else "shutdown"
    if type(reason) is str and reason == expected:
        return True
    return spec.restart != "permanent" and type(reason) is str and reason == "normal"


def shutdown_all(children: Sequence[tuple[Pid, float | str | None]]) -> None:
    """Stop many children at once (DynamicSupervisor): signal all, then wait.

    Each child gets its own shutdown time: a heap of deadlines says whom to
    kill when, so one child with ``shutdown=None`` never delays the others.
    """
    # Real time, not _clock: the waits below are real receive timers.
    start = monotonic()
    pending: dict[Ref, Pid] = {}
    deadlines: list[tuple[float, int, Ref]] = []
    for index, (pid, shutdown) in enumerate(children):
        ref = monitor(pid)
        unlink(pid)
        pending[ref] = pid
        if shutdown == "brutal_kill":
            exit(pid, "kill")
            continue
        exit(pid, "shutdown")
        if isinstance(shutdown, (int, float)):
            deadlines.append((start + shutdown, index, ref))
    heapify(deadlines)

    def is_ours(msg: object) -> bool:
        return type(msg) is Down and msg.ref in pending

    while pending:
        while deadlines and deadlines[0][2] not in pending:
            heappop(deadlines)
        timeout = None if not deadlines else max(0.0, deadlines[0][0] - monotonic())
        try:
            down = receive(is_ours, timeout=timeout)
        except TimeoutError:
            now = monotonic()
            while deadlines and deadlines[0][0] <= now:
                _, _, ref = heappop(deadlines)
                if ref in pending:
                    exit(pending[ref], "kill")
            continue
        assert type(down) is Down
        del pending[down.ref]
    # Exits that arrived before the unlink are stale now.
    pids = {pid for pid, _ in children}
    while True:
        try:
            receive(lambda m: type(m) is ExitSignal and m.pid in pids, timeout=0)
        except TimeoutError:
            break


def reply_or_raise(answer: object) -> Any:
    """Unpack a supervisor's ``("ok", value)`` / ``("error", exc)`` answer."""
    assert type(answer) is tuple
    tag, value = answer
    if tag == "error":
        raise value
    return value


# --- Supervisor --------------------------------------------------------------------


@final
class SupervisorSpec:
    """What ``Supervisor.init`` returns: children plus strategy and intensity."""

    __slots__ = ("children", "max_restarts", "max_seconds", "strategy")

    def __init__(
        self,
        children: Iterable[object],
        *,
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be 'one_for_one', 'one_for_all' or 'rest_for_one'; got {strategy!r}"
            )
        check_intensity(max_restarts, max_seconds)
        if isinstance(children, (str, bytes)) or not isinstance(children, Iterable):
            raise TypeError(f"children must be a list of child specs; got {children!r}")
        specs = [to_child_spec(child) for child in children]
        seen: set[object] = set()
        for spec in specs:
            if spec.id in seen:
                raise ValueError(f"duplicate child id {spec.id!r}; every child needs its own id")
            seen.add(spec.id)
        self.children = specs
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = float(max_seconds)

    def __repr__(self) -> str:
        return (
            f"Supervisor.spec({self.children!r}, strategy={self.strategy!r}, "
            f"max_restarts={self.max_restarts!r}, max_seconds={self.max_seconds!r})"
        )


@final
class _Child:
    __slots__ = ("last", "pid", "spec")

    def __init__(self, spec: ChildSpec, pid: Pid | str | None) -> None:
        self.spec = spec
        self.pid = pid
        self.last: Pid | None = None  # the pid it ran as before its restart (traced)


@final
class _State:
    __slots__ = ("children", "intensity", "strategy")

    def __init__(self, spec: SupervisorSpec) -> None:
        self.children: list[_Child] = []
        self.strategy = spec.strategy
        self.intensity = Intensity(spec.max_restarts, spec.max_seconds)

    def find(self, child_id: object) -> _Child | None:
        for child in self.children:
            if child.spec.id == child_id:
                return child
        return None

    def by_pid(self, pid: Pid) -> _Child | None:
        for child in self.children:
            if child.pid is pid:
                return child
        return None


class _SupervisorServer(GenServer[_State]):
    """The GenServer under every Supervisor (OTP's ``supervisor`` module)."""

    def _sys_children(self, state: _State) -> list[tuple[object, object, str]] | None:
        return [(c.spec.id, c.pid, c.spec.type) for c in state.children]

    module: type[Supervisor] | None = None

    def behaviour_class(self) -> type:
        return self.module or Supervisor

    def init(self, arg: Any) -> Ok[_State] | Ignore | Stop[_State]:
        module, module_arg, spec = arg
        self.module = module
        trap_exits(True)
        if module is not None:
            spec = module().init(module_arg)
            if type(spec) is Ignore:
                return Ignore()
            if type(spec) is not SupervisorSpec:
                return Stop(BadReturnError(f"{module.__qualname__}.init", spec))
        state = _State(spec)
        for child_spec in spec.children:
            ok, value = start_spec(child_spec)
            if not ok:
                report(child_spec.id, None, value, "start_error", state.strategy)
                _terminate_children(state, state.children)
                return Stop(("shutdown", ("failed_to_start_child", child_spec.id, value)))
            if value is None and child_spec.restart == "temporary":
                continue  # as in OTP: an ignored temporary child could never run
            child = _Child(child_spec, value)  # type: ignore[arg-type]
            state.children.append(child)
            if value is not None:
                progress(child_spec.id, value)
        return Ok(state)

    def handle_call(self, request: Any, from_: Ref, state: _State) -> Reply[_State]:
        kind = request[0]
        try:
            answer: object = None
            if kind == "start_child":
                answer = _start_child(state, request[1])
            elif kind == "terminate_child":
                _terminate_child(state, request[1])
            elif kind == "restart_child":
                answer = _restart_child(state, request[1])
            elif kind == "delete_child":
                _delete_child(state, request[1])
            elif kind == "which_children":
                answer = [(c.spec.id, c.pid, c.spec.type) for c in state.children]
            elif kind == "count_children":
                answer = _count(state)
            else:
                raise ValueError(f"unknown supervisor request {request!r}")
        except (SupervisorError, StartError, ValueError, TypeError) as exc:
            return Reply(("error", exc), state)
        return Reply(("ok", answer), state)

    def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if type(msg) is ExitSignal and type(msg.pid) is Pid:
            child = state.by_pid(msg.pid)
            if child is not None:
                return _child_exited(state, child, msg.reason)
            return NoReply(state)
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "$try_again_restart":
            child = state.find(msg[1])
            if child is not None and child.pid == RESTARTING:
                return _restart(state, child)
            return NoReply(state)
        return super().handle_info(msg, state)

    def terminate(self, reason: object, state: _State) -> None:
        _terminate_children(state, state.children)


def _child_exited(state: _State, child: _Child, reason: object) -> NoReply[_State] | Stop[_State]:
    spec = child.spec
    if not is_normal(reason):
        report(spec.id, child.pid, reason, "child_terminated", state.strategy)
    if spec.restart == "permanent" or (spec.restart == "transient" and not is_normal(reason)):
        child.last, child.pid = _pid_or_none(child.pid), None
        return _restart(state, child)
    if spec.restart == "temporary":
        state.children.remove(child)
    else:
        child.pid = None
    return NoReply(state)


def _pid_or_none(pid: object) -> Pid | None:
    return pid if type(pid) is Pid else None


def _restart(state: _State, child: _Child) -> NoReply[_State] | Stop[_State]:
    """Restart *child* (and its group, by strategy), counting the restart."""
    if not state.intensity.add_restart():
        report(child.spec.id, None, "reached_max_restart_intensity", "shutdown", state.strategy)
        return Stop("shutdown", state)
    children = state.children
    if state.strategy == "one_for_one":
        group = [child]
    elif state.strategy == "one_for_all":
        group = list(children)
    else:
        group = children[children.index(child) :]
    _terminate_children(state, [c for c in group if c is not child])
    for member in group:
        if member not in state.children or isinstance(member.pid, Pid):
            continue
        ok, value = start_spec(member.spec)
        if not ok:
            report(member.spec.id, None, value, "start_error", state.strategy)
            member.pid = RESTARTING
            send(current_process().pid, ("$try_again_restart", member.spec.id))
            break
        member.pid = value  # type: ignore[assignment]
        if value is not None:
            progress(member.spec.id, value)
            if _instrument.enabled:
                _instrument.emit(
                    "restart",
                    current_process().pid,
                    child_id=member.spec.id,
                    old=member.last,
                    new=value,
                )
    return NoReply(state)


def _terminate_children(state: _State, children: list[_Child]) -> None:
    """Stop *children* in reverse order; temporary ones leave the list."""
    for child in reversed(children):
        if isinstance(child.pid, Pid):
            spec = child.spec
            reason = shutdown_child(child.pid, spec.shutdown)
            if not shutdown_went_as_asked(spec, reason):
                report(spec.id, child.pid, reason, "shutdown_error", state.strategy)
            child.last = child.pid
        child.pid = None
        if child.spec.restart == "temporary" and child in state.children:
            state.children.remove(child)


def _start_child(state: _State, spec: ChildSpec) -> Pid | None:
    existing = state.find(spec.id)
    if existing is not None:
        if isinstance(existing.pid, Pid):
            raise SupervisorError(
                ("already_started", existing.pid),
                f"child {spec.id!r} is already started as {existing.pid!r}",
            )
        raise SupervisorError(
            "already_present", f"child {spec.id!r} is already present; restart or delete it"
        )
    ok, value = start_spec(spec)
    if not ok:
        report(spec.id, None, value, "start_error", state.strategy)
        raise StartError(value, f"child {spec.id!r} failed to start: {_reports.short(value)}")
    if value is None and spec.restart == "temporary":
        return None  # as in OTP: an ignored temporary child is not kept
    state.children.append(_Child(spec, value))  # type: ignore[arg-type]
    if value is not None:
        progress(spec.id, value)
    return value  # type: ignore[return-value]


def _found(state: _State, child_id: object) -> _Child:
    child = state.find(child_id)
    if child is None:
        raise SupervisorError("not_found", f"no child with id {child_id!r}")
    return child


def _terminate_child(state: _State, child_id: object) -> None:
    _terminate_children(state, [_found(state, child_id)])


def _restart_child(state: _State, child_id: object) -> Pid | None:
    child = _found(state, child_id)
    if isinstance(child.pid, Pid):
        raise SupervisorError("running", f"child {child_id!r} is running as {child.pid!r}")
    if child.pid == RESTARTING:
        raise SupervisorError("restarting", f"child {child_id!r} is being restarted")
    ok, value = start_spec(child.spec)
    if not ok:
        report(child_id, None, value, "start_error", state.strategy)
        raise StartError(value, f"child {child_id!r} failed to start: {_reports.short(value)}")
    child.pid = value  # type: ignore[assignment]
    if value is not None:
        progress(child_id, value)
    return value  # type: ignore[return-value]


def _delete_child(state: _State, child_id: object) -> None:
    child = _found(state, child_id)
    if isinstance(child.pid, Pid):
        raise SupervisorError("running", f"child {child_id!r} is running; terminate it first")
    if child.pid == RESTARTING:
        raise SupervisorError("restarting", f"child {child_id!r} is being restarted")
    state.children.remove(child)


def _count(state: _State) -> dict[str, int]:
    return {
        "specs": len(state.children),
        "active": sum(1 for c in state.children if isinstance(c.pid, Pid)),
        "supervisors": sum(1 for c in state.children if c.spec.type == "supervisor"),
        "workers": sum(1 for c in state.children if c.spec.type == "worker"),
    }


class _SupInitSpec(Protocol[A_contra]):
    """A module-form supervisor whose ``init`` takes an ``A`` and never ignores."""

    def init(self, arg: A_contra, /) -> SupervisorSpec: ...


class _SupInitAny(Protocol[A_contra]):
    """A module-form supervisor whose ``init`` takes an ``A`` and may return ``Ignore``."""

    def init(self, arg: A_contra, /) -> SupervisorSpec | Ignore: ...


class _SupervisorStartFunction(Protocol[A_contra, R_co]):
    """What ``Supervisor.start_link`` (list form) and ``MySup.start_link`` are, to mypy."""

    @overload
    def __call__(
        self: _SupervisorStartFunction[object, Any],
        children: Iterable[object],
        *,
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        name: str | Via | None = None,
        timeout: float | None = None,
    ) -> Pid: ...
    @overload
    def __call__(
        self, arg: A_contra, /, *, name: str | Via | None = None, timeout: float | None = None
    ) -> R_co: ...
    @overload
    def __call__(
        self: _SupervisorStartFunction[None, R],
        /,
        *,
        name: str | Via | None = None,
        timeout: float | None = None,
    ) -> R: ...


class _SupervisorStart:
    """``Supervisor.start_link(children, ...)`` on the base, ``MySup.start_link(arg)`` on a
    subclass; ``start`` likewise, without the link."""

    def __init__(self, *, link: bool = True) -> None:
        self.link = link
        self.cache = "_gs_start_link" if link else "_gs_start"

    @overload
    def __get__(
        self, obj: None, owner: type[_SupInitSpec[A]]
    ) -> _SupervisorStartFunction[A, Pid]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[_SupInitAny[A]]
    ) -> _SupervisorStartFunction[A, Pid | None]: ...
    def __get__(self, obj: object, owner: type[Any]) -> Any:
        if owner is Supervisor:
            return _start_list if self.link else _start_list_unlinked
        # Cached on the class, as GenServer does, so equal specs compare equal.
        fn: Callable[..., Pid | None] | None = owner.__dict__.get(self.cache)
        if fn is None:
            fn = _module_start_function(owner, self.link)
            if self.link:
                owner._gs_start_link = fn
            else:
                owner._gs_start = fn
        return fn


def _start_list(
    children: Iterable[object],
    *,
    strategy: str = "one_for_one",
    max_restarts: int = 3,
    max_seconds: float = 5.0,
    name: str | Via | None = None,
    timeout: float | None = None,
) -> Pid:
    """Start a supervisor of *children*, linked to the caller; return its pid.

    Children start in order, each before the next; this returns once all
    have started. A child is a ``ChildSpec``, a GenServer class ``C`` (started
    as ``C.start_link(None)``) or ``(C, arg)``.

    Args:
        children: The child specs, in start order.
        strategy: ``"one_for_one"``, ``"one_for_all"`` or ``"rest_for_one"``.
        max_restarts: More restarts than this within *max_seconds* make the
            supervisor stop its children and exit with ``"shutdown"``.
        max_seconds: The window of the restart intensity.
        name: Register the supervisor under this name or ``gs.Via``.
        timeout: Seconds the whole start may take.

    Raises:
        StartError: A child failed to start (the message names it).
        ValueError, TypeError: A child spec or an option is malformed.
    """
    spec = SupervisorSpec(
        children, strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds
    )
    pid = _start_server((None, None, spec), name, timeout)
    assert pid is not None
    return pid


_start_list.__name__ = "start_link"
_start_list.__qualname__ = "Supervisor.start_link"


def _start_list_unlinked(
    children: Iterable[object],
    *,
    strategy: str = "one_for_one",
    max_restarts: int = 3,
    max_seconds: float = 5.0,
    name: str | Via | None = None,
    timeout: float | None = None,
) -> Pid:
    """Start a supervisor of *children* as ``start_link`` does, but linked to nobody.

    An application's master owns its tree this way; see ``start_link`` for
    the arguments and errors.
    """
    spec = SupervisorSpec(
        children, strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds
    )
    pid = _start_server((None, None, spec), name, timeout, link=False)
    assert pid is not None
    return pid


_start_list_unlinked.__name__ = "start"
_start_list_unlinked.__qualname__ = "Supervisor.start"


def _module_start_function(module: type[Supervisor], link: bool) -> Callable[..., Pid | None]:
    """Build ``module.start_link`` (or ``module.start``): a real function, for ``help()``."""
    shown = f"{module.__qualname__}.{'start_link' if link else 'start'}"
    linked = "linked to the caller" if link else "linked to nobody"

    def start_link(*args: Any, **options: Any) -> Pid | None:
        if len(args) > 1:
            raise TypeError(
                f"{shown}() takes one init argument and keyword options; "
                f"got {len(args)} positional arguments {args!r}"
            )
        unknown = options.keys() - {"name", "timeout"}
        if unknown:
            raise TypeError(
                f"{shown}() got unexpected keyword arguments {sorted(unknown)!r}; "
                "the options are name and timeout"
            )
        if module.init is Supervisor.init:
            raise TypeError(f"{module.__qualname__} must define init(self, arg)")
        arg = args[0] if args else None
        return _start_server(
            (module, arg, None), options.get("name"), options.get("timeout"), link=link
        )

    start_link.__qualname__ = shown
    start_link.__module__ = module.__module__
    start_link.__doc__ = f"""\
Start a new {module.__qualname__} supervisor {linked}; return its pid.

``{module.__qualname__}.init(arg)`` returns the children and options
(``Supervisor.spec(...)``); the children start in order before this returns.
When ``init`` returns ``Ignore()`` the result is ``None``: mypy knows which
from the return type ``init`` declares.

Args:
    arg: Passed to ``init``; ``None`` when left out.
    name: Register the supervisor under this name or ``gs.Via``.
    timeout: Seconds the whole start may take.

Raises:
    StartError: ``init`` failed or a child failed to start.
"""
    start_link.__signature__ = Signature(  # type: ignore[attr-defined]
        [
            Parameter("arg", Parameter.POSITIONAL_ONLY, default=None),
            Parameter("name", Parameter.KEYWORD_ONLY, default=None),
            Parameter("timeout", Parameter.KEYWORD_ONLY, default=None),
        ]
    )
    return start_link


def _start_server(
    arg: tuple[Any, ...], name: object, timeout: float | None, *, link: bool = True
) -> Pid | None:
    shown = (arg[0] or Supervisor).__qualname__
    try:
        return _start(
            _SupervisorServer,
            arg,
            link=link,
            name=name,  # type: ignore[arg-type]
            timeout=timeout,
        )
    except StartError as exc:
        reason = exc.reason
        if (
            type(reason) is tuple
            and len(reason) == 2
            and type(reason[1]) is tuple
            and reason[1][0] == "failed_to_start_child"
        ):
            _, (_, child_id, why) = reason
            raise StartError(
                reason, f"child {child_id!r} failed to start: {_reports.short(why)}"
            ) from None
        if isinstance(exc, AlreadyStartedError):
            raise
        raise StartError(reason, f"{shown} failed to start: {_reports.short(reason)}") from None


class Supervisor:
    """Supervise a fixed list of children; subclass it for the module form.

    List form: ``gs.Supervisor.start_link([Stack, (Worker, 1)], strategy="one_for_one")``.
    Module form: subclass, define ``init(self, arg)`` returning
    ``gs.Supervisor.spec(children, ...)``, start with ``MySup.start_link(arg)``.
    ``start`` takes the same arguments and links the supervisor to nobody.
    """

    # A ClassVar, not a method: a subclass may define its own start_link.
    start_link: ClassVar[_SupervisorStart] = _SupervisorStart()
    # As start_link, without the link (an application's master owns its tree this way).
    start: ClassVar[_SupervisorStart] = _SupervisorStart(link=False)

    def init(self, arg: Any) -> SupervisorSpec | Ignore:
        """Return the supervisor's children and options (module form)."""
        raise NotImplementedError

    @classmethod
    def child_spec(cls, arg: object) -> ChildSpec:
        """Return how a parent supervisor starts this one (type ``"supervisor"``)."""
        return ChildSpec(id=cls, start=(cls.start_link, (arg,), {}), type="supervisor")

    @staticmethod
    def spec(
        children: Iterable[object],
        *,
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> SupervisorSpec:
        """Build what ``init`` returns; bad options raise ValueError/TypeError here."""
        return SupervisorSpec(
            children, strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds
        )

    @staticmethod
    def start_child(sup: object, spec: object) -> Pid | None:
        """Add and start a child; return its pid (None if its start ignored it).

        Raises:
            SupervisorError: ``("already_started", pid)`` or ``"already_present"``.
            StartError: The child failed to start (the spec is not kept).
            TypeError, ValueError: *spec* is malformed.
        """
        child = to_child_spec(spec)
        return reply_or_raise(GenServer.call(sup, ("start_child", child), None))  # type: ignore[no-any-return]

    @staticmethod
    def terminate_child(sup: object, child_id: object) -> None:
        """Stop a child (its spec stays, unless it is temporary)."""
        reply_or_raise(GenServer.call(sup, ("terminate_child", child_id), None))

    @staticmethod
    def restart_child(sup: object, child_id: object) -> Pid | None:
        """Start a stopped child again from its spec."""
        return reply_or_raise(GenServer.call(sup, ("restart_child", child_id), None))  # type: ignore[no-any-return]

    @staticmethod
    def delete_child(sup: object, child_id: object) -> None:
        """Forget a stopped child's spec."""
        reply_or_raise(GenServer.call(sup, ("delete_child", child_id), None))

    @staticmethod
    def which_children(sup: object) -> list[tuple[object, Pid | str | None, str]]:
        """Return ``(id, pid or None or "restarting", type)`` per child, in start order."""
        return reply_or_raise(GenServer.call(sup, ("which_children",), None))  # type: ignore[no-any-return]

    @staticmethod
    def count_children(sup: object) -> dict[str, int]:
        """Return ``{"specs", "active", "supervisors", "workers"}`` counts."""
        return reply_or_raise(GenServer.call(sup, ("count_children",), None))  # type: ignore[no-any-return]

    @staticmethod
    def stop(sup: object, reason: object = "normal", timeout: float | None = None) -> None:
        """Stop the supervisor: its children stop in reverse order first."""
        GenServer.stop(sup, reason, timeout)
