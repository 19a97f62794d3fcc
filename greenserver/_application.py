"""Applications: a supervision tree that belongs to no caller (OTP's ``application``).

Subclass ``Application`` and define ``start(self, arg)``, which starts the top
supervisor (usually with ``start_link``) and returns its pid; optionally
``stop(self)``, called once the tree has stopped. Then, from anywhere:

* ``MyApp.ensure_started(arg)`` starts it once and returns the top
  supervisor's pid. Concurrent first callers, greenlets or OS threads, wait
  for that one start; later calls return at once (``arg`` of the first call
  is used).
* ``MyApp.stop(timeout)`` stops the tree in reverse start order, each
  ``terminate`` running, then calls ``stop``.
* ``MyApp.running()`` tells whether it runs.

The tree is started and owned by an *application master* process, spawned
unlinked: the tree is linked to the master only, so whoever called
``ensure_started`` (a request's greenlet, the main greenlet) can end any way
it likes, and no failure of the tree ever sends it an exit signal. When the
top supervisor ends on its own (it gave up after too many restarts), the
master logs an ``application_report``, calls ``stop`` and ends; until
``MyApp.stop()`` acknowledges that, ``ensure_started`` raises ``StartError``
naming the application and the reason.
"""

from __future__ import annotations

import atexit
import os
import signal
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Final, final

import gevent
from gevent.event import Event
from greenlet import getcurrent

from . import _reports, _scheduler
from ._calls import Call, call_process
from ._dynamic_supervisor import DynamicSupervisor
from ._errors import BadReturnError, CallError, Exit, StartError
from ._foreign import run_from_foreign_thread
from ._links import demonitor, link, monitor, trap_exits
from ._messages import receive, send
from ._pid import Pid
from ._process import Down, current_process, exit, info, spawn_process
from ._supervisor import Supervisor, reply_or_raise, shutdown_child

# How long ``stop`` waits, beyond its timeout for the tree, for the ``stop``
# callback to return before it kills the master.
STOP_GRACE: Final = 1.0


@final
class _AppState:
    """One application's life in this OS process, shared by all its callers."""

    __slots__ = (
        "ended",
        "master",
        "reason",
        "settled",
        "start_failure",
        "status",
        "stop_on_exit",
        "top",
    )

    def __init__(self) -> None:
        # "starting" -> "running" -> "stopping" (then forgotten), or
        # "running" -> "failed" (kept until stop()), or "forked" (inherited).
        self.status = "starting"
        self.master: Pid | None = None
        self.top: Pid | None = None
        self.reason: object = None
        self.start_failure: StartError | None = None
        self.stop_on_exit = False
        self.settled = Event()  # the start is over (running, or failed to start)
        self.ended = Event()  # the master has ended


_apps: dict[type[Application], _AppState] = {}


@final
class _StopRequest:
    __slots__ = ("timeout",)

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout


def _name(cls: type) -> str:
    return cls.__qualname__


# --- the application master -----------------------------------------------------


def _master(cls: type[Application], arg: object, state: _AppState) -> None:
    """Start the tree, watch it, stop it on request (OTP's application master)."""
    me = current_process()
    trap_exits(True)
    app = cls()
    try:
        top = _start_tree(cls, app, arg, state)
        if top is None:
            # Whatever start() linked to the master goes down with it, quietly.
            raise Exit("shutdown")
        ref = monitor(top)
        state.top = top
        state.status = "running"
        state.settled.set()
        while True:
            msg = receive()
            if type(msg) is Down and msg.ref is ref:
                _tree_ended(cls, app, state, msg.reason)
                return
            if type(msg) is _StopRequest:
                demonitor(ref, flush=True)
                tree = _tree_of(top, msg.timeout)
                shutdown_child(top, msg.timeout)
                # Past the deadline the top supervisor was killed, maybe in the
                # middle of stopping children it had already unlinked: kill
                # those too, so that no orphan outlives the stop.
                for pid in tree:
                    exit(pid, "kill")
                _call_stop(cls, app)
                return
            # Anything else (the top supervisor's ExitSignal, which its Down
            # duplicates, or a stray message) is of no interest.
    finally:
        _master_ended(cls, state, me.reason)


def _start_tree(
    cls: type[Application], app: Application, arg: object, state: _AppState
) -> Pid | None:
    """Run ``app.start(arg)``; on failure record a StartError and return None."""
    name = _name(cls)
    try:
        top = app.start(arg)
    except StartError as exc:
        failure: object = exc.reason
        message = f"application {name} failed to start: {exc}"
    except Exception as exc:
        failure = exc
        message = f"application {name} failed to start: {_reports.short(exc)}"
    else:
        if type(top) is Pid and top._proc.alive:
            link(top)  # start() may have used an unlinked start: the master owns it
            return top
        failure = BadReturnError(f"{name}.start", top) if type(top) is not Pid else "noproc"
        message = (
            f"application {name} failed to start: {name}.start() returned {top!r}; "
            "expected the pid of a live top supervisor"
        )
    state.start_failure = StartError(failure, message)
    return None


def _tree_of(top: Pid, timeout: float | None) -> list[Pid]:
    """Return every process under the supervisor *top*, asking each supervisor."""
    found: list[Pid] = []
    supervisors = [top]
    while supervisors:
        sup = supervisors.pop()
        if not _is_supervisor(sup):
            continue  # a top process of another kind would not understand the question
        try:
            children: Any = call_process(sup, ("which_children",), timeout, Call)
        except CallError:
            continue  # busy or gone: its children are left to it
        for _id, pid, kind in reply_or_raise(children):
            if type(pid) is Pid:
                found.append(pid)
                if kind == "supervisor":
                    supervisors.append(pid)
    return found


def _is_supervisor(pid: Pid) -> bool:
    facts = info(pid)
    kind = None if facts is None else facts["current"]
    return isinstance(kind, type) and issubclass(kind, (Supervisor, DynamicSupervisor))


def _tree_ended(cls: type[Application], app: Application, state: _AppState, reason: object) -> None:
    """The top supervisor ended without being asked: the application has failed."""
    name = _name(cls)
    _reports.error(
        "application_report",
        application=name,
        pid=state.top,
        reason=_reports.short(reason),
        context="exited",
        exc_info=_reports.exc_info_of(reason),
    )
    state.reason = reason
    state.status = "failed"
    _call_stop(cls, app)


def _call_stop(cls: type[Application], app: Application) -> None:
    callback: Callable[[Application], object] | None = getattr(cls, "_gs_stop_callback", None)
    if callback is None:
        return
    try:
        callback(app)
    except Exception as exc:
        _reports.error(
            "application_report",
            application=_name(cls),
            reason=_reports.short(exc),
            context="stop_error",
            exc_info=exc,
        )


def _master_ended(cls: type[Application], state: _AppState, killed_with: object) -> None:
    if state.status == "starting":  # start() failed, or the master was killed meanwhile
        if state.start_failure is None:
            state.start_failure = StartError(
                killed_with, f"application {_name(cls)} was killed while starting"
            )
        state.status = "stopped"
        state.settled.set()
    elif state.status == "running":  # the master itself was killed
        state.reason = killed_with
        state.status = "failed"
    if state.status != "failed" and _apps.get(cls) is state:
        del _apps[cls]
    state.ended.set()


# --- the client side ------------------------------------------------------------


def ensure_started(cls: type[Application], arg: object, stop_on_exit: bool) -> Pid:
    """Start *cls* unless it runs; return its top supervisor (see the module doc)."""
    if _scheduler.real_get_ident() != _scheduler.node_thread and _scheduler.is_foreign_thread():
        return run_from_foreign_thread(  # type: ignore[return-value]
            lambda _left: ensure_started(cls, arg, stop_on_exit), None, "ensure_started"
        )
    while True:
        state = _apps.get(cls)
        if state is None:
            state = _apps[cls] = _AppState()
            state.master = spawn_process(_master, (cls, arg, state), {}, current=cls)[0].pid
        status = state.status
        if status == "running":
            top = state.top
            assert top is not None
            if not top._proc.alive:  # it just ended: let the master record why
                state.ended.wait()
                continue
            if stop_on_exit and not state.stop_on_exit:
                _arm_stop_on_exit(state)
            return top
        if status == "starting":
            if state.master is not None and state.master._proc is current_process():
                raise StartError(
                    "calling_self",
                    f"{_name(cls)}.start() called {_name(cls)}.ensure_started(): "
                    "it would wait for itself forever",
                )
            state.settled.wait()
            if state.start_failure is not None:
                raise state.start_failure
        elif status == "stopping":
            state.ended.wait()
        elif status == "failed":
            raise StartError(
                state.reason,
                f"application {_name(cls)} has stopped: its top supervisor exited with "
                f"{_reports.short(state.reason)}; call {_name(cls)}.stop() to clear this "
                "and start it afresh",
            )
        else:  # "forked"
            raise StartError(
                "forked",
                f"application {_name(cls)} was started before this OS process forked; "
                "a forked copy of a running node is not usable: start applications "
                "after the fork (with gunicorn: in post_worker_init, or lazily in a request)",
            )


def stop(cls: type[Application], timeout: float | None) -> None:
    """Stop *cls* if it runs, or clear its failure; see ``Application.stop``."""
    if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None; got {timeout!r}")
    if _scheduler.real_get_ident() != _scheduler.node_thread and _scheduler.is_foreign_thread():
        wait = None if timeout is None else timeout + STOP_GRACE
        run_from_foreign_thread(lambda _left: stop(cls, timeout), wait, "stop")
        return
    while True:
        state = _apps.get(cls)
        if state is None:
            return
        if state.status == "starting":
            state.settled.wait()
            continue
        if state.status in ("failed", "forked"):
            del _apps[cls]
            return
        if state.status == "running":
            state.status = "stopping"
            assert state.master is not None
            send(state.master, _StopRequest(timeout))
        if not state.ended.wait(None if timeout is None else timeout + STOP_GRACE):
            assert state.master is not None
            exit(state.master, "kill")
            state.ended.wait()
        return


def running(cls: type[Application]) -> bool:
    """Return whether *cls* runs (started, not failed, not stopping)."""
    state = _apps.get(cls)
    return (
        state is not None
        and state.status == "running"
        and state.top is not None
        and state.top._proc.alive
    )


# --- stopping at exit -----------------------------------------------------------

_exit_hooks_installed = False
_previous_handlers: dict[int, Any] = {}
_signalled = False


def _arm_stop_on_exit(state: _AppState) -> None:
    """Stop this application on SIGTERM, SIGINT and at interpreter exit."""
    global _exit_hooks_installed
    state.stop_on_exit = True
    if _exit_hooks_installed:
        return
    _exit_hooks_installed = True
    atexit.register(_stop_marked)
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or previous is None:
            continue  # ignored, or handled outside Python: leave it be
        try:
            signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread: only the exit hook applies
            continue
        _previous_handlers[signum] = previous


def _on_signal(signum: int, frame: object) -> None:
    # A signal handler runs between two bytecodes of whatever greenlet is
    # current, maybe the hub: do the blocking work in a greenlet of its own,
    # as gunicorn's gevent worker does.
    global _signalled
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if _signalled:  # a second signal while stopping: do at once what it would do
        _chain(signum, frame, previous)
        return
    _signalled = True
    gevent.spawn(_stop_then_chain, signum, frame, previous)


def _stop_then_chain(signum: int, frame: object, previous: Any) -> None:
    _stop_marked()
    _chain(signum, frame, previous)


def _chain(signum: int, frame: object, previous: Any) -> None:
    """Do what the signal would have done without us."""
    if previous is signal.default_int_handler:
        main = getcurrent()
        while main.parent is not None:
            main = main.parent
        if not main.dead and main is not getcurrent():
            main.throw(KeyboardInterrupt)
        return
    if callable(previous):
        previous(signum, frame)
        return
    # SIG_DFL: die of the signal, as the process would have.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _stop_marked() -> None:
    """Stop every application started with ``stop_on_exit``, newest first."""
    for cls, state in reversed(list(_apps.items())):
        if state.stop_on_exit and state.status in ("starting", "running", "stopping"):
            try:
                stop(cls, 5.0)
            except Exception as exc:  # one failure must not keep the others running
                _reports.error(
                    "application_report",
                    application=_name(cls),
                    reason=_reports.short(exc),
                    context="stop_error",
                    exc_info=exc,
                )


def _after_fork_in_child() -> None:
    # The child has copies of the parent's processes, frozen mid-flight: its
    # applications are not its own.
    global _signalled
    _signalled = False
    for state in _apps.values():
        state.status = "forked"


os.register_at_fork(after_in_child=_after_fork_in_child)


# --- the class users subclass ----------------------------------------------------


class _StopMethod:
    """``MyApp.stop(timeout)`` on a class, the ``stop(self)`` callback on an instance."""

    def __get__(self, obj: object, owner: type[Application]) -> Callable[..., None]:
        if obj is not None:
            callback: Callable[[Any], None] | None = getattr(owner, "_gs_stop_callback", None)
            return partial(callback, obj) if callback is not None else _no_stop_callback
        if owner is Application:
            return _stop_any
        return partial(_stop_any, owner)


def _no_stop_callback() -> None:
    return None


def _stop_any(cls: type[Application], timeout: float | None = 5.0) -> None:
    _check_app_class(cls, "stop")
    stop(cls, timeout)


def _check_app_class(cls: object, what: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Application)) or cls is Application:
        raise TypeError(
            f"{what}() needs a subclass of gs.Application (MyApp.{what}() or "
            f"gs.Application.{what}(MyApp)); got {cls!r}"
        )


class Application:
    """A supervision tree started once, owned by no caller (OTP's ``application``).

    Subclass it, define ``start(self, arg)`` returning the top supervisor's
    pid and optionally ``stop(self)``; then ``MyApp.ensure_started(arg)``
    anywhere, and ``MyApp.stop()`` to stop it. ``gs.Application.stop(MyApp)``
    is the same as ``MyApp.stop()`` (and what mypy accepts when ``MyApp``
    defines the ``stop`` callback).
    """

    # Typed loosely on purpose: on the class it is MyApp.stop(timeout=5.0), on
    # an instance the user's stop(self) callback.
    stop: ClassVar[Callable[..., None]] = _StopMethod()  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass's ``stop(self)`` is the callback; ``MyApp.stop(...)`` on
        # the class must still stop the application, so move the callback aside.
        callback = cls.__dict__.get("stop")
        if callback is not None and not isinstance(callback, _StopMethod):
            cls._gs_stop_callback = callback  # type: ignore[attr-defined]
            cls.stop = _StopMethod()  # type: ignore[assignment]

    def start(self, arg: Any) -> Pid | None:
        """Start the top supervisor and return its pid; runs in the application master.

        Start it with ``start_link`` (the master owns it either way). Raising,
        or returning anything but a live pid (``None`` included: what a
        supervisor's ``start_link`` gives when its ``init`` ignores the start),
        makes ``ensure_started`` raise ``StartError``.
        """
        raise NotImplementedError

    @classmethod
    def ensure_started(cls, arg: object = None, *, stop_on_exit: bool = False) -> Pid:
        """Start the application unless it runs; return its top supervisor's pid.

        Safe to call on every request: once it runs, this is a dictionary
        lookup. Concurrent first callers (greenlets or OS threads) all wait
        for the one start. ``arg`` reaches ``start`` on the start only.

        Args:
            arg: Passed to ``start(self, arg)``.
            stop_on_exit: Stop the application cleanly on SIGTERM, SIGINT
                (then do what the signal would have done: the previous handler
                runs, or the process dies of it) and at interpreter exit.

        Raises:
            StartError: ``start`` failed (``.reason`` says why), or the
                application has failed since (its top supervisor gave up) and
                ``MyApp.stop()`` has not cleared that yet.
        """
        _check_app_class(cls, "ensure_started")
        if cls.start is Application.start:
            raise TypeError(f"{cls.__qualname__} must define start(self, arg)")
        return ensure_started(cls, arg, stop_on_exit)

    @classmethod
    def running(cls) -> bool:
        """Return whether the application runs (started, and neither failed nor stopping)."""
        _check_app_class(cls, "running")
        return running(cls)


__all__ = ["Application"]
