"""Local names: register, unregister, whereis, registered."""

from __future__ import annotations

import pytest

import greenserver as gs
from greenserver.testing import wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0

PID = r"<0\.\d+\.0>"


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def echo(test: gs.Pid) -> None:
    while True:
        gs.send(test, ("echo", gs.receive()))


class TestRegister:
    def test_whereis_finds_the_pid(self) -> None:
        pid = gs.spawn(block_forever)

        gs.register("worker", pid)

        assert gs.whereis("worker") == pid
        assert "worker" in gs.registered()
        info = gs.info(pid)
        assert info is not None
        assert info["registered_name"] == "worker"
        gs.exit(pid, "kill")

    def test_send_by_name_reaches_the_process(self) -> None:
        pid = gs.spawn(echo, gs.self())
        gs.register("echo", pid)

        assert gs.send("echo", "hello") == "hello"

        assert gs.receive(timeout=BOUND) == ("echo", "hello")
        gs.exit(pid, "kill")

    def test_the_caller_can_register_itself(self) -> None:
        gs.register("the test", gs.self())

        gs.send("the test", "to myself")

        assert gs.receive(timeout=0) == "to myself"
        gs.unregister("the test")

    def test_taken_name_raises_already_registered(self) -> None:
        first = gs.spawn(block_forever)
        second = gs.spawn(block_forever)
        gs.register("taken", first)

        with pytest.raises(
            gs.AlreadyRegisteredError, match=rf"^name 'taken' is already registered to {PID}$"
        ) as info:
            gs.register("taken", second)

        assert repr(first) in str(info.value)
        assert gs.whereis("taken") == first
        gs.exit(first, "kill")
        gs.exit(second, "kill")

    def test_pid_with_a_name_cannot_take_a_second(self) -> None:
        pid = gs.spawn(block_forever)
        gs.register("first", pid)

        with pytest.raises(
            gs.AlreadyRegisteredError, match=rf"^{PID} is already registered as 'first'$"
        ):
            gs.register("second", pid)

        assert gs.whereis("second") is None
        assert gs.whereis("first") == pid
        gs.exit(pid, "kill")

    def test_dead_pid_raises_no_process_error(self) -> None:
        pid = gs.spawn(block_forever)
        gs.exit(pid, "kill")

        with pytest.raises(gs.NoProcessError, match=rf"^cannot register 'late': {PID} is dead$"):
            gs.register("late", pid)

        assert gs.whereis("late") is None

    @pytest.mark.parametrize("name", [42, None, b"bytes", ""])
    def test_name_must_be_a_non_empty_str(self, name: object) -> None:
        with pytest.raises(
            TypeError, match=rf"^a registered name must be a non-empty str; got {name!r}$"
        ):
            gs.register(name, gs.self())  # type: ignore[arg-type]

        assert gs.registered() == []

    def test_non_pid_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^register\(\) needs a Pid; got 'pid'$"):
            gs.register("name", "pid")  # type: ignore[arg-type]

    def test_name_is_freed_when_the_process_dies(self) -> None:
        pid = gs.spawn(block_forever)
        gs.register("reused", pid)

        gs.exit(pid, "kill")

        assert gs.whereis("reused") is None
        assert "reused" not in gs.registered()
        successor = gs.spawn(block_forever)
        gs.register("reused", successor)  # at once: no "already registered"
        assert gs.whereis("reused") == successor
        gs.exit(successor, "kill")

    def test_name_is_freed_when_the_process_returns(self) -> None:
        pid = gs.spawn(gs.receive)
        ref = gs.monitor(pid)
        gs.register("short-lived", pid)

        gs.send("short-lived", "done")

        assert wait_down(ref).reason == "normal"
        assert gs.whereis("short-lived") is None
        with pytest.raises(gs.NoProcessError, match=r"^no process is registered as 'short-lived'$"):
            gs.send("short-lived", "too late")


class TestUnregister:
    def test_frees_the_name_and_keeps_the_process(self) -> None:
        pid = gs.spawn(block_forever)
        gs.register("temp", pid)

        gs.unregister("temp")

        assert gs.whereis("temp") is None
        assert gs.alive(pid)
        info = gs.info(pid)
        assert info is not None
        assert info["registered_name"] is None
        gs.register("new name", pid)  # it may take another name now
        assert gs.whereis("new name") == pid
        gs.exit(pid, "kill")

    def test_unknown_name_raises_no_process_error(self) -> None:
        with pytest.raises(gs.NoProcessError, match=r"^no process is registered as 'nobody'$"):
            gs.unregister("nobody")

    def test_unregistered_name_no_longer_reaches_the_process(self) -> None:
        pid = gs.spawn(block_forever)
        gs.register("gone", pid)
        gs.unregister("gone")

        with pytest.raises(gs.NoProcessError, match=r"^no process is registered as 'gone'$"):
            gs.send("gone", "hello")

        gs.exit(pid, "kill")


class TestWhereis:
    def test_unknown_name_gives_none(self) -> None:
        assert gs.whereis("nobody") is None


class TestRegistered:
    def test_lists_every_name(self) -> None:
        a = gs.spawn(block_forever)
        b = gs.spawn(block_forever)
        gs.register("a", a)
        gs.register("b", b)

        names = gs.registered()

        assert type(names) is list
        assert sorted(names) == ["a", "b"]
        gs.exit(a, "kill")
        assert gs.registered() == ["b"]
        gs.exit(b, "kill")
        assert gs.registered() == []
