"""RESP2, the Redis protocol: encoding replies, parsing commands and replies.

Clients send commands as arrays of bulk strings (``*2\r\n$3\r\nGET\r\n$1\r\nk\r\n``)
or, typed by hand, as inline lines (``GET k``). ``Parser`` turns a stream of
bytes, cut anywhere, into commands; the replies go out already encoded
(``bulk``, ``integer``, ``array``, ``error``). ``encode_command`` and
``parse_reply`` are the client's half, for tests and the load generator.
Nothing here knows of processes or sockets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

OK: Final = b"+OK\r\n"
PONG: Final = b"+PONG\r\n"
NIL: Final = b"$-1\r\n"
ZERO: Final = b":0\r\n"
ONE: Final = b":1\r\n"
EMPTY_ARRAY: Final = b"*0\r\n"
SYNTAX_ERROR: Final = b"-ERR syntax error\r\n"
NOT_INTEGER: Final = b"-ERR value is not an integer or out of range\r\n"
OVERFLOW: Final = b"-ERR increment or decrement would overflow\r\n"

_INT_MAX: Final = 2**31 - 1
LLONG_MAX: Final = 2**63 - 1
LLONG_MIN: Final = -(2**63)
_MAX_BULK: Final = 512 * 1024 * 1024  # Redis's proto-max-bulk-len
_MAX_INLINE: Final = 64 * 1024


class ProtocolError(Exception):
    """The client broke RESP; it gets ``-ERR Protocol error: ...`` and is disconnected."""

    def reply(self) -> bytes:
        return b"-ERR Protocol error: %s\r\n" % str(self).encode()


def bulk(value: bytes) -> bytes:
    """Encode a bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


def integer(n: int) -> bytes:
    """Encode an integer reply."""
    return b":%d\r\n" % n


def array(items: Sequence[bytes | None]) -> bytes:
    """Encode an array of bulk strings (``None`` is a nil)."""
    parts = [b"*%d\r\n" % len(items)]
    for item in items:
        parts.append(NIL if item is None else b"$%d\r\n%b\r\n" % (len(item), item))
    return b"".join(parts)


def error(message: str) -> bytes:
    """Encode an error reply."""
    return b"-%b\r\n" % message.encode()


@final
class Parser:
    """Turn one client's byte stream, cut anywhere, into commands.

    ``feed`` costs time linear in the bytes fed, however they are cut. What
    an array command has parsed so far (its arguments, how many are still to
    come) is kept between feeds, so no byte is parsed twice; and while a bulk
    string is still arriving, chunks are only collected, and joined once when
    it is complete. (Joining the unparsed rest to each new chunk and parsing
    again from the command's start made a 64 MB value sent in 64 KB chunks
    cost 27 s, and an MSET of 400k arguments 7 s.)

    Both RESP arrays of bulk strings and inline commands (``PING\\r\\n``) are
    understood, as Redis does.
    """

    __slots__ = ("args", "chunks", "have", "left", "need")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []  # bytes received and not parsed yet
        self.have = 0  # their total length
        self.need = 1  # how many they must reach before parsing can get further
        self.args: list[bytes] = []  # the arguments of an array command still arriving
        self.left = 0  # how many of its arguments are still to come (0: between commands)

    def feed(self, data: bytes) -> tuple[list[list[bytes]], ProtocolError | None]:
        """Add *data*; return the commands it completed and the protocol error, if any.

        After an error the client is to be disconnected: the commands before
        it are valid, the parser's state past it is not.
        """
        self.chunks.append(data)
        self.have += len(data)
        if self.have < self.need:
            return [], None  # e.g. the middle of a large value: nothing to parse yet
        chunks = self.chunks
        buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        commands, pos, problem = self._parse(buf)
        if pos == len(buf):
            self.chunks = []
        elif pos:
            self.chunks = [buf[pos:]]
        else:
            self.chunks = [buf]
        self.have = len(buf) - pos
        return commands, problem

    def _parse(self, buf: bytes) -> tuple[list[list[bytes]], int, ProtocolError | None]:
        """Parse what *buf* completes; return the commands, the bytes used, any error.

        Sets ``need`` to how many bytes (counted from the first one not used)
        the next parse requires.
        """
        commands: list[list[bytes]] = []
        args, left = self.args, self.left
        pos = 0
        end = len(buf)
        find = buf.find
        need = 1
        while True:
            if not left:  # at the start of a command
                if pos >= end:
                    break
                if buf[pos] != 42:  # not '*': an inline command
                    nl = find(b"\n", pos)
                    if nl < 0:
                        if end - pos > _MAX_INLINE:
                            return commands, pos, ProtocolError("too big inline request")
                        need = end - pos + 1
                        break
                    try:
                        line = split_inline(buf[pos:nl].rstrip(b"\r"))
                    except ProtocolError as exc:
                        return commands, pos, exc
                    if line:
                        commands.append(line)
                    pos = nl + 1
                    continue
                nl = find(b"\r\n", pos)
                if nl < 0:
                    if end - pos > _MAX_INLINE:
                        return commands, pos, ProtocolError("too big mbulk count string")
                    need = end - pos + 1
                    break
                try:
                    count = int(buf[pos + 1 : nl])
                except ValueError:
                    return commands, pos, ProtocolError("invalid multibulk length")
                if count > _INT_MAX:
                    return commands, pos, ProtocolError("invalid multibulk length")
                pos = nl + 2
                if count <= 0:
                    continue  # an empty command: nothing to run
                args, left = [], count
            while left:  # the arguments, each a bulk string
                if pos >= end:
                    need = 1
                    break
                if buf[pos] != 36:  # '$'
                    got = chr(buf[pos])
                    return commands, pos, ProtocolError(f"expected '$', got '{got}'")
                nl = find(b"\r\n", pos)
                if nl < 0:
                    if end - pos > _MAX_INLINE:
                        return commands, pos, ProtocolError("too big bulk count string")
                    need = end - pos + 1
                    break
                try:
                    length = int(buf[pos + 1 : nl])
                except ValueError:
                    return commands, pos, ProtocolError("invalid bulk length")
                if length < 0 or length > _MAX_BULK:
                    return commands, pos, ProtocolError("invalid bulk length")
                stop = nl + 2 + length
                if stop + 2 > end:  # wait for the whole value (and the CRLF after it)
                    need = stop + 2 - pos
                    break
                args.append(buf[nl + 2 : stop])
                pos = stop + 2  # as Redis: the two bytes after the data are not checked
                left -= 1
            if left:
                break
            commands.append(args)
        self.args, self.left, self.need = args, left, need
        return commands, pos, None


class ReplyError(str):
    """An error reply (``-ERR ...``), as ``parse_reply`` returns it."""

    __slots__ = ()


Reply = bytes | int | ReplyError | list["Reply"] | None


def encode_command(*args: bytes | str | int) -> bytes:
    """Encode a command as a RESP array of bulk strings (what clients send)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(raw), raw))
    return b"".join(parts)


def parse_reply(buf: bytes, pos: int = 0) -> tuple[Reply, int] | None:
    """Parse one reply at *pos*; return it and the position after it, or None if incomplete.

    Simple strings and bulk strings come back as bytes, integers as int,
    errors as ``ReplyError``, nil as None, arrays as lists.
    """
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind = buf[pos]
    line = buf[pos + 1 : nl]
    after = nl + 2
    if kind == 43:  # +
        return line, after
    if kind == 58:  # :
        return int(line), after
    if kind == 45:  # -
        return ReplyError(line.decode(errors="replace")), after
    if kind == 36:  # $
        length = int(line)
        if length < 0:
            return None, after
        if after + length + 2 > len(buf):
            return None
        return buf[after : after + length], after + length + 2
    if kind == 42:  # *
        count = int(line)
        if count < 0:
            return None, after
        items: list[Reply] = []
        for _ in range(count):
            parsed = parse_reply(buf, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    raise ProtocolError(f"unexpected reply type {chr(kind)!r}")


_ESCAPES: Final = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b"}
_ESCAPES[ord("a")] = b"\a"
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


def split_inline(line: bytes) -> list[bytes]:
    """Split an inline command as Redis's ``sdssplitargs`` does (quotes, escapes)."""
    if b'"' not in line and b"'" not in line:
        return line.split()
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        quote = 0
        while True:
            if quote == 0:
                if i >= n or line[i] in b" \t\n\r\v\f":
                    break
                c = line[i]
                if c == 34 or c == 39:  # " or '
                    quote = c
                else:
                    current.append(c)
                i += 1
                continue
            if i >= n:
                raise ProtocolError("unbalanced quotes in request")
            c = line[i]
            if (
                quote == 34
                and c == 92
                and i + 3 < n
                and line[i + 1] == 120  # \xHH
                and line[i + 2] in _HEX
                and line[i + 3] in _HEX
            ):
                current.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            if quote == 34 and c == 92 and i + 1 < n:
                current += _ESCAPES.get(line[i + 1], bytes([line[i + 1]]))
                i += 2
                continue
            if quote == 39 and c == 92 and i + 1 < n and line[i + 1] == 39:
                current.append(39)
                i += 2
                continue
            if c == quote:
                i += 1
                if i < n and line[i] not in b" \t\n\r\v\f":
                    raise ProtocolError("unbalanced quotes in request")
                quote = 0
                break
            current.append(c)
            i += 1
        args.append(bytes(current))


def parse_int(value: bytes) -> int | None:
    """Parse a signed 64-bit integer as strictly as Redis (no '+', spaces or leading 0)."""
    if value.isdigit():
        if value[0] == 48 and len(value) > 1:
            return None
        n = int(value)
    elif len(value) > 1 and value[0] == 45 and value[1:].isdigit() and value[1] != 48:
        n = int(value)
    else:
        return None
    if n > LLONG_MAX or n < LLONG_MIN:
        return None
    return n
