"""Messages: send (from any greenlet or OS thread) and receive (selective, with timeout)."""

from __future__ import annotations

from contextlib import suppress

from . import _instrument, _scheduler
from ._errors import NoProcessError
from ._mailbox import Interrupted, Match
from ._names import resolve
from ._pid import Pid
from ._process import Process, current_process, exit_of, refuse_if_dead
from ._scheduler import is_foreign_thread, real_get_ident, run_in_node


def send(dest: object, msg: object) -> object:
    """Send *msg* to *dest* (a pid, a registered name or a ``Via``); return *msg*.

    Sending never blocks. A message to a dead pid is dropped, as in Erlang;
    a message to a name nobody holds raises ``NoProcessError``. From another
    OS thread the message is handed to the hub's thread, which delivers it.
    """
    if real_get_ident() != _scheduler.node_thread:
        return _send_from_foreign_thread(dest, msg)
    me = refuse_if_dead()
    if type(dest) is Pid:
        proc = dest._proc
    else:
        found = resolve(dest)
        if found is None:
            raise NoProcessError(f"no process is registered as {dest!r}", server=dest, request=msg)
        proc = found
    if proc.alive:
        if _instrument.enabled:
            _instrument.emit("send", _instrument.actor(), to=dest, msg=_instrument.shown(msg))
        proc.mailbox.put(msg)
    if me is not None:
        me.sent += 1
    return msg


def _send_from_foreign_thread(dest: object, msg: object) -> object:
    if not is_foreign_thread():  # the first use of greenserver: this is the node now
        return send(dest, msg)
    if type(dest) is not Pid and resolve(dest) is None:
        raise NoProcessError(f"no process is registered as {dest!r}", server=dest, request=msg)
    run_in_node(_deliver_quietly, dest, msg)
    return msg


def _deliver_quietly(dest: object, msg: object) -> None:
    # The name may have gone away between the caller's check and delivery.
    with suppress(NoProcessError):
        send(dest, msg)


def receive_in(
    proc: Process,
    match: Match | None,
    timeout: float | None,
    start: int = 0,
    in_sender: bool = False,
) -> object:
    """Receive for *proc*, the current process (see ``receive``).

    The kernel's own waits pass *start* (a ``mailbox.mark()``: older messages
    cannot be the answer) and *in_sender* (their match compares a reference
    by identity, which the sender can evaluate).
    """
    if timeout is not None and (type(timeout) is not float or not timeout >= 0.0):
        _check_timeout(timeout)
    if not proc.alive:
        raise exit_of(proc)
    try:
        msg = proc.mailbox.get(match, timeout, start, in_sender)
    except Interrupted:
        raise exit_of(proc) from None
    except TimeoutError:
        if not proc.alive:  # killed while it waited
            raise exit_of(proc) from None
        raise
    # Woken for a message, then killed before it ran: it must not go on.
    if not proc.alive:
        raise exit_of(proc)
    proc.reductions += 1
    if _instrument.enabled:
        _instrument.emit("receive", proc.pid, msg=_instrument.shown(msg))
    return msg


def receive(match: Match | None = None, timeout: float | None = None) -> object:
    """Take the next message from the caller's mailbox, waiting if there is none.

    Args:
        match: If given, take the first message for which ``match(msg)`` is
            true; the others stay queued, in order (selective receive).
        timeout: Seconds to wait; ``None`` waits forever, ``0`` only polls.

    Raises:
        TimeoutError: Nothing (matching) arrived in time.
    """
    return receive_in(current_process(), match, timeout)


def _check_timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0 or None; got {timeout!r}")
