"""examples/kv/protocol.py: the RESP parser, cut anywhere, in linear time.

The costs are compared as ratios within one run (feeding n bytes against
4n), never against a clock: linear work quadruples, quadratic work grows
sixteenfold.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from kv.protocol import Parser, ProtocolError, encode_command

CHUNK = 64 * 1024


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def feed_all(parts: list[bytes]) -> list[list[bytes]]:
    parser = Parser()
    commands: list[list[bytes]] = []
    for part in parts:
        done, problem = parser.feed(part)
        assert problem is None
        commands.extend(done)
    return commands


def cost(work: Callable[[], object], runs: int = 5) -> float:
    """The median time of *work*, in seconds: only ever compared with another cost."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def growth(make_input: Callable[[int], list[bytes]], n: int) -> float:
    """How much longer parsing 4n takes than parsing n (4 when linear, 16 when quadratic)."""
    small, big = make_input(n), make_input(4 * n)
    feed_all(small)  # warm up
    return cost(lambda: feed_all(big)) / cost(lambda: feed_all(small))


class TestLinearParsing:
    def test_a_big_value_streamed_in_chunks(self) -> None:
        """A SET of a large value arriving 64 KB at a time is not re-read per chunk.

        Counted, not timed: timing n against 4n here mostly measures how
        malloc gets megabytes. Each parse is handed the bytes not parsed yet;
        re-reading them per chunk would hand it about n * n / CHUNK / 2 bytes.
        """
        handed: list[int] = []

        class CountingParser(Parser):
            def _parse(self, buf: bytes) -> tuple[list[list[bytes]], int, ProtocolError | None]:
                handed.append(len(buf))
                return super()._parse(buf)

        size = 8 * 1024 * 1024
        parser = CountingParser()
        commands: list[list[bytes]] = []
        for part in chunks(encode_command("SET", "big", b"x" * size), CHUNK):
            commands += parser.feed(part)[0]

        [[name, key, value]] = commands
        assert (name, key, len(value)) == (b"SET", b"big", size)
        assert sum(handed) < size + 2 * CHUNK

    def test_a_command_of_many_arguments_streamed_in_chunks(self) -> None:
        """An MSET of many pairs arriving in chunks is not re-parsed from its start per chunk."""

        def big_mset(pairs: int) -> list[bytes]:
            args = [b"k%07d" % i for i in range(2 * pairs)]
            return chunks(encode_command("MSET", *args), 16 * 1024)

        [command] = feed_all(big_mset(1000))
        assert len(command) == 2001
        assert command[-1] == b"k0001999"

        assert growth(big_mset, 10_000) < 8

    def test_many_small_commands_in_one_chunk(self) -> None:
        def pipeline(n: int) -> list[bytes]:
            return [b"".join(encode_command("SET", f"k{i}", i) for i in range(n))]

        assert len(feed_all(pipeline(100))) == 100

        assert growth(pipeline, 5000) < 8


commands_strategy = st.lists(
    st.lists(st.binary(max_size=40), min_size=1, max_size=6), min_size=1, max_size=8
)


class TestCutAnywhere:
    @given(commands=commands_strategy, cuts=st.lists(st.integers(0, 2000), max_size=12))
    def test_any_cut_gives_the_same_commands(
        self, commands: list[list[bytes]], cuts: list[int]
    ) -> None:
        data = b"".join(encode_command(*args) for args in commands)
        points = sorted({c % (len(data) + 1) for c in cuts})
        parts = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]

        assert feed_all(parts) == commands

    def test_inline_commands_and_arrays_mix(self) -> None:
        data = b'PING\r\nSET k "a b"\r\n' + encode_command("GET", "k") + b"ECHO x\n"

        assert feed_all([data[i : i + 3] for i in range(0, len(data), 3)]) == [
            [b"PING"],
            [b"SET", b"k", b"a b"],
            [b"GET", b"k"],
            [b"ECHO", b"x"],
        ]

    def test_an_error_comes_after_the_commands_before_it(self) -> None:
        parser = Parser()
        commands, problem = parser.feed(encode_command("PING") + b"*1\r\n$-3\r\n")

        assert commands == [[b"PING"]]
        assert isinstance(problem, ProtocolError)
        assert problem.reply() == b"-ERR Protocol error: invalid bulk length\r\n"

    def test_an_error_in_a_command_begun_in_an_earlier_chunk(self) -> None:
        parser = Parser()
        assert parser.feed(b"*2\r\n$3\r\nGET\r\n") == ([], None)

        commands, problem = parser.feed(b"?1\r\nk\r\n")

        assert commands == []
        assert problem is not None
        assert str(problem) == "expected '$', got '?'"

    def test_an_endless_count_line_is_refused(self) -> None:
        parser = Parser()
        assert parser.feed(b"*") == ([], None)
        for _ in range(15):
            assert parser.feed(b"1" * 4096) == ([], None)

        _commands, problem = parser.feed(b"1" * 4096)  # 64 KB and one byte, no CRLF

        assert problem is not None
        assert str(problem) == "too big mbulk count string"

    def test_an_empty_array_is_skipped(self) -> None:
        assert feed_all([b"*0\r\n", encode_command("PING")]) == [[b"PING"]]
