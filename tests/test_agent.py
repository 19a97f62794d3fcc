"""Agent: start, get, update, get_and_update, cast, stop, crashes."""

from __future__ import annotations

import re
from typing import Any

import pytest

import greenserver as gs
import greenserver.sys
from greenserver.testing import ReportLog, wait_all_idle, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0

PID = r"<0\.\d+\.0>"


def identity(state: Any) -> Any:
    return state


def not_a_pair(state: Any) -> Any:
    return 5


def explode(state: Any) -> Any:
    raise ZeroDivisionError("boom")


def zero() -> int:
    return 0


class TestStartLink:
    def test_fn_computes_the_initial_state_in_the_agent_process(self) -> None:
        me = gs.self()

        def initial() -> str:
            gs.send(me, ("ran in", gs.self()))
            return "state"

        agent = gs.Agent.start_link(initial)

        assert gs.receive(timeout=0) == ("ran in", agent)
        assert gs.Agent.get(agent, identity) == "state"
        gs.Agent.stop(agent)

    def test_args_are_passed_to_fn(self) -> None:
        agent = gs.Agent.start_link(lambda a, b: [a, b], "x", "y")

        assert gs.Agent.get(agent, identity) == ["x", "y"]
        gs.Agent.stop(agent)

    def test_links_the_agent_to_the_caller(self) -> None:
        agent = gs.Agent.start_link(zero)

        info = gs.info(agent)
        assert info is not None
        assert info["links"] == [gs.self()]
        assert info["current"] is gs.Agent
        gs.Agent.stop(agent)

    def test_name_registers_the_agent(self) -> None:
        agent = gs.Agent.start_link(zero, name="counter")

        gs.Agent.update("counter", lambda n: n + 1)

        assert gs.whereis("counter") == agent
        assert gs.Agent.get("counter", identity) == 1
        gs.Agent.stop("counter")
        assert gs.whereis("counter") is None

    def test_taken_name_raises_already_started_error(self) -> None:
        first = gs.Agent.start_link(zero, name="counter")

        with pytest.raises(
            gs.AlreadyStartedError,
            match=rf"^name 'counter' is already taken by {re.escape(repr(first))}$",
        ) as info:
            gs.Agent.start_link(zero, name="counter")

        assert info.value.pid == first
        gs.Agent.stop(first)

    def test_exception_in_fn_raises_start_error_and_reports(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", phase="init")
        before = set(gs.processes())

        with pytest.raises(
            gs.StartError,
            match=r"^Agent failed to start: ZeroDivisionError\('division by zero'\)$",
        ) as info:
            gs.Agent.start_link(lambda: 1 / 0)

        assert isinstance(info.value.reason, ZeroDivisionError)
        assert set(gs.processes()) == before
        [report] = gs_reports.of("crash_report")
        assert report["class"] == "Agent"

    def test_timeout_kills_the_half_started_agent(self) -> None:
        before = set(gs.processes())

        with pytest.raises(gs.StartError) as info:
            gs.Agent.start_link(lambda: gs.receive(lambda m: False), timeout=0.05)

        assert info.value.reason == "timeout"
        assert set(gs.processes()) == before

    def test_needs_a_callable(self) -> None:
        with pytest.raises(TypeError, match=r"^Agent\.start_link\(\) needs a callable; got 42$"):
            gs.Agent.start_link(42)  # type: ignore[arg-type]

    def test_hibernate_after_drops_the_greenlet_and_keeps_the_state(self) -> None:
        agent = gs.Agent.start_link(lambda: ["kept"], hibernate_after=0)
        gs.Agent.get(agent, identity)
        wait_all_idle()

        assert agent._proc.engine is None  # internal: a hibernating process holds no greenlet
        assert gs.Agent.get(agent, identity) == ["kept"]
        gs.Agent.stop(agent)


class TestStart:
    def test_starts_without_a_link(self) -> None:
        agent = gs.Agent.start(zero)

        info = gs.info(agent)
        assert info is not None
        assert info["links"] == []
        gs.Agent.stop(agent)

    def test_needs_a_callable(self) -> None:
        with pytest.raises(TypeError, match=r"^Agent\.start\(\) needs a callable; got 'zero'$"):
            gs.Agent.start("zero")  # type: ignore[arg-type]


class TestGet:
    def test_returns_fn_of_the_state_and_keeps_the_state(self) -> None:
        agent = gs.Agent.start_link(lambda: [1, 2, 3])

        assert gs.Agent.get(agent, len) == 3
        assert gs.Agent.get(agent, identity) == [1, 2, 3]
        gs.Agent.stop(agent)

    def test_extra_args_follow_the_state(self) -> None:
        agent = gs.Agent.start_link(lambda: {"a": 1})

        assert gs.Agent.get(agent, lambda state: state.get("a")) == 1
        assert gs.Agent.get(agent, lambda state: state.get("b", 0), 5.0) == 0  # timeout, positional
        gs.Agent.stop(agent)

    def test_fn_runs_in_the_agent_process(self) -> None:
        agent = gs.Agent.start_link(zero)

        assert gs.Agent.get(agent, lambda state: gs.self()) == agent
        gs.Agent.stop(agent)

    def test_exception_crashes_the_agent_and_the_caller_gets_server_exit_error(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ZeroDivisionError('boom')")
        agent = gs.Agent.start(lambda: "secret state")

        with pytest.raises(
            gs.ServerExitError,
            match=rf"^{PID} exited with ZeroDivisionError\('boom'\) before replying to "
            r"Agent\.get\(explode\)$",
        ) as info:
            gs.Agent.get(agent, explode)

        assert isinstance(info.value.reason, ZeroDivisionError)
        assert not gs.alive(agent)
        [report] = gs_reports.of("crash_report")
        assert report["pid"] == agent
        assert report["class"] == "Agent"
        assert report["state"] == "'secret state'"
        assert report["last_message"] == "call Agent.get(explode)"
        assert report["client"] == gs.self()

    def test_timeout_raises_call_timeout_error(self) -> None:
        agent = gs.Agent.start(zero)

        with pytest.raises(
            gs.CallTimeoutError,
            match=rf"^call to {PID} timed out after 0\.05s; request was Agent\.get\(.*\)$",
        ):
            gs.Agent.get(agent, lambda state: gs.receive(lambda m: False), timeout=0.05)

        ref = gs.monitor(agent)
        gs.exit(agent, "kill")
        assert wait_down(ref).reason == "killed"

    def test_dead_agent_raises_no_process_error(self) -> None:
        agent = gs.Agent.start(zero)
        gs.Agent.stop(agent)

        with pytest.raises(gs.NoProcessError, match=rf"^no process {PID}$"):
            gs.Agent.get(agent, identity)

    def test_unknown_name_raises_no_process_error(self) -> None:
        with pytest.raises(gs.NoProcessError, match=r"^no process 'nobody'$"):
            gs.Agent.get("nobody", identity)

    def test_needs_a_callable(self) -> None:
        agent = gs.Agent.start_link(zero)

        with pytest.raises(TypeError, match=r"^Agent\.get\(\) needs a callable; got 'len'$"):
            gs.Agent.get(agent, "len")  # type: ignore[arg-type]

        assert gs.Agent.get(agent, identity) == 0  # the agent never saw it
        gs.Agent.stop(agent)


class TestUpdate:
    def test_replaces_the_state_and_returns_none(self) -> None:
        agent = gs.Agent.start_link(lambda: [])

        assert gs.Agent.update(agent, lambda items: [*items, "a"]) is None
        gs.Agent.update(agent, lambda items: [*items, "b"], 5.0)

        assert gs.Agent.get(agent, identity) == ["a", "b"]
        gs.Agent.stop(agent)

    def test_exception_crashes_the_agent(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", last_message="call Agent.update(explode)")
        agent = gs.Agent.start(zero)

        with pytest.raises(gs.ServerExitError) as info:
            gs.Agent.update(agent, explode)

        assert isinstance(info.value.reason, ZeroDivisionError)
        assert not gs.alive(agent)


class TestGetAndUpdate:
    def test_returns_the_reply_and_keeps_the_new_state(self) -> None:
        agent = gs.Agent.start_link(lambda: 10)

        assert gs.Agent.get_and_update(agent, lambda n: (n, n + 1)) == 10
        assert gs.Agent.get_and_update(agent, lambda n: (n * 2, 0), 5.0) == 22
        assert gs.Agent.get(agent, identity) == 0
        gs.Agent.stop(agent)

    def test_each_read_and_write_is_one_step(self) -> None:
        """Concurrent callers each take a distinct ticket: nothing runs in between."""
        agent = gs.Agent.start_link(zero)
        me = gs.self()

        def take_ticket() -> None:
            gs.send(me, ("ticket", gs.Agent.get_and_update(agent, lambda n: (n, n + 1))))

        refs = [gs.spawn_monitor(take_ticket)[1] for _ in range(20)]

        assert all(wait_down(ref).reason == "normal" for ref in refs)
        tickets = sorted(gs.receive(timeout=0)[1] for _ in range(20))  # type: ignore[index]
        assert tickets == list(range(20))
        assert gs.Agent.get(agent, identity) == 20
        gs.Agent.stop(agent)

    def test_a_result_that_is_not_a_pair_crashes_the_agent(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", last_message="call Agent.get_and_update(not_a_pair)")
        agent = gs.Agent.start(zero)

        with pytest.raises(
            gs.ServerExitError,
            match=rf"^{PID} exited with BadReturnError\('not_a_pair\(\) returned 5, which is not "
            r"a valid result'\) before replying to Agent\.get_and_update\(not_a_pair\)$",
        ) as info:
            gs.Agent.get_and_update(agent, not_a_pair)

        reason = info.value.reason
        assert isinstance(reason, gs.BadReturnError)
        assert reason.callback == "not_a_pair"
        assert reason.value == 5
        assert not gs.alive(agent)

    def test_exception_crashes_the_agent(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        agent = gs.Agent.start(zero)

        with pytest.raises(gs.ServerExitError) as info:
            gs.Agent.get_and_update(agent, explode)

        assert isinstance(info.value.reason, ZeroDivisionError)


class TestCast:
    def test_updates_without_waiting_and_a_later_get_sees_it(self) -> None:
        agent = gs.Agent.start_link(lambda: [])

        for n in range(5):
            assert gs.Agent.cast(agent, lambda items, n=n: [*items, n]) is None

        assert gs.Agent.get(agent, identity) == [0, 1, 2, 3, 4]
        gs.Agent.stop(agent)

    def test_never_fails_even_to_dead_or_unknown_agents(self) -> None:
        agent = gs.Agent.start(zero)
        gs.Agent.stop(agent)

        gs.Agent.cast(agent, identity)
        gs.Agent.cast("nobody", identity)

    def test_exception_crashes_the_agent(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", last_message="cast Agent.cast(explode)")
        agent = gs.Agent.start(zero)
        ref = gs.monitor(agent)

        gs.Agent.cast(agent, explode)

        assert isinstance(wait_down(ref).reason, ZeroDivisionError)

    def test_needs_a_callable(self) -> None:
        with pytest.raises(TypeError, match=r"^Agent\.cast\(\) needs a callable; got None$"):
            gs.Agent.cast("nobody", None)  # type: ignore[arg-type]


class TestStop:
    def test_stops_with_the_reason_and_waits_for_the_exit(self) -> None:
        agent = gs.Agent.start(zero)
        ref = gs.monitor(agent)

        gs.Agent.stop(agent, "shutdown")

        assert not gs.alive(agent)
        assert wait_down(ref).reason == "shutdown"

    def test_dead_agent_raises_no_process_error(self) -> None:
        agent = gs.Agent.start(zero)
        gs.Agent.stop(agent)

        with pytest.raises(gs.NoProcessError, match=rf"^no process {PID}$"):
            gs.Agent.stop(agent)


class TestForeignRequests:
    def test_a_plain_call_crashes_the_agent_with_a_clear_error(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        agent = gs.Agent.start(zero)

        with pytest.raises(gs.ServerExitError) as info:
            gs.GenServer.call(agent, "hello")

        assert str(info.value.reason) == (
            "Agent received the call 'hello'; an agent only answers "
            "Agent.get(), Agent.update() and Agent.get_and_update()"
        )

    def test_a_plain_cast_crashes_the_agent_with_a_clear_error(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        agent = gs.Agent.start(zero)
        ref = gs.monitor(agent)

        gs.GenServer.cast(agent, "hello")

        reason = wait_down(ref).reason
        assert str(reason) == "Agent received the cast 'hello'; an agent only takes Agent.cast()"


class TestBehaviourProcess:
    def test_sys_sees_and_replaces_the_state(self) -> None:
        agent = gs.Agent.start_link(lambda: {"count": 1})

        assert greenserver.sys.get_state(agent) == {"count": 1}
        greenserver.sys.replace_state(agent, lambda state: {"count": 2})
        assert gs.Agent.get(agent, identity) == {"count": 2}
        gs.Agent.stop(agent)

    def test_via_name(self) -> None:
        gs.Registry.start_link("unique", name="agents")
        agent = gs.Agent.start_link(zero, name=gs.Via("agents", "counter"))

        gs.Agent.update(gs.Via("agents", "counter"), lambda n: n + 5)

        assert gs.Agent.get(agent, identity) == 5
        assert gs.Registry.lookup("agents", "counter") == [(agent, None)]
        gs.Agent.stop(gs.Via("agents", "counter"))
        gs.GenServer.stop("agents")

    def test_supervisor_restarts_it_with_a_fresh_state(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'killed'")
        sup = gs.Supervisor.start_link([(gs.Agent, zero)])
        [(child_id, agent, kind)] = gs.Supervisor.which_children(sup)
        gs.Agent.update(agent, lambda n: n + 1)

        gs.exit(agent, "kill")

        [(_, restarted, _)] = gs.Supervisor.which_children(sup)
        assert child_id is gs.Agent
        assert kind == "worker"
        assert restarted != agent
        assert gs.Agent.get(restarted, identity) == 0
        gs.Supervisor.stop(sup)
