"""Supervised TCP listeners: an acceptor pool whose connections are processes.

In the spirit of Erlang's ranch: ``start_listener(Handler, arg)`` binds a
listening socket and starts a supervision tree; every accepted connection
becomes a ``Handler`` process (any GenServer subclass) started under a
``gs.DynamicSupervisor``, and owns its socket, wrapped in a ``Conn``::

    listener (Supervisor, rest_for_one)
      "ports"          DynamicSupervisor: one port process per socket
      "connections"    DynamicSupervisor: one handler process per connection
      "listen_socket"  GenServer owning the listening socket
      "acceptors"      Supervisor of ``acceptors`` processes blocked in accept()

The handler's ``init`` receives ``(conn, arg)``. A connection is either
*passive* (the handler reads with ``conn.recv()``, which blocks only the
handler, cooperatively) or *active* (bytes arrive in the handler's mailbox as
``Data(conn, data)`` messages, the end as ``Closed(conn, reason)``), with
Erlang's flow control: ``conn.set_active("once")`` delivers one message and
turns passive again, ``conn.set_active(n)`` delivers *n* and then sends
``Passive(conn)``, so a fast client cannot flood a slow process's mailbox.

Who closes a socket. As with an Erlang port, every socket belongs to a small
*port process*, linked to the handler (its owner). When the handler exits,
for any reason, the port closes the socket; when the port is shut down, the
link takes the handler with it. Ports live under the listener's ``"ports"``
supervisor, so stopping the tree stops them too and leaves no process and no
file descriptor behind. In active mode nothing extra runs per connection: an
I/O watcher on the socket reads in the hub and posts ``Data`` straight to the
owner's mailbox while the owner allows it.

This module owns the listener: its supervision tree (the listening socket's
process, the acceptors, the hand-off of each accepted socket to a port and a
handler), ``Listener``, ``start_listener`` and ``child_spec``. ``Conn``, the
port process and the ``Data``/``Closed``/``Passive`` messages live in
``greenserver._net_conn``; import them from here.

Example::

    class Echo(gs.GenServer[net.Conn]):
        def init(self, arg):
            conn, _ = arg
            conn.set_active("once")
            return gs.Ok(conn)

        def handle_info(self, msg, conn):
            match msg:
                case net.Data(_, data):
                    conn.send(data)
                    conn.set_active("once")
                case net.Closed():
                    return gs.Stop("normal", conn)
            return gs.NoReply(conn)

    listener = net.start_listener(Echo, None, port=0)
    ...
    listener.stop()
"""

from __future__ import annotations

import errno
import socket as _stdlib_socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import gevent
from gevent import socket as gsocket
from gevent.lock import Semaphore

from . import _reports
from ._child_spec import ChildSpec, check_shutdown
from ._dynamic_supervisor import DynamicSupervisor
from ._errors import Exit, StartError
from ._gen_server import GenServer
from ._links import demonitor, monitor, trap_exits
from ._messages import receive
from ._net_conn import _READ, Active, Closed, Conn, Data, Passive, _spawn_port, _valid_active
from ._pid import Pid, Ref
from ._process import Down, ExitSignal, alive, spawn_link
from ._process import self as _self_pid
from ._results import Ok, Reply
from ._scheduler import hub
from ._supervisor import Supervisor

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Active",
    "Closed",
    "Conn",
    "Data",
    "Listener",
    "ListenerStatistics",
    "Passive",
    "child_spec",
    "start_listener",
]


# --- the listener's tree -----------------------------------------------------------------


@final
class _State:
    """What every process of one listener shares (ranch keeps this in an ETS table)."""

    __slots__ = (
        "accepted",
        "acceptors",
        "active",
        "backlog",
        "closed",
        "conns_sup",
        "handler",
        "handler_arg",
        "host",
        "lsock",
        "nodelay",
        "port",
        "ports_sup",
        "shutdown",
        "slots",
        "suspended",
    )

    def __init__(
        self,
        handler: type[GenServer[Any]],
        handler_arg: object,
        host: str,
        port: int,
        acceptors: int,
        max_connections: int | None,
        active: Active,
        backlog: int,
        nodelay: bool,
        shutdown: float | str | None,
    ) -> None:
        self.handler = handler
        self.handler_arg = handler_arg
        self.host = host
        self.port = port
        self.acceptors = acceptors
        self.slots = Semaphore(max_connections) if max_connections is not None else None
        self.active = active
        self.backlog = backlog
        self.nodelay = nodelay
        self.shutdown = shutdown
        self.lsock: gsocket.socket | None = None
        self.ports_sup: Pid | None = None
        self.conns_sup: Pid | None = None
        self.suspended = False
        self.accepted = 0
        self.closed = 0


def _bind(state: _State) -> gsocket.socket:
    """Open the listening socket; a restart or ``resume`` reuses the port."""
    family = _stdlib_socket.AF_INET6 if ":" in state.host else _stdlib_socket.AF_INET
    sock = gsocket.socket(family, _stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
        sock.bind((state.host, state.port))
        sock.listen(state.backlog)
        sock.settimeout(0.0)  # acceptors wait on watchers of their own
    except BaseException:
        sock.close()
        raise
    state.port = sock.getsockname()[1]
    return sock


def _close_lsock(state: _State) -> None:
    lsock = state.lsock
    state.lsock = None
    if lsock is not None:
        lsock.close()


class _ListenSocket(GenServer[_State]):
    """Owns the listening socket: closes it on exit, on ``suspend``; reopens on ``resume``."""

    def init(self, state: _State) -> Ok[_State]:
        trap_exits(True)  # so that terminate runs, and closes the socket
        if state.lsock is None and not state.suspended:
            state.lsock = _bind(state)
        return Ok(state)

    def handle_call(self, request: Any, from_: Ref, state: _State) -> Reply[_State]:
        if request == "state":
            return Reply(state, state)
        if request == "close":
            state.suspended = True
            _close_lsock(state)
            return Reply(None, state)
        if request == "open":
            state.suspended = False
            if state.lsock is None:
                try:
                    state.lsock = _bind(state)
                except OSError as exc:
                    return Reply(exc, state)
            return Reply(None, state)
        return super().handle_call(request, from_, state)  # type: ignore[return-value]

    def terminate(self, reason: object, state: _State) -> None:
        _close_lsock(state)


def _acceptor_main(state: _State) -> None:
    """Accept connections forever, starting a port and a handler for each."""
    lsock = state.lsock
    if lsock is None:  # suspended: idle until resumed (restarted) or stopped
        receive(lambda m: False)
        return
    # gevent lets one greenlet at a time wait on a socket object, so each
    # acceptor waits on a watcher of its own, then tries a non-blocking accept
    # (the listening socket has timeout 0): one of them wins, the others wait on.
    readable = hub().loop.io(lsock.fileno(), _READ)
    try:
        _accept_loop(state, lsock, readable)
    finally:
        readable.close()


def _accept_loop(state: _State, lsock: gsocket.socket, readable: Any) -> None:
    me = _self_pid()
    slots = state.slots
    wait = hub().wait
    while True:
        if slots is not None:
            slots.acquire()
        try:
            while True:
                try:
                    sock, peer = lsock.accept()
                    break
                except BlockingIOError:
                    wait(readable)
        except OSError as exc:
            if slots is not None:
                slots.release()
            if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                continue
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # As ranch does: out of descriptors is not a reason to crash the
                # pool (and lose the listener); wait a little and try again.
                _reports.warning("net.accept_error", pid=me, reason=_reports.short(exc))
                gevent.sleep(0.1)
                continue
            raise
        except BaseException:
            if slots is not None:
                slots.release()
            raise
        # A stop request during the hand-off waits until it is done, so a
        # handler never starts with a socket its port already closed.
        trap_exits(True)
        try:
            _hand_off(state, sock, peer, me)
        finally:
            trap_exits(False)
        try:
            signal = receive(lambda m: type(m) is ExitSignal, timeout=0)
        except TimeoutError:
            continue
        assert isinstance(signal, ExitSignal)
        if signal.reason != "normal":
            raise Exit(signal.reason)


def _hand_off(state: _State, sock: gsocket.socket, peer: Any, acceptor: Pid) -> None:
    try:
        if state.nodelay and sock.family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
            sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
        conn = Conn(sock, peer, state)
    except OSError:  # the peer is already gone
        sock.close()
        if state.slots is not None:
            state.slots.release()
        return
    conn._active = state.active
    state.accepted += 1
    try:
        ports_sup = state.ports_sup
        assert ports_sup is not None
        DynamicSupervisor.start_child(
            ports_sup,
            ChildSpec(None, (_spawn_port, (conn, acceptor)), restart="temporary", shutdown=5.0),
        )
        conns_sup = state.conns_sup
        assert conns_sup is not None
        try:
            pid = DynamicSupervisor.start_child(
                conns_sup,
                ChildSpec(
                    None,
                    (_start_handler, (state, conn)),
                    restart="temporary",
                    shutdown=state.shutdown,
                ),
            )
        except StartError:
            pid = None  # reported by the connection supervisor
    except BaseException:
        conn.close()
        raise
    if pid is None:
        conn.close()


def _start_handler(state: _State, conn: Conn) -> Pid | None:
    """Start function of a connection (runs in the connection supervisor).

    The hand-off to the new handler happens here, before the supervisor
    answers: once the handler shows up in ``which_children``, it owns its socket.
    """
    pid: Pid | None = GenServer.start_link(state.handler, (conn, state.handler_arg))
    if pid is not None:
        conn._handoff(pid)
    return pid


def _start_ports_sup(state: _State) -> Pid:
    pid = DynamicSupervisor.start_link()
    state.ports_sup = pid
    return pid


def _start_conns_sup(state: _State) -> Pid:
    pid = DynamicSupervisor.start_link()
    state.conns_sup = pid
    return pid


def _spawn_acceptor(state: _State) -> Pid:
    pid: Pid = spawn_link(_acceptor_main, state)
    return pid


def _start_acceptors(state: _State) -> Pid:
    children = [
        ChildSpec(("acceptor", i), (_spawn_acceptor, (state,))) for i in range(state.acceptors)
    ]
    pid = Supervisor.start_link(children, strategy="one_for_one", max_restarts=10, max_seconds=1.0)
    assert pid is not None
    return pid


def _start_tree(state: _State, name: str | None) -> Pid:
    if state.lsock is None and not state.suspended:
        state.lsock = _bind(state)  # here, so that a taken port fails in the caller
    children = [
        ChildSpec("ports", (_start_ports_sup, (state,)), type="supervisor"),
        ChildSpec("connections", (_start_conns_sup, (state,)), type="supervisor"),
        ChildSpec("listen_socket", (_ListenSocket.start_link, (state,))),
        ChildSpec("acceptors", (_start_acceptors, (state,)), type="supervisor"),
    ]
    try:
        pid = Supervisor.start_link(children, strategy="rest_for_one", name=name)
    except BaseException:
        _close_lsock(state)
        raise
    assert pid is not None
    return pid


# --- the public API -------------------------------------------------------------------------


@final
@dataclass(frozen=True)
class ListenerStatistics:
    """Counters of one listener since it started."""

    accepted: int
    """Connections accepted."""
    closed: int
    """Connections whose socket is closed."""
    open: int
    """Connections whose socket is open (``accepted - closed``)."""


@final
class Listener:
    """A running listener: its supervision tree, and where it listens.

    ``pid`` is the tree's top supervisor (linked to whoever started it);
    ``host`` and ``port`` say where it listens (``port`` is the one the
    system chose when started with ``port=0``).
    """

    __slots__ = ("_state", "pid")

    def __init__(self, pid: Pid, state: _State) -> None:
        self.pid = pid
        self._state = state

    def __repr__(self) -> str:
        return f"<Listener {self.pid!r} {self.host}:{self.port}>"

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._state.host

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self._state.port

    @staticmethod
    def of(pid: Pid) -> Listener:
        """Return the Listener whose top supervisor is *pid* (started from ``child_spec``).

        Raises:
            ValueError: *pid* is not a listener's supervisor.
        """
        for child_id, child, _ in Supervisor.which_children(pid):
            if child_id == "listen_socket" and type(child) is Pid:
                state = GenServer.call(child, "state")
                if type(state) is _State:
                    return Listener(pid, state)
        raise ValueError(f"{pid!r} is not a greenserver.net listener")

    def connections(self) -> list[Pid]:
        """Return the pids of the connection handlers now running."""
        sup = self._state.conns_sup
        if sup is None or not alive(sup):
            return []
        return [pid for _, pid, _ in DynamicSupervisor.which_children(sup)]

    def statistics(self) -> ListenerStatistics:
        """Return the connection counters."""
        state = self._state
        return ListenerStatistics(state.accepted, state.closed, state.accepted - state.closed)

    def suspend(self) -> None:
        """Stop accepting: stop the acceptors and close the listening socket.

        Connections already open go on. New clients are refused.
        """
        Supervisor.terminate_child(self.pid, "acceptors")
        GenServer.call(self._lsock(), "close")

    def resume(self) -> None:
        """Listen again on the same port and accept again, after ``suspend``.

        Raises:
            OSError: The port could not be bound again.
        """
        error = GenServer.call(self._lsock(), "open")
        if isinstance(error, OSError):
            raise error
        Supervisor.terminate_child(self.pid, "acceptors")
        Supervisor.restart_child(self.pid, "acceptors")

    def wait_drained(self, timeout: float | None = None) -> bool:
        """Block until every connection open now has ended; False on timeout.

        A connection has ended once its handler has exited and its socket is
        closed. New connections (unless ``suspend``-ed) are not waited for.
        """
        state = self._state
        pids: list[Pid] = []
        for sup in (state.conns_sup, state.ports_sup):
            if sup is not None and alive(sup):
                pids.extend(pid for _, pid, _ in DynamicSupervisor.which_children(sup))
        refs = {monitor(pid) for pid in pids}
        deadline = None if timeout is None else _now() + timeout
        while refs:
            left = None if deadline is None else max(0.0, deadline - _now())
            try:
                down = receive(lambda m: type(m) is Down and m.ref in refs, timeout=left)
            except TimeoutError:
                for ref in refs:
                    demonitor(ref, flush=True)
                return False
            assert isinstance(down, Down)
            refs.discard(down.ref)
        return True

    def stop(self, grace: float = 5.0) -> None:
        """Stop the listener cleanly; returns once every process and socket is gone.

        Stops accepting at once, lets open connections finish for up to
        *grace* seconds, then shuts the tree down: each remaining handler gets
        the exit signal ``"shutdown"`` (and is killed if it traps exits and
        is still running after the listener's ``shutdown`` seconds), and every
        socket is closed. Stopping a stopped listener does nothing.
        """
        if not alive(self.pid):
            return
        self.suspend()
        if grace > 0:
            self.wait_drained(grace)
        Supervisor.stop(self.pid)

    def _lsock(self) -> Pid:
        for child_id, child, _ in Supervisor.which_children(self.pid):
            if child_id == "listen_socket" and type(child) is Pid:
                return child
        raise RuntimeError(f"{self!r} has no listening socket process")


def _now() -> float:
    return time.monotonic()


def _make_state(
    handler: type[GenServer[Any]],
    arg: object,
    host: str,
    port: int,
    acceptors: int,
    max_connections: int | None,
    active: Active,
    backlog: int,
    nodelay: bool,
    shutdown: float | str | None,
) -> _State:
    if not (isinstance(handler, type) and issubclass(handler, GenServer)):
        raise TypeError(f"handler must be a GenServer subclass; got {handler!r}")
    if type(host) is not str or not host:
        raise TypeError(f"host must be a non-empty str; got {host!r}")
    if type(port) is not int or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535; got {port!r}")
    if type(acceptors) is not int or acceptors < 1:
        raise ValueError(f"acceptors must be an int >= 1; got {acceptors!r}")
    if max_connections is not None and (type(max_connections) is not int or max_connections < 1):
        raise ValueError(f"max_connections must be an int >= 1 or None; got {max_connections!r}")
    if not _valid_active(active):
        raise ValueError(f"active must be True, False, 'once' or an int; got {active!r}")
    if type(backlog) is not int or backlog < 1:
        raise ValueError(f"backlog must be an int >= 1; got {backlog!r}")
    check_shutdown(shutdown, "shutdown")
    return _State(
        handler, arg, host, port, acceptors, max_connections, active, backlog, nodelay, shutdown
    )


def start_listener(
    handler: type[GenServer[Any]],
    arg: object = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    acceptors: int = 4,
    max_connections: int | None = None,
    active: Active = False,
    backlog: int = 1024,
    nodelay: bool = True,
    shutdown: float | str | None = 5.0,
    name: str | None = None,
) -> Listener:
    """Listen on *host*:*port* and serve each connection with a *handler* process.

    Binds before returning, then starts the listener's supervision tree,
    linked to the caller. For each accepted connection, *handler* (a
    GenServer subclass) is started with ``start_link((conn, arg))`` under the
    listener's connection supervisor, as a temporary child: a handler that
    crashes is reported and its connection closed; it is not restarted.

    Args:
        handler: The GenServer subclass that serves one connection; its
            ``init`` gets ``(conn, arg)``.
        arg: Passed to every handler's ``init``, beside the ``Conn``.
        host: Address to bind; loopback unless told otherwise.
        port: TCP port; 0 lets the system choose (see ``Listener.port``).
        acceptors: How many processes wait in ``accept()``.
        max_connections: At most this many open connections; more clients
            wait in the backlog until one closes. ``None``: no limit.
        active: Each connection's mode when handed to its handler (see
            ``Conn.set_active``); ``False`` (passive) by default.
        backlog: The listen queue's length.
        nodelay: Set ``TCP_NODELAY`` on accepted sockets.
        shutdown: The handlers' ``shutdown`` (seconds, ``"brutal_kill"`` or
            ``None``) when the listener stops.
        name: Register the top supervisor under this name.

    Raises:
        OSError: The address could not be bound (e.g. the port is taken).
        ValueError, TypeError: An option is malformed (named in the message).
    """
    state = _make_state(
        handler, arg, host, port, acceptors, max_connections, active, backlog, nodelay, shutdown
    )
    return Listener(_start_tree(state, name), state)


def child_spec(
    handler: type[GenServer[Any]],
    arg: object = None,
    *,
    id: object = None,
    host: str = "127.0.0.1",
    port: int = 0,
    acceptors: int = 4,
    max_connections: int | None = None,
    active: Active = False,
    backlog: int = 1024,
    nodelay: bool = True,
    shutdown: float | str | None = 5.0,
    name: str | None = None,
) -> ChildSpec:
    """Return a child spec that runs a listener inside your own supervision tree.

    The options are ``start_listener``'s; *id* defaults to
    ``("greenserver.net", handler)``. Get the ``Listener`` (for its port)
    with ``Listener.of(pid)`` from the child's pid. A restarted listener
    binds the same port again.
    """
    state = _make_state(
        handler, arg, host, port, acceptors, max_connections, active, backlog, nodelay, shutdown
    )
    start: Callable[..., Pid] = _start_tree
    return ChildSpec(
        ("greenserver.net", handler) if id is None else id,
        (start, (state, name), {}),
        type="supervisor",
    )
