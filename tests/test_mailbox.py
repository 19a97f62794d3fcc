"""Messages: send, receive (FIFO and selective) and the Mailbox underneath."""

from __future__ import annotations

import math
import re

import gevent
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import greenserver as gs
from greenserver._mailbox import Interrupted, Mailbox
from greenserver.testing import wait_all_idle, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def send_all(dest: gs.Pid, messages: list[object]) -> None:
    for msg in messages:
        gs.send(dest, msg)


def is_int(msg: object) -> bool:
    return type(msg) is int


class TestSend:
    def test_returns_the_message(self) -> None:
        msg = {"any": "object"}

        assert gs.send(gs.self(), msg) is msg

        assert gs.receive(timeout=0) is msg

    def test_to_a_dead_pid_is_dropped_silently(self) -> None:
        pid = gs.spawn(block_forever)
        gs.exit(pid, "kill")
        msg = ("for", "nobody")

        assert gs.send(pid, msg) is msg

        assert gs.info(pid) is None

    def test_to_an_unknown_name_raises_no_process_error(self) -> None:
        with pytest.raises(
            gs.NoProcessError, match=r"^no process is registered as 'nobody'$"
        ) as info:
            gs.send("nobody", "hello")

        assert isinstance(info.value, LookupError)
        assert info.value.server == "nobody"
        assert info.value.request == "hello"

    def test_bad_destination_raises_type_error(self) -> None:
        with pytest.raises(
            TypeError,
            match=(
                r"^expected a Pid, a registered name \(str\), a \(name, node\) pair "
                r"or a gs\.Via; got 3\.5$"
            ),
        ):
            gs.send(3.5, "hello")

    def test_never_blocks_even_on_a_full_mailbox(self) -> None:
        pid = gs.spawn(block_forever)

        for n in range(10_000):
            gs.send(pid, n)

        info = gs.info(pid)
        assert info is not None
        assert info["message_queue_len"] == 10_000
        gs.exit(pid, "kill")

    def test_from_many_senders_each_keeps_its_order(self) -> None:
        test = gs.self()
        refs = [gs.spawn_monitor(send_all, test, [(s, n) for n in range(50)])[1] for s in range(5)]
        for ref in refs:
            assert wait_down(ref).reason == "normal"

        received: list[object] = []
        while True:
            try:
                received.append(gs.receive(timeout=0))
            except TimeoutError:
                break

        assert len(received) == 250
        for s in range(5):
            assert [m for m in received if type(m) is tuple and m[0] == s] == [
                (s, n) for n in range(50)
            ]


class TestReceive:
    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=60))
    def test_messages_from_one_sender_arrive_in_order(self, messages: list[object]) -> None:
        pid, ref = gs.spawn_monitor(send_all, gs.self(), messages)

        received = [gs.receive(lambda m: type(m) is not gs.Down, timeout=BOUND) for _ in messages]

        assert received == messages
        assert wait_down(ref) == gs.Down(ref, pid, "normal")

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=60))
    def test_selective_receive_keeps_both_subsequences_in_order(
        self, messages: list[object]
    ) -> None:
        pid, ref = gs.spawn_monitor(send_all, gs.self(), messages)
        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        ints = [m for m in messages if is_int(m)]

        first = [gs.receive(is_int, timeout=0) for _ in ints]
        rest = [gs.receive(timeout=0) for _ in range(len(messages) - len(ints))]

        assert first == ints
        assert rest == [m for m in messages if not is_int(m)]
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)

    def test_selective_receive_waits_for_a_match_and_leaves_the_rest(self) -> None:
        def sender(test: gs.Pid) -> None:
            gs.receive()  # "go"
            for msg in ("a", "b", 1, "c"):
                gs.send(test, msg)

        pid, ref = gs.spawn_monitor(sender, gs.self())
        gs.send(pid, "go")

        assert gs.receive(is_int, timeout=BOUND) == 1

        assert wait_down(ref).reason == "normal"
        assert [gs.receive(timeout=0) for _ in range(3)] == ["a", "b", "c"]

    def test_blocked_receive_is_woken_by_a_message(self) -> None:
        def fn(test: gs.Pid) -> None:
            gs.send(test, ("got", gs.receive()))

        pid, ref = gs.spawn_monitor(fn, gs.self())
        wait_all_idle()

        gs.send(pid, "wake up")

        assert gs.receive(timeout=BOUND) == ("got", "wake up")
        assert wait_down(ref).reason == "normal"

    def test_timeout_raises_builtin_timeout_error(self) -> None:
        with pytest.raises(TimeoutError) as info:
            gs.receive(timeout=0.05)

        assert type(info.value) is TimeoutError

    def test_timeout_with_match_leaves_the_queue_alone(self) -> None:
        gs.send(gs.self(), "unmatched")

        with pytest.raises(TimeoutError):
            gs.receive(is_int, timeout=0.05)

        assert gs.receive(timeout=0) == "unmatched"

    def test_timeout_fires_while_other_processes_exchange_messages_forever(self) -> None:
        """Direct hand-offs between processes never starve the hub's timers."""

        def player() -> None:
            while True:
                other = gs.receive()
                assert type(other) is gs.Pid
                gs.send(other, gs.self())

        a, ref_a = gs.spawn_monitor(player)
        b, ref_b = gs.spawn_monitor(player)
        gs.send(a, b)

        with pytest.raises(TimeoutError):
            gs.receive(timeout=0.05)

        info = gs.info(a)
        assert info is not None
        assert info["reductions"] > 100  # type: ignore[operator]
        gs.exit(a, "kill")
        gs.exit(b, "kill")
        assert gs.receive(timeout=0) == gs.Down(ref_a, a, "killed")
        assert gs.receive(timeout=0) == gs.Down(ref_b, b, "killed")

    def test_messages_sent_before_dying_arrive_before_the_down(self) -> None:
        def fn(test: gs.Pid) -> None:
            for n in range(3):
                gs.send(test, n)
            raise gs.Exit("done")

        pid, ref = gs.spawn_monitor(fn, gs.self())

        received = [gs.receive(timeout=BOUND) for _ in range(4)]

        assert received == [0, 1, 2, gs.Down(ref, pid, "done")]

    def test_message_after_a_timeout_is_kept_for_the_next_receive(self) -> None:
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0.01)
        pid, ref = gs.spawn_monitor(gs.send, gs.self(), "late")

        assert wait_down(ref) == gs.Down(ref, pid, "normal")
        assert gs.receive(timeout=0) == "late"

    def test_message_in_time_beats_the_timeout(self) -> None:
        pid, ref = gs.spawn_monitor(gs.send, gs.self(), "in time")

        assert gs.receive(lambda m: m == "in time", timeout=BOUND) == "in time"
        assert wait_down(ref) == gs.Down(ref, pid, "normal")

    def test_timeout_zero_polls(self) -> None:
        with pytest.raises(TimeoutError):
            gs.receive(timeout=0)
        gs.send(gs.self(), "queued")

        assert gs.receive(timeout=0) == "queued"
        gs.send(gs.self(), "float zero")
        assert gs.receive(timeout=0.0) == "float zero"

    @pytest.mark.parametrize("timeout", [-1, -0.001, "x", math.nan, True, [1]])
    def test_bad_timeout_raises_value_error(self, timeout: object) -> None:
        gs.send(gs.self(), "queued")
        got = re.escape(repr(timeout))

        with pytest.raises(
            ValueError, match=rf"^timeout must be a number of seconds >= 0 or None; got {got}$"
        ):
            gs.receive(timeout=timeout)  # type: ignore[arg-type]

        assert gs.receive(timeout=0) == "queued"  # nothing was taken

    def test_match_that_raises_on_a_queued_message_raises_in_the_receiver(self) -> None:
        gs.send(gs.self(), 0)

        with pytest.raises(ZeroDivisionError):
            gs.receive(lambda m: 1 / m, timeout=0)

        assert gs.receive(timeout=0) == 0  # still queued

    def test_match_that_raises_on_a_new_message_raises_in_the_receiver(self) -> None:
        def fn(test: gs.Pid) -> None:
            try:
                gs.receive(lambda m: 1 / m)
            except ZeroDivisionError as exc:
                gs.send(test, ("raised", exc, gs.receive(timeout=0)))

        pid, ref = gs.spawn_monitor(fn, gs.self())
        wait_all_idle()

        assert gs.send(pid, 0) == 0  # the sender is not hurt

        msg = gs.receive(timeout=BOUND)
        assert type(msg) is tuple
        assert type(msg[1]) is ZeroDivisionError
        assert msg[2] == 0
        assert wait_down(ref).reason == "normal"

    def test_counts_reductions(self) -> None:
        def fn(test: gs.Pid) -> None:
            gs.receive()
            gs.receive()
            gs.send(test, "ready")
            block_forever()

        pid, ref = gs.spawn_monitor(fn, gs.self())
        gs.send(pid, 1)
        gs.send(pid, 2)
        assert gs.receive(timeout=BOUND) == "ready"

        info = gs.info(pid)

        assert info is not None
        assert info["reductions"] == 2
        gs.exit(pid, "kill")
        assert gs.receive(timeout=0) == gs.Down(ref, pid, "killed")


class TestMailbox:
    def test_get_is_fifo(self) -> None:
        box = Mailbox()
        for n in range(5):
            box.put(n)

        assert len(box) == 5
        assert [box.get(None, 0) for _ in range(5)] == [0, 1, 2, 3, 4]
        assert len(box) == 0

    def test_empty_get_with_zero_timeout_raises_timeout_error(self) -> None:
        box = Mailbox()

        with pytest.raises(TimeoutError):
            box.get(None, 0)

    def test_selective_get_takes_the_first_match_and_keeps_the_order(self) -> None:
        box = Mailbox()
        for msg in ["a", 1, "b", 2, "c"]:
            box.put(msg)

        assert box.get(is_int, 0) == 1

        assert box.messages() == ["a", "b", 2, "c"]

    def test_remove_if_drops_matches_and_keeps_the_order(self) -> None:
        box = Mailbox()
        for msg in ["a", 1, "b", 2, "c"]:
            box.put(msg)

        assert box.remove_if(is_int) == 2

        assert box.messages() == ["a", "b", "c"]
        assert box.remove_if(is_int) == 0
        assert Mailbox().remove_if(is_int) == 0

    def test_messages_is_a_copy(self) -> None:
        box = Mailbox()
        box.put("a")

        box.messages().append("b")

        assert box.messages() == ["a"]

    def test_compact_releases_an_empty_queue_only(self) -> None:
        box = Mailbox()
        box.put("a")
        box.compact()
        assert box.messages() == ["a"]
        box.get(None, 0)

        box.compact()

        assert box._items is None
        assert len(box) == 0
        box.put("b")
        assert box.get(None, 0) == "b"

    def test_clear_drops_everything(self) -> None:
        box = Mailbox()
        box.put("a")

        box.clear()

        assert len(box) == 0
        assert box.messages() == []

    def test_blocked_get_times_out(self) -> None:
        box = Mailbox()

        with pytest.raises(TimeoutError):
            box.get(None, 0.01)

        assert box._waiter is None

    def test_blocked_get_is_woken_by_a_matching_put_only(self) -> None:
        box = Mailbox()

        def put_later() -> None:
            box.put("ignored")
            box.put(7)

        gevent.spawn(put_later)  # a plain greenlet: Mailbox knows nothing of processes

        assert box.get(is_int, BOUND) == 7
        assert box.messages() == ["ignored"]

    def test_interrupt_ends_a_blocked_get(self) -> None:
        box = Mailbox()
        results: list[bool] = []
        assert box.interrupt() is False  # nobody waits

        gevent.spawn(lambda: results.append(box.interrupt()))

        with pytest.raises(Interrupted):
            box.get(None, BOUND)
        assert results == [True]
        assert box._waiter is None
