"""The start handshake shared by every behaviour (OTP's ``proc_lib``).

``start`` spawns a process, optionally linked, and blocks until the new
process acknowledges (``init_ack``) or refuses (``init_fail``) its start, dies,
or the timeout expires (then it is killed). The acknowledgement travels to
an alias of the starter, so one that comes after a timeout is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

from . import _instrument
from ._errors import StartError
from ._links import abandon_wait, demonitor_process, monitor_process, send_alias
from ._mailbox import Match
from ._messages import receive_in
from ._pid import Pid, Ref
from ._process import Down, Process, current_process, spawn_process, terminate


@final
class Starter:
    """What a starting process needs to answer its starter."""

    __slots__ = ("link", "parent", "ref")

    def __init__(self, parent: Process, link: bool) -> None:
        self.parent = parent
        self.link = link
        self.ref: Ref  # set by start() once the new process is monitored


@final
class _Ack:
    __slots__ = ("ok", "ref", "value")

    def __init__(self, ref: Ref, ok: bool, value: object) -> None:
        self.ref = ref
        self.ok = ok
        self.value = value


# A start verdict shows in records as the value the starter gets.
_instrument.register_view(_Ack, lambda msg: msg.value)


def start(
    entry: Callable[..., object],
    args: tuple[object, ...],
    *,
    link: bool,
    timeout: float | None,
    current: object,
) -> tuple[bool, object, Pid]:
    """Spawn ``entry(starter, *args)`` and wait for its verdict.

    Returns ``(True, value, pid)`` after ``init_ack(starter, value)``, or
    ``(False, reason, pid)`` after ``init_fail`` or the process's death.

    Raises:
        StartError: ``StartError("timeout")`` if no verdict came in time; the
            process has been killed.
    """
    me = current_process()
    starter = Starter(me, link)
    mark = me.mailbox.mark()
    proc, _ = spawn_process(entry, (starter, *args), {}, link=link, current=current)
    ref, _ = monitor_process(me, proc.pid, alias=True)
    starter.ref = ref

    def is_verdict(msg: object) -> bool:
        return (type(msg) is _Ack and msg.ref is ref) or (type(msg) is Down and msg.ref is ref)

    match: Match = is_verdict
    try:
        msg = receive_in(me, match, timeout, mark, True)
    except BaseException as exc:
        # A timeout, or anything else that cut the wait short (gevent.Timeout,
        # a kill, Ctrl-C): nobody will ever learn the pid, so the half-started
        # process goes, and nothing of the handshake survives.
        abandon_wait(me, ref, match, mark)
        _unlink(me, proc)
        terminate(proc, "killed")
        if not isinstance(exc, TimeoutError):
            raise
        raise StartError(
            "timeout", f"{current!r} did not finish starting within {timeout}s"
        ) from None
    if not demonitor_process(me, ref):  # it died since its verdict: drop the Down
        me.mailbox.remove_if(match, mark)
    if type(msg) is _Ack:
        return msg.ok, msg.value, proc.pid
    assert type(msg) is Down
    return False, msg.reason, proc.pid


def _unlink(a: Process, b: Process) -> None:
    if a.links is not None:
        a.links.discard(b)
    if b.links is not None:
        b.links.discard(a)


def init_ack(starter: Starter, value: object) -> None:
    """Tell the starter that the start succeeded with *value*."""
    send_alias(starter.ref, _Ack(starter.ref, True, value))


def init_fail(starter: Starter, reason: object) -> None:
    """Tell the starter that the start failed with *reason*.

    Unlike OTP, the link to the starter goes first, so the starter gets the
    error as a return value and not also an exit signal.
    """
    if starter.link:
        _unlink(current_process(), starter.parent)
    send_alias(starter.ref, _Ack(starter.ref, False, reason))
