"""Nodes: this OS process as an Erlang node (``gs.node``).

A node has a name like an Erlang node's (``"py@host"``), registers with epmd
and speaks Erlang's distribution protocol, so it connects to other
greenserver nodes and to Erlang and Elixir nodes (OTP 25 and newer). Pids of
other nodes work wherever local ones do, ``(name, node)`` pairs wherever a
registered name does, and calls, casts and stops use OTP's gen_server wire
format. ``docs/nodes.md`` has the term mapping.

>>> import greenserver as gs
>>> gs.node.name() is None  # not distributed until gs.node.start()
True
"""

from __future__ import annotations

import os
import secrets
import socket as _stdsocket
import sys
from pathlib import Path
from typing import Any

import gevent
import gevent.os
import gevent.subprocess
from gevent import socket

from . import _dist_epmd, _links, _messages, _pid, _process
from ._child_spec import ChildSpec
from ._dist_node import SPAWN_REQUEST, Backend, LocalNode, NodeDown, SpawnReply
from ._dist_terms import Atom
from ._errors import NodeError, NoProcessError
from ._messages import receive_in
from ._pid import Pid, Ref
from ._process import current_process

__all__ = [
    "NodeDown",
    "Peer",
    "connect",
    "disconnect",
    "list",
    "monitor",
    "name",
    "ping",
    "spawn",
    "start",
    "stop",
]

_builtin_list = list
_node: LocalNode | None = None


def _full_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise NodeError(f"a node name is a non-empty str like 'py' or 'py@host'; got {name!r}")
    alive, at, host = name.partition("@")
    if not alive or not all(c.isalnum() or c in "_-" for c in alive) or (at and not host):
        raise NodeError(f"bad node name {name!r}: expected 'name' or 'name@host'")
    return name if at else f"{alive}@{_stdsocket.gethostname().split('.')[0]}"


def _read_cookie() -> str:
    """Read ~/.erlang.cookie, creating it (random, mode 0600) as Erlang does."""
    path = Path(os.path.expanduser("~")) / ".erlang.cookie"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as f:
            f.write("".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(20)))
    return path.read_text().strip()


def start(
    name: str,
    *,
    cookie: str | None = None,
    hidden: bool = False,
    listen: str = "127.0.0.1",
    ticktime: float = 60.0,
) -> str:
    """Make this OS process the node *name*; return its full name.

    ``"py"`` becomes ``"py@<short host name>"`` (as ``erl -sname``). The node
    registers with epmd (a running one; else the system's ``epmd -daemon``;
    else greenserver's own, started as an OS process). The distribution port
    listens on *listen* only. *cookie* ``None`` reads ``~/.erlang.cookie``
    (created when missing, as Erlang does). A peer that sends nothing for
    *ticktime* seconds is dropped; we tick every *ticktime*/4.

    Raises:
        NodeError: Already started, a bad or taken name, or no epmd.
    """
    global _node
    if _node is not None:
        raise NodeError(f"this OS process is already the node {_node.name!r}")
    full = _full_name(name)
    _check_ticktime(ticktime)
    secret = _read_cookie() if cookie is None else cookie
    listener = socket.socket()
    try:
        listener.bind((listen, 0))
        listener.listen(128)
        _dist_epmd.ensure_running()
        epmd_sock, creation = _dist_epmd.register(
            full.partition("@")[0], listener.getsockname()[1], hidden=hidden
        )
    except OSError as exc:
        listener.close()
        raise NodeError(f"cannot start node {full!r}: {exc}") from exc
    node = LocalNode(full, secret, creation, float(ticktime))
    node.hidden = hidden
    node.listener = listener
    node.epmd_sock = epmd_sock
    node.port = listener.getsockname()[1]
    node.group.spawn(node.serve, listener)
    _node = node
    _pid.this_node = full
    _process.remote_backend = Backend(node)
    return full


def stop() -> None:
    """Stop being a node: close every connection (their stand-ins die with ``noconnection``)."""
    global _node
    node = _node
    if node is None:
        return
    _node = None
    node.close()
    _process.remote_backend = _process.RemoteBackend()
    _pid.this_node = "nonode@nohost"


def _require() -> LocalNode:
    if _node is None:
        raise NodeError("this OS process is not a node: call gs.node.start() first")
    return _node


def name() -> str | None:
    """Return this node's full name, or None when it is not distributed."""
    return None if _node is None else _node.name


def list() -> _builtin_list[str]:  # Erlang's nodes()
    """Return the names of the connected (visible) nodes."""
    if _node is None:
        return []
    return [n for n, conn in _node.conns.items() if conn.up]


def connect(node: str) -> bool:
    """Connect to *node* (blocks for the handshake); return whether it is connected."""
    return _require().connect(_check_node(node))


def ping(node: str) -> str:
    """Return ``"pong"`` if *node* is reachable (connecting to it), else ``"pang"``."""
    return "pong" if _node is not None and _node.connect(_check_node(node)) else "pang"


def disconnect(node: str) -> bool:
    """Drop the connection to *node*; return whether there was one."""
    local = _require()
    conn = local.conns.get(_check_node(node))
    if conn is None or not conn.up:
        return False
    conn.close("disconnect")
    return True


def monitor(node: str, flag: bool = True) -> None:
    """Get ``NodeDown(node, reason)`` once, when the connection to *node* is lost.

    Connects first; if *node* cannot be reached the ``NodeDown`` comes at once.
    ``flag=False`` removes the caller's monitors of *node*.
    """
    local = _require()
    node = _check_node(node)
    me = current_process()
    watchers = local.node_monitors.setdefault(node, [])
    if not flag:
        local.node_monitors[node] = [w for w in watchers if w is not me]
        return
    if local.connect(node):
        watchers.append(me)
    else:
        me.mailbox.put(NodeDown(node, "noconnection"))


def _check_ticktime(ticktime: object) -> None:
    if not isinstance(ticktime, (int, float)) or isinstance(ticktime, bool) or not ticktime > 0:
        raise ValueError(f"ticktime must be a number of seconds > 0; got {ticktime!r}")


def _check_node(node: object) -> str:
    if not isinstance(node, str) or "@" not in node:
        raise NodeError(f"a node name looks like 'name@host'; got {node!r}")
    return node


def spawn(
    node: str, function: str, args: tuple[object, ...] | None = None, *, link: bool = False
) -> Pid:
    """Start ``module.function(*args)`` on *node* (OTP's spawn_request); return its pid.

    *function* is ``"module:function"`` (an Erlang module and function on a
    BEAM node; an importable Python module on a greenserver node). With
    *link* the link exists before the process runs.

    Raises:
        NoProcessError: *node* cannot be reached.
    """
    local = _require()
    module, sep, fun = function.partition(":")
    if not sep or not module or not fun:
        raise ValueError(f"function must be 'module:function'; got {function!r}")
    call_args = _builtin_list(args or ())
    me = current_process()
    if not local.connect(_check_node(node)):
        raise NoProcessError(f"cannot spawn on {node!r}: not reachable", server=node)
    ref = Ref(me)
    options = [Atom("link")] if link else []
    mfa = (Atom(module), Atom(fun), len(call_args))
    local.connection(node).send(
        (SPAWN_REQUEST, ref, me.pid, me.pid, mfa, options), call_args, with_msg=True
    )

    def is_reply(msg: object) -> bool:
        return type(msg) is SpawnReply and msg.ref is ref

    reply = receive_in(me, is_reply, 10.0)
    assert type(reply) is SpawnReply
    if type(reply.result) is not Pid:
        raise NoProcessError(f"spawn on {node!r} failed: {reply.result!r}", server=node)
    return reply.result


# --- peers -------------------------------------------------------------------


def Peer(
    name: str,
    *,
    cookie: str | None = None,
    id: object = None,
    restart: str = "permanent",
    timeout: float = 15.0,
    ticktime: float = 60.0,
) -> ChildSpec:
    """A child spec that runs a greenserver node *name* as an OS process (as OTP's ``peer``).

    The child is a local process linked to a process of the peer: the peer
    node halts when the child dies (or when this OS process dies), and the
    peer's death (``kill -9`` included) reaches the supervisor as an exit
    signal (``"noconnection"``), so the supervisor restarts it. *ticktime*
    is the peer's net_ticktime (see ``start``).
    """
    _check_ticktime(ticktime)
    return ChildSpec(
        id=name if id is None else id,
        start=(_start_peer, (name, cookie, timeout, float(ticktime))),
        restart=restart,
        shutdown=5.0,
    )


def _start_peer(peer_name: str, cookie: str | None, timeout: float, ticktime: float) -> Pid:
    local = _require()
    full = _full_name(peer_name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    args = [
        sys.executable,
        "-m",
        "greenserver._dist_peer",
        full,
        local.name,
        cookie or local.cookie,
        repr(ticktime),
    ]
    proc = gevent.subprocess.Popen(args, stdin=gevent.subprocess.PIPE, env=env)
    deadline = gevent.Timeout(timeout)
    try:
        with deadline:
            while not (full in local.conns and local.conns[full].up):
                if proc.poll() is not None:
                    raise NodeError(f"peer {full!r} exited with status {proc.returncode}")
                gevent.sleep(0.02)
    except gevent.Timeout as exc:
        if exc is not deadline:
            raise
        proc.kill()
        raise NodeError(f"peer {full!r} did not come up within {timeout}s") from None
    keeper = _process.spawn_link(_keep_peer, full, proc)
    return keeper


def _keep_peer(full: str, proc: Any) -> None:
    # Linked to a process of the peer: either side's death reaches the other.
    anchor = spawn(full, "greenserver.node:_anchor", (), link=True)
    del anchor
    _messages.receive(lambda msg: False)
    del proc  # the Popen object lives as long as this process (gevent reaps it)


def _anchor() -> None:
    """Runs in a peer, linked to its keeper: when the keeper goes, the peer halts."""
    _links.trap_exits(True)
    _messages.receive(lambda msg: isinstance(msg, _process.ExitSignal))
    os._exit(0)


def _peer_main(full: str, parent: str, cookie: str, ticktime: str = "60.0") -> None:
    start(full, cookie=cookie, ticktime=float(ticktime))
    gevent.spawn(_exit_on_eof)
    monitor(parent)
    _messages.receive(lambda msg: isinstance(msg, NodeDown))
    os._exit(0)


def _exit_on_eof() -> None:
    # Our parent holds our stdin: EOF means it died, and a peer dies with it.
    gevent.os.make_nonblocking(0)
    while gevent.os.nb_read(0, 4096):
        pass
    os._exit(0)
