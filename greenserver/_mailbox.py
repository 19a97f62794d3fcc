"""A mailbox: FIFO delivery and selective receive; it knows nothing of processes.

Messages sit in a deque (made on first use: an idle process that never
got a message holds none). ``get`` takes the first message, or the first one
a *match* function accepts, leaving the others in order. A blocked ``get``
remembers how far it scanned, so a wake-up only looks at new messages.

``get(..., start=mark())`` skips every message queued before the mark: a
call's reply can only come after its request, so a call costs the same
whatever else the caller's mailbox holds (OTP's receive marker).

A user's match runs in the receiver (it may read ``gs.self()``, a contextvar,
greenlet-local state): each new message wakes a receiver blocked on one.
The kernel's own matches (``in_sender=True``: a reference compared by
identity) are evaluated by the sender, which wakes the owner only for a
message it accepts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice
from time import monotonic
from typing import Any, Final

from greenlet import getcurrent

from ._scheduler import INTERRUPT, TIMEOUT, WAKE, Wait, make_ready, park

Match = Callable[[Any], object]


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = _Empty()


class Interrupted(Exception):
    """A blocked ``get`` was ended by ``interrupt()`` (the owner was killed)."""


def _in_receiver(_msg: object) -> bool:
    return True  # never called: a sentinel telling ``put`` to wake the receiver


# Not @final: the stand-in of another node's process has a Mailbox subclass
# whose put() forwards to that node (greenserver._dist_node.Outbox).
class Mailbox(Wait):
    """The message queue of one process, with at most one blocked reader."""

    __slots__ = ("_items", "_match", "_on_message")

    def __init__(self) -> None:
        super().__init__()
        self._items: deque[object] | None = None
        self._match: Match | None = None
        # A dormant owner (no greenlet): called once by the next message.
        self._on_message: Callable[[], object] | None = None

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
            # Only the kernel's own matches run here (a user's runs in the
            # receiver): they compare a ref by identity and cannot raise.
            if match is None or match is _in_receiver or match(msg):
                self._waiter = None
                make_ready(glet, self, self._seq, WAKE)
        elif self._on_message is not None:
            wake = self._on_message
            self._on_message = None
            wake()

    def take(self) -> object:
        """Remove and return the first message without blocking; ``EMPTY`` if none."""
        items = self._items
        return items.popleft() if items else EMPTY

    def sleep_until_message(self, wake: Callable[[], object]) -> None:
        """Have the next message call ``wake()`` (the owner gives up its greenlet).

        The owner must have found the mailbox empty; a dead owner's ``clear``
        cancels it.
        """
        self._on_message = wake

    def mark(self) -> int:
        """Return a position: ``get(..., start=mark)`` ignores what is queued now.

        The position stays valid while the owner removes nothing (it is the
        owner that marks, and then waits).
        """
        items = self._items
        return 0 if items is None else len(items)

    def get(
        self,
        match: Match | None,
        timeout: float | None,
        start: int = 0,
        in_sender: bool = False,
    ) -> object:
        """Remove and return the first (matching) message, blocking if none.

        *start* (from ``mark()``) skips the messages queued before it;
        *in_sender* lets senders evaluate *match* (see the module docstring).

        Raises:
            TimeoutError: Nothing (matching) arrived within *timeout* seconds.
            Interrupted: ``interrupt()`` ended the wait.
        """
        items = self._items
        scanned = start
        if items:
            if match is None:
                return items.popleft()
            index = _find(items, match, scanned)
            if index >= 0:
                return _pop(items, index)
            scanned = len(items)
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        glet = getcurrent()
        self._waiter = glet
        self._match = match if match is None or in_sender else _in_receiver
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
                        index = _find(items, match, scanned)
                        if index >= 0:
                            return _pop(items, index)
                        scanned = len(items)
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
            self._match = None
            self.end_wait()

    def remove_if(self, pred: Match, start: int = 0) -> int:
        """Drop every queued message from position *start* on that *pred* accepts.

        Returns how many were dropped.
        """
        items = self._items
        if not items or start >= len(items):
            return 0
        tail = _tail(items, start)
        kept = [msg for msg in tail if not pred(msg)]
        dropped = len(tail) - len(kept)
        if dropped:
            for _ in range(len(tail)):
                items.pop()
            items.extend(kept)
        return dropped

    def is_waiting(self) -> bool:
        """Return whether the owner waits for a message (blocked, or dormant)."""
        return self._waiter is not None or self._on_message is not None

    def messages(self) -> list[object]:
        """Return a copy of the queued messages, oldest first."""
        return list(self._items or ())

    def clear(self) -> None:
        """Drop every message and the queue itself (a dead owner needs neither)."""
        self._items = None
        self._on_message = None

    def compact(self) -> None:
        """Release the queue's memory if it is empty (hibernation)."""
        if not self._items:
            self._items = None


def _tail(items: deque[object], start: int) -> list[object]:
    """Copy ``items[start:]`` in O(len - start), walking from the right end."""
    count = len(items) - start
    if count > start:
        return list(islice(items, start, None))
    tail = list(islice(reversed(items), count))
    tail.reverse()
    return tail


def _find(items: deque[object], match: Match, start: int) -> int:
    """Return the index of the first message from *start* on that *match* accepts, or -1."""
    if start == 0:
        for index, msg in enumerate(items):
            if match(msg):
                return index
        return -1
    if len(items) - start == 1:  # the usual wake-up: one new message, the last
        return start if match(items[-1]) else -1
    for offset, msg in enumerate(_tail(items, start)):
        if match(msg):
            return start + offset
    return -1


def _pop(items: deque[object], index: int) -> object:
    if index == 0:
        return items.popleft()
    msg = items[index]
    del items[index]  # a deque rotates from the nearer end: cheap near the tail
    return msg
