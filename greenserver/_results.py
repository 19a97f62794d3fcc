"""What callbacks return: ``Ok``, ``Ignore``, ``Stop``, ``Reply``, ``NoReply``.

``continue_=``, ``timeout=`` and ``hibernate=`` are keyword options, at most one
per result: ``continue_=X`` runs ``handle_continue(X, state)`` before any
other message, ``timeout=T`` delivers ``"timeout"`` to ``handle_info`` after T
idle seconds, ``hibernate=True`` lets the idle server drop its greenlet.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar, final

S = TypeVar("S")


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def _check_options(continue_: object, timeout: float | None, hibernate: bool) -> None:
    given = [
        name
        for name, present in (
            ("continue_", continue_ is not UNSET),
            ("timeout", timeout is not None),
            ("hibernate", bool(hibernate)),
        )
        if present
    ]
    if len(given) > 1:
        raise ValueError(
            f"a result takes at most one of continue_=, timeout=, hibernate=; got {given}"
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0
    ):
        raise ValueError(f"timeout must be a number of seconds >= 0; got {timeout!r}")


class _Flow(Generic[S]):
    """A result that carries a state and the loop options."""

    __slots__ = ("continue_", "hibernate", "plain", "state", "timeout")

    state: S
    continue_: object
    timeout: float | None
    hibernate: bool
    plain: bool  # no option given: the loop's fast path applies

    def _options(self) -> str:
        if self.continue_ is not UNSET:
            return f", continue_={self.continue_!r}"
        if self.timeout is not None:
            return f", timeout={self.timeout!r}"
        return ", hibernate=True" if self.hibernate else ""


@final
class Ok(_Flow[S]):
    """``init`` succeeded (or ``code_change`` migrated the state)."""

    __slots__ = ()

    def __init__(
        self,
        state: S,
        *,
        continue_: object = UNSET,
        timeout: float | None = None,
        hibernate: bool = False,
    ) -> None:
        # Inlined rather than super().__init__: results are made on every message.
        if continue_ is not UNSET or timeout is not None or hibernate:
            _check_options(continue_, timeout, hibernate)
            self.plain = False
        else:
            self.plain = True
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout
        self.hibernate = hibernate

    def __repr__(self) -> str:
        return f"Ok({self.state!r}{self._options()})"


@final
class NoReply(_Flow[S]):
    """Go on with *state*; a ``handle_call`` returning it replies later (``reply``)."""

    __slots__ = ()

    def __init__(
        self,
        state: S,
        *,
        continue_: object = UNSET,
        timeout: float | None = None,
        hibernate: bool = False,
    ) -> None:
        # Inlined rather than super().__init__: results are made on every message.
        if continue_ is not UNSET or timeout is not None or hibernate:
            _check_options(continue_, timeout, hibernate)
            self.plain = False
        else:
            self.plain = True
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout
        self.hibernate = hibernate

    def __repr__(self) -> str:
        return f"NoReply({self.state!r}{self._options()})"


@final
class Reply(_Flow[S]):
    """Answer the caller with *reply* and go on with *state*."""

    __slots__ = ("reply",)

    def __init__(
        self,
        reply: object,
        state: S,
        *,
        continue_: object = UNSET,
        timeout: float | None = None,
        hibernate: bool = False,
    ) -> None:
        if continue_ is not UNSET or timeout is not None or hibernate:
            _check_options(continue_, timeout, hibernate)
            self.plain = False
        else:
            self.plain = True
        self.reply = reply
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout
        self.hibernate = hibernate

    def __repr__(self) -> str:
        return f"Reply({self.reply!r}, {self.state!r}{self._options()})"


@final
class Stop(Generic[S]):
    """Stop the server with *reason* (``terminate`` runs first, with *state*).

    From ``handle_call``, ``reply=`` answers the caller once ``terminate`` has
    run, as in OTP. From ``init``, only the reason counts.
    """

    __slots__ = ("reason", "reply", "state")

    def __init__(self, reason: object, state: S | None = None, *, reply: object = UNSET) -> None:
        self.reason = reason
        self.state = state
        self.reply = reply

    def __repr__(self) -> str:
        extra = "" if self.reply is UNSET else f", reply={self.reply!r}"
        return f"Stop({self.reason!r}, {self.state!r}{extra})"


@final
class Ignore:
    """``init`` declines to start: ``start`` returns ``None``, the process exits normally."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Ignore()"
