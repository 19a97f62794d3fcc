"""ChildSpec: how a supervisor starts, restarts and stops one child.

Shorthands accepted wherever a spec is: a class ``C`` means ``C.child_spec(None)``
and ``(C, arg)`` means ``C.child_spec(arg)``; any class with a ``child_spec``
classmethod works (GenServer, Supervisor, Agent subclasses have one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, final

RESTARTS: Final = ("permanent", "transient", "temporary")
TYPES: Final = ("worker", "supervisor")

_DEFAULT: Final = object()


@final
class ChildSpec:
    """One child of a supervisor.

    Args:
        id: Names the child within its supervisor (any hashable value).
        start: ``(callable, args, kwargs)``; ``(callable, args)`` and
            ``(callable,)`` are accepted too. Called in the supervisor's
            process, it must return the pid of a new process linked to the
            caller, or ``None`` to leave the child out (an "ignored" child).
        restart: ``"permanent"`` (always restarted), ``"transient"`` (restarted
            after an abnormal exit) or ``"temporary"`` (never restarted).
        shutdown: Seconds to wait after ``"shutdown"`` before ``"kill"``,
            ``"brutal_kill"`` (kill at once) or ``None`` (wait forever). The
            default is 5.0 for a worker and ``None`` for a supervisor.
        type: ``"worker"`` or ``"supervisor"``.
    """

    __slots__ = ("args", "fn", "id", "kwargs", "restart", "shutdown", "type")

    def __init__(
        self,
        id: object,
        start: tuple[Any, ...],
        restart: str = "permanent",
        shutdown: float | str | object | None = _DEFAULT,
        type: str = "worker",
    ) -> None:
        try:
            hash(id)
        except TypeError:
            raise TypeError(f"child spec id must be hashable; got {id!r}") from None
        self.id = id
        self.fn, self.args, self.kwargs = _parse_start(id, start)
        if restart not in RESTARTS:
            raise ValueError(
                f"child {id!r}: restart must be 'permanent', 'transient' or 'temporary'; "
                f"got {restart!r}"
            )
        self.restart = restart
        if type not in TYPES:
            raise ValueError(f"child {id!r}: type must be 'worker' or 'supervisor'; got {type!r}")
        self.type = type
        if shutdown is _DEFAULT:
            shutdown = None if type == "supervisor" else 5.0
        check_shutdown(shutdown, f"child {id!r}: shutdown")
        self.shutdown: float | str | None = shutdown  # type: ignore[assignment]

    @property
    def start(self) -> tuple[Callable[..., Any], tuple[object, ...], dict[str, Any]]:
        """The start triple ``(callable, args, kwargs)``."""
        return (self.fn, self.args, self.kwargs)

    def replace(self, **changes: Any) -> ChildSpec:
        """Return a copy with some fields changed (as Elixir's ``Supervisor.child_spec/2``)."""
        fields: dict[str, Any] = {
            "id": self.id,
            "start": self.start,
            "restart": self.restart,
            "shutdown": self.shutdown,
            "type": self.type,
        }
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"unknown child spec fields {sorted(unknown)!r}")
        fields.update(changes)
        return ChildSpec(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChildSpec):
            return NotImplemented
        return (self.id, self.start, self.restart, self.shutdown, self.type) == (
            other.id,
            other.start,
            other.restart,
            other.shutdown,
            other.type,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ChildSpec(id={self.id!r}, start={self.start!r}, restart={self.restart!r}, "
            f"shutdown={self.shutdown!r}, type={self.type!r})"
        )


def check_shutdown(shutdown: object, what: str) -> None:
    """Raise ValueError, naming *what*, unless *shutdown* is a valid shutdown."""
    if not (
        shutdown is None
        or shutdown == "brutal_kill"
        or (isinstance(shutdown, (int, float)) and not isinstance(shutdown, bool) and shutdown >= 0)
    ):
        raise ValueError(f"{what} must be seconds >= 0, 'brutal_kill' or None; got {shutdown!r}")


def _parse_start(
    id: object,
    start: object,
) -> tuple[Callable[..., Any], tuple[object, ...], dict[str, Any]]:
    if not isinstance(start, tuple) or not 1 <= len(start) <= 3:
        raise TypeError(f"child {id!r}: start must be (callable, args, kwargs); got {start!r}")
    fn = start[0]
    args = start[1] if len(start) > 1 else ()
    kwargs = start[2] if len(start) > 2 else {}
    if not callable(fn):
        raise TypeError(f"child {id!r}: start[0] must be callable; got {fn!r}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"child {id!r}: start args must be a tuple; got {args!r}")
    if not isinstance(kwargs, dict):
        raise TypeError(f"child {id!r}: start kwargs must be a dict; got {kwargs!r}")
    return fn, tuple(args), dict(kwargs)


def to_child_spec(child: object) -> ChildSpec:
    """Turn a child list entry (``ChildSpec``, ``C`` or ``(C, arg)``) into a ChildSpec.

    Raises:
        TypeError: The entry is none of those, or ``child_spec`` returned
            something other than a ChildSpec.
    """
    if isinstance(child, ChildSpec):
        return child
    if isinstance(child, type):
        cls, arg = child, None
    elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], type):
        cls, arg = child
    else:
        raise TypeError(
            f"a child must be a ChildSpec, a class with child_spec() or (class, arg); got {child!r}"
        )
    make = getattr(cls, "child_spec", None)
    if make is None:
        raise TypeError(f"{cls.__qualname__} has no child_spec(arg); pass a gs.ChildSpec instead")
    spec = make(arg)
    if not isinstance(spec, ChildSpec):
        raise TypeError(f"{cls.__qualname__}.child_spec() returned {spec!r}, not a gs.ChildSpec")
    return spec
