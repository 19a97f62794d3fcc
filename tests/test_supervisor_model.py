"""Supervisor restarts over random sequences of exits, checked against a small model.

Hypothesis draws a strategy, restart intensity, 3 to 5 plain children with
random restart types, and a sequence of steps: a child exits by itself with
``"boom"``, ``"normal"`` or ``"shutdown"``, the test calls
``terminate_child`` or ``restart_child``, or the manual clock moves on. A
pure-Python model of OTP's rules says, after every step, which children the
supervisor keeps, which are running, which were restarted (a new pid) and
which were left alone, what a refused request answers, and when the
supervisor gives up (exits ``"shutdown"``). The supervisor must agree after
each step, and log exactly the reports the model predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenserver as gs
from greenserver.testing import ManualClock, ReportLog, wait_down

# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0

REASONS = ("boom", "normal", "shutdown")
RESTARTS = ("permanent", "transient", "temporary")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")


@dataclass(frozen=True)
class Scenario:
    strategy: str
    max_restarts: int
    max_seconds: int
    restarts: tuple[str, ...]  # one per child; child i has id f"c{i}"
    # ("exit", i, reason): child i exits with reason by itself;
    # ("terminate", i, None) / ("restart", i, None): terminate_child / restart_child;
    # ("advance", seconds, None): the manual clock moves on.
    steps: tuple[tuple[str, int, str | None], ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(3, 5))
    index = st.integers(0, n - 1)
    step = st.one_of(
        st.tuples(st.just("exit"), index, st.sampled_from(REASONS)),
        st.tuples(st.just("exit"), index, st.sampled_from(REASONS)),  # twice as likely
        st.tuples(st.sampled_from(("terminate", "restart")), index, st.none()),
        st.tuples(st.just("advance"), st.integers(0, 6), st.none()),
    )
    return Scenario(
        strategy=draw(st.sampled_from(STRATEGIES)),
        max_restarts=draw(st.integers(0, 3)),
        max_seconds=draw(st.integers(1, 5)),
        restarts=tuple(draw(st.lists(st.sampled_from(RESTARTS), min_size=n, max_size=n))),
        steps=tuple(draw(st.lists(step, max_size=15))),
    )


@dataclass
class Child:
    id: str
    restart: str
    running: bool = True
    generation: int = 0  # bumped at every (re)start: a new pid


@dataclass
class Model:
    """OTP's supervisor rules for exits, restarts and intensity, and nothing else."""

    strategy: str
    max_restarts: int
    max_seconds: int
    children: list[Child]
    now: int = 0
    restarts: list[int] = field(default_factory=list)
    alive: bool = True

    def find(self, child_id: str) -> Child | None:
        return next((c for c in self.children if c.id == child_id), None)

    def exit(self, child: Child, reason: str) -> tuple[int, int]:
        """A running child exits; return the (child_terminated, shutdown) reports."""
        normal = reason in ("normal", "shutdown")
        terminated = 0 if normal else 1
        child.running = False
        if child.restart == "temporary":
            self.children.remove(child)
            return terminated, 0
        if child.restart == "transient" and normal:
            return terminated, 0
        # A restart: counted first, as OTP does; a restart exactly
        # max_seconds ago still counts.
        self.restarts = [t for t in self.restarts if t >= self.now - self.max_seconds]
        self.restarts.append(self.now)
        if len(self.restarts) > self.max_restarts:
            self.alive = False
            for other in self.children:
                other.running = False
            return terminated, 1
        if self.strategy == "one_for_one":
            group = [child]
        elif self.strategy == "one_for_all":
            group = list(self.children)
        else:
            group = self.children[self.children.index(child) :]
        for member in group:
            self.terminate(member)
        # Every non-temporary member starts again, stopped ones too (OTP).
        for member in group:
            if member in self.children:
                member.running = True
                member.generation += 1
        return terminated, 0

    def terminate(self, child: Child) -> None:
        """terminate_child: stop it; a temporary child is forgotten."""
        child.running = False
        if child.restart == "temporary":
            self.children.remove(child)

    def restart(self, child: Child) -> str | None:
        """restart_child: the refusal reason, or None after starting it."""
        if child.running:
            return "running"
        child.running = True
        child.generation += 1
        return None


def idle() -> None:
    """A plain child: wait for ``("exit", reason)``, then exit with that reason."""
    while True:
        msg = gs.receive()
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "exit":
            raise gs.Exit(msg[1])


def drain() -> None:
    while True:
        try:
            gs.receive(timeout=0)
        except TimeoutError:
            return


class World:
    """The real supervisor, and what the test last saw of its children."""

    def __init__(self, sc: Scenario, model: Model) -> None:
        specs = [
            gs.ChildSpec(c.id, start=(gs.spawn_link, (idle,)), restart=c.restart)
            for c in model.children
        ]
        self.sup = gs.Supervisor.start_link(
            specs,
            strategy=sc.strategy,
            max_restarts=sc.max_restarts,
            max_seconds=sc.max_seconds,
        )
        self.ref = gs.monitor(self.sup)
        # Child id -> (pid or None, the model's generation when it was seen).
        self.seen: dict[object, tuple[object, int]] = {
            child_id: (pid, 0) for child_id, pid, _ in gs.Supervisor.which_children(self.sup)
        }

    def check(self, model: Model) -> None:
        """Compare which_children (a call: also the barrier) with the model."""
        actual = gs.Supervisor.which_children(self.sup)
        assert [i for i, _, _ in actual] == [c.id for c in model.children]
        for c, (child_id, pid, _) in zip(model.children, actual, strict=True):
            old_pid, generation = self.seen.get(child_id, (None, -1))
            assert isinstance(pid, gs.Pid) == c.running, child_id
            if c.running:
                assert gs.alive(pid)  # type: ignore[arg-type]
                restarted = pid != old_pid
                assert restarted == (c.generation != generation), child_id
            self.seen[child_id] = (pid, c.generation)


class TestSupervisorModel:
    @settings(
        max_examples=60,
        deadline=None,
        # gs_reports spans the whole test on purpose: each example counts its own.
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(scenarios())
    def test_supervisor_agrees_with_the_model(self, gs_reports: ReportLog, sc: Scenario) -> None:
        gs_reports.allow("supervisor_report")  # each example counts its own
        clock = ManualClock()
        clock.install()
        old_trap = gs.trap_exits(True)  # a supervisor that gives up must not kill the test
        before = set(gs.processes())
        model = Model(
            sc.strategy,
            sc.max_restarts,
            sc.max_seconds,
            [Child(f"c{i}", restart) for i, restart in enumerate(sc.restarts)],
        )
        world = World(sc, model)
        sup = world.sup
        reports_seen = len(gs_reports.of("supervisor_report"))
        try:
            for kind, arg, reason in sc.steps:
                child_id = f"c{arg}"
                child = model.find(child_id)
                expected = (0, 0)  # (child_terminated, shutdown) reports
                if kind == "advance":
                    clock.advance(arg)
                    model.now += arg
                    continue
                if kind in ("terminate", "restart") and child is None:
                    op = getattr(gs.Supervisor, f"{kind}_child")
                    with pytest.raises(gs.SupervisorError) as info:
                        op(sup, child_id)
                    assert info.value.reason == "not_found"
                elif kind == "terminate":
                    assert child is not None
                    model.terminate(child)
                    gs.Supervisor.terminate_child(sup, child_id)
                elif kind == "restart":
                    assert child is not None
                    refusal = model.restart(child)
                    if refusal is None:
                        gs.Supervisor.restart_child(sup, child_id)
                    else:
                        with pytest.raises(gs.SupervisorError) as info:
                            gs.Supervisor.restart_child(sup, child_id)
                        assert info.value.reason == refusal
                else:
                    assert kind == "exit"
                    assert reason is not None
                    if child is None or not child.running:
                        continue  # gone or stopped: nothing to make exit
                    pid, _ = world.seen[child_id]
                    assert type(pid) is gs.Pid
                    expected = model.exit(child, reason)
                    ref = gs.monitor(pid)
                    gs.send(pid, ("exit", reason))
                    assert wait_down(ref).reason == reason

                if model.alive:
                    world.check(model)
                else:
                    assert wait_down(world.ref).reason == "shutdown"
                    assert not any(gs.alive(p) for p, _ in world.seen.values() if p is not None)
                reports = gs_reports.of("supervisor_report")[reports_seen:]
                reports_seen += len(reports)
                contexts = [r["context"] for r in reports]
                assert contexts.count("child_terminated") == expected[0]
                assert contexts.count("shutdown") == expected[1]
                assert len(contexts) == sum(expected)
                if not model.alive:
                    break
        finally:
            if gs.alive(sup):
                gs.Supervisor.stop(sup)
            drain()
            gs.trap_exits(old_trap)
            clock.uninstall()
        assert set(gs.processes()) == before
