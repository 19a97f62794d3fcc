"""GenServer: callbacks, results, client API, lifecycle, reports."""

from __future__ import annotations

import inspect
import pydoc
from typing import Any

import gevent
import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_all_idle, wait_down
from stack import Stack


class Echo(gs.GenServer[Any]):
    """Replies with the request; ("tell", pid, msg) sends msg to pid."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(request, state)

    def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
        match request:
            case ("tell", pid, msg):
                gs.send(pid, msg)
        return gs.NoReply(state)


class Scripted(gs.GenServer[Any]):
    """A server whose callbacks do what the test tells them (through arg)."""

    def init(self, arg: Any) -> Any:
        return arg(self) if callable(arg) else gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        return request(from_, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        return request(state)

    def handle_info(self, msg: Any, state: Any) -> Any:
        if callable(msg):
            return msg(state)
        return super().handle_info(msg, state)


class TestSeedExample:
    def test_the_stack_interaction_from_the_docs(self) -> None:
        class DocStack(gs.GenServer[list[str]]):
            def init(self, stack: list[str]) -> gs.Ok[list[str]]:
                return gs.Ok(stack)

            def handle_call(self, request: Any, from_: gs.Ref, state: list[str]) -> Any:
                if request == "pop":
                    head, *tail = state
                    return gs.Reply(head, tail)
                return None

            def handle_cast(self, request: Any, state: list[str]) -> Any:
                match request:
                    case ("push", element):
                        return gs.NoReply([element, *state])
                return None

        pid = gs.GenServer.start_link(DocStack, ["hello"])

        assert gs.GenServer.call(pid, "pop") == "hello"
        assert gs.GenServer.cast(pid, ("push", "world")) is None
        assert gs.GenServer.call(pid, "pop") == "world"
        gs.GenServer.stop(pid)

    def test_classmethod_shortcut_and_client_api(self) -> None:
        pid = Stack.start_link(["hello"])
        Stack.push(pid, "world")

        assert Stack.pop(pid) == "world"
        assert Stack.pop(pid) == "hello"
        assert Stack.pop(pid) is None
        Stack.stop(pid)

    def test_name_registration(self) -> None:
        pid = Stack.start_link(["hello"], name="stack")

        assert gs.GenServer.whereis("stack") == pid
        assert Stack.pop("stack") == "hello"
        gs.GenServer.stop("stack")
        assert gs.whereis("stack") is None


class TestStart:
    def test_returns_after_init_has_run(self) -> None:
        me = gs.self()

        def init(server: gs.GenServer[Any]) -> gs.Ok[str]:
            gs.send(me, "init ran")
            return gs.Ok("state")

        pid = Scripted.start(init)

        assert gs.receive(timeout=0) == "init ran"
        gs.GenServer.stop(pid)

    def test_ignore_returns_none_and_the_process_exits_normally(self) -> None:
        before = set(gs.processes())

        assert Scripted.start_link(lambda s: gs.Ignore()) is None
        assert set(gs.processes()) == before

    def test_stop_in_init_raises_start_error_with_the_reason(self) -> None:
        with pytest.raises(gs.StartError) as info:
            Scripted.start_link(lambda s: gs.Stop("no_config"))

        assert info.value.reason == "no_config"

    def test_exception_in_init_raises_start_error_and_reports(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", phase="init")

        def init(server: gs.GenServer[Any]) -> Any:
            raise KeyError("missing")

        with pytest.raises(gs.StartError) as info:
            Scripted.start_link(init)

        assert isinstance(info.value.reason, KeyError)
        assert info.value.reason.__traceback__ is not None
        [report] = gs_reports.of("crash_report")
        assert report["class"] == "Scripted"

    def test_bad_init_result_raises_start_error_with_bad_return(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", phase="init")

        with pytest.raises(gs.StartError) as info:
            Scripted.start(lambda s: None)

        reason = info.value.reason
        assert isinstance(reason, gs.BadReturnError)
        assert reason.callback == "Scripted.init"
        assert reason.value is None

    def test_failed_start_link_does_not_signal_the_caller(self) -> None:
        gs.trap_exits(True)
        try:
            with pytest.raises(gs.StartError):
                Scripted.start_link(lambda s: gs.Stop("refused"))

            with pytest.raises(TimeoutError):
                gs.receive(lambda m: isinstance(m, gs.ExitSignal), timeout=0)
        finally:
            gs.trap_exits(False)

    def test_taken_name_raises_already_started_with_the_holder(self) -> None:
        first = Echo.start(None, name="echo")

        with pytest.raises(gs.AlreadyStartedError) as info:
            Echo.start(None, name="echo")

        assert info.value.pid == first
        assert isinstance(info.value, gs.StartError)
        gs.GenServer.stop(first)

    def test_start_timeout_kills_the_half_started_process(self) -> None:
        before = set(gs.processes())

        def init(server: gs.GenServer[Any]) -> Any:
            gs.receive()  # never comes
            return gs.Ok(None)

        with pytest.raises(gs.StartError) as info:
            Scripted.start_link(init, timeout=0.05)

        assert info.value.reason == "timeout"
        assert set(gs.processes()) == before

    def test_start_on_the_base_class_needs_a_gen_server_class(self) -> None:
        with pytest.raises(
            TypeError, match=r"^GenServer\.start\(\) needs a GenServer subclass; got 42$"
        ):
            gs.GenServer.start(42, None)

    def test_bad_name_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^name must be a non-empty str or a gs.Via; got 7$"):
            Echo.start(None, name=7)


class TestStartFunctions:
    """start/start_link are real functions: help() shows them, errors name them."""

    def test_a_subclass_start_link_has_a_signature_and_a_docstring(self) -> None:
        fn = Echo.start_link

        assert fn.__qualname__ == "Echo.start_link"
        assert str(inspect.signature(fn)) == (
            "(arg=None, /, *, name=None, timeout=None, hibernate_after=None, debug=None)"
        )
        assert fn.__doc__ is not None
        assert fn.__doc__.startswith(
            "Start a new Echo process linked to the caller and return its pid once ``init`` "
            "has returned.\n\nThe same as ``GenServer.start_link(Echo, arg)``."
        )

    def test_the_base_form_takes_the_class_first(self) -> None:
        fn = gs.GenServer.start

        assert fn.__qualname__ == "GenServer.start"
        assert str(inspect.signature(fn)) == (
            "(cls, arg=None, /, *, name=None, timeout=None, hibernate_after=None, debug=None)"
        )
        assert fn.__doc__ is not None
        assert "Start a new server process (not linked)" in fn.__doc__

    def test_help_shows_them(self) -> None:
        text = pydoc.render_doc(Echo.start_link, renderer=pydoc.plaintext)

        assert "start_link(arg=None, /, *, name=None" in text
        assert "AlreadyStartedError" in text

    def test_each_class_keeps_one_function(self) -> None:
        """Child specs built from Cls.start_link compare equal (as in OTP)."""
        assert Echo.start_link is Echo.start_link
        assert Echo.start is Echo.start
        assert Echo.start_link is not Stack.start_link

    def test_too_many_arguments_name_start_link(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^Echo\.start_link\(\) takes one init argument and keyword options; "
            r"got 2 positional arguments \(1, 2\)$",
        ):
            Echo.start_link(1, 2)

    def test_the_base_form_needs_the_class_and_an_argument(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^GenServer\.start_link\(\) takes a GenServer subclass and its init "
            r"argument; got 3 positional arguments \(<class '.*Echo'>, 1, 2\)$",
        ):
            gs.GenServer.start_link(Echo, 1, 2)

    def test_an_unknown_option_is_named(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^Echo\.start\(\) got unexpected keyword arguments \['nmae'\]; "
            r"the options are name, timeout, hibernate_after and debug$",
        ):
            Echo.start(None, nmae="echo")


class TestCall:
    def test_reply_reflects_earlier_casts(self) -> None:
        pid = Stack.start_link(["hello"])
        Stack.push(pid, "world")

        assert Stack.pop(pid) == "world"
        gs.GenServer.stop(pid)

    def test_works_from_a_plain_gevent_greenlet(self) -> None:
        pid = Echo.start(None)

        result = gevent.spawn(gs.GenServer.call, pid, "hi").get(timeout=5)

        assert result == "hi"
        gs.GenServer.stop(pid)
        wait_all_idle()

    def test_many_concurrent_callers_each_get_their_own_reply(self) -> None:
        pid = Echo.start(None)

        def caller(n: int) -> None:
            assert gs.GenServer.call(pid, n) == n

        refs = [gs.spawn_monitor(caller, n)[1] for n in range(50)]

        assert all(wait_down(ref).reason == "normal" for ref in refs)
        gs.GenServer.stop(pid)

    def test_dead_server_raises_no_process_error(self) -> None:
        pid = Echo.start(None)
        gs.GenServer.stop(pid)

        with pytest.raises(gs.NoProcessError, match=r"^no process <0\.\d+\.0>$") as info:
            gs.GenServer.call(pid, "hi")

        assert info.value.server == pid
        assert info.value.request == "hi"

    def test_unknown_name_raises_no_process_error(self) -> None:
        with pytest.raises(gs.NoProcessError, match=r"^no process 'nobody'$"):
            gs.GenServer.call("nobody", "hi")

    def test_server_dying_mid_call_raises_server_exit_error(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="'boom'")
        pid = Scripted.start(None)

        def die(from_: gs.Ref, state: Any) -> Any:
            raise gs.Exit("boom")

        with pytest.raises(gs.ServerExitError) as info:
            gs.GenServer.call(pid, die)

        assert info.value.reason == "boom"
        assert not gs.alive(pid)

    def test_timeout_raises_and_the_late_reply_never_arrives(self) -> None:
        pid = Scripted.start(None)

        def hold(from_: gs.Ref, state: Any) -> Any:
            return gs.NoReply(from_)

        with pytest.raises(gs.CallTimeoutError) as info:
            gs.GenServer.call(pid, hold, timeout=0.05)
        assert isinstance(info.value, TimeoutError)

        def answer_late(state: Any) -> Any:
            gs.GenServer.reply(state, "late")
            return gs.NoReply(None)

        gs.GenServer.cast(pid, answer_late)
        gs.GenServer.call(pid, lambda f, s: gs.Reply("barrier", s))

        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)
        gs.GenServer.stop(pid)

    def test_deferred_reply_with_noreply(self) -> None:
        pid = Scripted.start(None)
        me = gs.self()

        def defer(from_: gs.Ref, state: Any) -> Any:
            gs.send(pid, lambda s: (gs.GenServer.reply(from_, "later"), gs.NoReply(s))[1])
            return gs.NoReply(state)

        assert gs.GenServer.call(pid, defer) == "later"
        assert me == gs.self()
        gs.GenServer.stop(pid)

    def test_calling_itself_raises_at_once(self) -> None:
        pid = Scripted.start(None)

        def call_self(from_: gs.Ref, state: Any) -> Any:
            try:
                gs.GenServer.call(pid, "x")
            except gs.CallError as exc:
                return gs.Reply(str(exc), state)
            return gs.Reply("no error", state)

        answer = gs.GenServer.call(pid, call_self)

        assert "called itself" in answer
        assert "calling_self" in answer
        gs.GenServer.stop(pid)

    def test_a_call_cycle_is_detected_and_named(self) -> None:
        a = Scripted.start(None)
        b = Scripted.start(None)

        def b_calls_a(from_: gs.Ref, state: Any) -> Any:
            try:
                gs.GenServer.call(a, "anything")
            except gs.CallError as exc:
                return gs.Reply(f"error: {exc}", state)
            return gs.Reply("no error", state)

        def a_calls_b(from_: gs.Ref, state: Any) -> Any:
            return gs.Reply(gs.GenServer.call(b, b_calls_a), state)

        answer = gs.GenServer.call(a, a_calls_b)

        assert answer == (
            f"error: call cycle {b} -> {a} -> {b}: "
            "each waits for the next, so none would ever answer"
        )
        gs.GenServer.stop(a)
        gs.GenServer.stop(b)


class TestCast:
    def test_never_fails_even_to_dead_or_unknown_servers(self) -> None:
        pid = Echo.start(None)
        gs.GenServer.stop(pid)

        assert gs.GenServer.cast(pid, "x") is None
        assert gs.GenServer.cast("nobody", "x") is None

    def test_casts_are_handled_in_order(self) -> None:
        pid = Stack.start([])
        for n in range(100):
            Stack.push(pid, n)

        assert [Stack.pop(pid) for _ in range(100)] == list(range(99, -1, -1))
        gs.GenServer.stop(pid)


class TestResults:
    def test_timeout_option_delivers_timeout_to_handle_info(self) -> None:
        me = gs.self()

        def on_timeout(state: Any) -> Any:
            return gs.NoReply(state)

        class Timer(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(None, timeout=0.01)

            def handle_info(self, msg: Any, state: Any) -> gs.NoReply[Any]:
                gs.send(me, ("info", msg))
                return gs.NoReply(state)

        pid = Timer.start(None)

        assert gs.receive(timeout=5) == ("info", "timeout")
        gs.GenServer.stop(pid)

    def test_continue_runs_before_any_other_message(self) -> None:
        me = gs.self()

        class Continuing(gs.GenServer[list[str]]):
            def init(self, arg: Any) -> gs.Ok[list[str]]:
                gs.send(gs.self(), "early message")
                return gs.Ok([], continue_="setup")

            def handle_continue(self, arg: Any, state: list[str]) -> gs.NoReply[list[str]]:
                return gs.NoReply([*state, f"continue {arg}"])

            def handle_info(self, msg: Any, state: list[str]) -> gs.NoReply[list[str]]:
                return gs.NoReply([*state, msg])

            def handle_call(self, request: Any, from_: gs.Ref, state: list[str]) -> Any:
                return gs.Reply(state, state)

        pid = Continuing.start(None)

        assert gs.GenServer.call(pid, "log") == ["continue setup", "early message"]
        assert me == gs.self()
        gs.GenServer.stop(pid)

    def test_hibernate_drops_the_greenlet_and_loses_no_message(self) -> None:
        pid = Scripted.start(None)

        def sleep(from_: gs.Ref, state: Any) -> Any:
            return gs.Reply("ok", ["kept"], hibernate=True)

        gs.GenServer.call(pid, sleep)
        assert pid._proc.engine is None  # internal: the hibernating process holds no greenlet

        for n in range(3):
            gs.GenServer.cast(pid, lambda s, n=n: gs.NoReply([*s, n]))

        assert gs.GenServer.call(pid, lambda f, s: gs.Reply(s, s)) == ["kept", 0, 1, 2]
        gs.GenServer.stop(pid)

    def test_hibernate_after_idle_time(self) -> None:
        pid = Echo.start(["state"], hibernate_after=0)

        assert gs.GenServer.call(pid, "first") == "first"
        wait_all_idle()

        assert pid._proc.engine is None
        assert gs.GenServer.call(pid, "still here") == "still here"
        gs.GenServer.stop(pid)

    def test_at_most_one_option(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"^a result takes at most one of continue_=, timeout=, hibernate=; "
            r"got \['timeout', 'hibernate'\]$",
        ):
            gs.Reply(1, 2, timeout=1.0, hibernate=True)

    def test_bad_timeout_option(self) -> None:
        with pytest.raises(ValueError, match=r"^timeout must be a number of seconds >= 0; got -1$"):
            gs.NoReply(None, timeout=-1)


class TestBadReturns:
    def test_none_from_handle_call_stops_the_server_and_the_caller_learns_why(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report")
        pid = Scripted.start(None)

        with pytest.raises(gs.ServerExitError) as info:
            gs.GenServer.call(pid, lambda f, s: None)

        reason = info.value.reason
        assert isinstance(reason, gs.BadReturnError)
        assert reason.callback == "Scripted.handle_call"
        assert reason.value is None
        [report] = gs_reports.of("crash_report")
        assert "Scripted.handle_call() returned None" in report["reason"]

    @pytest.mark.parametrize("kind", ["cast", "info"])
    def test_bad_return_from_cast_or_info(self, kind: str, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        pid = Scripted.start(None)
        ref = gs.monitor(pid)

        if kind == "cast":
            gs.GenServer.cast(pid, lambda s: "oops")
        else:
            gs.send(pid, lambda s: "oops")

        reason = wait_down(ref).reason
        assert isinstance(reason, gs.BadReturnError)
        assert reason.callback == f"Scripted.handle_{kind}"
        assert reason.value == "oops"

    def test_default_handle_call_crashes_with_a_clear_error(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")

        class NoCalls(gs.GenServer[None]):
            def init(self, arg: Any) -> gs.Ok[None]:
                return gs.Ok(None)

        pid = NoCalls.start(None)

        with pytest.raises(gs.ServerExitError) as info:
            gs.GenServer.call(pid, "hello")

        assert str(info.value.reason) == (
            "TestBadReturns.test_default_handle_call_crashes_with_a_clear_error.<locals>.NoCalls "
            "received the call 'hello' but does not define handle_call()"
        )

    def test_default_handle_info_logs_and_keeps_going(self, gs_reports: ReportLog) -> None:
        pid = Echo.start("state")

        gs.send(pid, "stray")

        assert gs.GenServer.call(pid, "alive?") == "alive?"
        [event] = gs_reports.of("unexpected_message")
        assert event["message"] == "'stray'"
        assert event["log_level"] == "warning"
        gs.GenServer.stop(pid)


class TestLifecycle:
    def test_stop_runs_terminate_and_waits_for_the_exit(self) -> None:
        me = gs.self()

        class Terminating(gs.GenServer[str]):
            def init(self, arg: Any) -> gs.Ok[str]:
                return gs.Ok("final state")

            def terminate(self, reason: object, state: str) -> None:
                gs.send(me, ("terminate", reason, state))

        pid = Terminating.start(None)

        gs.GenServer.stop(pid, "shutdown")

        assert not gs.alive(pid)
        assert gs.receive(timeout=0) == ("terminate", "shutdown", "final state")

    def test_stop_of_a_dead_server_raises_no_process_error(self) -> None:
        pid = Echo.start(None)
        gs.GenServer.stop(pid)

        with pytest.raises(gs.NoProcessError):
            gs.GenServer.stop(pid)

    def test_stop_timeout_raises_call_timeout_error(self) -> None:
        class Stubborn(gs.GenServer[None]):
            def init(self, arg: Any) -> gs.Ok[None]:
                return gs.Ok(None)

            def terminate(self, reason: object, state: None) -> None:
                gs.receive()  # waits forever

        pid = Stubborn.start(None)

        with pytest.raises(gs.CallTimeoutError):
            gs.GenServer.stop(pid, timeout=0.05)

        ref = gs.monitor(pid)
        gs.exit(pid, "kill")
        assert wait_down(ref).reason == "killed"

    def test_terminate_is_called_with_the_crash_reason(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        me = gs.self()

        class Crashy(gs.GenServer[str]):
            def init(self, arg: Any) -> gs.Ok[str]:
                return gs.Ok("s")

            def handle_cast(self, request: Any, state: str) -> gs.NoReply[str]:
                raise ZeroDivisionError("boom")

            def terminate(self, reason: object, state: str) -> None:
                gs.send(me, ("terminate", reason))

        pid = Crashy.start(None)
        ref = gs.monitor(pid)
        gs.GenServer.cast(pid, "go")

        down = wait_down(ref)
        tag, reason = gs.receive(timeout=0)  # type: ignore[misc]
        assert tag == "terminate"
        assert isinstance(reason, ZeroDivisionError)
        assert down.reason is reason

    def test_parent_exit_terminates_a_trapping_server_with_terminate(self) -> None:
        me = gs.self()

        class Child(gs.GenServer[None]):
            def init(self, arg: Any) -> gs.Ok[None]:
                gs.trap_exits(True)
                return gs.Ok(None)

            def terminate(self, reason: object, state: None) -> None:
                gs.send(me, ("child terminate", reason))

        def parent() -> None:
            child = Child.start_link(None)
            gs.send(me, ("child", child))
            gs.receive()
            raise gs.Exit("shutdown")

        parent_pid = gs.spawn(parent)
        _, child = gs.receive(timeout=5)  # type: ignore[misc]
        ref = gs.monitor(child)
        gs.send(parent_pid, "exit now")

        assert wait_down(ref).reason == "shutdown"
        assert gs.receive(timeout=0) == ("child terminate", "shutdown")

    def test_parent_exit_kills_a_non_trapping_server_without_terminate(self) -> None:
        me = gs.self()

        class Child(gs.GenServer[None]):
            def init(self, arg: Any) -> gs.Ok[None]:
                return gs.Ok(None)

            def terminate(self, reason: object, state: None) -> None:
                gs.send(me, "terminate ran")

        def parent() -> None:
            gs.send(me, ("child", Child.start_link(None)))
            gs.receive()
            raise gs.Exit("shutdown")

        parent_pid = gs.spawn(parent)
        _, child = gs.receive(timeout=5)  # type: ignore[misc]
        ref = gs.monitor(child)
        gs.send(parent_pid, "exit now")

        assert wait_down(ref).reason == "shutdown"
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_name_is_free_for_a_replacement_at_once(self) -> None:
        pid = Echo.start(None, name="svc")
        gs.exit(pid, "kill")

        replacement = Echo.start(None, name="svc")

        assert gs.whereis("svc") == replacement
        gs.GenServer.stop(replacement)

    def test_stop_reply_is_sent_after_terminate(self) -> None:
        me = gs.self()

        class Quitter(gs.GenServer[None]):
            def init(self, arg: Any) -> gs.Ok[None]:
                return gs.Ok(None)

            def handle_call(self, request: Any, from_: gs.Ref, state: None) -> gs.Stop[None]:
                return gs.Stop("normal", state, reply="bye")

            def terminate(self, reason: object, state: None) -> None:
                gs.send(me, "terminated")

        pid = Quitter.start(None)
        ref = gs.monitor(pid)

        assert gs.GenServer.call(pid, "quit") == "bye"
        assert gs.receive(timeout=0) == "terminated"
        assert wait_down(ref).reason == "normal"


class TestCrashReports:
    def test_one_report_with_the_documented_keys(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        pid = Scripted.start({"password": "hunter2"}, name="vault")

        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(pid, lambda f, s: 1 / 0)

        [report] = gs_reports.of("crash_report")
        assert report["pid"] == pid
        assert report["name"] == "vault"
        assert report["class"] == "Scripted"
        assert report["reason"] == "ZeroDivisionError('division by zero')"
        assert report["state"] == "{'password': 'hunter2'}"
        assert report["client"] == gs.self()
        assert report["last_message"].startswith("call <function")
        assert isinstance(report["exc_info"], ZeroDivisionError)
        assert report["log_level"] == "error"

    def test_format_status_hides_secrets(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")

        class Secretive(gs.GenServer[dict[str, str]]):
            def init(self, arg: Any) -> gs.Ok[dict[str, str]]:
                return gs.Ok({"password": "hunter2"})

            def handle_cast(self, request: Any, state: dict[str, str]) -> Any:
                raise RuntimeError("crash")

            def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
                return {**status, "state": {"password": "<hidden>"}}

        pid = Secretive.start(None)
        ref = gs.monitor(pid)
        gs.GenServer.cast(pid, "go")
        wait_down(ref)

        [report] = gs_reports.of("crash_report")
        assert "hunter2" not in str(report)
        assert report["state"] == "{'password': '<hidden>'}"

    def test_format_status_sees_the_sys_log(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        me = gs.self()

        class Logged(gs.GenServer[int]):
            def init(self, arg: Any) -> gs.Ok[int]:
                return gs.Ok(0)

            def handle_cast(self, request: Any, state: int) -> Any:
                if request == "crash":
                    raise RuntimeError("crash")
                return gs.NoReply(state + 1)

            def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
                gs.send(me, ("log", [e["event"] for e in status["log"]]))
                return status

        pid = Logged.start(None, debug=[("log", 5)])
        ref = gs.monitor(pid)
        gs.GenServer.cast(pid, "bump")
        gs.GenServer.cast(pid, "crash")
        wait_down(ref)

        assert gs.receive(timeout=0) == ("log", ["in", "state", "in"])

    @pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "because")])
    def test_normal_exits_log_nothing(self, reason: object, gs_reports: ReportLog) -> None:
        pid = Scripted.start(None)

        gs.GenServer.call(pid, lambda f, s: gs.Stop(reason, s, reply="ok"))

        assert gs_reports.of("crash_report") == []

    def test_long_values_are_cut(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        pid = Scripted.start(list(range(10_000)))
        ref = gs.monitor(pid)

        gs.GenServer.cast(pid, lambda s: 1 / 0)
        wait_down(ref)

        [report] = gs_reports.of("crash_report")
        assert len(report["state"]) < 300


class TestDefaults:
    def test_code_change_keeps_the_state(self) -> None:
        result = Echo().code_change("1", {"a": 1}, None)

        assert isinstance(result, gs.Ok)
        assert result.state == {"a": 1}

    def test_format_status_returns_its_input(self) -> None:
        status = {"state": 1, "message": None, "reason": None, "log": []}

        assert Echo().format_status(status) is status
