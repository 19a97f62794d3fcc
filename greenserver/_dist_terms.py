"""Erlang's external term format: greenserver values to bytes and back.

The mapping (``docs/nodes.md`` has the table): ``Atom`` <-> atom; ``True``,
``False`` <-> ``true``, ``false``; ``None`` <-> ``nil`` (Elixir's nil);
``int`` of any size; ``float``; ``str`` <-> a UTF-8 binary (an Elixir
string); ``bytes`` leave as a binary marked as bytes (a bit binary with 8 bits
in its last byte, which the BEAM reads as an ordinary binary) so that they
come back as ``bytes``; a binary that is not UTF-8 arrives as ``bytes``;
``tuple``, ``list``, ``dict`` (map); ``ImproperList``; ``Pid`` and ``Ref``
through a ``Nodes`` table that knows this node and its peers. Ports, funs
and other BEAM-only values arrive as ``Opaque`` and leave unchanged.
Anything else raises ``TypeError`` naming the value, in the sender.

We wrote this codec instead of wrapping erlang-py: the mapping needs our own
types at every level (atoms, pids, refs, bytes), and a direct codec is about
5x faster than erlang-py plus a conversion pass (``bench/_cases_nodes.py``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast, final

from ._pid import Pid, Ref

if TYPE_CHECKING:
    from collections.abc import Callable


class Atom(str):
    """An Erlang atom: a ``str`` subclass, so ``Atom("ok") == "ok"``.

    Atoms from other nodes arrive as ``Atom``; a plain ``str`` leaves as a
    binary (an Elixir string), so wrap a value in ``Atom`` to send an atom.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


@final
class ImproperList:
    """A list whose tail is not ``[]``, such as OTP's ``[alias | Ref]`` call tag."""

    __slots__ = ("items", "tail")

    def __init__(self, items: list[object], tail: object) -> None:
        self.items = items
        self.tail = tail

    def __eq__(self, other: object) -> bool:
        return type(other) is ImproperList and self.items == other.items and self.tail == other.tail

    def __hash__(self) -> int:
        return hash((tuple(self.items), self.tail))

    def __repr__(self) -> str:
        return f"ImproperList({self.items!r}, {self.tail!r})"


@final
class Opaque:
    """A BEAM value with no Python twin (a port, a fun): kept as its bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return type(other) is Opaque and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"Opaque({self.data!r})"


class TermError(ValueError):
    """Bytes that are not a well-formed term (a peer's bug or an attack)."""


T_co = TypeVar("T_co", covariant=True)


class _Lookup(Protocol[T_co]):
    def get(self, key: bytes) -> T_co | None: ...


class Nodes(Protocol):
    """What the codec needs to turn pids and refs into bytes and back.

    ``pid_wire`` and ``ref_wire`` return the whole encoding (tag included):
    the table caches it, since the same pids and refs leave again and again.
    """

    # Pids and refs by their encoding (tag excluded): the decoder's fast path.
    @property
    def wire_pids(self) -> _Lookup[Pid]: ...

    @property
    def wire_refs(self) -> _Lookup[Ref]: ...

    def pid_wire(self, pid: Pid) -> bytes: ...

    def pid_from_wire(self, node: str, ident: int, serial: int, creation: int) -> Pid: ...

    def ref_wire(self, ref: Ref) -> bytes: ...

    def ref_from_wire(self, node: str, creation: int, ids: tuple[int, ...]) -> Ref: ...


VERSION: Final = 131
_SPECIAL_ATOMS: Final[dict[str, object]] = {"true": True, "false": False, "nil": None}
_s_I = struct.Struct(">I")
_s_i = struct.Struct(">i")
_s_H = struct.Struct(">H")
_s_d = struct.Struct(">d")
_s_III = struct.Struct(">III")
_atoms: dict[str, Atom] = {}  # interned: one Atom object per name
# Caches of the hot path, bounded so that a peer sending ever new atoms
# cannot grow them without end (the atoms themselves are interned, as the
# BEAM does).
CACHE_MAX: Final = 65536
_atom_wire: dict[str, bytes] = {}  # name -> its encoding
_atom_by_raw: dict[bytes, object] = {}  # UTF-8 name -> Atom, True, False or None
_SMALL_INTS: Final = tuple(bytes((97, n)) for n in range(256))
_TUPLE_HEADS: Final = tuple(bytes((104, n)) for n in range(256))


def _atom(name: str) -> Atom:
    found = _atoms.get(name)
    if found is None:
        found = _atoms[name] = Atom(name)
    return found


def atom_wire(name: str) -> bytes:
    """Return the encoding of the atom *name* (SMALL_ATOM_UTF8_EXT or ATOM_UTF8_EXT)."""
    found = _atom_wire.get(name)
    if found is not None:
        return found
    data = name.encode()
    n = len(data)
    if n < 256:
        found = b"w" + bytes((n,)) + data
    elif n < 65536:
        found = b"v" + _s_H.pack(n) + data
    else:
        raise TypeError(f"atom {name[:40]!r}... is longer than an Erlang atom can be")
    if len(_atom_wire) < CACHE_MAX:
        _atom_wire[str(name)] = found
    return found


# --- encoding ---------------------------------------------------------------


def encode(term: object, nodes: Nodes) -> bytes:
    """Return *term* in the external term format, version byte included.

    Raises:
        TypeError: *term* holds a value with no Erlang twin (it is named).
    """
    out = bytearray(b"\x83")
    _encode(term, out, nodes)
    return bytes(out)


def _encode_int(n: int, out: bytearray) -> None:
    if 0 <= n < 256:
        out += _SMALL_INTS[n]
    elif -(2**31) <= n < 2**31:
        out += b"b"
        out += _s_i.pack(n)
    else:
        sign = 1 if n < 0 else 0
        mag = -n if sign else n
        data = mag.to_bytes((mag.bit_length() + 7) // 8, "little")
        if len(data) < 256:
            out += b"n"
            out.append(len(data))
        else:
            out += b"o"
            out += _s_I.pack(len(data))
        out.append(sign)
        out += data


def _encode(term: Any, out: bytearray, nodes: Nodes) -> None:
    # One chain of identity tests, the common types first: this runs for
    # every value of every message.
    kind = type(term)
    if kind is Atom:
        wire = _atom_wire.get(term)
        out += wire if wire is not None else atom_wire(term)
    elif kind is tuple:
        n = len(term)
        if n < 256:
            out += _TUPLE_HEADS[n]
        else:
            out += b"i"
            out += _s_I.pack(n)
        for item in term:
            # The elements of a control message, inline: atoms, small
            # integers, pids and refs.
            kind = type(item)
            if kind is Atom:
                wire = _atom_wire.get(item)
                out += wire if wire is not None else atom_wire(item)
            elif kind is Pid:
                out += nodes.pid_wire(item)
            elif kind is int and 0 <= item < 256:
                out += _SMALL_INTS[item]
            elif kind is Ref:
                out += nodes.ref_wire(item)
            else:
                _encode(item, out, nodes)
    elif kind is str:
        data = term.encode()
        out += b"m"
        out += _s_I.pack(len(data))
        out += data
    elif kind is int:
        if 0 <= term < 256:
            out += _SMALL_INTS[term]
        else:
            _encode_int(term, out)
    elif kind is Pid:
        out += nodes.pid_wire(term)
    elif kind is Ref:
        out += nodes.ref_wire(term)
    elif term is None:
        out += b"w\x03nil"
    elif kind is bool:
        out += b"w\x04true" if term else b"w\x05false"
    elif kind is list:
        if term:
            out += b"l"
            out += _s_I.pack(len(term))
            for item in term:
                _encode(item, out, nodes)
        out += b"j"
    elif kind is float:
        out += b"F"
        out += _s_d.pack(term)
    elif kind is dict:
        out += b"t"
        out += _s_I.pack(len(term))
        for key, value in term.items():
            _encode(key, out, nodes)
            _encode(value, out, nodes)
    elif kind is bytes:
        # A bit binary whose last byte holds 8 bits: the BEAM reads it as an
        # ordinary binary, and a greenserver node knows it was bytes.
        out += b"M"
        out += _s_I.pack(len(term))
        out.append(8)
        out += term
    elif kind is ImproperList:
        out += b"l"
        out += _s_I.pack(len(term.items))
        for item in term.items:
            _encode(item, out, nodes)
        _encode(term.tail, out, nodes)
    elif kind is Opaque:
        out += term.data
    elif isinstance(term, Atom):
        out += atom_wire(term)
    elif isinstance(term, tuple):  # a NamedTuple leaves as a plain tuple
        _encode(tuple(term), out, nodes)
    else:
        raise TypeError(
            f"{term!r} (a {kind.__name__}) has no Erlang term twin; send atoms, numbers, "
            "str, bytes, tuples, lists, dicts, pids or refs"
        )


def reason_term(reason: object) -> object:
    """Return an exit reason as the term sent for it: strings become atoms.

    ``"normal"`` leaves as ``normal``, ``("shutdown", x)`` as ``{shutdown, X}``,
    and an exception as ``{ClassName, <<"message">>}``; a reason with no
    mapping leaves as its repr, so a signal is never lost to encoding.
    """
    if type(reason) is str:
        return _atom(reason)
    if type(reason) is tuple and reason and type(reason[0]) is str:
        return (_atom(reason[0]), *reason[1:])
    if isinstance(reason, BaseException):
        return (_atom(type(reason).__name__), str(reason))
    return reason


# --- decoding ---------------------------------------------------------------


def decode(data: bytes | memoryview, nodes: Nodes, pos: int = 0) -> tuple[object, int]:
    """Decode one term (with its version byte) at *pos*; return it and the next position.

    Raises:
        TermError: The bytes are not a well-formed term.
    """
    if type(data) is not bytes:
        data = bytes(data)  # the decoders slice it into dictionary keys
    try:
        if data[pos] != VERSION:
            raise TermError(f"a term starts with byte 131; got {data[pos]}")
        return _decode(data, pos + 1, nodes)
    except (IndexError, struct.error, UnicodeDecodeError, RecursionError) as exc:
        raise TermError(f"truncated or malformed term: {exc}") from None
    except TypeError as exc:  # e.g. a list as a map key
        raise TermError(f"term has no Python twin: {exc}") from None


def _atom_at(data: Any, pos: int, tag: int) -> tuple[str, int]:
    if tag in (119, 115):  # SMALL_ATOM_UTF8_EXT, SMALL_ATOM_EXT
        n = data[pos]
        pos += 1
    elif tag in (118, 100):  # ATOM_UTF8_EXT, ATOM_EXT
        n = _s_H.unpack_from(data, pos)[0]
        pos += 2
    else:
        raise TermError(f"expected an atom; got tag {tag}")
    end = pos + n
    if end > len(data):
        raise TermError("truncated atom")
    raw = bytes(data[pos:end])
    return (raw.decode() if tag in (119, 118) else raw.decode("latin-1")), end


def _d_small_utf8_atom(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    """The usual atom (SMALL_ATOM_UTF8_EXT), through a cache of its bytes."""
    end = pos + 1 + data[pos]
    if end > len(data):
        raise TermError("truncated atom")
    raw = data[pos + 1 : end]
    found = _atom_by_raw.get(raw, _atom_by_raw)
    if found is not _atom_by_raw:
        return found, end
    name = raw.decode()
    special = _SPECIAL_ATOMS.get(name, _atoms)
    value = _atom(name) if special is _atoms else special
    if len(_atom_by_raw) < CACHE_MAX:
        _atom_by_raw[raw] = value
    return value, end


def _decode(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    tag = data[pos]
    # The commonest tags inline (small integer, atom, small tuple): this
    # runs for every value of every frame.
    if tag == 119:
        end = pos + 2 + data[pos + 1]
        found = _atom_by_raw.get(data[pos + 2 : end], _atom_by_raw)
        if found is not _atom_by_raw and end <= len(data):
            return found, end
        return _d_small_utf8_atom(data, pos + 1, nodes)
    if tag == 97:
        return data[pos + 1], pos + 2
    if tag == 104:
        n = data[pos + 1]
        pos += 2
        size = len(data)
        if n > size - pos:  # each element takes at least one byte
            raise TermError(f"tuple of {n} elements in {size - pos} bytes")
        items = []
        for _ in range(n):
            # The elements of a control message, inline: atoms and pids seen
            # before, small integers.
            tag = data[pos]
            if tag == 119:
                end = pos + 2 + data[pos + 1]
                found = _atom_by_raw.get(data[pos + 2 : end], _atom_by_raw)
                if found is not _atom_by_raw and end <= size:
                    items.append(found)
                    pos = end
                    continue
            elif tag == 97:
                items.append(data[pos + 1])
                pos += 2
                continue
            elif tag == 88 and data[pos + 1] == 119:
                end = pos + data[pos + 2] + 15
                pid = nodes.wire_pids.get(data[pos + 1 : end])
                if pid is not None and end <= size:
                    items.append(pid)
                    pos = end
                    continue
            elif tag == 90 and pos + 4 < size and data[pos + 3] == 119:
                end = pos + data[pos + 4] + 9 + 4 * _s_H.unpack_from(data, pos + 1)[0]
                ref = nodes.wire_refs.get(data[pos + 1 : end])
                if ref is not None and end <= size:
                    items.append(ref)
                    pos = end
                    continue
            item, pos = _decode(data, pos, nodes)
            items.append(item)
        return tuple(items), pos
    pos += 1
    handler = _DECODERS.get(tag)
    if handler is None:
        raise TermError(f"unknown term tag {tag}")
    return handler(data, pos, nodes)


def _d_small_int(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    return data[pos], pos + 1


def _d_int(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    return _s_i.unpack_from(data, pos)[0], pos + 4


def _d_float(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    return _s_d.unpack_from(data, pos)[0], pos + 8


def _d_old_float(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    text = bytes(data[pos : pos + 31]).split(b"\0", 1)[0]
    try:
        return float(text), pos + 31
    except ValueError:
        raise TermError(f"bad float text {text!r}") from None


def _d_atom(tag: int) -> Callable[[Any, int, Nodes], tuple[object, int]]:
    def decode_atom(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
        name, pos = _atom_at(data, pos, tag)
        special = _SPECIAL_ATOMS.get(name, _atoms)
        return (_atom(name) if special is _atoms else special), pos

    return decode_atom


def _d_small_tuple(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = data[pos]
    return _tuple_items(data, pos + 1, n, nodes)


def _d_large_tuple(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_I.unpack_from(data, pos)[0]
    return _tuple_items(data, pos + 4, n, nodes)


def _tuple_items(data: Any, pos: int, n: int, nodes: Nodes) -> tuple[object, int]:
    if n > len(data) - pos:  # each element takes at least one byte
        raise TermError(f"tuple of {n} elements in {len(data) - pos} bytes")
    items = []
    for _ in range(n):
        item, pos = _decode(data, pos, nodes)
        items.append(item)
    return tuple(items), pos


def _d_nil(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    return [], pos


def _d_string(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_H.unpack_from(data, pos)[0]
    pos += 2
    if pos + n > len(data):
        raise TermError("truncated string")
    return list(data[pos : pos + n]), pos + n


def _d_list(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_I.unpack_from(data, pos)[0]
    pos += 4
    if n > len(data) - pos:
        raise TermError(f"list of {n} elements in {len(data) - pos} bytes")
    items = []
    for _ in range(n):
        item, pos = _decode(data, pos, nodes)
        items.append(item)
    tail, pos = _decode(data, pos, nodes)
    if tail == [] and type(tail) is list:
        return items, pos
    return ImproperList(items, tail), pos


def _d_binary(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_I.unpack_from(data, pos)[0]
    pos += 4
    end = pos + n
    if end > len(data):
        raise TermError("truncated binary")
    raw = bytes(data[pos:end])
    try:
        return raw.decode(), end
    except UnicodeDecodeError:
        return raw, end


def _d_bit_binary(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_I.unpack_from(data, pos)[0]
    bits = data[pos + 4]
    start = pos + 5
    end = start + n
    if end > len(data):
        raise TermError("truncated bit binary")
    if bits == 8:
        return bytes(data[start:end]), end
    return Opaque(b"\x4d" + bytes(data[pos:end])), end


def _d_big(size_len: int) -> Callable[[Any, int, Nodes], tuple[object, int]]:
    def decode_big(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
        n = data[pos] if size_len == 1 else _s_I.unpack_from(data, pos)[0]
        pos += size_len
        sign = data[pos]
        end = pos + 1 + n
        if end > len(data):
            raise TermError("truncated big integer")
        value = int.from_bytes(bytes(data[pos + 1 : end]), "little")
        return (-value if sign else value), end

    return decode_big


def _d_map(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_I.unpack_from(data, pos)[0]
    pos += 4
    if 2 * n > len(data) - pos:
        raise TermError(f"map of {n} pairs in {len(data) - pos} bytes")
    result: dict[Any, object] = {}
    for _ in range(n):
        key, pos = _decode(data, pos, nodes)
        value, pos = _decode(data, pos, nodes)
        result[key] = value
    return result, pos


_NO_NODES: Final = cast("Nodes", None)
_WORDS: Final = ("", ">I", ">II", ">III", ">IIII", ">IIIII")


def _node_at(data: Any, pos: int) -> tuple[str, int]:
    if data[pos] == 119:
        name, end = _d_small_utf8_atom(data, pos + 1, _NO_NODES)  # the cached path
        if type(name) is Atom:
            return name, end
    return _atom_at(data, pos + 1, data[pos])


def _d_new_pid(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    if data[pos] == 119:  # a pid seen before, found by its bytes
        end = pos + data[pos + 1] + 14
        found = nodes.wire_pids.get(data[pos:end])
        if found is not None:
            return found, end
    node, pos = _node_at(data, pos)
    ident, serial, creation = _s_III.unpack_from(data, pos)
    return nodes.pid_from_wire(node, ident, serial, creation), pos + 12


def _d_old_pid(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    node, pos = _node_at(data, pos)
    ident, serial = struct.unpack_from(">II", data, pos)
    return nodes.pid_from_wire(node, ident, serial, data[pos + 8]), pos + 9


def _d_newer_ref(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    if data[pos + 2] == 119:  # a ref seen before, found by its bytes
        end = pos + data[pos + 3] + 8 + 4 * _s_H.unpack_from(data, pos)[0]
        found = nodes.wire_refs.get(data[pos:end])
        if found is not None:
            return found, end
    n = _s_H.unpack_from(data, pos)[0]
    if not 1 <= n <= 5:
        raise TermError(f"a reference has 1 to 5 words; got {n}")
    node, pos = _node_at(data, pos + 2)
    creation = _s_I.unpack_from(data, pos)[0]
    ids = struct.unpack_from(_WORDS[n], data, pos + 4)
    return nodes.ref_from_wire(node, creation, ids), pos + 4 + 4 * n


def _d_new_ref(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
    n = _s_H.unpack_from(data, pos)[0]
    if not 1 <= n <= 5:
        raise TermError(f"a reference has 1 to 5 words; got {n}")
    node, pos = _node_at(data, pos + 2)
    creation = data[pos]
    ids = struct.unpack_from(f">{n}I", data, pos + 1)
    return nodes.ref_from_wire(node, creation, ids), pos + 1 + 4 * n


def _opaque(tag: int, size: Callable[[Any, int, Nodes], int]) -> Any:
    def decode_opaque(data: Any, pos: int, nodes: Nodes) -> tuple[object, int]:
        end = size(data, pos, nodes)
        if end > len(data):
            raise TermError(f"truncated term (tag {tag})")
        return Opaque(bytes([tag]) + bytes(data[pos:end])), end

    return decode_opaque


def _port_end(fixed: int) -> Callable[[Any, int, Nodes], int]:
    return lambda data, pos, nodes: _node_at(data, pos)[1] + fixed


def _skip_terms(count: int) -> Callable[[Any, int, Nodes], int]:
    def end(data: Any, pos: int, nodes: Nodes) -> int:
        for _ in range(count):
            pos = _decode(data, pos, nodes)[1]
        return pos

    return end


_DECODERS: dict[int, Callable[[Any, int, Nodes], tuple[object, int]]] = {
    97: _d_small_int,
    98: _d_int,
    70: _d_float,
    99: _d_old_float,
    119: _d_small_utf8_atom,
    118: _d_atom(118),
    115: _d_atom(115),
    100: _d_atom(100),
    104: _d_small_tuple,
    105: _d_large_tuple,
    106: _d_nil,
    107: _d_string,
    108: _d_list,
    109: _d_binary,
    77: _d_bit_binary,
    110: _d_big(1),
    111: _d_big(4),
    116: _d_map,
    88: _d_new_pid,
    103: _d_old_pid,
    90: _d_newer_ref,
    114: _d_new_ref,
    89: _opaque(89, _port_end(8)),  # NEW_PORT_EXT
    120: _opaque(120, _port_end(12)),  # V4_PORT_EXT
    102: _opaque(102, _port_end(5)),  # PORT_EXT
    113: _opaque(113, _skip_terms(3)),  # EXPORT_EXT
    112: _opaque(112, lambda data, pos, nodes: pos + _s_I.unpack_from(data, pos)[0]),  # NEW_FUN
}
