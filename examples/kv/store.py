"""The keys and values of one shard, and their expiry."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Final, final

SWEEP_BUDGET: Final = 10_000  # expired keys one sweep drops at most

# --- the store: one shard's keys --------------------------------------------------


@final
class Store:
    """Keys and values of one shard, with deadlines for expiring keys.

    ``clock`` returns seconds (monotonic); tests pass a manual clock. Expired
    keys are dropped when read (lazily) and by ``sweep``, which pops a heap of
    deadlines, so a sweep costs only the keys that did expire.
    """

    __slots__ = ("clock", "data", "expires", "heap")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.data: dict[bytes, bytes] = {}
        self.expires: dict[bytes, float] = {}
        self.heap: list[tuple[float, bytes]] = []

    def live(self, key: bytes) -> bytes | None:
        """Return the value of *key*, dropping it if it has expired."""
        value = self.data.get(key)
        if value is not None and self.expires:
            deadline = self.expires.get(key)
            if deadline is not None and deadline <= self.clock():
                del self.data[key]
                del self.expires[key]
                return None
        return value

    def expire_at(self, key: bytes, deadline: float) -> None:
        self.expires[key] = deadline
        heapq.heappush(self.heap, (deadline, key))

    def delete(self, key: bytes) -> bool:
        if self.live(key) is None:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        return True

    def sweep(self, budget: int = SWEEP_BUDGET) -> int:
        """Drop up to *budget* expired keys; return how many were dropped."""
        heap = self.heap
        expires = self.expires
        now = self.clock()
        dropped = 0
        while heap and heap[0][0] <= now and dropped < budget:
            deadline, key = heapq.heappop(heap)
            if expires.get(key) == deadline:  # else the key got a new deadline, or none
                del expires[key]
                del self.data[key]
                dropped += 1
        if len(heap) > 2 * len(expires) + 1024:  # stale entries: rebuild
            self.heap = [(d, k) for k, d in expires.items()]
            heapq.heapify(self.heap)
        return dropped

    def ttl_ms(self, key: bytes) -> int:
        """Return milliseconds left, -1 for a key without expiry, -2 for none."""
        if self.live(key) is None:
            return -2
        deadline = self.expires.get(key)
        if deadline is None:
            return -1
        return max(0, round((deadline - self.clock()) * 1000))
