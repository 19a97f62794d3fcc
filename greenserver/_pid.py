"""Pid and Ref: the opaque value types that name processes and references."""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._process import Process

_pid_numbers = count(1)
_ref_numbers = count(1)


@final
class Pid:
    """The identity of a process: opaque, hashable, printed as ``<0.N.0>``.

    Users never construct one; ``gs.spawn`` and ``gs.self`` hand them out.
    Two pids are equal only when they name the same process.
    """

    __slots__ = ("_number", "_proc")

    def __init__(self, proc: Process) -> None:
        self._number = next(_pid_numbers)
        # A strong reference: sending to a pid needs no table lookup. A dead
        # process drops its mailbox and engine, so a kept pid costs little.
        self._proc = proc

    def __repr__(self) -> str:
        return f"<0.{self._number}.0>"

    def __reduce__(self) -> Any:
        raise TypeError("a Pid names a live process in this node and cannot be pickled")


@final
class Ref:
    """A unique reference, as made by monitors and calls.

    A ref made by a call is also an *alias* of the caller (OTP 24): a reply
    sent to it reaches the caller only while the call is still waiting.
    """

    __slots__ = ("_alias", "_number", "_owner")

    def __init__(self, owner: Process | None = None, alias: bool = False) -> None:
        self._number = next(_ref_numbers)
        self._owner = owner
        self._alias = alias

    def __repr__(self) -> str:
        return f"#Ref<0.{self._number}>"

    def __reduce__(self) -> Any:
        raise TypeError("a Ref is local to this node and cannot be pickled")
