"""The commands: what each does to a store, and how a batch of them is planned.

A single-key command (``cmd_*``) runs in the shard its key hashes to. A
multi-key command is split into parts (``part_*``), one per shard, whose
results are combined. ``Plan`` routes a pipelined batch; ``execute`` runs
one with any ``run`` function (shard processes, or one store in the plain
benchmark server). Nothing here knows of processes or sockets.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

from kv.protocol import (
    EMPTY_ARRAY,
    LLONG_MAX,
    LLONG_MIN,
    NIL,
    NOT_INTEGER,
    OK,
    ONE,
    OVERFLOW,
    PONG,
    SYNTAX_ERROR,
    ZERO,
    array,
    bulk,
    error,
    integer,
    parse_int,
)
from kv.store import Store

if TYPE_CHECKING:
    import greenserver as gs
    from kv.server import Session

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
            if amount <= 0 or (opt == b"EX" and amount > LLONG_MAX // 1000):
                return b"-ERR invalid expire time in 'set' command\r\n"
            ttl_ms = amount * 1000 if opt == b"EX" else amount
            if ttl_ms > LLONG_MAX - int(time.time() * 1000):
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
    if result > LLONG_MAX or result < LLONG_MIN:
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
    if delta is None or delta == LLONG_MIN:
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
    if abs(amount) > LLONG_MAX // unit_ms:
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
SPLIT: Final = 2  # many keys or all shards: split, run, combine
TX: Final = 3  # MULTI, EXEC, DISCARD: the connection's Transaction

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
    # Arity -1 in the table and checked here, as Redis does: inside MULTI,
    # "PING a b" is queued and fails at EXEC.
    if len(args) > 2:
        return error("ERR wrong number of arguments for 'ping' command")
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
    Command("multi", 1, TX),
    Command("exec", 1, TX),
    Command("discard", 1, TX),
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
    Command("del", -2, SPLIT, split=_split_keys(part_delete), combine=_combine_sum),
    Command("exists", -2, SPLIT, split=_split_keys(part_exists), combine=_combine_sum),
    Command("mget", -2, SPLIT, split=_split_mget, combine=_combine_mget),
    Command("mset", -3, SPLIT, split=_split_mset, combine=_combine_ok),
    Command("keys", 2, SPLIT, split=_to_all(part_keys), combine=_combine_keys),
    Command("dbsize", 1, SPLIT, split=_to_all(part_dbsize), combine=_combine_sum),
    Command("flushdb", -1, SPLIT, split=_split_flush, combine=_combine_ok),
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

    __slots__ = (
        "close",
        "jobs",
        "multi",
        "remaining",
        "replies",
        "session",
        "slots",
        "transaction",
        "waiting",
    )

    def __init__(
        self, commands: list[list[bytes]], nshards: int, *, transaction: bool = False
    ) -> None:
        replies: list[bytes] = [b""] * len(commands)
        jobs: dict[int, list[Job]] = {}
        slots: dict[int, list[Any]] = {}  # per shard: reply index, or (multi entry, part)
        multi: list[list[Any]] = []  # [reply index, command, args, parts, results, failed]
        self.close = False
        self.transaction = transaction  # EXEC: the replies go out as one array
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
            elif route == TX:  # only a connection's Transaction knows what to do
                replies[i] = error(f"ERR {command.name.upper()} is not supported here")
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
        if self.transaction:
            return b"*%d\r\n%b" % (len(replies), b"".join(replies))
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


# --- MULTI ... EXEC ----------------------------------------------------------------

QUEUED: Final = b"+QUEUED\r\n"
EXECABORT: Final = b"-EXECABORT Transaction discarded because of previous errors.\r\n"

RUN: Final = 0  # a step: run these commands as a batch
REPLY: Final = 1  # a step: write this reply, after everything before it
EXEC: Final = 2  # a step: run these commands as a transaction, replies in one array

Step = tuple[int, Any]


@final
class Transaction:
    """One connection's MULTI: the commands queued until EXEC, as Redis does it.

    After MULTI each command is checked (known, right number of arguments)
    and queued, and answered ``+QUEUED``; one that fails the check is
    answered with its error and makes EXEC abort. EXEC runs the queue as one
    batch and answers with an array of its replies; DISCARD drops it.

    Each shard runs its part of a transaction in one go, so a transaction
    whose keys live in one shard sees no other client's commands in between,
    as in Redis; one that spans shards is not isolated from commands that
    other clients send to those shards meanwhile. WATCH is not supported.
    """

    __slots__ = ("failed", "queued")

    def __init__(self) -> None:
        self.queued: list[list[bytes]] | None = None  # None: not inside MULTI
        self.failed = False

    def steps(self, commands: list[list[bytes]]) -> list[Step]:
        """Turn a batch into steps to take in order: (RUN, batch), (REPLY, bytes), (EXEC, batch)."""
        steps: list[Step] = []
        batch: list[list[bytes]] = []

        def reply(data: bytes) -> None:
            nonlocal batch
            if batch:
                steps.append((RUN, batch))
                batch = []
            if steps and steps[-1][0] == REPLY:  # write consecutive replies at once
                steps[-1] = (REPLY, steps[-1][1] + data)
            else:
                steps.append((REPLY, data))

        for args in commands:
            command = lookup(args[0])
            arity = command.arity if command is not None else 0
            arity_ok = len(args) == arity or (arity < 0 and len(args) >= -arity)
            if command is not None and command.route == TX:
                if command.name == "exec" and not arity_ok:  # as Redis: EXEC's own error aborts
                    self.queued = None
                    message = command.arity_error()[5:]  # without "-ERR "
                    reply(b"-EXECABORT Transaction discarded because of: %b" % message)
                elif not arity_ok:
                    reply(command.arity_error())
                elif command.name == "multi":
                    if self.queued is not None:
                        reply(b"-ERR MULTI calls can not be nested\r\n")
                    else:
                        self.queued, self.failed = [], False
                        reply(OK)
                elif self.queued is None:
                    reply(error(f"ERR {command.name.upper()} without MULTI"))
                elif command.name == "discard":
                    self.queued = None
                    reply(OK)
                else:  # EXEC
                    queued, self.queued = self.queued, None
                    if self.failed:
                        reply(EXECABORT)
                    else:
                        if batch:
                            steps.append((RUN, batch))
                            batch = []
                        steps.append((EXEC, queued))
            elif self.queued is None or (command is not None and command.name == "quit"):
                batch.append(args)  # QUIT is never queued: it closes the connection
            elif command is None:
                self.failed = True
                reply(unknown_command(args))
            elif not arity_ok:
                self.failed = True
                reply(command.arity_error())
            else:
                self.queued.append(args)
                reply(QUEUED)
        if batch:
            steps.append((RUN, batch))
        return steps
