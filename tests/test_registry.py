"""Registry: keys to processes, entries that die with their process, Via names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import greenserver as gs
import greenserver.sys
from greenserver import _registry
from greenserver.testing import ReportLog, wait_all_idle, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0

PID = r"<0\.\d+\.0>"


def block_forever() -> None:
    """Wait for a message nothing sends: the process ends only when killed."""
    gs.receive(lambda _msg: False)


def registrant(test: gs.Pid, registry: str, entries: list[tuple[object, object]]) -> None:
    """Register every (key, value) of *entries*, tell the test, then obey its orders."""
    for key, value in entries:
        gs.Registry.register(registry, key, value)
    gs.send(test, ("registered", gs.self()))
    while True:
        msg = gs.receive()
        match msg:
            case ("unregister", key):
                gs.Registry.unregister(registry, key)
                gs.send(test, ("unregistered", gs.self()))
            case ("exit", reason):
                raise gs.Exit(reason)
            case other:
                gs.send(test, ("got", gs.self(), other))


def spawn_registered(registry: str, *entries: tuple[object, object]) -> gs.Pid:
    """Spawn a process that registers itself under each (key, value); wait until it has."""
    pid = gs.spawn(registrant, gs.self(), registry, list(entries))
    assert gs.receive(lambda m: m == ("registered", pid), timeout=BOUND) == ("registered", pid)
    return pid


def kill(*pids: gs.Pid) -> None:
    for pid in pids:
        gs.exit(pid, "kill")


def monitored_by_registry(registry: str) -> list[gs.Pid]:
    pid = gs.whereis(registry)
    assert pid is not None
    info = gs.info(pid)
    assert info is not None
    monitors: list[gs.Pid] = info["monitors"]  # type: ignore[assignment]
    return monitors


@pytest.fixture
def unique() -> Iterator[str]:
    gs.Registry.start_link("unique", name="reg")
    yield "reg"
    if gs.whereis("reg") is not None:
        gs.GenServer.stop("reg")


@pytest.fixture
def duplicate() -> Iterator[str]:
    gs.Registry.start_link("duplicate", name="topics")
    yield "topics"
    if gs.whereis("topics") is not None:
        gs.GenServer.stop("topics")


class Echo(gs.GenServer[Any]):
    """Replies with (its state, the request)."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply((state, request), state)


class TestStartLink:
    def test_registers_the_registry_under_its_name_and_links_it(self) -> None:
        pid = gs.Registry.start_link("unique", name="reg")

        assert gs.whereis("reg") == pid
        info = gs.info(pid)
        assert info is not None
        assert info["links"] == [gs.self()]
        assert info["current"] is gs.Registry
        gs.GenServer.stop("reg")

    def test_keys_may_be_passed_by_keyword(self) -> None:
        gs.Registry.start_link(keys="duplicate", name="topics")

        gs.Registry.register("topics", "t", 1)
        gs.Registry.register("topics", "t", 2)

        assert gs.Registry.lookup("topics", "t") == [(gs.self(), 1), (gs.self(), 2)]
        gs.GenServer.stop("topics")

    @pytest.mark.parametrize("keys", ["many", "Unique", None, 1])
    def test_bad_keys_raise_value_error(self, keys: object) -> None:
        with pytest.raises(
            ValueError,
            match=rf"^keys must be 'unique' or 'duplicate'; got {re.escape(repr(keys))}$",
        ):
            gs.Registry.start_link(keys, name="reg")  # type: ignore[arg-type]

        assert gs.whereis("reg") is None

    @pytest.mark.parametrize("name", [42, "", None])
    def test_name_must_be_a_non_empty_str(self, name: object) -> None:
        with pytest.raises(
            TypeError, match=rf"^a registry's name must be a non-empty str; got {name!r}$"
        ):
            gs.Registry.start_link("unique", name=name)  # type: ignore[arg-type]

    def test_name_is_required(self) -> None:
        with pytest.raises(TypeError, match=r"name"):
            gs.Registry.start_link("unique")  # type: ignore[call-arg]

    def test_taken_name_raises_already_started_error(self, unique: str) -> None:
        holder = gs.whereis(unique)

        with pytest.raises(gs.AlreadyStartedError) as info:
            gs.Registry.start_link("duplicate", name=unique)

        assert info.value.pid == holder

    def test_started_without_a_name_through_gen_server_fails(self) -> None:
        with pytest.raises(
            gs.StartError,
            match=r"^Registry failed to start: ValueError\('a gs\.Registry must be started "
            r"with a name \(a str\): it is addressed by it'\)$",
        ):
            gs.GenServer.start_link(gs.Registry, "unique")


class TestStart:
    def test_starts_without_a_link(self) -> None:
        pid = gs.Registry.start("duplicate", name="topics")

        info = gs.info(pid)
        assert info is not None
        assert info["links"] == []
        gs.GenServer.stop("topics")


class TestRegister:
    def test_registers_the_calling_process(self, unique: str) -> None:
        pid = spawn_registered(unique, ("worker", {"role": "a"}))

        assert gs.Registry.lookup(unique, "worker") == [(pid, {"role": "a"})]
        kill(pid)

    def test_value_defaults_to_none(self, unique: str) -> None:
        gs.Registry.register(unique, "me")

        assert gs.Registry.lookup(unique, "me") == [(gs.self(), None)]
        gs.Registry.unregister(unique, "me")

    def test_taken_unique_key_raises_already_registered_error(self, unique: str) -> None:
        holder = spawn_registered(unique, ("worker", 1))

        with pytest.raises(
            gs.AlreadyRegisteredError,
            match=rf"^key 'worker' in registry 'reg' is already registered to "
            rf"{re.escape(repr(holder))}$",
        ):
            gs.Registry.register(unique, "worker", 2)

        assert gs.Registry.lookup(unique, "worker") == [(holder, 1)]
        assert gs.Registry.keys(unique, gs.self()) == []
        kill(holder)

    def test_the_holder_cannot_register_a_unique_key_twice(self, unique: str) -> None:
        gs.Registry.register(unique, "me", 1)

        with pytest.raises(
            gs.AlreadyRegisteredError,
            match=rf"^key 'me' in registry 'reg' is already registered to "
            rf"{re.escape(repr(gs.self()))}$",
        ):
            gs.Registry.register(unique, "me", 2)

        assert gs.Registry.lookup(unique, "me") == [(gs.self(), 1)]
        gs.Registry.unregister(unique, "me")

    def test_one_process_may_hold_many_unique_keys(self, unique: str) -> None:
        pid = spawn_registered(unique, ("a", 1), ("b", 2))

        assert gs.Registry.lookup(unique, "a") == [(pid, 1)]
        assert gs.Registry.lookup(unique, "b") == [(pid, 2)]
        kill(pid)

    def test_duplicate_keys_hold_many_processes_in_registration_order(self, duplicate: str) -> None:
        pids = [spawn_registered(duplicate, ("news", n)) for n in range(10)]

        assert gs.Registry.lookup(duplicate, "news") == [(pid, n) for n, pid in enumerate(pids)]
        kill(*pids)

    def test_a_process_may_register_a_duplicate_key_twice(self, duplicate: str) -> None:
        gs.Registry.register(duplicate, "news", "first")
        gs.Registry.register(duplicate, "news", "second")

        me = gs.self()
        assert gs.Registry.lookup(duplicate, "news") == [(me, "first"), (me, "second")]
        gs.Registry.unregister(duplicate, "news")

    def test_the_registry_monitors_each_registrant_once(self, duplicate: str) -> None:
        pid = spawn_registered(duplicate, ("a", 1), ("b", 2), ("a", 3))

        assert monitored_by_registry(duplicate) == [pid]
        kill(pid)

    def test_unknown_registry_raises_no_process_error(self) -> None:
        with pytest.raises(
            gs.NoProcessError, match=r"^no registry is registered as 'nope'$"
        ) as info:
            gs.Registry.register("nope", "key", "value")

        assert info.value.server == "nope"

    def test_a_name_held_by_another_process_raises_value_error(self) -> None:
        pid = gs.spawn(block_forever)
        gs.register("plain", pid)

        with pytest.raises(
            ValueError,
            match=rf"^'plain' is registered to {re.escape(repr(pid))}, "
            r"which is not a gs\.Registry$",
        ):
            gs.Registry.register("plain", "key", "value")

        kill(pid)

    def test_a_registry_is_addressed_by_name_not_pid(self, unique: str) -> None:
        pid = gs.whereis(unique)

        with pytest.raises(
            TypeError,
            match=rf"^a registry is addressed by its name \(a str\); got {re.escape(repr(pid))}$",
        ):
            gs.Registry.register(pid, "key")  # type: ignore[arg-type]


class TestUnregister:
    def test_removes_the_callers_entries_only(self, duplicate: str) -> None:
        other = spawn_registered(duplicate, ("news", "other"))
        gs.Registry.register(duplicate, "news", "mine")
        gs.Registry.register(duplicate, "news", "mine again")

        gs.Registry.unregister(duplicate, "news")

        assert gs.Registry.lookup(duplicate, "news") == [(other, "other")]
        kill(other)

    def test_a_key_not_held_is_a_no_op(self, unique: str) -> None:
        holder = spawn_registered(unique, ("worker", 1))

        gs.Registry.unregister(unique, "worker")  # held by someone else
        gs.Registry.unregister(unique, "nobody")

        assert gs.Registry.lookup(unique, "worker") == [(holder, 1)]
        kill(holder)

    def test_frees_a_unique_key_for_another_process(self, unique: str) -> None:
        holder = spawn_registered(unique, ("worker", 1))
        gs.send(holder, ("unregister", "worker"))
        gs.receive(lambda m: m == ("unregistered", holder), timeout=BOUND)

        gs.Registry.register(unique, "worker", 2)

        assert gs.Registry.lookup(unique, "worker") == [(gs.self(), 2)]
        gs.Registry.unregister(unique, "worker")
        kill(holder)

    def test_ends_the_monitor_once_no_key_is_left(self, unique: str) -> None:
        gs.Registry.register(unique, "a")
        gs.Registry.register(unique, "b")

        gs.Registry.unregister(unique, "a")
        assert monitored_by_registry(unique) == [gs.self()]

        gs.Registry.unregister(unique, "b")
        assert monitored_by_registry(unique) == []

    def test_re_registering_after_unregister_still_cleans_up_on_death(self, unique: str) -> None:
        pid = spawn_registered(unique, ("worker", 1))
        gs.send(pid, ("unregister", "worker"))
        gs.receive(lambda m: m == ("unregistered", pid), timeout=BOUND)
        gs.send(pid, "ping")  # the registrant is alive and listening
        gs.receive(lambda m: m == ("got", pid, "ping"), timeout=BOUND)

        kill(pid)
        wait_all_idle()

        assert gs.Registry.count(unique) == 0
        assert monitored_by_registry(unique) == []


class TestLookup:
    def test_unknown_key_gives_an_empty_list(self, unique: str) -> None:
        assert gs.Registry.lookup(unique, "nothing") == []

    def test_a_dead_process_is_never_returned(self, duplicate: str) -> None:
        """Even before the registry has handled the Down: no switch happens in between."""
        first = spawn_registered(duplicate, ("news", 1))
        second = spawn_registered(duplicate, ("news", 2))

        kill(first)

        registry = gs.whereis(duplicate)
        assert registry is not None
        info = gs.info(registry)
        assert info is not None
        assert info["message_queue_len"] == 1  # the Down, not handled yet
        assert gs.Registry.lookup(duplicate, "news") == [(second, 2)]
        kill(second)

    def test_entries_are_gone_after_the_registrants_down(self, unique: str) -> None:
        pid = spawn_registered(unique, ("worker", 1))
        ref = gs.monitor(pid)

        gs.send(pid, ("exit", "normal"))

        assert wait_down(ref).reason == "normal"
        assert gs.Registry.lookup(unique, "worker") == []

    def test_works_from_a_process_that_is_not_the_registrant(self, unique: str) -> None:
        holder = spawn_registered(unique, ("worker", 1))
        me = gs.self()

        def reader() -> None:
            gs.send(me, ("read", gs.Registry.lookup("reg", "worker")))

        gs.spawn(reader)

        answer = gs.receive(lambda m: type(m) is tuple and m[0] == "read", timeout=BOUND)
        assert answer == ("read", [(holder, 1)])
        kill(holder)


class TestDispatch:
    def test_calls_fn_with_the_entries_in_the_callers_process(self, duplicate: str) -> None:
        a = spawn_registered(duplicate, ("news", "a"))
        b = spawn_registered(duplicate, ("news", "b"))
        calls: list[tuple[gs.Pid, object, object]] = []

        gs.Registry.dispatch(
            duplicate, "news", lambda entries, extra: calls.append((gs.self(), entries, extra)), 7
        )

        assert calls == [(gs.self(), [(a, "a"), (b, "b")], 7)]
        kill(a, b)

    def test_fn_is_not_called_without_entries(self, duplicate: str) -> None:
        dead = spawn_registered(duplicate, ("news", "dead"))
        kill(dead)
        calls: list[object] = []

        gs.Registry.dispatch(duplicate, "news", calls.append)
        gs.Registry.dispatch(duplicate, "sports", calls.append)

        assert calls == []

    def test_publishes_to_every_subscriber(self, duplicate: str) -> None:
        subscribers = [spawn_registered(duplicate, ("news", n)) for n in range(3)]
        other_topic = spawn_registered(duplicate, ("sports", "s"))

        def publish(entries: list[tuple[gs.Pid, object]]) -> None:
            for pid, value in entries:
                gs.send(pid, ("news for", value))

        gs.Registry.dispatch(duplicate, "news", publish)

        for n, pid in enumerate(subscribers):
            got = gs.receive(lambda m, pid=pid: m[:2] == ("got", pid), timeout=BOUND)
            assert got == ("got", pid, ("news for", n))
        gs.send(other_topic, "barrier")
        assert gs.receive(timeout=BOUND) == ("got", other_topic, "barrier")
        kill(*subscribers, other_topic)

    def test_an_exception_in_fn_reaches_the_caller(self, unique: str) -> None:
        gs.Registry.register(unique, "me")

        def fail(entries: list[tuple[gs.Pid, object]]) -> None:
            raise RuntimeError(f"got {len(entries)}")

        with pytest.raises(RuntimeError, match=r"^got 1$"):
            gs.Registry.dispatch(unique, "me", fail)

        gs.Registry.unregister(unique, "me")


class TestKeys:
    def test_lists_the_keys_in_registration_order(self, duplicate: str) -> None:
        pid = spawn_registered(duplicate, ("b", 1), ("a", 2), ("b", 3))

        assert gs.Registry.keys(duplicate, pid) == ["b", "a", "b"]
        kill(pid)

    def test_after_unregister(self, unique: str) -> None:
        gs.Registry.register(unique, "a")
        gs.Registry.register(unique, "b")

        gs.Registry.unregister(unique, "a")

        assert gs.Registry.keys(unique, gs.self()) == ["b"]
        gs.Registry.unregister(unique, "b")

    def test_a_process_without_keys_or_dead_has_none(self, unique: str) -> None:
        pid = spawn_registered(unique, ("a", 1))
        kill(pid)

        assert gs.Registry.keys(unique, pid) == []
        assert gs.Registry.keys(unique, gs.self()) == []

    def test_needs_a_pid(self, unique: str) -> None:
        with pytest.raises(TypeError, match=r"^Registry\.keys\(\) needs a Pid; got 'me'$"):
            gs.Registry.keys(unique, "me")  # type: ignore[arg-type]


class TestCount:
    def test_counts_live_entries(self, duplicate: str) -> None:
        assert gs.Registry.count(duplicate) == 0
        a = spawn_registered(duplicate, ("x", 1), ("y", 2))
        b = spawn_registered(duplicate, ("x", 3))
        assert gs.Registry.count(duplicate) == 3

        kill(a)  # before the registry has handled the Down

        assert gs.Registry.count(duplicate) == 1
        kill(b)
        assert gs.Registry.count(duplicate) == 0


class TestDeath:
    def test_the_registry_forgets_a_dead_registrant(self, duplicate: str) -> None:
        pid = spawn_registered(duplicate, ("x", 1), ("y", 2), ("x", 3))
        survivor = spawn_registered(duplicate, ("x", 4))
        registry = gs.whereis(duplicate)
        assert registry is not None

        kill(pid)
        wait_all_idle()  # the registry has handled the Down

        table = _registry._tables[registry]  # internal: nothing is kept for the dead
        assert pid._proc not in table.owners
        assert table.entries == {"x": [(survivor._proc, 4)]}
        kill(survivor)

    def test_a_dead_holders_unique_key_is_free_at_once(self, unique: str) -> None:
        holder = spawn_registered(unique, ("worker", 1))
        kill(holder)

        gs.Registry.register(unique, "worker", 2)  # the Down is not handled yet
        wait_all_idle()  # now it is, and it leaves the new entry alone

        assert gs.Registry.lookup(unique, "worker") == [(gs.self(), 2)]
        assert gs.Registry.keys(unique, gs.self()) == ["worker"]
        gs.Registry.unregister(unique, "worker")

    def test_entries_die_with_the_registry(self) -> None:
        registry = gs.Registry.start("unique", name="reg")
        gs.Registry.register("reg", "me")
        ref = gs.monitor(registry)

        gs.exit(registry, "kill")

        assert wait_down(ref).reason == "killed"
        with pytest.raises(gs.NoProcessError, match=r"^no registry is registered as 'reg'$"):
            gs.Registry.lookup("reg", "me")
        gs.Registry.start_link("unique", name="reg")
        assert gs.Registry.lookup("reg", "me") == []
        assert registry not in _registry._tables  # internal: the killed one's table is swept
        gs.GenServer.stop("reg")

    def test_a_stopped_registry_drops_its_table(self) -> None:
        registry = gs.Registry.start_link("unique", name="reg")

        gs.GenServer.stop("reg")

        assert registry not in _registry._tables  # internal


class TestVia:
    def test_names_a_gen_server(self, unique: str) -> None:
        via = gs.Via(unique, "echo")
        pid = Echo.start_link("state", name=via)

        assert gs.GenServer.whereis(via) == pid
        assert gs.GenServer.call(via, "hi") == ("state", "hi")
        assert gs.Registry.lookup(unique, "echo") == [(pid, None)]
        assert gs.Registry.keys(unique, pid) == ["echo"]
        gs.GenServer.stop(via)
        assert gs.GenServer.whereis(via) is None

    def test_the_value_is_stored_with_the_entry(self, unique: str) -> None:
        pid = Echo.start_link(None, name=gs.Via(unique, "echo", {"shard": 3}))

        assert gs.Registry.lookup(unique, "echo") == [(pid, {"shard": 3})]
        gs.GenServer.stop(pid)

    def test_send_and_monitor_reach_the_process(self, unique: str) -> None:
        pid = spawn_registered(unique, ("worker", None))
        via = gs.Via(unique, "worker")

        assert gs.send(via, "hello") == "hello"
        assert gs.receive(timeout=BOUND) == ("got", pid, "hello")
        ref = gs.monitor(via)
        kill(pid)
        assert wait_down(ref) == gs.Down(ref, pid, "killed")

    def test_a_taken_key_raises_already_started_error(self, unique: str) -> None:
        via = gs.Via(unique, "echo")
        first = Echo.start_link(None, name=via)

        with pytest.raises(
            gs.AlreadyStartedError,
            match=rf"^name Via\(registry='reg', key='echo', value=None\) is already taken by "
            rf"{re.escape(repr(first))}$",
        ) as info:
            Echo.start_link(None, name=via)

        assert info.value.pid == first
        gs.GenServer.stop(first)

    def test_a_replacement_takes_the_name_right_after_a_kill(self, unique: str) -> None:
        via = gs.Via(unique, "echo")
        first = Echo.start(1, name=via)
        gs.exit(first, "kill")

        second = Echo.start(2, name=via)  # the registry has not handled the Down yet

        assert gs.GenServer.whereis(via) == second
        assert gs.GenServer.call(via, "who") == (2, "who")
        wait_all_idle()
        assert gs.Registry.lookup(unique, "echo") == [(second, None)]
        gs.GenServer.stop(second)

    def test_an_unknown_key(self, unique: str) -> None:
        via = gs.Via(unique, "nobody")

        assert gs.GenServer.whereis(via) is None
        assert gs.GenServer.cast(via, "x") is None
        with pytest.raises(
            gs.NoProcessError,
            match=r"^no process is registered as Via\(registry='reg', key='nobody', value=None\)$",
        ):
            gs.send(via, "x")
        with pytest.raises(
            gs.NoProcessError,
            match=r"^no process Via\(registry='reg', key='nobody', value=None\)$",
        ):
            gs.GenServer.call(via, "x")
        ref = gs.monitor(via)
        assert wait_down(ref) == gs.Down(ref, via, "noproc")

    def test_an_unknown_registry(self) -> None:
        via = gs.Via("nope", "key")

        assert gs.GenServer.whereis(via) is None
        with pytest.raises(gs.NoProcessError, match=r"^no registry is registered as 'nope'$"):
            gs.send(via, "x")

    def test_a_duplicate_registry_cannot_name_a_process(self, duplicate: str) -> None:
        message = (
            r"^Via\(registry='topics', key='k', value=None\) cannot name a process: 'topics' "
            r"is a duplicate registry; a gs\.Via needs a unique one$"
        )

        with pytest.raises(ValueError, match=message):
            gs.GenServer.whereis(gs.Via(duplicate, "k"))
        with pytest.raises(ValueError, match=message):
            gs.send(gs.Via(duplicate, "k"), "x")

    # Unlinked starts: today the kernel lets an error from the Via backend crash
    # the new process before init_fail() unlinks it, which would kill a linked caller.
    def test_starting_under_a_duplicate_registry_fails(self, duplicate: str) -> None:
        """A refused name fails the start; nothing crashed, so nothing is reported."""
        with pytest.raises(gs.StartError) as info:
            Echo.start(None, name=gs.Via(duplicate, "k"))

        assert isinstance(info.value.reason, ValueError)
        assert gs.Registry.count(duplicate) == 0

    def test_starting_under_an_unknown_registry_fails(self) -> None:
        with pytest.raises(gs.StartError) as info:
            Echo.start(None, name=gs.Via("nope", "k"))

        assert isinstance(info.value.reason, gs.NoProcessError)
        assert str(info.value.reason) == "no registry is registered as 'nope'"


class TestBehaviourProcess:
    def test_sys_get_state_shows_the_live_entries(self, unique: str) -> None:
        gs.Registry.register(unique, "me", 1)

        state = greenserver.sys.get_state(unique)

        assert state.live() == {"me": [(gs.self(), 1)]}
        assert repr(state) == f"<registry table unique {{'me': [({gs.self()!r}, 1)]}}>"
        gs.Registry.unregister(unique, "me")

    def test_a_stray_message_is_logged_and_ignored(
        self, unique: str, gs_reports: ReportLog
    ) -> None:
        gs.send(unique, "stray")
        wait_all_idle()

        [event] = gs_reports.of("unexpected_message")
        assert event["message"] == "'stray'"
        assert gs.Registry.count(unique) == 0

    def test_a_forged_down_is_ignored(self, unique: str) -> None:
        gs.Registry.register(unique, "me")

        gs.send(unique, gs.Down(gs.Ref(), gs.self(), "forged"))
        wait_all_idle()

        assert gs.Registry.lookup(unique, "me") == [(gs.self(), None)]
        gs.Registry.unregister(unique, "me")

    def test_supervised_through_its_child_spec(self) -> None:
        sup = gs.Supervisor.start_link([(gs.Registry, {"keys": "duplicate", "name": "topics"})])

        [(child_id, pid, kind)] = gs.Supervisor.which_children(sup)

        assert child_id == "topics"
        assert kind == "worker"
        assert gs.whereis("topics") == pid
        gs.Supervisor.stop(sup)

    def test_child_spec_needs_the_start_link_options(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^Registry\.child_spec\(\) needs the start_link options as a dict, like "
            r"\{'keys': 'unique', 'name': 'reg'\}; got None$",
        ):
            gs.Registry.child_spec(None)
