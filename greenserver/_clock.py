"""The one clock that time-based logic reads (restart intensity, statistics).

Tests swap the source with ``greenserver.testing.ManualClock`` instead of
waiting for real time to pass. Receive timeouts are real gevent timers and
do not read this clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_source: Callable[[], float] = time.monotonic


def now() -> float:
    """Return the current time in seconds (monotonic unless a test swapped it)."""
    return _source()


def wall() -> float:
    """Return wall-clock seconds since the epoch (for reports and statistics)."""
    return time.time()


def set_source(source: Callable[[], float] | None) -> None:
    """Read time from *source* from now on; ``None`` restores ``time.monotonic``."""
    global _source
    _source = time.monotonic if source is None else source
