"""greenserver.testing: the pytest plugin and helpers offered to users' test suites.

The plugin is shown the way a user meets it: an inner pytest session, run as
a subprocess on a test file written to a temporary directory, with the
plugin loaded through its ``pytest11`` entry point (no import of
``greenserver.testing`` anywhere). Each outer test checks the outcome of one
inner test, read from the inner session's JUnit XML report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import greenserver as gs
import greenserver.testing
from greenserver.testing import ManualClock, ReportLog, wait_all_idle

# What a user puts in their conftest.py to check every test.
INNER_CONFTEST = """
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean(gs_clean: None) -> Iterator[None]:
    yield
"""

INNER_TESTS = '''
from __future__ import annotations

from typing import Any

import greenserver as gs
from greenserver.testing import ManualClock, ReportLog, wait_all_idle


class Counter(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(state, state)

    def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
        return gs.NoReply(state + request)


class Relay(gs.GenServer[Any]):
    """Casts what it gets to the next relay; the last one appends it to a list."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
        target = state
        if isinstance(target, list):
            target.append(request)
        else:
            gs.GenServer.cast(target, request)
        return gs.NoReply(state)


def crasher() -> None:
    raise ValueError("boom")


def wait_down(ref: gs.Ref) -> gs.Down:
    msg = gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=5.0)
    assert isinstance(msg, gs.Down)
    return msg


def test_clean() -> None:
    pid = Counter.start_link(0)
    gs.GenServer.cast(pid, 1)
    assert gs.GenServer.call(pid, "get") == 1
    gs.GenServer.stop(pid)


def test_leaks_a_process() -> None:
    gs.spawn(gs.receive)
    Counter.start(0, name="counter")


def test_leaks_a_name() -> None:
    gs.register("leaky", gs.self())


def test_reuses_the_leaked_name() -> None:
    """The previous test's name was freed: registering it again works."""
    gs.register("leaky", gs.self())
    gs.unregister("leaky")


def test_expects_a_report_that_never_comes(gs_reports: ReportLog) -> None:
    gs_reports.expect("crash_report", reason="ValueError('boom')")


def test_allows_a_report_that_never_comes(gs_reports: ReportLog) -> None:
    gs_reports.allow("crash_report", reason="ValueError('boom')")


def test_allows_a_report_that_comes(gs_reports: ReportLog) -> None:
    gs_reports.allow("crash_report", reason="ValueError('boom')")
    _, ref = gs.spawn_monitor(crasher)
    wait_down(ref)


def test_waits_for_a_down_that_never_comes() -> None:
    from greenserver.testing import wait_down as testing_wait_down

    pid = gs.spawn(gs.receive)
    ref = gs.monitor(pid)
    try:
        testing_wait_down(ref, timeout=0.01)
    finally:
        gs.exit(pid, "kill")


def test_logs_an_undeclared_crash_report() -> None:
    _, ref = gs.spawn_monitor(crasher)
    wait_down(ref)


def test_declares_the_crash_it_expects(gs_reports: ReportLog) -> None:
    gs_reports.expect("crash_report", reason="ValueError('boom')")
    pid, ref = gs.spawn_monitor(crasher)
    wait_down(ref)
    [report] = gs_reports.of("crash_report")
    assert report["pid"] == pid
    assert report["class"] == "crasher"
    assert report["log_level"] == "error"


def test_declares_a_crash_that_does_not_match(gs_reports: ReportLog) -> None:
    gs_reports.expect("crash_report", reason="KeyError('other')")
    _, ref = gs.spawn_monitor(crasher)
    wait_down(ref)


def test_logs_an_undeclared_supervisor_report() -> None:
    sup = gs.Supervisor.start_link([(Counter, 0)])
    [(_, child, _)] = gs.Supervisor.which_children(sup)
    gs.exit(child, "kill")
    gs.Supervisor.which_children(sup)  # the restart is done
    gs.Supervisor.stop(sup)


def test_manual_clock_drives_restart_intensity(
    manual_clock: ManualClock, gs_reports: ReportLog
) -> None:
    gs_reports.expect("supervisor_report")
    gs.trap_exits(True)  # the supervisor will give up: do not die with it
    sup = gs.Supervisor.start_link([(Counter, 0)], max_restarts=1, max_seconds=5.0)
    ref = gs.monitor(sup)

    def kill_child() -> None:
        [(_, child, _)] = gs.Supervisor.which_children(sup)
        assert isinstance(child, gs.Pid)
        gs.exit(child, "kill")

    kill_child()
    assert gs.Supervisor.count_children(sup)["active"] == 1  # restarted at 1000.0
    manual_clock.advance(6.0)  # that restart leaves the 5 s window
    kill_child()
    assert gs.Supervisor.count_children(sup)["active"] == 1  # restarted: one in the window
    kill_child()  # no time passes: two restarts within 5 s is one too many
    assert wait_down(ref).reason == "shutdown"
    gs.receive(lambda m: isinstance(m, gs.ExitSignal) and m.pid == sup, timeout=5.0)
    gs.trap_exits(False)


def test_wait_all_idle_waits_for_casts() -> None:
    seen: list[object] = []
    last = Relay.start_link(seen)
    middle = Relay.start_link(last)
    first = Relay.start_link(middle)
    for n in range(3):
        gs.GenServer.cast(first, n)
    wait_all_idle()
    assert seen == [0, 1, 2]
    for pid in (first, middle, last):
        gs.GenServer.stop(pid)
'''


@dataclass
class Outcome:
    result: str  # "passed", "failed", "error" or "skipped"
    message: str


def run_inner(
    directory: Path, *args: str, autoload: bool = True
) -> tuple[subprocess.CompletedProcess[str], dict[str, Outcome]]:
    """Run the inner session in *directory*; return the process and each test's outcome."""
    (directory / "conftest.py").write_text(INNER_CONFTEST)
    (directory / "test_inner.py").write_text(INNER_TESTS)
    report = directory / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes: dict[str, Outcome] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            outcome = Outcome("passed", "")
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    result = "failed" if child.tag == "failure" else child.tag
                    outcome = Outcome(result, child.get("message", ""))
                    break
            outcomes[case.get("name", "")] = outcome
    return done, outcomes


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """The outcomes of one inner session, the plugin loaded by its entry point."""
    done, outcomes = run_inner(tmp_path_factory.mktemp("inner"))
    assert outcomes, done.stdout + done.stderr
    return outcomes


def teardown_failure(message: str) -> str:
    """The JUnit message of a test that gs_clean failed after it ran."""
    return f'failed on teardown with "Failed: {message}"'


class TestGsClean:
    def test_passes_a_clean_test(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_clean"] == Outcome("passed", "")

    def test_fails_a_test_that_leaks_a_process_and_names_what_it_runs(
        self, inner: dict[str, Outcome]
    ) -> None:
        outcome = inner["test_leaks_a_process"]

        assert outcome.result == "error"
        assert re.fullmatch(
            r'failed on teardown with "Failed: leaked processes \(now killed\): '
            r"<0\.\d+\.0> \(receive\), <0\.\d+\.0> 'counter' \(Counter\)\s+"
            r"leaked names \(now freed\): 'counter'\"",
            outcome.message,
        )

    def test_fails_a_test_that_leaks_a_name(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_leaks_a_name"] == Outcome(
            "error", teardown_failure("leaked names (now freed): 'leaky'")
        )

    def test_frees_the_leaked_names_for_the_next_test(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_reuses_the_leaked_name"] == Outcome("passed", "")

    def test_fails_a_test_that_logs_an_undeclared_crash_report(
        self, inner: dict[str, Outcome]
    ) -> None:
        outcome = inner["test_logs_an_undeclared_crash_report"]

        assert outcome.result == "error"
        assert re.fullmatch(
            teardown_failure(
                r"unexpected reports \(declare them with gs_reports\.expect\(\) or allow\(\)\):"
                r"\s+crash_report pid=<0\.\d+\.0> class=crasher reason=ValueError\('boom'\)"
                r"\s+Traceback \(most recent call last\):.*raise ValueError\(\"boom\"\)\s+"
                # JUnit cuts the message short; the rest is in the element's text.
                r"\[\+1 more line; full report in element text\]",
            )[:-1],
            outcome.message,
            re.DOTALL,
        )

    def test_fails_a_test_that_logs_an_undeclared_supervisor_report(
        self, inner: dict[str, Outcome]
    ) -> None:
        outcome = inner["test_logs_an_undeclared_supervisor_report"]

        assert outcome.result == "error"
        assert "supervisor_report " in outcome.message
        assert " context=child_terminated " in outcome.message
        assert " reason='killed' " in outcome.message


class TestGsReports:
    def test_expect_declares_a_crash(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_declares_the_crash_it_expects"] == Outcome("passed", "")

    def test_a_declaration_covers_only_reports_with_its_fields(
        self, inner: dict[str, Outcome]
    ) -> None:
        outcome = inner["test_declares_a_crash_that_does_not_match"]

        assert outcome.result == "error"
        assert "expected report never came: crash_report reason=KeyError('other')" in (
            outcome.message
        )
        assert "crash_report pid=" in outcome.message  # the one that came instead

    def test_an_expected_report_that_never_comes_fails_the_test(
        self, inner: dict[str, Outcome]
    ) -> None:
        assert inner["test_expects_a_report_that_never_comes"] == Outcome(
            "error",
            teardown_failure("expected report never came: crash_report reason=ValueError('boom')"),
        )

    def test_an_allowed_report_may_come_or_not(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_allows_a_report_that_never_comes"] == Outcome("passed", "")
        assert inner["test_allows_a_report_that_comes"] == Outcome("passed", "")

    def test_missing_and_problems(self) -> None:
        log = ReportLog([{"event": "crash_report", "reason": "'boom'", "pid": None}])
        log.expect("crash_report", reason="'boom'")
        log.expect("supervisor_report", context="shutdown")

        assert log.missing() == [{"event": "supervisor_report", "context": "shutdown"}]
        assert log.problems() == ["expected report never came: supervisor_report context=shutdown"]

    def test_of_and_unexpected(self) -> None:
        log = ReportLog(
            [
                {"event": "progress_report", "child_id": "a"},
                {"event": "crash_report", "reason": "'boom'"},
                {"event": "supervisor_report", "context": "child_terminated"},
                {"event": "crash_report", "reason": "'bang'"},
            ]
        )
        log.expect("crash_report", reason="'boom'")

        assert log.of("crash_report") == [
            {"event": "crash_report", "reason": "'boom'"},
            {"event": "crash_report", "reason": "'bang'"},
        ]
        assert log.unexpected() == [
            {"event": "supervisor_report", "context": "child_terminated"},
            {"event": "crash_report", "reason": "'bang'"},
        ]
        log.expect("supervisor_report")
        log.expect("crash_report")
        assert log.unexpected() == []

    def test_captures_what_greenserver_logs(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")

        def crasher() -> None:
            raise ValueError("boom")

        pid, ref = gs.spawn_monitor(crasher)
        gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=5.0)

        [report] = gs_reports.of("crash_report")
        assert report["pid"] == pid
        assert report["log_level"] == "error"


class TestWaitDown:
    def test_a_timeout_shows_the_test_not_the_plugin(self, tmp_path: Path) -> None:
        """The plugin hides its own frames (``__tracebackhide__``)."""
        done, outcomes = run_inner(tmp_path, "-k", "test_waits_for_a_down_that_never_comes")

        assert outcomes["test_waits_for_a_down_that_never_comes"].result == "failed"
        assert re.search(
            r"TimeoutError: no Down for the monitor #Ref<0\.\d+> within 0\.01s", done.stdout
        ), done.stdout
        assert "testing_wait_down(ref, timeout=0.01)" in done.stdout  # the test's own line
        assert "greenserver/testing.py" not in done.stdout
        assert "greenserver/_mailbox.py" not in done.stdout


class TestManualClock:
    def test_drives_a_supervisors_restart_intensity(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_manual_clock_drives_restart_intensity"] == Outcome("passed", "")

    def test_moves_only_when_told(self) -> None:
        clock = ManualClock(start=5.0)

        assert clock() == 5.0
        clock.advance(2.5)
        assert clock() == 7.5

    def test_never_moves_back(self) -> None:
        clock = ManualClock()

        with pytest.raises(ValueError, match=r"^a clock only moves forward; got -1$"):
            clock.advance(-1)
        assert clock() == 1000.0

    def test_the_fixture_gives_an_installed_clock(self, manual_clock: ManualClock) -> None:
        assert isinstance(manual_clock, ManualClock)
        assert manual_clock() == 1000.0


class TestWaitAllIdle:
    def test_waits_for_casts_to_be_processed(self, inner: dict[str, Outcome]) -> None:
        assert inner["test_wait_all_idle_waits_for_casts"] == Outcome("passed", "")

    def test_waits_for_a_chain_of_messages(self) -> None:
        seen: list[object] = []

        def relay(target: gs.Pid | None) -> None:
            while True:
                msg = gs.receive()
                if msg == "stop":
                    return
                if target is None:
                    seen.append(msg)
                else:
                    gs.send(target, msg)

        last = gs.spawn(relay, None)
        middle = gs.spawn(relay, last)
        first = gs.spawn(relay, middle)
        for n in range(3):
            gs.send(first, n)

        wait_all_idle()

        assert seen == [0, 1, 2]
        for pid in (first, middle, last):
            gs.send(pid, "stop")
        wait_all_idle()

    def test_raises_timeout_error_while_processes_stay_busy(self) -> None:
        """Two processes that ping-pong forever are never idle."""

        def player() -> None:
            while True:
                msg: Any = gs.receive()
                gs.send(msg, gs.self())

        a = gs.spawn(player)
        b = gs.spawn(player)
        gs.send(a, b)

        with pytest.raises(TimeoutError, match=r"^processes still busy after 0\.2s: \[.*\]$"):
            wait_all_idle(timeout=0.2)
        gs.exit(a, "kill")
        gs.exit(b, "kill")


class TestRegistration:
    def test_the_plugin_is_the_pytest11_entry_point_greenserver(self) -> None:
        [entry] = [e for e in entry_points(group="pytest11") if e.name == "greenserver"]

        assert entry.value == "greenserver.testing"
        assert entry.load() is greenserver.testing

    def test_without_the_plugin_the_fixtures_are_missing(self, tmp_path: Path) -> None:
        done, outcomes = run_inner(tmp_path, "-k", "test_clean", autoload=False)

        assert done.returncode == 1, done.stdout + done.stderr
        assert outcomes["test_clean"].result == "error"
        assert "fixture 'gs_clean' not found" in done.stdout

    def test_p_loads_it_when_autoload_is_off(self, tmp_path: Path) -> None:
        done, outcomes = run_inner(
            tmp_path, "-p", "greenserver.testing", "-k", "test_clean", autoload=False
        )

        assert done.returncode == 0, done.stdout + done.stderr
        assert outcomes == {"test_clean": Outcome("passed", "")}
