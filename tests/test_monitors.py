"""Monitors: one-way death notices (monitor, demonitor, spawn_monitor)."""

from __future__ import annotations

import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def exit_on_request() -> None:
    """Wait for a reason, then exit with it."""
    raise gs.Exit(gs.receive())


class TestDown:
    def test_is_a_named_tuple_of_ref_pid_reason(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)
        gs.exit(pid, "kill")

        down = gs.receive(timeout=0)

        assert type(down) is gs.Down
        assert down.ref is ref
        assert down.pid == pid
        assert down.reason == "killed"
        assert tuple(down) == (ref, pid, "killed")
        assert gs.Down._fields == ("ref", "pid", "reason")

    def test_exit_signal_is_a_named_tuple_of_pid_reason(self) -> None:
        assert gs.ExitSignal._fields == ("pid", "reason")
        assert tuple(gs.ExitSignal(gs.self(), "boom")) == (gs.self(), "boom")


class TestMonitor:
    @pytest.mark.parametrize("reason", ["normal", "shutdown", "boom", ("shutdown", 1)])
    def test_delivers_down_with_the_exit_reason(self, reason: object) -> None:
        pid = gs.spawn(exit_on_request)
        ref = gs.monitor(pid)

        gs.send(pid, reason)

        assert wait_down(ref) == gs.Down(ref, pid, reason)

    def test_does_not_link(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('x')")

        def crash() -> None:
            gs.receive()
            raise ValueError("x")

        pid = gs.spawn(crash)
        ref = gs.monitor(pid)

        gs.send(pid, "go")

        assert type(wait_down(ref).reason) is ValueError
        assert gs.alive(gs.self())
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_dead_pid_gives_noproc_at_once(self) -> None:
        pid = gs.spawn(block_forever)
        gs.exit(pid, "kill")

        ref = gs.monitor(pid)

        assert gs.receive(timeout=0) == gs.Down(ref, pid, "noproc")

    def test_unknown_name_gives_noproc_at_once(self) -> None:
        ref = gs.monitor("nobody")

        assert gs.receive(timeout=0) == gs.Down(ref, "nobody", "noproc")

    def test_by_name_reports_the_pid(self) -> None:
        pid = gs.spawn(exit_on_request)
        gs.register("watched", pid)

        ref = gs.monitor("watched")
        gs.send("watched", "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")

    def test_by_name_follows_the_process_not_the_name(self) -> None:
        pid = gs.spawn(exit_on_request)
        gs.register("renamed", pid)
        ref = gs.monitor("renamed")

        gs.unregister("renamed")
        gs.send(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")

    def test_each_monitor_gets_its_own_down(self) -> None:
        pid = gs.spawn(block_forever)
        first = gs.monitor(pid)
        second = gs.monitor(pid)

        gs.exit(pid, "kill")

        assert first is not second
        assert gs.receive(timeout=0) == gs.Down(first, pid, "killed")
        assert gs.receive(timeout=0) == gs.Down(second, pid, "killed")

    def test_a_process_can_monitor_another(self) -> None:
        target = gs.spawn(block_forever)

        def watcher(test: gs.Pid) -> None:
            ref = gs.monitor(target)
            gs.send(test, "ready")
            gs.send(test, ("watcher got", gs.receive(), ref))

        pid = gs.spawn(watcher, gs.self())
        ref_w = gs.monitor(pid)
        assert gs.receive(timeout=BOUND) == "ready"

        gs.exit(target, "boom")

        msg = gs.receive(lambda m: type(m) is tuple and m[0] == "watcher got", timeout=BOUND)
        assert type(msg) is tuple
        _, down, ref = msg
        assert down == gs.Down(ref, target, "boom")
        assert wait_down(ref_w).reason == "normal"

    def test_a_dead_watcher_leaves_no_monitor_behind(self) -> None:
        target = gs.spawn(block_forever)
        ref_t = gs.monitor(target)

        def watcher(test: gs.Pid) -> None:
            gs.monitor(target)
            gs.send(test, "ready")
            block_forever()

        pid = gs.spawn(watcher, gs.self())
        ref_w = gs.monitor(pid)
        assert gs.receive(timeout=BOUND) == "ready"

        gs.exit(pid, "kill")

        info = gs.info(target)
        assert info is not None
        assert info["monitored_by"] == [gs.self()]
        assert wait_down(ref_w).reason == "killed"
        gs.exit(target, "kill")
        assert wait_down(ref_t).reason == "killed"

    def test_monitoring_oneself_is_harmless(self) -> None:
        ref = gs.monitor(gs.self())

        assert gs.demonitor(ref) is True
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_bad_target_type_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError,
            match=(
                r"^expected a Pid, a registered name \(str\), a \(name, node\) pair "
                r"or a gs\.Via; got 42$"
            ),
        ):
            gs.monitor(42)


class TestDemonitor:
    def test_stops_the_down(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)

        assert gs.demonitor(ref) is True
        gs.exit(pid, "kill")

        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)
        info = gs.info(gs.self())
        assert info is not None
        assert info["monitors"] == []

    def test_removes_the_monitor_from_the_target(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)
        keep = gs.monitor(pid)

        gs.demonitor(ref)

        info = gs.info(pid)
        assert info is not None
        assert info["monitored_by"] == [gs.self()]  # only `keep` is left
        gs.exit(pid, "kill")
        assert gs.receive(timeout=0) == gs.Down(keep, pid, "killed")

    def test_after_down_returns_false_and_keeps_the_down(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)
        gs.exit(pid, "kill")

        assert gs.demonitor(ref) is False

        assert gs.receive(timeout=0) == gs.Down(ref, pid, "killed")

    def test_flush_removes_a_delivered_down_and_nothing_else(self) -> None:
        me = gs.self()
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)
        other = gs.monitor(pid)
        gs.send(me, "before")
        gs.exit(pid, "kill")
        gs.send(me, "after")

        assert gs.demonitor(ref, flush=True) is False

        assert gs.receive(timeout=0) == "before"
        assert gs.receive(timeout=0) == gs.Down(other, pid, "killed")
        assert gs.receive(timeout=0) == "after"
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_flush_of_an_active_monitor_leaves_the_mailbox_alone(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)
        gs.send(gs.self(), "queued")

        assert gs.demonitor(ref, flush=True) is True

        assert gs.receive(timeout=0) == "queued"
        gs.exit(pid, "kill")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_noproc_down_can_be_flushed(self) -> None:
        ref = gs.monitor("nobody")

        gs.demonitor(ref, flush=True)

        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_twice_returns_false(self) -> None:
        pid = gs.spawn(block_forever)
        ref = gs.monitor(pid)

        assert gs.demonitor(ref) is True
        assert gs.demonitor(ref) is False
        gs.exit(pid, "kill")

    def test_non_ref_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^demonitor needs a Ref from gs\.monitor\(\); got 'x'$"
        ):
            gs.demonitor("x")  # type: ignore[arg-type]


class TestSpawnMonitor:
    def test_returns_pid_and_ref_of_an_active_monitor(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)

        assert type(pid) is gs.Pid
        assert type(ref) is gs.Ref
        info = gs.info(pid)
        assert info is not None
        assert info["monitored_by"] == [gs.self()]
        assert gs.demonitor(ref) is True
        gs.exit(pid, "kill")

    def test_does_not_link(self) -> None:
        pid, ref = gs.spawn_monitor(exit_on_request)

        gs.send(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        info = gs.info(gs.self())
        assert info is not None
        assert info["links"] == []
