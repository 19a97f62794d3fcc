"""Seconds the cyclic garbage collector runs, measured through ``gc.callbacks``.

At scale the collector is a large part of starting servers: every full
collection walks all live objects, and a million servers are millions of
objects. The scale cases (``_million``, ``_start_link_many``) report the
share, for the closing note's "where the time goes".
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class GcTime:
    """Running totals of collections: seconds, count, full (generation 2) ones."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self.full = 0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.collections += 1
        self.full += info["generation"] == 2


@contextmanager
def gc_time() -> Iterator[GcTime]:
    """Count the collections that run inside the ``with`` block."""
    totals = GcTime()
    gc.callbacks.append(totals._callback)
    try:
        yield totals
    finally:
        gc.callbacks.remove(totals._callback)
