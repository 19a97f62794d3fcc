"""Connections of greenserver.net: ``Conn``, its port process, its messages.

Owns what one accepted socket is once the listener has handed it over:

* ``Conn``: the socket wrapper a handler gets; ``send``/``send_nowait`` from
  any process, ``recv`` while passive, ``set_active`` (Erlang's
  ``{active, ...}`` with its flow control), ``close`` and
  ``controlling_process``. In active mode an I/O watcher reads in the hub and
  posts straight to the owner's mailbox; nothing else runs per connection.
* The messages active mode sends the owner: ``Data``, ``Closed``, ``Passive``.
* The port process (``_port_main``): linked to the owner, it closes the
  socket when the owner exits, as an Erlang port does; ``_spawn_port`` is its
  start function under the listener's ``"ports"`` supervisor.

It knows nothing of listeners, acceptors or supervision trees (those are
``greenserver.net``'s), except that a connection accepted by one updates the
listener's shared counters when it closes (``_State.closed`` and the
``max_connections`` slots). Users import all of this from ``greenserver.net``.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, final

from ._errors import Exit
from ._links import demonitor, link, monitor, trap_exits, unlink
from ._messages import receive, send
from ._pid import Pid, Ref
from ._process import Down, ExitSignal, spawn_link
from ._process import self as _self_pid
from ._scheduler import hub, is_foreign_thread

if TYPE_CHECKING:
    from gevent import socket as gsocket

    from .net import _State

__all__ = ["Active", "Closed", "Conn", "Data", "Passive"]

Active: TypeAlias = bool | Literal["once"] | int
"""What ``Conn.set_active`` takes: ``False``, ``True``, ``"once"`` or a count."""

_READ: Final = 1  # libev's EV_READ
_RECV_SIZE: Final = 65536
_ACTIVE_MAX: Final = 32767  # as Erlang's {active, N}


def _valid_active(mode: object) -> bool:
    if mode is True or mode is False or mode == "once":
        return True
    return type(mode) is int and -_ACTIVE_MAX - 1 <= mode <= _ACTIVE_MAX


# --- messages ------------------------------------------------------------------


class Data(NamedTuple):
    """Bytes read from an active connection, sent to its owner."""

    conn: Conn
    data: bytes


class Closed(NamedTuple):
    """The peer closed an active connection (``reason="closed"``) or it failed.

    On failure ``reason`` is the ``OSError``. Nothing more is delivered after
    it; the socket itself stays open until ``conn.close()`` or the owner exits.
    """

    conn: Conn
    reason: object = "closed"


class Passive(NamedTuple):
    """An ``active=n`` budget ran out: the connection is passive now."""

    conn: Conn


# --- the connection ----------------------------------------------------------------


@final
class _SetOwner:
    __slots__ = ("pid",)

    def __init__(self, pid: Pid) -> None:
        self.pid = pid


@final
class _Close:
    __slots__ = ()


_CLOSE: Final = _Close()


@final
class Conn:
    """One accepted TCP connection, owned by a process.

    The owner is the handler process the listener started for it (or whoever
    ``controlling_process`` handed it to). ``send`` may be called from any
    process; ``recv`` only while the connection is passive. The socket is
    closed by ``close()``, or at the latest when the owner exits.
    """

    __slots__ = (
        "_active",
        "_closed",
        "_fd",
        "_owner",
        "_port",
        "_sock",
        "_state",
        "_watcher",
        "peer",
        "sockname",
    )

    def __init__(self, sock: gsocket.socket, peer: Any, state: _State | None = None) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._state = state
        self._owner: Pid | None = None
        self._port: Pid | None = None
        self._closed = False
        self._active: Active = False
        self._watcher: Any = None
        #: The peer's address, ``(host, port)`` for IPv4.
        self.peer: Any = peer
        #: This end's address.
        self.sockname: Any = sock.getsockname()

    def __repr__(self) -> str:
        peer = self.peer
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else peer
        return f"<Conn {where}{' closed' if self._closed else ''}>"

    @property
    def closed(self) -> bool:
        """Whether ``close()`` ran (or the owner exited and the port closed it)."""
        return self._closed

    @property
    def owner(self) -> Pid | None:
        """The process active-mode messages go to, and whose exit closes the socket.

        The handler becomes the owner as soon as its ``init`` returns (or
        when it calls ``set_active`` in ``init``).
        """
        return self._owner

    # --- I/O ---------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of *data*, blocking the caller (only) until the kernel took it.

        Raises:
            ConnectionError: The connection is closed, or the peer reset it.
            OSError: Any other socket error.
        """
        if self._closed:
            raise ConnectionError(f"send() on {self!r}: the connection is closed")
        self._sock.sendall(data)

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Write what the socket takes at once, never blocking; return how many bytes.

        0 means the peer is not reading fast enough (the socket's buffer is
        full); the caller keeps the rest, or hands it to a process that may
        block in ``send``. Two processes must not write one connection at once.

        Raises:
            ConnectionError: The connection is closed, or the peer reset it.
            OSError: Any other socket error.
        """
        if self._closed:
            raise ConnectionError(f"send_nowait() on {self!r}: the connection is closed")
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0

    def recv(self, bufsize: int = _RECV_SIZE, timeout: float | None = None) -> bytes:
        """Read up to *bufsize* bytes, blocking the caller (only) until some arrive.

        Returns ``b""`` once the peer has closed its side.

        Raises:
            RuntimeError: The connection is active: its bytes go to the
                owner's mailbox; call ``set_active(False)`` first.
            TimeoutError: Nothing arrived within *timeout* seconds.
            ConnectionError: The connection is closed, or the peer reset it.
        """
        if self._active is not False:
            raise RuntimeError(
                f"recv() on {self!r} in active mode {self._active!r}; call set_active(False) first"
            )
        if self._closed:
            raise ConnectionError(f"recv() on {self!r}: the connection is closed")
        sock = self._sock
        if timeout is None:
            return sock.recv(bufsize)
        sock.settimeout(timeout)
        try:
            return sock.recv(bufsize)
        finally:
            sock.settimeout(None)

    def set_active(self, mode: Active) -> None:
        """Choose how incoming bytes reach the owner (Erlang's ``{active, ...}``).

        * ``False``: passive; read with ``recv()``. Messages already delivered
          stay in the mailbox; none is delivered after this returns.
        * ``True``: every chunk becomes a ``Data(conn, data)`` message (no
          flow control: a fast peer can fill the mailbox).
        * ``"once"``: one ``Data`` message, then passive again.
        * ``n`` (an int): *n* more ``Data`` messages (added to what is left of
          an earlier ``n``), then ``Passive(conn)``; a total of 0 or less turns
          passive at once and sends ``Passive(conn)``.

        Called before the listener hands the connection over (in the
        handler's ``init``), it makes the caller the owner.

        Raises:
            ValueError: *mode* is none of the above, or *n* is out of
                -32768..32767.
            ConnectionError: The connection is closed.
        """
        if not _valid_active(mode):
            raise ValueError(
                f"active mode must be True, False, 'once' or an int in -32768..32767; got {mode!r}"
            )
        if self._closed:
            raise ConnectionError(f"set_active() on {self!r}: the connection is closed")
        if is_foreign_thread():
            raise RuntimeError("set_active() must run in greenserver's thread")
        if self._owner is None:
            self._owner = _self_pid()
        if type(mode) is int:
            old = self._active
            total = mode + (old if type(old) is int else 0)
            if total <= 0:
                self._active = False
                self._unwatch()
                send(self._owner, Passive(self))
                return
            self._active = min(total, _ACTIVE_MAX)
        else:
            self._active = mode
        if self._active is False:
            self._unwatch()
        else:
            self._watch()

    def close(self) -> None:
        """Close the socket now; its port process exits. Closing twice is harmless."""
        self._close_now()
        port = self._port
        if port is not None:
            send(port, _CLOSE)

    def controlling_process(self, pid: Pid) -> None:
        """Make *pid* the owner: it gets the active-mode messages, and its exit closes.

        As ``gen_tcp:controlling_process/2``; the old owner's exit no longer
        closes the connection.
        """
        if type(pid) is not Pid:
            raise TypeError(f"controlling_process() needs a Pid; got {pid!r}")
        self._owner = pid
        if self._port is not None:
            send(self._port, _SetOwner(pid))

    # --- internals -------------------------------------------------------------------

    def _handoff(self, pid: Pid) -> None:
        """Give the connection to its handler *pid* (in the acceptor, after init)."""
        if self._owner is None:
            self._owner = pid
        if self._port is not None:
            send(self._port, _SetOwner(self._owner))
        if self._active is not False and not self._closed:
            self._watch()

    def _watch(self) -> None:
        if self._owner is None:
            return  # started by _handoff once the owner is known
        watcher = self._watcher
        if watcher is None:
            watcher = self._watcher = hub().loop.io(self._fd, _READ)
        if not watcher.active:
            watcher.start(self._readable)

    def _unwatch(self) -> None:
        watcher = self._watcher
        if watcher is not None and watcher.active:
            watcher.stop()

    def _readable(self) -> None:
        """Read what arrived and post it to the owner (runs in the hub)."""
        owner = self._owner
        if self._closed or owner is None or self._active is False:
            self._unwatch()
            return
        try:
            data = os.read(self._fd, _RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._active = False
            self._unwatch()
            send(owner, Closed(self, exc))
            return
        if not data:
            self._active = False
            self._unwatch()
            send(owner, Closed(self))
            return
        send(owner, Data(self, data))
        active = self._active
        if active is True:
            return
        if active == "once":
            self._active = False
            self._unwatch()
        elif type(active) is int:
            if active <= 1:
                self._active = False
                self._unwatch()
                send(owner, Passive(self))
            else:
                self._active = active - 1

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._active = False
        watcher = self._watcher
        if watcher is not None:
            self._watcher = None
            watcher.stop()
            watcher.close()
        with suppress(OSError):
            self._sock.close()
        state = self._state
        if state is not None:
            state.closed += 1
            if state.slots is not None:
                state.slots.release()


def _port_main(conn: Conn, parent: Pid, acceptor: Pid) -> None:
    """The process a socket belongs to: it closes the socket when its owner exits.

    Until the hand-off it watches the acceptor (which may die mid-way); from
    then on it is linked to the owner, as an Erlang port is.
    """
    trap_exits(True)
    owner: Pid | None = None
    acceptor_ref: Ref | None = monitor(acceptor)
    try:
        while True:
            msg = receive()
            kind = type(msg)
            if kind is ExitSignal:
                assert isinstance(msg, ExitSignal)
                if msg.pid == parent:
                    raise Exit(msg.reason)
                if msg.pid == owner:
                    return
            elif kind is Down:
                assert isinstance(msg, Down)
                if msg.ref is acceptor_ref:
                    return
            elif kind is _SetOwner:
                assert isinstance(msg, _SetOwner)
                if acceptor_ref is not None:
                    demonitor(acceptor_ref, flush=True)
                    acceptor_ref = None
                if owner is not None and owner != msg.pid:
                    unlink(owner)
                owner = msg.pid
                link(owner)  # a dead owner: ExitSignal(owner, "noproc") comes next
            elif kind is _Close:
                return
    finally:
        conn._close_now()


def _spawn_port(conn: Conn, acceptor: Pid) -> Pid:
    """Start function of a port (runs in the ports supervisor)."""
    pid: Pid = spawn_link(_port_main, conn, _self_pid(), acceptor)
    conn._port = pid
    return pid
