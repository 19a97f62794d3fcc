"""Test helpers for code built on greenserver (a pytest plugin, ``pytest11``).

Fixtures (opt in by name, or make them autouse in your ``conftest.py``):

* ``gs_clean``: fails a test that leaves processes or registered names
  behind, or that logs a ``crash_report``/``supervisor_report``/
  ``application_report`` it did not expect. A test that expects reports
  asks for ``gs_reports`` and calls ``gs_reports.expect(...)``.
* ``gs_reports``: the structlog events greenserver logged during the test.
* ``manual_clock``: a ``ManualClock`` installed as greenserver's clock.

Functions: ``wait_all_idle()`` (barrier: every other process is blocked on
an empty mailbox), ``wait_down(ref)`` (the ``Down`` of a monitor),
``ManualClock``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from typing import Any, final

import gevent
import pytest

from . import _clock, _process, _reports, _scheduler
from ._pid import Pid, Ref
from ._process import Down

__all__ = ["ManualClock", "ReportLog", "wait_all_idle", "wait_down"]

_ALARMS = frozenset({"crash_report", "supervisor_report", "application_report"})


def wait_all_idle(timeout: float = 5.0) -> None:
    """Block until every process except the caller waits on an empty mailbox.

    Use it as a barrier after casts and sends whose effects a test inspects
    by other means than a call. It yields to the hub in between checks.

    Raises:
        TimeoutError: Some process was still busy after *timeout* seconds.
    """
    me = _process.current_process()
    # Real time, not _clock.now(): under a ManualClock that never advances the
    # bound would never expire and a busy process would hang the test.
    deadline = time.monotonic() + timeout
    while True:
        busy = [p for p in _process.live_processes() if p is not me and not p.mailbox.is_waiting()]
        if not busy and not _scheduler._ready and not _scheduler._starting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes still busy after {timeout}s: {[p.pid for p in busy]!r}")
        gevent.sleep(0)


def wait_down(ref: Ref, timeout: float = 5.0) -> Down:
    """Receive the ``Down`` of the monitor *ref* (the usual end of a test's story).

    Raises:
        TimeoutError: It did not come within *timeout* seconds (a bound on a
            failure, never a way to wait for success).
    """
    msg = _process.receive(lambda m: type(m) is Down and m.ref is ref, timeout)
    assert type(msg) is Down
    return msg


@final
class ManualClock:
    """A clock that moves only when told to; install it with ``install()``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds*."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds!r}")
        self.time += seconds

    def install(self) -> None:
        """Make greenserver read time from this clock."""
        _clock.set_source(self)

    def uninstall(self) -> None:
        """Restore the real clock."""
        _clock.set_source(None)


@final
class ReportLog:
    """The structlog events greenserver emitted during a test."""

    def __init__(self, events: list[MutableMapping[str, Any]]) -> None:
        self.events = events
        self._expected: list[dict[str, Any]] = []

    def of(self, event: str) -> list[MutableMapping[str, Any]]:
        """Return the captured events named *event*, oldest first."""
        return [e for e in self.events if e.get("event") == event]

    def expect(self, event: str, **fields: Any) -> None:
        """Declare that reports named *event* (whose *fields* match) are expected."""
        self._expected.append({"event": event, **fields})

    def unexpected(self) -> list[MutableMapping[str, Any]]:
        """Return the alarming reports nothing declared as expected."""
        return [
            e
            for e in self.events
            if e.get("event") in _ALARMS
            and not any(all(e.get(k) == v for k, v in want.items()) for want in self._expected)
        ]


@pytest.fixture
def gs_reports() -> Iterator[ReportLog]:
    """Capture greenserver's reports for the duration of a test."""
    with _reports.capture() as events:
        yield ReportLog(events)


@pytest.fixture
def gs_clean(gs_reports: ReportLog) -> Iterator[None]:
    """Fail the test if it leaks processes or names, or logs an unexpected crash."""
    me = _process.current_process().pid
    before: set[Pid] = set(_process.processes())
    names_before = set(_process.registered())
    yield
    # The test's own greenlet may have been killed (by a link) and adopted
    # anew: that process is the test, not a leak.
    mine = {me, _process.current_process().pid}
    leaked = [p for p in _process.processes() if p not in before and p not in mine]
    names = [n for n in _process.registered() if n not in names_before]
    for pid in leaked:  # leave the next test a clean node
        _process.terminate(pid._proc, "killed")
    problems = []
    if leaked:
        problems.append(f"leaked processes: {leaked!r}")
    if names:
        problems.append(f"leaked names: {names!r}")
    unexpected = gs_reports.unexpected()
    if unexpected:
        problems.append(f"unexpected reports: {unexpected!r}")
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """Install a ``ManualClock`` as greenserver's clock for one test."""
    clock = ManualClock()
    clock.install()
    try:
        yield clock
    finally:
        clock.uninstall()
