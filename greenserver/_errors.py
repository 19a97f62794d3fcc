"""Every exception greenserver raises, and the exit signal ``Exit``."""

from __future__ import annotations

from typing import Any


class Exit(BaseException):
    """End the current process with *reason*.

    ``raise gs.Exit(reason)`` ends the process the way ``exit(Reason)`` does in
    Erlang. The kernel also raises it inside a process that an exit signal
    has killed; then ``from_`` is the pid the signal came from (the linked
    process that died, or the caller of ``gs.exit``), and the message names
    it, as Elixir's ``** (EXIT from #PID<0.105.0>) ...`` does. It derives
    from ``BaseException`` so that ``except Exception`` cannot swallow it.
    """

    def __init__(self, reason: object = "normal", from_: object = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.from_ = from_

    def __str__(self) -> str:
        if self.from_ is None:
            return super().__str__()
        return f"exit signal from {self.from_!r}: {_short(self.reason)}"

    def __repr__(self) -> str:
        if self.from_ is None:
            return f"Exit({self.reason!r})"
        return f"Exit({self.reason!r}, from_={self.from_!r})"


Exit.__module__ = "greenserver"  # tracebacks show greenserver.Exit, the public name


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 300 else f"{text[:297]}..."


class CallError(Exception):
    """A call (or a message to a name) could not be completed.

    Attributes:
        server: The pid, name or ``Via`` the caller addressed.
        request: The request (or message) that was being sent.
    """

    def __init__(self, message: str, *, server: object = None, request: object = None) -> None:
        super().__init__(message)
        self.server = server
        self.request = request


class CallTimeoutError(CallError, TimeoutError):
    """No reply came within the call's timeout; the server keeps running."""


class NoProcessError(CallError, LookupError):
    """No live process has that pid, name or ``Via`` key."""


class ServerExitError(CallError):
    """The server exited before it replied; ``.reason`` is its exit reason."""

    def __init__(
        self, message: str, *, reason: object, server: object = None, request: object = None
    ) -> None:
        super().__init__(message, server=server, request=request)
        self.reason = reason


class BadReturnError(Exception):
    """A callback returned a value outside its contract.

    It is the exit reason of the server that received it. ``.callback`` names
    the callback and ``.value`` is what it returned.
    """

    def __init__(self, callback: str, value: object) -> None:
        # A callback's name reads "Stack.init()"; a description ("the start
        # function of child 'db'") is used as it is.
        shown = callback if " " in callback else f"{callback}()"
        super().__init__(f"{shown} returned {value!r}, which is not a valid result")
        self.callback = callback
        self.value = value

    def __reduce__(self) -> Any:
        return (type(self), (self.callback, self.value))


class StartError(Exception):
    """A process failed to start; ``.reason`` says why (as OTP's ``{error, Reason}``)."""

    def __init__(self, reason: object, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"start failed: {reason!r}")
        self.reason = reason


class AlreadyStartedError(StartError):
    """The name asked for is taken; ``.pid`` is the process holding it."""

    def __init__(self, pid: object, name: object) -> None:
        super().__init__(("already_started", pid), f"name {name!r} is already taken by {pid!r}")
        self.pid = pid
        self.name = name


class AlreadyRegisteredError(Exception):
    """A name or unique registry key is already taken."""


class SupervisorError(Exception):
    """A supervisor refused a request; ``.reason`` is OTP's reason term."""

    def __init__(self, reason: object, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"supervisor refused: {reason!r}")
        self.reason = reason


class NodeError(Exception):
    """This process could not become (or act as) a node: bad name, name taken, no epmd."""
