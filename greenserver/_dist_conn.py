"""One connection to another node, after the handshake: frames out and in, ticks.

Latency is the point of this module, so it owns its socket outright (a
plain non-blocking socket, detached from gevent's wrapper) and its libev
watchers:

- Out: ``send`` encodes and queues a frame and, once per hub iteration,
  schedules ``_flush`` as a loop callback. ``_flush`` runs in the hub (no
  greenlet switch) after the sender has parked, so a call's MONITOR_P and
  SEND, and the previous call's DEMONITOR_P, leave in one ``send`` syscall.
  Only when the kernel buffer is full does a writer greenlet wait for the
  socket to drain, and until then everything queues behind it. Writes
  never block a sender: a peer that stops reading and lets more than
  ``MAX_QUEUED`` bytes pile up loses its connection.
- In: a reader greenlet waits on its own watcher, then reads once and
  dispatches every whole frame at once (no dispatch step blocks or
  switches: wake-ups are queued). It does not read again until the
  watcher says there is data: no EAGAIN round trip per frame. It waits
  in the scheduler's ``idle``, which switches straight to a process its
  frames made ready (a caller woken by its reply) instead of to the hub.
- A ticker sends an empty frame when nothing else went out for a quarter
  of net_ticktime, and drops a peer silent for a whole net_ticktime.
"""

from __future__ import annotations

import itertools
import socket as _stdsocket
import struct
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, Protocol

import gevent
import gevent.event
from gevent import socket

from . import _reports
from ._dist_terms import TermError, decode, encode
from ._scheduler import idle

if TYPE_CHECKING:
    from ._dist_handshake import Peer
    from ._dist_terms import Nodes

MAX_FRAME: Final = 64 * 1024 * 1024
MAX_QUEUED: Final = 64 * 1024 * 1024
READ_SIZE: Final = 262144
TICK: Final = b"\0\0\0\0"
_s_I = struct.Struct(">I")
_READ, _WRITE = 1, 2


class Owner(Protocol):
    """What a connection needs of its node (``_dist_node.LocalNode``)."""

    ticktime: float

    def dispatch(
        self, conn: Connection, ctrl: tuple[Any, ...], msg: object, has_msg: bool
    ) -> None: ...

    def connection_lost(self, conn: Connection, reason: str) -> None: ...

    def spawn(self, fn: Callable[[], None]) -> gevent.Greenlet[..., Any]: ...


class Connection:
    """One connection to another node, from the first attempt until it is lost."""

    def __init__(self, local: Owner, nodes: Nodes, peer: str) -> None:
        self.local = local
        self.nodes = nodes
        self.peer = peer
        self.flags = 0
        self.creation = 0
        self.up = False
        self.closed = False
        self.ready = gevent.event.Event()
        self.attempt: gevent.Greenlet[..., Any] | None = None
        self._sock: _stdsocket.socket | None = None
        self._watchers: list[Any] = []
        self._out: list[bytes] = []
        self._queued = 0
        self._flush_pending = False
        self._draining = False  # the writer greenlet owns the queue until it drains
        self._drain = gevent.event.Event()
        self._greenlets: list[gevent.Greenlet[..., Any]] = []
        self._last_recv = monotonic()
        self._sent = False
        self._loop: Any = None
        self.unlink_ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Connection to {self.peer} {'up' if self.up else 'pending'}>"

    # --- sending ---

    def send(
        self,
        ctrl: tuple[object, ...],
        msg: object = None,
        *,
        with_msg: bool = False,
        now: bool = False,
    ) -> None:
        """Queue a control message (and a message); encoding errors raise here.

        *now* writes at once what is queued (a reply: nothing else is coming
        from this sender, and the caller waits for it); otherwise the write
        waits for the sender to park, so what it sends next shares it.
        """
        nodes = self.nodes
        data = b"p" + encode(ctrl, nodes) + (encode(msg, nodes) if with_msg else b"")
        if self.closed:
            return
        self._enqueue(_s_I.pack(len(data)) + data)
        if now and not self._draining and self._sock is not None:
            self._flush()

    def _enqueue(self, frame: bytes) -> None:
        self._out.append(frame)
        self._queued += len(frame)
        if self._queued > MAX_QUEUED:
            # Called from inside kernel operations: close from the hub, later.
            gevent.get_hub().loop.run_callback(
                self.close, "send queue full: the peer does not read"
            )
        if not self._flush_pending and not self._draining and self._sock is not None:
            self._flush_pending = True
            self._loop.run_callback(self._flush)

    def _flush(self) -> None:
        """Write what is queued, in the hub; leave a remainder to the writer greenlet."""
        self._flush_pending = False
        out = self._out
        sock = self._sock
        if not out or self._draining or sock is None or self.closed:
            return
        chunk = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._sent = True
        try:
            written = sock.send(chunk)
        except BlockingIOError:
            written = 0
        except OSError:
            written = 0  # the writer meets the error again and closes the connection
        if written == len(chunk):
            self._queued = 0
            return
        out.append(chunk[written:])
        self._queued = len(chunk) - written
        self._draining = True
        self._drain.set()

    def _writer(self) -> None:
        sock = self._sock
        assert sock is not None
        hub = gevent.get_hub()
        writable = self._watch(_WRITE)
        while True:
            self._drain.wait()
            self._drain.clear()
            while self._out:
                chunk = memoryview(b"".join(self._out))
                self._out.clear()
                self._sent = True
                while chunk:
                    try:
                        written = sock.send(chunk)
                    except BlockingIOError:
                        hub.wait(writable)
                        continue
                    chunk = chunk[written:]
                    self._queued -= written
            self._queued = 0
            self._draining = False

    def _ticker(self) -> None:
        interval = self.local.ticktime / 4
        while True:
            gevent.sleep(interval)
            if monotonic() - self._last_recv > self.local.ticktime:
                self.close("net_tick_timeout")
                return
            if not self._sent:
                self._enqueue(TICK)
            self._sent = False

    # --- receiving ---

    def _reader(self) -> None:
        sock = self._sock
        assert sock is not None
        readable = self._watch(_READ)
        # The watcher switches straight back here; and waiting, the reader
        # hands over to whatever its frames made ready (the caller a reply
        # woke), without a trip through the hub.
        readable.start(gevent.getcurrent().switch)
        pending = bytearray()  # the start of a frame that has not all come yet
        while True:
            idle()
            try:
                chunk = sock.recv(READ_SIZE)
            except BlockingIOError:
                continue
            if not chunk:
                self.close("connection_closed")
                return
            self._last_recv = monotonic()
            data: bytes | bytearray = chunk
            if pending:
                pending += chunk
                data = pending
            pos = self._frames(data)
            if pos < 0:
                return
            if data is pending:
                del pending[:pos]
            elif pos < len(data):
                pending += data[pos:]

    def _frames(self, data: bytes | bytearray) -> int:
        """Dispatch the whole frames at the start of *data*; return where the rest begins.

        Returns -1 when a frame was malformed (the connection is closed).
        """
        pos = 0
        end = len(data)
        while end - pos >= 4:
            size = _s_I.unpack_from(data, pos)[0]
            if size > MAX_FRAME:
                self._protocol_error(f"frame of {size} bytes (limit {MAX_FRAME})")
                return -1
            if end - pos - 4 < size:
                break
            start = pos + 4
            pos = start + size
            if size and not self._frame(data, start, pos):
                return -1
        return pos

    def _frame(self, data: bytes | bytearray, start: int, end: int) -> bool:
        """Decode and dispatch the frame ``data[start:end]``; False if it was malformed."""
        try:
            if data[start] != 112:  # 'p': pass-through, no atom cache
                raise TermError(f"frame starts with byte {data[start]}, not 112 ('p')")
            if end != len(data) or type(data) is not bytes:
                data = bytes(data[start:end])
                start, end = 0, len(data)
            nodes = self.nodes
            ctrl, pos = decode(data, nodes, start + 1)
            msg: object = None
            has_msg = pos < end
            if has_msg:
                msg, pos = decode(data, nodes, pos)
            if pos != end:
                raise TermError(f"{end - pos} bytes after the message")
            if type(ctrl) is not tuple or not ctrl or type(ctrl[0]) is not int:
                raise TermError(f"control message {ctrl!r} is not a tuple tagged by an integer")
            self.local.dispatch(self, ctrl, msg, has_msg)
        except (TermError, ValueError, TypeError, IndexError, AttributeError) as exc:
            self._protocol_error(str(exc))
            return False
        return True

    def _protocol_error(self, what: str) -> None:
        _reports.warning("node.protocol_error", peer=self.peer, error=_reports.short(what))
        self.close("protocol_error")

    # --- life ---

    def _watch(self, events: int) -> Any:
        assert self._sock is not None
        watcher = self._loop.io(self._sock.fileno(), events)
        self._watchers.append(watcher)
        return watcher

    def attach(self, sock: socket.socket, peer: Peer) -> None:
        """The handshake succeeded on *sock*: start serving the connection."""
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        raw = _stdsocket.socket(fileno=sock.detach())
        raw.setblocking(False)
        self._sock = raw
        self._loop = gevent.get_hub().loop
        self.flags = peer.flags
        self.creation = peer.creation
        self.up = True
        self._last_recv = monotonic()
        spawn = self.local.spawn
        self._greenlets = [
            spawn(lambda: self._guard(self._reader)),
            spawn(lambda: self._guard(self._writer)),
            spawn(lambda: self._guard(self._ticker)),
        ]
        self.ready.set()
        if self._out and not self._flush_pending:
            self._flush_pending = True
            self._loop.run_callback(self._flush)

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except OSError as exc:
            _reports.debug("node.connection_error", peer=self.peer, error=str(exc))
            self.close("connection_closed")

    def close(self, reason: str) -> None:
        """Drop the connection: its stand-ins die with ``noconnection``."""
        if self.closed:
            return
        self.closed = True
        self.up = False
        self._out.clear()
        self.ready.set()
        me = gevent.getcurrent()
        for glet in self._greenlets:
            if glet is not me:
                glet.kill(block=False)
        if self.attempt is not None and self.attempt is not me:
            self.attempt.kill(block=False)
        # Watchers first: libev must not poll a closed descriptor.
        for watcher in self._watchers:
            watcher.stop()
        self._watchers.clear()
        if self._sock is not None:
            self._sock.close()
        self.local.connection_lost(self, reason)
