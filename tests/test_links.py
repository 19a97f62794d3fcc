"""Links: exit signals between linked processes (link, unlink, spawn_link)."""

from __future__ import annotations

import gevent.event
import pytest
from gevent.event import AsyncResult

import greenserver as gs
from greenserver.testing import ReportLog, wait_all_idle, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def linked_to(test: gs.Pid, other: gs.Pid, trap: bool = False) -> None:
    """Link to *other*, say "ready", then forward every message to *test*."""
    gs.trap_exits(trap)
    gs.link(other)
    gs.send(test, "ready")
    while True:
        gs.send(test, ("got", gs.receive()))


def exit_on_request() -> None:
    """Wait for a reason, then exit with it."""
    raise gs.Exit(gs.receive())


def spawn_linked_to(other: gs.Pid, *, trap: bool = False) -> tuple[gs.Pid, gs.Ref]:
    """Spawn-monitor a process linked to *other*; return once the link exists."""
    pid, ref = gs.spawn_monitor(linked_to, gs.self(), other, trap)
    assert gs.receive(lambda m: m == "ready", timeout=BOUND) == "ready"
    return pid, ref


class TestLink:
    @pytest.mark.parametrize("reason", ["boom", "shutdown", ("shutdown", "bye"), "killed"])
    def test_abnormal_exit_kills_a_linked_process(self, reason: object) -> None:
        a, ref_a = gs.spawn_monitor(exit_on_request)
        b, ref_b = spawn_linked_to(a)

        gs.send(a, reason)

        assert wait_down(ref_a) == gs.Down(ref_a, a, reason)
        assert wait_down(ref_b) == gs.Down(ref_b, b, reason)

    def test_normal_exit_does_not_kill_a_linked_process(self) -> None:
        a, ref_a = gs.spawn_monitor(exit_on_request)
        b, ref_b = spawn_linked_to(a)

        gs.send(a, "normal")

        assert wait_down(ref_a) == gs.Down(ref_a, a, "normal")
        assert gs.alive(b)
        info = gs.info(b)
        assert info is not None
        assert info["links"] == []  # the link died with a
        gs.exit(b, "kill")
        assert wait_down(ref_b).reason == "killed"

    def test_links_are_bidirectional(self) -> None:
        a, ref_a = gs.spawn_monitor(block_forever)
        b, ref_b = spawn_linked_to(a)  # b made the link

        gs.exit(b, "boom")

        assert wait_down(ref_a) == gs.Down(ref_a, a, "boom")
        assert wait_down(ref_b) == gs.Down(ref_b, b, "boom")

    def test_exception_reason_reaches_links_unchanged(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", reason="ZeroDivisionError('division by zero')")

        def divide() -> None:
            gs.receive()
            print(1 / 0)

        a, ref_a = gs.spawn_monitor(divide)
        b, ref_b = spawn_linked_to(a)

        gs.send(a, "go")

        reason = wait_down(ref_a).reason
        assert type(reason) is ZeroDivisionError
        assert wait_down(ref_b) == gs.Down(ref_b, b, reason)
        assert len(gs_reports.of("crash_report")) == 1  # b was killed, it did not crash

    def test_trapping_process_gets_exit_signal_instead_of_dying(self) -> None:
        a, ref_a = gs.spawn_monitor(exit_on_request)
        b, ref_b = spawn_linked_to(a, trap=True)

        gs.send(a, "boom")

        assert wait_down(ref_a).reason == "boom"
        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(a, "boom"))
        assert gs.alive(b)
        gs.exit(b, "kill")
        assert wait_down(ref_b).reason == "killed"

    def test_trapping_process_gets_exit_signal_for_a_normal_exit(self) -> None:
        gs.trap_exits(True)
        a = gs.spawn_link(exit_on_request)

        gs.send(a, "normal")

        msg = gs.receive(timeout=BOUND)
        assert type(msg) is gs.ExitSignal
        assert msg == gs.ExitSignal(a, "normal")

    def test_kill_reaches_links_as_killed(self) -> None:
        gs.trap_exits(True)
        a, ref_a = gs.spawn_monitor(block_forever)
        gs.link(a)
        b, ref_b = spawn_linked_to(a)

        gs.exit(a, "kill")

        assert gs.receive(timeout=0) == gs.Down(ref_a, a, "killed")
        assert gs.receive(timeout=0) == gs.ExitSignal(a, "killed")
        assert wait_down(ref_b) == gs.Down(ref_b, b, "killed")

    def test_killed_reason_is_trappable_for_the_next_link(self) -> None:
        """Only a direct "kill" is untrappable; "killed" from a link is an ordinary reason."""
        a, ref_a = gs.spawn_monitor(block_forever)
        b, ref_b = spawn_linked_to(a)
        c, ref_c = spawn_linked_to(b, trap=True)

        gs.exit(a, "kill")

        assert wait_down(ref_a).reason == "killed"
        assert wait_down(ref_b).reason == "killed"
        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(b, "killed"))
        assert gs.alive(c)
        gs.exit(c, "kill")
        assert wait_down(ref_c).reason == "killed"

    def test_exiting_with_reason_kill_is_an_ordinary_reason_for_links(self) -> None:
        """As in OTP: only a "kill" sent by gs.exit() is untrappable and becomes "killed"."""
        a, ref_a = gs.spawn_monitor(exit_on_request)
        b, ref_b = spawn_linked_to(a)
        c, ref_c = spawn_linked_to(a, trap=True)

        gs.send(a, "kill")  # a itself raises gs.Exit("kill")

        assert wait_down(ref_a) == gs.Down(ref_a, a, "kill")
        assert wait_down(ref_b) == gs.Down(ref_b, b, "kill")
        assert gs.receive(timeout=BOUND) == ("got", gs.ExitSignal(a, "kill"))
        gs.exit(c, "kill")
        assert wait_down(ref_c).reason == "killed"

    def test_a_long_chain_dies_completely(self) -> None:
        """Exit signals travel along a worklist, not recursion: no RecursionError."""
        test = gs.self()

        def node(prev: gs.Pid | None) -> None:
            if prev is not None:
                gs.link(prev)
            gs.send(test, "ready")
            block_forever()

        chain: list[gs.Pid] = []
        refs: list[gs.Ref] = []
        prev = None
        for _ in range(2000):
            pid, ref = gs.spawn_monitor(node, prev)
            assert gs.receive(timeout=BOUND) == "ready"
            chain.append(pid)
            refs.append(ref)
            prev = pid

        gs.exit(chain[0], "boom")

        assert not any(gs.alive(pid) for pid in chain)
        downs = {gs.receive(timeout=0) for _ in chain}
        assert downs == {gs.Down(ref, pid, "boom") for ref, pid in zip(refs, chain, strict=True)}

    def test_killing_a_link_kills_the_caller_at_once(self) -> None:
        b, ref_b = gs.spawn_monitor(block_forever)
        # A dead process cannot send: its unwinding leaves a plain trace.
        seen: list[object] = []

        def fn() -> None:
            gs.link(b)
            try:
                gs.exit(b, "boom")
                seen.append("went on")
            except BaseException as exc:
                seen.append(exc)
                raise

        a, ref_a = gs.spawn_monitor(fn)

        assert wait_down(ref_a) == gs.Down(ref_a, a, "boom")
        assert wait_down(ref_b) == gs.Down(ref_b, b, "boom")
        assert [type(e) for e in seen] == [gs.Exit]
        assert seen[0].reason == "boom"  # type: ignore[attr-defined]

    def test_linking_twice_makes_one_link(self) -> None:
        gs.trap_exits(True)
        a, ref_a = gs.spawn_monitor(exit_on_request)
        gs.link(a)
        gs.link(a)

        info = gs.info(a)
        assert info is not None
        assert info["links"] == [gs.self()]
        gs.send(a, "boom")
        assert wait_down(ref_a).reason == "boom"
        assert gs.receive(timeout=0) == gs.ExitSignal(a, "boom")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_linking_to_self_does_nothing(self) -> None:
        gs.link(gs.self())

        info = gs.info(gs.self())
        assert info is not None
        assert info["links"] == []

    def test_link_to_dead_pid_gives_a_trapping_caller_noproc(self) -> None:
        gs.trap_exits(True)
        dead, ref = gs.spawn_monitor(block_forever)
        gs.exit(dead, "kill")
        assert wait_down(ref).reason == "killed"

        gs.link(dead)

        assert gs.receive(timeout=0) == gs.ExitSignal(dead, "noproc")
        info = gs.info(gs.self())
        assert info is not None
        assert info["links"] == []

    def test_link_to_dead_pid_kills_a_non_trapping_caller_with_noproc(self) -> None:
        dead, ref = gs.spawn_monitor(block_forever)
        gs.exit(dead, "kill")
        assert wait_down(ref).reason == "killed"

        seen: list[object] = []  # a dead process cannot send: it notes here

        def fn() -> None:
            try:
                gs.link(dead)
                seen.append("linked")
            except BaseException as exc:
                seen.append(exc)
                raise

        pid, ref = gs.spawn_monitor(fn)

        assert wait_down(ref) == gs.Down(ref, pid, "noproc")
        assert [type(e) for e in seen] == [gs.Exit]
        assert seen[0].reason == "noproc"  # type: ignore[attr-defined]

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^link\(\) needs a Pid; got 'name'$"):
            gs.link("name")  # type: ignore[arg-type]

    def test_each_death_in_a_cascade_signals_once(self) -> None:
        """b kills a through their link; a's death does not signal b, already dead."""
        gs.trap_exits(True)
        a, ref_a = gs.spawn_monitor(block_forever)
        gs.link(a)
        b, ref_b = spawn_linked_to(a)
        gs.link(b)

        gs.exit(b, "first")

        assert gs.receive(timeout=0) == gs.Down(ref_b, b, "first")
        assert gs.receive(timeout=0) == gs.ExitSignal(b, "first")
        assert gs.receive(timeout=0) == gs.Down(ref_a, a, "first")
        assert gs.receive(timeout=0) == gs.ExitSignal(a, "first")
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)


class TestUnlink:
    def test_stops_propagation(self) -> None:
        def fn(test: gs.Pid, other: gs.Pid) -> None:
            gs.link(other)
            gs.unlink(other)
            gs.send(test, "ready")
            block_forever()

        a, ref_a = gs.spawn_monitor(exit_on_request)
        b, ref_b = gs.spawn_monitor(fn, gs.self(), a)
        assert gs.receive(timeout=BOUND) == "ready"

        gs.send(a, "boom")

        assert wait_down(ref_a).reason == "boom"
        assert gs.alive(b)
        gs.exit(b, "kill")
        assert wait_down(ref_b).reason == "killed"

    def test_removes_the_link_on_both_sides(self) -> None:
        gs.trap_exits(True)
        a, ref_a = gs.spawn_monitor(exit_on_request)
        gs.link(a)

        gs.unlink(a)

        info_a = gs.info(a)
        info_me = gs.info(gs.self())
        assert info_a is not None
        assert info_me is not None
        assert info_a["links"] == []
        assert info_me["links"] == []
        gs.send(a, "boom")
        assert wait_down(ref_a).reason == "boom"
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_either_side_can_unlink(self) -> None:
        def unlinker(test: gs.Pid, other: gs.Pid) -> None:
            gs.receive()  # "unlink"
            gs.unlink(other)
            gs.send(test, "unlinked")
            block_forever()

        gs.trap_exits(True)
        b, ref_b = gs.spawn_monitor(unlinker, gs.self(), gs.self())
        gs.link(b)

        gs.send(b, "unlink")

        assert gs.receive(timeout=BOUND) == "unlinked"
        gs.exit(b, "kill")
        assert wait_down(ref_b).reason == "killed"
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)  # no ExitSignal: the link was gone

    def test_unlinking_what_is_not_linked_is_harmless(self) -> None:
        a, ref_a = gs.spawn_monitor(block_forever)

        gs.unlink(a)
        gs.exit(a, "kill")
        gs.unlink(a)  # dead as well

        assert wait_down(ref_a).reason == "killed"

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^unlink\(\) needs a Pid; got 42$"):
            gs.unlink(42)  # type: ignore[arg-type]


class TestSpawnLink:
    def test_links_the_child_to_the_caller(self) -> None:
        gs.trap_exits(True)

        pid = gs.spawn_link(block_forever)

        info = gs.info(pid)
        assert info is not None
        assert info["links"] == [gs.self()]
        gs.exit(pid, "kill")
        assert gs.receive(timeout=0) == gs.ExitSignal(pid, "killed")

    def test_child_dies_with_its_non_trapping_parent(self) -> None:
        test = gs.self()

        def parent() -> None:
            child = gs.spawn_link(block_forever)
            gs.send(test, child)
            block_forever()

        parent_pid, ref_p = gs.spawn_monitor(parent)
        child = gs.receive(timeout=BOUND)
        assert type(child) is gs.Pid
        ref_c = gs.monitor(child)

        gs.exit(parent_pid, "shutdown")

        assert gs.receive(timeout=0) == gs.Down(ref_p, parent_pid, "shutdown")
        assert gs.receive(timeout=0) == gs.Down(ref_c, child, "shutdown")

    def test_normal_child_exit_leaves_the_parent_running(self) -> None:
        pid = gs.spawn_link(gs.receive)
        ref = gs.monitor(pid)

        gs.send(pid, "done")

        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        assert gs.alive(gs.self())
        wait_all_idle()
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)


def wait_linked(test: gs.Pid, other: gs.Pid, wait: str, caught: AsyncResult[gs.Exit]) -> None:
    """Link to *other*, say "ready", block; hand over the ``Exit`` that ends the wait."""
    gs.link(other)
    gs.send(test, "ready")
    try:
        if wait == "receive":
            block_forever()
        else:  # blocked in a plain gevent primitive: Exit is thrown in by the hub
            gevent.event.Event().wait()
    except gs.Exit as exc:
        # A dead process may not send; a gevent AsyncResult is the barrier.
        caught.set(exc)
        raise


def spawn_wait_linked(
    other: gs.Pid, wait: str = "receive"
) -> tuple[gs.Pid, gs.Ref, AsyncResult[gs.Exit]]:
    caught: AsyncResult[gs.Exit] = AsyncResult()
    pid, ref = gs.spawn_monitor(wait_linked, gs.self(), other, wait, caught)
    assert gs.receive(lambda m: m == "ready", timeout=BOUND) == "ready"
    return pid, ref, caught


class TestExitNamesItsSender:
    """The ``Exit`` raised in a process killed by a signal says who sent it."""

    @pytest.mark.parametrize("wait", ["receive", "gevent"])
    def test_a_linked_crash_names_the_dead_process_and_its_reason(self, wait: str) -> None:
        crasher, crasher_ref = gs.spawn_monitor(exit_on_request)
        _, ref, caught = spawn_wait_linked(crasher, wait)

        gs.send(crasher, ValueError("boom"))

        wait_down(crasher_ref)
        wait_down(ref)
        exc = caught.get(timeout=BOUND)
        assert exc.from_ == crasher
        assert repr(exc.reason) == "ValueError('boom')"
        assert str(exc) == f"exit signal from {crasher!r}: ValueError('boom')"
        assert repr(exc) == f"Exit(ValueError('boom'), from_={crasher!r})"

    def test_exit_names_its_caller(self) -> None:
        other = gs.spawn(block_forever)
        victim, ref, caught = spawn_wait_linked(other)

        gs.exit(victim, "kill")

        wait_down(ref)
        exc = caught.get(timeout=BOUND)
        assert (exc.from_, exc.reason) == (gs.self(), "killed")
        assert str(exc) == f"exit signal from {gs.self()!r}: 'killed'"
        gs.exit(other, "kill")

    def test_a_chain_names_the_nearest_link(self) -> None:
        """A dies of B's death, which died of C's: A's Exit names B."""
        c, c_ref = gs.spawn_monitor(exit_on_request)
        b, b_ref = spawn_linked_to(c)
        _, a_ref, caught = spawn_wait_linked(b)

        gs.send(c, "boom")

        for ref in (c_ref, b_ref, a_ref):
            assert wait_down(ref).reason == "boom"
        exc = caught.get(timeout=BOUND)
        assert (exc.from_, exc.reason) == (b, "boom")

    def test_linking_to_a_dead_process_names_it(self) -> None:
        dead, dead_ref = gs.spawn_monitor(exit_on_request)
        gs.send(dead, "normal")
        wait_down(dead_ref)
        caught: AsyncResult[gs.Exit] = AsyncResult()

        def link_dead() -> None:
            try:
                gs.link(dead)
            except gs.Exit as exc:
                caught.set(exc)
                raise

        wait_down(gs.spawn_monitor(link_dead)[1])

        exc = caught.get(timeout=BOUND)
        assert (exc.from_, exc.reason) == (dead, "noproc")

    def test_an_exit_raised_by_the_process_itself_names_nobody(self) -> None:
        exc = gs.Exit("done")

        assert (exc.from_, str(exc), repr(exc)) == (None, "done", "Exit('done')")
