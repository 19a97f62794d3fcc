"""Agent: a process that holds a state, as Elixir's ``Agent``.

An agent is a GenServer whose callbacks run the functions its clients send:
``get`` reads the state through a function, ``update`` replaces it,
``get_and_update`` does both in one step and ``cast`` updates without
waiting. Every function runs in the agent's process, one at a time and in
arrival order, so each sees the effect of those before it.

As in Elixir, an exception in a function crashes the agent (one crash
report, the exception as the exit reason), and a caller waiting on it gets
``ServerExitError`` carrying the exception. So does a ``get_and_update``
function that returns anything but a ``(reply, new_state)`` pair: the agent
exits with ``BadReturnError``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, final

from ._errors import BadReturnError
from ._gen_server import GenServer
from ._names import Via
from ._pid import Pid, Ref
from ._results import NoReply, Ok, Reply, Stop

T = TypeVar("T")


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


@final
class _Op:
    """What a client asks an agent to do: run ``fn(state)`` for *kind*."""

    __slots__ = ("fn", "kind")

    def __init__(self, kind: str, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Agent.{kind}() needs a callable; got {fn!r}")
        self.kind = kind
        self.fn = fn

    def run(self, state: object) -> Any:
        return self.fn(state)

    def __repr__(self) -> str:
        return f"Agent.{self.kind}({_name(self.fn)})"


def _start(
    cls: type[Agent],
    link: bool,
    fn: Callable[..., object],
    args: tuple[object, ...],
    name: str | Via | None,
    timeout: float | None,
    hibernate_after: float | None,
) -> Pid:
    if not callable(fn):
        raise TypeError(f"Agent.start{'_link' if link else ''}() needs a callable; got {fn!r}")
    initial = partial(fn, *args) if args else fn
    start = GenServer.start_link if link else GenServer.start
    return start(cls, initial, name=name, timeout=timeout, hibernate_after=hibernate_after)


class Agent(GenServer[Any]):
    """A process that holds a state, read and changed through functions.

    Use the static functions on any agent. A subclass (to give an agent a
    client API, or a ``format_status`` that hides secrets) is started by its
    own ``start_link``.

    >>> import greenserver as gs
    >>> counter = gs.Agent.start_link(lambda: 0)
    >>> gs.Agent.update(counter, lambda n: n + 1)
    >>> gs.Agent.get(counter, lambda n: n)
    1
    >>> gs.Agent.get_and_update(counter, lambda n: (n, n + 10))
    1
    >>> gs.Agent.get(counter, lambda n: n)
    11
    >>> gs.Agent.stop(counter)
    """

    # --- starting ------------------------------------------------------------

    @classmethod
    def start_link(
        cls,
        fn: Callable[..., object],
        *args: object,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
    ) -> Pid:
        """Start an agent linked to the caller, with ``fn(*args)`` as its state.

        *fn* runs in the new agent process; this returns once it has.

        Args:
            fn: Computes the initial state.
            args: Passed to *fn*.
            name: A local name (str) or a ``gs.Via`` to register the agent under.
            timeout: Seconds to wait for *fn*; ``None`` waits forever. On
                expiry the half-started agent is killed.
            hibernate_after: Idle seconds after which the agent hibernates.

        Raises:
            StartError: *fn* raised (``.reason`` is the exception, and a
                crash report is logged) or the timeout expired (``"timeout"``).
            AlreadyStartedError: *name* is taken.
        """
        return _start(cls, True, fn, args, name, timeout, hibernate_after)

    @classmethod
    def start(
        cls,
        fn: Callable[..., object],
        *args: object,
        name: str | Via | None = None,
        timeout: float | None = None,
        hibernate_after: float | None = None,
    ) -> Pid:
        """Start an agent without a link (see ``start_link``)."""
        return _start(cls, False, fn, args, name, timeout, hibernate_after)

    # --- client API ------------------------------------------------------------

    @staticmethod
    def get(agent: object, fn: Callable[[Any], T], timeout: float | None = 5.0) -> T:
        """Return ``fn(state)``, computed in the agent; the state is unchanged.

        Raises:
            NoProcessError: No live agent has that pid or name.
            CallTimeoutError: No answer within *timeout* seconds.
            ServerExitError: The agent died before answering, for instance
                because *fn* raised (``.reason`` is the exception).
        """
        result: T = GenServer.call(agent, _Op("get", fn), timeout)
        return result

    @staticmethod
    def update(agent: object, fn: Callable[[Any], object], timeout: float | None = 5.0) -> None:
        """Replace the state with ``fn(state)`` and wait until it is done.

        Raises the errors of ``get``.
        """
        GenServer.call(agent, _Op("update", fn), timeout)

    @staticmethod
    def get_and_update(
        agent: object,
        fn: Callable[[Any], tuple[T, object]],
        timeout: float | None = 5.0,
    ) -> T:
        """Run ``fn(state)``, which returns ``(reply, new_state)``; return *reply*.

        Reading and replacing the state is one step: no other request to
        the agent runs in between.

        Raises:
            ServerExitError: *fn* raised, or returned something other than a
                pair (the agent exits with ``BadReturnError``); and the
                other errors of ``get``.
        """
        result: T = GenServer.call(agent, _Op("get_and_update", fn), timeout)
        return result

    @staticmethod
    def cast(agent: object, fn: Callable[[Any], object]) -> None:  # type: ignore[override]
        """Replace the state with ``fn(state)`` without waiting; never fails.

        As with ``GenServer.cast``, nothing happens when the agent is absent.
        """
        GenServer.cast(agent, _Op("cast", fn))

    @staticmethod
    def stop(agent: object, reason: object = "normal", timeout: float | None = None) -> None:
        """Stop the agent with *reason* and wait for it to exit.

        Raises:
            NoProcessError: No live agent has that pid or name.
            CallTimeoutError: It did not exit within *timeout* seconds.
        """
        GenServer.stop(agent, reason, timeout)

    # --- callbacks: run in the agent process ----------------------------------

    def init(self, fn: Any) -> Ok[Any]:
        """Compute the initial state with ``fn()``; an exception fails the start."""
        return Ok(fn())

    def handle_call(self, request: Any, from_: Ref, state: Any) -> Reply[Any] | Stop[Any]:
        """Run a ``get``, ``update`` or ``get_and_update`` function."""
        if type(request) is _Op:
            kind = request.kind
            if kind == "get":
                return Reply(request.run(state), state)
            if kind == "update":
                return Reply(None, request.run(state))
            if kind == "get_and_update":
                result = request.run(state)
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise BadReturnError(_name(request.fn), result)
                return Reply(result[0], result[1])
        raise RuntimeError(
            f"{type(self).__qualname__} received the call {request!r}; an agent only "
            "answers Agent.get(), Agent.update() and Agent.get_and_update()"
        )

    def handle_cast(self, request: Any, state: Any) -> NoReply[Any]:
        """Run a ``cast`` function."""
        if type(request) is _Op and request.kind == "cast":
            return NoReply(request.run(state))
        raise RuntimeError(
            f"{type(self).__qualname__} received the cast {request!r}; an agent only "
            "takes Agent.cast()"
        )
