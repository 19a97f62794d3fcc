"""The system monitor (``gs.sys.system_monitor``): long schedules, long message queues.

A long schedule is made on purpose here: a process spins on the CPU, or
calls the real (unpatched) ``time.sleep``, without ever switching. It spins
only until the report it causes has been seen, so the tests wait on the
report, never on a guessed duration.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from time import monotonic
from typing import Any

import pytest
from gevent.monkey import get_original

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

real_sleep: Callable[[float], None] = get_original("time", "sleep")
BOUND = 10.0  # seconds: a failure's limit, never a success's wait


@pytest.fixture
def monitor() -> Iterator[None]:
    """Restore the system monitor's settings after the test."""
    before = gs.sys.system_monitor()
    try:
        yield
    finally:
        gs.sys.system_monitor(**before)


def reported(gs_reports: ReportLog, kind: str) -> list[Any]:
    return [r for r in gs_reports.of("system_monitor") if r["kind"] == kind]


def receive_warning(kind: str) -> gs.sys.SystemMonitorWarning:
    msg = gs.receive(lambda m: type(m) is gs.sys.SystemMonitorWarning and m.kind == kind, BOUND)
    assert type(msg) is gs.sys.SystemMonitorWarning
    return msg


class TestDefaults:
    def test_on_by_default_with_conservative_limits(self) -> None:
        code = "import greenserver as gs; print(gs.sys.system_monitor())"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout

        assert out.strip() == (
            "{'long_schedule': 0.5, 'long_message_queue': 10000, 'notify': None}"
        )


class TestLongSchedule:
    def test_names_the_spinning_process_and_where_it_was(
        self, monitor: None, gs_reports: ReportLog
    ) -> None:
        gs.sys.system_monitor(long_schedule=0.05, notify=gs.self())

        def spin_without_switching() -> None:
            deadline = monotonic() + BOUND
            while not reported(gs_reports, "long_schedule") and monotonic() < deadline:
                pass

        pid, ref = gs.spawn_monitor(spin_without_switching)
        wait_down(ref)

        [report] = reported(gs_reports, "long_schedule")
        assert report["log_level"] == "warning"
        assert (report["pid"], report["current"]) == (pid, spin_without_switching.__qualname__)
        assert f"{__file__}:" in " ".join(report["frames"])
        assert any(f.endswith(" in spin_without_switching") for f in report["frames"])
        assert report["ran_for"] > 0.05
        assert report["frames"][-1] == report["where"]
        warning = receive_warning("long_schedule")
        assert (warning.pid, warning.info["where"]) == (pid, report["where"])
        assert gs.sys.system_monitor_warnings()[-1]["where"] == report["where"]

    def test_names_an_unpatched_blocking_sleep(self, monitor: None, gs_reports: ReportLog) -> None:
        gs.sys.system_monitor(long_schedule=0.05)

        def legacy_code() -> None:
            deadline = monotonic() + BOUND
            while not reported(gs_reports, "long_schedule") and monotonic() < deadline:
                real_sleep(0.02)  # blocks the whole OS thread, hub included

        pid, ref = gs.spawn_monitor(legacy_code)
        wait_down(ref)

        [report] = reported(gs_reports, "long_schedule")
        assert (report["pid"], report["current"]) == (pid, legacy_code.__qualname__)
        assert any(f.endswith(" in legacy_code") for f in report["frames"])

    def test_processes_that_keep_switching_are_not_reported(
        self, monitor: None, gs_reports: ReportLog
    ) -> None:
        gs.sys.system_monitor(long_schedule=0.2)
        server = gs.Agent.start_link(lambda: 0)

        deadline = monotonic() + 0.5
        while monotonic() < deadline:
            gs.Agent.update(server, lambda n: n + 1)

        assert reported(gs_reports, "long_schedule") == []
        gs.Agent.stop(server)

    def test_none_turns_it_off(self, monitor: None, gs_reports: ReportLog) -> None:
        gs.sys.system_monitor(long_schedule=0.05)
        assert gs.sys.system_monitor(long_schedule=None)["long_schedule"] is None

        def spin() -> None:
            deadline = monotonic() + 0.3  # six times the limit: nobody watches now
            while monotonic() < deadline:
                pass

        _, ref = gs.spawn_monitor(spin)
        wait_down(ref)

        assert reported(gs_reports, "long_schedule") == []

    def test_the_main_greenlet_is_reported_only_when_it_starves_someone(
        self, monitor: None, gs_reports: ReportLog
    ) -> None:
        gs.sys.system_monitor(long_schedule=0.05)
        deadline = monotonic() + 0.3  # the test runner's own work: nobody is waiting
        while monotonic() < deadline:
            pass
        assert reported(gs_reports, "long_schedule") == []

        _, ref = gs.spawn_monitor(int)  # ready to run, and starved
        deadline = monotonic() + BOUND
        while not reported(gs_reports, "long_schedule") and monotonic() < deadline:
            pass

        [report] = reported(gs_reports, "long_schedule")
        assert report["pid"] == gs.self()
        assert any(
            f.endswith(" in test_the_main_greenlet_is_reported_only_when_it_starves_someone")
            for f in report["frames"]
        )
        wait_down(ref)


class TestLongMessageQueue:
    def test_reports_a_mailbox_above_the_limit_once(
        self, monitor: None, gs_reports: ReportLog
    ) -> None:
        gs.sys.system_monitor(long_message_queue=5, notify=gs.self())
        pid = gs.spawn(gs.receive, lambda m: m == "stop")
        gs.register("backlog", pid)
        for i in range(10):
            gs.send(pid, i)

        warning = receive_warning("long_message_queue")

        assert warning.pid == pid
        assert warning.info["name"] == "backlog"
        assert warning.info["message_queue_len"] == 10
        assert warning.info["limit"] == 5
        [report] = reported(gs_reports, "long_message_queue")
        assert report["pid"] == pid
        ref = gs.monitor(pid)
        gs.send(pid, "stop")
        wait_down(ref)


class TestSettings:
    def test_returns_the_settings_in_force(self, monitor: None) -> None:
        me = gs.self()

        settings = gs.sys.system_monitor(long_schedule=2, notify=me)

        assert settings == {"long_schedule": 2.0, "long_message_queue": 10_000, "notify": me}
        assert gs.sys.system_monitor() == settings

    @pytest.mark.parametrize("bad", [0, -1, "1", True])
    def test_a_bad_long_schedule_raises_value_error(self, monitor: None, bad: object) -> None:
        with pytest.raises(
            ValueError, match=rf"^long_schedule must be seconds > 0 or None; got {bad!r}$"
        ):
            gs.sys.system_monitor(long_schedule=bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", [0, 1.5, "10"])
    def test_a_bad_long_message_queue_raises_value_error(self, monitor: None, bad: object) -> None:
        with pytest.raises(
            ValueError, match=rf"^long_message_queue must be an int >= 1 or None; got {bad!r}$"
        ):
            gs.sys.system_monitor(long_message_queue=bad)  # type: ignore[arg-type]

    def test_notify_must_be_a_pid(self, monitor: None) -> None:
        with pytest.raises(TypeError, match=r"^notify must be a Pid or None; got 'me'$"):
            gs.sys.system_monitor(notify="me")  # type: ignore[arg-type]
