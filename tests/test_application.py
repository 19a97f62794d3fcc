"""Application: one start for many callers, a tree linked to no caller, a clean stop.

Each class pins one of the ways a tree went wrong inside a host program
before applications existed (issue 14): a tree linked to whoever started it
(a request's greenlet, the main greenlet), races between first callers,
``terminate`` never running at shutdown, and a give-up that killed the host.
The exit hooks (SIGTERM, SIGINT, interpreter exit) run in real OS processes
in ``test_application_exit.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

BOUND = 10.0  # seconds: bounds a failure, never decides success

# What the applications below did, in order (start, terminate, stop callbacks).
journal: list[tuple[object, ...]] = []


class Counter(gs.GenServer[int]):
    """Counts; ``"crash"`` crashes it; its ``terminate`` is written in the journal."""

    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        return super().child_spec(arg).replace(id=arg)

    def init(self, arg: Any) -> gs.Ok[int]:
        gs.trap_exits(True)  # so that the supervisor's "shutdown" runs terminate
        gs.register(arg, gs.self())
        return gs.Ok(0)

    def handle_call(self, request: Any, from_: gs.Ref, state: int) -> gs.Reply[int]:
        if request == "crash":
            raise RuntimeError("counter crashed on purpose")
        return gs.Reply(state + 1, state + 1)

    def terminate(self, reason: Any, state: int) -> None:
        journal.append(("terminate", gs.self(), reason))


class CounterApp(gs.Application):
    """Two counters under one supervisor; gives up after one restart."""

    starts = 0

    def start(self, arg: Any) -> gs.Pid:
        type(self).starts += 1
        journal.append(("start", arg))
        pid = gs.Supervisor.start_link(
            [(Counter, "first"), (Counter, "second")], max_restarts=1, max_seconds=60
        )
        assert pid is not None
        return pid

    def stop(self) -> None:
        journal.append(("stop callback",))


class NoStopCallbackApp(gs.Application):
    def start(self, arg: Any) -> gs.Pid:
        return gs.DynamicSupervisor.start()


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    journal.clear()
    CounterApp.starts = 0
    yield
    CounterApp.stop()
    NoStopCallbackApp.stop()


def count(name: str) -> int:
    return gs.GenServer.call(name, "count")  # type: ignore[no-any-return]


def crash(name: str) -> None:
    with pytest.raises(gs.ServerExitError):
        gs.GenServer.call(name, "crash")


class TestEnsureStarted:
    def test_returns_the_top_supervisor_once_for_every_call(self) -> None:
        top = CounterApp.ensure_started("arg")

        assert CounterApp.ensure_started("other arg") == top
        assert CounterApp.running()
        assert [c[0] for c in gs.Supervisor.which_children(top)] == ["first", "second"]
        assert journal == [("start", "arg")]

    def test_the_tree_outlives_the_greenlet_that_started_it(self) -> None:
        """Issue 14: started lazily in a request, the tree died with its greenlet."""

        def request() -> None:
            CounterApp.ensure_started()
            count("first")

        first = gevent.spawn(request)
        first.join(BOUND)
        second = gevent.spawn(request)
        second.join(BOUND)
        killed = gs.spawn(lambda: (CounterApp.ensure_started(), gs.receive()))
        ref = gs.monitor(killed)
        gs.exit(killed, "kill")
        wait_down(ref)

        assert count("first") == 3
        assert CounterApp.starts == 1
        assert gs.info(CounterApp.ensure_started())["links"] != [killed]  # type: ignore[index]

    def test_the_tree_is_linked_to_no_caller(self) -> None:
        top = CounterApp.ensure_started()

        links = gs.info(top)["links"]  # type: ignore[index]
        me = gs.self()

        assert me not in links
        assert len(links) == 3  # two counters and the application master
        master = next(p for p in links if gs.info(p)["current"] is CounterApp)  # type: ignore[index]
        assert gs.info(master)["links"] == [top]  # type: ignore[index]

    def test_concurrent_first_callers_wait_for_the_one_start(self) -> None:
        """Issue 14: concurrent first requests raced and got ``already_started``."""
        results: list[gs.Pid] = []
        greenlets = [
            gevent.spawn(lambda: results.append(CounterApp.ensure_started())) for _ in range(50)
        ]
        gevent.joinall(greenlets, timeout=BOUND, raise_error=True)

        assert len(results) == 50
        assert set(results) == {CounterApp.ensure_started()}
        assert CounterApp.starts == 1

    def test_os_threads_racing_to_be_first_share_the_one_start(self) -> None:
        me = gs.self()
        barrier = threading.Barrier(8)

        def body() -> None:
            barrier.wait(BOUND)
            try:
                gs.send(me, ("started", CounterApp.ensure_started()))
            except BaseException as exc:
                gs.send(me, ("started", exc))

        threads = [threading.Thread(target=body) for _ in range(8)]
        for thread in threads:
            thread.start()
        answers = [
            gs.receive(lambda m: type(m) is tuple and m[0] == "started", BOUND)[1]  # type: ignore[index]
            for _ in threads
        ]
        for thread in threads:
            thread.join(BOUND)

        assert set(answers) == {CounterApp.ensure_started()}
        assert CounterApp.starts == 1

    def test_a_failing_start_raises_start_error_and_the_next_call_retries(
        self, gs_reports: ReportLog
    ) -> None:
        class Flaky(gs.Application):
            attempts = 0

            def start(self, arg: Any) -> gs.Pid:
                type(self).attempts += 1
                if type(self).attempts == 1:
                    gs.DynamicSupervisor.start_link()  # dies with the master, quietly
                    raise ValueError("no database yet")
                return gs.DynamicSupervisor.start_link()

        with pytest.raises(gs.StartError, match=r"^application .*Flaky failed to start: ") as err:
            Flaky.ensure_started()
        top = Flaky.ensure_started()

        assert isinstance(err.value.reason, ValueError)
        assert Flaky.running()
        assert gs.alive(top)
        Flaky.stop()

    def test_start_must_return_a_live_pid(self) -> None:
        class Forgetful(gs.Application):
            def start(self, arg: Any) -> gs.Pid:
                gs.Supervisor.start_link([])
                return None  # type: ignore[return-value]

        with pytest.raises(gs.StartError, match=r"returned None; expected the pid") as err:
            Forgetful.ensure_started()

        assert isinstance(err.value.reason, gs.BadReturnError)
        assert not Forgetful.running()

    def test_needs_a_subclass_that_defines_start(self) -> None:
        class Empty(gs.Application):
            pass

        with pytest.raises(TypeError, match=r"^\S*Empty must define start\(self, arg\)$"):
            Empty.ensure_started()
        with pytest.raises(TypeError, match=r"^ensure_started\(\) needs a subclass"):
            gs.Application.ensure_started()


class TestTheTreeGivesUp:
    def test_no_caller_gets_an_exit_signal_and_a_report_says_why(
        self, gs_reports: ReportLog
    ) -> None:
        """Issue 14: a tree linked to gunicorn's main greenlet killed the worker."""
        gs_reports.expect("crash_report")
        gs_reports.expect("supervisor_report")
        gs_reports.expect("application_report", context="exited", reason="'shutdown'")
        gs.trap_exits(True)  # an exit signal would become a message we can see
        top = CounterApp.ensure_started()
        ref = gs.monitor(top)
        crash("first")
        gs.Supervisor.which_children(top)  # a barrier: the restart is done when it answers
        crash("first")  # the second restart within max_seconds: the supervisor gives up
        wait_down(ref)

        assert not CounterApp.running()
        with pytest.raises(gs.StartError) as err:
            CounterApp.ensure_started()
        assert str(err.value) == (
            "application CounterApp has stopped: its top supervisor exited with 'shutdown'; "
            "call CounterApp.stop() to clear this and start it afresh"
        )
        assert err.value.reason == "shutdown"
        assert [r["application"] for r in gs_reports.of("application_report")] == ["CounterApp"]
        with pytest.raises(TimeoutError):
            gs.receive(lambda m: type(m) is gs.ExitSignal, timeout=0)
        assert journal[-1] == ("stop callback",)

    def test_stop_clears_the_failure_and_the_next_start_is_afresh(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="'killed'")  # the counters, by their parent
        gs_reports.expect("application_report", reason="'killed'")
        top = CounterApp.ensure_started()
        ref = gs.monitor(top)
        gs.exit(top, "kill")
        wait_down(ref)
        with pytest.raises(gs.StartError, match=r"exited with 'killed'"):
            CounterApp.ensure_started()

        CounterApp.stop()
        fresh = CounterApp.ensure_started()

        assert fresh != top
        assert count("first") == 1
        assert CounterApp.starts == 2


class TestStop:
    def test_children_stop_in_reverse_order_then_the_stop_callback_runs(self) -> None:
        CounterApp.ensure_started()
        first, second = gs.whereis("first"), gs.whereis("second")

        CounterApp.stop()

        assert journal[1:] == [
            ("terminate", second, "shutdown"),
            ("terminate", first, "shutdown"),
            ("stop callback",),
        ]
        assert not CounterApp.running()
        assert gs.whereis("first") is None

    def test_from_the_main_greenlet_nothing_is_raised_in_the_caller(self) -> None:
        """Issue 14: stopping a linked tree in gunicorn's worker_exit raised Exit."""
        gs.trap_exits(False)
        CounterApp.ensure_started()

        CounterApp.stop(timeout=BOUND)
        CounterApp.stop()  # stopping a stopped application does nothing

        assert gs.alive(gs.self())
        assert ("stop callback",) in journal

    def test_from_another_os_thread(self) -> None:
        me = gs.self()
        CounterApp.ensure_started()

        def body() -> None:
            CounterApp.stop()
            gs.send(me, ("stopped", CounterApp.running()))

        thread = threading.Thread(target=body)
        thread.start()
        answer = gs.receive(lambda m: type(m) is tuple and m[0] == "stopped", BOUND)
        thread.join(BOUND)

        assert answer == ("stopped", False)
        assert journal[-1] == ("stop callback",)

    def test_the_base_class_form_takes_the_application(self) -> None:
        CounterApp.ensure_started()

        gs.Application.stop(CounterApp)

        assert not CounterApp.running()
        with pytest.raises(TypeError, match=r"^stop\(\) needs a subclass of gs.Application"):
            gs.Application.stop(Counter)  # type: ignore[arg-type]

    def test_a_tree_that_will_not_stop_is_killed_after_the_timeout(self) -> None:
        def deaf() -> None:
            gs.trap_exits(True)
            while True:  # ignores "shutdown", and every other signal it can
                gs.receive()

        class Deaf(gs.Application):
            def start(self, arg: Any) -> gs.Pid:
                spec = gs.ChildSpec("deaf", start=(gs.spawn_link, (deaf,)), shutdown=60.0)
                return gs.Supervisor.start_link([spec])

        top = Deaf.ensure_started()
        [(_, child, _)] = gs.Supervisor.which_children(top)
        ref = gs.monitor(child)  # type: ignore[arg-type]

        Deaf.stop(timeout=0.05)

        assert wait_down(ref).reason == "killed"
        assert not Deaf.running()

    def test_a_top_process_that_is_no_supervisor_is_only_sent_shutdown(self) -> None:
        class Lone(gs.Application):
            def start(self, arg: Any) -> gs.Pid:
                return Counter.start_link("lone")  # type: ignore[return-value]

        Lone.ensure_started()
        lone = gs.whereis("lone")

        Lone.stop()  # Counter has no answer to which_children: it is not asked

        assert journal == [("terminate", lone, "shutdown")]

    def test_instances_see_their_stop_callback(self) -> None:
        app = CounterApp()
        app.stop()

        assert journal == [("stop callback",)]
        NoStopCallbackApp().stop()  # no callback defined: nothing happens

    def test_a_bad_timeout_is_named(self) -> None:
        with pytest.raises(ValueError, match=r"^timeout must be a number of seconds >= 0"):
            CounterApp.stop(timeout=-1)
