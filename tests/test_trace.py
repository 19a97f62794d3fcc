"""greenserver.trace: the global hook that sees every process event."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gevent
import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_all_idle, wait_down
from stack import Stack

Event = dict[str, Any]


class Tracer:
    """Installs trace handlers for one test and always removes them."""

    def __init__(self) -> None:
        self.handles: list[gs.trace.Handle] = []

    def add(
        self,
        fn: Callable[[Event], object],
        events: Iterable[str] | None = None,
        pids: Iterable[object] | None = None,
    ) -> gs.trace.Handle:
        handle = gs.trace.add_handler(fn, events=events, pids=pids)
        self.handles.append(handle)
        return handle

    def collect(
        self, events: Iterable[str] | None = None, pids: Iterable[object] | None = None
    ) -> list[Event]:
        """Install a handler that appends each event to the returned list."""
        seen: list[Event] = []
        self.add(seen.append, events, pids)
        return seen

    def remove(self, handle: gs.trace.Handle) -> None:
        gs.trace.remove_handler(handle)
        self.handles.remove(handle)


@pytest.fixture
def tracer() -> Iterator[Tracer]:
    tracer = Tracer()
    try:
        yield tracer
    finally:
        for handle in tracer.handles:
            gs.trace.remove_handler(handle)


def waiter() -> None:
    """A process that ends when it gets ``"stop"`` (and ignores anything else)."""
    gs.receive(lambda m: m == "stop")


def kinds(events: list[Event]) -> list[str]:
    return [e["event"] for e in events]


class TestEventKinds:
    def test_spawn_and_exit(self, tracer: Tracer) -> None:
        seen = tracer.collect(events=["spawn", "exit"])

        pid, ref = gs.spawn_monitor(waiter)
        gs.send(pid, "stop")
        wait_down(ref)

        assert seen == [
            {
                "event": "spawn",
                "pid": pid,
                "parent": gs.self(),
                "fn": waiter,
                "link": False,
                "monitor": True,
            },
            {"event": "exit", "pid": pid, "reason": "normal"},
        ]

    def test_an_adopted_greenlet_has_no_parent(self, tracer: Tracer) -> None:
        seen = tracer.collect(events=["spawn"])

        glet = gevent.spawn(gs.self)
        pid = glet.get(timeout=5)
        wait_down(gs.monitor(pid))  # the adopted process ends with its greenlet

        assert seen == [{"event": "spawn", "pid": pid, "parent": None, "adopted": True}]

    def test_link_and_unlink(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["link", "unlink"])

        pid = gs.spawn_link(waiter)
        gs.unlink(pid)
        gs.link(pid)
        gs.unlink(pid)

        assert seen == [
            {"event": "link", "pid": me, "other": pid},
            {"event": "unlink", "pid": me, "other": pid},
            {"event": "link", "pid": me, "other": pid},
            {"event": "unlink", "pid": me, "other": pid},
        ]
        gs.exit(pid, "kill")

    def test_monitor_and_down(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["monitor", "down"])

        pid = gs.spawn(waiter)
        ref = gs.monitor(pid)
        gs.exit(pid, "kill")
        wait_down(ref)

        assert seen == [
            {"event": "monitor", "pid": me, "ref": ref, "target": pid},
            {"event": "down", "pid": me, "ref": ref, "target": pid, "reason": "killed"},
        ]

    def test_send_and_receive(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["send", "receive"])

        gs.send(me, "hello")
        gs.receive(timeout=5.0)

        assert seen == [
            {"event": "send", "pid": me, "to": me, "msg": "hello"},
            {"event": "receive", "pid": me, "msg": "hello"},
        ]

    def test_send_names_the_sender_and_the_receiver_as_given(self, tracer: Tracer) -> None:
        me = gs.self()
        pid = gs.spawn(waiter)
        gs.register("waiter", pid)
        seen = tracer.collect(events=["send"])

        gs.send(pid, "one")
        gs.send("waiter", "stop")
        wait_all_idle()

        assert seen == [
            {"event": "send", "pid": me, "to": pid, "msg": "one"},
            {"event": "send", "pid": me, "to": "waiter", "msg": "stop"},
        ]

    def test_call_cast_and_reply(self, tracer: Tracer) -> None:
        me = gs.self()
        pid = Stack.start_link(["a"])
        seen = tracer.collect(events=["call", "cast", "reply"])

        Stack.push(pid, "b")
        assert Stack.pop(pid) == "b"

        [cast, call, reply] = seen
        assert cast == {"event": "cast", "pid": me, "server": pid, "request": ("push", "b")}
        assert call == {"event": "call", "pid": me, "server": pid, "request": "pop"}
        assert {k: v for k, v in reply.items() if k != "ref"} == {
            "event": "reply",
            "pid": pid,
            "to": me,
            "value": "b",
        }
        assert isinstance(reply["ref"], gs.Ref)
        gs.GenServer.stop(pid)

    def test_messages_show_as_the_user_wrote_them(self, tracer: Tracer) -> None:
        """A call, a cast, a sys request and a reply, never their envelopes."""
        me = gs.self()
        pid = Stack.start_link(["a"])
        seen = tracer.collect(events=["receive"])

        Stack.push(pid, "b")
        Stack.pop(pid)
        gs.sys.get_state(pid)

        assert [(e["pid"], e["msg"]) for e in seen] == [
            (pid, ("push", "b")),
            (pid, "pop"),
            (me, "b"),
            (pid, ("get_state",)),
            (me, ("ok", ["a"])),
        ]
        assert all(type(e["msg"]).__module__ == "builtins" for e in seen)
        gs.GenServer.stop(pid)

    def test_a_start_shows_the_pid_the_starter_gets(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["receive"], pids=[me])

        pid = Stack.start_link([])

        assert seen == [{"event": "receive", "pid": me, "msg": pid}]
        gs.GenServer.stop(pid)

    def test_a_task_result_is_sent_by_the_task(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["send"])

        task = gs.Task.spawn(lambda: 42)
        assert task.result() == 42

        [send] = seen
        assert (send["pid"], send["to"], send["msg"][1]) == (task.pid, me, 42)

    def test_restart_by_a_supervisor(self, tracer: Tracer, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.Supervisor.start_link([gs.ChildSpec("stack", start=(Stack.start_link, ([],), {}))])
        [(_, old, _)] = gs.Supervisor.which_children(sup)
        assert isinstance(old, gs.Pid)
        seen = tracer.collect(events=["restart"])

        gs.exit(old, "boom")
        [(_, new, _)] = gs.Supervisor.which_children(sup)  # after the restart

        assert new != old
        assert seen == [
            {"event": "restart", "pid": sup, "child_id": "stack", "old": old, "new": new}
        ]
        gs.Supervisor.stop(sup)

    def test_one_for_all_names_each_old_and_new_pid(
        self, tracer: Tracer, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.Supervisor.start_link(
            [
                gs.ChildSpec("a", start=(Stack.start_link, ([],), {})),
                gs.ChildSpec("b", start=(Stack.start_link, ([],), {})),
            ],
            strategy="one_for_all",
        )
        before = dict((cid, pid) for cid, pid, _ in gs.Supervisor.which_children(sup))
        seen = tracer.collect(events=["restart"])

        gs.exit(before["b"], "boom")
        after = dict((cid, pid) for cid, pid, _ in gs.Supervisor.which_children(sup))

        assert seen == [
            {"event": "restart", "pid": sup, "child_id": cid, "old": before[cid], "new": after[cid]}
            for cid in ("a", "b")
        ]
        gs.Supervisor.stop(sup)

    def test_restart_by_a_dynamic_supervisor(self, tracer: Tracer, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.DynamicSupervisor.start_link()
        old = gs.DynamicSupervisor.start_child(sup, (Stack, []))
        assert isinstance(old, gs.Pid)
        seen = tracer.collect(events=["restart"])

        gs.exit(old, "boom")
        [(_, new, _)] = gs.DynamicSupervisor.which_children(sup)

        assert seen == [{"event": "restart", "pid": sup, "child_id": None, "old": old, "new": new}]
        gs.DynamicSupervisor.stop(sup)

    def test_crash_of_a_plain_process(self, tracer: Tracer, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        seen = tracer.collect(events=["crash", "exit"])
        error = ValueError("boom")

        def crasher() -> None:
            raise error

        pid, ref = gs.spawn_monitor(crasher)
        wait_down(ref)

        assert seen == [
            {"event": "crash", "pid": pid, "reason": error},
            {"event": "exit", "pid": pid, "reason": error},
        ]

    def test_crash_of_a_server_is_one_event(self, tracer: Tracer, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report")
        pid = Stack.start([])
        assert pid is not None
        seen = tracer.collect(events=["crash"], pids=[pid])

        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(pid, "explode")

        [crash] = seen
        assert crash["pid"] == pid
        assert isinstance(crash["reason"], RuntimeError)

    def test_every_kind_has_event_and_pid(self, tracer: Tracer, gs_reports: ReportLog) -> None:
        """One scenario that causes all thirteen kinds; each event names its kind and pid."""
        gs_reports.expect("crash_report")
        gs_reports.expect("supervisor_report", context="child_terminated")
        seen = tracer.collect()
        sup = gs.Supervisor.start_link([gs.ChildSpec("stack", start=(Stack.start_link, ([],), {}))])
        [(_, child, _)] = gs.Supervisor.which_children(sup)
        Stack.push(child, "x")
        Stack.pop(child)
        other = gs.spawn_link(waiter)
        gs.unlink(other)
        gs.send(other, "stop")
        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(child, "explode")  # a crash, then a restart
        gs.Supervisor.which_children(sup)
        gs.Supervisor.stop(sup)

        assert set(kinds(seen)) == set(gs.trace.EVENTS)
        assert sorted(gs.trace.EVENTS) == [
            "call",
            "cast",
            "crash",
            "down",
            "exit",
            "link",
            "monitor",
            "receive",
            "reply",
            "restart",
            "send",
            "spawn",
            "unlink",
        ]
        assert all(isinstance(e["pid"], gs.Pid) for e in seen)


class TestOrder:
    def test_a_call_round_trip(self, tracer: Tracer) -> None:
        me = gs.self()
        pid = Stack.start_link(["a"])
        seen = tracer.collect(pids=[me, pid])

        Stack.pop(pid)

        assert kinds(seen) == ["monitor", "call", "receive", "reply", "receive"]
        monitor, call, server_receive, reply, client_receive = seen
        assert (monitor["pid"], monitor["target"]) == (me, pid)
        assert (call["pid"], call["server"], call["request"]) == (me, pid, "pop")
        assert (server_receive["pid"], server_receive["msg"]) == (pid, "pop")
        assert (reply["pid"], reply["to"], reply["ref"], reply["value"]) == (
            pid,
            me,
            monitor["ref"],
            "a",
        )
        assert (client_receive["pid"], client_receive["msg"]) == (me, "a")
        gs.GenServer.stop(pid)

    def test_messages_between_two_processes(self, tracer: Tracer) -> None:
        me = gs.self()

        def echo() -> None:
            msg = gs.receive()
            gs.send(me, ("echo", msg))

        pid, ref = gs.spawn_monitor(echo)
        seen = tracer.collect(events=["send", "receive"], pids=[me, pid])
        gs.send(pid, "ping")
        gs.receive(lambda m: m == ("echo", "ping"), timeout=5.0)
        wait_down(ref)

        assert seen == [
            {"event": "send", "pid": me, "to": pid, "msg": "ping"},
            {"event": "receive", "pid": pid, "msg": "ping"},
            {"event": "send", "pid": pid, "to": me, "msg": ("echo", "ping")},
            {"event": "receive", "pid": me, "msg": ("echo", "ping")},
            {"event": "receive", "pid": me, "msg": gs.Down(ref, pid, "normal")},
        ]


class TestFilters:
    def test_events_keeps_only_those_kinds(self, tracer: Tracer) -> None:
        seen = tracer.collect(events=["exit"])

        pid, ref = gs.spawn_monitor(waiter)
        gs.send(pid, "stop")
        wait_down(ref)

        assert seen == [{"event": "exit", "pid": pid, "reason": "normal"}]

    def test_pids_keeps_only_what_those_pids_do(self, tracer: Tracer) -> None:
        me = gs.self()
        a = gs.spawn(waiter)
        b = gs.spawn(waiter)
        seen = tracer.collect(events=["send", "receive"], pids=[b])

        gs.send(a, "one")
        gs.send(b, "two")
        gs.send(a, "stop")
        gs.send(b, "stop")
        wait_all_idle()

        # b received; the main process, not b, did the sending.
        assert seen == [{"event": "receive", "pid": b, "msg": "stop"}]
        assert all(e["pid"] != me for e in seen)

    def test_an_empty_events_list_sees_nothing(self, tracer: Tracer) -> None:
        seen = tracer.collect(events=[])

        gs.send(gs.self(), "hello")
        gs.receive(timeout=5.0)

        assert seen == []

    def test_handlers_filter_independently(self, tracer: Tracer) -> None:
        me = gs.self()
        sends = tracer.collect(events=["send"])
        receives = tracer.collect(events=["receive"])

        gs.send(me, "hello")
        gs.receive(timeout=5.0)

        assert sends == [{"event": "send", "pid": me, "to": me, "msg": "hello"}]
        assert receives == [{"event": "receive", "pid": me, "msg": "hello"}]

    def test_an_unknown_kind_raises_value_error(self) -> None:
        expected = re.escape(str(sorted(gs.trace.EVENTS)))

        with pytest.raises(
            ValueError,
            match=rf"^unknown trace event kinds \['bogus'\]; expected some of {expected}$",
        ):
            gs.trace.add_handler(print, events=["send", "bogus"])

    def test_a_string_of_events_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^events must be a list of event kinds, not the string 'send'$"
        ):
            gs.trace.add_handler(print, events="send")

    def test_a_non_callable_handler_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^a trace handler must be callable; got 42$"):
            gs.trace.add_handler(42)  # type: ignore[arg-type]


class TestRemoveHandler:
    def test_stops_delivery(self, tracer: Tracer) -> None:
        me = gs.self()
        seen: list[Event] = []
        handle = tracer.add(seen.append, events=["send"])
        gs.send(me, "traced")

        tracer.remove(handle)
        gs.send(me, "not traced")

        assert seen == [{"event": "send", "pid": me, "to": me, "msg": "traced"}]
        assert gs.receive(timeout=0) == "traced"
        assert gs.receive(timeout=0) == "not traced"

    def test_other_handlers_stay(self, tracer: Tracer) -> None:
        me = gs.self()
        first = tracer.add(print, events=["send"])
        seen = tracer.collect(events=["send"])

        tracer.remove(first)
        gs.send(me, "hello")

        assert seen == [{"event": "send", "pid": me, "to": me, "msg": "hello"}]
        gs.receive(timeout=0)

    def test_removing_twice_raises_value_error(self) -> None:
        handle = gs.trace.add_handler(print, events=["restart"])
        gs.trace.remove_handler(handle)

        with pytest.raises(ValueError, match=rf"^{re.escape(repr(handle))} is not installed$"):
            gs.trace.remove_handler(handle)

    def test_the_handle_names_its_function(self) -> None:
        handle = gs.trace.add_handler(print, events=["restart"])
        gs.trace.remove_handler(handle)

        assert repr(handle) == "<trace handler <built-in function print>>"


class TestHandlerFaults:
    def test_a_raising_handler_is_reported_and_does_not_break_the_process(
        self, tracer: Tracer, gs_reports: ReportLog
    ) -> None:
        def broken(event: Event) -> None:
            raise RuntimeError("handler broke")

        pid = Stack.start_link(["a"])
        tracer.add(broken, pids=[pid])
        seen = tracer.collect(pids=[pid])

        Stack.push(pid, "b")
        assert Stack.pop(pid) == "b"  # the server works on
        assert Stack.pop(pid) == "a"

        # The others still see all that the server does.
        assert kinds(seen) == ["receive", "receive", "reply", "receive", "reply"]
        reports = gs_reports.of("trace_handler_error")
        assert len(reports) == len(seen)  # reported each time: the handler stays installed
        assert {r["handler"] for r in reports} == {repr(broken)}
        assert all(isinstance(r["exc_info"], RuntimeError) for r in reports)
        assert all(r["log_level"] == "error" for r in reports)
        gs.GenServer.stop(pid)

    def test_a_handler_that_sends_does_not_recurse(self, tracer: Tracer) -> None:
        me = gs.self()
        seen = tracer.collect(events=["send"])
        tracer.add(lambda event: gs.send(me, ("saw", event["msg"])), events=["send"])
        pid = gs.spawn(waiter)

        gs.send(pid, "stop")

        assert gs.receive(timeout=5.0) == ("saw", "stop")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)  # exactly one: the handler's own send was not traced
        assert seen == [{"event": "send", "pid": me, "to": pid, "msg": "stop"}]
        wait_all_idle()

    def test_a_handler_that_casts_does_not_recurse(self, tracer: Tracer) -> None:
        pid = Stack.start_link([])
        requests: list[object] = []

        def handler(event: Event) -> None:
            requests.append(event["request"])
            if event["request"] == ("push", "x"):
                gs.GenServer.cast(pid, ("push", "from handler"))

        tracer.add(handler, events=["cast", "call"])
        Stack.push(pid, "x")

        assert sorted(gs.sys.get_state(pid)) == ["from handler", "x"]  # both casts arrived
        assert requests == [("push", "x"), ("get_state",)]  # only the first was traced
        gs.GenServer.stop(pid)
