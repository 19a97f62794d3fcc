"""Pid and Ref: the opaque value types that name processes and references."""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._process import Process

_pid_numbers = count(1)
_ref_numbers = count(1)

# This node's name once ``gs.node.start`` ran (as Erlang's ``node()``).
this_node = "nonode@nohost"


@final
class Pid:
    """The identity of a process: opaque, hashable, printed as ``<0.N.0>``.

    Users never construct one; ``gs.spawn`` and ``gs.self`` hand them out.
    Two pids are equal only when they name the same process.
    """

    # __weakref__: greenserver.node keeps the pids it sent to other nodes in
    # a weak table, to find them when they come back.
    __slots__ = ("__weakref__", "_number", "_proc")

    def __init__(self, proc: Process) -> None:
        self._number = next(_pid_numbers)
        # A strong reference: sending to a pid needs no table lookup. A dead
        # process drops its mailbox and engine, so a kept pid costs little.
        self._proc = proc

    def __repr__(self) -> str:
        remote = self._proc.remote
        if remote is not None:
            return repr(remote)
        return f"<0.{self._number}.0>"

    @property
    def node(self) -> str:
        """The name of the node this process runs on (``"nonode@nohost"`` before
        ``gs.node.start``, as in Erlang)."""
        remote = self._proc.remote
        return this_node if remote is None else remote.node  # type: ignore[attr-defined]

    def __reduce__(self) -> Any:
        raise TypeError("a Pid names a live process in this node and cannot be pickled")


@final
class Ref:
    """A unique reference, as made by monitors and calls.

    A ref made by a call is also an *alias* of the caller (OTP 24): a reply
    sent to it reaches the caller only while the call is still waiting.
    """

    # _remote: how a ref made by another node looks on the wire (None for
    # ours); for a call from another node, the caller's reply tag.
    __slots__ = ("__weakref__", "_alias", "_number", "_owner", "_remote")

    def __init__(self, owner: Process | None = None, alias: bool = False) -> None:
        self._number = next(_ref_numbers)
        self._owner = owner
        self._alias = alias
        self._remote: object = None

    def __repr__(self) -> str:
        if self._remote is not None:
            return f"#Ref<{self._remote!r}>"
        return f"#Ref<0.{self._number}>"

    def owner(self) -> Process | None:
        """The process that made this ref (the watcher, or the caller of a call)."""
        return self._owner

    def alias_owner(self) -> Process | None:
        """The process a message sent to this alias reaches now, or None.

        None once the alias is deactivated (its call ended) or its owner died.
        """
        owner = self._owner
        return owner if self._alias and owner is not None and owner.alive else None

    def deactivate(self) -> None:
        """End the alias: from now on a message sent to it is dropped."""
        self._alias = False

    def __reduce__(self) -> Any:
        raise TypeError("a Ref is local to this node and cannot be pickled")
