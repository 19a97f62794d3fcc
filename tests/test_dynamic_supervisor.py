"""DynamicSupervisor: children started on demand, addressed by pid.

Children are ``idle`` processes started with ``gs.spawn_link`` (they exit
with whatever reason they are sent) and ``Stubborn`` servers whose
``terminate`` tells the test it started, then waits for ``"go"``. A
``which_children`` call is the barrier after a kill: the supervisor handles
the exit signal, restart included, before it answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import ManualClock, ReportLog, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def idle() -> None:
    """A plain child: wait for ``("exit", reason)``, then exit with that reason."""
    while True:
        msg = gs.receive()
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "exit":
            raise gs.Exit(msg[1])


def worker(**options: Any) -> gs.ChildSpec:
    return gs.ChildSpec("w", start=(gs.spawn_link, (idle,)), **options)


def record_args(test: gs.Pid, *args: object, **kwargs: object) -> gs.Pid:
    """A start function that tells the test how it was called."""
    gs.send(test, ("args", args, kwargs))
    return gs.spawn_link(idle)


def refuse() -> gs.Pid:
    raise RuntimeError("no config")


class Stubborn(gs.GenServer[Any]):
    """Traps exits; its ``terminate`` tells the test, then waits for ``"go"``."""

    def init(self, test: Any) -> gs.Ok[Any]:
        gs.trap_exits(True)
        return gs.Ok(test)

    def terminate(self, reason: Any, test: Any) -> None:
        gs.send(test, ("terminating", gs.self(), reason))
        gs.receive(lambda m: m == "go")


class Counter(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(state, state)


def quit_with(pid: gs.Pid, reason: object) -> None:
    """Make an ``idle`` child exit with *reason* by itself; return once it is dead."""
    ref = gs.monitor(pid)
    gs.send(pid, ("exit", reason))
    assert wait_down(ref).reason == reason


def pids(sup: object) -> list[gs.Pid]:
    return [pid for _, pid, _ in gs.DynamicSupervisor.which_children(sup)]


def start(sup: object, spec: object) -> gs.Pid:
    pid = gs.DynamicSupervisor.start_child(sup, spec)
    assert type(pid) is gs.Pid
    return pid


def is_terminating(msg: object) -> bool:
    return type(msg) is tuple and len(msg) == 3 and msg[0] == "terminating"


@pytest.fixture
def trapping() -> Iterator[None]:
    """Trap exits in the test: a supervisor that gives up must not kill it."""
    old = gs.trap_exits(True)
    yield
    gs.trap_exits(old)


class TestStartLink:
    def test_starts_with_no_children(self) -> None:
        sup = gs.DynamicSupervisor.start_link()

        assert gs.DynamicSupervisor.which_children(sup) == []
        assert gs.DynamicSupervisor.count_children(sup) == {
            "specs": 0,
            "active": 0,
            "supervisors": 0,
            "workers": 0,
        }
        info = gs.info(sup)
        assert info is not None
        assert info["trap_exit"] is True
        gs.DynamicSupervisor.stop(sup)

    def test_name_registers_the_supervisor(self) -> None:
        sup = gs.DynamicSupervisor.start_link(name="dyn")
        pid = start("dyn", worker())

        assert gs.whereis("dyn") == sup
        assert pids("dyn") == [pid]
        gs.DynamicSupervisor.stop("dyn")
        assert gs.whereis("dyn") is None

    def test_a_taken_name_raises_already_started_with_the_holder(self) -> None:
        first = gs.DynamicSupervisor.start_link(name="dyn")

        with pytest.raises(
            gs.AlreadyStartedError, match=r"^name 'dyn' is already taken by <0\.\d+\.0>$"
        ) as info:
            gs.DynamicSupervisor.start_link(name="dyn")

        assert info.value.pid == first
        gs.DynamicSupervisor.stop(first)

    @pytest.mark.parametrize("max_children", [-1, True, "2", 1.5])
    def test_bad_max_children_is_a_value_error(self, max_children: object) -> None:
        with pytest.raises(
            ValueError, match=rf"^max_children must be an int >= 0 or None; got {max_children!r}$"
        ):
            gs.DynamicSupervisor.start_link(max_children=max_children)  # type: ignore[arg-type]

    def test_bad_max_restarts_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match=r"^max_restarts must be an int >= 0; got -1$"):
            gs.DynamicSupervisor.start_link(max_restarts=-1)

    def test_bad_max_seconds_is_a_value_error(self) -> None:
        with pytest.raises(
            ValueError, match=r"^max_seconds must be a number of seconds > 0; got 0$"
        ):
            gs.DynamicSupervisor.start_link(max_seconds=0)

    def test_bad_extra_arguments_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^extra_arguments must be a tuple or list; got 'ab'$"):
            gs.DynamicSupervisor.start_link(extra_arguments="ab")  # type: ignore[arg-type]


class TestStart:
    """``start``: as ``start_link``, but the caller is not linked (issue 14)."""

    def test_is_not_linked_to_the_caller_and_takes_the_same_options(self) -> None:
        sup = gs.DynamicSupervisor.start(max_children=1, name="unlinked")
        start(sup, worker())

        info = gs.info(sup)
        assert info is not None
        assert gs.self() not in info["links"]
        assert gs.whereis("unlinked") == sup
        with pytest.raises(gs.SupervisorError, match=r"max_children"):
            gs.DynamicSupervisor.start_child(sup, worker())
        gs.DynamicSupervisor.stop(sup)

    def test_bad_options_are_named(self) -> None:
        with pytest.raises(ValueError, match=r"^max_children must be an int >= 0 or None; got -1$"):
            gs.DynamicSupervisor.start(max_children=-1)


class TestStartChild:
    def test_returns_the_pid_of_a_linked_child(self) -> None:
        sup = gs.DynamicSupervisor.start_link()

        pid = start(sup, worker())

        assert gs.alive(pid)
        info = gs.info(pid)
        assert info is not None
        assert info["links"] == [sup]
        gs.DynamicSupervisor.stop(sup)

    def test_children_need_no_distinct_ids(self) -> None:
        sup = gs.DynamicSupervisor.start_link()

        one = start(sup, (Counter, 1))
        two = start(sup, (Counter, 2))

        assert gs.GenServer.call(one, "get") == 1
        assert gs.GenServer.call(two, "get") == 2
        assert pids(sup) == [one, two]
        gs.DynamicSupervisor.stop(sup)

    def test_extra_arguments_are_prepended(self) -> None:
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link(extra_arguments=[test, "extra"])

        start(sup, gs.ChildSpec("r", start=(record_args, ("own",), {"k": 1})))

        assert gs.receive(timeout=0) == ("args", ("extra", "own"), {"k": 1})
        gs.DynamicSupervisor.stop(sup)

    def test_extra_arguments_are_prepended_on_restart_too(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link(extra_arguments=(test,))
        pid = start(sup, gs.ChildSpec("r", start=(record_args, ("own",))))
        gs.receive(timeout=0)

        gs.exit(pid, "boom")
        pids(sup)

        assert gs.receive(timeout=0) == ("args", ("own",), {})
        gs.DynamicSupervisor.stop(sup)

    def test_max_children_refuses_one_more(self) -> None:
        sup = gs.DynamicSupervisor.start_link(max_children=2)
        first = start(sup, worker())
        start(sup, worker())

        with pytest.raises(
            gs.SupervisorError, match=r"^already running max_children=2 children$"
        ) as info:
            gs.DynamicSupervisor.start_child(sup, worker())

        assert info.value.reason == "max_children"
        assert len(pids(sup)) == 2
        gs.DynamicSupervisor.terminate_child(sup, first)
        start(sup, worker())  # room again
        gs.DynamicSupervisor.stop(sup)

    def test_max_children_zero_refuses_every_child(self) -> None:
        sup = gs.DynamicSupervisor.start_link(max_children=0)

        with pytest.raises(gs.SupervisorError) as info:
            gs.DynamicSupervisor.start_child(sup, worker())

        assert info.value.reason == "max_children"
        gs.DynamicSupervisor.stop(sup)

    def test_a_failed_start_raises_start_error(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="start_error")
        sup = gs.DynamicSupervisor.start_link()

        with pytest.raises(
            gs.StartError, match=r"^child failed to start: RuntimeError\('no config'\)$"
        ) as info:
            gs.DynamicSupervisor.start_child(sup, gs.ChildSpec("x", start=(refuse,)))

        assert isinstance(info.value.reason, RuntimeError)
        assert pids(sup) == []
        [report] = gs_reports.of("supervisor_report")
        assert {k: report[k] for k in ("supervisor", "child_id", "pid", "reason", "context")} == {
            "supervisor": sup,
            "child_id": None,
            "pid": None,
            "reason": "RuntimeError('no config')",
            "context": "start_error",
        }
        gs.DynamicSupervisor.stop(sup)

    def test_a_start_returning_none_is_not_kept(self) -> None:
        sup = gs.DynamicSupervisor.start_link()

        pid = gs.DynamicSupervisor.start_child(sup, gs.ChildSpec("i", start=(lambda: None,)))

        assert pid is None
        assert pids(sup) == []
        gs.DynamicSupervisor.stop(sup)

    def test_a_malformed_spec_raises_in_the_caller(self) -> None:
        sup = gs.DynamicSupervisor.start_link()

        with pytest.raises(TypeError, match=r"^a child must be a ChildSpec"):
            gs.DynamicSupervisor.start_child(sup, 42)

        gs.DynamicSupervisor.stop(sup)


class TestTerminateChild:
    def test_stops_the_child_and_forgets_it(self) -> None:
        sup = gs.DynamicSupervisor.start_link()
        a = start(sup, worker())
        b = start(sup, worker())
        ref = gs.monitor(a)

        assert gs.DynamicSupervisor.terminate_child(sup, a) is None

        assert wait_down(ref, timeout=0).reason == "shutdown"
        assert pids(sup) == [b]
        gs.DynamicSupervisor.stop(sup)

    def test_waits_for_terminate_then_kills_after_shutdown(self) -> None:
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link()
        pid = start(sup, Stubborn.child_spec(test).replace(shutdown=0.05))
        ref = gs.monitor(pid)

        gs.DynamicSupervisor.terminate_child(sup, pid)

        assert wait_down(ref, timeout=0).reason == "killed"
        assert gs.receive(is_terminating, timeout=0) == ("terminating", pid, "shutdown")
        gs.DynamicSupervisor.stop(sup)

    @pytest.mark.parametrize("what", ["stranger", "gone", "not a pid"])
    def test_an_unknown_pid_is_not_found(self, what: str) -> None:
        sup = gs.DynamicSupervisor.start_link()
        child = start(sup, worker())
        gs.DynamicSupervisor.terminate_child(sup, child)
        stranger = gs.spawn(idle)
        target = {"stranger": stranger, "gone": child, "not a pid": "w"}[what]

        with pytest.raises(
            gs.SupervisorError, match=rf"^{target!r} is not a child of this supervisor$"
        ) as info:
            gs.DynamicSupervisor.terminate_child(sup, target)  # type: ignore[arg-type]

        assert info.value.reason == "not_found"
        gs.exit(stranger, "kill")
        gs.DynamicSupervisor.stop(sup)


class TestWhichChildren:
    def test_ids_are_none_and_types_are_given(self) -> None:
        sup = gs.DynamicSupervisor.start_link()
        w = start(sup, worker())
        s = start(sup, gs.ChildSpec("s", start=(gs.spawn_link, (idle,)), type="supervisor"))

        assert gs.DynamicSupervisor.which_children(sup) == [
            (None, w, "worker"),
            (None, s, "supervisor"),
        ]
        gs.DynamicSupervisor.stop(sup)


class TestCountChildren:
    def test_counts_running_children_by_type(self) -> None:
        sup = gs.DynamicSupervisor.start_link()
        for _ in range(3):
            start(sup, worker())
        start(sup, gs.ChildSpec("s", start=(gs.spawn_link, (idle,)), type="supervisor"))

        assert gs.DynamicSupervisor.count_children(sup) == {
            "specs": 4,
            "active": 4,
            "supervisors": 1,
            "workers": 3,
        }
        gs.DynamicSupervisor.stop(sup)


class TestRestartTypes:
    @pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", 1), "boom"])
    def test_permanent_is_always_restarted(self, reason: object, gs_reports: ReportLog) -> None:
        if reason == "boom":  # a normal exit is not reported
            gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.DynamicSupervisor.start_link()
        old = start(sup, worker())
        other = start(sup, worker())

        quit_with(old, reason)
        after = pids(sup)

        assert len(after) == 2
        assert other in after
        assert old not in after
        assert all(gs.alive(pid) for pid in after)
        gs.DynamicSupervisor.stop(sup)

    @pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", 1)])
    def test_transient_stays_down_after_a_normal_exit(self, reason: object) -> None:
        sup = gs.DynamicSupervisor.start_link()
        pid = start(sup, worker(restart="transient"))

        quit_with(pid, reason)

        assert pids(sup) == []
        gs.DynamicSupervisor.stop(sup)

    def test_transient_is_restarted_after_a_crash(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.DynamicSupervisor.start_link()
        old = start(sup, worker(restart="transient"))

        quit_with(old, "boom")
        [new] = pids(sup)

        assert new != old
        [report] = gs_reports.of("supervisor_report")
        assert {k: report[k] for k in ("supervisor", "child_id", "pid", "strategy")} == {
            "supervisor": sup,
            "child_id": None,
            "pid": old,
            "strategy": "one_for_one",
        }
        gs.DynamicSupervisor.stop(sup)

    @pytest.mark.parametrize("reason", ["normal", "boom"])
    def test_temporary_is_never_restarted(self, reason: object, gs_reports: ReportLog) -> None:
        if reason == "boom":  # a normal exit is not reported
            gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.DynamicSupervisor.start_link()
        pid = start(sup, worker(restart="temporary"))

        quit_with(pid, reason)

        assert pids(sup) == []
        gs.DynamicSupervisor.stop(sup)

    def test_a_failed_restart_is_retried(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report")
        attempts: list[int] = []

        def flaky() -> gs.Pid:
            attempts.append(1)
            if len(attempts) == 2:
                raise RuntimeError("not now")
            return gs.spawn_link(idle)

        sup = gs.DynamicSupervisor.start_link()
        old = start(sup, gs.ChildSpec("f", start=(flaky,)))

        gs.exit(old, "boom")
        seen = [pids(sup)]
        while not seen[-1] and len(seen) < 10:
            seen.append(pids(sup))

        assert len(attempts) == 3
        assert len(seen[-1]) == 1
        contexts = [r["context"] for r in gs_reports.of("supervisor_report")]
        assert contexts == ["child_terminated", "start_error"]
        gs.DynamicSupervisor.stop(sup)


class TestRestartIntensity:
    def test_too_many_restarts_shut_it_down(
        self, manual_clock: ManualClock, gs_reports: ReportLog, trapping: None
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        gs_reports.expect("supervisor_report", context="shutdown")
        sup = gs.DynamicSupervisor.start_link(max_restarts=2, max_seconds=5)
        ref = gs.monitor(sup)
        bystander = start(sup, worker())
        bystander_ref = gs.monitor(bystander)
        victim = start(sup, worker())
        for _ in range(2):
            gs.exit(victim, "boom")
            [victim] = [pid for pid in pids(sup) if pid != bystander]
            manual_clock.advance(2)

        gs.exit(victim, "boom")

        assert wait_down(ref).reason == "shutdown"
        assert wait_down(bystander_ref).reason == "shutdown"
        msg = gs.receive(lambda m: isinstance(m, gs.ExitSignal), timeout=BOUND)
        assert msg == gs.ExitSignal(sup, "shutdown")
        reports = gs_reports.of("supervisor_report")
        assert [r["context"] for r in reports] == ["child_terminated"] * 3 + ["shutdown"]
        assert reports[-1]["reason"] == "'reached_max_restart_intensity'"

    def test_restarts_spread_beyond_the_window_never_give_up(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        sup = gs.DynamicSupervisor.start_link(max_restarts=1, max_seconds=5)
        start(sup, worker())

        for _ in range(10):
            [pid] = pids(sup)
            gs.exit(pid, "boom")
            manual_clock.advance(6)

        [pid] = pids(sup)
        assert gs.alive(pid)
        gs.DynamicSupervisor.stop(sup)


class TestStop:
    def test_stops_every_child(self) -> None:
        sup = gs.DynamicSupervisor.start_link()
        refs = [gs.monitor(start(sup, worker())) for _ in range(5)]

        gs.DynamicSupervisor.stop(sup)

        assert [wait_down(ref, timeout=0).reason for ref in refs] == ["shutdown"] * 5

    def test_children_are_stopped_concurrently(self) -> None:
        """Every child is told to shut down before any has finished."""
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link()
        children = [start(sup, Stubborn.child_spec(test)) for _ in range(4)]
        refs = [gs.monitor(pid) for pid in children]

        def stop_it() -> None:
            gs.DynamicSupervisor.stop(sup)
            gs.send(test, "stopped")

        gs.spawn(stop_it)
        terminating = [gs.receive(is_terminating, timeout=BOUND) for _ in children]

        assert set(terminating) == {("terminating", pid, "shutdown") for pid in children}
        assert all(gs.alive(pid) for pid in children)  # all still in terminate
        for pid in children:
            gs.send(pid, "go")
        assert [wait_down(ref).reason for ref in refs] == ["shutdown"] * 4
        assert gs.receive(lambda m: m == "stopped", timeout=BOUND) == "stopped"

    @pytest.mark.parametrize("count", [1, 3])
    def test_children_that_ignore_shutdown_are_killed(self, count: int) -> None:
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link()
        children = [
            start(sup, Stubborn.child_spec(test).replace(shutdown=0.05)) for _ in range(count)
        ]
        refs = [gs.monitor(pid) for pid in children]

        gs.DynamicSupervisor.stop(sup)

        assert [wait_down(ref, timeout=0).reason for ref in refs] == ["killed"] * count

    def test_brutal_kill_children_are_killed_at_once(self) -> None:
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link()
        children = [
            start(sup, Stubborn.child_spec(test).replace(shutdown="brutal_kill")) for _ in range(3)
        ]
        refs = [gs.monitor(pid) for pid in children]

        gs.DynamicSupervisor.stop(sup)

        assert [wait_down(ref, timeout=0).reason for ref in refs] == ["killed"] * 3
        with pytest.raises(TimeoutError):
            gs.receive(is_terminating, timeout=0)

    @pytest.mark.parametrize("other_shutdown", [None, 60])
    def test_each_child_is_killed_after_its_own_shutdown(self, other_shutdown: object) -> None:
        test = gs.self()
        sup = gs.DynamicSupervisor.start_link()
        quick = start(sup, Stubborn.child_spec(test).replace(shutdown=0.05))
        slow = start(sup, Stubborn.child_spec(test).replace(shutdown=other_shutdown))
        quick_ref = gs.monitor(quick)
        _helper, helper_ref = gs.spawn_monitor(gs.DynamicSupervisor.stop, sup)
        try:
            # 0.05s is the shutdown; one second only bounds the failure.
            assert wait_down(quick_ref, timeout=1.0).reason == "killed"
        finally:
            gs.send(quick, "go")
            gs.send(slow, "go")
            assert wait_down(helper_ref).reason == "normal"

    def test_the_parent_exiting_stops_the_children(self) -> None:
        test = gs.self()

        def parent() -> None:
            sup = gs.DynamicSupervisor.start_link()
            gs.send(test, ("child", start(sup, worker())))
            gs.receive()

        owner, owner_ref = gs.spawn_monitor(parent)
        msg = gs.receive(lambda m: type(m) is tuple and m[0] == "child", timeout=BOUND)
        assert type(msg) is tuple
        ref = gs.monitor(msg[1])

        gs.exit(owner, "shutdown")

        assert wait_down(owner_ref).reason == "shutdown"
        assert wait_down(ref).reason == "shutdown"
