"""A Redis-protocol (RESP2) key-value server on greenserver.net.

Run it: ``python examples/kv_server.py --host 127.0.0.1 --port 6380`` and talk
to it with ``redis-cli -p 6380`` or any Redis client. SIGINT and SIGTERM stop
it cleanly: it stops accepting, gives open connections a moment, and exits.

The supervision tree::

    KV server (Supervisor, rest_for_one)
      "shards"    Supervisor of N Shard servers; each owns the keys that hash to it
      "sweeper"   Sweeper: every ``sweep_interval`` (a GenServer timeout=) it
                  tells each shard to drop its expired keys
      "listener"  greenserver.net listener: one KVConnection process per client

A ``KVConnection`` gets its client's bytes as messages (active mode, one
at a time), parses every command that arrived (pipelining) and, when their
keys all live in one shard, casts the whole batch to that shard, which runs
it and writes the replies to the client itself: nobody waits for anybody, and
a shard serves many clients' batches in one go. A batch that spans shards
becomes a ``Plan`` each of them fills in; the last one writes the replies.
Either way they go out in request order.

Commands: PING, ECHO, GET, SET (EX/PX/NX/XX/KEEPTTL/GET), DEL, EXISTS, INCR,
DECR, INCRBY, DECRBY, MGET, MSET, EXPIRE/PEXPIRE (NX/XX/GT/LT), TTL, PTTL,
PERSIST, KEYS, DBSIZE, FLUSHDB, QUIT, plus the few that clients send on
connecting (CONFIG GET, COMMAND, CLIENT, SELECT 0, HELLO 2). It speaks RESP2
only: a client asking for RESP3 (``HELLO 3``, redis-py 8's default) gets
Redis's ``NOPROTO`` error; pass ``protocol=2`` to such clients. Commands on
keys of different shards are not atomic together (MSET, DEL of many keys):
each shard applies its part.

Keys expire lazily (a read finds them dead) and in a periodic sweep, so
memory is given back even for keys nobody reads again. A client that breaks
the protocol gets Redis's error and is disconnected; nobody else notices.

The parser, the store and ``execute`` know nothing of processes: the
benchmark's plain gevent server (``bench/kv_bench.py``) runs them too.
"""

from __future__ import annotations

import argparse
import fnmatch
import heapq
import logging
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, final

import gevent
import structlog

import greenserver as gs
from greenserver import net

# --- RESP -----------------------------------------------------------------------

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
_LLONG_MAX: Final = 2**63 - 1
_LLONG_MIN: Final = -(2**63)
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


def parse(buf: bytes) -> tuple[list[list[bytes]], int, ProtocolError | None]:
    """Parse every complete command at the start of *buf*.

    Returns the commands (each a list of arguments), how many bytes they
    took, and the protocol error that stopped the parse, if any (the commands
    before it are still valid). Both RESP arrays of bulk strings and inline
    commands (``PING\\r\\n``) are understood, as Redis does.
    """
    commands: list[list[bytes]] = []
    pos = 0
    end = len(buf)
    find = buf.find
    while pos < end:
        if buf[pos] != 42:  # not '*': an inline command
            nl = find(b"\n", pos)
            if nl < 0:
                if end - pos > _MAX_INLINE:
                    return commands, pos, ProtocolError("too big inline request")
                break
            try:
                args = split_inline(buf[pos:nl].rstrip(b"\r"))
            except ProtocolError as exc:
                return commands, pos, exc
            if args:
                commands.append(args)
            pos = nl + 1
            continue
        nl = find(b"\r\n", pos)
        if nl < 0:
            if end - pos > _MAX_INLINE:
                return commands, pos, ProtocolError("too big mbulk count string")
            break
        try:
            count = int(buf[pos + 1 : nl])
        except ValueError:
            return commands, pos, ProtocolError("invalid multibulk length")
        if count > _INT_MAX:
            return commands, pos, ProtocolError("invalid multibulk length")
        p = nl + 2
        args = []
        complete = True
        for _ in range(count):
            if p >= end:
                complete = False
                break
            if buf[p] != 36:  # '$'
                got = chr(buf[p])
                return commands, pos, ProtocolError(f"expected '$', got '{got}'")
            nl = find(b"\r\n", p)
            if nl < 0:
                if end - p > _MAX_INLINE:
                    return commands, pos, ProtocolError("too big bulk count string")
                complete = False
                break
            try:
                length = int(buf[p + 1 : nl])
            except ValueError:
                return commands, pos, ProtocolError("invalid bulk length")
            if length < 0 or length > _MAX_BULK:
                return commands, pos, ProtocolError("invalid bulk length")
            start = nl + 2
            stop = start + length
            if stop + 2 > end:
                complete = False
                break
            args.append(buf[start:stop])
            p = stop + 2  # as Redis: the two bytes after the data are not checked
        if not complete:
            break
        if args:
            commands.append(args)
        pos = p
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
    if n > _LLONG_MAX or n < _LLONG_MIN:
        return None
    return n


SWEEP_BUDGET: Final = 10_000  # expired keys one sweep drops at most

# --- the store: one shard's keys --------------------------------------------------


@final
class Store:
    """Keys and values of one shard, with deadlines for expiring keys.

    ``clock`` returns seconds (monotonic); tests pass a manual clock. Expired
    keys are dropped when read (lazily) and by ``sweep``, which pops a heap of
    deadlines, so a sweep costs only the keys that did expire.
    """

    __slots__ = ("clock", "data", "expires", "heap")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.data: dict[bytes, bytes] = {}
        self.expires: dict[bytes, float] = {}
        self.heap: list[tuple[float, bytes]] = []

    def live(self, key: bytes) -> bytes | None:
        """Return the value of *key*, dropping it if it has expired."""
        value = self.data.get(key)
        if value is not None and self.expires:
            deadline = self.expires.get(key)
            if deadline is not None and deadline <= self.clock():
                del self.data[key]
                del self.expires[key]
                return None
        return value

    def expire_at(self, key: bytes, deadline: float) -> None:
        self.expires[key] = deadline
        heapq.heappush(self.heap, (deadline, key))

    def delete(self, key: bytes) -> bool:
        if self.live(key) is None:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        return True

    def sweep(self, budget: int = SWEEP_BUDGET) -> int:
        """Drop up to *budget* expired keys; return how many were dropped."""
        heap = self.heap
        expires = self.expires
        now = self.clock()
        dropped = 0
        while heap and heap[0][0] <= now and dropped < budget:
            deadline, key = heapq.heappop(heap)
            if expires.get(key) == deadline:  # else the key got a new deadline, or none
                del expires[key]
                del self.data[key]
                dropped += 1
        if len(heap) > 2 * len(expires) + 1024:  # stale entries: rebuild
            self.heap = [(d, k) for k, d in expires.items()]
            heapq.heapify(self.heap)
        return dropped

    def ttl_ms(self, key: bytes) -> int:
        """Return milliseconds left, -1 for a key without expiry, -2 for none."""
        if self.live(key) is None:
            return -2
        deadline = self.expires.get(key)
        if deadline is None:
            return -1
        return max(0, round((deadline - self.clock()) * 1000))


# Single-key commands: fn(store, args) -> encoded reply; run in the key's shard.


def cmd_get(store: Store, args: list[bytes]) -> bytes:
    value = store.live(args[1])
    return NIL if value is None else b"$%d\r\n%b\r\n" % (len(value), value)


def cmd_set(store: Store, args: list[bytes]) -> bytes:
    key = args[1]
    if len(args) == 3:
        store.data[key] = args[2]
        if store.expires:
            store.expires.pop(key, None)
        return OK
    nx = xx = get = keepttl = False
    ttl_ms: int | None = None
    i, n = 3, len(args)
    while i < n:
        opt = args[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and ttl_ms is None:
            keepttl = True
        elif opt in (b"EX", b"PX") and ttl_ms is None and not keepttl and i + 1 < n:
            amount = parse_int(args[i + 1])
            if amount is None:
                return NOT_INTEGER
            if amount <= 0 or (opt == b"EX" and amount > _LLONG_MAX // 1000):
                return b"-ERR invalid expire time in 'set' command\r\n"
            ttl_ms = amount * 1000 if opt == b"EX" else amount
            if ttl_ms > _LLONG_MAX - int(time.time() * 1000):
                return b"-ERR invalid expire time in 'set' command\r\n"
            i += 1
        else:
            return SYNTAX_ERROR
        i += 1
    old = store.live(key)
    reply = (NIL if old is None else bulk(old)) if get else OK
    if (nx and old is not None) or (xx and old is None):
        return reply if get else NIL
    store.data[key] = args[2]
    if ttl_ms is not None:
        store.expire_at(key, store.clock() + ttl_ms / 1000)
    elif not keepttl:
        store.expires.pop(key, None)
    return reply


def _incr_by(store: Store, key: bytes, delta: int) -> bytes:
    value = store.live(key)
    if value is None:
        current = 0
    else:
        parsed = parse_int(value)
        if parsed is None:
            return NOT_INTEGER
        current = parsed
    result = current + delta
    if result > _LLONG_MAX or result < _LLONG_MIN:
        return OVERFLOW
    store.data[key] = b"%d" % result  # an existing deadline stays, as in Redis
    return b":%d\r\n" % result


def cmd_incr(store: Store, args: list[bytes]) -> bytes:
    return _incr_by(store, args[1], 1)


def cmd_decr(store: Store, args: list[bytes]) -> bytes:
    return _incr_by(store, args[1], -1)


def cmd_incrby(store: Store, args: list[bytes]) -> bytes:
    delta = parse_int(args[2])
    return NOT_INTEGER if delta is None else _incr_by(store, args[1], delta)


def cmd_decrby(store: Store, args: list[bytes]) -> bytes:
    delta = parse_int(args[2])
    if delta is None or delta == _LLONG_MIN:
        return NOT_INTEGER
    return _incr_by(store, args[1], -delta)


def _expire(store: Store, args: list[bytes], unit_ms: int, name: str) -> bytes:
    amount = parse_int(args[2])
    if amount is None:
        return NOT_INTEGER
    nx = xx = gt = lt = False
    for raw in args[3:]:
        opt = raw.upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt == b"GT":
            gt = True
        elif opt == b"LT":
            lt = True
        else:
            return error(f"ERR Unsupported option {raw.decode(errors='replace')}")
    if nx and (xx or gt or lt):
        return b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    if gt and lt:
        return b"-ERR GT and LT options at the same time are not compatible\r\n"
    if abs(amount) > _LLONG_MAX // unit_ms:
        return error(f"ERR invalid expire time in '{name}' command")
    key = args[1]
    if store.live(key) is None:
        return ZERO
    now = store.clock()
    deadline = now + amount * unit_ms / 1000
    current = store.expires.get(key)  # None: no expiry, an infinite TTL
    if (
        (nx and current is not None)
        or (xx and current is None)
        or (gt and (current is None or deadline <= current))
        or (lt and current is not None and deadline >= current)
    ):
        return ZERO
    if amount <= 0:
        store.delete(key)
        return ONE
    store.expire_at(key, deadline)
    return ONE


def cmd_expire(store: Store, args: list[bytes]) -> bytes:
    return _expire(store, args, 1000, "expire")


def cmd_pexpire(store: Store, args: list[bytes]) -> bytes:
    return _expire(store, args, 1, "pexpire")


def cmd_ttl(store: Store, args: list[bytes]) -> bytes:
    ms = store.ttl_ms(args[1])
    return integer(ms if ms < 0 else (ms + 500) // 1000)


def cmd_pttl(store: Store, args: list[bytes]) -> bytes:
    return integer(store.ttl_ms(args[1]))


def cmd_persist(store: Store, args: list[bytes]) -> bytes:
    key = args[1]
    if store.live(key) is None or store.expires.pop(key, None) is None:
        return ZERO
    return ONE


# Parts of multi-key commands: fn(store, args) -> a value the connection combines.


def part_delete(store: Store, keys: list[bytes]) -> int:
    return sum(1 for key in keys if store.delete(key))


def part_exists(store: Store, keys: list[bytes]) -> int:
    return sum(1 for key in keys if store.live(key) is not None)


def part_mget(store: Store, keys: list[bytes]) -> list[bytes | None]:
    return [store.live(key) for key in keys]


def part_mset(store: Store, pairs: list[bytes]) -> None:
    data, expires = store.data, store.expires
    for i in range(0, len(pairs), 2):
        data[pairs[i]] = pairs[i + 1]
        if expires:
            expires.pop(pairs[i], None)


def part_keys(store: Store, args: list[bytes]) -> list[bytes]:
    match = _glob(args[0])
    now = store.clock()
    expires = store.expires
    return [
        key
        for key in store.data
        if match(key.decode("latin-1")) and not (key in expires and expires[key] <= now)
    ]


def part_flush(store: Store, args: list[bytes]) -> None:
    store.data.clear()
    store.expires.clear()
    store.heap.clear()


def part_dbsize(store: Store, args: list[bytes]) -> int:
    now = store.clock()
    expires = store.expires
    return len(store.data) - sum(1 for d in expires.values() if d <= now)


def _glob(pattern: bytes) -> Callable[[str], object]:
    """Compile a Redis glob (``*``, ``?``, ``[a-z]``, ``[^a]``, ``\\x``) with fnmatch."""
    text = pattern.decode("latin-1")
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(f"[{text[i + 1]}]")
            i += 2
            continue
        if c == "[" and text.startswith("[^", i):
            out.append("[!")
            i += 2
            continue
        out.append(c)
        i += 1
    return re.compile(fnmatch.translate("".join(out)), re.DOTALL).match


# --- the command table ----------------------------------------------------------------

LOCAL: Final = 0  # answered by the connection
KEY: Final = 1  # one key: runs in its shard
MULTI: Final = 2  # many keys or all shards: split, run, combine

Fn = Callable[[Store, list[bytes]], Any]
Part = tuple[int, Fn, list[bytes]]  # (shard, fn, args)


@final
class Command:
    """One command: name, arity (Redis's: -n means at least n), route and code."""

    __slots__ = ("arity", "combine", "fn", "local", "name", "route", "split")

    def __init__(
        self,
        name: str,
        arity: int,
        route: int,
        *,
        fn: Fn | None = None,
        local: Callable[[list[bytes]], bytes] | None = None,
        split: Callable[[list[bytes], int], list[Part] | bytes] | None = None,
        combine: Callable[[list[bytes], list[Part], list[Any]], bytes] | None = None,
    ) -> None:
        self.name = name
        self.arity = arity
        self.route = route
        self.fn = fn
        self.local = local
        self.split = split
        self.combine = combine

    def arity_error(self) -> bytes:
        return error(f"ERR wrong number of arguments for '{self.name}' command")


def _by_shard(keys: list[bytes], nshards: int) -> dict[int, list[bytes]]:
    groups: dict[int, list[bytes]] = {}
    for key in keys:
        groups.setdefault(hash(key) % nshards, []).append(key)
    return groups


def _split_keys(fn: Fn) -> Callable[[list[bytes], int], list[Part]]:
    def split(args: list[bytes], nshards: int) -> list[Part]:
        keys = args[1:]
        if nshards == 1:
            return [(0, fn, keys)]
        return [(s, fn, group) for s, group in _by_shard(keys, nshards).items()]

    return split


def _to_all(fn: Fn, skip: int = 1) -> Callable[[list[bytes], int], list[Part]]:
    def split(args: list[bytes], nshards: int) -> list[Part]:
        return [(s, fn, args[skip:]) for s in range(nshards)]

    return split


def _split_mget(args: list[bytes], nshards: int) -> list[Part]:
    keys = args[1:]
    if nshards == 1:
        return [(0, part_mget, keys)]
    return [(s, part_mget, group) for s, group in _by_shard(keys, nshards).items()]


def _combine_mget(args: list[bytes], parts: list[Part], results: list[Any]) -> bytes:
    if len(parts) == 1:
        return array(results[0])
    # Each part holds its shard's keys in request order: deal the values back out.
    values: dict[bytes, bytes | None] = {}
    for (_, _, keys), found in zip(parts, results, strict=True):
        values.update(zip(keys, found, strict=True))
    return array([values[key] for key in args[1:]])


def _split_mset(args: list[bytes], nshards: int) -> list[Part] | bytes:
    if len(args) % 2 == 0:
        return error("ERR wrong number of arguments for 'mset' command")
    pairs = args[1:]
    if nshards == 1:
        return [(0, part_mset, pairs)]
    groups: dict[int, list[bytes]] = {}
    for i in range(0, len(pairs), 2):
        groups.setdefault(hash(pairs[i]) % nshards, []).extend(pairs[i : i + 2])
    return [(s, part_mset, group) for s, group in groups.items()]


def _split_flush(args: list[bytes], nshards: int) -> list[Part] | bytes:
    if len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC"):
        return SYNTAX_ERROR
    return [(s, part_flush, []) for s in range(nshards)]


def _combine_sum(args: list[bytes], parts: list[Part], results: list[Any]) -> bytes:
    return integer(sum(results))


def _combine_ok(args: list[bytes], parts: list[Part], results: list[Any]) -> bytes:
    return OK


def _combine_keys(args: list[bytes], parts: list[Part], results: list[Any]) -> bytes:
    return array([key for found in results for key in found])


def local_ping(args: list[bytes]) -> bytes:
    return PONG if len(args) == 1 else bulk(args[1])


def local_echo(args: list[bytes]) -> bytes:
    return bulk(args[1])


def local_ok(args: list[bytes]) -> bytes:
    return OK


def local_empty(args: list[bytes]) -> bytes:
    return EMPTY_ARRAY


def local_select(args: list[bytes]) -> bytes:
    return OK if args[1] == b"0" else b"-ERR DB index is out of range\r\n"


def local_hello(args: list[bytes]) -> bytes:
    # RESP2 only: a client asking for RESP3 gets Redis's NOPROTO and can fall back.
    if len(args) > 2:
        return error(f"ERR Syntax error in HELLO option '{args[2].decode(errors='replace')}'")
    if len(args) == 2:
        version = parse_int(args[1])
        if version is None:
            return b"-ERR Protocol version is not an integer or out of range\r\n"
        if version != 2:
            return b"-NOPROTO sorry, this protocol version is not supported\r\n"
    return b"".join(
        [
            b"*14\r\n",
            bulk(b"server"),
            bulk(b"greenserver-kv"),
            bulk(b"version"),
            bulk(b"0.1.0"),
            bulk(b"proto"),
            b":2\r\n",
            bulk(b"id"),
            b":0\r\n",
            bulk(b"mode"),
            bulk(b"standalone"),
            bulk(b"role"),
            bulk(b"master"),
            bulk(b"modules"),
            EMPTY_ARRAY,
        ]
    )


def local_config(args: list[bytes]) -> bytes:
    if args[1].upper() == b"GET":
        return EMPTY_ARRAY  # nothing to configure; clients only look
    return error(f"ERR unknown subcommand '{args[1].decode(errors='replace')}'.")


COMMANDS: Final[dict[bytes, Command]] = {}


def _add(command: Command) -> None:
    COMMANDS[command.name.encode()] = command
    COMMANDS[command.name.upper().encode()] = command


for _command in (
    Command("ping", -1, LOCAL, local=local_ping),
    Command("echo", 2, LOCAL, local=local_echo),
    Command("quit", -1, LOCAL, local=local_ok),
    Command("config", -2, LOCAL, local=local_config),
    Command("command", -1, LOCAL, local=local_empty),
    Command("client", -2, LOCAL, local=local_ok),
    Command("select", 2, LOCAL, local=local_select),
    Command("hello", -1, LOCAL, local=local_hello),
    Command("get", 2, KEY, fn=cmd_get),
    Command("set", -3, KEY, fn=cmd_set),
    Command("incr", 2, KEY, fn=cmd_incr),
    Command("decr", 2, KEY, fn=cmd_decr),
    Command("incrby", 3, KEY, fn=cmd_incrby),
    Command("decrby", 3, KEY, fn=cmd_decrby),
    Command("expire", -3, KEY, fn=cmd_expire),
    Command("pexpire", -3, KEY, fn=cmd_pexpire),
    Command("ttl", 2, KEY, fn=cmd_ttl),
    Command("pttl", 2, KEY, fn=cmd_pttl),
    Command("persist", 2, KEY, fn=cmd_persist),
    Command("del", -2, MULTI, split=_split_keys(part_delete), combine=_combine_sum),
    Command("exists", -2, MULTI, split=_split_keys(part_exists), combine=_combine_sum),
    Command("mget", -2, MULTI, split=_split_mget, combine=_combine_mget),
    Command("mset", -3, MULTI, split=_split_mset, combine=_combine_ok),
    Command("keys", 2, MULTI, split=_to_all(part_keys), combine=_combine_keys),
    Command("dbsize", 1, MULTI, split=_to_all(part_dbsize), combine=_combine_sum),
    Command("flushdb", -1, MULTI, split=_split_flush, combine=_combine_ok),
):
    _add(_command)


def lookup(name: bytes) -> Command | None:
    """Find a command by name, in any case."""
    command = COMMANDS.get(name)
    return command if command is not None else COMMANDS.get(name.lower())


def unknown_command(args: list[bytes]) -> bytes:
    """Redis's reply to a command it does not know."""
    name = args[0].decode(errors="replace")[:128]
    shown = "".join(f"'{a.decode(errors='replace')[:128]}' " for a in args[1:])
    return error(f"ERR unknown command '{name}', with args beginning with: {shown}")


class ShardUnavailableError(Exception):
    """A shard could not run its part of a batch (it crashed, or is restarting)."""


Job = tuple[Fn, list[bytes]]
Runner = Callable[[dict[int, list[Job]]], dict[int, "list[Any] | ShardUnavailableError"]]


@final
class Plan:
    """A batch of commands, planned: which shard runs what, and where each reply goes.

    ``jobs[shard]`` lists the ``(fn, args)`` that shard runs, in request order;
    ``fill(shard, results)`` puts its results in place, and ``finish()``
    combines the parts of multi-key commands and returns the replies, in
    request order. ``close`` says a QUIT ended the batch.
    """

    __slots__ = ("close", "jobs", "multi", "remaining", "replies", "session", "slots", "waiting")

    def __init__(self, commands: list[list[bytes]], nshards: int) -> None:
        replies: list[bytes] = [b""] * len(commands)
        jobs: dict[int, list[Job]] = {}
        slots: dict[int, list[Any]] = {}  # per shard: reply index, or (multi entry, part)
        multi: list[list[Any]] = []  # [reply index, command, args, parts, results, failed]
        self.close = False
        for i, args in enumerate(commands):
            command = lookup(args[0])
            if command is None:
                replies[i] = unknown_command(args)
                continue
            arity = command.arity
            if not (len(args) == arity or (arity < 0 and len(args) >= -arity)):
                replies[i] = command.arity_error()
                continue
            route = command.route
            if route == KEY:
                shard = hash(args[1]) % nshards if nshards > 1 else 0
                jobs.setdefault(shard, []).append((command.fn, args))  # type: ignore[arg-type]
                slots.setdefault(shard, []).append(i)
            elif route == LOCAL:
                assert command.local is not None
                replies[i] = command.local(args)
                if command.name == "quit":
                    del replies[i + 1 :]  # as Redis: nothing after QUIT runs
                    self.close = True
                    break
            else:
                assert command.split is not None
                parts = command.split(args, nshards)
                if type(parts) is bytes:
                    replies[i] = parts
                    continue
                assert isinstance(parts, list)
                entry = [i, command, args, parts, [None] * len(parts), False]
                multi.append(entry)
                for k, (shard, fn, part_args) in enumerate(parts):
                    jobs.setdefault(shard, []).append((fn, part_args))
                    slots.setdefault(shard, []).append((entry, k))
        self.replies = replies
        self.jobs = jobs
        self.slots = slots
        self.multi = multi
        self.remaining = len(jobs)  # shards still to fill in their part
        self.session: Session | None = None  # who gets the replies (KV server)
        self.waiting: dict[int, gs.Pid] = {}  # shard -> its pid, until it filled in

    def fill(self, shard: int, results: list[Any]) -> None:
        """Put shard *shard*'s results in place."""
        replies = self.replies
        for slot, result in zip(self.slots[shard], results, strict=True):
            if type(slot) is int:
                replies[slot] = result
            else:
                slot[0][4][slot[1]] = result
        self.remaining -= 1

    def fail(self, shard: int, problem: str) -> None:
        """Answer shard *shard*'s commands with an error instead."""
        message = error(f"ERR {problem}")
        for slot in self.slots[shard]:
            if type(slot) is int:
                self.replies[slot] = message
            else:
                slot[0][5] = True
                self.replies[slot[0][0]] = message
        self.remaining -= 1

    def finish(self) -> bytes:
        """Return every reply, in request order (once every shard filled in)."""
        replies = self.replies
        for i, command, args, parts, results, failed in self.multi:
            if not failed:
                replies[i] = command.combine(args, parts, results)
        return b"".join(replies)


def execute(commands: list[list[bytes]], nshards: int, run: Runner) -> tuple[bytes, bool]:
    """Run a batch of pipelined commands; return the replies and whether to close.

    ``run({shard: jobs, ...})`` runs ``[fn(store, args) for fn, args in jobs]``
    in each shard and returns ``{shard: results}`` (or the error that kept a
    shard from answering). Each shard gets its commands of the batch at once,
    in request order, so commands on one key always see each other's effects.
    (The benchmark's plain server calls this with one store and no processes.)
    """
    if len(commands) == 1:  # no pipelining: the common case, kept short
        args = commands[0]
        command = lookup(args[0])
        if command is not None and command.route == KEY:
            arity = command.arity
            if len(args) == arity or (arity < 0 and len(args) >= -arity):
                shard = hash(args[1]) % nshards if nshards > 1 else 0
                answer = run({shard: [(command.fn, args)]})[shard]  # type: ignore[list-item]
                if type(answer) is list:
                    return answer[0], False
                return error(f"ERR {answer}"), False
    plan = Plan(commands, nshards)
    if plan.jobs:
        for shard, answer in run(plan.jobs).items():
            if type(answer) is list:
                plan.fill(shard, answer)
            else:
                plan.fail(shard, str(answer))
    return plan.finish(), plan.close


# --- the processes ---------------------------------------------------------------------


@final
class ShardTable:
    """Where each shard runs now: ``pids[i]``, updated by a shard as it starts.

    The connections read it on every request, so a restarted shard is used
    at once (the role a named ETS table or ``persistent_term`` plays in Erlang).
    """

    __slots__ = ("clock", "pids")

    def __init__(self, shards: int, clock: Callable[[], float]) -> None:
        self.pids: list[gs.Pid | None] = [None] * shards
        self.clock = clock


# The fast path: a batch whose keys live in one shard is cast to it, and the
# shard writes the replies to the client itself. Nobody waits for anybody, and
# a shard drains many clients' batches per wake-up.


@final
class Session:
    """What a connection and the shards writing for it share.

    ``pending`` counts the batches cast to ``shard`` (or the ``plan`` out to
    several shards) whose replies are not written yet; while it is non-zero
    only that shard (or the plan's last shard) writes, in order.
    ``unsent`` counts ``Unsent`` messages (replies a shard could not write
    without blocking) the connection has still to write; while it is non-zero
    the shard hands every reply over instead of writing it.
    """

    __slots__ = ("conn", "pending", "pid", "plan", "shard", "shard_pid", "unsent", "waiting")

    def __init__(self, conn: net.Conn, pid: gs.Pid) -> None:
        self.conn = conn
        self.pid = pid
        self.pending = 0
        self.shard = -1  # GATHERING while a Plan is out
        self.shard_pid: gs.Pid | None = None
        self.plan: Plan | None = None
        self.unsent = 0
        self.waiting = False


@final
class Write:
    """Cast to a shard: run the jobs and write their replies to the session's client.

    A job whose function is None carries its reply already (PING, an error).
    """

    __slots__ = ("jobs", "session")

    def __init__(self, session: Session, jobs: list[tuple[Fn | None, Any]]) -> None:
        self.session = session
        self.jobs = jobs


@final
class Unsent:
    """From a shard: reply bytes the client's socket would not take at once."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


DRAINED: Final = "kv.drained"  # from a shard: the last pending batch is written


GATHERING: Final = -2  # Session.shard while a Plan visits several shards


@final
class PlanPart:
    """Sent to each shard a Plan needs: run your jobs, fill them in; the last one writes."""

    __slots__ = ("plan", "shard")

    def __init__(self, plan: Plan, shard: int) -> None:
        self.plan = plan
        self.shard = shard


def deliver(session: Session, out: bytes) -> None:
    """Write *out* to the session's client without blocking; hand the rest over."""
    conn = session.conn
    if conn.closed:
        return
    try:
        if session.unsent:  # the connection writes: keep the order
            session.unsent += 1
            gs.send(session.pid, Unsent(out))
        else:
            written = conn.send_nowait(out)
            if written < len(out):
                session.unsent += 1
                gs.send(session.pid, Unsent(out[written:]))
    except OSError:
        pass  # the client is gone; its connection process is on its way out


def written(session: Session) -> None:
    """One batch of the session's is written: tell a waiting connection when none is left."""
    session.pending -= 1
    if session.pending == 0 and session.waiting:
        gs.send(session.pid, DRAINED)


def shard_write(store: Store, write: Write) -> None:
    """Run a Write in its shard and write (or hand over) the replies."""
    deliver(write.session, b"".join([a if fn is None else fn(store, a) for fn, a in write.jobs]))
    written(write.session)


def complete(plan: Plan) -> None:
    """Every shard filled in its part: write the replies."""
    session = plan.session
    assert session is not None
    session.plan = None
    deliver(session, plan.finish())
    written(session)


def shard_plan_part(store: Store, part: PlanPart) -> None:
    """Run a shard's part of a Plan; the last shard to do so writes the replies."""
    plan = part.plan
    if plan.waiting.pop(part.shard, None) is None:
        return  # the connection gave up on this shard already
    plan.fill(part.shard, [fn(store, a) for fn, a in plan.jobs[part.shard]])
    if plan.remaining == 0:
        complete(plan)


class Shard(gs.GenServer[Store]):
    """Owns the keys that hash to it; runs the jobs connections send."""

    @classmethod
    def child_spec(cls, arg: object) -> gs.ChildSpec:
        assert isinstance(arg, tuple)
        return gs.ChildSpec(("shard", arg[1]), (cls.start_link, (arg,), {}))

    def init(self, arg: tuple[ShardTable, int]) -> gs.Ok[Store]:
        table, index = arg
        table.pids[index] = gs.self()
        return gs.Ok(Store(table.clock))

    def handle_info(self, msg: Any, store: Store) -> gs.NoReply[Store]:
        kind = type(msg)
        if kind is Write:
            shard_write(store, msg)
            return gs.NoReply(store)
        if kind is PlanPart:
            shard_plan_part(store, msg)
            return gs.NoReply(store)
        return super().handle_info(msg, store)  # type: ignore[return-value]

    def handle_call(self, request: Any, from_: gs.Ref, store: Store) -> gs.Reply[Store]:
        if request == "sweep":
            return gs.Reply(store.sweep(), store)
        return super().handle_call(request, from_, store)  # type: ignore[return-value]

    def handle_cast(self, request: Any, store: Store) -> gs.NoReply[Store]:
        if request == "sweep":
            if store.sweep() >= SWEEP_BUDGET:  # more are due: go on after what is queued
                gs.GenServer.cast(gs.self(), "sweep")
            return gs.NoReply(store)
        return super().handle_cast(request, store)  # type: ignore[return-value]


class Sweeper(gs.GenServer[tuple[ShardTable, float]]):
    """Every *interval* seconds without a message (``timeout=``), has the shards sweep."""

    def init(self, arg: tuple[ShardTable, float]) -> gs.Ok[tuple[ShardTable, float]]:
        return gs.Ok(arg, timeout=arg[1])

    def handle_info(
        self, msg: Any, state: tuple[ShardTable, float]
    ) -> gs.NoReply[tuple[ShardTable, float]]:
        if msg == "timeout":
            for pid in state[0].pids:
                gs.GenServer.cast(pid, "sweep")
            return gs.NoReply(state, timeout=state[1])
        return super().handle_info(msg, state)  # type: ignore[return-value]

    def handle_call(
        self, request: Any, from_: gs.Ref, state: tuple[ShardTable, float]
    ) -> gs.Reply[tuple[ShardTable, float]]:
        if request == "sweep":  # sweep now and say how many keys went
            dropped = sum(gs.GenServer.call(pid, "sweep") for pid in state[0].pids)
            return gs.Reply(dropped, state, timeout=state[1])
        return super().handle_call(request, from_, state)  # type: ignore[return-value]


@final
class Client:
    """A connection's state: its socket, unparsed bytes, what the shards owe it."""

    __slots__ = ("buf", "conn", "monitors", "nshards", "session", "table")

    def __init__(self, conn: net.Conn, table: ShardTable) -> None:
        self.conn = conn
        self.table = table
        self.nshards = len(table.pids)
        self.session = Session(conn, gs.self())
        self.monitors: dict[gs.Pid, gs.Ref] = {}  # each shard used, monitored once
        self.buf = b""

    def watch(self, pid: gs.Pid) -> None:
        """Monitor shard *pid* (once): if it dies owing replies, its Down tells."""
        if pid not in self.monitors:
            self.monitors[pid] = gs.monitor(pid)


class Closing(Exception):
    """Raised inside a connection to end it: QUIT, a protocol error, a dead peer."""


class KVConnection(gs.GenServer[Client]):
    """One client, in active mode: each Data message is a batch of commands.

    A batch whose keys all live in one shard is cast to that shard, which
    writes the replies itself (``shard_write``); a batch that spans shards is
    a ``Plan`` each of them fills in, and the last one writes (``send_plan``).
    What a shard cannot write without blocking comes back as ``Unsent`` for
    this process to write. The client gets its replies in request order: a
    batch that could overtake replies still owed waits for them (``drain``).
    """

    def init(self, arg: tuple[net.Conn, ShardTable]) -> gs.Ok[Client]:
        conn, table = arg
        conn.set_active("once")
        return gs.Ok(Client(conn, table))

    def handle_info(self, msg: Any, client: Client) -> gs.NoReply[Client] | gs.Stop[Client]:
        kind = type(msg)
        try:
            if kind is net.Data:
                on_data(client, msg.data)
                client.conn.set_active("once")
            elif kind is Unsent:
                write_unsent(client, msg)
            elif kind is gs.Down:
                on_shard_down(client, msg)
            elif kind is net.Closed:
                return gs.Stop("normal", client)
            elif msg != DRAINED:  # a late one is harmless
                return super().handle_info(msg, client)
        except (Closing, OSError):  # OSError: the peer reset the connection
            client.conn.close()
            return gs.Stop("normal", client)
        return gs.NoReply(client)


def write_unsent(client: Client, unsent: Unsent) -> None:
    client.conn.send(unsent.data)  # blocks this client's process only
    client.session.unsent -= 1


def on_shard_down(client: Client, down: gs.Down) -> None:
    """A shard died: what it owed this client becomes error replies."""
    if client.monitors.get(down.pid) is down.ref:  # type: ignore[call-overload]
        del client.monitors[down.pid]  # type: ignore[arg-type]
    session = client.session
    problem = "exited while running the command"
    if session.pending and session.shard >= 0 and session.shard_pid == down.pid:
        # Its Unsent messages came before its Down, and were written.
        lost, session.pending = session.pending, 0
        client.conn.send(error(f"ERR shard {session.shard} {problem}") * lost)
    plan = session.plan
    if plan is not None:
        lost_parts = [shard for shard, pid in plan.waiting.items() if pid == down.pid]
        for shard in lost_parts:
            del plan.waiting[shard]
            plan.fail(shard, f"shard {shard} {problem}")
        if lost_parts and plan.remaining == 0:
            complete(plan)


def _is_for_barrier(msg: object) -> bool:
    return type(msg) is Unsent or msg == DRAINED or type(msg) is gs.Down


def drain(client: Client) -> None:
    """Wait until the shard has written (or handed over) every reply it owes."""
    session = client.session
    while session.pending or session.unsent:
        session.waiting = True
        try:
            msg = gs.receive(_is_for_barrier)
        finally:
            session.waiting = False
        if type(msg) is Unsent:
            write_unsent(client, msg)
        elif type(msg) is gs.Down:
            on_shard_down(client, msg)


def on_data(client: Client, data: bytes) -> None:
    buf = client.buf + data if client.buf else data
    commands, used, problem = parse(buf)
    client.buf = buf[used:] if used < len(buf) else b""
    if commands and not cast_batch(client, commands) and send_plan(client, commands):
        drain(client)  # QUIT: once the replies are out, close
        raise Closing
    if problem is not None:
        drain(client)
        client.conn.send(problem.reply())
        raise Closing


def send_plan(client: Client, commands: list[list[bytes]]) -> bool:
    """Send each shard its part of *commands*; the last shard writes. True on QUIT."""
    drain(client)  # a Plan's writer is not known in advance: nothing may be owed
    plan = Plan(commands, client.nshards)
    if not plan.jobs:
        client.conn.send(plan.finish())
        return plan.close
    session = client.session
    plan.session = session
    session.plan = plan
    session.shard = GATHERING
    session.pending += 1
    pids = client.table.pids
    for shard in plan.jobs:
        pid = pids[shard]
        if pid is None:
            plan.fail(shard, f"shard {shard} is unavailable")
            continue
        client.watch(pid)  # a dead shard answers with its Down
        plan.waiting[shard] = pid
        gs.send(pid, PlanPart(plan, shard))
    if plan.remaining == 0:  # no shard to ask
        complete(plan)
    return plan.close


def cast_batch(client: Client, commands: list[list[bytes]]) -> bool:
    """Cast *commands* to the one shard their keys live in; False if they need more.

    PINGs and errors ride along as ready replies. Keys in several shards,
    multi-key commands and QUIT return False (``send_plan`` then).
    """
    nshards = client.nshards
    session = client.session
    shard = -1
    jobs: list[tuple[Fn | None, Any]] = []
    for args in commands:
        command = lookup(args[0])
        if command is None:
            jobs.append((None, unknown_command(args)))
            continue
        arity = command.arity
        if not (len(args) == arity or (arity < 0 and len(args) >= -arity)):
            jobs.append((None, command.arity_error()))
            continue
        route = command.route
        if route == KEY:
            target = hash(args[1]) % nshards if nshards > 1 else 0
            if shard < 0:
                shard = target
            elif target != shard:
                return False
            jobs.append((command.fn, args))
        elif route == LOCAL and command.name != "quit":
            assert command.local is not None
            jobs.append((None, command.local(args)))
        else:
            return False
    if shard < 0:  # nothing for a shard
        if session.pending and session.shard >= 0:
            shard = session.shard  # behind what a shard is writing: it writes these too
        else:
            drain(client)
            client.conn.send(b"".join(reply for _, reply in jobs))
            return True
    pid = client.table.pids[shard]
    if session.pending and (shard != session.shard or pid != session.shard_pid):
        drain(client)  # another shard (or a dead one) owes replies: let it finish first
    if pid is None or not gs.alive(pid):
        return False  # the Plan path reports the shard unavailable
    client.watch(pid)
    session.pending += 1
    session.shard = shard
    session.shard_pid = pid
    gs.send(pid, Write(session, jobs))
    return True


class KVServer:
    """A running KV server: its supervisor and the listener's port."""

    def __init__(self, pid: gs.Pid, listener: net.Listener, table: ShardTable) -> None:
        self.pid = pid
        self.listener = listener
        self.table = table

    @property
    def port(self) -> int:
        return self.listener.port

    def sweep(self) -> int:
        """Sweep every shard now; return how many expired keys were dropped."""
        for child_id, pid, _ in gs.Supervisor.which_children(self.pid):
            if child_id == "sweeper":
                return gs.GenServer.call(pid, "sweep")  # type: ignore[no-any-return]
        raise RuntimeError("the KV server has no sweeper")

    def stop(self, grace: float = 1.0) -> None:
        """Stop accepting, give clients *grace* seconds to finish, then stop everything."""
        if not gs.alive(self.pid):
            return
        self.listener.suspend()
        self.listener.wait_drained(grace)
        gs.Supervisor.stop(self.pid)


def start(
    host: str = "127.0.0.1",
    port: int = 6380,
    *,
    shards: int = 4,
    acceptors: int = 4,
    sweep_interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> KVServer:
    """Start the KV server's supervision tree, linked to the caller."""
    table = ShardTable(shards, clock)
    children: list[object] = [
        gs.ChildSpec(
            "shards",
            (
                gs.Supervisor.start_link,
                ([(Shard, (table, i)) for i in range(shards)],),
                {"strategy": "one_for_one", "max_restarts": 10, "max_seconds": 5.0},
            ),
            type="supervisor",
        ),
        gs.ChildSpec("sweeper", (Sweeper.start_link, ((table, sweep_interval),), {})),
        net.child_spec(
            KVConnection, table, id="listener", host=host, port=port, acceptors=acceptors
        ),
    ]
    pid = gs.Supervisor.start_link(children, strategy="rest_for_one")
    assert pid is not None
    for child_id, child, _ in gs.Supervisor.which_children(pid):
        if child_id == "listener":
            assert type(child) is gs.Pid
            return KVServer(pid, net.Listener.of(child), table)
    raise AssertionError("unreachable: the listener is a child")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A Redis-protocol key-value server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6380)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--grace", type=float, default=1.0, help="seconds clients get on stop")
    args = parser.parse_args(argv)
    # Reports (crashes, restarts) go to stderr; progress reports are debug-level noise.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    me = gs.self()

    def on_signal(signum: int) -> None:
        gs.send(me, ("signal", signum))

    handlers = [
        gevent.signal_handler(signal.SIGTERM, on_signal, signal.SIGTERM),
        gevent.signal_handler(signal.SIGINT, on_signal, signal.SIGINT),
    ]
    try:
        server = start(args.host, args.port, shards=args.shards)
    except OSError as exc:
        print(f"kv_server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"kv_server: listening on {args.host}:{server.port}", flush=True)
    msg = gs.receive(lambda m: type(m) is tuple and m[0] == "signal")
    assert isinstance(msg, tuple)
    print(f"kv_server: got {signal.Signals(msg[1]).name}, stopping", flush=True)
    server.stop(args.grace)
    for handler in handlers:
        handler.cancel()
    print("kv_server: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
