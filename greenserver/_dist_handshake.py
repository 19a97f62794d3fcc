"""The distribution handshake, version 6 (OTP 23+), both directions.

Frames have a 2-byte length. The connecting side sends ``N`` (send_name:
flags, creation, name), gets ``s`` (status) and ``N`` (challenge: flags,
challenge, creation, name), answers ``r`` (its own challenge and
MD5(cookie ++ decimal peer challenge)) and checks the ``a`` ack. The
accepting side does the mirror image; it also takes the older ``n``
send_name of OTP 23/24 nodes, which then send ``c`` (the complement: the
high flag bits and the creation) before their reply.

Flag values are those of OTP's ``dist.hrl`` (the documentation page gives
MANDATORY_25_DIGEST as bit 36; ``dist.hrl`` and the runtime use bit 26).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from typing import Final, NamedTuple

from gevent import socket

PUBLISHED: Final = 0x1
EXTENDED_REFERENCES: Final = 0x4
DIST_MONITOR: Final = 0x8
FUN_TAGS: Final = 0x10
DIST_MONITOR_NAME: Final = 0x20
NEW_FUN_TAGS: Final = 0x80
EXTENDED_PIDS_PORTS: Final = 0x100
EXPORT_PTR_TAG: Final = 0x200
BIT_BINARIES: Final = 0x400
NEW_FLOATS: Final = 0x800
UNICODE_IO: Final = 0x1000
SMALL_ATOM_TAGS: Final = 0x4000
UTF8_ATOMS: Final = 0x10000
MAP_TAG: Final = 0x20000
BIG_CREATION: Final = 0x40000
SEND_SENDER: Final = 0x80000
BIG_SEQTRACE_LABELS: Final = 0x100000
EXIT_PAYLOAD: Final = 0x400000
HANDSHAKE_23: Final = 0x1000000
UNLINK_ID: Final = 0x2000000
MANDATORY_25_DIGEST: Final = 0x4000000
SPAWN: Final = 1 << 32
V4_NC: Final = 1 << 34
ALIAS: Final = 1 << 35

# What OTP 25 requires of a peer (DFLAG_DIST_MANDATORY_25); OTP 26+ add
# UNLINK_ID and V4_NC, which we also speak.
MANDATORY: Final = (
    EXTENDED_REFERENCES
    | FUN_TAGS
    | EXTENDED_PIDS_PORTS
    | UTF8_ATOMS
    | NEW_FUN_TAGS
    | BIG_CREATION
    | NEW_FLOATS
    | MAP_TAG
    | EXPORT_PTR_TAG
    | BIT_BINARIES
    | HANDSHAKE_23
)
OURS: Final = (
    MANDATORY
    | MANDATORY_25_DIGEST
    | PUBLISHED
    | DIST_MONITOR
    | DIST_MONITOR_NAME
    | SMALL_ATOM_TAGS
    | UNICODE_IO
    | SEND_SENDER
    | BIG_SEQTRACE_LABELS
    | EXIT_PAYLOAD
    | UNLINK_ID
    | SPAWN
    | V4_NC
    | ALIAS
)
MAX_HANDSHAKE_FRAME: Final = 4096


class HandshakeError(Exception):
    """The peer broke the handshake or was refused (bad cookie, flags, name)."""


class Peer(NamedTuple):
    name: str
    flags: int
    creation: int


def digest(challenge: int, cookie: str) -> bytes:
    """Return MD5(cookie ++ decimal challenge), the handshake's proof of the cookie."""
    return hashlib.md5(cookie.encode() + str(challenge).encode()).digest()


def _challenge() -> int:
    return int.from_bytes(os.urandom(4), "big")


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise HandshakeError("the peer closed the connection during the handshake")
        data += chunk
    return bytes(data)


def _recv(sock: socket.socket) -> bytes:
    size = struct.unpack(">H", _recv_exact(sock, 2))[0]
    if not 0 < size <= MAX_HANDSHAKE_FRAME:
        raise HandshakeError(f"handshake frame of {size} bytes")
    return _recv_exact(sock, size)


def _check_flags(flags: int, name: str) -> None:
    missing = MANDATORY & ~flags
    if missing:
        raise HandshakeError(f"node {name!r} lacks mandatory distribution flags {missing:#x}")


def _name_me(me: str, creation: int) -> bytes:
    data = me.encode()
    return b"N" + struct.pack(">QIH", OURS, creation, len(data)) + data


def connect(sock: socket.socket, me: str, creation: int, cookie: str, expect: str) -> Peer:
    """Run the connecting side's handshake on *sock*; return the peer.

    Raises:
        HandshakeError: The peer refused us (``.args[0]`` says why) or cheated.
    """
    _send(sock, _name_me(me, creation))
    status = _recv(sock)
    if status[:1] != b"s":
        raise HandshakeError(f"expected a status frame; got {status[:16]!r}")
    if status == b"salive":  # it still believes us connected: we are not
        _send(sock, b"strue")
    elif status not in (b"sok", b"sok_simultaneous"):
        raise HandshakeError(f"node {expect!r} answered {status[1:].decode('latin-1')!r}")
    frame = _recv(sock)
    if frame[:1] == b"N" and len(frame) >= 19:
        flags, their_challenge, their_creation, nlen = struct.unpack_from(">QIIH", frame, 1)
        name = frame[19 : 19 + nlen].decode()
    elif frame[:1] == b"n" and len(frame) >= 11:
        _version, flags, their_challenge = struct.unpack_from(">HII", frame, 1)
        name, their_creation = frame[11:].decode(), 0
    else:
        raise HandshakeError(f"expected a challenge frame; got {frame[:16]!r}")
    if name != expect:
        raise HandshakeError(f"connected to {expect!r} but it says it is {name!r}")
    _check_flags(flags, name)
    mine = _challenge()
    _send(sock, b"r" + struct.pack(">I", mine) + digest(their_challenge, cookie))
    ack = _recv(sock)
    if ack[:1] != b"a" or ack[1:] != digest(mine, cookie):
        raise HandshakeError(f"node {name!r} does not share our cookie")
    return Peer(name, flags, their_creation)


def accept(
    sock: socket.socket,
    me: str,
    creation: int,
    cookie: str,
    admit: Callable[[str], str],
) -> Peer:
    """Run the accepting side's handshake on *sock*; return the peer.

    *admit(name)* returns the status to send: ``"ok"``, ``"ok_simultaneous"``,
    ``"nok"`` (we are connecting to it ourselves and win) or ``"alive"``
    (we thought it connected already).

    Raises:
        HandshakeError: Wrong cookie, missing flags, refused or malformed.
    """
    frame = _recv(sock)
    old = False
    if frame[:1] == b"N" and len(frame) >= 15:
        flags, their_creation, nlen = struct.unpack_from(">QIH", frame, 1)
        name = frame[15 : 15 + nlen].decode()
    elif frame[:1] == b"n" and len(frame) >= 7:
        _version, flags = struct.unpack_from(">HI", frame, 1)
        name, their_creation, old = frame[7:].decode(), 0, True
    else:
        raise HandshakeError(f"expected a send_name frame; got {frame[:16]!r}")
    if "@" not in name:
        raise HandshakeError(f"bad node name {name!r}")
    status = admit(name)
    _send(sock, b"s" + status.encode())
    if status == "alive":
        if _recv(sock) != b"strue":
            raise HandshakeError(f"node {name!r} gave up its connection attempt")
    elif status not in ("ok", "ok_simultaneous"):
        raise HandshakeError(f"refused node {name!r}: {status}")
    mine = _challenge()
    data = me.encode()
    _send(sock, b"N" + struct.pack(">QIIH", OURS, mine, creation, len(data)) + data)
    reply = _recv(sock)
    if old and reply[:1] == b"c" and len(reply) == 9:
        high, their_creation = struct.unpack_from(">II", reply, 1)
        flags |= high << 32
        reply = _recv(sock)
    _check_flags(flags, name)
    if reply[:1] != b"r" or len(reply) != 21:
        raise HandshakeError(f"expected a challenge reply from {name!r}; got {reply[:16]!r}")
    their_challenge = struct.unpack_from(">I", reply, 1)[0]
    if reply[5:] != digest(mine, cookie):
        raise HandshakeError(f"node {name!r} has the wrong cookie")
    _send(sock, b"a" + digest(their_challenge, cookie))
    return Peer(name, flags, their_creation)
