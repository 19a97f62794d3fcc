"""The process kernel: pids, refs, spawning, self(), exit signals, inspection.

Links, monitors, messages and names have their own files; this one pins
what a process is, how it starts and how it ends.
"""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Callable

import gevent
import gevent.event
import pytest

import greenserver as gs
from greenserver.testing import ManualClock, ReportLog, wait_all_idle, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def crash(message: str) -> None:
    raise ValueError(message)


def forward_one(test: gs.Pid) -> None:
    """Trap exits, say "ready", then forward the next message to *test*."""
    gs.trap_exits(True)
    gs.send(test, "ready")
    gs.send(test, ("got", gs.receive()))


class Unwinding:
    """What a dying process's code did: a dead process cannot send, so it notes here."""

    def __init__(self) -> None:
        self.notes: list[object] = []
        self.done = gevent.event.Event()

    def wait(self) -> list[object]:
        assert self.done.wait(BOUND), "the process never finished unwinding"
        return self.notes


def spawn_ready(fn: object, *args: object) -> tuple[gs.Pid, gs.Ref]:
    """Spawn-monitor *fn* and wait for the "ready" it sends the test."""
    assert callable(fn)
    pid, ref = gs.spawn_monitor(fn, *args)
    assert gs.receive(lambda m: m == "ready", timeout=BOUND) == "ready"
    return pid, ref


class TestPid:
    def test_repr_is_erlang_style(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)
        gs.exit(pid, "kill")

        assert type(pid) is gs.Pid
        assert re.fullmatch(r"<0\.\d+\.0>", repr(pid))
        assert str(pid) == repr(pid)
        assert wait_down(ref).reason == "killed"

    def test_pids_are_hashable_and_equal_only_to_themselves(self) -> None:
        a, ref_a = gs.spawn_monitor(block_forever)
        b, ref_b = gs.spawn_monitor(block_forever)

        assert a == a
        assert a != b
        assert repr(a) != repr(b)
        assert {a: 1, b: 2}[a] == 1
        assert len({a, b, a}) == 2
        gs.exit(a, "kill")
        gs.exit(b, "kill")
        assert wait_down(ref_a).pid == a
        assert wait_down(ref_b).pid == b

    def test_self_returns_the_same_pid_every_time(self) -> None:
        assert gs.self() == gs.self()
        assert hash(gs.self()) == hash(gs.self())

    def test_pickling_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^a Pid names a live process in this node and cannot be pickled$"
        ):
            pickle.dumps(gs.self())

    def test_copy_raises_type_error(self) -> None:
        """A copied pid would be a second identity for one process."""
        with pytest.raises(
            TypeError, match=r"^a Pid names a live process in this node and cannot be pickled$"
        ):
            copy.deepcopy(gs.self())


class TestRef:
    def test_every_ref_is_unique(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)
        refs = [gs.monitor(pid) for _ in range(100)]

        assert len(set(refs)) == 100
        assert ref not in refs
        assert all(type(r) is gs.Ref for r in refs)
        assert refs[0] == refs[0]
        assert refs[0] != refs[1]
        assert len({repr(r) for r in refs}) == 100
        gs.exit(pid, "kill")
        for r in refs:
            gs.demonitor(r, flush=True)
        assert wait_down(ref).reason == "killed"

    def test_pickling_raises_type_error(self) -> None:
        ref = gs.monitor(gs.self())
        gs.demonitor(ref)

        with pytest.raises(TypeError, match=r"^a Ref is local to this node and cannot be pickled$"):
            pickle.dumps(ref)


class TestSpawn:
    def test_runs_fn_with_args_and_kwargs(self) -> None:
        def fn(test: gs.Pid, a: int, b: str, *, c: list[int]) -> None:
            gs.send(test, (gs.self(), a, b, c))

        pid, ref = gs.spawn_monitor(fn, gs.self(), 1, "two", c=[3])

        assert gs.receive(timeout=BOUND) == (pid, 1, "two", [3])
        assert wait_down(ref) == gs.Down(ref, pid, "normal")

    def test_returns_a_live_pid_before_fn_runs(self) -> None:
        test = gs.self()
        pid = gs.spawn(gs.send, test, "ran")
        ref = gs.monitor(pid)

        assert gs.alive(pid)
        assert pid in gs.processes()
        assert gs.receive(timeout=BOUND) == "ran"
        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        assert not gs.alive(pid)

    def test_each_spawn_is_a_new_process(self) -> None:
        pids = [gs.spawn(block_forever) for _ in range(10)]
        refs = [gs.monitor(pid) for pid in pids]

        assert len(set(pids)) == 10
        assert set(pids) <= set(gs.processes())
        for pid in pids:
            gs.exit(pid, "kill")
        assert [wait_down(ref).pid for ref in refs] == pids

    def test_non_callable_raises_type_error(self) -> None:
        before = set(gs.processes())

        with pytest.raises(TypeError, match=r"^spawn needs a callable; got 42$"):
            gs.spawn(42)  # type: ignore[arg-type]
        assert set(gs.processes()) == before

    def test_uncaught_exception_is_the_exit_reason_with_its_traceback(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('boom')")
        pid, ref = gs.spawn_monitor(crash, "boom")

        down = wait_down(ref)

        assert down.pid == pid
        assert type(down.reason) is ValueError
        assert down.reason.args == ("boom",)
        assert down.reason.__traceback__ is not None
        [report] = gs_reports.of("crash_report")
        assert report["pid"] == pid
        assert report["name"] is None
        assert report["class"] == "crash"
        assert report["reason"] == "ValueError('boom')"
        assert report["exc_info"] is down.reason
        assert report["log_level"] == "error"
        assert {"last_message", "state", "client"} <= report.keys()

    def test_crash_report_names_a_registered_process(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", name="crasher")

        def fn() -> None:
            gs.receive()
            raise RuntimeError("late")

        pid, ref = gs.spawn_monitor(fn)
        gs.register("crasher", pid)
        gs.send(pid, "go")
        down = wait_down(ref)

        assert type(down.reason) is RuntimeError
        [report] = gs_reports.of("crash_report")
        assert report["name"] == "crasher"
        assert report["pid"] == pid
        assert report["reason"] == "RuntimeError('late')"
        assert gs.whereis("crasher") is None

    def test_process_killed_before_it_ran_never_runs_fn(self) -> None:
        test = gs.self()
        pid = gs.spawn(gs.send, test, "ran")
        ref = gs.monitor(pid)

        gs.exit(pid, "kill")
        wait_all_idle()

        assert wait_down(ref) == gs.Down(ref, pid, "killed")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)


class TestDeepSpawns:
    def test_a_chain_of_spawns_from_deep_stacks_does_not_overflow(self) -> None:
        """A new process starts on a shallow stack, whoever spawned it and from how deep.

        (A greenlet inherits the recursion depth of the stack that starts it;
        started from inside its parent's deep stack, depth would pile up along
        the chain until RecursionError.)
        """
        me = gs.self()
        length = 150
        pids: list[gs.Pid] = []

        def nested(depth: int, fn: Callable[[], object]) -> object:
            return fn() if depth == 0 else nested(depth - 1, fn)

        def link(i: int) -> None:
            pids.append(gs.self())
            if i == length:
                gs.send(me, "chain complete")
                gs.receive()
                return

            def spawn_next_and_wait() -> object:
                gs.spawn(link, i + 1)  # the only ready process when this parks...
                return gs.receive()  # ...40 frames deep, until told to stop

            nested(40, spawn_next_and_wait)

        gs.spawn(link, 0)

        assert gs.receive(timeout=5) == "chain complete"
        refs = [gs.monitor(pid) for pid in pids]
        for pid in pids:
            gs.send(pid, "stop")
        reasons = [
            gs.receive(lambda m, r=ref: isinstance(m, gs.Down) and m.ref is r, timeout=5).reason  # type: ignore[attr-defined]
            for ref in refs
        ]
        assert set(reasons) == {"normal"}


class TestSpawnLinkAndMonitorAreAtomic:
    """The link or monitor exists before the child runs a single line."""

    def test_spawn_monitor_sees_a_child_that_crashes_at_once(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('at once')")

        pid, ref = gs.spawn_monitor(crash, "at once")

        down = wait_down(ref)
        assert down.pid == pid
        assert repr(down.reason) == "ValueError('at once')"

    def test_spawn_link_sees_a_child_that_crashes_at_once(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ValueError('at once')")
        gs.trap_exits(True)

        pid = gs.spawn_link(crash, "at once")

        msg = gs.receive(timeout=BOUND)
        assert type(msg) is gs.ExitSignal
        assert msg.pid == pid
        assert repr(msg.reason) == "ValueError('at once')"

    def test_spawn_link_child_that_exits_at_once_kills_its_parent(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("crash_report", reason="ValueError('at once')")

        def parent() -> None:
            gs.spawn_link(crash, "at once")
            block_forever()

        pid, ref = gs.spawn_monitor(parent)

        down = wait_down(ref)
        assert down.pid == pid
        assert repr(down.reason) == "ValueError('at once')"
        # Only the child crashed; the parent was killed by an exit signal.
        assert len(gs_reports.of("crash_report")) == 1


class TestSelf:
    def test_main_greenlet_is_a_process(self) -> None:
        me = gs.self()

        assert gs.alive(me)
        assert me in gs.processes()
        assert gs.info(me) is not None

    def test_spawned_process_sees_its_own_pid(self) -> None:
        pid, ref = gs.spawn_monitor(lambda test: gs.send(test, gs.self()), gs.self())

        assert gs.receive(timeout=BOUND) == pid
        assert wait_down(ref).reason == "normal"

    def test_plain_gevent_greenlet_becomes_a_process_that_ends_normal(self) -> None:
        test = gs.self()

        def greenlet_body() -> str:
            gs.send(test, ("me", gs.self()))
            gs.receive()  # "go": lets the test monitor us before we end
            return "done"

        glet = gevent.spawn(greenlet_body)
        msg = gs.receive(timeout=BOUND)
        assert type(msg) is tuple
        _, pid = msg
        assert type(pid) is gs.Pid
        assert pid != test
        assert pid in gs.processes()
        ref = gs.monitor(pid)
        gs.send(pid, "go")

        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        assert glet.dead
        assert glet.value == "done"
        assert not gs.alive(pid)

    def test_gevent_greenlet_that_raises_ends_with_the_exception(self) -> None:
        test = gs.self()

        def greenlet_body() -> None:
            gs.send(test, gs.self())
            gs.receive()
            raise KeyError("gone")

        glet = gevent.spawn(greenlet_body)
        pid = gs.receive(timeout=BOUND)
        assert type(pid) is gs.Pid
        ref = gs.monitor(pid)
        gs.send(pid, "go")

        down = wait_down(ref)
        assert type(down.reason) is KeyError
        assert down.reason is glet.exception

    def test_gevent_greenlet_that_raises_exit_ends_with_its_reason(self) -> None:
        test = gs.self()

        def greenlet_body() -> None:
            gs.send(test, gs.self())
            raise gs.Exit(gs.receive())

        gevent.spawn(greenlet_body)
        pid = gs.receive(timeout=BOUND)
        assert type(pid) is gs.Pid
        ref = gs.monitor(pid)
        gs.send(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")

    def test_killing_a_gevent_greenlets_process_ends_the_greenlet(self) -> None:
        test = gs.self()

        def greenlet_body() -> None:
            gs.send(test, gs.self())
            block_forever()

        glet = gevent.spawn(greenlet_body)
        pid = gs.receive(timeout=BOUND)
        assert type(pid) is gs.Pid
        ref = gs.monitor(pid)

        gs.exit(pid, "kill")

        assert gs.receive(timeout=0) == gs.Down(ref, pid, "killed")
        glet.join(BOUND)
        assert glet.dead

    def test_main_greenlet_killed_by_a_link_becomes_a_new_process(self) -> None:
        old = gs.self()
        pid = gs.spawn_link(lambda: gs.exit(gs.self(), gs.receive()))
        gs.send(pid, "boom")

        with pytest.raises(gs.Exit) as info:
            gs.receive(timeout=BOUND)

        assert info.value.reason == "boom"
        assert not gs.alive(old)
        assert not gs.alive(pid)
        new = gs.self()
        assert new != old
        assert gs.alive(new)
        assert new in gs.processes()

    def test_the_hub_cannot_be_a_process(self) -> None:
        test = gs.self()
        before = set(gs.processes())

        def in_hub() -> None:
            try:
                gs.self()
            except RuntimeError as exc:
                gs.send(test, exc)

        gevent.get_hub().loop.run_callback(in_hub)
        exc = gs.receive(timeout=BOUND)

        assert type(exc) is RuntimeError
        assert str(exc) == "the gevent hub cannot act as a process; spawn one instead"
        assert set(gs.processes()) == before


class TestExit:
    def test_kills_a_process_that_does_not_trap(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)

        gs.exit(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        assert not gs.alive(pid)

    def test_any_value_can_be_a_reason(self) -> None:
        reason = ("shutdown", {"why": [1, 2]})
        pid, ref = gs.spawn_monitor(block_forever)

        gs.exit(pid, reason)

        assert wait_down(ref).reason is reason

    def test_trapping_target_gets_exit_signal_from_the_sender(self) -> None:
        pid, ref = spawn_ready(forward_one, gs.self())

        gs.exit(pid, "boom")

        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(gs.self(), "boom"))
        assert wait_down(ref).reason == "normal"  # it survived and returned

    def test_exit_signal_names_the_process_that_sent_it(self) -> None:
        target, ref_t = spawn_ready(forward_one, gs.self())
        sender, ref_s = gs.spawn_monitor(gs.exit, target, "from a peer")

        assert wait_down(ref_s) == gs.Down(ref_s, sender, "normal")
        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(sender, "from a peer"))
        assert wait_down(ref_t).reason == "normal"

    def test_kill_cannot_be_trapped_and_becomes_killed(self) -> None:
        gs.trap_exits(True)
        pid, ref = spawn_ready(forward_one, gs.self())
        gs.link(pid)

        gs.exit(pid, "kill")

        assert not gs.alive(pid)
        assert gs.receive(timeout=0) == gs.Down(ref, pid, "killed")
        msg = gs.receive(timeout=0)
        assert type(msg) is gs.ExitSignal
        assert msg == gs.ExitSignal(pid, "killed")

    def test_normal_is_ignored_by_a_process_that_does_not_trap(self) -> None:
        def echo(test: gs.Pid) -> None:
            while True:
                gs.send(test, ("echo", gs.receive()))

        pid, ref = gs.spawn_monitor(echo, gs.self())

        gs.exit(pid, "normal")

        assert gs.alive(pid)
        gs.send(pid, "still there?")
        assert gs.receive(timeout=BOUND) == ("echo", "still there?")
        gs.exit(pid, "kill")
        assert wait_down(ref).reason == "killed"

    def test_normal_reaches_a_trapping_process_as_exit_signal(self) -> None:
        pid, ref = spawn_ready(forward_one, gs.self())

        gs.exit(pid, "normal")

        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(gs.self(), "normal"))
        assert wait_down(ref).reason == "normal"

    def test_exit_self_normal_ends_a_spawned_process(self) -> None:
        unwinding = Unwinding()

        def fn() -> None:
            try:
                gs.exit(gs.self(), "normal")
                unwinding.notes.append("went on")
            except BaseException as exc:
                unwinding.notes.append(exc)
                raise
            finally:
                unwinding.done.set()

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        [raised] = unwinding.wait()
        assert type(raised) is gs.Exit
        assert raised.reason == "normal"

    def test_exit_self_normal_reaches_a_trapping_process_as_exit_signal(self) -> None:
        def fn(test: gs.Pid) -> None:
            gs.trap_exits(True)
            gs.exit(gs.self(), "normal")
            gs.send(test, gs.receive(timeout=0))

        pid, ref = gs.spawn_monitor(fn, gs.self())

        assert gs.receive(timeout=BOUND) == gs.ExitSignal(pid, "normal")
        assert wait_down(ref).reason == "normal"

    def test_exit_self_with_a_reason_ends_the_caller_at_once(self) -> None:
        unwinding = Unwinding()

        def fn() -> None:
            me = gs.self()
            try:
                gs.exit(me, "boom")
            finally:
                unwinding.notes.append(("alive?", gs.alive(me)))
                unwinding.done.set()

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        assert unwinding.wait() == [("alive?", False)]

    def test_exit_self_kill_ends_even_a_trapping_process(self) -> None:
        def fn() -> None:
            gs.trap_exits(True)
            gs.exit(gs.self(), "kill")

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "killed")

    def test_dead_target_is_ignored(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)
        gs.exit(pid, "kill")
        assert wait_down(ref).reason == "killed"

        gs.exit(pid, "boom")  # no error, no effect

        assert not gs.alive(pid)
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^exit\(\) needs a Pid; got 'someone'$"):
            gs.exit("someone", "boom")  # type: ignore[arg-type]

    def test_death_is_complete_when_exit_returns(self) -> None:
        """Name freed, table left, Down and ExitSignal delivered: no window."""
        gs.trap_exits(True)
        pid, ref = gs.spawn_monitor(block_forever)
        gs.link(pid)
        gs.register("victim", pid)

        gs.exit(pid, "kill")

        assert not gs.alive(pid)
        assert gs.whereis("victim") is None
        assert "victim" not in gs.registered()
        assert pid not in gs.processes()
        assert gs.info(pid) is None
        assert gs.receive(timeout=0) == gs.Down(ref, pid, "killed")
        assert gs.receive(timeout=0) == gs.ExitSignal(pid, "killed")

    def test_deaths_through_links_are_complete_when_exit_returns(self) -> None:
        a, ref_a = gs.spawn_monitor(block_forever)

        def linker(test: gs.Pid, other: gs.Pid) -> None:
            gs.link(other)
            gs.send(test, "ready")
            block_forever()

        b, ref_b = spawn_ready(linker, gs.self(), a)
        gs.register("bystander", b)

        gs.exit(a, "boom")

        assert not gs.alive(b)
        assert gs.whereis("bystander") is None
        downs = {gs.receive(timeout=0), gs.receive(timeout=0)}
        assert downs == {gs.Down(ref_a, a, "boom"), gs.Down(ref_b, b, "boom")}

    def test_killed_process_cannot_catch_its_death_as_an_exception(self) -> None:
        """Woken by a message, then killed before it ran: it raises Exit, not an error."""

        unwinding = Unwinding()

        def fn(test: gs.Pid) -> None:
            try:
                gs.send(test, "ready")
                gs.receive()
                unwinding.notes.append("received")
            except Exception as exc:  # this must not catch the kill
                unwinding.notes.append(("caught", exc))
            except BaseException as exc:
                unwinding.notes.append(exc)
                raise
            finally:
                unwinding.done.set()

        pid, ref = spawn_ready(fn, gs.self())
        wait_all_idle()  # it is blocked in receive

        gs.send(pid, "wake up")  # makes it runnable...
        gs.exit(pid, "kill")  # ...and kills it before it runs

        assert wait_down(ref) == gs.Down(ref, pid, "killed")
        [raised] = unwinding.wait()
        assert type(raised) is gs.Exit
        assert raised.reason == "killed"

    def test_process_blocked_in_receive_unwinds_its_finally(self) -> None:
        unwinding = Unwinding()

        def fn(test: gs.Pid) -> None:
            try:
                gs.send(test, "ready")
                gs.receive()
            finally:
                unwinding.notes.append("finally ran")
                unwinding.done.set()

        pid, ref = spawn_ready(fn, gs.self())

        gs.exit(pid, "boom")

        assert wait_down(ref).reason == "boom"
        assert unwinding.wait() == ["finally ran"]

    def test_process_blocked_in_a_receive_with_timeout_unwinds(self) -> None:
        unwinding = Unwinding()

        def fn(test: gs.Pid) -> None:
            try:
                gs.send(test, "ready")
                gs.receive(timeout=0.05)
            except BaseException as exc:
                unwinding.notes.append(exc)
                raise
            finally:
                unwinding.done.set()

        pid, ref = spawn_ready(fn, gs.self())

        gs.exit(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        [raised] = unwinding.wait()
        assert type(raised) is gs.Exit  # not the TimeoutError of its receive
        assert raised.reason == "boom"

    def test_process_blocked_in_a_gevent_primitive_unwinds_its_finally(self) -> None:
        event = gevent.event.Event()

        unwinding = Unwinding()

        def fn(test: gs.Pid) -> None:
            try:
                gs.send(test, "ready")
                event.wait()
                unwinding.notes.append("event fired")
            except BaseException as exc:
                unwinding.notes.append(exc)
                raise
            finally:
                unwinding.notes.append("finally ran")
                unwinding.done.set()

        pid, ref = spawn_ready(fn, gs.self())

        gs.exit(pid, "kill")

        assert wait_down(ref) == gs.Down(ref, pid, "killed")
        raised, last = unwinding.wait()
        assert type(raised) is gs.Exit
        assert raised.reason == "killed"
        assert last == "finally ran"
        assert not event.is_set()


class TestExitException:
    def test_raise_exit_ends_the_process_with_its_reason(self) -> None:
        def fn() -> None:
            raise gs.Exit("boom")

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "boom")

    def test_default_reason_is_normal(self) -> None:
        def fn() -> None:
            raise gs.Exit()

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        assert gs.Exit().reason == "normal"

    def test_except_exception_does_not_catch_it(self) -> None:
        def fn(test: gs.Pid) -> None:
            try:
                raise gs.Exit("boom")
            except Exception:  # the point: this must not catch Exit
                gs.send(test, "swallowed")

        pid, ref = gs.spawn_monitor(fn, gs.self())

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)
        assert issubclass(gs.Exit, BaseException)
        assert not issubclass(gs.Exit, Exception)

    def test_except_exception_does_not_catch_a_kill(self) -> None:
        def fn(test: gs.Pid) -> None:
            try:
                gs.send(test, "ready")
                block_forever()
            except Exception:  # the point: this must not catch the kill
                gs.send(test, "swallowed")
                block_forever()

        pid, ref = spawn_ready(fn, gs.self())

        gs.exit(pid, "boom")

        assert wait_down(ref) == gs.Down(ref, pid, "boom")
        wait_all_idle()
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_repr_and_reason(self) -> None:
        exc = gs.Exit(("shutdown", 1))

        assert exc.reason == ("shutdown", 1)
        assert repr(exc) == "Exit(('shutdown', 1))"


class TestTrapExits:
    def test_returns_the_previous_flag(self) -> None:
        assert gs.trap_exits(True) is False
        assert gs.trap_exits(True) is True
        assert gs.trap_exits(False) is True
        assert gs.trap_exits(False) is False

    def test_flag_is_per_process_and_shown_by_info(self) -> None:
        pid, ref = spawn_ready(forward_one, gs.self())

        assert gs.info(pid) == gs.info(pid)  # stable between calls
        info = gs.info(pid)
        assert info is not None
        assert info["trap_exit"] is True
        mine = gs.info(gs.self())
        assert mine is not None
        assert mine["trap_exit"] is False
        gs.exit(pid, "kill")
        assert wait_down(ref).reason == "killed"

    def test_turning_it_off_makes_signals_kill_again(self) -> None:
        def fn(test: gs.Pid) -> None:
            gs.trap_exits(True)
            gs.send(test, "ready")
            gs.send(test, gs.receive())
            gs.send(test, ("was trapping", gs.trap_exits(False)))
            block_forever()

        pid, ref = spawn_ready(fn, gs.self())
        gs.exit(pid, "first")
        assert gs.receive(timeout=BOUND) == gs.ExitSignal(gs.self(), "first")
        assert gs.receive(timeout=BOUND) == ("was trapping", True)

        gs.exit(pid, "second")

        assert wait_down(ref) == gs.Down(ref, pid, "second")


class TestAlive:
    def test_true_while_running_false_once_dead(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)
        assert gs.alive(pid) is True

        gs.exit(pid, "kill")

        assert gs.alive(pid) is False
        assert wait_down(ref).reason == "killed"

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^alive\(\) needs a Pid; got 'x'$"):
            gs.alive("x")  # type: ignore[arg-type]


class TestProcesses:
    def test_lists_live_processes_only(self) -> None:
        a, ref_a = gs.spawn_monitor(block_forever)
        b, ref_b = gs.spawn_monitor(block_forever)

        assert {a, b, gs.self()} <= set(gs.processes())
        gs.exit(a, "kill")
        assert a not in gs.processes()
        assert b in gs.processes()
        gs.exit(b, "kill")
        assert b not in gs.processes()
        assert wait_down(ref_a).reason == wait_down(ref_b).reason == "killed"

    def test_returns_a_list_of_pids(self) -> None:
        procs = gs.processes()

        assert type(procs) is list
        assert all(type(p) is gs.Pid for p in procs)
        assert len(set(procs)) == len(procs)


class TestInfo:
    KEYS = frozenset(
        {
            "status",
            "message_queue_len",
            "links",
            "monitors",
            "monitored_by",
            "trap_exit",
            "registered_name",
            "reductions",
            "current",
        }
    )

    def test_has_the_documented_keys(self) -> None:
        info = gs.info(gs.self())

        assert info is not None
        assert info.keys() >= self.KEYS

    def test_describes_a_waiting_process(self) -> None:
        def fn(test: gs.Pid) -> None:
            for _ in range(3):
                gs.receive()
            gs.send(test, "ready")
            gs.receive(lambda m: m == "stop")

        pid, ref = gs.spawn_monitor(fn, gs.self())
        gs.link(pid)
        for n in range(3):
            gs.send(pid, n)
        assert gs.receive(timeout=BOUND) == "ready"
        gs.register("described", pid)
        gs.send(pid, "queued 1")
        gs.send(pid, "queued 2")
        wait_all_idle()

        info = gs.info(pid)

        assert info is not None
        assert info["status"] == "waiting"
        assert info["message_queue_len"] == 2
        assert info["links"] == [gs.self()]
        assert info["monitors"] == []
        assert info["monitored_by"] == [gs.self()]
        assert info["trap_exit"] is False
        assert info["registered_name"] == "described"
        assert info["reductions"] == 3
        assert info["current"] is fn
        gs.unlink(pid)
        gs.send(pid, "stop")
        assert wait_down(ref).reason == "normal"

    def test_the_caller_is_running(self) -> None:
        info = gs.info(gs.self())

        assert info is not None
        assert info["status"] == "running"

    def test_a_process_that_has_not_run_yet_is_runnable(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)

        info = gs.info(pid)

        assert info is not None
        assert info["status"] == "runnable"
        assert info["reductions"] == 0
        assert info["current"] is block_forever
        gs.exit(pid, "kill")
        assert wait_down(ref).reason == "killed"

    def test_a_process_blocked_in_gevent_io_is_waiting(self) -> None:
        me = gs.self()
        event = gevent.event.Event()

        def wait_for_event() -> None:
            gs.send(me, "about to block")
            event.wait()

        pid, ref = gs.spawn_monitor(wait_for_event)
        # The sender runs on from send() into event.wait() before we resume.
        assert gs.receive(timeout=5) == "about to block"

        info = gs.info(pid)

        assert info is not None
        assert info["status"] == "waiting"
        event.set()
        assert wait_down(ref).reason == "normal"

    def test_lists_the_pids_a_process_monitors(self) -> None:
        target, ref_t = gs.spawn_monitor(block_forever)

        def watcher(test: gs.Pid) -> None:
            gs.monitor(target)
            gs.send(test, "ready")
            block_forever()

        pid, ref = spawn_ready(watcher, gs.self())

        info = gs.info(pid)
        target_info = gs.info(target)

        assert info is not None
        assert target_info is not None
        assert info["monitors"] == [target]
        assert sorted(map(repr, target_info["monitored_by"])) == sorted(  # type: ignore[call-overload]
            [repr(gs.self()), repr(pid)]
        )
        gs.exit(pid, "kill")
        gs.exit(target, "kill")
        assert wait_down(ref).reason == wait_down(ref_t).reason == "killed"

    def test_dead_pid_gives_none(self) -> None:
        pid, ref = gs.spawn_monitor(block_forever)
        gs.exit(pid, "kill")

        assert gs.info(pid) is None
        assert wait_down(ref).reason == "killed"

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^info\(\) needs a Pid; got None$"):
            gs.info(None)  # type: ignore[arg-type]


class TestWaitAllIdle:
    """``greenserver.testing.wait_all_idle``: the barrier these tests lean on."""

    def test_returns_once_every_process_waits(self) -> None:
        def fn() -> None:
            gs.receive()
            block_forever()

        pids = [gs.spawn(fn) for _ in range(3)]
        for pid in pids:
            gs.send(pid, "work")

        wait_all_idle()

        infos = [gs.info(pid) for pid in pids]
        assert [(i or {}).get("status") for i in infos] == ["waiting"] * 3
        assert [(i or {}).get("reductions") for i in infos] == [1] * 3
        for pid in pids:
            gs.exit(pid, "kill")

    def test_busy_process_makes_it_time_out_even_under_a_manual_clock(
        self, manual_clock: ManualClock
    ) -> None:
        event = gevent.event.Event()
        pid, ref = gs.spawn_monitor(event.wait)  # blocked, but not in receive

        with pytest.raises(
            TimeoutError, match=rf"^processes still busy after 0\.05s: \[{re.escape(repr(pid))}\]$"
        ):
            wait_all_idle(0.05)

        event.set()
        assert wait_down(ref) == gs.Down(ref, pid, "normal")


class TestMessagesOut:
    def test_info_counts_what_a_process_sends(self) -> None:
        class Echo(gs.GenServer[None]):
            def init(self, arg: None) -> gs.Ok[None]:
                return gs.Ok(None)

            def handle_call(self, request: object, from_: gs.Ref, state: None) -> gs.Reply[None]:
                return gs.Reply(request, state)

            def handle_cast(self, request: object, state: None) -> gs.NoReply[None]:
                return gs.NoReply(state)

        server = Echo.start(None)
        me = gs.self()
        before = gs.info(me)
        assert before is not None
        gs.send(me, "to myself")
        gs.GenServer.cast(server, "cast")
        assert gs.GenServer.call(server, "call") == "call"
        after, served = gs.info(me), gs.info(server)
        assert after is not None
        assert served is not None
        assert after["messages_out"] == before["messages_out"] + 3  # send, cast, call
        assert served["messages_out"] == 1  # its reply
        assert gs.receive(timeout=0) == "to myself"
        gs.GenServer.stop(server)


class TestFairness:
    def test_a_burst_of_wakes_lets_the_hub_poll_in_between(self) -> None:
        """Thousands of processes woken at once run over several hub passes.

        A hub callback queued after the wakes (as a socket's or a timer's
        would be) runs before the last of them, not after all of them.
        """
        order: list[object] = []

        def sleeper(i: int) -> None:
            gs.receive(lambda m: m == "go")
            order.append(i)

        refs = [gs.spawn_monitor(sleeper, i) for i in range(3000)]
        wait_all_idle()
        for pid, _ in refs:
            gs.send(pid, "go")
        gevent.get_hub().loop.run_callback(order.append, "hub polled")
        for _, ref in refs:
            wait_down(ref)

        assert len(order) == 3001
        assert order.index("hub polled") < 2000
