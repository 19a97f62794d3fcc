"""Task and TaskSupervisor: spawn/result, yield_, shutdown, map, supervised tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

# --- helpers ---------------------------------------------------------------------


def wait_for(tag: str, timeout: float = 5.0) -> Any:
    """Receive the next ``(tag, value)`` message and return the value."""
    msg = gs.receive(
        lambda m: isinstance(m, tuple) and len(m) == 2 and m[0] == tag, timeout=timeout
    )
    assert isinstance(msg, tuple)
    return msg[1]


def wait_dead(pid: gs.Pid) -> object:
    """Wait for *pid* to die; return its exit reason (``"noproc"`` if already dead)."""
    return wait_down(gs.monitor(pid)).reason


def blocker(me: gs.Pid) -> Any:
    """Tell *me* our pid, then wait for a ("return", value) message and return the value."""
    gs.send(me, ("started", gs.self()))
    msg = gs.receive()
    assert isinstance(msg, tuple)
    return msg[1]


def crash(message: str) -> None:
    raise ValueError(message)


def mine(pid: gs.Pid) -> bool:
    """Whether *pid* is linked to the calling process."""
    info = gs.info(pid)
    assert info is not None
    return gs.self() in info["links"]  # type: ignore[operator]


# --- Task.spawn and result ---------------------------------------------------------


class TestSpawnAndResult:
    def test_result_is_the_return_value(self) -> None:
        task = gs.Task.spawn(sum, [1, 2, 3])

        assert task.result() == 6
        assert task.owner == gs.self()

    def test_the_task_runs_in_its_own_process(self) -> None:
        task = gs.Task.spawn(gs.self)

        pid = task.result()

        assert pid == task.pid
        assert pid != gs.self()

    def test_task_is_linked_to_and_monitored_by_the_owner(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        assert wait_for("started") == task.pid

        info = gs.info(task.pid)

        assert info is not None
        assert info["links"] == [gs.self()]
        assert info["monitored_by"] == [gs.self()]
        gs.send(task.pid, ("return", "done"))
        assert task.result() == "done"

    def test_nothing_about_the_task_is_left_in_the_mailbox(self) -> None:
        task = gs.Task.spawn(abs, -4)

        assert task.result() == 4
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_a_trapping_owner_gets_the_normal_exit_signal_as_in_elixir(self) -> None:
        gs.trap_exits(True)
        task = gs.Task.spawn(abs, -4)

        assert task.result() == 4
        assert gs.receive(timeout=5) == gs.ExitSignal(task.pid, "normal")

    def test_crash_kills_an_owner_that_does_not_trap_exits(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")

        def owner() -> None:
            gs.Task.spawn(crash, "boom").result()

        pid, ref = gs.spawn_monitor(owner)

        reason = wait_down(ref).reason
        assert isinstance(reason, ValueError)
        assert str(reason) == "boom"
        assert not gs.alive(pid)

    def test_crash_raises_exit_in_the_owner_while_it_waits(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        task = gs.Task.spawn(crash, "boom")

        with pytest.raises(gs.Exit) as info:
            task.result()

        assert isinstance(info.value.reason, ValueError)
        assert not gs.alive(task.pid)

    def test_crash_raises_server_exit_error_in_a_trapping_owner(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs.trap_exits(True)
        task = gs.Task.spawn(crash, "boom")

        with pytest.raises(
            gs.ServerExitError,
            match=r"^task <0\.\d+\.0> exited with ValueError\('boom'\) before returning a value$",
        ) as info:
            task.result()

        assert isinstance(info.value.reason, ValueError)
        assert info.value.server == task.pid
        signal = gs.receive(timeout=5)
        assert isinstance(signal, gs.ExitSignal)
        assert signal.pid == task.pid
        assert signal.reason is info.value.reason

    def test_crash_report_names_the_task_function(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        gs.trap_exits(True)
        task = gs.Task.spawn(crash, "boom")

        with pytest.raises(gs.ServerExitError):
            task.result()

        [report] = gs_reports.of("crash_report")
        assert report["class"] == "crash"
        assert report["pid"] == task.pid
        assert isinstance(report["exc_info"], ValueError)

    def test_normal_exit_without_a_value_raises_server_exit_error(self) -> None:
        def leave() -> None:
            raise gs.Exit("normal")

        task = gs.Task.spawn(leave)

        with pytest.raises(gs.ServerExitError) as info:
            task.result()

        assert info.value.reason == "normal"

    def test_timeout_raises_and_the_task_keeps_running(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")

        with pytest.raises(
            gs.CallTimeoutError,
            match=r"^task <0\.\d+\.0> returned nothing within 0\.05s; it keeps running$",
        ) as info:
            task.result(timeout=0.05)

        assert isinstance(info.value, TimeoutError)
        assert gs.alive(task.pid)
        gs.send(task.pid, ("return", "late"))
        assert task.result() == "late"

    def test_zero_timeout_polls(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")

        with pytest.raises(TimeoutError):
            task.result(timeout=0)

        assert task.shutdown() is None

    def test_result_twice_raises(self) -> None:
        task = gs.Task.spawn(abs, -1)
        task.result()

        with pytest.raises(
            RuntimeError,
            match=r"^the outcome of task <0\.\d+\.0> was already collected; "
            r"result\(\) can only be called while it is pending$",
        ):
            task.result()

    def test_only_the_owner_may_await(self) -> None:
        me = gs.self()
        task = gs.Task.spawn(blocker, me)
        wait_for("started")

        def other() -> None:
            try:
                task.result()
            except RuntimeError as exc:
                gs.send(me, ("error", str(exc)))

        other_pid = gs.spawn(other)

        assert wait_for("error") == (
            f"task {task.pid!r} must be collected by its owner {me!r}; "
            f"result() was called from {other_pid!r}"
        )
        gs.send(task.pid, ("return", 1))
        assert task.result() == 1

    def test_the_task_dies_with_its_owner(self) -> None:
        me = gs.self()

        def owner() -> None:
            gs.Task.spawn(blocker, me)
            gs.receive()

        owner_pid = gs.spawn(owner)
        task_pid = wait_for("started")
        ref = gs.monitor(task_pid)

        gs.exit(owner_pid, "stop")

        assert wait_down(ref).reason == "stop"

    def test_not_a_callable_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^Task.spawn\(\) needs a callable; got 42$"):
            gs.Task.spawn(42)  # type: ignore[arg-type]

    def test_bad_timeout_is_a_value_error(self) -> None:
        task = gs.Task.spawn(abs, -1)

        with pytest.raises(
            ValueError,
            match=r"^Task.result\(\): timeout must be seconds >= 0 or None; got -1$",
        ):
            task.result(timeout=-1)

        assert task.result() == 1

    def test_a_gen_server_can_take_the_outcome_as_messages(self) -> None:
        """Elixir's pattern: the reply is (task.ref, value) for handle_info."""

        class Fetcher(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok({})

            def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
                task = gs.Task.spawn(abs, request)
                state[task.ref] = from_
                return gs.NoReply(state)

            def handle_info(self, msg: Any, state: Any) -> Any:
                match msg:
                    case (gs.Ref() as ref, value) if ref in state:
                        gs.demonitor(ref, flush=True)
                        gs.GenServer.reply(state.pop(ref), value)
                        return gs.NoReply(state)
                return super().handle_info(msg, state)

        server = gs.GenServer.start_link(Fetcher, None)

        assert gs.GenServer.call(server, -8) == 8
        assert gs.sys.get_state(server) == {}
        gs.GenServer.stop(server)

    def test_repr(self) -> None:
        task = gs.Task.spawn(abs, -1)

        assert repr(task) == f"Task(pid={task.pid!r}, owner={gs.self()!r})"
        task.result()


# --- yield_ ----------------------------------------------------------------------------


class TestYield:
    def test_finished_task_gives_ok(self) -> None:
        task = gs.Task.spawn(abs, -2)

        assert gs.Task.yield_(task, 5.0) == ("ok", 2)

    def test_running_task_gives_none_and_can_be_yielded_again(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")

        assert task.yield_(0.01) is None
        assert gs.alive(task.pid)

        gs.send(task.pid, ("return", "later"))
        assert task.yield_() == ("ok", "later")

    def test_crashed_task_gives_exit_to_a_trapping_owner(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs.trap_exits(True)
        task = gs.Task.spawn(crash, "boom")

        outcome = task.yield_()

        assert outcome is not None
        assert outcome[0] == "exit"
        assert isinstance(outcome[1], ValueError)

    def test_exit_reason_is_passed_on(self) -> None:
        def leave() -> None:
            raise gs.Exit("normal")

        task = gs.Task.spawn(leave)

        assert task.yield_() == ("exit", "normal")

    def test_after_collection_raises(self) -> None:
        task = gs.Task.spawn(abs, -2)
        task.yield_()

        with pytest.raises(RuntimeError, match=r"^the outcome of task .* was already collected"):
            task.yield_()


# --- shutdown --------------------------------------------------------------------------


class TestShutdown:
    def test_running_task_is_stopped_with_shutdown(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")
        ref = gs.monitor(task.pid)

        assert gs.Task.shutdown(task) is None

        assert wait_down(ref).reason == "shutdown"
        assert not gs.alive(task.pid)

    def test_the_owner_survives_because_the_task_is_unlinked_first(self) -> None:
        me = gs.self()
        task = gs.Task.spawn(blocker, me)
        wait_for("started")

        task.shutdown()

        assert gs.self() == me

    def test_no_exit_signal_reaches_a_trapping_owner(self) -> None:
        gs.trap_exits(True)
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")

        task.shutdown()

        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_finished_task_gives_ok(self) -> None:
        task = gs.Task.spawn(abs, -3)
        wait_dead(task.pid)

        assert task.shutdown() == ("ok", 3)
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_crashed_task_gives_exit(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs.trap_exits(True)
        task = gs.Task.spawn(crash, "boom")
        wait_dead(task.pid)

        outcome = task.shutdown()

        assert outcome is not None
        assert outcome[0] == "exit"
        assert isinstance(outcome[1], ValueError)

    def test_task_that_ignores_shutdown_is_killed_after_the_timeout(self) -> None:
        me = gs.self()

        def stubborn() -> None:
            gs.trap_exits(True)
            gs.send(me, ("started", gs.self()))
            while True:
                gs.receive()

        task = gs.Task.spawn(stubborn)
        wait_for("started")
        ref = gs.monitor(task.pid)

        assert task.shutdown(0.05) is None

        assert wait_down(ref).reason == "killed"

    def test_task_that_traps_and_exits_with_shutdown_gives_none(self) -> None:
        me = gs.self()

        def polite() -> None:
            gs.trap_exits(True)
            gs.send(me, ("started", gs.self()))
            signal = gs.receive()
            assert isinstance(signal, gs.ExitSignal)
            raise gs.Exit(signal.reason)

        task = gs.Task.spawn(polite)
        wait_for("started")

        assert task.shutdown(None) is None

    def test_brutal_kill_kills_at_once(self) -> None:
        task = gs.Task.spawn(blocker, gs.self())
        wait_for("started")
        ref = gs.monitor(task.pid)

        assert task.shutdown("brutal_kill") is None

        assert wait_down(ref).reason == "killed"

    def test_a_task_that_never_ran_is_stopped_too(self) -> None:
        task = gs.Task.spawn(abs, -1)  # scheduled, not yet run: we never blocked

        assert task.shutdown("brutal_kill") is None

        assert not gs.alive(task.pid)

    def test_task_that_exited_normally_without_a_value_gives_exit(self) -> None:
        def leave() -> None:
            raise gs.Exit("normal")

        task = gs.Task.spawn(leave)
        wait_dead(task.pid)

        assert task.shutdown() == ("exit", "normal")

    def test_after_shutdown_result_raises_and_shutdown_gives_none(self) -> None:
        task = gs.Task.spawn(abs, -3)
        assert task.result() == 3

        assert task.shutdown() is None
        with pytest.raises(RuntimeError, match=r"already collected"):
            task.result()

    def test_bad_timeout_is_a_value_error(self) -> None:
        task = gs.Task.spawn(abs, -3)

        with pytest.raises(
            ValueError,
            match=r"^Task.shutdown\(\): timeout must be seconds >= 0 or None; got 'soon'$",
        ):
            task.shutdown("soon")  # type: ignore[arg-type]

        assert task.result() == 3

    def test_only_the_owner_may_shut_down(self) -> None:
        me = gs.self()
        task = gs.Task.spawn(blocker, me)
        wait_for("started")

        def other() -> None:
            try:
                task.shutdown()
            except RuntimeError as exc:
                gs.send(me, ("error", str(exc)))

        gs.spawn(other)

        assert "shutdown() was called from" in wait_for("error")
        assert task.shutdown() is None


# --- start_link, start, child_spec -----------------------------------------------------


class TestStartLink:
    def test_runs_the_function_with_its_arguments_linked(self) -> None:
        me = gs.self()
        pid = gs.Task.start_link(blocker, me)

        assert wait_for("started") == pid
        assert mine(pid)
        gs.send(pid, ("return", None))
        assert wait_dead(pid) in ("normal", "noproc")

    def test_result_is_dropped(self) -> None:
        pid = gs.Task.start_link(abs, -1)

        assert wait_dead(pid) in ("normal", "noproc")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_crash_signals_a_trapping_caller(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", **{"class": "crash"})
        gs.trap_exits(True)

        pid = gs.Task.start_link(crash, "boom")

        signal = gs.receive(lambda m: isinstance(m, gs.ExitSignal), timeout=5)
        assert isinstance(signal, gs.ExitSignal)
        assert signal.pid == pid
        assert isinstance(signal.reason, ValueError)

    def test_start_is_not_linked(self) -> None:
        pid = gs.Task.start(blocker, gs.self())
        wait_for("started")

        assert not mine(pid)
        gs.exit(pid, "kill")

    def test_not_a_callable_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^Task.start_link\(\) needs a callable; got None$"):
            gs.Task.start_link(None)  # type: ignore[arg-type]


class TestChildSpec:
    def test_a_task_child_in_a_supervisor_runs_once(self) -> None:
        me = gs.self()
        sup = gs.Supervisor.start_link([(gs.Task, (gs.send, me, ("ran", 1)))])

        assert wait_for("ran") == 1
        spec = gs.Task.child_spec(gs.self)
        assert spec.id is gs.Task
        assert spec.restart == "temporary"
        gs.Supervisor.stop(sup)

    def test_a_bare_callable_is_accepted(self) -> None:
        spec = gs.Task.child_spec(gs.self)

        assert spec.start == (gs.Task.start_link, (gs.self,), {})

    def test_anything_else_is_a_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^a Task child needs a callable or \(callable, \*args\); got 3$"
        ):
            gs.Task.child_spec(3)


# --- map ---------------------------------------------------------------------------------


def gate_releasing_in_reverse(count: int) -> gs.Pid:
    """A process that waits for *count* tasks to check in, then releases them last first."""

    def gate() -> None:
        waiting = []
        for _ in range(count):
            msg = gs.receive()
            assert isinstance(msg, tuple)
            waiting.append(msg[1])
        for pid in reversed(waiting):
            gs.send(pid, "go")

    return gs.spawn(gate)


def through_gate(gate: gs.Pid) -> Callable[[int], int]:
    def task(n: int) -> int:
        gs.send(gate, ("waiting", gs.self()))
        gs.receive(lambda m: m == "go")
        return n * 10

    return task


class TestMap:
    def test_yields_ok_per_item_in_input_order(self) -> None:
        assert list(gs.Task.map(abs, [-1, 2, -3])) == [("ok", 1), ("ok", 2), ("ok", 3)]

    def test_ordered_despite_reverse_completion(self) -> None:
        gate = gate_releasing_in_reverse(4)

        outcomes = list(gs.Task.map(through_gate(gate), range(4), max_concurrency=4))

        assert outcomes == [("ok", 0), ("ok", 10), ("ok", 20), ("ok", 30)]

    def test_unordered_yields_in_completion_order(self) -> None:
        gate = gate_releasing_in_reverse(4)

        outcomes = list(gs.Task.map(through_gate(gate), range(4), max_concurrency=4, ordered=False))

        assert outcomes == [("ok", 30), ("ok", 20), ("ok", 10), ("ok", 0)]

    def test_at_most_max_concurrency_tasks_are_alive(self) -> None:
        def count_siblings(n: int) -> int:
            return sum(
                1 for pid in gs.processes() if (gs.info(pid) or {}).get("current") is count_siblings
            )

        outcomes = list(gs.Task.map(count_siblings, range(10), max_concurrency=3))

        assert len(outcomes) == 10
        assert max(value for _, value in outcomes) == 3  # type: ignore[type-var]

    def test_each_item_runs_in_its_own_process(self) -> None:
        outcomes = list(gs.Task.map(lambda _: gs.self(), range(3)))

        pids = {value for _, value in outcomes}
        assert len(pids) == 3
        assert gs.self() not in pids

    def test_tasks_are_monitored_by_the_caller_not_linked(self) -> None:
        def links_and_watchers(_: int) -> tuple[object, object]:
            info = gs.info(gs.self())
            assert info is not None
            return info["links"], info["monitored_by"]

        [(kind, value)] = list(gs.Task.map(links_and_watchers, [1]))

        assert (kind, value) == ("ok", ([], [gs.self()]))

    def test_a_crash_yields_exit_and_the_caller_lives_on(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ZeroDivisionError('division by zero')")

        outcomes = list(gs.Task.map(lambda n: 1 / n, [1, 0, 2]))

        assert outcomes[0] == ("ok", 1.0)
        assert outcomes[2] == ("ok", 0.5)
        kind, reason = outcomes[1]
        assert kind == "exit"
        assert isinstance(reason, ZeroDivisionError)

    def test_an_exit_reason_is_yielded_without_a_report(self) -> None:
        def leave(n: int) -> int:
            raise gs.Exit(("bad", n))

        assert list(gs.Task.map(leave, [1])) == [("exit", ("bad", 1))]

    def test_is_lazy_and_pulls_items_only_as_slots_free(self) -> None:
        pulled: list[int] = []

        def items() -> Iterator[int]:
            for n in range(10):
                pulled.append(n)
                yield n

        stream = gs.Task.map(abs, items(), max_concurrency=2)
        assert pulled == []

        assert next(stream) == ("ok", 0)
        assert pulled == [0, 1]
        assert next(stream) == ("ok", 1)
        assert pulled == [0, 1, 2]
        stream.close()  # type: ignore[attr-defined]

    def test_empty_input_yields_nothing(self) -> None:
        assert list(gs.Task.map(abs, [])) == []

    def test_break_kills_the_running_tasks(self) -> None:
        me = gs.self()
        before = set(gs.processes())

        def work(n: int) -> int:
            if n:
                blocker(me)
            return n

        for outcome in gs.Task.map(work, range(3)):
            assert outcome == ("ok", 0)
            break

        # Tasks 1 and 2 may or may not have started by then; either way they
        # are dead as soon as the generator is closed (and no guard is left).
        assert set(gs.processes()) == before

    def test_kill_task_on_timeout_yields_exit_timeout_and_goes_on(self) -> None:
        me = gs.self()

        def work(n: int) -> int:
            if n == 1:
                blocker(me)
            return n

        outcomes = list(gs.Task.map(work, range(3), timeout=0.05, on_timeout="kill_task"))

        assert outcomes == [("ok", 0), ("exit", "timeout"), ("ok", 2)]
        assert not gs.alive(wait_for("started"))

    def test_kill_task_unordered(self) -> None:
        me = gs.self()

        def work(n: int) -> int:
            if n == 0:
                blocker(me)
            return n

        outcomes = list(
            gs.Task.map(work, range(3), timeout=0.05, on_timeout="kill_task", ordered=False)
        )

        assert outcomes == [("ok", 1), ("ok", 2), ("exit", "timeout")]
        assert not gs.alive(wait_for("started"))

    def test_exit_on_timeout_raises_and_kills_every_task(self) -> None:
        me = gs.self()

        def work(n: int) -> int:
            blocker(me)
            return n

        with pytest.raises(
            TimeoutError,
            match=r"^Task.map\(\): the task for item 0 \(index 0\) did not finish within 0\.05s$",
        ):
            list(gs.Task.map(work, range(5), timeout=0.05, max_concurrency=2))

        blocked = [wait_for("started"), wait_for("started")]
        assert not any(gs.alive(pid) for pid in blocked)

    def test_a_finished_result_is_not_a_timeout(self) -> None:
        """A result that came in while the consumer was busy still counts."""
        stream = gs.Task.map(abs, [-1, -2], timeout=0.05, max_concurrency=2)
        assert next(stream) == ("ok", 1)

        # Let the second task's deadline pass while its reply sits in the
        # mailbox (matching nothing, so the reply stays queued).
        with pytest.raises(TimeoutError):
            gs.receive(lambda m: False, timeout=0.1)

        assert list(stream) == [("ok", 2)]

    def test_an_error_from_the_input_kills_the_tasks(self) -> None:
        me = gs.self()

        blocked: list[gs.Pid] = []

        def items() -> Iterator[gs.Pid]:
            yield me
            yield me
            # The third pull (a slot is free) runs in the iterating process:
            # wait there until both tasks run, then fail.
            blocked.extend([wait_for("started"), wait_for("started")])
            raise KeyError("input broke")

        with pytest.raises(KeyError):
            list(gs.Task.map(blocker, items(), max_concurrency=3))

        assert len(blocked) == 2
        assert not any(gs.alive(pid) for pid in blocked)

    def test_the_tasks_die_with_the_iterating_process(self) -> None:
        me = gs.self()
        kept: list[Iterator[Any]] = []

        def work(n: int) -> int:
            if n:
                blocker(me)
            return n

        def consumer() -> None:
            stream = gs.Task.map(work, range(3))
            kept.append(stream)  # the generator outlives its process
            next(stream)
            gs.send(me, ("consumed", None))
            gs.receive()

        pid = gs.spawn(consumer)
        blocked = [wait_for("started"), wait_for("started")]
        wait_for("consumed")
        refs = [gs.monitor(p) for p in blocked]

        gs.exit(pid, "kill")

        assert [wait_down(ref).reason for ref in refs] == ["killed", "killed"]
        kept[0].close()  # type: ignore[attr-defined]

    def test_only_the_iterating_process_may_resume_it(self) -> None:
        me = gs.self()
        stream = gs.Task.map(abs, [-1, -2, -3], max_concurrency=1)
        assert next(stream) == ("ok", 1)

        def other() -> None:
            try:
                next(stream)
            except RuntimeError as exc:
                gs.send(me, ("error", str(exc)))

        gs.spawn(other)

        assert wait_for("error").startswith(f"a Task.map() generator belongs to {me!r}")

    def test_options_are_checked_at_once(self) -> None:
        with pytest.raises(ValueError, match=r"^max_concurrency must be an int >= 1; got 0$"):
            gs.Task.map(abs, [], max_concurrency=0)
        with pytest.raises(
            ValueError, match=r"^on_timeout must be 'exit' or 'kill_task'; got 'x'$"
        ):
            gs.Task.map(abs, [], on_timeout="x")  # type: ignore[arg-type]
        with pytest.raises(
            ValueError, match=r"^Task.map\(\): timeout must be seconds >= 0 or None; got -1$"
        ):
            gs.Task.map(abs, [], timeout=-1)
        with pytest.raises(TypeError, match=r"^Task.map\(\) needs a callable; got 1$"):
            gs.Task.map(1, [])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            gs.Task.map(abs, 5)  # type: ignore[arg-type]

    def test_no_timeout_waits_for_ever(self) -> None:
        assert list(gs.Task.map(abs, [-5], timeout=None)) == [("ok", 5)]


# --- TaskSupervisor --------------------------------------------------------------------


@pytest.fixture
def sup() -> Iterator[gs.Pid]:
    pid = gs.TaskSupervisor.start_link()
    yield pid
    if gs.alive(pid):
        gs.TaskSupervisor.stop(pid)


class TestTaskSupervisorStartChild:
    def test_runs_the_function_under_the_supervisor(self, sup: gs.Pid) -> None:
        pid = gs.TaskSupervisor.start_child(sup, blocker, gs.self())

        assert wait_for("started") == pid
        assert gs.TaskSupervisor.children(sup) == [pid]
        assert not mine(pid)
        info = gs.info(pid)
        assert info is not None
        assert info["links"] == [sup]
        gs.send(pid, ("return", None))
        wait_dead(pid)
        assert gs.TaskSupervisor.children(sup) == []

    def test_a_crash_is_reported_and_not_restarted(
        self, sup: gs.Pid, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs_reports.expect("supervisor_report", context="child_terminated")

        pid = gs.TaskSupervisor.start_child(sup, crash, "boom")
        wait_dead(pid)

        assert gs.TaskSupervisor.children(sup) == []
        [report] = gs_reports.of("supervisor_report")
        assert report["pid"] == pid

    def test_transient_task_is_restarted_after_a_crash(
        self, sup: gs.Pid, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('first run')")
        gs_reports.expect("supervisor_report", context="child_terminated")
        me = gs.self()
        runs: list[int] = []

        def flaky() -> None:
            runs.append(1)
            if len(runs) == 1:
                crash("first run")
            gs.send(me, ("ran", len(runs)))

        gs.TaskSupervisor.start_child(sup, flaky, restart="transient")

        assert wait_for("ran") == 2

    def test_terminate_child_stops_it(self, sup: gs.Pid) -> None:
        pid = gs.TaskSupervisor.start_child(sup, blocker, gs.self())
        wait_for("started")
        ref = gs.monitor(pid)

        gs.TaskSupervisor.terminate_child(sup, pid)

        assert wait_down(ref).reason == "shutdown"
        with pytest.raises(gs.SupervisorError) as info:
            gs.TaskSupervisor.terminate_child(sup, pid)
        assert info.value.reason == "not_found"

    def test_max_children_refuses_more(self) -> None:
        sup = gs.TaskSupervisor.start_link(max_children=1)
        gs.TaskSupervisor.start_child(sup, blocker, gs.self())
        wait_for("started")

        with pytest.raises(gs.SupervisorError) as info:
            gs.TaskSupervisor.start_child(sup, blocker, gs.self())

        assert info.value.reason == "max_children"
        gs.TaskSupervisor.stop(sup)

    def test_bad_arguments(self, sup: gs.Pid) -> None:
        with pytest.raises(
            TypeError, match=r"^TaskSupervisor.start_child\(\) needs a callable; got 'f'$"
        ):
            gs.TaskSupervisor.start_child(sup, "f")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^restart must be 'temporary', 'transient' or"):
            gs.TaskSupervisor.start_child(sup, abs, 1, restart="always")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"shutdown must be seconds >= 0"):
            gs.TaskSupervisor.start_child(sup, abs, 1, shutdown=-1)


class TestTaskSupervisorSpawnNolink:
    def test_result_is_the_return_value(self, sup: gs.Pid) -> None:
        # The supervisor lets the task run before it answers us: the owner's
        # monitor must already be in place.
        task = gs.TaskSupervisor.spawn_nolink(sup, sum, [1, 2, 3])

        assert task.result() == 6
        assert task.owner == gs.self()

    def test_the_task_is_supervised_not_linked_to_the_caller(self, sup: gs.Pid) -> None:
        task = gs.TaskSupervisor.spawn_nolink(sup, blocker, gs.self())
        wait_for("started")

        info = gs.info(task.pid)
        assert info is not None
        assert info["links"] == [sup]
        assert info["monitored_by"] == [gs.self()]
        assert gs.TaskSupervisor.children(sup) == [task.pid]
        gs.send(task.pid, ("return", "x"))
        assert task.yield_() == ("ok", "x")

    def test_a_crash_gives_exit_and_the_caller_lives_on(
        self, sup: gs.Pid, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs_reports.expect("supervisor_report", context="child_terminated")

        task = gs.TaskSupervisor.spawn_nolink(sup, crash, "boom")

        outcome = task.yield_()
        assert outcome is not None
        assert outcome[0] == "exit"
        assert isinstance(outcome[1], ValueError)
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)  # no ExitSignal, no Down left over

    def test_a_crash_makes_result_raise(self, sup: gs.Pid, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        gs_reports.expect("supervisor_report", context="child_terminated")
        task = gs.TaskSupervisor.spawn_nolink(sup, crash, "boom")

        with pytest.raises(gs.ServerExitError) as info:
            task.result()

        assert isinstance(info.value.reason, ValueError)

    def test_stopping_the_supervisor_shuts_the_task_down(self, sup: gs.Pid) -> None:
        task = gs.TaskSupervisor.spawn_nolink(sup, blocker, gs.self())
        wait_for("started")

        gs.DynamicSupervisor.stop(sup)

        assert task.yield_() == ("exit", "shutdown")

    def test_shutdown_stops_a_nolink_task(self, sup: gs.Pid) -> None:
        task = gs.TaskSupervisor.spawn_nolink(sup, blocker, gs.self())
        wait_for("started")

        assert task.shutdown() is None

        assert not gs.alive(task.pid)
        assert gs.TaskSupervisor.children(sup) == []

    def test_the_task_outlives_a_dead_caller(self, sup: gs.Pid) -> None:
        me = gs.self()

        def caller() -> None:
            gs.TaskSupervisor.spawn_nolink(sup, blocker, me)

        ref = gs.spawn_monitor(caller)[1]
        assert wait_down(ref).reason == "normal"
        task_pid = wait_for("started")

        assert gs.alive(task_pid)
        gs.send(task_pid, ("return", 1))
        wait_dead(task_pid)

    def test_a_per_task_shutdown_option(self, sup: gs.Pid) -> None:
        task = gs.TaskSupervisor.spawn_nolink(sup, blocker, gs.self(), shutdown="brutal_kill")
        wait_for("started")

        gs.TaskSupervisor.stop(sup)

        assert task.yield_() == ("exit", "killed")

    def test_max_children_refuses_more(self) -> None:
        sup = gs.TaskSupervisor.start_link(max_children=0)

        with pytest.raises(gs.SupervisorError) as info:
            gs.TaskSupervisor.spawn_nolink(sup, abs, 1)

        assert info.value.reason == "max_children"
        gs.TaskSupervisor.stop(sup)

    def test_a_dead_supervisor_raises_no_process_error(self, sup: gs.Pid) -> None:
        gs.TaskSupervisor.stop(sup)

        with pytest.raises(gs.NoProcessError):
            gs.TaskSupervisor.spawn_nolink(sup, abs, 1)


class TestTaskSupervisorStartLink:
    def test_a_name_addresses_it(self) -> None:
        sup = gs.TaskSupervisor.start_link(name="tasks")

        assert gs.whereis("tasks") == sup
        assert gs.TaskSupervisor.spawn_nolink("tasks", abs, -7).result() == 7
        gs.TaskSupervisor.stop("tasks")

    def test_it_is_linked_to_the_caller(self) -> None:
        sup = gs.TaskSupervisor.start_link()

        assert mine(sup)
        gs.Supervisor.stop(sup)

    def test_as_a_child_of_a_supervisor(self) -> None:
        top = gs.Supervisor.start_link([(gs.TaskSupervisor, {"name": "tasks"})])

        assert gs.TaskSupervisor.spawn_nolink("tasks", abs, -7).result() == 7
        [(child_id, _pid, kind)] = gs.Supervisor.which_children(top)
        assert (child_id, kind) == ("tasks", "supervisor")
        gs.Supervisor.stop(top)

    def test_bad_options(self) -> None:
        with pytest.raises(ValueError, match=r"^max_children must be an int >= 0 or None; got -1$"):
            gs.TaskSupervisor.start_link(max_children=-1)
        with pytest.raises(
            TypeError,
            match=r"^unknown TaskSupervisor options \['size'\]; expected some of \['name', ",
        ):
            gs.TaskSupervisor.child_spec({"size": 1})
        with pytest.raises(TypeError, match=r"^TaskSupervisor options must be a dict; got 3$"):
            gs.TaskSupervisor.child_spec(3)


# --- the example ------------------------------------------------------------------------


class TestExample:
    def test_examples_tasks_runs(
        self, capsys: pytest.CaptureFixture[str], gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        from tasks import main

        main()

        out = capsys.readouterr().out
        assert "square(12) -> 144" in out
        assert "parse('x') -> ('exit', ('bad_input', 'x'))" in out
