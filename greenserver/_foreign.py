"""Calls from plain OS threads: a short-lived proxy process does the work, the thread waits.

One OS thread runs every process (the hub's). Another thread may call,
cast, stop and send: the hub's thread does the work in a proxy process,
and the calling thread waits on a real (unpatched) lock, bounded by the
call's own deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from gevent.monkey import get_original

from ._errors import CallTimeoutError
from ._process import spawn_process
from ._scheduler import run_in_node

_allocate_lock = get_original("_thread", "allocate_lock")


_monotonic = get_original("time", "monotonic")


# How late past a foreign call's deadline the hub's thread may be with the
# answer (the call's own timeout) before the caller concludes it is blocked.
FOREIGN_SLACK: Final = 0.05


def run_from_foreign_thread(
    fn: Callable[[float | None], object],
    timeout: float | None,
    what: str,
    *,
    server: object = None,
    request: object = None,
) -> object:
    """Run ``fn(time_left)`` in a short-lived process of the node and wait for its result.

    This is how a plain OS thread calls a server: the hub's thread does the
    work, the OS thread waits on a real lock. The deadline is the caller's:
    *fn* gets the seconds left when it starts, so its own timeout fires on
    time, and the OS thread gives up ``FOREIGN_SLACK`` after the deadline.
    No answer by then means the hub's thread is blocked (it could not even
    run a timer), and the ``CallTimeoutError`` says so.
    """
    deadline = None if timeout is None else _monotonic() + timeout
    done = _allocate_lock()
    done.acquire()
    outcome: list[tuple[bool, object]] = []
    started: list[bool] = []

    def proxy() -> None:
        started.append(True)
        left = None if deadline is None else max(0.0, deadline - _monotonic())
        try:
            outcome.append((True, fn(left)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.release()

    run_in_node(spawn_process, proxy, (), {})
    wait = -1.0 if deadline is None else max(0.0, deadline - _monotonic()) + FOREIGN_SLACK
    if not done.acquire(timeout=wait):
        if started:
            why = "picked the request up, then got blocked before it could even time out"
        else:
            why = "never picked the request up"
        raise CallTimeoutError(
            f"{what} from another OS thread got no answer within {timeout}s: greenserver's "
            f"hub thread is blocked ({why}); it must be running gevent (serving, joining, "
            "receiving), not an unpatched blocking call such as time.sleep() or long CPU work",
            server=server,
            request=request,
        )
    ok, value = outcome[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value
