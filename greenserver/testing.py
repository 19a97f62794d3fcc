"""Test helpers for code built on greenserver (a pytest plugin, ``pytest11``).

Fixtures (opt in by name, or make them autouse in your ``conftest.py``):

* ``gs_clean``: fails a test that leaves processes or registered names
  behind (it kills and frees them first, so the next test starts clean), or
  that logs a ``crash_report``/``supervisor_report``/``application_report``
  it did not declare. A test that expects reports asks for ``gs_reports``
  and calls ``gs_reports.expect(...)`` (the report must come) or
  ``gs_reports.allow(...)`` (it may come).
* ``gs_reports``: the structlog events greenserver logged during the test.
* ``manual_clock``: a ``ManualClock`` installed as greenserver's clock.

Functions: ``wait_all_idle()`` (barrier: every other process is blocked on
an empty mailbox), ``wait_down(ref)`` (the ``Down`` of a monitor),
``ManualClock``.
"""

from __future__ import annotations

import textwrap
import time
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import suppress
from typing import Any, Final, final

import gevent
import pytest

from . import _clock, _messages, _names, _process, _reports, _scheduler
from ._errors import NoProcessError
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
    __tracebackhide__ = True
    me = _process.current_process()
    # Real time, not _clock.now(): under a ManualClock that never advances the
    # bound would never expire and a busy process would hang the test.
    deadline = time.monotonic() + timeout
    while True:
        busy = [p for p in _process.live_processes() if p is not me and not p.mailbox.is_waiting()]
        if not busy and not _scheduler.has_ready():
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
    __tracebackhide__ = True
    try:
        msg = _messages.receive(lambda m: type(m) is Down and m.ref is ref, timeout)
    except TimeoutError:
        raise TimeoutError(f"no Down for the monitor {ref!r} within {timeout}s") from None
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
    """The structlog events greenserver emitted during a test.

    ``expect`` declares a report that must come; ``allow`` one that may. At
    the end of the test (``gs_clean``, or ``gs_reports`` alone) a declared
    report that never came fails the test, and so does an alarming report
    (``crash_report``, ``supervisor_report``) that nothing declared.
    """

    def __init__(self, events: list[MutableMapping[str, Any]]) -> None:
        self.events = events
        self._expected: list[dict[str, Any]] = []
        self._allowed: list[dict[str, Any]] = []
        self._checked = False

    def of(self, event: str) -> list[MutableMapping[str, Any]]:
        """Return the captured events named *event*, oldest first."""
        return [e for e in self.events if e.get("event") == event]

    def expect(self, event: str, **fields: Any) -> None:
        """Declare that a report named *event*, with these *fields*, must come.

        Any number of matching reports may come; none at all fails the test.
        """
        self._expected.append({"event": event, **fields})

    def allow(self, event: str, **fields: Any) -> None:
        """Declare that reports named *event*, with these *fields*, may come (or not)."""
        self._allowed.append({"event": event, **fields})

    def unexpected(self) -> list[MutableMapping[str, Any]]:
        """Return the alarming reports nothing declared."""
        declared = self._expected + self._allowed
        return [
            e
            for e in self.events
            if e.get("event") in _ALARMS and not any(_matches(e, want) for want in declared)
        ]

    def missing(self) -> list[dict[str, Any]]:
        """Return the ``expect`` declarations that no report matched."""
        return [want for want in self._expected if not any(_matches(e, want) for e in self.events)]

    def problems(self) -> list[str]:
        """Describe what is wrong with the reports, one paragraph each (empty: nothing)."""
        self._checked = True
        found = []
        for want in self.missing():
            found.append(f"expected report never came: {_describe(want)}")
        unexpected = self.unexpected()
        if unexpected:
            found.append(
                "unexpected reports (declare them with gs_reports.expect() or allow()):\n"
                + "\n".join(textwrap.indent(_describe(e), "  ") for e in unexpected)
            )
        return found


def _matches(event: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return all(event.get(k) == v for k, v in want.items())


_HIDDEN: Final = frozenset({"event", "exc_info", "log_level", "timestamp"})


def _describe(report: Mapping[str, Any]) -> str:
    """One report as a line of ``key=value`` (and its traceback, if any)."""
    fields = " ".join(
        f"{k}={v if isinstance(v, str) else _reports.short(v)}"
        for k, v in report.items()
        if k not in _HIDDEN and v is not None
    )
    text = f"{report.get('event')} {fields}".rstrip()
    exc = report.get("exc_info")
    if isinstance(exc, BaseException):
        lines = traceback.format_exception(exc)
        text += "\n" + textwrap.indent("".join(lines).rstrip(), "    ")
    return text


def _describe_process(pid: Pid) -> str:
    proc = pid._proc
    current = proc.current
    what = getattr(current, "__qualname__", None) or repr(current)
    name = f" {proc.name!r}" if proc.name is not None else ""
    return f"{pid!r}{name} ({what})"


@pytest.fixture
def gs_reports() -> Iterator[ReportLog]:
    """Capture greenserver's reports for the duration of a test."""
    __tracebackhide__ = True
    with _reports.capture() as events:
        log = ReportLog(events)
        yield log
    if not log._checked:  # gs_clean did not check them: do it here
        problems = log.problems()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def gs_clean(gs_reports: ReportLog) -> Iterator[None]:
    """Fail the test if it leaks processes or names, or its reports are not as declared.

    Leaked processes are killed and leaked names freed before the test
    fails, so the next test starts on a clean node.
    """
    __tracebackhide__ = True
    me = _process.current_process().pid
    before: set[Pid] = set(_process.processes())
    names_before = set(_names.registered())
    yield
    # The test's own greenlet may have been killed (by a link) and adopted
    # anew: that process is the test, not a leak.
    mine = {me, _process.current_process().pid}
    leaked = [p for p in _process.processes() if p not in before and p not in mine]
    names = [n for n in _names.registered() if n not in names_before]
    problems = []
    if leaked:
        shown = ", ".join(_describe_process(p) for p in leaked)
        problems.append(f"leaked processes (now killed): {shown}")
    if names:
        problems.append(f"leaked names (now freed): {', '.join(repr(n) for n in names)}")
    for pid in leaked:  # leave the next test a clean node
        _process.terminate(pid._proc, "killed")
    for name in names:  # a name held by a process that lives on (the test's own)
        with suppress(NoProcessError):
            _names.unregister(name)
    problems += gs_reports.problems()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    """Install a ``ManualClock`` as greenserver's clock for one test."""
    clock = ManualClock()
    clock.install()
    try:
        yield clock
    finally:
        clock.uninstall()
