"""epmd, Erlang's port mapper: the client, and a small epmd of our own.

A node registers its name and distribution port with ALIVE2_REQ and keeps
that socket open for its whole life (epmd forgets the name when it closes);
other nodes find the port with PORT_PLEASE2_REQ. epmd listens on port 4369,
or ``ERL_EPMD_PORT`` as with Erlang.

``ensure_running`` finds an epmd: one already listening, else the system's
``epmd -daemon``, else ours (``python -m greenserver._dist_epmd``), an OS
process of its own, so a Python-only install can run nodes, and the name
server outlives any one node as Erlang's does.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from typing import Final

import gevent
from gevent import socket

EPMD_HOST: Final = "127.0.0.1"
ALIVE2_REQ: Final = 120
ALIVE2_X_RESP: Final = 118
ALIVE2_RESP: Final = 121
PORT_PLEASE2_REQ: Final = 122
PORT2_RESP: Final = 119
NAMES_REQ: Final = 110


class EpmdError(OSError):
    """epmd refused a request or could not be reached."""


def epmd_port() -> int:
    """Return epmd's port: ``ERL_EPMD_PORT`` or 4369, as Erlang reads it."""
    return int(os.environ.get("ERL_EPMD_PORT", "4369"))


def _connect(timeout: float) -> socket.socket:
    return socket.create_connection((EPMD_HOST, epmd_port()), timeout=timeout)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EpmdError("epmd closed the connection")
        data += chunk
    return data


def _request(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


def is_running(timeout: float = 1.0) -> bool:
    """Return whether an epmd answers on this machine."""
    try:
        names(timeout)
    except OSError:
        return False
    return True


def ensure_running(timeout: float = 5.0) -> str:
    """Make sure an epmd runs; return which one: ``"running"``, ``"system"`` or ``"builtin"``.

    Raises:
        EpmdError: None could be started.
    """
    if is_running():
        return "running"
    system = shutil.which("epmd")
    how = "system" if system else "builtin"
    if system:
        env = {**os.environ, "ERL_EPMD_ADDRESS": EPMD_HOST}
        subprocess.run([system, "-daemon"], env=env, check=False, timeout=timeout)
    else:
        # Detached (its own session) and not waited for: like `epmd -daemon`,
        # it outlives the node that started it and serves every later one.
        subprocess.Popen(
            [sys.executable, "-m", "greenserver._dist_epmd"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = timeout
    while deadline > 0:
        if is_running(0.5):
            return how
        gevent.sleep(0.05)
        deadline -= 0.05
    raise EpmdError(f"no epmd answers on {EPMD_HOST}:{epmd_port()} and none could be started")


def register(name: str, port: int, *, hidden: bool = False) -> tuple[socket.socket, int]:
    """Register *name* (before the ``@``) at *port*; return the socket to keep and the creation.

    Raises:
        EpmdError: The name is taken or epmd did not answer.
    """
    alive = name.encode()
    payload = (
        struct.pack(">BHBBHHH", ALIVE2_REQ, port, 72 if hidden else 77, 0, 6, 6, len(alive))
        + alive
        + struct.pack(">H", 0)
    )
    sock = _connect(5.0)
    try:
        sock.sendall(_request(payload))
        head = _recv_exact(sock, 2)
        if head[0] == ALIVE2_X_RESP:
            if head[1] != 0:
                raise EpmdError(f"epmd refused the name {name!r} (taken?)")
            creation = struct.unpack(">I", _recv_exact(sock, 4))[0]
        elif head[0] == ALIVE2_RESP:
            if head[1] != 0:
                raise EpmdError(f"epmd refused the name {name!r} (taken?)")
            creation = struct.unpack(">H", _recv_exact(sock, 2))[0]
        else:
            raise EpmdError(f"unexpected answer from epmd: {head!r}")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return sock, creation


def port_please(name: str, timeout: float = 5.0) -> int | None:
    """Return the distribution port of node *name* (the part before ``@``), or None."""
    with _connect(timeout) as sock:
        sock.sendall(_request(bytes([PORT_PLEASE2_REQ]) + name.encode()))
        head = _recv_exact(sock, 2)
        if head[0] != PORT2_RESP or head[1] != 0:
            return None
        return int(struct.unpack(">H", _recv_exact(sock, 2))[0])


def names(timeout: float = 5.0) -> dict[str, int]:
    """Return every name registered with epmd and its port."""
    with _connect(timeout) as sock:
        sock.sendall(_request(bytes([NAMES_REQ])))
        _recv_exact(sock, 4)
        text = b""
        while chunk := sock.recv(4096):
            text += chunk
    found = {}
    for line in text.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] == "name":
            found[parts[1]] = int(parts[4])
    return found


# --- our own epmd -----------------------------------------------------------


def serve(port: int | None = None, host: str = EPMD_HOST) -> None:
    """Run an epmd on *host*:*port* until killed (``python -m greenserver._dist_epmd``)."""
    from gevent.server import StreamServer

    registry: dict[str, tuple[int, bytes]] = {}

    def handle(sock: socket.socket, _address: object) -> None:
        try:
            size = struct.unpack(">H", _recv_exact(sock, 2))[0]
            request = _recv_exact(sock, size)
        except (OSError, struct.error):
            return
        if not request:
            return
        kind = request[0]
        if kind == ALIVE2_REQ and len(request) >= 13:
            _alive(sock, request, registry)
        elif kind == PORT_PLEASE2_REQ:
            entry = registry.get(request[1:].decode("utf-8", "replace"))
            if entry is None:
                sock.sendall(bytes([PORT2_RESP, 1]))
            else:
                sock.sendall(bytes([PORT2_RESP, 0]) + entry[1])
        elif kind == NAMES_REQ:
            lines = "".join(f"name {n} at port {p}\n" for n, (p, _) in registry.items())
            sock.sendall(struct.pack(">I", port or epmd_port()) + lines.encode())

    server = StreamServer((host, port or epmd_port()), handle)
    server.serve_forever()


def _alive(sock: socket.socket, request: bytes, registry: dict[str, tuple[int, bytes]]) -> None:
    port, _type, _proto, _high, _low, nlen = struct.unpack_from(">HBBHHH", request, 1)
    name = request[11 : 11 + nlen].decode("utf-8", "replace")
    if name in registry:
        sock.sendall(bytes([ALIVE2_X_RESP, 1]) + struct.pack(">I", 0))
        return
    # PORT2_RESP carries the ALIVE2_REQ fields back, from the port on.
    registry[name] = (port, request[1:])
    creation = int.from_bytes(os.urandom(4), "big") | 1
    try:
        sock.sendall(bytes([ALIVE2_X_RESP, 0]) + struct.pack(">I", creation))
        while sock.recv(64):  # the name lives as long as this connection
            pass
    except OSError:
        pass
    finally:
        registry.pop(name, None)


if __name__ == "__main__":
    serve()
