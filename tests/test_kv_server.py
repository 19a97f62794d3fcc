"""examples/kv_server.py: a Redis-protocol server, checked with real Redis clients.

The server runs in-process on port 0 (one subprocess for the signal tests).
redis-py uses blocking sockets, so it runs in gevent's thread pool while this
greenlet waits cooperatively and the hub serves; redis-cli and redis-server
(Debian's redis-tools and redis-server, installed by ``make sysdeps``) run as
subprocesses through gevent.subprocess.
"""

from __future__ import annotations

import signal
import socket as stdlib_socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import gevent
import pytest
import redis
from gevent import socket, subprocess

import greenserver as gs
import kv_server
from greenserver.testing import ManualClock, ReportLog

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kv_server.py"
T = TypeVar("T")


def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking code (redis-py) in a real OS thread; the hub keeps serving meanwhile."""
    return gevent.get_hub().threadpool.apply(fn)  # type: ignore[no-any-return]


@pytest.fixture
def kv() -> Iterator[kv_server.KVServer]:
    server = kv_server.start(port=0, shards=4)
    yield server
    server.stop(grace=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def kv_clocked(clock: ManualClock) -> Iterator[kv_server.KVServer]:
    """A server whose keys expire by a manual clock; its periodic sweep is off (1 hour)."""
    server = kv_server.start(port=0, shards=4, clock=clock, sweep_interval=3600.0)
    yield server
    server.stop(grace=0)


class Client:
    """A minimal RESP client on a cooperative socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> kv_server.Reply:
        value, raw = self.raw_reply()
        del raw
        return value

    def raw_reply(self) -> tuple[kv_server.Reply, bytes]:
        while True:
            if self.buf:
                parsed = kv_server.parse_reply(self.buf)
                if parsed is not None:
                    value, end = parsed
                    raw, self.buf = self.buf[:end], self.buf[end:]
                    return value, raw
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; unparsed {self.buf!r}")
            self.buf += chunk

    def __call__(self, *args: bytes | str | int) -> kv_server.Reply:
        self.send_raw(kv_server.encode_command(*args))
        return self.reply()

    def at_eof(self) -> bool:
        return not self.buf and self.sock.recv(1) == b""


@pytest.fixture
def client(kv: kv_server.KVServer) -> Iterator[Client]:
    c = Client(kv.port)
    yield c
    c.close()


def shards(server: kv_server.KVServer) -> list[gs.Pid]:
    return [pid for pid in server.table.pids if pid is not None]


def keys_held(server: kv_server.KVServer) -> int:
    """Keys in memory, expired or not (without touching them)."""
    return sum(len(gs.sys.get_state(pid).data) for pid in shards(server))


class TestRedisPy:
    def test_strings_counters_and_keys(self, kv: kv_server.KVServer) -> None:
        def session() -> list[object]:
            r = redis.Redis(port=kv.port, protocol=2, socket_timeout=10)
            try:
                return [
                    r.ping(),
                    r.set("greeting", "hello"),
                    r.get("greeting"),
                    r.get("missing"),
                    r.incr("hits"),
                    r.incrby("hits", 10),
                    r.decr("hits"),
                    r.mset({"a": 1, "b": 2, "c": 3}),
                    r.mget("a", "missing", "c"),
                    r.exists("a", "b", "missing"),
                    sorted(r.keys("*")),
                    sorted(r.keys("[ab]")),
                    r.delete("a", "b", "missing"),
                    r.set("greeting", "again", nx=True),
                    r.set("fresh", "x", xx=True),
                    r.set("temp", "x", ex=100),
                    r.ttl("temp"),
                    r.expire("greeting", 50),
                    r.ttl("greeting"),
                    r.persist("greeting"),
                    r.ttl("greeting"),
                    r.ttl("missing"),
                    r.dbsize(),
                    r.echo("echo"),
                    r.flushdb(),
                    r.dbsize(),
                ]
            finally:
                r.close()

        assert in_thread(session) == [
            True,
            True,
            b"hello",
            None,
            1,
            11,
            10,
            True,
            [b"1", None, b"3"],
            2,
            [b"a", b"b", b"c", b"greeting", b"hits"],
            [b"a", b"b"],
            2,
            None,
            None,
            True,
            100,
            True,
            50,
            True,
            -1,
            -2,
            4,
            b"echo",
            True,
            0,
        ]

    def test_a_pipeline_runs_in_order_across_shards(self, kv: kv_server.KVServer) -> None:
        def session() -> list[Any]:
            r = redis.Redis(port=kv.port, protocol=2, socket_timeout=10)
            try:
                pipe = r.pipeline(transaction=False)
                for i in range(200):
                    pipe.set(f"key:{i}", i)
                    pipe.incr(f"key:{i}")
                    pipe.get(f"key:{i}")
                pipe.mget([f"key:{i}" for i in range(0, 200, 50)])
                pipe.delete(*[f"key:{i}" for i in range(100)])
                pipe.dbsize()
                return pipe.execute()  # type: ignore[no-any-return]
            finally:
                r.close()

        results = in_thread(session)

        assert results[:3] == [True, 1, b"1"]
        assert results[597:600] == [True, 200, b"200"]
        assert results[600:] == [[b"1", b"51", b"101", b"151"], 100, 100]

    def test_a_transaction_pipeline_across_shards(self, kv: kv_server.KVServer) -> None:
        """redis-py's pipeline() sends MULTI ... EXEC by default (transaction=True)."""

        def session() -> tuple[list[Any], list[Any], list[Any], object]:
            r = redis.Redis(port=kv.port, protocol=2, socket_timeout=10)
            try:
                pipe = r.pipeline()  # transaction=True
                for i in range(20):
                    pipe.set(f"tx:{i}", i).incr(f"tx:{i}")
                pipe.mget([f"tx:{i}" for i in range(0, 20, 5)])
                pipe.ping()
                first = pipe.execute()
                with r.pipeline() as pipe:
                    second = (
                        pipe.set("tx:text", "abc")
                        .incr("tx:text")
                        .get("tx:text")
                        .execute(raise_on_error=False)
                    )
                with r.pipeline() as pipe:
                    pipe.set("tx:never", 1)
                    pipe.reset()  # DISCARD, or nothing: either way nothing ran
                empty = r.pipeline().execute()
                return first, second, empty, r.get("tx:never")
            finally:
                r.close()

        first, second, empty, never = in_thread(session)

        assert first[:40] == [x for i in range(20) for x in (True, i + 1)]
        assert first[40:] == [[b"1", b"6", b"11", b"16"], True]
        assert second[:1] == [True]
        assert isinstance(second[1], redis.ResponseError)
        assert second[2] == b"abc"
        assert empty == []
        assert never is None

    def test_errors_are_redis_errors(self, kv: kv_server.KVServer) -> None:
        def session() -> list[str]:
            r = redis.Redis(port=kv.port, protocol=2, socket_timeout=10)
            errors = []
            try:
                r.set("text", "abc")
                for call in (
                    lambda: r.incr("text"),
                    lambda: r.execute_command("GET"),
                    lambda: r.execute_command("NOPE", "x"),
                    lambda: r.execute_command("SET", "k", "v", "EX", "0"),
                ):
                    try:
                        call()
                    except redis.ResponseError as exc:
                        errors.append(str(exc))
                return errors
            finally:
                r.close()

        assert in_thread(session) == [
            "value is not an integer or out of range",
            "wrong number of arguments for 'get' command",
            "unknown command 'NOPE', with args beginning with: 'x' ",
            "invalid expire time in 'set' command",
        ]


def redis_cli(port: int, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=True,
    )
    return done.stdout.decode()  # type: ignore[no-any-return]


class TestRedisCli:
    def test_commands_and_their_output(self, kv: kv_server.KVServer) -> None:
        outputs = [
            redis_cli(kv.port, "PING"),
            redis_cli(kv.port, "SET", "name", "green server"),
            redis_cli(kv.port, "GET", "name"),
            redis_cli(kv.port, "INCR", "n"),
            redis_cli(kv.port, "MGET", "name", "n", "nothing"),
            redis_cli(kv.port, "GET"),
            redis_cli(kv.port, "FROB", "a"),
        ]

        assert outputs == [
            "PONG\n",
            "OK\n",
            "green server\n",
            "1\n",
            "green server\n1\n\n",
            "ERR wrong number of arguments for 'get' command\n\n",
            "ERR unknown command 'FROB', with args beginning with: 'a' \n\n",
        ]

    def test_pipe_mode_mass_insertion(self, kv: kv_server.KVServer, client: Client) -> None:
        commands = b"".join(kv_server.encode_command("SET", f"k{i}", i) for i in range(5000))

        out = redis_cli(kv.port, "--pipe", stdin=commands)

        assert "errors: 0, replies: 5000" in out
        assert client("DBSIZE") == 5000
        assert client("GET", "k4999") == b"4999"


class TestProtocol:
    def test_inline_commands_with_quotes(self, client: Client) -> None:
        client.send_raw(b'SET "two words" \'it\\\'s\'\r\nGET "two words"\r\nECHO "a\\x41\\n"\r\n')

        assert [client.reply() for _ in range(3)] == [b"OK", b"it's", b"aA\n"]

    def test_a_pipeline_is_answered_in_order(self, client: Client) -> None:
        batch = b"".join(
            kv_server.encode_command(*cmd)
            for i in range(100)
            for cmd in (("SET", f"k{i}", i), ("INCR", f"k{i}"), ("GET", f"k{i}"), ("PING",))
        )
        client.send_raw(batch + kv_server.encode_command("EXISTS", *[f"k{i}" for i in range(100)]))

        replies = [client.reply() for _ in range(401)]

        assert replies[:4] == [b"OK", 1, b"1", b"PONG"]
        assert replies[396:] == [b"OK", 100, b"100", b"PONG", 100]

    def test_commands_split_across_reads_are_put_together(self, client: Client) -> None:
        data = kv_server.encode_command("SET", "split", "x" * 1000) + b"PING\r\n"
        for i in range(0, len(data), 7):
            client.send_raw(data[i : i + 7])

        assert [client.reply(), client.reply()] == [b"OK", b"PONG"]

    @pytest.mark.parametrize(
        ("garbage", "error"),
        [
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\nx3\r\n", "ERR Protocol error: expected '$', got 'x'"),
            (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
            (b'ECHO "open\r\n', "ERR Protocol error: unbalanced quotes in request"),
        ],
    )
    def test_a_protocol_error_closes_only_that_connection(
        self, kv: kv_server.KVServer, client: Client, garbage: bytes, error: str
    ) -> None:
        bad = Client(kv.port)
        try:
            bad.send_raw(b"PING\r\n" + garbage)

            assert bad.reply() == b"PONG"
            assert bad.reply() == kv_server.ReplyError(error)
            assert bad.at_eof()
        finally:
            bad.close()
        assert client("PING") == b"PONG"

    def test_quit_answers_then_closes_and_ignores_the_rest(self, client: Client) -> None:
        client.send_raw(b"SET a 1\r\nQUIT\r\nSET a 2\r\n")

        assert [client.reply(), client.reply()] == [b"OK", b"OK"]
        assert client.at_eof()

    def test_hello_speaks_resp2_and_refuses_resp3(self, client: Client) -> None:
        hello = client("HELLO", "2")

        assert isinstance(hello, list)
        assert dict(zip(hello[::2], hello[1::2], strict=True))[b"proto"] == 2
        assert client("HELLO", "3") == "NOPROTO sorry, this protocol version is not supported"

    def test_error_texts_match_redis(self, client: Client) -> None:
        assert client("foo") == "ERR unknown command 'foo', with args beginning with: "
        assert client("GET", "a", "b") == "ERR wrong number of arguments for 'get' command"
        assert client("MSET", "a", "1", "b") == "ERR wrong number of arguments for 'mset' command"
        assert client("SET", "k", "v", "NX", "XX") == "ERR syntax error"
        assert client("EXPIRE", "k", "1", "FOO") == "ERR Unsupported option FOO"


class TestConcurrency:
    def test_many_pipelining_clients_get_their_replies_in_order(
        self, kv: kv_server.KVServer
    ) -> None:
        """Batches cast to one shard, batches gathered from several and bare PINGs interleave."""
        me = gs.self()

        def client_process(index: int) -> None:
            c = Client(kv.port)
            try:
                mismatches = []
                for round_ in range(30):
                    own = f"c{index}:own"  # one key: cast to its shard
                    many = [f"c{index}:k{i}" for i in range(6)]  # several shards: gathered
                    batches: list[tuple[list[tuple[str, ...]], list[kv_server.Reply]]] = [
                        (
                            [("SET", own, round_), ("INCR", own), ("GET", own)],
                            [b"OK", round_ + 1, str(round_ + 1).encode()],
                        ),
                        ([("PING",)], [b"PONG"]),
                        ([("MSET", *[x for k in many for x in (k, round_)])], [b"OK"]),
                        (
                            [("GET", k) for k in many] + [("PING",), ("INCR", own)],
                            [str(round_).encode()] * 6 + [b"PONG", round_ + 2],
                        ),
                        ([("MGET", *many), ("ECHO", "x")], [[str(round_).encode()] * 6, b"x"]),
                    ]
                    # Pipeline everything at once, then check every reply in order.
                    c.send_raw(
                        b"".join(
                            kv_server.encode_command(*cmd) for cmds, _ in batches for cmd in cmds
                        )
                    )
                    for cmds, expected in batches:
                        got = [c.reply() for _ in cmds]
                        if got != expected:
                            mismatches.append((round_, cmds, got, expected))
                gs.send(me, ("done", index, mismatches))
            finally:
                c.close()

        for i in range(40):
            gs.spawn(client_process, i)
        results = [gs.receive(lambda m: type(m) is tuple and m[0] == "done", 30) for _ in range(40)]

        assert [r[2] for r in results] == [[]] * 40


def keys_in_shards(server: kv_server.KVServer, count: int) -> list[str]:
    """One key per shard, for *count* different shards."""
    n = len(server.table.pids)
    found: dict[int, str] = {}
    i = 0
    while len(found) < count:
        key = f"key{i}"
        found.setdefault(hash(key.encode()) % n, key)
        i += 1
    return list(found.values())


def same_shard(server: kv_server.KVServer, key: str) -> str:
    """Another key in the shard of *key*."""
    n = len(server.table.pids)
    i = 0
    while True:
        other = f"{key}:{i}"
        if hash(other.encode()) % n == hash(key.encode()) % n:
            return other
        i += 1


class TestReplyOrder:
    def test_batches_cast_to_shards_are_answered_in_request_order(
        self, kv: kv_server.KVServer, client: Client
    ) -> None:
        """Each Data message is one batch; shards held back make the casts pile up."""
        assert client("PING") == b"PONG"
        [handler] = kv.listener.connections()
        conn = gs.sys.get_state(handler).conn
        a, b = keys_in_shards(kv, 2)
        batches = [
            [("SET", a, "1")],  # cast to a's shard
            [("PING",)],  # rides along with the cast: nothing for a shard
            [("INCR", a), ("GET", a)],  # same shard: cast again, no waiting
            [("SET", b, "x")],  # another shard: waits until a's shard is done
            [("MGET", a, b)],  # several shards: gathered
            [("ECHO", "end")],
        ]
        gs.sys.suspend(handler)
        for batch in batches:
            data = b"".join(kv_server.encode_command(*cmd) for cmd in batch)
            gs.send(handler, kv_server.net.Data(conn, data))
        for pid in shards(kv):
            gs.sys.suspend(pid)

        gs.sys.resume(handler)
        for pid in shards(kv):
            gs.sys.resume(pid)

        replies = [client.reply() for _ in range(7)]
        assert replies == [b"OK", b"PONG", 2, b"2", b"OK", [b"2", b"x"], b"end"]

    def test_a_shard_that_dies_owing_replies_leaves_errors_in_their_place(
        self, kv: kv_server.KVServer, client: Client, gs_reports: ReportLog
    ) -> None:
        [key] = keys_in_shards(kv, 1)
        shard = kv.table.pids[hash(key.encode()) % len(kv.table.pids)]
        assert shard is not None
        gs.sys.suspend(shard)  # it will owe the reply
        me = gs.self()

        def on_send(event: dict[str, Any]) -> None:
            if event["to"] == shard and isinstance(event["msg"], kv_server.Write):
                gs.send(me, "cast")

        handle = gs.trace.add_handler(on_send, events=["send"])
        try:
            client.send_raw(kv_server.encode_command("SET", key, "1"))
            gs.receive(lambda m: m == "cast", timeout=5)
        finally:
            gs.trace.remove_handler(handle)
        gs_reports.expect("supervisor_report", pid=shard, context="child_terminated")

        gs.exit(shard, "kill")

        assert client.reply().startswith("ERR shard ")  # type: ignore[union-attr]
        assert client("SET", key, "2") == b"OK"  # its restarted successor
        assert client("GET", key) == b"2"

    def test_a_shard_that_dies_owing_its_part_of_a_batch_leaves_errors_there(
        self, kv: kv_server.KVServer, client: Client, gs_reports: ReportLog
    ) -> None:
        a, b = keys_in_shards(kv, 2)
        n = len(kv.table.pids)
        assert client("SET", a, "A") == b"OK"
        assert client("SET", b, "B") == b"OK"
        doomed = kv.table.pids[hash(b.encode()) % n]
        assert doomed is not None
        gs.sys.suspend(doomed)
        me = gs.self()

        def on_send(event: dict[str, Any]) -> None:
            if event["to"] == doomed and isinstance(event["msg"], kv_server.PlanPart):
                gs.send(me, "planned")

        handle = gs.trace.add_handler(on_send, events=["send"])
        try:
            client.send_raw(
                kv_server.encode_command("GET", a)
                + kv_server.encode_command("GET", b)
                + kv_server.encode_command("MGET", a, b)
            )
            gs.receive(lambda m: m == "planned", timeout=5)
        finally:
            gs.trace.remove_handler(handle)
        gs_reports.expect("supervisor_report", pid=doomed, context="child_terminated")

        gs.exit(doomed, "kill")

        lost = kv_server.ReplyError(
            f"ERR shard {hash(b.encode()) % n} exited while running the command"
        )
        assert [client.reply() for _ in range(3)] == [b"A", lost, lost]
        assert client("GET", a) == b"A"

    def test_a_client_that_does_not_read_does_not_hold_up_its_shard(
        self, kv: kv_server.KVServer
    ) -> None:
        slow, quick = Client(kv.port), Client(kv.port)
        try:
            big = "big"
            small = same_shard(kv, big)
            value = b"v" * (16 * 1024 * 1024)  # more than the socket buffers take
            assert slow("SET", big, value) == b"OK"
            assert quick("SET", small, "1") == b"OK"

            slow.send_raw(kv_server.encode_command("GET", big))  # and do not read yet
            assert quick("GET", small) == b"1"  # the shard answers others meanwhile

            assert slow.reply() == value
            assert slow("PING") == b"PONG"
        finally:
            slow.close()
            quick.close()


@pytest.fixture
def redis_server() -> Iterator[int]:
    """Debian's redis-server on a free port: the reference."""
    with stdlib_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--loglevel", "notice"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        log = b""
        while b"Ready to accept connections" not in log:
            line = proc.stdout.readline()
            assert line, f"redis-server exited: {log.decode()}"
            log += line
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


DIFFERENTIAL_SCRIPT = """
PING
PING hello
PING a b
ping a b c
ECHO "two words"
SET a 1
GET a
GET missing
SET a 2 NX
SET a 3 XX
SET b 1 XX
SET c 1 GET
SET c 2 GET
SET k v EX 0
SET k v PX -1
SET k v EX abc
SET k v EX 10 PX 10
SET k v KEEPTTL EX 1
SET k v BLAH
INCR a
INCR b
INCRBY a 10
INCRBY a x
DECRBY a 5
DECR a
SET text hello
INCR text
SET big 9223372036854775807
INCR big
SET neg -9223372036854775808
DECR neg
SET plus +1
INCR plus
SET lead 01
INCR lead
MSET x 1 y 2 z 3
MSET x
MGET x y z missing
MGET
EXISTS x y z z missing
DEL x missing
DEL
EXISTS
EXPIRE y 100
TTL y
EXPIRE y 50 GT
EXPIRE y 200 GT
TTL y
EXPIRE y 10 NX
EXPIRE y 10 XX LT
TTL y
EXPIRE y 10 NX XX
EXPIRE y 10 GT LT
EXPIRE y 10 BOGUS
EXPIRE y abc
EXPIRE missing 10
PERSIST y
PERSIST y
TTL y
TTL missing
EXPIRE z 0
EXISTS z
PEXPIRE y 100000
PERSIST y
DBSIZE
KEYS nomatch*
GET
SET
NOSUCHCOMMAND arg1 arg2
nosuch
FLUSHDB BAD
FLUSHDB
DBSIZE
"""


TRANSACTION_SCRIPT = """
EXEC
DISCARD
MULTI
SET t1 1
INCR t1
SET t2 x
INCR t2
MSET t3 a t4 b t5 c
MGET t1 t2 t3 t4 t5
PING
PING hi
PING a b
EXEC
MULTI
EXEC
MULTI
MULTI
SET t6 1
EXEC
GET t6
MULTI
SET t7 1
DISCARD
GET t7
DISCARD
MULTI
SET t8 1
SET
NOSUCH x
GET t8
EXEC
GET t8
MULTI x
MULTI
SET t9 1
EXEC x
GET t9
EXEC
multi
incr t1
exec
"""


class TestAgainstRedisServer:
    @pytest.mark.parametrize(
        "script", [DIFFERENTIAL_SCRIPT, TRANSACTION_SCRIPT], ids=["commands", "transactions"]
    )
    def test_the_replies_match_redis_server_byte_for_byte(
        self, kv: kv_server.KVServer, redis_server: int, script: str
    ) -> None:
        lines = [line for line in script.strip().splitlines() if line]
        ours, theirs = Client(kv.port), Client(redis_server)
        try:
            diffs = []
            for line in lines:
                ours.send_raw(line.encode() + b"\r\n")
                theirs.send_raw(line.encode() + b"\r\n")
                _, mine = ours.raw_reply()
                _, reference = theirs.raw_reply()
                if mine != reference:
                    diffs.append((line, mine, reference))
        finally:
            ours.close()
            theirs.close()

        assert diffs == []


class TestExpiry:
    def test_a_key_expires_when_read_after_its_deadline(
        self, kv_clocked: kv_server.KVServer, clock: ManualClock
    ) -> None:
        c = Client(kv_clocked.port)
        try:
            c("SET", "session", "abc", "PX", "1500")
            clock.advance(1.0)
            assert c("GET", "session") == b"abc"
            assert c("PTTL", "session") == 500
            assert c("TTL", "session") == 1  # rounded, as Redis does

            clock.advance(0.5)

            assert c("GET", "session") is None
            assert c("TTL", "session") == -2
        finally:
            c.close()

    def test_the_sweep_drops_expired_keys_nobody_reads(
        self, kv_clocked: kv_server.KVServer, clock: ManualClock
    ) -> None:
        c = Client(kv_clocked.port)
        try:
            c.send_raw(
                b"".join(kv_server.encode_command("SET", f"t{i}", "x", "EX", 10) for i in range(50))
                + kv_server.encode_command("SET", "kept", "x")
            )
            replies = [c.reply() for _ in range(51)]
        finally:
            c.close()
        assert replies == [b"OK"] * 51
        clock.advance(10)

        assert keys_held(kv_clocked) == 51
        assert kv_clocked.sweep() == 50
        assert keys_held(kv_clocked) == 1

    def test_the_sweeper_runs_by_itself(self, clock: ManualClock) -> None:
        """The Sweeper's GenServer timeout= fires and every shard gets a sweep cast."""
        server = kv_server.start(port=0, shards=2, clock=clock, sweep_interval=0.01)
        try:
            c = Client(server.port)
            c("SET", "soon", "x", "EX", 1)
            c.close()
            clock.advance(5)
            me = gs.self()
            pids = shards(server)

            def on_cast(event: dict[str, Any]) -> None:
                if event["request"] == "sweep" and event["server"] in pids:
                    gs.send(me, ("swept", event["server"]))

            handle = gs.trace.add_handler(on_cast, events=["cast"])
            try:
                seen = {gs.receive(lambda m: type(m) is tuple and m[0] == "swept", 5)[1]}
                while seen != set(pids):
                    seen.add(gs.receive(lambda m: type(m) is tuple and m[0] == "swept", 5)[1])
            finally:
                gs.trace.remove_handler(handle)
            for pid in pids:
                gs.sys.get_state(pid)  # a barrier: the casts are handled

            assert keys_held(server) == 0
        finally:
            server.stop(grace=0)


class TestSupervision:
    def test_a_killed_shard_comes_back_and_the_others_keep_their_keys(
        self, kv: kv_server.KVServer, client: Client, gs_reports: ReportLog
    ) -> None:
        client.send_raw(b"".join(kv_server.encode_command("SET", f"k{i}", i) for i in range(40)))
        assert [client.reply() for _ in range(40)] == [b"OK"] * 40
        victim = shards(kv)[0]
        kept = keys_held(kv) - len(gs.sys.get_state(victim).data)
        gs_reports.expect("supervisor_report", pid=victim, context="child_terminated")

        ref = gs.monitor(victim)
        gs.exit(victim, "kill")
        gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=5)

        assert client("DBSIZE") == kept
        assert client("SET", "again", "1") == b"OK"
        assert shards(kv)[0] != victim

    def test_stop_ends_every_process(self) -> None:
        before = set(gs.processes())
        server = kv_server.start(port=0)
        c = Client(server.port)
        assert c("PING") == b"PONG"

        server.stop(grace=0)

        assert set(gs.processes()) == before
        assert c.at_eof()
        c.close()


class TestScript:
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_a_signal_stops_it_cleanly(self, signum: int) -> None:
        with stdlib_socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line == f"kv_server: listening on 127.0.0.1:{port}\n".encode()
            assert redis_cli(port, "SET", "x", "1") == "OK\n"
            idle = Client(port)  # a client that stays connected

            proc.send_signal(signum)
            out, err = proc.communicate(timeout=30)

            assert proc.returncode == 0, err
            name = signal.Signals(signum).name
            assert out.decode().splitlines() == [
                f"kv_server: got {name}, stopping",
                "kv_server: stopped",
            ]
            assert idle.at_eof()
            idle.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
