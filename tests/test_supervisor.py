"""Supervisor: child specs, start and stop order, strategies, restart types,
shutdown, restart intensity, the child management API and nesting.

Children here are of three kinds: ``idle`` processes started with
``gs.spawn_link`` (they exit with whatever reason they are sent), ``Probe``
servers that tell the test when they start and when their ``terminate``
runs, and ``Stubborn`` servers whose ``terminate`` will not finish. Every
supervisor request is a call, so one (``which_children``) is the barrier
after a kill: the supervisor handles the exit signal, restarts included,
before it answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import ManualClock, ReportLog, wait_all_idle, wait_down
from stack import Stack

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


# --- children -------------------------------------------------------------------


def idle() -> None:
    """A plain child: wait for ``("exit", reason)``, then exit with that reason."""
    while True:
        msg = gs.receive()
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "exit":
            raise gs.Exit(msg[1])


def worker(child_id: object, **options: Any) -> gs.ChildSpec:
    return gs.ChildSpec(child_id, start=(gs.spawn_link, (idle,)), **options)


def ignore() -> None:
    """A start function that leaves its child out (OTP's ``ignore``)."""
    return None


class Probe(gs.GenServer[Any]):
    """Tells the test ``("started", id)`` and ``("terminated", id, reason)``.

    It traps exits, so the supervisor's ``"shutdown"`` runs ``terminate``.
    Kill it with ``"kill"``: a trapped ``gs.exit`` from the test would be a
    plain message to it.
    """

    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        child_id, _test = arg
        return super().child_spec(arg).replace(id=child_id)

    def init(self, arg: Any) -> gs.Ok[Any]:
        child_id, test = arg
        gs.trap_exits(True)
        gs.send(test, ("started", child_id))
        return gs.Ok(arg)

    def terminate(self, reason: Any, state: Any) -> None:
        child_id, test = state
        gs.send(test, ("terminated", child_id, reason))


class Stubborn(gs.GenServer[Any]):
    """Traps exits; its ``terminate`` tells the test, then waits for ``"go"``."""

    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        child_id, _test = arg
        return super().child_spec(arg).replace(id=child_id)

    def init(self, arg: Any) -> gs.Ok[Any]:
        gs.trap_exits(True)
        return gs.Ok(arg)

    def terminate(self, reason: Any, state: Any) -> None:
        child_id, test = state
        gs.send(test, ("terminating", child_id, gs.self()))
        gs.receive(lambda m: m == "go")


class Counter(gs.GenServer[Any]):
    """Keeps its start argument; ``"get"`` returns it."""

    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(state, state)


class Named(Counter):
    """A Counter whose overridden child_spec picks its id and restart type."""

    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        return super().child_spec(arg).replace(id="named", restart="transient")


class Ignoring(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ignore:
        return gs.Ignore()


class Refusing(gs.GenServer[Any]):
    """Its init returns Stop(arg); its child id is "x"."""

    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        return super().child_spec(arg).replace(id="x")

    def init(self, arg: Any) -> gs.Stop[Any]:
        return gs.Stop(arg)


class BadTerminate(gs.GenServer[Any]):
    @classmethod
    def child_spec(cls, arg: Any) -> gs.ChildSpec:
        return super().child_spec(arg).replace(id="b")

    def init(self, arg: Any) -> gs.Ok[Any]:
        gs.trap_exits(True)
        return gs.Ok(arg)

    def terminate(self, reason: Any, state: Any) -> None:
        raise RuntimeError("cleanup failed")


class Flaky:
    """A start function that fails its next ``failures`` calls."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls = 0

    def __call__(self) -> gs.Pid:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("not now")
        return gs.spawn_link(idle)


# --- supervisors in module form -------------------------------------------------


class Inner(gs.Supervisor):
    """A module-form supervisor: its children come from its argument."""

    def init(self, arg: Any) -> Any:
        children, strategy = arg
        return gs.Supervisor.spec(children, strategy=strategy)


class IgnoringSup(gs.Supervisor):
    def init(self, arg: Any) -> gs.Ignore:
        return gs.Ignore()


class BadInitSup(gs.Supervisor):
    def init(self, arg: Any) -> Any:
        return [worker("a")]


class NoInitSup(gs.Supervisor):
    pass


class RaisingSup(gs.Supervisor):
    def init(self, arg: Any) -> Any:
        raise ValueError("bad config")


# --- helpers ----------------------------------------------------------------------


def quit_with(pid: gs.Pid, reason: object) -> None:
    """Make an ``idle`` child exit with *reason* by itself; return once it is dead."""
    ref = gs.monitor(pid)
    gs.send(pid, ("exit", reason))
    assert wait_down(ref).reason == reason


def kill(pid: object, reason: object = "kill") -> None:
    assert type(pid) is gs.Pid
    gs.exit(pid, reason)


def children(sup: object) -> dict[object, Any]:
    """Child ids to pids (``None`` or ``"restarting"`` for no pid)."""
    return {child_id: pid for child_id, pid, _ in gs.Supervisor.which_children(sup)}


def is_event(msg: object) -> bool:
    return type(msg) is tuple and bool(msg) and msg[0] in ("started", "terminated")


def take_events() -> list[tuple[Any, ...]]:
    """Take the Probe messages already in the mailbox, oldest first.

    A Probe sends them from ``init`` (before its start returns) and from
    ``terminate`` (before it exits): once a supervisor call returns, those
    of everything the supervisor did before are here.
    """
    events = []
    while True:
        try:
            msg = gs.receive(is_event, timeout=0)
        except TimeoutError:
            return events
        assert type(msg) is tuple
        events.append(msg)


def exit_signal_from(pid: gs.Pid) -> gs.ExitSignal:
    msg = gs.receive(lambda m: isinstance(m, gs.ExitSignal) and m.pid == pid, timeout=BOUND)
    assert isinstance(msg, gs.ExitSignal)
    return msg


def pick(report: Any, *keys: str) -> dict[str, Any]:
    return {key: report[key] for key in keys}


REPORT_KEYS = ("supervisor", "child_id", "pid", "reason", "context", "strategy")


@pytest.fixture
def trapping() -> Iterator[None]:
    """Trap exits in the test: a supervisor that gives up must not kill it."""
    old = gs.trap_exits(True)
    yield
    gs.trap_exits(old)


# --- tests -----------------------------------------------------------------------


class TestChildSpec:
    def test_defaults_for_a_worker(self) -> None:
        spec = gs.ChildSpec("w", start=(idle, (), {}))

        assert spec.id == "w"
        assert spec.start == (idle, (), {})
        assert spec.restart == "permanent"
        assert spec.shutdown == 5.0
        assert spec.type == "worker"

    def test_a_supervisor_waits_forever_by_default(self) -> None:
        spec = gs.ChildSpec("s", start=(idle,), type="supervisor")

        assert spec.shutdown is None

    def test_short_start_forms_are_completed(self) -> None:
        assert gs.ChildSpec("a", start=(idle,)).start == (idle, (), {})
        assert gs.ChildSpec("a", start=(idle, [1, 2])).start == (idle, (1, 2), {})

    def test_gen_server_child_spec_starts_it_linked_with_the_arg(self) -> None:
        spec = Counter.child_spec(7)

        assert spec.id is Counter
        assert spec.start[1:] == ((7,), {})
        assert (spec.restart, spec.shutdown, spec.type) == ("permanent", 5.0, "worker")

    def test_supervisor_child_spec_is_a_supervisor_with_infinite_shutdown(self) -> None:
        spec = Inner.child_spec(([], "one_for_one"))

        assert spec.id is Inner
        assert spec.start[1:] == ((([], "one_for_one"),), {})
        assert (spec.restart, spec.shutdown, spec.type) == ("permanent", None, "supervisor")

    def test_replace_changes_only_the_given_fields(self) -> None:
        spec = worker("a").replace(restart="temporary", shutdown="brutal_kill")

        assert spec == gs.ChildSpec(
            "a", start=(gs.spawn_link, (idle,)), restart="temporary", shutdown="brutal_kill"
        )

    def test_replace_rejects_unknown_fields(self) -> None:
        with pytest.raises(TypeError, match=r"^unknown child spec fields \['color'\]$"):
            worker("a").replace(color="red")

    def test_the_same_shorthand_gives_equal_specs(self) -> None:
        assert Counter.child_spec(1) == Counter.child_spec(1)

    def test_unhashable_id_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match=r"^child spec id must be hashable; got \['a'\]$"):
            gs.ChildSpec(["a"], start=(idle,))

    @pytest.mark.parametrize("restart", ["always", None, "Permanent"])
    def test_bad_restart_is_a_value_error(self, restart: object) -> None:
        message = (
            r"^child 'a': restart must be 'permanent', 'transient' or 'temporary'; "
            rf"got {restart!r}$"
        )
        with pytest.raises(ValueError, match=message):
            gs.ChildSpec("a", start=(idle,), restart=restart)  # type: ignore[arg-type]

    @pytest.mark.parametrize("shutdown", [-1, -0.5, True, "infinity", "kill", [5]])
    def test_bad_shutdown_is_a_value_error(self, shutdown: object) -> None:
        message = (
            r"^child 'a': shutdown must be seconds >= 0, 'brutal_kill' or None; "
            rf"got {shutdown!r}$".replace("[", r"\[").replace("]", r"\]")
        )
        with pytest.raises(ValueError, match=message):
            gs.ChildSpec("a", start=(idle,), shutdown=shutdown)

    @pytest.mark.parametrize("shutdown", [0, 0.05, 5, "brutal_kill", None])
    def test_good_shutdowns_are_kept(self, shutdown: object) -> None:
        assert gs.ChildSpec("a", start=(idle,), shutdown=shutdown).shutdown == shutdown

    def test_bad_type_is_a_value_error(self) -> None:
        with pytest.raises(
            ValueError, match=r"^child 'a': type must be 'worker' or 'supervisor'; got 'boss'$"
        ):
            gs.ChildSpec("a", start=(idle,), type="boss")

    @pytest.mark.parametrize(
        ("start", "message"),
        [
            (42, r"^child 'a': start must be \(callable, args, kwargs\); got 42$"),
            ((), r"^child 'a': start must be \(callable, args, kwargs\); got \(\)$"),
            ((42,), r"^child 'a': start\[0\] must be callable; got 42$"),
            ((idle, 1), r"^child 'a': start args must be a tuple; got 1$"),
            ((idle, (), []), r"^child 'a': start kwargs must be a dict; got \[\]$"),
        ],
    )
    def test_bad_start_is_a_type_error(self, start: object, message: str) -> None:
        with pytest.raises(TypeError, match=message):
            gs.ChildSpec("a", start=start)  # type: ignore[arg-type]


class TestStartLink:
    def test_list_form_starts_children_in_order(self) -> None:
        test = gs.self()

        sup = gs.Supervisor.start_link([Probe.child_spec((n, test)) for n in ("a", "b", "c")])

        assert take_events() == [("started", "a"), ("started", "b"), ("started", "c")]
        assert [child_id for child_id, _, _ in gs.Supervisor.which_children(sup)] == [
            "a",
            "b",
            "c",
        ]
        gs.Supervisor.stop(sup)

    def test_every_child_is_linked_to_the_supervisor(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), worker("b")])
        pids = children(sup)

        info = gs.info(sup)
        assert info is not None
        assert set(pids.values()) <= set(info["links"])  # type: ignore[arg-type]
        assert info["trap_exit"] is True
        gs.Supervisor.stop(sup)

    def test_module_form_takes_children_from_init(self) -> None:
        test = gs.self()

        sup = Inner.start_link(([Probe.child_spec(("a", test)), worker("b")], "one_for_one"))

        assert sup is not None
        assert take_events() == [("started", "a")]
        assert [(i, t) for i, _, t in gs.Supervisor.which_children(sup)] == [
            ("a", "worker"),
            ("b", "worker"),
        ]
        gs.Supervisor.stop(sup)

    def test_module_form_init_may_ignore(self) -> None:
        before = set(gs.processes())

        assert IgnoringSup.start_link(None) is None
        assert set(gs.processes()) == before

    def test_module_form_bad_init_result_fails_the_start(self) -> None:
        with pytest.raises(gs.StartError) as info:
            BadInitSup.start_link(None)

        reason = info.value.reason
        assert isinstance(reason, gs.BadReturnError)
        assert reason.callback == "BadInitSup.init"

    def test_module_form_start_error_names_the_module(self) -> None:
        with pytest.raises(
            gs.StartError, match=r"^BadInitSup failed to start: BadReturnError\(.+\)$"
        ):
            BadInitSup.start_link(None)

    def test_module_form_init_raising_fails_the_start(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", phase="init")

        with pytest.raises(
            gs.StartError, match=r"^RaisingSup failed to start: ValueError\('bad config'\)$"
        ) as info:
            RaisingSup.start_link(None)

        assert isinstance(info.value.reason, ValueError)
        [report] = gs_reports.of("crash_report")
        assert report["reason"] == "ValueError('bad config')"

    def test_module_form_crash_report_names_the_module(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", phase="init")

        with pytest.raises(gs.StartError):
            RaisingSup.start_link(None)

        [report] = gs_reports.of("crash_report")
        assert report["class"] == "RaisingSup"

    def test_module_form_needs_init(self) -> None:
        with pytest.raises(TypeError, match=r"^NoInitSup must define init\(self, arg\)$"):
            NoInitSup.start_link(None)

    def test_module_form_start_link_is_a_real_function(self) -> None:
        """help() shows its signature and docstring; the same object each time."""
        fn = Inner.start_link

        assert fn is Inner.start_link
        assert fn.__qualname__ == "Inner.start_link"
        assert str(inspect.signature(fn)) == "(arg=None, /, *, name=None, timeout=None)"
        assert fn.__doc__ is not None
        assert fn.__doc__.startswith("Start a new Inner supervisor linked to the caller")

    def test_list_form_start_link_is_documented(self) -> None:
        fn = gs.Supervisor.start_link

        assert fn.__qualname__ == "Supervisor.start_link"
        assert str(inspect.signature(fn)).startswith("(children: 'Iterable[object]', *, ")
        assert fn.__doc__ is not None
        assert "Children start in order" in fn.__doc__

    def test_module_form_argument_errors_name_start_link(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^Inner\.start_link\(\) takes one init argument and keyword options; "
            r"got 2 positional arguments \(1, 2\)$",
        ):
            Inner.start_link(1, 2)
        with pytest.raises(
            TypeError,
            match=r"^Inner\.start_link\(\) got unexpected keyword arguments \['strategy'\]; "
            r"the options are name and timeout$",
        ):
            Inner.start_link(1, strategy="one_for_all")

    def test_bare_class_shorthand_means_arg_none(self) -> None:
        sup = gs.Supervisor.start_link([Counter])

        [(child_id, pid, kind)] = gs.Supervisor.which_children(sup)
        assert (child_id, kind) == (Counter, "worker")
        assert gs.GenServer.call(pid, "get") is None
        gs.Supervisor.stop(sup)

    def test_class_and_arg_shorthand_passes_the_arg(self) -> None:
        sup = gs.Supervisor.start_link([(Counter, 42)])

        assert gs.GenServer.call(children(sup)[Counter], "get") == 42
        gs.Supervisor.stop(sup)

    def test_an_overridden_child_spec_is_used(self) -> None:
        sup = gs.Supervisor.start_link([(Named, 1), (Counter, 2)])
        pid = children(sup)["named"]
        gs.GenServer.stop(pid)  # a normal exit: a transient child stays down

        assert list(children(sup)) == ["named", Counter]
        assert children(sup)["named"] is None
        gs.Supervisor.stop(sup)

    def test_name_registers_the_supervisor(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")], name="the_sup")

        assert gs.whereis("the_sup") == sup
        assert list(children("the_sup")) == ["a"]
        gs.Supervisor.stop("the_sup")
        assert gs.whereis("the_sup") is None

    def test_a_taken_name_raises_already_started_with_the_holder(self) -> None:
        first = gs.Supervisor.start_link([worker("a")], name="the_sup")
        before = set(gs.processes())

        with pytest.raises(
            gs.AlreadyStartedError, match=r"^name 'the_sup' is already taken by <0\.\d+\.0>$"
        ) as info:
            gs.Supervisor.start_link([worker("b")], name="the_sup")

        assert info.value.pid == first
        assert set(gs.processes()) == before  # the second one started no child
        gs.Supervisor.stop(first)

    def test_reports_name_a_registered_supervisor_by_its_name(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        sup = gs.Supervisor.start_link([worker("a")], name="the_sup")

        kill(children(sup)["a"], "boom")
        children(sup)

        [report] = gs_reports.of("supervisor_report")
        assert report["supervisor"] == "the_sup"
        assert {r["supervisor"] for r in gs_reports.of("progress_report")} == {"the_sup"}
        gs.Supervisor.stop(sup)

    def test_duplicate_ids_are_a_value_error(self) -> None:
        with pytest.raises(
            ValueError, match=r"^duplicate child id 'a'; every child needs its own id$"
        ):
            gs.Supervisor.start_link([worker("a"), worker("b"), worker("a")])

    def test_two_shorthands_of_one_class_share_an_id(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"^duplicate child id <class 'test_supervisor\.Counter'>; "
            r"every child needs its own id$",
        ):
            gs.Supervisor.start_link([(Counter, 1), (Counter, 2)])

    @pytest.mark.parametrize("strategy", ["one_for_rest", "simple_one_for_one", None])
    def test_bad_strategy_is_a_value_error(self, strategy: object) -> None:
        message = (
            r"^strategy must be 'one_for_one', 'one_for_all' or 'rest_for_one'; "
            rf"got {strategy!r}$"
        )
        with pytest.raises(ValueError, match=message):
            gs.Supervisor.start_link([], strategy=strategy)

    @pytest.mark.parametrize("max_restarts", [-1, 1.5, True, "3", None])
    def test_bad_max_restarts_is_a_value_error(self, max_restarts: object) -> None:
        with pytest.raises(
            ValueError, match=rf"^max_restarts must be an int >= 0; got {max_restarts!r}$"
        ):
            gs.Supervisor.start_link([], max_restarts=max_restarts)

    @pytest.mark.parametrize("max_seconds", [0, -1, False, "5", None, float("nan")])
    def test_bad_max_seconds_is_a_value_error(self, max_seconds: object) -> None:
        with pytest.raises(
            ValueError,
            match=rf"^max_seconds must be a number of seconds > 0; got {max_seconds!r}$",
        ):
            gs.Supervisor.start_link([], max_seconds=max_seconds)

    def test_module_form_options_are_checked_by_spec(self) -> None:
        with pytest.raises(ValueError, match=r"^max_restarts must be an int >= 0; got -2$"):
            gs.Supervisor.spec([], max_restarts=-2)

    def test_children_must_be_a_list(self) -> None:
        with pytest.raises(TypeError, match=r"^children must be a list of child specs; got 'ab'$"):
            gs.Supervisor.start_link("ab")

    @pytest.mark.parametrize(
        ("child", "message"),
        [
            (
                42,
                r"^a child must be a ChildSpec, a class with child_spec\(\) or \(class, arg\); "
                r"got 42$",
            ),
            (int, r"^int has no child_spec\(arg\); pass a gs\.ChildSpec instead$"),
        ],
    )
    def test_a_malformed_child_is_a_type_error(self, child: object, message: str) -> None:
        with pytest.raises(TypeError, match=message):
            gs.Supervisor.start_link([worker("a"), child])

    def test_a_child_that_fails_to_start_stops_the_others_in_reverse(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="start_error", child_id="c")
        test = gs.self()
        before = set(gs.processes())

        def refuse() -> None:
            raise RuntimeError("no config")

        specs = [
            Probe.child_spec(("a", test)),
            Probe.child_spec(("b", test)),
            gs.ChildSpec("c", start=(refuse,)),
            Probe.child_spec(("d", test)),
        ]
        with pytest.raises(
            gs.StartError, match=r"^child 'c' failed to start: RuntimeError\('no config'\)$"
        ) as info:
            gs.Supervisor.start_link(specs)

        assert take_events() == [
            ("started", "a"),
            ("started", "b"),
            ("terminated", "b", "shutdown"),
            ("terminated", "a", "shutdown"),
        ]
        tag, (what, child_id, why) = info.value.reason
        assert (tag, what, child_id) == ("shutdown", "failed_to_start_child", "c")
        assert isinstance(why, RuntimeError)
        assert set(gs.processes()) == before
        [report] = gs_reports.of("supervisor_report")
        assert pick(report, "child_id", "pid", "reason", "context") == {
            "child_id": "c",
            "pid": None,
            "reason": "RuntimeError('no config')",
            "context": "start_error",
        }

    def test_a_failed_start_does_not_signal_the_caller(
        self, gs_reports: ReportLog, trapping: None
    ) -> None:
        gs_reports.expect("supervisor_report", context="start_error")

        with pytest.raises(gs.StartError, match=r"^child 'x' failed to start: 'refused'$"):
            gs.Supervisor.start_link([(Refusing, "refused")])

        with pytest.raises(TimeoutError):
            gs.receive(lambda m: isinstance(m, gs.ExitSignal), timeout=0)

    def test_a_start_function_must_return_a_pid_or_none(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="start_error", child_id="x")

        with pytest.raises(gs.StartError, match=r"^child 'x' failed to start: ") as info:
            gs.Supervisor.start_link([gs.ChildSpec("x", start=(lambda: 42,))])

        _, (_, _, why) = info.value.reason
        assert isinstance(why, gs.BadReturnError)
        assert why.value == 42


class TestStart:
    """``start``: as ``start_link``, but the caller is not linked (issue 14)."""

    def test_list_form_is_not_linked_to_the_caller(self) -> None:
        sup = gs.Supervisor.start([worker("a")], strategy="one_for_all", name="unlinked")

        info = gs.info(sup)
        assert info is not None
        assert gs.self() not in info["links"]
        assert gs.whereis("unlinked") == sup
        assert [child_id for child_id, _, _ in gs.Supervisor.which_children(sup)] == ["a"]
        gs.Supervisor.stop(sup)

    def test_module_form_is_not_linked_to_the_caller(self) -> None:
        sup = Inner.start(([worker("a")], "one_for_one"))
        assert sup is not None

        info = gs.info(sup)
        assert info is not None
        assert gs.self() not in info["links"]
        assert Inner.start is Inner.start  # cached, as start_link is
        gs.Supervisor.stop(sup)

    def test_the_supervisor_outlives_its_starter(self) -> None:
        test = gs.self()

        def starter() -> None:
            gs.send(test, ("sup", gs.Supervisor.start([worker("a")])))
            raise gs.Exit("boom")

        ref = gs.monitor(gs.spawn(starter))
        sup: Any = gs.receive(lambda m: type(m) is tuple and m[0] == "sup", timeout=BOUND)
        wait_down(ref)

        assert gs.alive(sup[1])
        gs.Supervisor.stop(sup[1])


class TestIgnoredChild:
    def test_a_start_returning_none_keeps_the_spec_without_a_pid(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), gs.ChildSpec("i", start=(ignore,))])

        assert gs.Supervisor.which_children(sup)[1] == ("i", None, "worker")
        assert gs.Supervisor.count_children(sup) == {
            "specs": 2,
            "active": 1,
            "supervisors": 0,
            "workers": 2,
        }
        gs.Supervisor.stop(sup)

    def test_a_gen_server_whose_init_ignores_is_an_ignored_child(self) -> None:
        sup = gs.Supervisor.start_link([Ignoring])

        assert gs.Supervisor.which_children(sup) == [(Ignoring, None, "worker")]
        assert gs.Supervisor.restart_child(sup, Ignoring) is None
        gs.Supervisor.stop(sup)

    def test_start_child_of_an_ignored_child_returns_none(self) -> None:
        sup = gs.Supervisor.start_link([])

        assert gs.Supervisor.start_child(sup, gs.ChildSpec("i", start=(ignore,))) is None
        assert gs.Supervisor.which_children(sup) == [("i", None, "worker")]
        gs.Supervisor.stop(sup)

    def test_an_ignored_temporary_child_is_not_kept(self) -> None:
        sup = gs.Supervisor.start_link([gs.ChildSpec("t", start=(ignore,), restart="temporary")])
        try:
            gs.Supervisor.start_child(sup, gs.ChildSpec("u", start=(ignore,), restart="temporary"))

            assert gs.Supervisor.which_children(sup) == []
        finally:
            gs.Supervisor.stop(sup)


class TestStop:
    def test_children_stop_in_reverse_start_order(self) -> None:
        test = gs.self()
        sup = gs.Supervisor.start_link([Probe.child_spec((n, test)) for n in ("a", "b", "c")])
        take_events()

        gs.Supervisor.stop(sup)

        assert take_events() == [
            ("terminated", "c", "shutdown"),
            ("terminated", "b", "shutdown"),
            ("terminated", "a", "shutdown"),
        ]
        assert not gs.alive(sup)

    def test_stop_returns_once_every_child_is_gone(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), worker("b")])
        refs = {gs.monitor(pid): pid for pid in children(sup).values()}

        gs.Supervisor.stop(sup)

        for ref in refs:
            assert wait_down(ref, timeout=0).reason == "shutdown"

    def test_stop_with_a_reason(self, trapping: None) -> None:
        sup = gs.Supervisor.start_link([worker("a")])
        [pid] = children(sup).values()
        ref = gs.monitor(pid)

        gs.Supervisor.stop(sup, ("shutdown", "maintenance"))

        assert wait_down(ref, timeout=0).reason == "shutdown"
        assert exit_signal_from(sup).reason == ("shutdown", "maintenance")

    def test_the_parent_exiting_stops_the_tree(self) -> None:
        test = gs.self()

        def parent() -> None:
            sup = gs.Supervisor.start_link([Probe.child_spec(("a", test)), worker("b")])
            gs.send(test, ("sup", sup))
            gs.receive()

        owner, owner_ref = gs.spawn_monitor(parent)
        msg = gs.receive(lambda m: type(m) is tuple and m[0] == "sup", timeout=BOUND)
        assert type(msg) is tuple
        sup = msg[1]
        ref = gs.monitor(sup)

        gs.exit(owner, "shutdown")

        assert wait_down(owner_ref).reason == "shutdown"
        assert wait_down(ref).reason == "shutdown"
        assert take_events() == [("started", "a"), ("terminated", "a", "shutdown")]


class TestStrategies:
    """Which children a crash takes down, and in what order they come back."""

    def start(self, strategy: str) -> gs.Pid:
        test = gs.self()
        specs = [Probe.child_spec((n, test)) for n in ("a", "b", "c", "d")]
        sup = gs.Supervisor.start_link(specs, strategy=strategy)
        take_events()
        return sup

    def test_one_for_one_restarts_only_the_crashed_child(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="b")
        sup = self.start("one_for_one")
        before = children(sup)

        kill(before["b"])
        after = children(sup)

        assert take_events() == [("started", "b")]
        assert [n for n in before if before[n] != after[n]] == ["b"]
        assert all(gs.alive(pid) for pid in after.values())
        [report] = gs_reports.of("supervisor_report")
        assert pick(report, *REPORT_KEYS) == {
            "supervisor": sup,
            "child_id": "b",
            "pid": before["b"],
            "reason": "'killed'",
            "context": "child_terminated",
            "strategy": "one_for_one",
        }
        gs.Supervisor.stop(sup)

    def test_one_for_all_restarts_everyone(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="b")
        sup = self.start("one_for_all")
        before = children(sup)

        kill(before["b"])
        after = children(sup)

        assert take_events() == [
            ("terminated", "d", "shutdown"),
            ("terminated", "c", "shutdown"),
            ("terminated", "a", "shutdown"),
            ("started", "a"),
            ("started", "b"),
            ("started", "c"),
            ("started", "d"),
        ]
        assert all(before[n] != after[n] for n in before)
        assert not any(gs.alive(pid) for pid in before.values())
        [report] = gs_reports.of("supervisor_report")
        assert report["strategy"] == "one_for_all"
        gs.Supervisor.stop(sup)

    def test_rest_for_one_restarts_the_crashed_child_and_those_after_it(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="b")
        sup = self.start("rest_for_one")
        before = children(sup)

        kill(before["b"])
        after = children(sup)

        assert take_events() == [
            ("terminated", "d", "shutdown"),
            ("terminated", "c", "shutdown"),
            ("started", "b"),
            ("started", "c"),
            ("started", "d"),
        ]
        assert [n for n in before if before[n] == after[n]] == ["a"]
        gs.Supervisor.stop(sup)

    def test_rest_for_one_crash_of_the_last_child_restarts_only_it(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="d")
        sup = self.start("rest_for_one")
        before = children(sup)

        kill(before["d"])
        after = children(sup)

        assert take_events() == [("started", "d")]
        assert [n for n in before if before[n] != after[n]] == ["d"]
        gs.Supervisor.stop(sup)

    def test_one_for_all_restarts_a_stopped_sibling_too(self, gs_reports: ReportLog) -> None:
        """As OTP: the group restart starts every non-temporary spec, stopped ones too."""
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="a")
        sup = self.start("one_for_all")
        gs.Supervisor.terminate_child(sup, "c")
        take_events()

        kill(children(sup)["a"])

        assert all(isinstance(pid, gs.Pid) for pid in children(sup).values())
        gs.Supervisor.stop(sup)

    @pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
    def test_a_temporary_sibling_taken_down_is_not_restarted(
        self, strategy: str, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="a")
        sup = gs.Supervisor.start_link(
            [worker("a"), worker("t", restart="temporary"), worker("c")], strategy=strategy
        )
        temp = children(sup)["t"]
        ref = gs.monitor(temp)

        kill(children(sup)["a"], "boom")

        assert list(children(sup)) == ["a", "c"]
        assert wait_down(ref, timeout=0).reason == "shutdown"
        gs.Supervisor.stop(sup)


class TestRestartTypes:
    @pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "done"), "boom"])
    def test_permanent_is_always_restarted(self, reason: object, gs_reports: ReportLog) -> None:
        if reason == "boom":  # a normal exit is not reported
            gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.Supervisor.start_link([worker("p")])
        old = children(sup)["p"]

        quit_with(old, reason)
        new = children(sup)["p"]

        assert isinstance(new, gs.Pid)
        assert new != old
        gs.Supervisor.stop(sup)

    @pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "done")])
    def test_transient_is_not_restarted_after_a_normal_exit(self, reason: object) -> None:
        sup = gs.Supervisor.start_link([worker("t", restart="transient"), worker("x")])

        quit_with(children(sup)["t"], reason)

        assert gs.Supervisor.which_children(sup)[0] == ("t", None, "worker")
        assert gs.Supervisor.count_children(sup)["active"] == 1
        gs.Supervisor.stop(sup)

    def test_transient_is_restarted_after_an_abnormal_exit(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="t")
        sup = gs.Supervisor.start_link([worker("t", restart="transient")])
        old = children(sup)["t"]

        quit_with(old, "boom")
        new = children(sup)["t"]

        assert isinstance(new, gs.Pid)
        assert new != old
        [report] = gs_reports.of("supervisor_report")
        assert pick(report, "child_id", "pid", "reason") == {
            "child_id": "t",
            "pid": old,
            "reason": "'boom'",
        }
        gs.Supervisor.stop(sup)

    def test_a_stopped_transient_child_can_be_restarted_by_hand(self) -> None:
        sup = gs.Supervisor.start_link([worker("t", restart="transient")])
        quit_with(children(sup)["t"], "normal")

        pid = gs.Supervisor.restart_child(sup, "t")

        assert children(sup) == {"t": pid}
        gs.Supervisor.stop(sup)

    @pytest.mark.parametrize("reason", ["normal", "shutdown", "boom"])
    def test_temporary_is_removed_after_any_exit(
        self, reason: object, gs_reports: ReportLog
    ) -> None:
        if reason == "boom":  # a normal exit is not reported
            gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.Supervisor.start_link([worker("a"), worker("t", restart="temporary")])

        quit_with(children(sup)["t"], reason)

        assert list(children(sup)) == ["a"]
        assert gs.Supervisor.count_children(sup)["specs"] == 1
        assert len(gs_reports.of("supervisor_report")) == (1 if reason == "boom" else 0)
        gs.Supervisor.stop(sup)

    def test_an_exit_signal_from_outside_kills_a_child_without_a_crash_report(
        self, gs_reports: ReportLog
    ) -> None:
        """The child did not crash itself: only the supervisor reports."""
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'boom'")
        sup = gs.Supervisor.start_link([(Counter, 0)])

        kill(children(sup)[Counter], "boom")
        children(sup)

        assert gs_reports.of("crash_report") == []
        assert len(gs_reports.of("supervisor_report")) == 1
        gs.Supervisor.stop(sup)

    def test_a_restart_is_logged_as_progress(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        sup = gs.Supervisor.start_link([worker("a")])
        first = children(sup)["a"]

        kill(first, "boom")
        second = children(sup)["a"]

        progress = [
            pick(r, "supervisor", "child_id", "pid") for r in gs_reports.of("progress_report")
        ]
        assert progress == [
            {"supervisor": sup, "child_id": "a", "pid": first},
            {"supervisor": sup, "child_id": "a", "pid": second},
        ]
        gs.Supervisor.stop(sup)


class TestShutdown:
    def test_a_child_that_ignores_shutdown_is_killed_after_its_shutdown_time(
        self, gs_reports: ReportLog
    ) -> None:
        # OTP also reports it (shutdown_error, killed): see TestShutdownReports.
        gs_reports.expect("supervisor_report", context="shutdown_error", reason="'killed'")
        test = gs.self()
        sup = gs.Supervisor.start_link([Stubborn.child_spec(("s", test)).replace(shutdown=0.05)])
        pid = children(sup)["s"]
        ref = gs.monitor(pid)

        gs.Supervisor.terminate_child(sup, "s")

        assert wait_down(ref, timeout=0).reason == "killed"
        assert gs.receive(timeout=0) == ("terminating", "s", pid)  # terminate did start
        assert children(sup) == {"s": None}
        gs.Supervisor.stop(sup)

    def test_brutal_kill_kills_at_once_without_terminate(self) -> None:
        test = gs.self()
        sup = gs.Supervisor.start_link(
            [Probe.child_spec(("p", test)).replace(shutdown="brutal_kill")]
        )
        take_events()
        pid = children(sup)["p"]
        ref = gs.monitor(pid)

        gs.Supervisor.terminate_child(sup, "p")

        assert wait_down(ref, timeout=0).reason == "killed"
        assert take_events() == []
        gs.Supervisor.stop(sup)

    def test_a_child_that_stops_in_time_exits_with_shutdown(self) -> None:
        test = gs.self()
        sup = gs.Supervisor.start_link([Probe.child_spec(("p", test)).replace(shutdown=BOUND)])
        take_events()
        pid = children(sup)["p"]
        ref = gs.monitor(pid)

        gs.Supervisor.terminate_child(sup, "p")

        assert wait_down(ref, timeout=0).reason == "shutdown"
        assert take_events() == [("terminated", "p", "shutdown")]
        gs.Supervisor.stop(sup)

    def test_none_waits_for_a_child_that_stops_by_itself(self) -> None:
        test = gs.self()
        sup = gs.Supervisor.start_link([Stubborn.child_spec(("s", test)).replace(shutdown=None)])
        pid = children(sup)["s"]
        ref = gs.monitor(pid)

        def terminate_it() -> None:
            gs.Supervisor.terminate_child(sup, "s")
            gs.send(test, "terminate_child returned")

        gs.spawn(terminate_it)
        assert gs.receive(timeout=BOUND) == ("terminating", "s", pid)
        wait_all_idle()  # the supervisor is blocked waiting for the child

        assert gs.alive(pid)
        with pytest.raises(TimeoutError):
            gs.receive(lambda m: m == "terminate_child returned", timeout=0)
        gs.send(pid, "go")
        assert wait_down(ref).reason == "shutdown"
        assert gs.receive(timeout=BOUND) == "terminate_child returned"
        gs.Supervisor.stop(sup)

    def test_a_supervisor_child_is_given_all_the_time_it_needs(self) -> None:
        """A nested supervisor's default shutdown is None: its own children's
        shutdowns decide how long it takes."""
        test = gs.self()
        inner_children = [Stubborn.child_spec(("s", test)).replace(shutdown=None)]
        sup = gs.Supervisor.start_link([(Inner, (inner_children, "one_for_one"))])
        inner = children(sup)[Inner]
        ref = gs.monitor(inner)

        def stop_it() -> None:
            gs.Supervisor.stop(sup)
            gs.send(test, "stopped")

        gs.spawn(stop_it)
        msg = gs.receive(timeout=BOUND)
        assert type(msg) is tuple
        assert msg[:2] == ("terminating", "s")
        wait_all_idle()

        assert gs.alive(inner)
        gs.send(msg[2], "go")
        assert wait_down(ref).reason == "shutdown"
        assert gs.receive(timeout=BOUND) == "stopped"


class TestShutdownReports:
    def test_a_child_killed_after_its_shutdown_time_is_reported(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="shutdown_error", reason="'killed'")
        test = gs.self()
        sup = gs.Supervisor.start_link([Stubborn.child_spec(("s", test)).replace(shutdown=0.05)])
        pid = children(sup)["s"]

        gs.Supervisor.terminate_child(sup, "s")
        gs.Supervisor.stop(sup)

        [report] = gs_reports.of("supervisor_report")
        assert pick(report, "child_id", "pid", "reason", "context") == {
            "child_id": "s",
            "pid": pid,
            "reason": "'killed'",
            "context": "shutdown_error",
        }

    def test_a_child_whose_terminate_fails_is_reported(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="shutdown_error", child_id="b")
        gs_reports.expect("crash_report", reason="RuntimeError('cleanup failed')")
        sup = gs.Supervisor.start_link([(BadTerminate, None)])
        pid = children(sup)["b"]

        gs.Supervisor.terminate_child(sup, "b")

        [report] = gs_reports.of("supervisor_report")
        assert pick(report, "child_id", "pid", "reason", "context") == {
            "child_id": "b",
            "pid": pid,
            "reason": "RuntimeError('cleanup failed')",
            "context": "shutdown_error",
        }
        gs.Supervisor.stop(sup)


class TestRestartIntensity:
    def test_too_many_restarts_shut_the_supervisor_down(
        self, manual_clock: ManualClock, gs_reports: ReportLog, trapping: None
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="b")
        gs_reports.expect("supervisor_report", context="shutdown", child_id="b")
        test = gs.self()
        specs = [Probe.child_spec(("a", test)), worker("b"), Probe.child_spec(("c", test))]
        sup = gs.Supervisor.start_link(specs, max_restarts=2, max_seconds=5)
        ref = gs.monitor(sup)
        take_events()
        for _ in range(2):
            kill(children(sup)["b"], "boom")
            manual_clock.advance(2)
        assert gs.alive(sup)

        kill(children(sup)["b"], "boom")  # the third restart in 4 seconds

        assert wait_down(ref).reason == "shutdown"
        assert exit_signal_from(sup).reason == "shutdown"
        assert take_events() == [
            ("terminated", "c", "shutdown"),
            ("terminated", "a", "shutdown"),
        ]
        reports = gs_reports.of("supervisor_report")
        assert [r["context"] for r in reports] == ["child_terminated"] * 3 + ["shutdown"]
        assert pick(reports[-1], *REPORT_KEYS) == {
            "supervisor": sup,
            "child_id": "b",
            "pid": None,
            "reason": "'reached_max_restart_intensity'",
            "context": "shutdown",
            "strategy": "one_for_one",
        }

    def test_restarts_spread_beyond_the_window_never_give_up(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        sup = gs.Supervisor.start_link([worker("a"), worker("b")], max_restarts=2, max_seconds=5)

        for n in range(20):
            kill(children(sup)["ab"[n % 2]], "boom")
            manual_clock.advance(3)  # at most two restarts in any 5 seconds

        assert all(gs.alive(pid) for pid in children(sup).values())
        assert len(gs_reports.of("supervisor_report")) == 20
        gs.Supervisor.stop(sup)

    @pytest.mark.parametrize(("gap", "gives_up"), [(5, True), (6, False)])
    def test_the_window_includes_its_edge(
        self,
        gap: float,
        gives_up: bool,
        manual_clock: ManualClock,
        gs_reports: ReportLog,
        trapping: None,
    ) -> None:
        """As OTP: a restart exactly max_seconds ago still counts."""
        gs_reports.expect("supervisor_report")
        sup = gs.Supervisor.start_link([worker("a")], max_restarts=1, max_seconds=5)
        ref = gs.monitor(sup)
        kill(children(sup)["a"], "boom")
        children(sup)
        manual_clock.advance(gap)

        kill(children(sup)["a"], "boom")

        if gives_up:
            assert wait_down(ref).reason == "shutdown"
        else:
            assert isinstance(children(sup)["a"], gs.Pid)
            gs.Supervisor.stop(sup)

    def test_max_restarts_zero_gives_up_on_the_first_crash(
        self, gs_reports: ReportLog, trapping: None
    ) -> None:
        gs_reports.expect("supervisor_report")
        sup = gs.Supervisor.start_link([worker("a")], max_restarts=0)
        ref = gs.monitor(sup)

        kill(children(sup)["a"], "boom")

        assert wait_down(ref).reason == "shutdown"
        assert exit_signal_from(sup).reason == "shutdown"

    def test_a_group_restart_counts_once(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        sup = gs.Supervisor.start_link(
            [worker(n) for n in "abcd"], strategy="one_for_all", max_restarts=2
        )

        kill(children(sup)["a"], "boom")
        kill(children(sup)["b"], "boom")

        assert all(isinstance(pid, gs.Pid) for pid in children(sup).values())
        gs.Supervisor.stop(sup)

    def test_normal_exits_of_non_restarted_children_do_not_count(
        self, manual_clock: ManualClock
    ) -> None:
        sup = gs.Supervisor.start_link(
            [worker("t", restart="transient"), worker("x", restart="temporary")], max_restarts=0
        )

        quit_with(children(sup)["t"], "normal")
        quit_with(children(sup)["x"], "shutdown")

        assert children(sup) == {"t": None}
        gs.Supervisor.stop(sup)

    def test_a_child_that_fails_to_restart_is_retried(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="f")
        gs_reports.expect("supervisor_report", context="start_error", child_id="f")
        flaky = Flaky()
        sup = gs.Supervisor.start_link([gs.ChildSpec("f", start=(flaky,))], max_restarts=3)
        flaky.failures = 2

        kill(children(sup)["f"], "boom")

        # The first retry is a message the supervisor sends itself, queued
        # behind this call; later ones may run before the next call arrives.
        seen = [children(sup)["f"]]
        while seen[-1] == "restarting" and len(seen) < 10:
            seen.append(children(sup)["f"])

        assert seen[0] == "restarting"
        assert isinstance(seen[-1], gs.Pid)
        assert flaky.calls == 4
        reports = gs_reports.of("supervisor_report")
        assert [r["context"] for r in reports] == ["child_terminated", "start_error", "start_error"]
        assert reports[1]["reason"] == "RuntimeError('not now')"
        gs.Supervisor.stop(sup)

    def test_a_child_that_never_restarts_makes_the_supervisor_give_up(
        self, manual_clock: ManualClock, gs_reports: ReportLog, trapping: None
    ) -> None:
        gs_reports.expect("supervisor_report")
        flaky = Flaky()
        sup = gs.Supervisor.start_link(
            [worker("a"), gs.ChildSpec("f", start=(flaky,))], max_restarts=3
        )
        a = children(sup)["a"]
        a_ref = gs.monitor(a)
        ref = gs.monitor(sup)
        flaky.failures = 100

        kill(children(sup)["f"], "boom")

        assert wait_down(ref).reason == "shutdown"
        assert wait_down(a_ref).reason == "shutdown"
        assert flaky.calls == 1 + 3  # the first start, then three failed restarts
        contexts = [r["context"] for r in gs_reports.of("supervisor_report")]
        assert contexts == ["child_terminated"] + ["start_error"] * 3 + ["shutdown"]


class TestStartChild:
    def test_starts_and_appends_the_child(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])

        pid = gs.Supervisor.start_child(sup, worker("b"))

        assert isinstance(pid, gs.Pid)
        assert gs.alive(pid)
        assert gs.Supervisor.which_children(sup)[1] == ("b", pid, "worker")
        gs.Supervisor.stop(sup)

    def test_accepts_shorthands(self) -> None:
        sup = gs.Supervisor.start_link([])

        pid = gs.Supervisor.start_child(sup, (Counter, 5))

        assert gs.GenServer.call(pid, "get") == 5
        assert children(sup) == {Counter: pid}
        gs.Supervisor.stop(sup)

    def test_a_running_id_is_already_started(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])
        pid = children(sup)["a"]

        with pytest.raises(
            gs.SupervisorError, match=r"^child 'a' is already started as <0\.\d+\.0>$"
        ) as info:
            gs.Supervisor.start_child(sup, worker("a"))

        assert info.value.reason == ("already_started", pid)
        gs.Supervisor.stop(sup)

    def test_a_stopped_id_is_already_present(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])
        gs.Supervisor.terminate_child(sup, "a")

        with pytest.raises(
            gs.SupervisorError, match=r"^child 'a' is already present; restart or delete it$"
        ) as info:
            gs.Supervisor.start_child(sup, worker("a"))

        assert info.value.reason == "already_present"
        gs.Supervisor.stop(sup)

    def test_a_failed_start_raises_and_keeps_no_spec(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="start_error", child_id="x")
        sup = gs.Supervisor.start_link([worker("a")])

        with pytest.raises(gs.StartError, match=r"^child 'x' failed to start: 'refused'$") as info:
            gs.Supervisor.start_child(sup, (Refusing, "refused"))

        assert info.value.reason == "refused"
        assert list(children(sup)) == ["a"]
        gs.Supervisor.stop(sup)

    def test_a_malformed_spec_raises_in_the_caller(self) -> None:
        sup = gs.Supervisor.start_link([])

        with pytest.raises(TypeError, match=r"^a child must be a ChildSpec"):
            gs.Supervisor.start_child(sup, "worker")

        assert gs.Supervisor.which_children(sup) == []
        gs.Supervisor.stop(sup)

    def test_a_started_child_is_supervised(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="b")
        sup = gs.Supervisor.start_link([])
        old = gs.Supervisor.start_child(sup, worker("b"))

        kill(old, "boom")

        new = children(sup)["b"]
        assert isinstance(new, gs.Pid)
        assert new != old
        gs.Supervisor.stop(sup)

    def test_a_dead_supervisor_raises_no_process_error(self) -> None:
        sup = gs.Supervisor.start_link([])
        gs.Supervisor.stop(sup)

        with pytest.raises(gs.NoProcessError, match=r"^no process <0\.\d+\.0>$"):
            gs.Supervisor.start_child(sup, worker("a"))


class TestBadStartFunction:
    def test_a_start_function_returning_a_non_pid_is_a_bad_return(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="start_error")
        sup = gs.Supervisor.start_link([])

        with pytest.raises(gs.StartError) as info:
            gs.Supervisor.start_child(sup, gs.ChildSpec("x", start=(lambda: 42,)))

        reason = info.value.reason
        assert isinstance(reason, gs.BadReturnError)
        assert str(reason) == (
            "the start function of child 'x' returned 42, which is not a valid result"
        )
        assert gs.Supervisor.which_children(sup) == []
        gs.Supervisor.stop(sup)


class TestInfo:
    def test_info_shows_the_supervisor_class(self) -> None:
        class Sup(gs.Supervisor):
            def init(self, arg: Any) -> Any:
                return gs.Supervisor.spec([])

        listed = gs.Supervisor.start_link([])
        module = Sup.start_link(None)
        assert module is not None

        assert gs.info(listed)["current"] is gs.Supervisor  # type: ignore[index]
        assert gs.info(module)["current"] is Sup  # type: ignore[index]
        gs.Supervisor.stop(module)
        gs.Supervisor.stop(listed)


class TestTerminateChild:
    def test_stops_the_child_and_keeps_its_spec(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), worker("b")])
        pid = children(sup)["a"]
        ref = gs.monitor(pid)

        assert gs.Supervisor.terminate_child(sup, "a") is None

        assert wait_down(ref, timeout=0).reason == "shutdown"
        assert gs.Supervisor.which_children(sup)[0] == ("a", None, "worker")
        gs.Supervisor.stop(sup)

    def test_a_terminated_child_is_not_restarted(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")], strategy="one_for_all")

        gs.Supervisor.terminate_child(sup, "a")

        assert children(sup) == {"a": None}
        gs.Supervisor.stop(sup)

    def test_a_temporary_child_is_forgotten(self) -> None:
        sup = gs.Supervisor.start_link([worker("t", restart="temporary")])

        gs.Supervisor.terminate_child(sup, "t")

        assert gs.Supervisor.which_children(sup) == []
        gs.Supervisor.stop(sup)

    def test_terminating_a_stopped_child_is_a_no_op(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])
        gs.Supervisor.terminate_child(sup, "a")

        assert gs.Supervisor.terminate_child(sup, "a") is None

        assert children(sup) == {"a": None}
        gs.Supervisor.stop(sup)

    def test_an_unknown_id_is_not_found(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])

        with pytest.raises(gs.SupervisorError, match=r"^no child with id 'zz'$") as info:
            gs.Supervisor.terminate_child(sup, "zz")

        assert info.value.reason == "not_found"
        gs.Supervisor.stop(sup)


class TestRestartChild:
    def test_restarts_a_stopped_child(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), worker("b")])
        old = children(sup)["a"]
        gs.Supervisor.terminate_child(sup, "a")

        new = gs.Supervisor.restart_child(sup, "a")

        assert isinstance(new, gs.Pid)
        assert new != old
        assert gs.Supervisor.which_children(sup)[0] == ("a", new, "worker")
        gs.Supervisor.stop(sup)

    def test_a_running_child_is_refused(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])

        with pytest.raises(
            gs.SupervisorError, match=r"^child 'a' is running as <0\.\d+\.0>$"
        ) as info:
            gs.Supervisor.restart_child(sup, "a")

        assert info.value.reason == "running"
        gs.Supervisor.stop(sup)

    def test_an_unknown_id_is_not_found(self) -> None:
        sup = gs.Supervisor.start_link([])

        with pytest.raises(gs.SupervisorError, match=r"^no child with id 'a'$") as info:
            gs.Supervisor.restart_child(sup, "a")

        assert info.value.reason == "not_found"
        gs.Supervisor.stop(sup)

    def test_a_child_being_restarted_is_refused(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report")
        flaky = Flaky()
        sup = gs.Supervisor.start_link([gs.ChildSpec("f", start=(flaky,))])
        flaky.failures = 1
        kill(children(sup)["f"], "boom")

        # The retry is queued behind this call.
        with pytest.raises(gs.SupervisorError, match=r"^child 'f' is being restarted$") as info:
            gs.Supervisor.restart_child(sup, "f")

        assert info.value.reason == "restarting"
        assert isinstance(children(sup)["f"], gs.Pid)
        gs.Supervisor.stop(sup)

    def test_a_failed_restart_raises_and_leaves_the_child_stopped(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="start_error", child_id="f")
        flaky = Flaky()
        sup = gs.Supervisor.start_link([gs.ChildSpec("f", start=(flaky,))])
        gs.Supervisor.terminate_child(sup, "f")
        flaky.failures = 1

        with pytest.raises(
            gs.StartError, match=r"^child 'f' failed to start: RuntimeError\('not now'\)$"
        ):
            gs.Supervisor.restart_child(sup, "f")

        assert children(sup) == {"f": None}
        gs.Supervisor.stop(sup)


class TestDeleteChild:
    def test_forgets_a_stopped_child(self) -> None:
        sup = gs.Supervisor.start_link([worker("a"), worker("b")])
        gs.Supervisor.terminate_child(sup, "a")

        assert gs.Supervisor.delete_child(sup, "a") is None

        assert list(children(sup)) == ["b"]
        gs.Supervisor.start_child(sup, worker("a"))  # the id is free again
        assert list(children(sup)) == ["b", "a"]
        gs.Supervisor.stop(sup)

    def test_a_running_child_is_refused(self) -> None:
        sup = gs.Supervisor.start_link([worker("a")])

        with pytest.raises(
            gs.SupervisorError, match=r"^child 'a' is running; terminate it first$"
        ) as info:
            gs.Supervisor.delete_child(sup, "a")

        assert info.value.reason == "running"
        gs.Supervisor.stop(sup)

    def test_an_unknown_id_is_not_found(self) -> None:
        sup = gs.Supervisor.start_link([])

        with pytest.raises(gs.SupervisorError, match=r"^no child with id 'a'$") as info:
            gs.Supervisor.delete_child(sup, "a")

        assert info.value.reason == "not_found"
        gs.Supervisor.stop(sup)

    def test_a_child_being_restarted_is_refused(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report")
        flaky = Flaky()
        sup = gs.Supervisor.start_link([gs.ChildSpec("f", start=(flaky,))])
        flaky.failures = 1
        kill(children(sup)["f"], "boom")

        with pytest.raises(gs.SupervisorError, match=r"^child 'f' is being restarted$") as info:
            gs.Supervisor.delete_child(sup, "f")

        assert info.value.reason == "restarting"
        gs.Supervisor.stop(sup)


class TestWhichChildren:
    def test_lists_id_pid_and_type_in_start_order(self) -> None:
        sup = gs.Supervisor.start_link(
            [worker("w"), (Inner, ([worker("x")], "one_for_one")), gs.ChildSpec("i", (ignore,))]
        )
        pids = children(sup)

        assert gs.Supervisor.which_children(sup) == [
            ("w", pids["w"], "worker"),
            (Inner, pids[Inner], "supervisor"),
            ("i", None, "worker"),
        ]
        gs.Supervisor.stop(sup)

    def test_an_empty_supervisor_has_no_children(self) -> None:
        sup = gs.Supervisor.start_link([])

        assert gs.Supervisor.which_children(sup) == []
        gs.Supervisor.stop(sup)


class TestCountChildren:
    def test_counts_specs_running_children_and_kinds(self) -> None:
        sup = gs.Supervisor.start_link(
            [
                worker("a"),
                worker("b"),
                (Inner, ([], "one_for_one")),
                gs.ChildSpec("i", start=(ignore,)),
            ]
        )
        gs.Supervisor.terminate_child(sup, "b")

        assert gs.Supervisor.count_children(sup) == {
            "specs": 4,
            "active": 2,
            "supervisors": 1,
            "workers": 3,
        }
        gs.Supervisor.stop(sup)


class TestNested:
    def start(self) -> tuple[gs.Pid, gs.Pid]:
        test = gs.self()
        inner_children = [Probe.child_spec(("p1", test)), Probe.child_spec(("p2", test))]
        top = gs.Supervisor.start_link(
            [(Inner, (inner_children, "one_for_one")), Probe.child_spec(("top", test))]
        )
        take_events()
        return top, children(top)[Inner]

    def test_a_nested_supervisor_is_a_supervisor_child(self) -> None:
        top, inner = self.start()

        assert gs.Supervisor.which_children(top)[0] == (Inner, inner, "supervisor")
        assert list(children(inner)) == ["p1", "p2"]
        assert gs.Supervisor.count_children(top)["supervisors"] == 1
        gs.Supervisor.stop(top)

    def test_killing_a_grandchild_restarts_only_it(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id="p1")
        top, inner = self.start()
        top_before = children(top)
        inner_before = children(inner)

        kill(inner_before["p1"])
        inner_after = children(inner)

        assert take_events() == [("started", "p1")]
        assert inner_after["p1"] != inner_before["p1"]
        assert inner_after["p2"] == inner_before["p2"]
        assert children(top) == top_before
        [report] = gs_reports.of("supervisor_report")
        assert report["supervisor"] == inner
        gs.Supervisor.stop(top)

    def test_killing_the_nested_supervisor_restarts_its_subtree(
        self, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated", child_id=Inner)
        top = gs.Supervisor.start_link([(Inner, ([worker("w1"), worker("w2")], "one_for_one"))])
        inner = children(top)[Inner]
        old_grandchildren = list(children(inner).values())

        kill(inner)
        new_inner = children(top)[Inner]

        assert isinstance(new_inner, gs.Pid)
        assert new_inner != inner
        assert not any(gs.alive(pid) for pid in old_grandchildren)  # they died with it
        assert all(isinstance(pid, gs.Pid) for pid in children(new_inner).values())
        [report] = gs_reports.of("supervisor_report")
        assert pick(report, "supervisor", "child_id", "pid", "reason") == {
            "supervisor": top,
            "child_id": Inner,
            "pid": inner,
            "reason": "'killed'",
        }
        gs.Supervisor.stop(top)

    def test_stopping_the_top_stops_everything_in_reverse(self) -> None:
        top, inner = self.start()
        everyone = [inner, *children(inner).values(), *children(top).values()]
        refs = [gs.monitor(pid) for pid in everyone]

        gs.Supervisor.stop(top)

        assert take_events() == [
            ("terminated", "top", "shutdown"),
            ("terminated", "p2", "shutdown"),
            ("terminated", "p1", "shutdown"),
        ]
        assert [wait_down(ref, timeout=0).reason for ref in refs] == ["shutdown"] * len(refs)

    def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent(
        self, manual_clock: ManualClock, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("supervisor_report")
        top = gs.Supervisor.start_link([(Inner, ([worker("w")], "one_for_one"))])
        inner = children(top)[Inner]
        ref = gs.monitor(inner)
        for _ in range(3):  # the inner allows three restarts in five seconds
            kill(children(inner)["w"], "boom")

        kill(children(inner)["w"], "boom")

        assert wait_down(ref).reason == "shutdown"
        new_inner = children(top)[Inner]
        assert isinstance(new_inner, gs.Pid)
        assert new_inner != inner
        assert isinstance(children(new_inner)["w"], gs.Pid)
        reports = [(r["supervisor"], r["context"]) for r in gs_reports.of("supervisor_report")]
        assert reports == [(inner, "child_terminated")] * 4 + [(inner, "shutdown")]
        gs.Supervisor.stop(top)


class TestStackUnderSupervisor:
    def test_a_crashed_stack_comes_back_with_a_fresh_state(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("crash_report", **{"class": "Stack"})
        gs_reports.expect("supervisor_report", context="child_terminated", child_id=Stack)
        sup = gs.Supervisor.start_link([(Stack, ["hello"])])
        [(_, stack, _)] = gs.Supervisor.which_children(sup)
        Stack.push(stack, "world")
        assert Stack.pop(stack) == "world"
        Stack.push(stack, "lost")

        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(stack, "crash")  # Stack does not handle this request
        [(_, new_stack, _)] = gs.Supervisor.which_children(sup)

        assert new_stack != stack
        assert Stack.pop(new_stack) == "hello"
        assert Stack.pop(new_stack) is None
        [crash] = gs_reports.of("crash_report")
        [report] = gs_reports.of("supervisor_report")
        assert report["reason"] == crash["reason"]
        assert report["pid"] == stack
        gs.Supervisor.stop(sup)

    def test_a_named_stack_is_found_again_after_a_crash(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        spec = gs.ChildSpec("stack", start=(Stack.start_link, (["hello"],), {"name": "stack"}))
        sup = gs.Supervisor.start_link([spec])
        old = gs.whereis("stack")

        kill(old, "boom")
        children(sup)

        assert gs.whereis("stack") not in (None, old)
        assert Stack.pop("stack") == "hello"
        gs.Supervisor.stop(sup)
