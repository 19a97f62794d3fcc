"""Erlang's promises under faults: each test is a reproduction of a broken promise.

A killed process never runs another line of its code; every interrupted wait
cleans up after itself; calls cost the same whatever the caller's mailbox
holds; no false call cycles; a user's match runs in the receiver; every kind
of exception is accounted for; the contract's corner cases hold.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import pytest
from greenlet import GreenletExit

import greenserver as gs
from greenserver import _mailbox
from greenserver.testing import ReportLog, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def barrier() -> None:
    """Return once every hub callback queued before this call has run.

    A process spawned now starts from a hub callback queued after whatever
    gevent already had pending (a ``sleep(0)`` wake-up, a timer that fired),
    so its message proves those ran first.
    """
    me = gs.self()
    gs.spawn(gs.send, me, "barrier")
    assert gs.receive(lambda m: m == "barrier", timeout=BOUND) == "barrier"


def nothing_queued(match: Callable[[Any], object]) -> bool:
    try:
        gs.receive(match, timeout=0)
    except TimeoutError:
        return True
    return False


def _reply_then_interrupt(from_: gs.Ref, caller: Any) -> None:
    # Runs in the hub: the throw switches into the caller at once, and the
    # hub resumes here when the caller next blocks.
    gs.GenServer.reply(from_, "too late")
    caller.throw(KeyboardInterrupt)


class Echo(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        match request:
            case ("wait_event", event):
                event.wait()
                return gs.Reply("waited", state)
            case "count":
                return gs.Reply(state, state)
            case ("reply_then_interrupt", caller):
                gevent.get_hub().loop.run_callback(_reply_then_interrupt, from_, caller)
                return gs.NoReply(state)
        return gs.Reply(request, state + 1)

    def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
        return gs.NoReply(state + 1)


# --- 1. a killed process never runs another line --------------------------------


class TestKilledProcessesStayDead:
    @pytest.mark.parametrize("reason", ["kill", "boom"])
    def test_a_queued_sleep0_wake_up_does_not_resume_a_killed_process(self, reason: str) -> None:
        test = gs.self()

        def victim() -> None:
            gs.send(test, "sleeping")
            gevent.sleep(0)  # noqa: TID251 - parked in gevent: the subject, not a synchronization
            gs.send(test, "ran on")
            gs.spawn_link(gs.receive)
            gs.register("zombie", gs.self())

        pid, ref = gs.spawn_monitor(victim)
        assert gs.receive(lambda m: m == "sleeping", timeout=BOUND) == "sleeping"
        before = set(gs.processes())
        gs.exit(pid, reason)
        assert wait_down(ref).reason == ("killed" if reason == "kill" else reason)
        barrier()

        assert nothing_queued(lambda m: m == "ran on")
        assert gs.whereis("zombie") is None
        assert set(gs.processes()) <= before

    def test_a_fired_timer_does_not_resume_a_killed_process(self) -> None:
        test = gs.self()
        ran: list[str] = []
        done = gevent.event.Event()

        def victim() -> None:
            try:
                gs.send(test, "sleeping")
                gevent.sleep(0.001)  # noqa: TID251 - parked in gevent: the subject, not a synchronization
                ran.append("ran on")
            finally:
                done.set()

        pid, ref = gs.spawn_monitor(victim)
        assert gs.receive(lambda m: m == "sleeping", timeout=BOUND) == "sleeping"
        # Hold the hub (no switch) until the victim's timer is due, so that
        # its wake-up and the kill meet in the same loop pass.
        due = time.monotonic() + 0.005
        while time.monotonic() < due:
            pass
        gs.exit(pid, "kill")
        wait_down(ref)
        assert done.wait(BOUND)
        assert ran == []

    def test_kernel_calls_of_a_dead_process_raise(self) -> None:
        test = gs.self()
        outcomes: list[str] = []
        done = gevent.event.Event()

        def victim() -> None:
            try:
                gs.send(test, "ready")
                gs.receive(lambda m: False)
            except gs.Exit:
                pass  # a badly written process swallows its death ...
            try_all()
            done.set()

        def try_all() -> None:
            for name, act in [
                ("spawn", lambda: gs.spawn(gs.receive)),
                ("send", lambda: gs.send(test, "from the dead")),
                ("link", lambda: gs.link(test)),
                ("monitor", lambda: gs.monitor(test)),
                ("register", lambda: gs.register("ghost", gs.self())),
                ("call", lambda: gs.GenServer.call(test, "hello", timeout=0.01)),
                ("start", lambda: Echo.start_link(0)),
            ]:
                try:
                    act()
                except gs.Exit:
                    outcomes.append(name)

        pid, ref = gs.spawn_monitor(victim)
        gs.receive(lambda m: m == "ready", timeout=BOUND)
        gs.exit(pid, "kill")
        wait_down(ref)
        assert done.wait(BOUND)
        assert outcomes == ["spawn", "send", "link", "monitor", "register", "call", "start"]
        assert nothing_queued(lambda m: m == "from the dead")
        assert gs.whereis("ghost") is None

    def test_a_process_that_swallows_exit_is_thrown_again_at_each_switch(self) -> None:
        test = gs.self()
        caught: list[object] = []
        finished = gevent.event.Event()

        def stubborn() -> None:
            gs.send(test, "ready")
            try:
                for _ in range(3):
                    try:
                        gevent.sleep(0.001)  # noqa: TID251 - parked in gevent: the subject, not a synchronization
                        caught.append("woke normally")
                    except BaseException as exc:
                        caught.append(exc)
            finally:
                finished.set()

        pid, ref = gs.spawn_monitor(stubborn)
        assert gs.receive(lambda m: m == "ready", timeout=BOUND) == "ready"
        gs.exit(pid, "kill")
        wait_down(ref)
        assert finished.wait(BOUND)
        assert [type(c) for c in caught] == [gs.Exit, gs.Exit, gs.Exit]
        assert all(c.reason == "killed" for c in caught)  # type: ignore[union-attr]

    def test_killed_callers_leave_no_monitor_and_no_request_behind(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        test = gs.self()

        def caller() -> None:
            gs.send(test, "about to call")
            gevent.sleep(0)  # noqa: TID251 - parked in gevent: the subject, not a synchronization
            gs.GenServer.call(server, "work")

        callers = [gs.spawn_monitor(caller) for _ in range(100)]
        for _ in callers:
            gs.receive(lambda m: m == "about to call", timeout=BOUND)
        for pid, _ in callers:
            gs.exit(pid, "kill")
        for _, ref in callers:
            wait_down(ref)
        barrier()

        info = gs.info(server)
        assert info is not None
        assert info["monitored_by"] == [test] or info["monitored_by"] == []
        assert gs.GenServer.call(server, "count") == 0
        gs.GenServer.stop(server)


# --- 2. a call costs the same whatever the caller's mailbox holds ----------------


class TestCallsSkipOlderMessages:
    def test_a_receive_from_a_mark_never_looks_at_older_messages(self) -> None:
        box = _mailbox.Mailbox()
        for i in range(1000):
            box.put(("old", i))
        mark = box.mark()
        box.put(("new", 0))
        seen: list[object] = []

        def match(msg: object) -> bool:
            seen.append(msg)
            return msg == ("new", 0)

        assert box.get(match, 0, start=mark) == ("new", 0)
        assert seen == [("new", 0)]
        assert len(box) == 1000

    def test_a_call_from_a_process_with_a_backlog_gets_its_answer(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        me = gs.self()
        for i in range(10_000):
            gs.send(me, ("backlog", i))
        assert gs.GenServer.call(server, "hi") == "hi"
        info = gs.info(me)
        assert info is not None
        assert info["message_queue_len"] == 10_000
        assert gs.receive(timeout=0) == ("backlog", 0)
        gs.GenServer.stop(server)


# --- 3. every interrupted wait cleans up ----------------------------------------


def _monitored_by(pid: gs.Pid) -> list[gs.Pid]:
    info = gs.info(pid)
    assert info is not None
    monitored_by = info["monitored_by"]
    assert isinstance(monitored_by, list)
    return monitored_by


class TestInterruptedWaitsCleanUp:
    def test_a_call_cut_short_by_gevent_timeout_leaves_nothing(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        event = gevent.event.Event()
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.01):
            gs.GenServer.call(server, ("wait_event", event))
        assert _monitored_by(server) == []
        event.set()
        # The server answers after the caller gave up: nothing may reach it.
        assert gs.GenServer.call(server, "sync") == "sync"
        assert nothing_queued(lambda m: True)
        gs.GenServer.stop(server)

    def test_a_reply_queued_before_the_interrupt_is_removed(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        # The reply lands in the caller's mailbox, and the caller is
        # interrupted before it runs again.
        with pytest.raises(KeyboardInterrupt):
            gs.GenServer.call(server, ("reply_then_interrupt", gevent.getcurrent()))
        assert _monitored_by(server) == []
        assert nothing_queued(lambda m: True)
        gs.GenServer.stop(server)

    def test_a_call_in_a_greenlet_killed_by_gevent_leaves_no_monitor(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        started = gevent.event.Event()
        event = gevent.event.Event()

        def client() -> None:
            started.set()
            gs.GenServer.call(server, ("wait_event", event))

        glet = gevent.spawn(client)
        started.wait()
        glet.kill()
        assert _monitored_by(server) == []
        event.set()
        gs.GenServer.stop(server)

    def test_a_stop_cut_short_leaves_no_monitor(self) -> None:
        server = Echo.start_link(0)
        assert server is not None
        event = gevent.event.Event()
        gs.GenServer.cast(server, "bump")

        class Slow(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(arg)

            def terminate(self, reason: object, state: Any) -> None:
                state.wait()

        slow = Slow.start(event)
        assert slow is not None
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.01):
            gs.GenServer.stop(slow)
        ref = gs.monitor(slow)
        event.set()
        wait_down(ref)
        assert nothing_queued(lambda m: True)
        gs.GenServer.stop(server)

    def test_a_start_cut_short_kills_the_half_started_server(self) -> None:
        event = gevent.event.Event()
        test = gs.self()

        class SlowInit(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                gs.send(test, ("starting", gs.self()))
                event.wait()
                return gs.Ok(arg)

        with pytest.raises(gevent.Timeout), gevent.Timeout(0.05):
            SlowInit.start_link(None)
        msg = gs.receive(lambda m: m[0] == "starting", timeout=BOUND)
        assert isinstance(msg, tuple)
        assert not gs.alive(msg[1])
        event.set()
        barrier()
        assert nothing_queued(lambda m: True)

    def test_a_task_result_cut_short_abandons_the_result(self) -> None:
        event = gevent.event.Event()
        task = gs.Task.spawn(event.wait)
        ref = gs.monitor(task.pid)
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.01):
            task.result(timeout=None)
        with pytest.raises(RuntimeError, match="abandoned"):
            task.result()
        event.set()
        assert wait_down(ref).reason == "normal"
        assert nothing_queued(lambda m: True)

    def test_breaking_out_of_task_map_leaves_no_results_in_the_mailbox(self) -> None:
        for outcome in gs.Task.map(lambda x: x * 2, range(10), max_concurrency=5):
            assert outcome == ("ok", 0)
            break
        barrier()
        assert nothing_queued(lambda m: True)

    def test_no_internal_envelope_reaches_a_genserver(self) -> None:
        seen: list[object] = []
        test = gs.self()

        class Watcher(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(arg)

            def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
                for outcome in gs.Task.map(lambda x: x, range(10), max_concurrency=10):
                    assert outcome == ("ok", 0)
                    break
                gs.send(test, "broke out")
                return gs.NoReply(state)

            def handle_info(self, msg: Any, state: Any) -> gs.NoReply[Any]:
                seen.append(msg)
                return gs.NoReply(state)

            def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
                return gs.Reply(list(seen), state)

        pid = Watcher.start_link(None)
        assert pid is not None
        gs.GenServer.cast(pid, "go")
        gs.receive(lambda m: m == "broke out", timeout=BOUND)
        barrier()
        assert gs.GenServer.call(pid, "seen") == []
        gs.GenServer.stop(pid)


# --- 4. no false call cycles -------------------------------------------------------


class TestNoFalseCallCycles:
    def test_a_server_that_replied_early_may_call_its_caller(self) -> None:
        class Front(gs.GenServer[Any]):
            def init(self, back: Any) -> gs.Ok[Any]:
                return gs.Ok(back)

            def handle_call(self, request: Any, from_: gs.Ref, back: Any) -> gs.Reply[Any]:
                if request == "start":
                    return gs.Reply(gs.GenServer.call(back, ("work", gs.self())), back)
                return gs.Reply(("front got", request), back)

        class Back(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(arg)

            def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.NoReply[Any]:
                _, front = request
                gs.GenServer.reply(from_, "early")
                # The caller no longer waits for us: OTP lets this call through.
                return gs.NoReply(gs.GenServer.call(front, "ping"))

            def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
                return gs.NoReply(state)

        back = Back.start_link(None)
        assert back is not None
        front = Front.start_link(back)
        assert front is not None
        assert gs.GenServer.call(front, "start") == "early"
        assert gs.sys.get_state(back) == ("front got", "ping")
        gs.GenServer.stop(front)
        gs.GenServer.stop(back)


# --- 5. user match functions run in the receiver ----------------------------------


class TestMatchesRunInTheReceiver:
    def test_a_match_that_uses_self_accepts_its_message(self) -> None:
        test = gs.self()

        def receiver() -> None:
            gs.send(test, "ready")
            msg = gs.receive(lambda m: m[0] == gs.self(), timeout=BOUND)
            gs.send(test, ("got", msg))

        pid, ref = gs.spawn_monitor(receiver)
        gs.receive(lambda m: m == "ready", timeout=BOUND)
        gs.send(pid, (test, "not mine"))
        gs.send(pid, (pid, "mine"))
        assert gs.receive(lambda m: m[0] == "got", timeout=BOUND) == ("got", (pid, "mine"))
        assert wait_down(ref).reason == "normal"

    def test_a_match_that_reads_a_contextvar_sees_the_receivers_value(self) -> None:
        wanted: contextvars.ContextVar[str] = contextvars.ContextVar("wanted", default="none")
        test = gs.self()

        def receiver() -> None:
            wanted.set("b")
            gs.send(test, "ready")
            gs.send(test, ("got", gs.receive(lambda m: m == wanted.get(), timeout=BOUND)))

        pid, ref = gs.spawn_monitor(receiver)
        gs.receive(lambda m: m == "ready", timeout=BOUND)
        gs.send(pid, "a")
        gs.send(pid, "b")
        assert gs.receive(lambda m: m[0] == "got", timeout=BOUND) == ("got", "b")
        wait_down(ref)


# --- 6. exceptions of every kind ------------------------------------------------------


def spawn_adopted_handler() -> tuple[gevent.Greenlet[[], None], gs.Pid]:
    """Spawn a gevent greenlet that becomes a process, then parks in gevent."""
    test = gs.self()

    def handler() -> None:
        gs.send(test, ("adopted", gs.self()))
        gevent.event.Event().wait()  # parked in gevent, not in a receive

    glet = gevent.spawn(handler)
    msg = gs.receive(lambda m: m[0] == "adopted", timeout=BOUND)
    assert isinstance(msg, tuple)
    return glet, msg[1]


class TestExceptionsAreAccountedFor:
    def test_a_killed_adopted_greenlet_ends_quietly(
        self, capfd: pytest.CaptureFixture[str]
    ) -> None:
        glet, pid = spawn_adopted_handler()
        gs.exit(pid, "kill")
        glet.join(BOUND)
        assert glet.dead
        assert glet.exception is None
        assert "Traceback" not in capfd.readouterr().err

    @pytest.mark.parametrize("kill", ["gevent.kill", "greenlet.kill"])
    def test_an_adopted_greenlet_killed_by_gevent_exits_killed(self, kill: str) -> None:
        glet, pid = spawn_adopted_handler()
        ref = gs.monitor(pid)
        if kill == "gevent.kill":
            gevent.kill(glet)
        else:
            glet.kill()
        assert wait_down(ref).reason == "killed"

    def test_greenlet_exit_raised_in_a_callback_is_a_crash(self, gs_reports: ReportLog) -> None:
        test = gs.self()

        class Quitter(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(arg)

            def handle_cast(self, request: Any, state: Any) -> gs.NoReply[Any]:
                raise GreenletExit("bye")

            def terminate(self, reason: object, state: Any) -> None:
                gs.send(test, ("terminate", reason))

        pid = Quitter.start(None)
        assert pid is not None
        ref = gs.monitor(pid)
        gs.GenServer.cast(pid, "quit")
        reason = wait_down(ref).reason
        assert isinstance(reason, GreenletExit)
        msg = gs.receive(lambda m: m[0] == "terminate", timeout=BOUND)
        assert isinstance(msg, tuple)
        assert msg[1] is reason
        gs_reports.expect("crash_report")
        assert len(gs_reports.of("crash_report")) == 1

    def test_keyboard_interrupt_in_a_callback_runs_terminate_and_reaches_main(
        self, gs_reports: ReportLog
    ) -> None:
        test = gs.self()

        class Interrupted(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Ok[Any]:
                return gs.Ok(arg)

            def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
                raise KeyboardInterrupt

            def terminate(self, reason: object, state: Any) -> None:
                gs.send(test, ("terminate", type(reason).__name__))

        pid = Interrupted.start(None)
        assert pid is not None
        ref = gs.monitor(pid)
        with pytest.raises(KeyboardInterrupt):
            gs.GenServer.call(pid, "go")
        assert isinstance(wait_down(ref).reason, KeyboardInterrupt)
        assert gs.receive(lambda m: m[0] == "terminate", timeout=BOUND) == (
            "terminate",
            "KeyboardInterrupt",
        )
        gs_reports.expect("crash_report")
        assert len(gs_reports.of("crash_report")) == 1


# --- 7. contract gaps ---------------------------------------------------------------


class TestContractGaps:
    def test_a_cast_to_a_via_name_without_a_registry_does_not_raise(self) -> None:
        assert gs.GenServer.cast(gs.Via("no such registry", "key"), "hello") is None

    def test_monitoring_an_unresolvable_via_name_delivers_noproc(self) -> None:
        via = gs.Via("no such registry", "key")
        ref = gs.monitor(via)
        down = wait_down(ref)
        assert down.reason == "noproc"
        assert down.pid == via

    def test_a_killed_registry_frees_its_table(self) -> None:
        from greenserver import _registry

        reg = gs.Registry.start(keys="unique", name="doomed_registry")
        gs.Registry.register("doomed_registry", "key", 1)
        assert reg in _registry._tables
        ref = gs.monitor(reg)
        gs.exit(reg, "kill")
        wait_down(ref)
        assert reg not in _registry._tables
