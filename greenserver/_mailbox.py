"""A mailbox: FIFO delivery and selective receive; it knows nothing of processes.

Messages sit in a deque (made on first use: an idle process that never
got a message holds none). ``get`` takes the first message, or the first one
a *match* function accepts, leaving the others in order. A blocked ``get``
remembers how far it scanned, so a wake-up only looks at new messages, and a
sender wakes the owner only when the owner's match accepts the new message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice
from time import monotonic
from typing import Any

from greenlet import getcurrent
from greenlet import greenlet as RawGreenlet

from ._scheduler import INTERRUPT, TIMEOUT, WAKE, make_ready, park

Match = Callable[[Any], object]


class Interrupted(Exception):
    """A blocked ``get`` was ended by ``interrupt()`` (the owner was killed)."""


# Not @final: the stand-in of another node's process has a Mailbox subclass
# whose put() forwards to that node (greenserver._dist_conn).
class Mailbox:
    """The message queue of one process, with at most one blocked reader."""

    __slots__ = ("_items", "_match", "_seq", "_timer", "_waiter")

    def __init__(self) -> None:
        self._items: deque[object] | None = None
        self._waiter: RawGreenlet | None = None
        self._match: Match | None = None
        self._seq = 0
        self._timer: Any = None

    def __len__(self) -> int:
        items = self._items
        return 0 if items is None else len(items)

    def put(self, msg: object) -> None:
        """Append *msg*; wake the blocked reader if it would accept *msg*."""
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(msg)
        glet = self._waiter
        if glet is not None:
            match = self._match
            if match is None or _accepts(match, msg):
                self._waiter = None
                make_ready(glet, self, self._seq, WAKE)

    def get(self, match: Match | None, timeout: float | None) -> object:
        """Remove and return the first (matching) message, blocking if none.

        Raises:
            TimeoutError: Nothing (matching) arrived within *timeout* seconds.
            Interrupted: ``interrupt()`` ended the wait.
        """
        items = self._items
        scanned = 0
        if items:
            if match is None:
                return items.popleft()
            for msg in items:
                if match(msg):
                    del items[scanned]
                    return msg
                scanned += 1
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        glet = getcurrent()
        self._waiter = glet
        self._match = match
        try:
            value = park(self, None if timeout is None else monotonic() + timeout)
            while True:
                if value is WAKE:
                    items = self._items
                    if items is None:  # cleared: the owner died after being woken
                        raise Interrupted
                    if match is None:
                        if items:
                            return items.popleft()
                    else:
                        index = scanned
                        for msg in islice(items, scanned, None) if scanned else items:
                            if match(msg):
                                del items[index]
                                return msg
                            index += 1
                        scanned = index
                elif value is TIMEOUT:
                    raise TimeoutError
                elif value is INTERRUPT:
                    raise Interrupted
                else:
                    raise RuntimeError(
                        f"a blocked receive was resumed by a foreign switch with {value!r}"
                    )
                # Woken for a message the match turned down after all: wait on.
                self._waiter = glet
                value = park(self, None)
        finally:
            self._waiter = None
            self._match = None
            self._seq += 1
            timer = self._timer
            if timer is not None:
                self._timer = None
                timer.close()

    def interrupt(self) -> bool:
        """End a blocked ``get`` with ``Interrupted``; return whether one was blocked."""
        glet = self._waiter
        if glet is None:
            return False
        self._waiter = None
        make_ready(glet, self, self._seq, INTERRUPT)
        return True

    def remove_if(self, pred: Callable[[object], bool]) -> int:
        """Drop every queued message *pred* accepts; return how many."""
        items = self._items
        if not items:
            return 0
        kept = [msg for msg in items if not pred(msg)]
        dropped = len(items) - len(kept)
        if dropped:
            items.clear()
            items.extend(kept)
        return dropped

    def messages(self) -> list[object]:
        """Return a copy of the queued messages, oldest first."""
        return list(self._items or ())

    def clear(self) -> None:
        """Drop every message and the queue itself (a dead owner needs neither)."""
        self._items = None

    def compact(self) -> None:
        """Release the queue's memory if it is empty (hibernation)."""
        if not self._items:
            self._items = None


def _accepts(match: Match, msg: object) -> bool:
    # Runs in the sender. A match that raises is the receiver's bug: wake the
    # receiver, whose own scan raises the error in the receiver.
    try:
        return bool(match(msg))
    except Exception:
        return True
