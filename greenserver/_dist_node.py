"""This OS process as an Erlang node: connections, remote processes, signals.

A process of another node is represented here by a *stand-in*: a kernel
``Process`` with ``remote`` set (a ``RemotePid`` or ``RemoteName``) and an
``Outbox`` for a mailbox, whose ``put`` turns what the kernel hands it (a
message, a ``Call``/``Cast``/``System`` envelope, a reply) into OTP's wire
format and queues it on the connection. ``Backend`` is the kernel's
``remote_backend``: links, monitors and exit signals with stand-ins become
control messages. Incoming control messages go the other way through the
kernel's ``remote_*`` functions. When a connection is lost every stand-in of
that node dies with ``"noconnection"``, which gives exactly Erlang's
effects: linked processes get the signal, monitors fire.

Frames in and out, ticks and back pressure are ``_dist_conn.Connection``'s:
dispatch never blocks and ``put`` only encodes and queues, so kernel code
that calls either never switches greenlets.
"""

from __future__ import annotations

import importlib
import socket as _stdsocket
import struct
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Generic, NamedTuple, TypeVar, final

import gevent
from gevent import socket
from gevent.pool import Group

from . import _messages, _names, _process, _reports
from ._calls import Answer, Call, Cast, System
from ._dist_conn import Connection
from ._dist_epmd import port_please
from ._dist_handshake import UNLINK_ID, HandshakeError, accept, connect
from ._dist_terms import Atom, ImproperList, atom_wire, reason_term
from ._links import (
    demonitor_process,
    remote_exit_signal,
    remote_link_signal,
    remote_monitor_fired,
    remote_unlink,
    send_alias,
)
from ._mailbox import Mailbox
from ._pid import Pid, Ref
from ._process import Process, add_link, add_monitor, spawn_process, terminate

SETUP_TIME: Final = 7.0  # net_setuptime

# Control message operations (OTP's dist.hrl).
LINK, SEND, EXIT, UNLINK, REG_SEND, EXIT2 = 1, 2, 3, 4, 6, 8
SEND_TT, EXIT_TT, REG_SEND_TT, EXIT2_TT = 12, 13, 16, 18
MONITOR_P, DEMONITOR_P, MONITOR_P_EXIT, SEND_SENDER = 19, 20, 21, 22
PAYLOAD_EXIT, PAYLOAD_EXIT2, PAYLOAD_MONITOR_P_EXIT = 24, 26, 28
SPAWN_REQUEST, SPAWN_REPLY, ALIAS_SEND = 29, 31, 33
UNLINK_ID_OP, UNLINK_ID_ACK = 35, 36

RECENT_STANDINS: Final = 4096
K = TypeVar("K")
V = TypeVar("V")
_s_H = struct.Struct(">H")
_s_I = struct.Struct(">I")
_s_III = struct.Struct(">III")

A_EMPTY = Atom("")
A_GEN_CALL = Atom("$gen_call")
A_GEN_CAST = Atom("$gen_cast")
A_SYSTEM = Atom("system")
A_ALIAS = Atom("alias")
A_NOPROC = Atom("noproc")
A_YES = Atom("yes")


class NodeDown(NamedTuple):
    """The message ``gs.node.monitor`` delivers when the connection to *node* is lost."""

    node: str
    reason: object


@final
class RemotePid:
    """Who a stand-in stands for: a process of another node."""

    __slots__ = ("creation", "ident", "node", "serial", "wire")

    def __init__(self, node: str, ident: int, serial: int, creation: int) -> None:
        self.node = node
        self.ident = ident
        self.serial = serial
        self.creation = creation
        self.wire = b"X" + atom_wire(node) + _s_III.pack(ident, serial, creation)

    def __repr__(self) -> str:
        return f"<{self.node}.{self.ident}.{self.serial}>"


@final
class RemoteName:
    """Who a stand-in stands for: a registered name on another node."""

    __slots__ = ("name", "node")

    def __init__(self, name: str, node: str) -> None:
        self.name = name
        self.node = node

    def __repr__(self) -> str:
        return f"<{self.name!r} on {self.node}>"


@final
class RemoteRefId:
    __slots__ = ("creation", "ids", "node", "wire")

    def __init__(self, node: str, creation: int, ids: tuple[int, ...]) -> None:
        self.node = node
        self.creation = creation
        self.ids = ids
        n = len(ids)
        head = b"Z" + _s_H.pack(n) + atom_wire(node) + _s_I.pack(creation)
        self.wire = head + (_s_III.pack(*ids) if n == 3 else struct.pack(f">{n}I", *ids))

    def __repr__(self) -> str:
        return f"{self.node}.{'.'.join(map(str, self.ids))}"


class WeakTable(Generic[K, V]):
    """A dict of weakly held values whose lookups run at C speed.

    (``WeakValueDictionary`` does the same in Python, which costs a
    microsecond per lookup on the path of every remote call.) *wires* keeps
    a cached encoding per key, dropped with the value.
    """

    __slots__ = ("_gone", "data", "wires")

    def __init__(self) -> None:
        data: dict[K, weakref.KeyedRef[K, V]] = {}
        wires: dict[K, bytes] = {}
        self.data = data
        self.wires = wires

        def gone(wr: weakref.KeyedRef[K, V]) -> None:
            key = wr.key
            if data.get(key) is wr:  # not replaced since
                del data[key]
                wires.pop(key, None)

        self._gone = gone

    def get(self, key: K) -> V | None:
        wr = self.data.get(key)
        return None if wr is None else wr()

    def put(self, key: K, value: V, wire: bytes | None = None) -> None:
        self.data[key] = weakref.KeyedRef(value, self._gone, key)
        if wire is not None:
            self.wires[key] = wire

    def values(self) -> list[V]:
        return [value for wr in list(self.data.values()) if (value := wr()) is not None]


@final
class SpawnReply(NamedTuple):
    ref: Ref
    result: object


class Outbox(Mailbox):
    """The mailbox of a stand-in: whatever is put here goes to its node."""

    __slots__ = ("_local", "_standin")

    def __init__(self, local: LocalNode, standin: Process) -> None:
        super().__init__()
        self._local = local
        self._standin = standin

    def put(self, msg: object) -> None:
        self._local.forward(self._standin, msg)


def _sender() -> Process | None:
    proc: Process | None = getattr(gevent.getcurrent(), "gs_process", None)
    return proc


def _from_term(reason: object) -> object:
    """An exit reason from the wire: atoms become the plain strings the kernel tests."""
    if type(reason) is Atom:
        return str(reason)
    if type(reason) is tuple and reason and type(reason[0]) is Atom:
        return (str(reason[0]), *reason[1:])
    return reason


def _system_term(request: object) -> object:
    if type(request) is tuple and request and type(request[0]) is str:
        if len(request) == 1:
            return Atom(request[0])
        if request[0] == "terminate":
            return (Atom("terminate"), reason_term(request[1]))
        return (Atom(request[0]), *request[1:])
    return request


def _system_request(term: object) -> object:
    if type(term) is Atom:
        return (str(term),)
    if type(term) is tuple and term and type(term[0]) is Atom:
        rest = term[1:]
        if term[0] == "terminate" and rest:
            return ("terminate", _from_term(rest[0]))
        return (str(term[0]), *rest)
    return term


class LocalNode:
    """This node: its name, listener, epmd registration, connections and tables."""

    def __init__(self, name: str, cookie: str, creation: int, ticktime: float) -> None:
        self.name = name
        self.cookie = cookie
        self.creation = creation
        self.ticktime = ticktime
        self.hidden = False
        self.conns: dict[str, Connection] = {}
        self.group = Group()
        self.listener: socket.socket | None = None
        self.epmd_sock: socket.socket | None = None
        self.port = 0
        # Pids we sent out, found again when they come back.
        self.exported_pids: WeakTable[int, Pid] = WeakTable()
        # Every pid and ref we encoded or decoded, by its encoding (tag excluded):
        # the decoder finds them there without decoding them.
        self.wire_pids: WeakTable[bytes, Pid] = WeakTable()
        self.wire_refs: WeakTable[bytes, Ref] = WeakTable()
        self._node_wire = atom_wire(name)
        self._ref_head = b"Z\x00\x03" + self._node_wire + _s_I.pack(creation)
        # One stand-in per remote pid, name and ref, so equal ones are the same object.
        self.standins: dict[str, WeakTable[tuple[int, int, int], Pid]] = {}
        # The stand-ins made last, held: a remote caller's stand-in would
        # otherwise die after each call and be made anew for the next one.
        self.recent_standins: deque[Pid] = deque(maxlen=RECENT_STANDINS)
        self.names: dict[tuple[str, str], Process] = {}
        self.node_monitors: dict[str, list[Process]] = {}
        self.simultaneous_connects = 0  # how often _admit met one (for tests)

    def spawn(self, fn: Callable[[], None]) -> gevent.Greenlet[..., Any]:
        """Start a greenlet of this node's (killed by ``close``)."""
        return self.group.spawn(fn)

    # --- the codec's tables (the Nodes protocol of _dist_terms) ---

    def pid_wire(self, pid: Pid) -> bytes:
        remote = pid._proc.remote
        if remote is None:
            number = pid._number
            wire = self.exported_pids.wires.get(number)
            if wire is None:
                wire = b"X" + self._node_wire
                wire += _s_III.pack(number & 0x7FFF, number >> 15, self.creation)
                self.exported_pids.put(number, pid, wire)
                self.wire_pids.put(wire[1:], pid)
            return wire
        if type(remote) is RemotePid:
            return remote.wire
        raise TypeError(f"{pid!r} stands for a registered name, not a pid: send its name instead")

    def pid_from_wire(self, node: str, ident: int, serial: int, creation: int) -> Pid:
        if node == self.name:
            found = self.exported_pids.get(ident | serial << 15)
            if found is not None and creation == self.creation:
                return found
            return _dead_pid()  # a process of ours that is gone, or of an older incarnation
        table = self.standins.get(node)
        if table is None:
            table = self.standins[node] = WeakTable()
        key = (ident, serial, creation)
        pid = table.get(key)
        if pid is None:
            remote = RemotePid(node, ident, serial, creation)
            pid = self._standin(remote).pid
            table.put(key, pid)
            self.wire_pids.put(remote.wire[1:], pid)
            self.recent_standins.append(pid)
        return pid

    def ref_wire(self, ref: Ref) -> bytes:
        remote = ref._remote
        if type(remote) is RemoteRefId:
            return remote.wire
        n = ref._number
        wire = self._ref_head + _s_III.pack(n & 0x3FFFF, (n >> 18) & 0xFFFFFFFF, n >> 50)
        key = wire[1:]
        if key not in self.wire_refs.data:  # found again by its bytes when it comes back
            self.wire_refs.put(key, ref)
        return wire

    def ref_from_wire(self, node: str, creation: int, ids: tuple[int, ...]) -> Ref:
        # Only reached when the decoder's lookup by bytes missed: a ref new to
        # us, or one of ours that is gone (which no longer matches anything).
        remote = RemoteRefId(node, creation, ids)
        key = remote.wire[1:]
        ref = self.wire_refs.get(key)
        if ref is None:
            ref = Ref()
            ref._remote = remote
            self.wire_refs.put(key, ref)
        return ref

    def _standin(self, remote: RemotePid | RemoteName) -> Process:
        proc = Process(current=remote)
        proc.remote = remote
        proc.mailbox = Outbox(self, proc)
        return proc

    def name_standin(self, name: str, node: str) -> Process:
        proc = self.names.get((name, node))
        if proc is None or not proc.alive:
            proc = self.names[(name, node)] = self._standin(RemoteName(name, node))
        return proc

    # --- connections ---

    def connection(self, peer: str) -> Connection:
        """Return the connection to *peer*, starting one if there is none."""
        conn = self.conns.get(peer)
        if conn is None:
            conn = self.conns[peer] = Connection(self, self, peer)
            conn.attempt = self.group.spawn(self._connect_out, conn)
        return conn

    def connect(self, peer: str, timeout: float = SETUP_TIME + 1.0) -> bool:
        if peer == self.name:
            return True
        conn = self.connection(peer)
        conn.ready.wait(timeout)
        return conn.up

    def _connect_out(self, conn: Connection) -> None:
        peer = conn.peer
        alive, _, host = peer.partition("@")
        sock: socket.socket | None = None
        try:
            with gevent.Timeout(SETUP_TIME, HandshakeError(f"no handshake with {peer} in time")):
                address = _address_of(host)
                port = port_please(alive) if address == "127.0.0.1" else None
                if port is None:
                    raise HandshakeError(f"epmd knows no node {peer!r}")
                sock = socket.create_connection((address, port))
                result = connect(sock, self.name, self.creation, self.cookie, peer)
        except (OSError, HandshakeError, ValueError) as exc:
            if sock is not None:
                sock.close()
            if "answered 'nok'" in str(exc):
                # A simultaneous connect that the peer wins: its own attempt
                # will attach to this connection (see _admit).
                conn.attempt = None
                return
            _reports.debug("node.connect_failed", peer=peer, error=str(exc))
            conn.close("noconnection")
            return
        conn.attempt = None
        if conn.closed:
            sock.close()
            return
        conn.attach(sock, result)

    def _admit(self, name: str) -> str:
        conn = self.conns.get(name)
        if conn is None or conn.closed:
            return "ok"
        if conn.up:
            return "alive"
        # Both sides connect at once: the greater name keeps its own attempt.
        self.simultaneous_connects += 1
        return "nok" if self.name > name else "ok_simultaneous"

    def serve(self, listener: socket.socket) -> None:
        while True:
            sock, _ = listener.accept()
            self.group.spawn(self._accept_one, sock)

    def _accept_one(self, sock: socket.socket) -> None:
        try:
            with gevent.Timeout(SETUP_TIME, HandshakeError("handshake timed out")):
                peer = accept(sock, self.name, self.creation, self.cookie, self._admit)
        except (OSError, HandshakeError, ValueError, struct.error) as exc:
            _reports.warning("node.handshake_refused", error=_reports.short(str(exc)))
            sock.close()
            return
        conn = self.conns.get(peer.name)
        if conn is not None and conn.up:
            conn.close("noconnection")  # it restarted: the old connection is dead
            conn = None
        if conn is None or conn.closed:
            conn = self.conns[peer.name] = Connection(self, self, peer.name)
        elif conn.attempt is not None:  # ok_simultaneous: give up our own attempt
            conn.attempt.kill(block=False)
            conn.attempt = None
        conn.attach(sock, peer)

    def connection_lost(self, conn: Connection, reason: str) -> None:
        peer = conn.peer
        if self.conns.get(peer) is conn:
            del self.conns[peer]
        table = self.standins.pop(peer, None)
        dying = [pid._proc for pid in table.values()] if table is not None else []
        if dying:
            # Their pids stay dead; the same pid decoded after a reconnect
            # gets a new, live stand-in.
            for proc in dying:
                self.wire_pids.data.pop(proc.remote.wire[1:], None)  # type: ignore[attr-defined]
            recent = self.recent_standins
            self.recent_standins = deque((p for p in recent if p.node != peer), recent.maxlen)
        for key in [k for k in self.names if k[1] == peer]:
            dying.append(self.names.pop(key))
        for proc in dying:
            terminate(proc, "noconnection")
        for watcher in self.node_monitors.pop(peer, ()):
            if watcher.alive:
                watcher.mailbox.put(NodeDown(peer, reason))

    def close(self) -> None:
        for conn in list(self.conns.values()):
            conn.close("shutdown")
        if self.listener is not None:
            self.listener.close()
        if self.epmd_sock is not None:
            self.epmd_sock.close()
        self.group.kill(block=False)

    # --- what the kernel hands a stand-in ---

    def forward(self, standin: Process, msg: object) -> None:
        """Send *msg*, put in the mailbox of *standin*, to its node."""
        remote = standin.remote
        assert isinstance(remote, (RemotePid, RemoteName))
        kind = type(msg)
        sender = _sender()
        if kind is Call or kind is System:
            assert isinstance(msg, (Call, System))
            ref = msg.from_
            owner = ref.owner()
            assert owner is not None
            sender = owner
            tag = ImproperList([A_ALIAS], ref)
            if kind is Call:
                term: object = (A_GEN_CALL, (owner.pid, tag), msg.request)
            else:
                term = (A_SYSTEM, (owner.pid, tag), _system_term(msg.request))
            try:
                self._send_to(standin, remote, term, sender)
            except TypeError:
                demonitor_process(owner, ref)
                raise
            return
        if kind is Cast:
            assert isinstance(msg, Cast)
            term = (A_GEN_CAST, msg.request)
        elif kind is Answer:  # the reply to a call that came from there
            assert isinstance(msg, Answer)
            self._send_to(standin, remote, (msg.ref._remote, msg.value), sender, now=True)
            return
        else:
            term = msg
        self._send_to(standin, remote, term, sender)

    def _send_to(
        self,
        standin: Process,
        remote: object,
        term: object,
        sender: Process | None,
        *,
        now: bool = False,
    ) -> None:
        if type(remote) is RemoteName:
            from_pid = sender.pid if sender is not None else _net_pid()
            ctrl: tuple[object, ...] = (REG_SEND, from_pid, A_EMPTY, Atom(remote.name))
        else:
            ctrl = (SEND, A_EMPTY, standin.pid)
        self.connection(remote.node).send(ctrl, term, with_msg=True, now=now)  # type: ignore[attr-defined]

    # --- what other nodes tell us ---

    def dispatch(self, conn: Connection, ctrl: tuple[Any, ...], msg: object, has_msg: bool) -> None:
        op = ctrl[0]
        handler = _HANDLERS.get(op)
        if handler is None:
            _reports.debug("node.ignored_control", peer=conn.peer, op=op)
            return
        handler(self, conn, ctrl, msg)

    def _local(self, pid: object) -> Process | None:
        if type(pid) is not Pid:
            raise TypeError(f"expected a pid; got {pid!r}")
        proc = pid._proc
        return proc if proc.remote is None and proc.alive else None

    def _standin_of(self, pid: object) -> Process:
        if type(pid) is not Pid or pid._proc.remote is None:
            raise TypeError(f"expected a pid of another node; got {pid!r}")
        return pid._proc

    def deliver(self, proc: Process | None, msg: object) -> None:
        """Hand an incoming message to *proc*, as the envelope our loops expect."""
        if type(msg) is tuple and msg:
            head = msg[0]
            if type(head) is Atom and len(msg) == 3 and head in ("$gen_call", "system"):
                msg = self._request(msg)
            elif type(head) is Atom and len(msg) == 2 and head == "$gen_cast":
                msg = Cast(msg[1])
            elif len(msg) == 2 and type(head) is ImproperList:
                ref = head.tail
                if type(ref) is Ref and ref.owner() is not None:
                    send_alias(ref, Answer(ref, msg[1]))
                    return
        if proc is not None:
            _messages.send(proc.pid, msg)

    def _request(self, msg: tuple[Any, ...]) -> object:
        frm = msg[1]
        if type(frm) is not tuple or len(frm) != 2:
            raise TypeError(f"bad call envelope {msg!r}")
        caller = self._standin_of(frm[0])
        ref = Ref(caller, alias=True)
        ref._remote = frm[1]  # the tag the reply must carry
        if msg[0] == "$gen_call":
            return Call(ref, msg[2])
        return System(ref, _system_request(msg[2]))

    def is_auth(self, msg: object) -> None:
        """``net_kernel``'s ``{is_auth, Node}`` call: say yes, as net_adm:ping needs."""
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "$gen_call":
            frm = msg[1]
            if type(frm) is tuple and len(frm) == 2:
                caller = self._standin_of(frm[0])
                self.forward(caller, Answer(_tagged(frm[1]), A_YES))


def _tagged(tag: object) -> Ref:
    ref = Ref()
    ref._remote = tag
    return ref


def _dead_pid() -> Pid:
    proc = Process(current=None)
    proc.alive = False
    proc.reason = "noproc"
    return proc.pid


_net_process: Process | None = None


def _net_pid() -> Pid:
    """The pid messages sent from outside any process carry as their sender."""
    global _net_process
    if _net_process is None:
        _net_process = Process(current="net_kernel")
    return _net_process.pid


def _address_of(host: str) -> str:
    if host in ("localhost", _stdsocket.gethostname(), _stdsocket.gethostname().split(".")[0]):
        return "127.0.0.1"
    return str(_stdsocket.gethostbyname(host))


# --- incoming control messages ----------------------------------------------


def _on_send(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    local.deliver(local._local(ctrl[2]), msg)


def _on_reg_send(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    name = ctrl[3]
    if name == "net_kernel":
        local.is_auth(msg)
        return
    proc = _names.resolve(str(name)) if type(name) is Atom else None
    if proc is not None and proc.alive:
        local.deliver(proc, msg)


def _on_alias_send(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    alias = ctrl[2]
    if type(alias) is Ref and alias.owner() is not None:
        if type(msg) is tuple and len(msg) == 2 and type(msg[0]) is ImproperList:
            msg = Answer(alias, msg[1])
        send_alias(alias, msg)


def _on_link(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    remote = local._standin_of(ctrl[1])
    target = local._local(ctrl[2])
    if target is None:
        conn.send((EXIT, ctrl[2], ctrl[1], A_NOPROC))
    else:
        add_link(remote, target)


def _on_unlink_id(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    remote = local._standin_of(ctrl[2])
    target = local._local(ctrl[3])
    if target is not None:
        remote_unlink(target, remote)
    conn.send((UNLINK_ID_ACK, ctrl[1], ctrl[3], ctrl[2]))


def _on_unlink(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    target = local._local(ctrl[2])
    if target is not None:
        remote_unlink(target, local._standin_of(ctrl[1]))


def _on_exit(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    reason = msg if ctrl[0] == PAYLOAD_EXIT else ctrl[3]
    target = local._local(ctrl[2])
    if target is not None:
        remote_link_signal(target, local._standin_of(ctrl[1]), _from_term(reason))


def _on_exit2(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    reason = msg if ctrl[0] == PAYLOAD_EXIT2 else ctrl[3]
    target = local._local(ctrl[2])
    if target is not None:
        remote_exit_signal(target, local._standin_of(ctrl[1]), _from_term(reason))


def _on_monitor(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    _op, watcher_pid, dest, ref = ctrl
    if dest == "net_kernel" and type(dest) is Atom:
        return  # answered by this node itself, and never down while it runs
    watcher = local._standin_of(watcher_pid)
    target = _names.resolve(str(dest)) if type(dest) is Atom else local._local(dest)
    if target is None or not target.alive or target.remote is not None:
        conn.send((MONITOR_P_EXIT, dest, watcher_pid, ref, A_NOPROC))
        return
    add_monitor(watcher, target, ref=ref)


def _on_demonitor(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    if type(ctrl[1]) is Pid and ctrl[1]._proc.remote is not None:
        demonitor_process(ctrl[1]._proc, ctrl[3])


def _on_monitor_exit(
    local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object
) -> None:
    reason = msg if ctrl[0] == PAYLOAD_MONITOR_P_EXIT else ctrl[4]
    watcher = local._local(ctrl[2])
    ref = ctrl[3]
    if watcher is None or type(ref) is not Ref:
        return
    what = ctrl[1]
    target = (str(what), conn.peer) if type(what) is Atom else what
    remote_monitor_fired(watcher, ref, target, _from_term(reason))


def _on_spawn_request(
    local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], args: object
) -> None:
    _op, req_id, from_pid, _group_leader, mfa, options = ctrl[:6]
    caller = local._standin_of(from_pid)
    module, function, _arity = mfa
    reply, link, monitor = "yes", False, False
    for option in options if type(options) is list else ():
        if option == "link":
            link = True
        elif option == "monitor":
            monitor = True
        elif type(option) is tuple and len(option) == 2 and option[0] == "reply":
            reply = str(option[1])
    fn = _importable(str(module), str(function))
    call_args = tuple(args) if type(args) is list else ()
    proc, _ = spawn_process(fn, call_args, {}, current=f"{module}:{function}")
    flags = 0
    if link:
        add_link(caller, proc)
        flags |= 1
    if monitor:
        add_monitor(caller, proc, ref=req_id)
        flags |= 2
    if reply in ("yes", "success_only"):
        conn.send((SPAWN_REPLY, req_id, from_pid, flags, proc.pid))


def _importable(module: str, function: str) -> Callable[..., object]:
    def run(*args: object) -> object:
        fn = getattr(importlib.import_module(module), function)
        return fn(*args)

    run.__qualname__ = f"{module}:{function}"
    return run


def _on_spawn_reply(local: LocalNode, conn: Connection, ctrl: tuple[Any, ...], msg: object) -> None:
    _op, ref, to, flags, result = ctrl
    target = local._local(to)
    if target is None or type(ref) is not Ref:
        return
    if type(result) is Pid and flags & 1:
        add_link(result._proc, target)  # made by the other side already
    target.mailbox.put(SpawnReply(ref, result))


_Handler = Callable[[LocalNode, Connection, tuple[Any, ...], object], None]
_HANDLERS: dict[int, _Handler] = {
    SEND: _on_send,
    SEND_SENDER: _on_send,
    REG_SEND: _on_reg_send,
    ALIAS_SEND: _on_alias_send,
    LINK: _on_link,
    UNLINK: _on_unlink,
    UNLINK_ID_OP: _on_unlink_id,
    UNLINK_ID_ACK: lambda *_: None,
    EXIT: _on_exit,
    PAYLOAD_EXIT: _on_exit,
    EXIT2: _on_exit2,
    PAYLOAD_EXIT2: _on_exit2,
    MONITOR_P: _on_monitor,
    DEMONITOR_P: _on_demonitor,
    MONITOR_P_EXIT: _on_monitor_exit,
    PAYLOAD_MONITOR_P_EXIT: _on_monitor_exit,
    SPAWN_REQUEST: _on_spawn_request,
    SPAWN_REPLY: _on_spawn_reply,
}


# --- the kernel's hook --------------------------------------------------------


class Backend(_process.RemoteBackend):
    """Links, monitors and exit signals with stand-ins, as control messages."""

    def __init__(self, local: LocalNode) -> None:
        self.local = local

    def _conn(self, remote: Process) -> Connection:
        return self.local.connection(remote.remote.node)  # type: ignore[attr-defined]

    @staticmethod
    def _dest(remote: Process) -> object:
        who = remote.remote
        return Atom(who.name) if type(who) is RemoteName else remote.pid

    def resolve(self, dest: tuple[object, object]) -> Process | None:
        name, node = dest
        if not isinstance(name, str) or not isinstance(node, str) or "@" not in node:
            raise TypeError(f"a remote name is (name: str, node: 'name@host'); got {dest!r}")
        local = self.local
        if node == local.name:
            return _names.resolve(str(name))
        proc = local.name_standin(str(name), node)
        if not local.connect(node):
            terminate(proc, "noconnection")
        return proc

    def link(self, local: Process, remote: Process) -> None:
        self._conn(remote).send((LINK, local.pid, remote.pid))

    def unlink(self, local: Process, remote: Process) -> None:
        conn = self._conn(remote)
        if conn.flags & UNLINK_ID:
            conn.send((UNLINK_ID_OP, next(conn.unlink_ids), local.pid, remote.pid))
        else:
            conn.send((UNLINK, local.pid, remote.pid))

    def link_exit(self, local: Process, remote: Process, reason: object) -> None:
        self._conn(remote).send((EXIT, local.pid, remote.pid, reason_term(reason)))

    def monitor(self, watcher: Process, remote: Process, ref: Ref) -> None:
        self._conn(remote).send((MONITOR_P, watcher.pid, self._dest(remote), ref))

    def demonitor(self, watcher: Process, remote: Process, ref: Ref) -> None:
        if remote.alive:
            self._conn(remote).send((DEMONITOR_P, watcher.pid, self._dest(remote), ref))

    def down(self, watcher: Process, ref: Ref, target: Process, reason: object) -> None:
        conn = self._conn(watcher)
        conn.send((MONITOR_P_EXIT, target.pid, watcher.pid, ref, reason_term(reason)))

    def exit(self, sender: Process, remote: Process, reason: object) -> None:
        self._conn(remote).send((EXIT2, sender.pid, remote.pid, reason_term(reason)))
