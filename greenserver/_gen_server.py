"""GenServer: the client/server behaviour, as Elixir's ``GenServer`` documents it.

Callbacks (only ``init`` is required; each runs in the server's process):

* ``init(arg)`` runs before ``start``/``start_link`` returns. Returns ``Ok(state)``,
  ``Ignore()`` or ``Stop(reason)``; an exception makes the start fail.
* ``handle_call(request, from_, state)`` for ``call``: ``Reply(reply, state)``,
  ``NoReply(state)`` (answer later with ``GenServer.reply(from_, ...)``) or
  ``Stop(reason, state, reply=...)``. The default crashes the server.
* ``handle_cast(request, state)`` for ``cast`` and ``handle_info(msg, state)`` for
  any other message: ``NoReply(state)`` or ``Stop(reason, state)``. The default
  ``handle_cast`` crashes; the default ``handle_info`` logs and ignores.
* ``handle_continue(arg, state)`` after a result with ``continue_=arg``, before
  any other message.
* ``terminate(reason, state)`` when a callback returns ``Stop``, raises or
  returns something invalid, on ``GenServer.stop``, and when the parent exits
  while the server traps exits. It is *not* called when an exit signal kills
  a server that does not trap exits. Its return value is ignored; if it
  raises, that exception becomes the exit reason.
* ``code_change(old_vsn, state, extra)`` on a hot upgrade: ``Ok(new_state)``.
* ``format_status(status)`` shapes what reports and ``sys.get_status`` show.

Anything a callback returns outside its contract (a bare ``None`` from a
forgotten ``return`` is the classic) stops the server with
``BadReturnError(callback, value)``. A crash logs one ``crash_report``.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import Parameter, Signature
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar, final, overload

from greenlet import GreenletExit

from . import _clock, _instrument, _names, _process, _reports
from ._calls import (
    Call,
    Cast,
    System,
    call_process,
    cast_process,
    send_reply,
    stop_process,
)
from ._child_spec import ChildSpec
from ._errors import (
    AlreadyRegisteredError,
    AlreadyStartedError,
    BadReturnError,
    Exit,
    NoProcessError,
    StartError,
)
from ._mailbox import EMPTY
from ._messages import receive_in
from ._names import Via, register, resolve
from ._pid import Pid, Ref
from ._proc_lib import Starter, init_ack, init_fail
from ._proc_lib import start as proc_lib_start
from ._process import (
    ExitSignal,
    Process,
    borrow_engine,
    current_process,
    hibernate,
    is_normal,
    refuse_if_dead,
    report_crash,
)
from ._results import UNSET, Ignore, NoReply, Ok, Reply, Stop
from ._sysmsg import Debug, from_options

S = TypeVar("S")
A = TypeVar("A")
B = TypeVar("B")
R = TypeVar("R")
A_contra = TypeVar("A_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


_IGNORED: Final = object()


# --- the server side ----------------------------------------------------------


class _Terminate(Exception):
    """Unwind the loop to terminate with ``reason`` (after ``terminate``)."""

    def __init__(self, reason: object, state: object, reply_to: Ref | None, reply: object) -> None:
        self.reason = reason
        self.state = state
        self.reply_to = reply_to
        self.reply = reply


@final
class _Context:
    """What the loop of one server keeps between callbacks."""

    __slots__ = (
        "debug",
        "hibernate_after",
        "last",
        "parent",
        "proc",
        "server",
        "state",
        "suspended",
    )

    def __init__(
        self,
        proc: Process,
        server: GenServer[Any],
        parent: Process,
        hibernate_after: float | None,
        debug: Debug | None,
    ) -> None:
        self.proc = proc
        self.server = server
        self.parent = parent
        self.hibernate_after = hibernate_after
        self.debug = debug
        self.last: object = None
        self.suspended = False
        self.state: Any = None  # kept here while the server is dormant

    def __call__(self) -> None:
        """The next message has come to the dormant server: resume its loop.

        The context is its own wake function (``hibernate``'s *wake*): no
        extra objects per server for the cyclic GC to walk.
        """
        borrow_engine(self.proc, _resume, (self,), _NO_KWARGS)

    def event(self, event: dict[str, Any]) -> None:
        """Pass a debug event on (only called while debug options are on)."""
        debug = self.debug
        if debug is not None:
            debug.event(self.proc.pid, self.proc.name, event)
            if debug.empty:
                self.debug = None


def _debug_in(ctx: _Context, msg: object) -> None:
    mtype = type(msg)
    if mtype is Call:
        assert isinstance(msg, Call)
        owner = msg.from_.owner()
        event = {
            "event": "in",
            "kind": "call",
            "message": msg.request,
            "from": owner.pid if owner is not None else None,
        }
    elif mtype is Cast:
        assert isinstance(msg, Cast)
        event = {"event": "in", "kind": "cast", "message": msg.request, "from": None}
    elif mtype is System:
        return
    else:
        event = {"event": "in", "kind": "info", "message": msg, "from": None}
    ctx.event(event)


def _debug_out(ctx: _Context, from_: Ref, reply: object) -> None:
    owner = from_.owner()
    ctx.event({"event": "out", "reply": reply, "to": owner.pid if owner is not None else None})


def _enter(
    starter: Starter,
    cls: type[GenServer[Any]],
    arg: object,
    name: str | Via | None,
    hibernate_after: float | None,
    debug: Debug | None,
) -> object:
    """Body of a new server process: register, ``init``, acknowledge, loop."""
    proc = current_process()
    if name is not None:
        try:
            holder = _register_name(proc, name)
        except Exception as exc:  # e.g. a Via naming no registry: a failed start
            init_fail(starter, exc)
            raise Exit(exc) from None
        if holder is not None:
            init_fail(starter, AlreadyStartedError(holder, name))
            return None
    server = cls()
    try:
        result = server.init(arg)
    except Exit as exc:
        init_fail(starter, exc.reason)
        raise
    except Exception as exc:
        _crash_report(proc, server, exc, None, None, "init")
        init_fail(starter, exc)
        raise Exit(exc) from None
    rtype = type(result)
    if rtype is Ok:
        assert isinstance(result, Ok)
        proc.current = server.behaviour_class()  # a Supervisor, not its private server
        init_ack(starter, proc.pid)
        ctx = _Context(proc, server, starter.parent, hibernate_after, debug)
        return _loop(ctx, result.state, result)
    if rtype is Ignore:
        init_ack(starter, _IGNORED)
        return None
    if rtype is Stop:
        assert isinstance(result, Stop)
        init_fail(starter, result.reason)
        raise Exit(result.reason)
    bad = BadReturnError(f"{cls.__qualname__}.init", result)
    _crash_report(proc, server, bad, None, None, "init")
    init_fail(starter, bad)
    raise Exit(bad)


def _register_name(proc: Process, name: str | Via) -> Pid | None:
    """Register *name* for *proc*; return the holder's pid if it is taken."""
    if type(name) is Via:
        # Read at call time: importing the Registry installs the backend.
        backend = _names.via_backend
        holder = backend.whereis(name)
        if holder is not None:
            return holder
        try:
            backend.register(name, proc.pid)
        except AlreadyRegisteredError:
            return backend.whereis(name) or proc.pid
        return None
    assert type(name) is str
    try:
        register(name, proc.pid)
    except AlreadyRegisteredError:
        holder_proc = resolve(name)
        return holder_proc.pid if holder_proc is not None else proc.pid
    return None


def _loop(ctx: _Context, state: Any, flow: Ok[Any] | Reply[Any] | NoReply[Any]) -> object:
    """Serve messages until the server stops; returns only to go dormant.

    With nothing to do (an empty mailbox, no timeout, no continue), the
    server goes *dormant*: its state stays in ``ctx``, its engine goes back
    to the pool, and the next message borrows one to resume the loop here.
    """
    proc = ctx.proc
    mailbox = proc.mailbox
    server = ctx.server
    hibernate_after = ctx.hibernate_after
    try:
        while True:
            if flow.plain and hibernate_after is None:
                msg = mailbox.take()
                if msg is EMPTY:
                    # (A dead process's queue is gone: hibernate raises Exit.)
                    ctx.state = state
                    return hibernate(proc, ctx)
                proc.reductions += 1
                if _instrument.enabled:
                    _instrument.emit("receive", proc.pid, msg=_instrument.shown(msg))
            else:
                # The options of the last result decide what happens next.
                cont = flow.continue_
                if cont is not UNSET:
                    ctx.last = ("continue", cont)
                    if ctx.debug is not None:
                        ctx.event(
                            {"event": "in", "kind": "continue", "message": cont, "from": None}
                        )
                    flow = _flow(ctx, "handle_continue", server.handle_continue(cont, state))
                    state = flow.state
                    if ctx.debug is not None:
                        ctx.event({"event": "state", "state": state})
                    continue
                if flow.hibernate:
                    return _hibernate(ctx, state)
                timeout = flow.timeout
                if timeout is None and hibernate_after is not None:
                    try:
                        msg = receive_in(proc, None, hibernate_after)
                    except TimeoutError:
                        return _hibernate(ctx, state)
                else:
                    try:
                        msg = receive_in(proc, None, timeout)
                    except TimeoutError:
                        msg = "timeout"
            ctx.last = msg
            if ctx.debug is not None:
                _debug_in(ctx, msg)
            if type(msg) is Call:
                reply = server.handle_call(msg.request, msg.from_, state)
                if type(reply) is Reply:
                    send_reply(msg.from_, reply.reply)
                    proc.sent += 1
                    if ctx.debug is not None:
                        _debug_out(ctx, msg.from_, reply.reply)
                    flow = reply
                elif type(reply) is NoReply:
                    flow = reply
                elif type(reply) is Stop:
                    raise _Terminate(reply.reason, reply.state, msg.from_, reply.reply)
                else:
                    raise BadReturnError(f"{type(server).__qualname__}.handle_call", reply)
                state = flow.state
            elif type(msg) is Cast:
                result: object = server.handle_cast(msg.request, state)
                flow = result if type(result) is NoReply else _flow(ctx, "handle_cast", result)
                state = flow.state
            elif type(msg) is System:
                state = _system(ctx, msg, state)
                server = ctx.server  # change_code may have swapped the class
                continue
            elif type(msg) is ExitSignal and msg.pid is ctx.parent.pid:
                # As in OTP: a trapping server dies with its parent, after terminate.
                raise _Terminate(msg.reason, state, None, UNSET)
            else:
                result = server.handle_info(msg, state)
                flow = result if type(result) is NoReply else _flow(ctx, "handle_info", result)
                state = flow.state
            if ctx.debug is not None:
                ctx.event({"event": "state", "state": state})
    except _Terminate as stop:
        _terminate(ctx, stop.reason, stop.state, stop.reply_to, stop.reply)
    except Exit as exc:
        if not proc.alive:  # killed by a signal: no terminate, as in OTP
            raise
        _terminate(ctx, exc.reason, state, None, UNSET)
    except Exception as exc:
        _terminate(ctx, exc, state, None, UNSET)
    except GreenletExit as exc:
        # Raised by a callback, not a kill (kills raise Exit): a crash.
        _terminate(ctx, exc, state, None, UNSET)
    except (KeyboardInterrupt, SystemExit) as exc:
        # The server ends as after a crash (terminate, one report), then the
        # exception goes on to the main greenlet, as gevent does with it.
        _terminate(ctx, exc, state, None, UNSET, reraise=exc)
    raise AssertionError("unreachable: _terminate always raises")


def _flow(ctx: _Context, callback: str, result: object) -> NoReply[Any]:
    """Check a handle_cast/info/continue result; raise _Terminate on Stop."""
    rtype = type(result)
    if rtype is NoReply:
        assert isinstance(result, NoReply)
        return result
    if rtype is Stop:
        assert isinstance(result, Stop)
        raise _Terminate(result.reason, result.state, None, UNSET)
    raise BadReturnError(f"{type(ctx.server).__qualname__}.{callback}", result)


def _client_of(last: object) -> Pid | None:
    """The caller of the call being handled when the server crashed, if any."""
    if type(last) is Call:
        owner = last.from_.owner()
        return owner.pid if owner is not None else None
    return None


def _terminate(
    ctx: _Context,
    reason: object,
    state: object,
    reply_to: Ref | None,
    reply: object,
    reraise: BaseException | None = None,
) -> None:
    """Run ``terminate``, report an abnormal exit, reply if asked, then exit.

    With *reraise* (a KeyboardInterrupt or SystemExit), the process dies with
    it and it is raised on, out of the process, instead of ``Exit``.
    """
    proc = ctx.proc
    try:
        ctx.server.terminate(reason, state)
    except Exit as exc:
        if not proc.alive:
            raise
        reason = exc.reason
    except Exception as exc:
        reason = exc
    if not is_normal(reason):
        client = _client_of(ctx.last)
        _crash_report(
            proc, ctx.server, reason, ctx.last, state, None, client=client, debug=ctx.debug
        )
    if reply_to is not None and reply is not UNSET:
        send_reply(reply_to, reply)
        ctx.proc.sent += 1
    if reraise is not None:
        _process.terminate(proc, reason)
        raise reraise
    raise Exit(reason)


def _hibernate(ctx: _Context, state: object) -> object:
    ctx.proc.mailbox.compact()
    ctx.state = state
    return hibernate(ctx.proc, ctx)


_AWAKE: Final = NoReply(None)
_NO_KWARGS: Final[dict[str, Any]] = {}


def _resume(ctx: _Context) -> object:
    """Go on serving after dormancy, with the state kept in *ctx*."""
    state = ctx.state
    ctx.state = None
    return _loop(ctx, state, _AWAKE)


def _system(ctx: _Context, msg: System, state: Any) -> Any:
    """Handle a system message between callbacks (OTP's ``sys``); return the state."""
    request = msg.request
    assert type(request) is tuple
    kind = request[0]
    answer: tuple[str, object] = ("ok", None)
    if kind == "terminate":
        raise _Terminate(request[1], state, None, UNSET)
    if kind == "get_state":
        answer = ("ok", state)
    elif kind == "replace_state":
        try:
            state = request[1](state)
        except Exception as exc:
            answer = ("error", exc)
        else:
            answer = ("ok", state)
    elif kind == "get_status":
        answer = ("ok", _status(ctx, state))
    elif kind == "suspend":
        send_reply(msg.from_, answer)
        ctx.proc.sent += 1
        ctx.suspended = True
        return _suspended(ctx, state)
    elif kind == "resume":
        ctx.suspended = False
    elif kind == "change_code":
        state, answer = _change_code(ctx, state, *request[1:])
    elif kind == "debug":
        answer = _debug_request(ctx, request[1], request[2])
    elif kind == "children":
        answer = ("ok", ctx.server._sys_children(state))
    else:
        answer = ("error", ValueError(f"unknown system request {request!r}"))
    send_reply(msg.from_, answer)
    ctx.proc.sent += 1
    return state


def _change_code(
    ctx: _Context, state: Any, new_cls: type[GenServer[Any]], old_vsn: object, extra: object
) -> tuple[Any, tuple[str, object]]:
    """Swap the server's class after ``new_cls.code_change`` migrates the state."""
    if not ctx.suspended:
        error = RuntimeError("change_code needs a suspended server; call sys.suspend() first")
        return state, ("error", error)
    try:
        new_server = new_cls()
        result: object = new_server.code_change(old_vsn, state, extra)
    except Exception as exc:
        return state, ("error", exc)
    if not isinstance(result, Ok):
        return state, ("error", BadReturnError(f"{new_cls.__qualname__}.code_change", result))
    ctx.server = new_server
    return result.state, ("ok", None)


def _debug_request(ctx: _Context, option: str, arg: object) -> tuple[str, object]:
    debug = ctx.debug if ctx.debug is not None else Debug()
    answer: tuple[str, object] = ("ok", None)
    try:
        if option == "trace":
            debug.trace = bool(arg)
        elif option == "log":
            if arg == "get":
                answer = ("ok", list(debug.log or ()))
            else:
                debug.set_log(arg)
        elif option == "statistics":
            if arg == "get":
                if not debug.stats:
                    raise RuntimeError(
                        "statistics are off; turn them on with statistics(server, True)"
                    )
                answer = ("ok", _statistics(ctx, debug))
            else:
                debug.set_stats(arg, ctx.proc.reductions)
        elif option == "install":
            if not callable(arg):
                raise TypeError(f"a debug function must be callable; got {arg!r}")
            debug.fns.append(arg)
        elif option == "remove":
            if arg not in debug.fns:
                raise ValueError(f"{arg!r} is not installed")
            debug.fns.remove(arg)
        else:
            raise ValueError(f"unknown debug option {option!r}")
    except (ValueError, TypeError, RuntimeError) as exc:
        answer = ("error", exc)
    ctx.debug = None if debug.empty else debug
    return answer


def _statistics(ctx: _Context, debug: Debug) -> dict[str, object]:
    return {
        "start_time": debug.start_time,
        "current_time": _clock.wall(),
        "reductions": ctx.proc.reductions - debug.start_reductions,
        "messages_in": debug.messages_in,
        "messages_out": debug.messages_out,
        "message_queue_len": len(ctx.proc.mailbox),
    }


def _suspended(ctx: _Context, state: Any) -> Any:
    """Answer only system messages until resumed; other messages stay queued."""

    parent = ctx.parent.pid

    def is_system(msg: object) -> bool:
        # As in OTP, a suspended server still obeys its parent's exit.
        return type(msg) is System or (type(msg) is ExitSignal and msg.pid is parent)

    try:
        while ctx.suspended:
            msg = receive_in(ctx.proc, is_system, None)
            if type(msg) is ExitSignal:
                raise _Terminate(msg.reason, state, None, UNSET)
            assert isinstance(msg, System)
            if msg.request == ("suspend",):
                send_reply(msg.from_, ("ok", None))
                ctx.proc.sent += 1
            else:
                state = _system(ctx, msg, state)
    finally:
        ctx.suspended = False
    return state


def _status(ctx: _Context, state: object) -> dict[str, object]:
    shown = _format_status(ctx.server, state, None, None, ctx.debug)
    return {
        "pid": ctx.proc.pid,
        "class": ctx.server.behaviour_class(),
        "status": "suspended" if ctx.suspended else "running",
        "parent": ctx.parent.pid,
        "debug": ctx.debug.options() if ctx.debug is not None else [],
        "state": shown.get("state"),
        "name": ctx.proc.name,
    }


def _format_status(
    server: GenServer[Any], state: object, msg: object, reason: object, debug: Debug | None
) -> dict[str, Any]:
    log = list(debug.log) if debug is not None and debug.log is not None else []
    status: dict[str, Any] = {"state": state, "message": msg, "reason": reason, "log": log}
    try:
        shown: object = server.format_status(status)
    except Exception as exc:
        return {**status, "state": f"<format_status() raised {exc!r}>"}
    if not isinstance(shown, dict):
        return {**status, "state": f"<format_status() returned {shown!r}, not a dict>"}
    return shown


def _crash_report(
    proc: Process,
    server: GenServer[Any],
    reason: object,
    last: object,
    state: object,
    phase: str | None,
    client: Pid | None = None,
    debug: Debug | None = None,
) -> None:
    def details() -> dict[str, object]:
        shown = _format_status(server, state, last, reason, debug)
        return {
            "last_message": _reports.short(shown.get("message")),
            "state": _reports.short(shown.get("state")),
            "client": client,
            "phase": phase,
        }

    report_crash(proc, server.behaviour_class().__qualname__, reason, details)


# --- the behaviour --------------------------------------------------------------


class _InitOk(Protocol[A_contra]):
    """A server class whose ``init`` takes an ``A`` and never returns ``Ignore``."""

    def init(self, arg: A_contra, /) -> Ok[Any] | Stop[Any]: ...


class _InitAny(Protocol[A_contra]):
    """A server class whose ``init`` takes an ``A`` and may return ``Ignore``."""

    def init(self, arg: A_contra, /) -> Ok[Any] | Ignore | Stop[Any]: ...


_START_OPTIONS: Final = frozenset({"name", "timeout", "hibernate_after", "debug"})

_START_DOC: Final = """\
Start a new {what} process{linked} and return its pid once ``init`` has returned.

{usage}

Args:
    arg: Passed to ``init``; ``None`` when left out.
    name: Register the server under this name (a ``str``) or ``gs.Via``.
    timeout: Seconds ``init`` may take; the half-started process is then
        killed and ``StartError("timeout")`` raised. ``None``: no limit.
    hibernate_after: Hibernate after this many idle seconds.
    debug: ``sys`` debug options to start with, e.g. ``["trace"]``.

Returns:
    The pid. When ``init`` returns ``Ignore()``, the process exits
    ``"normal"`` and the result is ``None``: mypy knows which from the
    return type ``init`` declares (``Pid`` unless it includes ``Ignore``).

Raises:
    StartError: ``init`` returned ``Stop``, raised, returned a bad value or
        timed out (``.reason`` says which).
    AlreadyStartedError: The name is taken (``.pid`` is the holder).
"""


def _start_function(owner: type[GenServer[Any]], link: bool) -> Callable[..., Pid | None]:
    """Build ``owner.start`` or ``owner.start_link``: a real function, for ``help()``."""
    word = "start_link" if link else "start"
    shown = f"{owner.__qualname__}.{word}"
    base = owner is GenServer

    def start(*args: Any, **options: Any) -> Pid | None:
        if base:
            if not 1 <= len(args) <= 2:
                raise TypeError(
                    f"{shown}() takes a GenServer subclass and its init argument; "
                    f"got {len(args)} positional arguments {args!r}"
                )
            cls, arg = args[0], (args[1] if len(args) == 2 else None)
        else:
            if len(args) > 1:
                raise TypeError(
                    f"{shown}() takes one init argument and keyword options; "
                    f"got {len(args)} positional arguments {args!r}"
                )
            cls, arg = owner, (args[0] if args else None)
        unknown = options.keys() - _START_OPTIONS
        if unknown:
            raise TypeError(
                f"{shown}() got unexpected keyword arguments {sorted(unknown)!r}; "
                "the options are name, timeout, hibernate_after and debug"
            )
        return _start(cls, arg, link=link, shown=shown, **options)

    start.__name__ = word
    start.__qualname__ = shown
    start.__module__ = owner.__module__
    start.__doc__ = _START_DOC.format(
        what="server" if base else owner.__qualname__,
        linked=" linked to the caller" if link else " (not linked)",
        usage=(
            f"``GenServer.{word}(Cls, arg)`` and ``Cls.{word}(arg)`` do the same."
            if base
            else f"The same as ``GenServer.{word}({owner.__qualname__}, arg)``."
        ),
    )
    options = [
        Parameter(n, Parameter.KEYWORD_ONLY, default=None)
        for n in ("name", "timeout", "hibernate_after", "debug")
    ]
    arg = Parameter("arg", Parameter.POSITIONAL_ONLY, default=None)
    first = [Parameter("cls", Parameter.POSITIONAL_ONLY)] if base else []
    start.__signature__ = Signature([*first, arg, *options])  # type: ignore[attr-defined]
    return start


class _StartFunction(Protocol[A_contra, R_co]):
    """What ``Cls.start``/``Cls.start_link`` are, to mypy.

    ``A_contra`` is the type ``Cls.init`` takes and ``R_co`` is ``Pid``, or
    ``Pid | None`` when ``init`` may return ``Ignore``. On the base class
    (``A_contra`` is ``Any`` there) the server class comes first:
    ``GenServer.start_link(Cls, arg)``.
    """

    @overload
    def __call__(
        self,
        arg: A_contra,
        /,
        *,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
        debug: object = None,
    ) -> R_co: ...
    @overload
    def __call__(
        self: _StartFunction[None, R],
        /,
        *,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
        debug: object = None,
    ) -> R: ...
    @overload
    def __call__(
        self: _StartFunction[object, Any],
        server: type[_InitOk[B]],
        arg: B,
        /,
        *,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
        debug: object = None,
    ) -> Pid: ...
    @overload
    def __call__(
        self: _StartFunction[object, Any],
        server: type[_InitAny[B]],
        arg: B,
        /,
        *,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
        debug: object = None,
    ) -> Pid | None: ...


class _StartMethod:
    """``GenServer.start_link(Cls, arg)`` on the base, ``Cls.start_link(arg)`` on a subclass."""

    def __init__(self, link: bool) -> None:
        self.link = link
        self.cache = "_gs_start_link" if link else "_gs_start"

    @overload
    def __get__(self, obj: None, owner: type[_InitOk[A]]) -> _StartFunction[A, Pid]: ...
    @overload
    def __get__(self, obj: None, owner: type[_InitAny[A]]) -> _StartFunction[A, Pid | None]: ...
    def __get__(self, obj: object, owner: type[Any]) -> Any:
        # One function per class, kept on the class itself, so that
        # Cls.start_link is Cls.start_link and child specs built from it
        # compare equal.
        fn: Callable[..., Any] | None = owner.__dict__.get(self.cache)
        if fn is None:
            fn = _start_function(owner, self.link)
            setattr(owner, self.cache, fn)
        return fn


def _start(
    cls: type[GenServer[Any]],
    arg: object = None,
    *,
    link: bool,
    name: str | Via | None = None,
    timeout: float | None = None,
    hibernate_after: float | None = None,
    debug: object = None,
    shown: str | None = None,
) -> Pid | None:
    if not (isinstance(cls, type) and issubclass(cls, GenServer)):
        raise TypeError(f"{shown or 'start'}() needs a GenServer subclass; got {cls!r}")
    if cls.init is GenServer.init:
        raise TypeError(f"{cls.__qualname__} must define init(self, arg)")
    if name is not None and not (type(name) is str and name) and type(name) is not Via:
        raise TypeError(f"name must be a non-empty str or a gs.Via; got {name!r}")
    if hibernate_after is not None and not (
        isinstance(hibernate_after, (int, float)) and hibernate_after >= 0
    ):
        raise ValueError(f"hibernate_after must be seconds >= 0 or None; got {hibernate_after!r}")
    ok, value, pid = proc_lib_start(
        _enter,
        (cls, arg, name, hibernate_after, from_options(debug)),  # type: ignore[arg-type]
        link=link,
        timeout=timeout,
        current=cls,
    )
    if ok:
        return None if value is _IGNORED else pid
    if isinstance(value, StartError):
        raise value
    raise StartError(value, f"{cls.__qualname__} failed to start: {_reports.short(value)}")


class GenServer(Generic[S]):
    """Base class of a server process; subclass it and define the callbacks.

    Instances are made with ``cls()`` inside the new process: put set-up in
    ``init``, and keep the state in the value the callbacks pass along.
    """

    # Per-class functions at run time; for mypy the descriptor's overloads
    # infer the init argument's type from the class's ``init`` (see
    # _StartMethod). ClassVars, not methods, so a subclass may define its
    # own ``start_link`` with any signature (Agent, Registry and users do).
    start: ClassVar[_StartMethod] = _StartMethod(link=False)
    start_link: ClassVar[_StartMethod] = _StartMethod(link=True)

    @classmethod
    def child_spec(cls, arg: object) -> ChildSpec:
        """Return how a supervisor starts this server: ``cls.start_link(arg)``, id ``cls``.

        Override it to change the id, restart type or shutdown.
        """
        return ChildSpec(id=cls, start=(cls.start_link, (arg,), {}))

    def behaviour_class(self) -> type:
        """Return the class that introspection shows for this server (itself by default)."""
        return type(self)

    def _sys_children(self, state: S) -> list[tuple[object, object, str]] | None:
        # The answer to the system request "children": a supervisor lists
        # (id, pid or None or "restarting", type); any other server, None.
        return None

    # --- callbacks -----------------------------------------------------------

    def init(self, arg: Any) -> Ok[S] | Ignore | Stop[S]:
        """Set up the server; runs before ``start`` returns."""
        raise NotImplementedError

    def handle_call(self, request: Any, from_: Ref, state: S) -> Reply[S] | NoReply[S] | Stop[S]:
        """Answer a ``call``. The default crashes: a server that takes calls must say how."""
        raise RuntimeError(
            f"{type(self).__qualname__} received the call {request!r} "
            "but does not define handle_call()"
        )

    def handle_cast(self, request: Any, state: S) -> NoReply[S] | Stop[S]:
        """Handle a ``cast``. The default crashes."""
        raise RuntimeError(
            f"{type(self).__qualname__} received the cast {request!r} "
            "but does not define handle_cast()"
        )

    def handle_info(self, msg: Any, state: S) -> NoReply[S] | Stop[S]:
        """Handle any other message. The default logs it and goes on."""
        _reports.warning(
            "unexpected_message",
            pid=current_process().pid,
            **{"class": type(self).__qualname__},
            message=_reports.short(msg),
        )
        return NoReply(state)

    def handle_continue(self, arg: Any, state: S) -> NoReply[S] | Stop[S]:
        """Continue after a result with ``continue_=arg``. The default crashes."""
        raise RuntimeError(
            f"{type(self).__qualname__} returned continue_={arg!r} "
            "but does not define handle_continue()"
        )

    def terminate(self, reason: object, state: S) -> object:
        """Clean up before the server exits (see the module docstring for when)."""
        return None

    def code_change(self, old_vsn: object, state: S, extra: object) -> Ok[S]:
        """Migrate *state* on a hot code upgrade. The default keeps it."""
        return Ok(state)

    def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
        """Return what reports and ``sys.get_status`` show; the default shows all."""
        return status

    # --- client API ------------------------------------------------------------

    @staticmethod
    def call(server: object, request: object, timeout: float | None = 5.0) -> Any:
        """Send *request* to *server* and wait for its reply.

        Works from any greenlet, a process or not. The caller monitors the
        server for the duration of the call.

        Raises:
            NoProcessError: No live process has that pid or name.
            CallTimeoutError: No reply within *timeout* seconds; the server
                keeps running and a late reply is dropped.
            ServerExitError: The server exited before replying (``.reason``).
            CallError: The call would deadlock: the server is the caller, or
                the server is (through others) waiting for the caller.
        """
        return call_process(server, request, timeout, Call)

    @staticmethod
    def cast(server: object, request: object) -> None:
        """Send *request* to *server* without waiting; never fails."""
        cast_process(server, request)

    @staticmethod
    def reply(from_: Ref, value: object) -> None:
        """Answer a call whose ``handle_call`` returned ``NoReply``."""
        if type(from_) is not Ref:
            raise TypeError(f"reply() needs the from_ passed to handle_call; got {from_!r}")
        me = refuse_if_dead()
        send_reply(from_, value)
        if me is not None:
            me.sent += 1

    @staticmethod
    def stop(server: object, reason: object = "normal", timeout: float | None = None) -> None:
        """Stop *server* with *reason*: run its ``terminate`` and wait for the exit.

        Raises:
            NoProcessError: No live process has that pid or name.
            CallTimeoutError: It did not exit within *timeout* seconds.
        """
        stop_process(server, reason, timeout)

    @staticmethod
    def whereis(server: object) -> Pid | None:
        """Return the pid of *server* (a pid, name or ``Via``) if it is alive, else None."""
        try:
            proc = resolve(server)
        except NoProcessError:
            return None
        return proc.pid if proc is not None and proc.alive else None
