"""examples/kv/protocol.py: the RESP parser, cut anywhere, in linear time.

The work is counted, never timed: the bytes handed to each parse step must
add up to about the bytes fed, where re-parsing per chunk would hand the
growing command again and again (quadratic).
"""

from __future__ import annotations

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


class CountingParser(Parser):
    """A parser that notes how many bytes each parse step is handed."""

    __slots__ = ("handed",)

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[int] = []

    def _parse(self, buf: bytes) -> tuple[list[list[bytes]], int, ProtocolError | None]:
        self.handed.append(len(buf))
        return super()._parse(buf)


def handed(parts: list[bytes]) -> tuple[int, int]:
    """Feed *parts*; return (bytes fed, bytes handed to parse steps in all)."""
    parser = CountingParser()
    for part in parts:
        assert parser.feed(part)[1] is None
    return sum(map(len, parts)), sum(parser.handed)


class TestLinearParsing:
    def test_a_big_value_streamed_in_chunks(self) -> None:
        """A SET of a large value arriving 64 KB at a time is not re-read per chunk.

        Counted, not timed: timing n against 4n here mostly measures how
        malloc gets megabytes. Each parse is handed the bytes not parsed yet;
        re-reading them per chunk would hand it about n * n / CHUNK / 2 bytes.
        """
        size = 8 * 1024 * 1024
        parser = CountingParser()
        commands: list[list[bytes]] = []
        for part in chunks(encode_command("SET", "big", b"x" * size), CHUNK):
            commands += parser.feed(part)[0]

        [[name, key, value]] = commands
        assert (name, key, len(value)) == (b"SET", b"big", size)
        assert sum(parser.handed) < size + 2 * CHUNK

    def test_a_command_of_many_arguments_streamed_in_chunks(self) -> None:
        """An MSET of many pairs arriving in chunks is not re-parsed from its start per chunk."""

        def big_mset(pairs: int) -> list[bytes]:
            args = [b"k%07d" % i for i in range(2 * pairs)]
            return chunks(encode_command("MSET", *args), 16 * 1024)

        [command] = feed_all(big_mset(1000))
        assert len(command) == 2001
        assert command[-1] == b"k0001999"

        # Each step is handed only what earlier steps left: about the bytes
        # fed, not the command so far once per chunk (quadratic).
        fed, parsed = handed(big_mset(10_000))
        assert parsed < 2 * fed

    def test_many_small_commands_in_one_chunk(self) -> None:
        def pipeline(n: int) -> list[bytes]:
            return [b"".join(encode_command("SET", f"k{i}", i) for i in range(n))]

        assert len(feed_all(pipeline(100))) == 100

        fed, parsed = handed(pipeline(5000))
        assert parsed == fed  # one step over the chunk, each command parsed once


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
