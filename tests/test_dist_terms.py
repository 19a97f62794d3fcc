"""The term codec (greenserver._dist_terms) on its own: round trips, caches, bad input."""

from __future__ import annotations

import struct
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

import greenserver as gs
from greenserver._dist_node import LocalNode
from greenserver._dist_terms import (
    Atom,
    ImproperList,
    TermError,
    atom_wire,
    decode,
    encode,
)

# A node's tables without a node: nothing here opens a socket.
LOCAL = LocalNode("codec@test", "cookie", 7, 60.0)
OTHER = LocalNode("other@test", "cookie", 9, 60.0)


def _round_trip(term: object, nodes: LocalNode = LOCAL) -> object:
    value, _end = decode(encode(term, nodes), nodes)
    return value


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.text(max_size=10).map(Atom).filter(lambda a: a not in ("true", "false", "nil")),
)
_terms = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.integers(), st.text(max_size=5)), inner, max_size=4),
    ),
    max_leaves=20,
)


def _types(term: object) -> object:
    """The shape of *term* with every leaf replaced by its type."""
    if isinstance(term, (list, tuple)):
        return (type(term), [_types(t) for t in term])
    if isinstance(term, dict):
        return (dict, {k: _types(v) for k, v in term.items()})
    return type(term)


class TestRoundTrip:
    @given(_terms)
    def test_every_value_comes_back_equal_and_of_its_type(self, term: object) -> None:
        back = _round_trip(term)

        assert back == term
        assert _types(back) == _types(term)

    def test_improper_list_and_big_ints(self) -> None:
        term = (ImproperList([Atom("alias")], 5), 2**200, -(2**2000), 256, -1, 2**31)

        assert _round_trip(term) == term

    def test_long_atom_uses_the_two_byte_length(self) -> None:
        name = "a" * 300

        wire = atom_wire(name)

        assert wire[:3] == b"v\x01\x2c"
        assert _round_trip(Atom(name)) == name

    def test_atom_too_long_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"is longer than an Erlang atom can be$"):
            encode(Atom("a" * 70000), LOCAL)

    def test_named_tuple_leaves_as_a_plain_tuple(self) -> None:
        class Point(NamedTuple):
            x: int
            y: int

        assert _round_trip(Point(1, 2)) == (1, 2)
        assert type(_round_trip(Point(1, 2))) is tuple

    def test_old_atom_tags_decode(self) -> None:
        latin1 = b"\x83d\x00\x03abc"  # ATOM_EXT
        small = b"\x83s\x02ok"  # SMALL_ATOM_EXT

        assert decode(latin1, LOCAL) == (Atom("abc"), len(latin1))
        assert decode(small, LOCAL) == (Atom("ok"), len(small))

    def test_bytearray_and_memoryview_decode_as_bytes_do(self) -> None:
        data = encode((Atom("ok"), "text", b"raw"), LOCAL)

        assert decode(bytearray(data), LOCAL)[0] == decode(memoryview(data), LOCAL)[0]


class TestPidsAndRefs:
    def test_local_pid_and_ref_come_back_as_the_same_objects(self) -> None:
        me = gs.self()
        ref = gs.Ref()

        back = _round_trip((me, ref))

        assert isinstance(back, tuple)
        assert back[0] is me
        assert back[1] is ref

    def test_remote_pid_and_ref_are_interned(self) -> None:
        # Encoded by one node, decoded twice by another: one stand-in each.
        data = encode((gs.self(), gs.Ref()), OTHER)

        first, _ = decode(data, LOCAL)
        second, _ = decode(data, LOCAL)

        assert isinstance(first, tuple)
        assert isinstance(second, tuple)
        assert first[0] is second[0]
        assert first[1] is second[1]
        assert first[0].node == "other@test"
        assert encode(first, LOCAL) == data  # they leave as they came

    def test_pid_of_a_name_stand_in_raises_type_error(self) -> None:
        standin = LOCAL.name_standin("kv", "other@test")

        with pytest.raises(TypeError, match=r"stands for a registered name, not a pid"):
            encode(standin.pid, LOCAL)


class TestBadInput:
    def test_unmapped_value_raises_type_error_naming_it(self) -> None:
        with pytest.raises(TypeError, match=r"^\{1, 2\} \(a set\) has no Erlang term twin"):
            encode([{1, 2}], LOCAL)

    @pytest.mark.parametrize(
        "data",
        [
            b"\x83w\x05ok",  # an atom longer than what is left
            b"\x83h\x03a\x01",  # a tuple cut short
            b"\x83m" + struct.pack(">I", 100) + b"abc",  # a binary cut short
            b"\x83\xff",  # an unknown tag
            b"\x82a\x01",  # a wrong version byte
            b"\x83Z\x00\x09w\x01a" + bytes(40),  # a ref of 9 words
        ],
    )
    def test_malformed_bytes_raise_term_error(self, data: bytes) -> None:
        with pytest.raises(TermError):
            decode(data, LOCAL)

    def test_truncated_cached_atom_is_not_mistaken_for_a_shorter_one(self) -> None:
        decode(b"\x83w\x02ok", LOCAL)  # "ok" is now in the cache

        with pytest.raises(TermError):
            decode(b"\x83w\x03ok", LOCAL)  # "ok" plus a byte that is not there
