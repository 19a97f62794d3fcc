"""greenserver.sys: state, status, suspension, debug options, code change, the tree.

Every ``gs.sys`` request is a system message: the process answers it between
callbacks, and a suspended process answers nothing else. The tests below
synchronize on replies, ``Down`` messages and ``wait_all_idle()``; none sleeps.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_all_idle, wait_down

# --- servers -----------------------------------------------------------------------


class Recorder(gs.GenServer[list[Any]]):
    """A list state: casts append to it, ``"get"`` returns it.

    ``("hold", observer)`` is a cast whose callback tells *observer*
    ``("holding", pid)`` and then blocks on a receive until it gets ``"go"``.
    Info messages are appended as ``("info", msg)``; ``("more", x)`` appends
    *x* and continues with ``("continued", x)``.
    """

    @classmethod
    def append(cls, server: object, item: object) -> None:
        gs.GenServer.cast(server, ("append", item))

    @classmethod
    def get(cls, server: object) -> Any:
        return gs.GenServer.call(server, "get")

    def init(self, items: list[Any]) -> gs.Ok[list[Any]]:
        return gs.Ok(list(items))

    def handle_call(self, request: Any, from_: gs.Ref, state: list[Any]) -> Any:
        if request == "get":
            return gs.Reply(state, state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request: Any, state: list[Any]) -> Any:
        match request:
            case ("append", item):
                return gs.NoReply([*state, item])
            case ("hold", gs.Pid() as observer):
                gs.send(observer, ("holding", gs.self()))
                gs.receive(lambda m: m == "go")
                return gs.NoReply([*state, "held"])
            case ("more", item):
                return gs.NoReply([*state, item], continue_=("continued", item))
        return super().handle_cast(request, state)

    def handle_info(self, msg: Any, state: list[Any]) -> gs.NoReply[list[Any]]:
        return gs.NoReply([*state, ("info", msg)])

    def handle_continue(self, arg: Any, state: list[Any]) -> gs.NoReply[list[Any]]:
        return gs.NoReply([*state, arg])


class Vault(gs.GenServer[dict[str, str]]):
    """Keeps a password; ``format_status`` hides it from status and reports."""

    def init(self, arg: dict[str, str]) -> gs.Ok[dict[str, str]]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: dict[str, str]) -> Any:
        if request == "crash":
            raise RuntimeError("vault crashed")
        return super().handle_call(request, from_, state)

    def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
        return {**status, "state": {**status["state"], "password": "***"}}


class Tally(gs.GenServer[Any]):
    """Version 1: the state is an int; ``("add", n)`` adds, ``"get"`` returns it."""

    def init(self, total: int) -> gs.Ok[Any]:
        return gs.Ok(total)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        if request == "get":
            return gs.Reply(state, state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        match request:
            case ("add", int(n)):
                return gs.NoReply(state + n)
        return super().handle_cast(request, state)


class TallyV2(gs.GenServer[Any]):
    """Version 2: the state is ``{"total", "adds", "from_vsn", "note"}``."""

    def init(self, total: int) -> gs.Ok[Any]:
        return gs.Ok({"total": total, "adds": 0, "from_vsn": None, "note": None})

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> Any:
        if request == "get":
            return gs.Reply(("v2", state["total"], state["adds"]), state)
        return super().handle_call(request, from_, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        match request:
            case ("add", int(n)):
                return gs.NoReply({**state, "total": state["total"] + n, "adds": state["adds"] + 1})
        return super().handle_cast(request, state)

    def code_change(self, old_vsn: object, state: Any, extra: object) -> gs.Ok[Any]:
        return gs.Ok({"total": state, "adds": 0, "from_vsn": old_vsn, "note": extra})


class TallyBroken(TallyV2):
    """A version 2 whose migration raises."""

    def code_change(self, old_vsn: object, state: Any, extra: object) -> gs.Ok[Any]:
        raise ValueError(f"cannot migrate {state!r}")


class TallyBadReturn(TallyV2):
    """A version 2 whose migration forgets to wrap the state in ``Ok``."""

    def code_change(self, old_vsn: object, state: Any, extra: object) -> Any:
        return state


class Trapper(gs.GenServer[Any]):
    """Traps exits, so it ends with its parent after ``terminate``."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        gs.trap_exits(True)
        return gs.Ok(arg)


class Branch(gs.Supervisor):
    """A module-form supervisor with one named worker, ``"leaf"``."""

    def init(self, arg: Any) -> Any:
        leaf = gs.ChildSpec("leaf", start=(Tally.start_link, (0,), {"name": "leaf"}))
        return gs.Supervisor.spec([leaf])


# --- helpers -------------------------------------------------------------------------


def is_answer(msg: object) -> bool:
    return type(msg) is tuple and len(msg) == 2 and msg[0] == "answer"


def ask_from_another_process(request: Callable[[], object]) -> gs.Pid:
    """Run *request* in a new process, which sends ``("answer", result)`` back."""
    me = gs.self()

    def asker() -> None:
        gs.send(me, ("answer", request()))

    return gs.spawn(asker)


def receive_answer() -> object:
    msg = gs.receive(is_answer, timeout=5.0)
    assert type(msg) is tuple
    return msg[1]


def has_no_answer() -> bool:
    try:
        gs.receive(is_answer, timeout=0)
    except TimeoutError:
        return True
    return False


def queue_len(pid: gs.Pid) -> object:
    facts = gs.info(pid)
    assert facts is not None
    return facts["message_queue_len"]


# --- every behaviour process -----------------------------------------------------------


@dataclass
class Behaviour:
    pid: gs.Pid
    classes: tuple[type, ...]  # what get_status may show as "class"
    name: str | None
    request: Callable[[gs.Pid], object] | None  # an ordinary request (not a system one)


REGISTRY_NAME = "sys_test_registry"

BEHAVIOURS = ["GenServer", "Supervisor", "DynamicSupervisor", "Agent", "Registry"]
if hasattr(gs, "TaskSupervisor"):
    BEHAVIOURS.append("TaskSupervisor")


def start_behaviour(kind: str) -> Behaviour:
    if kind == "GenServer":
        pid = Recorder.start_link([])
        assert pid is not None
        return Behaviour(pid, (Recorder,), None, Recorder.get)
    if kind == "Supervisor":
        pid = gs.Supervisor.start_link([])
        return Behaviour(pid, (gs.Supervisor,), None, gs.Supervisor.count_children)
    if kind == "DynamicSupervisor":
        pid = gs.DynamicSupervisor.start_link()
        return Behaviour(pid, (gs.DynamicSupervisor,), None, gs.DynamicSupervisor.count_children)
    if kind == "Agent":
        pid = gs.Agent.start_link(lambda: 0)
        return Behaviour(pid, (gs.Agent,), None, lambda p: gs.Agent.get(p, lambda s: s))
    if kind == "Registry":
        pid = gs.Registry.start_link(keys="unique", name=REGISTRY_NAME)
        # A registry's API reads its table in the caller: no request goes to it.
        return Behaviour(pid, (gs.Registry,), REGISTRY_NAME, None)
    assert kind == "TaskSupervisor"
    pid = gs.TaskSupervisor.start_link()
    # A TaskSupervisor is a DynamicSupervisor underneath (as in Elixir); either
    # class is a fair answer while TaskSupervisor settles.
    return Behaviour(
        pid, (gs.DynamicSupervisor, gs.TaskSupervisor), None, gs.TaskSupervisor.children
    )


@pytest.fixture(params=BEHAVIOURS)
def behaviour(request: pytest.FixtureRequest) -> Iterator[Behaviour]:
    started = start_behaviour(request.param)
    yield started
    if gs.alive(started.pid):
        gs.GenServer.stop(started.pid)


class TestEveryBehaviour:
    def test_get_status_keys(self, behaviour: Behaviour) -> None:
        status = gs.sys.get_status(behaviour.pid)

        assert {"pid", "class", "status", "parent", "debug", "state"} <= set(status)
        assert status["pid"] == behaviour.pid
        assert status["class"] in behaviour.classes
        assert status["status"] == "running"
        assert status["parent"] == gs.self()
        assert status["debug"] == []
        assert status["name"] == behaviour.name

    def test_get_state_is_the_state_get_status_shows(self, behaviour: Behaviour) -> None:
        """No format_status override: the status shows the state itself."""
        state = gs.sys.get_state(behaviour.pid)

        assert gs.sys.get_status(behaviour.pid)["state"] is state

    def test_replace_state_installs_what_fn_returns(self, behaviour: Behaviour) -> None:
        state = gs.sys.get_state(behaviour.pid)

        assert gs.sys.replace_state(behaviour.pid, lambda s: s) is state
        assert gs.sys.get_state(behaviour.pid) is state

    def test_suspended_process_answers_only_sys_requests(self, behaviour: Behaviour) -> None:
        pid = behaviour.pid
        request = behaviour.request
        gs.sys.suspend(pid)
        gs.send(pid, "queued")
        if request is not None:
            ask_from_another_process(lambda: request(pid))
        wait_all_idle()
        queued = 1 if request is None else 2

        assert gs.sys.get_status(pid)["status"] == "suspended"
        assert queue_len(pid) == queued
        assert has_no_answer()
        gs.sys.resume(pid)
        if request is not None:
            receive_answer()
        assert gs.sys.get_status(pid)["status"] == "running"  # a barrier: all handled
        assert queue_len(pid) == 0

    def test_log_records_an_info_message(self, behaviour: Behaviour) -> None:
        pid = behaviour.pid
        gs.sys.log(pid, True)
        gs.send(pid, ("ping",))

        [received, new_state] = gs.sys.log(pid, "get") or []
        assert received == {"event": "in", "kind": "info", "message": ("ping",), "from": None}
        assert new_state == {"event": "state", "state": gs.sys.get_state(pid)}

    def test_statistics_count_messages(self, behaviour: Behaviour) -> None:
        pid = behaviour.pid
        gs.sys.statistics(pid, True)
        gs.send(pid, ("ping",))
        if behaviour.request is not None:
            behaviour.request(pid)

        stats = gs.sys.statistics(pid, "get")
        assert stats is not None
        assert stats["messages_in"] == (1 if behaviour.request is None else 2)
        assert stats["messages_out"] == (0 if behaviour.request is None else 1)

    def test_stop_works_while_suspended(self, behaviour: Behaviour) -> None:
        ref = gs.monitor(behaviour.pid)
        gs.sys.suspend(behaviour.pid)

        gs.GenServer.stop(behaviour.pid)

        assert wait_down(ref).reason == "normal"


# --- GenServer in depth ------------------------------------------------------------------


class TestGetState:
    def test_returns_the_state_the_callbacks_see(self) -> None:
        pid = Recorder.start_link(["a"])
        Recorder.append(pid, "b")

        assert gs.sys.get_state(pid) == ["a", "b"]
        gs.GenServer.stop(pid)

    def test_by_registered_name(self) -> None:
        Recorder.start_link(["a"], name="recorder")

        assert gs.sys.get_state("recorder") == ["a"]
        gs.GenServer.stop("recorder")

    def test_shows_the_real_state_even_when_format_status_hides_it(self) -> None:
        pid = Vault.start_link({"user": "ann", "password": "hunter2"})

        assert gs.sys.get_state(pid) == {"user": "ann", "password": "hunter2"}
        gs.GenServer.stop(pid)

    def test_works_from_a_foreign_os_thread(self) -> None:
        pid = Recorder.start_link(["a"])
        me = gs.self()
        thread = threading.Thread(target=lambda: gs.send(me, ("answer", gs.sys.get_state(pid))))
        thread.start()

        assert receive_answer() == ["a"]
        thread.join()
        gs.GenServer.stop(pid)

    def test_works_on_a_hibernating_server(self) -> None:
        pid = Recorder.start_link(["a"], hibernate_after=0)
        Recorder.append(pid, "b")

        assert gs.sys.get_state(pid) == ["a", "b"]
        gs.sys.suspend(pid)
        Recorder.append(pid, "c")
        assert gs.sys.get_state(pid) == ["a", "b"]
        gs.sys.resume(pid)
        assert gs.sys.get_state(pid) == ["a", "b", "c"]
        gs.GenServer.stop(pid)


class TestReplaceState:
    def test_returns_and_installs_the_new_state(self) -> None:
        pid = Recorder.start_link(["a"])

        assert gs.sys.replace_state(pid, lambda s: [*s, "b"]) == ["a", "b"]
        assert Recorder.get(pid) == ["a", "b"]
        gs.GenServer.stop(pid)

    def test_fn_runs_inside_the_server(self) -> None:
        pid = Recorder.start_link([])

        assert gs.sys.replace_state(pid, lambda s: [gs.self()]) == [pid]
        gs.GenServer.stop(pid)

    def test_a_raising_fn_leaves_the_state_and_raises_to_the_caller(self) -> None:
        pid = Recorder.start_link(["a"])

        with pytest.raises(ZeroDivisionError, match=r"^division by zero$"):
            gs.sys.replace_state(pid, lambda s: 1 / 0)
        assert gs.sys.get_state(pid) == ["a"]
        assert Recorder.get(pid) == ["a"]  # still serving
        gs.GenServer.stop(pid)

    def test_a_non_callable_raises_type_error(self) -> None:
        pid = Recorder.start_link([])

        with pytest.raises(
            TypeError, match=r"^replace_state needs a function of the state; got 3$"
        ):
            gs.sys.replace_state(pid, 3)  # type: ignore[arg-type]
        gs.GenServer.stop(pid)


class TestGetStatus:
    def test_state_is_what_format_status_shows(self) -> None:
        pid = Vault.start_link({"user": "ann", "password": "hunter2"}, name="vault")

        status = gs.sys.get_status(pid)

        assert status == {
            "pid": pid,
            "class": Vault,
            "status": "running",
            "parent": gs.self(),
            "debug": [],
            "state": {"user": "ann", "password": "***"},
            "name": "vault",
        }
        gs.GenServer.stop(pid)

    def test_crash_report_state_is_what_format_status_shows(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="RuntimeError('vault crashed')")
        pid = Vault.start({"user": "ann", "password": "hunter2"})
        ref = gs.monitor(pid)

        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(pid, "crash")

        wait_down(ref)
        [report] = gs_reports.of("crash_report")
        assert report["state"] == "{'password': '***', 'user': 'ann'}"

    def test_status_is_suspended_while_suspended(self) -> None:
        pid = Recorder.start_link([])

        gs.sys.suspend(pid)
        assert gs.sys.get_status(pid)["status"] == "suspended"
        gs.sys.resume(pid)
        assert gs.sys.get_status(pid)["status"] == "running"
        gs.GenServer.stop(pid)

    def test_parent_is_the_starter_of_start_link(self) -> None:
        me = gs.self()

        def starter() -> None:
            pid = Recorder.start_link([])
            gs.send(me, ("started", pid))
            gs.receive()
            gs.GenServer.stop(pid)

        parent = gs.spawn(starter)
        msg = gs.receive(lambda m: type(m) is tuple and m[0] == "started", timeout=5.0)
        assert type(msg) is tuple
        child = msg[1]

        assert gs.sys.get_status(child)["parent"] == parent
        ref = gs.monitor(parent)
        gs.send(parent, "done")  # it stops the child, then ends
        wait_down(ref)

    def test_format_status_receives_the_sys_log(self) -> None:
        class ShowsLog(Recorder):
            def format_status(self, status: dict[str, Any]) -> dict[str, Any]:
                return {**status, "state": len(status["log"])}

        pid = ShowsLog.start_link([])
        gs.sys.log(pid, True)
        Recorder.append(pid, "a")

        assert gs.sys.get_status(pid)["state"] == 2  # the cast in, the new state
        gs.GenServer.stop(pid)


class TestSuspendResume:
    def test_casts_queue_and_then_apply_in_order_on_the_replaced_state(self) -> None:
        pid = Recorder.start_link(["start"])
        gs.sys.suspend(pid)
        Recorder.append(pid, "a")
        Recorder.append(pid, "b")
        ask_from_another_process(lambda: Recorder.get(pid))
        wait_all_idle()

        assert gs.sys.get_state(pid) == ["start"]
        assert queue_len(pid) == 3
        assert has_no_answer()
        assert gs.sys.replace_state(pid, lambda s: [*s, "replaced"]) == ["start", "replaced"]
        gs.sys.resume(pid)
        assert receive_answer() == ["start", "replaced", "a", "b"]
        assert gs.sys.get_state(pid) == ["start", "replaced", "a", "b"]
        gs.GenServer.stop(pid)

    def test_info_messages_wait_too(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.suspend(pid)
        gs.send(pid, "hello")

        assert gs.sys.get_state(pid) == []
        gs.sys.resume(pid)
        assert gs.sys.get_state(pid) == [("info", "hello")]
        gs.GenServer.stop(pid)

    def test_suspending_twice_needs_one_resume(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.suspend(pid)
        gs.sys.suspend(pid)
        Recorder.append(pid, "a")

        gs.sys.resume(pid)

        assert Recorder.get(pid) == ["a"]
        gs.GenServer.stop(pid)

    def test_resume_of_a_running_server_is_harmless(self) -> None:
        pid = Recorder.start_link([])

        gs.sys.resume(pid)

        assert Recorder.get(pid) == []
        gs.GenServer.stop(pid)

    def test_a_suspended_trapping_server_still_dies_with_its_parent(self) -> None:
        me = gs.self()

        def parent() -> None:
            gs.send(me, ("started", Trapper.start_link(None)))
            gs.receive(lambda m: m == "exit")
            raise gs.Exit("shutdown")

        parent_pid = gs.spawn(parent)
        msg = gs.receive(lambda m: type(m) is tuple and m[0] == "started", timeout=5.0)
        assert type(msg) is tuple
        child = msg[1]
        ref = gs.monitor(child)
        gs.sys.suspend(child)
        gs.send(parent_pid, "exit")
        wait_all_idle()

        try:
            assert not gs.alive(child)
        finally:
            if gs.alive(child):  # leave a clean node: resuming lets it see the signal
                gs.sys.resume(child)
            assert wait_down(ref).reason == "shutdown"


class TestNoRaceWithCallbacks:
    def test_get_state_is_answered_only_after_the_running_callback(self) -> None:
        me = gs.self()
        pid = Recorder.start_link([])
        gs.GenServer.cast(pid, ("hold", me))
        gs.receive(lambda m: m == ("holding", pid), timeout=5.0)
        ask_from_another_process(lambda: gs.sys.get_state(pid))
        wait_all_idle()

        assert has_no_answer()  # the callback is blocked on its receive
        gs.send(pid, "go")
        assert receive_answer() == ["held"]
        gs.GenServer.stop(pid)

    def test_replace_state_cannot_be_lost_by_a_running_callback(self) -> None:
        me = gs.self()
        pid = Recorder.start_link([])
        gs.GenServer.cast(pid, ("hold", me))
        gs.receive(lambda m: m == ("holding", pid), timeout=5.0)
        ask_from_another_process(lambda: gs.sys.replace_state(pid, lambda s: [*s, "replaced"]))
        wait_all_idle()

        assert has_no_answer()
        gs.send(pid, "go")
        assert receive_answer() == ["held", "replaced"]
        assert Recorder.get(pid) == ["held", "replaced"]
        gs.GenServer.stop(pid)


class TestTrace:
    def test_prints_in_out_and_state_events(self, capsys: pytest.CaptureFixture[str]) -> None:
        me = gs.self()
        pid = Recorder.start_link([])
        gs.sys.trace(pid, True)
        Recorder.append(pid, "a")
        Recorder.get(pid)
        gs.send(pid, "hi")
        gs.sys.trace(pid, False)
        Recorder.append(pid, "not traced")
        gs.sys.get_state(pid)

        assert capsys.readouterr().out.splitlines() == [
            f"*DBG* {pid!r} got cast ('append', 'a')",
            f"*DBG* {pid!r} new state ['a']",
            f"*DBG* {pid!r} got call 'get' from {me!r}",
            f"*DBG* {pid!r} sent ['a'] to {me!r}",
            f"*DBG* {pid!r} new state ['a']",
            f"*DBG* {pid!r} got info 'hi'",
            f"*DBG* {pid!r} new state ['a', ('info', 'hi')]",
        ]
        gs.GenServer.stop(pid)

    def test_names_a_registered_server(self, capsys: pytest.CaptureFixture[str]) -> None:
        pid = Recorder.start_link([], name="traced")
        gs.sys.trace("traced", True)
        Recorder.append(pid, 1)
        gs.sys.get_state(pid)

        assert capsys.readouterr().out.splitlines() == [
            f"*DBG* {pid!r} (traced) got cast ('append', 1)",
            f"*DBG* {pid!r} (traced) new state [1]",
        ]
        gs.GenServer.stop(pid)

    def test_shows_in_get_status_debug(self) -> None:
        pid = Recorder.start_link([])

        gs.sys.trace(pid, True)
        assert gs.sys.get_status(pid)["debug"] == ["trace"]
        gs.sys.trace(pid, False)
        assert gs.sys.get_status(pid)["debug"] == []
        gs.GenServer.stop(pid)


class TestLog:
    def test_keeps_the_last_n_events_oldest_first(self) -> None:
        me = gs.self()
        pid = Recorder.start_link([])
        gs.sys.log(pid, 3)
        Recorder.append(pid, "a")
        Recorder.get(pid)

        assert gs.sys.log(pid, "get") == [
            {"event": "in", "kind": "call", "message": "get", "from": me},
            {"event": "out", "reply": ["a"], "to": me},
            {"event": "state", "state": ["a"]},
        ]
        gs.GenServer.stop(pid)

    def test_records_casts_and_infos(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.log(pid, 10)
        Recorder.append(pid, "a")
        gs.send(pid, "hi")

        assert gs.sys.log(pid, "get") == [
            {"event": "in", "kind": "cast", "message": ("append", "a"), "from": None},
            {"event": "state", "state": ["a"]},
            {"event": "in", "kind": "info", "message": "hi", "from": None},
            {"event": "state", "state": ["a", ("info", "hi")]},
        ]
        gs.GenServer.stop(pid)

    def test_true_keeps_ten_events(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.log(pid, True)
        for n in range(6):  # 12 events: "in" and "state" for each cast
            Recorder.append(pid, n)

        events = gs.sys.log(pid, "get")

        assert events is not None
        assert len(events) == 10
        assert events[0] == {"event": "in", "kind": "cast", "message": ("append", 1), "from": None}
        assert gs.sys.get_status(pid)["debug"] == [("log", 10)]
        gs.GenServer.stop(pid)

    def test_sys_requests_are_not_logged(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.log(pid, 5)
        gs.sys.get_state(pid)
        gs.sys.get_status(pid)

        assert gs.sys.log(pid, "get") == []
        gs.GenServer.stop(pid)

    def test_false_turns_it_off_and_forgets(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.log(pid, 5)
        Recorder.append(pid, "a")

        assert gs.sys.log(pid, False) is None
        assert gs.sys.log(pid, "get") == []
        assert gs.sys.get_status(pid)["debug"] == []
        gs.GenServer.stop(pid)

    def test_get_when_off_is_empty(self) -> None:
        pid = Recorder.start_link([])

        assert gs.sys.log(pid, "get") == []
        gs.GenServer.stop(pid)

    def test_a_bad_flag_raises_value_error(self) -> None:
        pid = Recorder.start_link([])

        with pytest.raises(
            ValueError, match=r"^log flag must be True, False, a size > 0 or 'get'; got 0$"
        ):
            gs.sys.log(pid, 0)
        gs.GenServer.stop(pid)

    def test_records_handle_continue(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.log(pid, 10)
        gs.GenServer.cast(pid, ("more", "x"))

        events = gs.sys.log(pid, "get")

        try:
            assert events == [
                {"event": "in", "kind": "cast", "message": ("more", "x"), "from": None},
                {"event": "state", "state": ["x"]},
                {"event": "in", "kind": "continue", "message": ("continued", "x"), "from": None},
                {"event": "state", "state": ["x", ("continued", "x")]},
            ]
        finally:
            gs.GenServer.stop(pid)


STATISTICS_KEYS = {
    "start_time",
    "current_time",
    "reductions",
    "messages_in",
    "messages_out",
    "message_queue_len",
}


class TestStatistics:
    def test_counts_messages_in_and_out(self) -> None:
        pid = Recorder.start_link([])
        before = time.time()
        assert gs.sys.statistics(pid, True) is None
        Recorder.append(pid, "a")
        Recorder.get(pid)
        Recorder.get(pid)
        gs.send(pid, "hi")

        stats = gs.sys.statistics(pid, "get")
        after = time.time()

        assert stats is not None
        assert set(stats) == STATISTICS_KEYS
        assert stats["messages_in"] == 4
        assert stats["messages_out"] == 2
        assert stats["message_queue_len"] == 0
        assert before <= stats["start_time"] <= stats["current_time"] <= after
        assert isinstance(stats["reductions"], int)
        assert gs.sys.get_status(pid)["debug"] == ["statistics"]
        gs.GenServer.stop(pid)

    def test_message_queue_len_counts_what_a_suspended_server_holds(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.statistics(pid, True)
        gs.sys.suspend(pid)
        Recorder.append(pid, "a")
        Recorder.append(pid, "b")

        stats = gs.sys.statistics(pid, "get")

        assert stats is not None
        assert (stats["messages_in"], stats["message_queue_len"]) == (0, 2)
        gs.sys.resume(pid)
        stats = gs.sys.statistics(pid, "get")
        assert stats is not None
        assert (stats["messages_in"], stats["message_queue_len"]) == (2, 0)
        gs.GenServer.stop(pid)

    def test_reductions_count_from_when_statistics_were_turned_on(self) -> None:
        pid = Recorder.start_link([])
        for n in range(5):
            Recorder.append(pid, n)
        gs.sys.statistics(pid, True)
        Recorder.get(pid)

        stats = gs.sys.statistics(pid, "get")

        assert stats is not None
        try:
            # Received since statistics were turned on: the call and this "get".
            assert stats["reductions"] == 2
        finally:
            gs.GenServer.stop(pid)

    def test_get_when_off_raises_runtime_error(self) -> None:
        pid = Recorder.start_link([])

        with pytest.raises(
            RuntimeError,
            match=r"^statistics are off; turn them on with statistics\(server, True\)$",
        ):
            gs.sys.statistics(pid, "get")
        gs.GenServer.stop(pid)

    def test_false_turns_them_off(self) -> None:
        pid = Recorder.start_link([])
        gs.sys.statistics(pid, True)

        assert gs.sys.statistics(pid, False) is None
        with pytest.raises(RuntimeError, match=r"^statistics are off; "):
            gs.sys.statistics(pid, "get")
        assert gs.sys.get_status(pid)["debug"] == []
        gs.GenServer.stop(pid)

    def test_a_bad_flag_raises_value_error(self) -> None:
        pid = Recorder.start_link([])

        with pytest.raises(
            ValueError, match=r"^statistics flag must be True, False or 'get'; got 'on'$"
        ):
            gs.sys.statistics(pid, "on")
        gs.GenServer.stop(pid)


class TestInstall:
    def test_fn_is_called_inside_the_server_for_each_event(self) -> None:
        me = gs.self()
        seen: list[tuple[gs.Pid, dict[str, Any]]] = []

        def record(event: dict[str, Any]) -> None:
            seen.append((gs.self(), event))

        pid = Recorder.start_link([])
        gs.sys.install(pid, record)
        Recorder.append(pid, "a")
        Recorder.get(pid)

        assert seen == [
            (pid, {"event": "in", "kind": "cast", "message": ("append", "a"), "from": None}),
            (pid, {"event": "state", "state": ["a"]}),
            (pid, {"event": "in", "kind": "call", "message": "get", "from": me}),
            (pid, {"event": "out", "reply": ["a"], "to": me}),
            (pid, {"event": "state", "state": ["a"]}),
        ]
        assert gs.sys.get_status(pid)["debug"] == [("install", record)]
        gs.GenServer.stop(pid)

    def test_remove_stops_the_calls(self) -> None:
        seen: list[dict[str, Any]] = []
        pid = Recorder.start_link([])
        gs.sys.install(pid, seen.append)
        Recorder.append(pid, "a")
        gs.sys.remove(pid, seen.append)
        Recorder.append(pid, "b")
        gs.sys.get_state(pid)

        assert [e["event"] for e in seen] == ["in", "state"]
        assert gs.sys.get_status(pid)["debug"] == []
        gs.GenServer.stop(pid)

    def test_a_raising_fn_is_removed_and_reported(self, gs_reports: ReportLog) -> None:
        calls: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []

        def broken(event: dict[str, Any]) -> None:
            calls.append(event)
            raise RuntimeError("debug fn broke")

        pid = Recorder.start_link([])
        gs.sys.install(pid, broken)
        gs.sys.install(pid, kept.append)
        Recorder.append(pid, "a")

        assert Recorder.get(pid) == ["a"]  # the server lives on
        assert len(calls) == 1
        assert len(kept) == 5
        assert gs.sys.get_status(pid)["debug"] == [("install", kept.append)]
        [report] = gs_reports.of("debug_fn_error")
        assert report["pid"] == pid
        assert report["fn"] == repr(broken)
        assert report["log_level"] == "error"
        assert isinstance(report["exc_info"], RuntimeError)
        gs.GenServer.stop(pid)

    def test_removing_a_fn_that_is_not_installed_raises_value_error(self) -> None:
        def never(event: dict[str, Any]) -> None:
            pass

        pid = Recorder.start_link([])

        with pytest.raises(ValueError, match=rf"^{re.escape(repr(never))} is not installed$"):
            gs.sys.remove(pid, never)
        gs.GenServer.stop(pid)

    def test_a_non_callable_raises_type_error(self) -> None:
        pid = Recorder.start_link([])

        with pytest.raises(TypeError, match=r"^a debug function must be callable; got 42$"):
            gs.sys.install(pid, 42)  # type: ignore[arg-type]
        gs.GenServer.stop(pid)


class TestDebugStartOption:
    def test_options_are_on_from_the_first_message(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        seen: list[dict[str, Any]] = []
        pid = Recorder.start_link(
            [], debug=["trace", ("log", 5), "statistics", ("install", seen.append)]
        )
        Recorder.append(pid, "a")

        assert gs.sys.get_status(pid)["debug"] == [
            "trace",
            ("log", 5),
            "statistics",
            ("install", seen.append),
        ]
        first = {"event": "in", "kind": "cast", "message": ("append", "a"), "from": None}
        assert gs.sys.log(pid, "get") == [first, {"event": "state", "state": ["a"]}]
        assert seen == [first, {"event": "state", "state": ["a"]}]
        stats = gs.sys.statistics(pid, "get")
        assert stats is not None
        assert stats["messages_in"] == 1
        assert capsys.readouterr().out.splitlines() == [
            f"*DBG* {pid!r} got cast ('append', 'a')",
            f"*DBG* {pid!r} new state ['a']",
        ]
        gs.GenServer.stop(pid)

    def test_plain_log_keeps_ten(self) -> None:
        pid = Recorder.start_link([], debug=["log"])

        assert gs.sys.get_status(pid)["debug"] == [("log", 10)]
        gs.GenServer.stop(pid)

    def test_an_empty_list_turns_nothing_on(self) -> None:
        pid = Recorder.start_link([], debug=[])

        assert gs.sys.get_status(pid)["debug"] == []
        gs.GenServer.stop(pid)

    def test_an_unknown_option_raises_value_error(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"^unknown debug option 'verbose'; expected 'trace', 'log', \('log', n\), "
            r"'statistics' or \('install', fn\)$",
        ):
            Recorder.start_link([], debug=["verbose"])

    def test_a_string_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^debug must be a list of options; got 'trace'$"):
            Recorder.start_link([], debug="trace")

    def test_a_non_callable_install_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^an installed debug function must be callable; got 42$"
        ):
            Recorder.start_link([], debug=[("install", 42)])


SYS_CALLS: dict[str, Callable[[object], object]] = {
    "get_state": gs.sys.get_state,
    "replace_state": lambda s: gs.sys.replace_state(s, lambda state: state),
    "get_status": gs.sys.get_status,
    "suspend": gs.sys.suspend,
    "resume": gs.sys.resume,
    "trace": lambda s: gs.sys.trace(s, True),
    "log": lambda s: gs.sys.log(s, "get"),
    "statistics": lambda s: gs.sys.statistics(s, True),
    "install": lambda s: gs.sys.install(s, print),
    "remove": lambda s: gs.sys.remove(s, print),
    "change_code": lambda s: gs.sys.change_code(s, TallyV2, "1", None),
    "tree": gs.sys.tree,
    "print_tree": gs.sys.print_tree,
}


class TestDeadOrUnknownServer:
    @pytest.mark.parametrize("function", SYS_CALLS)
    def test_a_dead_pid_raises_no_process_error(self, function: str) -> None:
        pid = Recorder.start([])
        assert pid is not None
        gs.GenServer.stop(pid)

        with pytest.raises(gs.NoProcessError, match=r"^no process <0\.\d+\.0>$"):
            SYS_CALLS[function](pid)

    @pytest.mark.parametrize("function", SYS_CALLS)
    def test_an_unknown_name_raises_no_process_error(self, function: str) -> None:
        with pytest.raises(gs.NoProcessError, match=r"^no process 'nobody'$"):
            SYS_CALLS[function]("nobody")

    def test_a_server_dying_during_the_request_raises_server_exit_error(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="'vanished'")
        pid = Recorder.start([])
        assert pid is not None

        def vanish(state: list[Any]) -> list[Any]:
            raise gs.Exit("vanished")

        with pytest.raises(
            gs.ServerExitError,
            match=rf"^<0\.\d+\.0> exited with 'vanished' before replying to "
            rf"\('replace_state', {re.escape(repr(vanish))}\)$",
        ) as info:
            gs.sys.replace_state(pid, vanish)
        assert info.value.reason == "vanished"
        assert not gs.alive(pid)


class TestChangeCode:
    def test_a_running_server_is_refused(self) -> None:
        pid = Tally.start_link(5)

        with pytest.raises(
            RuntimeError,
            match=r"^change_code needs a suspended server; call sys\.suspend\(\) first$",
        ):
            gs.sys.change_code(pid, TallyV2, "1", None)
        assert gs.sys.get_status(pid)["class"] is Tally
        assert gs.GenServer.call(pid, "get") == 5
        gs.GenServer.stop(pid)

    def test_migrates_the_state_and_runs_the_new_class(self) -> None:
        pid = Tally.start_link(5)
        gs.sys.suspend(pid)
        gs.GenServer.cast(pid, ("add", 1))  # queued: the new class handles it

        assert gs.sys.change_code(pid, TallyV2, "1", "upgraded") is None
        assert gs.sys.get_state(pid) == {"total": 5, "adds": 0, "from_vsn": "1", "note": "upgraded"}
        assert gs.sys.get_status(pid)["class"] is TallyV2
        gs.sys.resume(pid)
        assert gs.GenServer.call(pid, "get") == ("v2", 6, 1)
        gs.GenServer.stop(pid)

    def test_a_raising_code_change_keeps_class_and_state(self) -> None:
        pid = Tally.start_link(5)
        gs.sys.suspend(pid)

        with pytest.raises(ValueError, match=r"^cannot migrate 5$"):
            gs.sys.change_code(pid, TallyBroken, "1", None)
        assert gs.sys.get_state(pid) == 5
        assert gs.sys.get_status(pid)["class"] is Tally
        assert gs.sys.get_status(pid)["status"] == "suspended"
        gs.sys.resume(pid)
        assert gs.GenServer.call(pid, "get") == 5
        gs.GenServer.stop(pid)

    def test_a_non_ok_result_raises_bad_return_error_and_keeps_everything(self) -> None:
        pid = Tally.start_link(5)
        gs.sys.suspend(pid)

        with pytest.raises(
            gs.BadReturnError,
            match=r"^TallyBadReturn\.code_change\(\) returned 5, which is not a valid result$",
        ) as info:
            gs.sys.change_code(pid, TallyBadReturn, "1", None)
        assert (info.value.callback, info.value.value) == ("TallyBadReturn.code_change", 5)
        assert gs.sys.get_state(pid) == 5
        assert gs.sys.get_status(pid)["class"] is Tally
        gs.sys.resume(pid)
        assert gs.GenServer.call(pid, "get") == 5
        gs.GenServer.stop(pid)

    def test_a_class_that_is_not_a_gen_server_raises_type_error(self) -> None:
        pid = Tally.start_link(5)
        gs.sys.suspend(pid)

        with pytest.raises(
            TypeError, match=r"^change_code needs a GenServer subclass; got <class 'int'>$"
        ):
            gs.sys.change_code(pid, int, "1", None)  # type: ignore[arg-type]
        gs.sys.resume(pid)
        gs.GenServer.stop(pid)

    def test_debug_options_survive_the_change(self) -> None:
        pid = Tally.start_link(5, debug=[("log", 10)])
        gs.sys.suspend(pid)
        gs.sys.change_code(pid, TallyV2, "1", None)
        gs.sys.resume(pid)
        gs.GenServer.call(pid, "get")

        assert gs.sys.get_status(pid)["debug"] == [("log", 10)]
        assert (gs.sys.log(pid, "get") or [])[-2] == {
            "event": "out",
            "reply": ("v2", 5, 0),
            "to": gs.self(),
        }
        gs.GenServer.stop(pid)


# --- the supervision tree -------------------------------------------------------------


@dataclass
class Tree:
    top: gs.Pid
    branch: gs.Pid
    leaf: gs.Pid
    pool: gs.Pid
    pooled: gs.Pid
    worker: gs.Pid


@pytest.fixture
def tree() -> Iterator[Tree]:
    """top ('top') -> Branch -> leaf ('leaf'); pool ('pool', dynamic) -> Tally; worker."""
    top = gs.Supervisor.start_link(
        [
            Branch,
            gs.ChildSpec(
                "pool",
                start=(gs.DynamicSupervisor.start_link, (), {"name": "pool"}),
                type="supervisor",
            ),
            gs.ChildSpec("worker", start=(Recorder.start_link, ([],), {})),
        ],
        name="top",
    )
    pooled = gs.DynamicSupervisor.start_child("pool", (Tally, 7))
    children = {cid: pid for cid, pid, _ in gs.Supervisor.which_children(top)}
    branch, pool, worker = children[Branch], children["pool"], children["worker"]
    [(_, leaf, _)] = gs.Supervisor.which_children(branch)
    assert isinstance(branch, gs.Pid)
    assert isinstance(leaf, gs.Pid)
    assert isinstance(pool, gs.Pid)
    assert isinstance(pooled, gs.Pid)
    assert isinstance(worker, gs.Pid)
    yield Tree(top, branch, leaf, pool, pooled, worker)
    gs.Supervisor.stop(top)


def node(pid: object, child_id: object, kind: str, name: str | None, cls: str) -> dict[str, Any]:
    return {
        "id": child_id,
        "pid": pid,
        "type": kind,
        "name": name,
        "class": cls,
        "status": "running",
        "message_queue_len": 0,
    }


class TestTree:
    def test_nested_structure_with_pids_names_and_status(self, tree: Tree) -> None:
        expected = {
            **node(tree.top, None, "supervisor", "top", "Supervisor"),
            "children": [
                {
                    **node(tree.branch, Branch, "supervisor", None, "Branch"),
                    "children": [node(tree.leaf, "leaf", "worker", "leaf", "Tally")],
                },
                {
                    **node(tree.pool, "pool", "supervisor", "pool", "DynamicSupervisor"),
                    "children": [node(tree.pooled, None, "worker", None, "Tally")],
                },
                node(tree.worker, "worker", "worker", None, "Recorder"),
            ],
        }

        assert gs.sys.tree("top") == expected
        assert gs.sys.tree(tree.top) == expected

    def test_a_subtree(self, tree: Tree) -> None:
        assert gs.sys.tree(tree.pool) == {
            **node(tree.pool, None, "supervisor", "pool", "DynamicSupervisor"),
            "children": [node(tree.pooled, None, "worker", None, "Tally")],
        }

    def test_shows_a_suspended_worker_and_its_mailbox(self, tree: Tree) -> None:
        gs.sys.suspend(tree.worker)
        Recorder.append(tree.worker, "a")
        Recorder.append(tree.worker, "b")

        [*_, worker] = gs.sys.tree(tree.top)["children"]

        assert (worker["status"], worker["message_queue_len"]) == ("suspended", 2)
        gs.sys.resume(tree.worker)

    def test_a_stopped_child_is_a_node_without_a_process(self, tree: Tree) -> None:
        gs.Supervisor.terminate_child(tree.top, "worker")

        [*_, worker] = gs.sys.tree(tree.top)["children"]

        assert worker == {
            "id": "worker",
            "pid": None,
            "type": "worker",
            "name": None,
            "class": None,
            "status": "undefined",
            "message_queue_len": 0,
        }

    def test_shows_a_suspended_supervisor(self, tree: Tree) -> None:
        gs.sys.suspend(tree.branch)

        try:
            [branch, *_] = gs.sys.tree(tree.top, timeout=0.5)["children"]
            assert branch["status"] == "suspended"
        finally:
            gs.sys.resume(tree.branch)

    def test_a_worker_root_is_refused_not_crashed(self) -> None:
        """A worker is refused with a TypeError; it is not crashed (no report)."""
        pid = Recorder.start([])

        with pytest.raises(TypeError, match=r"^<0\.\d+\.0> is not a supervisor$"):
            gs.sys.tree(pid)

        assert gs.alive(pid)
        gs.GenServer.stop(pid)


class TestPrintTree:
    def test_prints_one_indented_line_per_process(
        self, tree: Tree, capsys: pytest.CaptureFixture[str]
    ) -> None:
        gs.sys.suspend(tree.worker)
        Recorder.append(tree.worker, "a")

        text = gs.sys.print_tree("top")

        expected = [
            f"Supervisor {tree.top!r} 'top' [Supervisor, running, mailbox 0]",
            f"  Branch {tree.branch!r} [Branch, running, mailbox 0]",
            f"    'leaf' {tree.leaf!r} 'leaf' [Tally, running, mailbox 0]",
            f"  'pool' {tree.pool!r} 'pool' [DynamicSupervisor, running, mailbox 0]",
            f"    Tally {tree.pooled!r} [Tally, running, mailbox 0]",
            f"  'worker' {tree.worker!r} [Recorder, suspended, mailbox 1]",
        ]
        assert text.splitlines() == expected
        assert capsys.readouterr().out == text + "\n"
        gs.sys.resume(tree.worker)


# --- plain processes: described, never sent anything ---------------------------------


def echo() -> None:
    """The README's echo loop: it unpacks every message as ``(sender, msg)``."""
    while True:
        sender, msg = gs.receive()  # type: ignore[misc]
        if msg == "stop":
            return
        gs.send(sender, ("echo", msg))


def selective() -> None:
    """Waits in a selective receive for ``"stop"``; anything else stays queued."""
    gs.receive(lambda m: m == "stop")


def stop_selective(pid: gs.Pid) -> None:
    ref = gs.monitor(pid)
    gs.send(pid, "stop")
    assert wait_down(ref).reason == "normal"


def start_plain(fn: Callable[[], None]) -> gs.Pid:
    """A supervisor's start function for a plain ``spawn_link`` worker."""
    return gs.spawn_link(fn)


@pytest.fixture
def plain_tree() -> Iterator[tuple[gs.Pid, gs.Pid, gs.Pid, gs.Pid]]:
    """A supervisor with a GenServer and two plain workers: echo and selective."""
    sup = gs.Supervisor.start_link(
        [
            gs.ChildSpec("echo", start=(start_plain, (echo,), {})),
            gs.ChildSpec("selective", start=(start_plain, (selective,), {})),
            gs.ChildSpec("recorder", start=(Recorder.start_link, ([],), {})),
        ]
    )
    children = {cid: pid for cid, pid, _ in gs.Supervisor.which_children(sup)}
    plain_echo, plain_selective, recorder = (
        children["echo"],
        children["selective"],
        children["recorder"],
    )
    assert isinstance(plain_echo, gs.Pid)
    assert isinstance(plain_selective, gs.Pid)
    assert isinstance(recorder, gs.Pid)
    yield sup, plain_echo, plain_selective, recorder
    gs.Supervisor.stop(sup)


PLAIN_REFUSED = [name for name in SYS_CALLS if name not in ("tree", "print_tree")]


class TestPlainProcess:
    @pytest.mark.parametrize("function", PLAIN_REFUSED)
    def test_every_request_is_refused_without_touching_the_mailbox(self, function: str) -> None:
        pid = gs.spawn(selective)

        with pytest.raises(
            TypeError,
            match=r"^<0\.\d+\.0> is a plain process running selective, not a behaviour: "
            r"sys requests only reach GenServer, Supervisor, DynamicSupervisor, Agent, "
            r"Registry and TaskSupervisor processes; gs.info\(\) describes any process$",
        ):
            SYS_CALLS[function](pid)

        assert (gs.info(pid) or {})["message_queue_len"] == 0
        stop_selective(pid)

    def test_an_echo_loop_survives_get_state_and_still_echoes(self) -> None:
        pid = gs.spawn(echo)

        with pytest.raises(TypeError, match=r"running echo, not a behaviour"):
            gs.sys.get_state(pid)

        gs.send(pid, (gs.self(), "hello"))
        assert gs.receive(timeout=5) == ("echo", "hello")
        ref = gs.monitor(pid)
        gs.send(pid, (gs.self(), "stop"))
        assert wait_down(ref).reason == "normal"

    def test_a_registered_name_is_refused_too(self) -> None:
        pid = gs.spawn(selective)
        gs.register("plain", pid)

        with pytest.raises(TypeError, match=r"^'plain' is a plain process running selective"):
            gs.sys.get_status("plain")

        stop_selective(pid)

    def test_is_behaviour_reads_the_process_table(self) -> None:
        plain = gs.spawn(selective)
        server = Recorder.start([])
        assert server is not None

        assert (gs.sys.is_behaviour(plain), gs.sys.is_behaviour(server)) == (False, True)
        stop_selective(plain)
        gs.GenServer.stop(server)
        assert gs.sys.is_behaviour(server) is False

    def test_a_plain_root_is_not_a_supervisor(self) -> None:
        pid = gs.spawn(selective)

        with pytest.raises(TypeError, match=r"^<0\.\d+\.0> is not a supervisor$"):
            gs.sys.tree(pid)

        assert (gs.info(pid) or {})["message_queue_len"] == 0
        stop_selective(pid)


class TestTreeWithPlainChildren:
    # Before the fix each plain child cost the whole sys timeout: with
    # timeout=None the tree never came back, and this limit failed it.
    @pytest.mark.timeout(10)
    def test_describes_plain_children_from_process_info_at_once(
        self, plain_tree: tuple[gs.Pid, gs.Pid, gs.Pid, gs.Pid]
    ) -> None:
        sup, plain_echo, plain_selective, recorder = plain_tree
        wait_all_idle()

        children = gs.sys.tree(sup, timeout=None)["children"]

        assert children == [
            {**node(plain_echo, "echo", "worker", None, "echo"), "status": "waiting"},
            {
                **node(plain_selective, "selective", "worker", None, "selective"),
                "status": "waiting",
            },
            node(recorder, "recorder", "worker", None, "Recorder"),
        ]

    @pytest.mark.timeout(10)
    def test_leaves_plain_children_untouched(
        self, plain_tree: tuple[gs.Pid, gs.Pid, gs.Pid, gs.Pid], capsys: pytest.CaptureFixture[str]
    ) -> None:
        sup, plain_echo, plain_selective, _ = plain_tree

        text = gs.sys.print_tree(sup, timeout=None)

        assert f"'echo' {plain_echo!r} [echo, waiting, mailbox 0]" in text.splitlines()[1]
        # The selective receiver keeps no stray message; the echo loop did not crash.
        assert (gs.info(plain_selective) or {})["message_queue_len"] == 0
        gs.send(plain_echo, (gs.self(), "still there?"))
        assert gs.receive(timeout=5) == ("echo", "still there?")
        [(_, first, _), *_] = gs.Supervisor.which_children(sup)
        assert first is plain_echo
