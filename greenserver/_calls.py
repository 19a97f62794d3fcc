"""The client side of a call: request envelopes, call, cast, stop, reply.

A call monitors the server with an *alias* ref (OTP 24's process aliases):
the ref tags the request, the reply travels to the alias, and demonitoring
deactivates it, so a reply that comes after a timeout is dropped instead of
reaching a later receive. ``Process.calling`` records whom a process waits
on, which turns a deadlock (a server calling itself, or a cycle of servers
calling each other) into an immediate ``CallError``.

From a plain OS thread, calls run in a short-lived proxy process of the node
and casts are handed to the hub's thread.
"""

from __future__ import annotations

from functools import partial
from typing import final

from greenlet import getcurrent

from . import _instrument, _reports, _scheduler
from ._errors import CallError, CallTimeoutError, NoProcessError, ServerExitError
from ._foreign import run_from_foreign_thread
from ._links import abandon_wait, demonitor_process
from ._mailbox import Match
from ._messages import receive_in
from ._names import resolve
from ._pid import Pid, Ref
from ._process import (
    Down,
    ForeignThreadError,
    Process,
    add_monitor,
    current_process,
    refuse_if_dead,
)
from ._scheduler import is_foreign_thread, real_get_ident, run_in_node


@final
class Call:
    __slots__ = ("from_", "request")

    def __init__(self, from_: Ref, request: object) -> None:
        self.from_ = from_
        self.request = request

    def __repr__(self) -> str:
        return f"call {self.request!r}"


@final
class Cast:
    __slots__ = ("request",)

    def __init__(self, request: object) -> None:
        self.request = request

    def __repr__(self) -> str:
        return f"cast {self.request!r}"


@final
class System:
    __slots__ = ("from_", "request")

    def __init__(self, from_: Ref, request: object) -> None:
        self.from_ = from_
        self.request = request

    def __repr__(self) -> str:
        return f"system {self.request!r}"


@final
class Answer:
    __slots__ = ("ref", "value")

    def __init__(self, ref: Ref, value: object) -> None:
        self.ref = ref
        self.value = value


# Records show what the user wrote: the request, the reply value.
_instrument.register_view(Call, lambda msg: msg.request)
_instrument.register_view(Cast, lambda msg: msg.request)
_instrument.register_view(System, lambda msg: msg.request)
_instrument.register_view(Answer, lambda msg: msg.value)


def send_reply(from_: Ref, value: object) -> None:
    owner = from_.alias_owner()
    if owner is not None:
        if _instrument.enabled:
            _instrument.emit("reply", _instrument.actor(), to=owner.pid, ref=from_, value=value)
        # An active call alias means its owner waits on this very call, and
        # waits no more: a server that replied early may now call it back.
        owner.calling = None
        owner.mailbox.put(Answer(from_, value))


def _describe(server: object) -> str:
    return repr(server)


# --- the client side ----------------------------------------------------------


def _target(server: object, request: object) -> Process:
    proc = resolve(server)
    if proc is None or not proc.alive:
        raise NoProcessError(f"no process {_describe(server)}", server=server, request=request)
    return proc


def _check_cycle(me: Process, target: Process, server: object, request: object) -> None:
    if target is me:
        raise CallError(
            f"process {me.pid!r} called itself with {request!r}; "
            "it would wait forever (calling_self)",
            server=server,
            request=request,
        )
    chain = [me.pid, target.pid]
    hop = target.calling
    while hop is not None and len(chain) < 10_000:
        if hop is me:
            cycle = " -> ".join(repr(p) for p in [*chain, me.pid])
            raise CallError(
                f"call cycle {cycle}: each waits for the next, so none would ever answer",
                server=server,
                request=request,
            )
        chain.append(hop.pid)
        hop = hop.calling


def call_process(
    server: object, request: object, timeout: float | None, envelope: type[Call] | type[System]
) -> object:
    """Make a synchronous request and return the reply (see ``GenServer.call``)."""
    # current_process(), inlined: this is the hottest path of the library.
    me: Process | None = getattr(getcurrent(), "gs_process", None)
    if me is None or not me.alive:  # adopt, or refuse a dead caller
        try:
            me = current_process()
        except ForeignThreadError:
            return _call_from_foreign_thread(server, request, timeout, envelope)
    if type(server) is Pid and server._proc.alive:
        target = server._proc
    else:
        target = _target(server, request)
    if target is me or target.calling is not None:
        _check_cycle(me, target, server, request)
    ref = add_monitor(me, target, alias=True)
    if _instrument.enabled:
        _instrument.emit("call", me.pid, server=target.pid, request=request)
    # The answer can only come after the request: the wait skips what is
    # queued now, so a call costs the same whatever the caller's mailbox holds.
    mark = me.mailbox.mark()
    target.mailbox.put(envelope(ref, request))

    def is_answer(msg: object) -> bool:
        return (type(msg) is Answer and msg.ref is ref) or (type(msg) is Down and msg.ref is ref)

    match: Match = is_answer
    me.sent += 1
    me.calling = target
    try:
        msg = receive_in(me, match, timeout, mark, True)
    except TimeoutError:
        abandon_wait(me, ref, match, mark)
        raise _call_timeout(server, request, timeout) from None
    except BaseException:  # gevent.Timeout, a kill, Ctrl-C: nothing may survive the wait
        abandon_wait(me, ref, match, mark)
        raise
    finally:
        me.calling = None
    if type(msg) is Answer:
        if not demonitor_process(me, ref):  # the server died since: drop its Down
            me.mailbox.remove_if(match, mark)
        return msg.value
    assert type(msg) is Down
    reason = msg.reason
    if type(reason) is str and reason == "noproc":
        raise NoProcessError(f"no process {_describe(server)}", server=server, request=request)
    raise ServerExitError(
        f"{_describe(server)} exited with {_reports.short(reason)} before replying to {request!r}",
        reason=reason,
        server=server,
        request=request,
    )


def _call_timeout(server: object, request: object, timeout: float | None) -> CallTimeoutError:
    return CallTimeoutError(
        f"call to {_describe(server)} timed out after {timeout}s; request was {request!r}",
        server=server,
        request=request,
    )


def _call_from_foreign_thread(
    server: object, request: object, timeout: float | None, envelope: type[Call] | type[System]
) -> object:
    def attempt(left: float | None) -> object:
        # The proxy calls with the time left of the thread's deadline; a
        # timeout still reports the timeout the caller gave.
        try:
            return call_process(server, request, left, envelope)
        except CallTimeoutError:
            raise _call_timeout(server, request, timeout) from None

    return run_from_foreign_thread(attempt, timeout, "a call", server=server, request=request)


def cast_process(server: object, request: object) -> None:
    """Send an asynchronous request; never fails (see ``GenServer.cast``)."""
    if real_get_ident() != _scheduler.node_thread and is_foreign_thread():
        run_in_node(cast_process, server, request)
        return
    me = refuse_if_dead()
    if type(server) is Pid:
        proc: Process | None = server._proc
    else:
        try:
            proc = resolve(server)
        except NoProcessError:
            return
    if proc is not None and proc.alive:
        if _instrument.enabled:
            _instrument.emit("cast", _instrument.actor(), server=proc.pid, request=request)
        proc.mailbox.put(Cast(request))
        if me is not None:
            me.sent += 1


def stop_process(server: object, reason: object, timeout: float | None) -> None:
    """Stop a server through a system message and wait for its exit."""
    try:
        me = current_process()
    except ForeignThreadError:
        run_from_foreign_thread(
            partial(_stop_from_foreign_thread, server, reason, timeout),
            timeout,
            "a stop",
            server=server,
            request=("stop", reason),
        )
        return
    target = _target(server, ("stop", reason))
    if target is me:
        _check_cycle(me, target, server, ("stop", reason))
    ref = add_monitor(me, target)
    mark = me.mailbox.mark()
    target.mailbox.put(System(ref, ("terminate", reason)))

    def is_down(msg: object) -> bool:
        return type(msg) is Down and msg.ref is ref

    try:
        down = receive_in(me, is_down, timeout, mark, True)
    except BaseException as exc:
        abandon_wait(me, ref, is_down, mark)
        if not isinstance(exc, TimeoutError):
            raise
        raise _stop_timeout(server, reason, timeout) from None
    assert type(down) is Down
    if type(down.reason) is str and down.reason == "noproc":
        raise NoProcessError(f"no process {_describe(server)}", server=server)
    if down.reason is not reason and down.reason != reason:
        raise ServerExitError(
            f"{_describe(server)} exited with {_reports.short(down.reason)} while stopping",
            reason=down.reason,
            server=server,
            request=("stop", reason),
        )


def _stop_timeout(server: object, reason: object, timeout: float | None) -> CallTimeoutError:
    return CallTimeoutError(
        f"stopping {_describe(server)} timed out after {timeout}s",
        server=server,
        request=("stop", reason),
    )


def _stop_from_foreign_thread(
    server: object, reason: object, timeout: float | None, left: float | None
) -> None:
    try:
        stop_process(server, reason, left)
    except CallTimeoutError:
        raise _stop_timeout(server, reason, timeout) from None
