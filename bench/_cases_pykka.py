"""pykka 2.0.3's gevent actor beside GenServer (``requires="pykka"``; ``make bench`` installs it).

``pykka.ask`` (``actor_ref.ask(msg)`` round trip) runs interleaved with
``gen_server.call`` in the ``pingpong`` group; ``pykka.tell`` (N tells, then
one ask as a barrier, per tell) with ``gen_server.cast`` in the
``gen_server`` group. Every sample stops its actors
(``pykka.ActorRegistry.stop_all()``) and joins their greenlets.
"""

from __future__ import annotations

import warnings
from typing import Any

import gevent

from ._harness import Context, case, timed

WARMUP = 1_000


def _echo_class() -> Any:
    """Return the pykka GeventActor echo class (imported here: pykka is optional)."""
    with warnings.catch_warnings():
        # pykka.gevent warns at import that it goes away in pykka 3.
        warnings.simplefilter("ignore", DeprecationWarning)
        from pykka.gevent import GeventActor

    class PykkaEcho(GeventActor):  # type: ignore[misc]
        """Answers an ask with the message; counts tells."""

        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.glet: gevent.Greenlet[..., None] | None = None

        def _start_actor_loop(self) -> None:
            # As GeventActor does, but keep the greenlet so it can be joined.
            self.glet = gevent.spawn(self._actor_loop)

        def on_receive(self, message: Any) -> Any:
            if message == "count":
                return self.count
            self.count += 1
            return message

    return PykkaEcho


_cls: Any = None


def _start() -> tuple[Any, Any]:
    """Start one echo actor; return its ref and the actor (for its greenlet)."""
    global _cls
    if _cls is None:
        _cls = _echo_class()
    ref = _cls.start()
    return ref, ref._actor


def _stop(actor: Any) -> None:
    import pykka

    pykka.ActorRegistry.stop_all()
    if actor.glet is not None:
        actor.glet.join()


@case(
    "pykka.ask", baseline=("gen_server.call", "pingpong.queue"), group="pingpong", requires="pykka"
)
def pykka_ask(ctx: Context) -> float:
    """Round trip: actor_ref.ask(msg) to a pykka GeventActor echo."""
    n = ctx.n(20_000, 2_000)
    ref, actor = _start()
    try:
        ask = ref.ask

        def loop(k: int) -> object:
            msg: object = None
            for i in range(k):
                msg = ask(i)
            return msg

        loop(WARMUP)
        last: list[object] = []
        elapsed = timed(lambda: last.append(loop(n)))
        assert last == [n - 1], last
        return elapsed / n
    finally:
        _stop(actor)


@case("pykka.tell", baseline="gen_server.cast", group="gen_server", requires="pykka")
def pykka_tell(ctx: Context) -> float:
    """N actor_ref.tell, then one ask as a barrier (all handled); per tell."""
    n = ctx.n(50_000, 5_000)
    ref, actor = _start()
    try:
        tell, ask = ref.tell, ref.ask
        ask("ready")
        before = ask("count")

        def go() -> object:
            for i in range(n):
                tell(i)
            return ask("count")

        got: list[object] = []
        elapsed = timed(lambda: got.append(go()))
        assert got == [before + n], (got, before, n)
        return elapsed / n
    finally:
        _stop(actor)
