"""Chaos: a supervision tree survives ten thousand random kills, and leaks nothing.

The tree is a top supervisor over three nested supervisors (one per
strategy, five workers each) and five named GenServer workers: 23 permanent
children in all, under a restart intensity high enough never to give up.
A seeded ``random.Random`` picks each victim (a worker, or a nested
supervisor) and each reason. After each kill the test waits for the
victim's ``Down`` and then calls the victim's supervisor, which has handled
the exit, restarts included, before it answers. At the end every child must
be running again, and the node must hold no extra process, name, link,
monitor or queued message.

Excluded from the default run; ``make stress`` runs it.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

pytestmark = pytest.mark.stress

SEED = 20_250_101
KILLS = 10_000
INTENSITY = {"max_restarts": 100_000, "max_seconds": 60.0}
WORKER_REASONS = ("boom", "kill", "shutdown", ("shutdown", "chaos"), ValueError("chaos"))
# Seconds: bounds a failure (a hung receive becomes an error), never decides success.
BOUND = 5.0


def idle() -> None:
    """A plain worker: does nothing until killed."""
    gs.receive(lambda m: False)


class Counter(gs.GenServer[Any]):
    def init(self, arg: Any) -> gs.Ok[Any]:
        return gs.Ok(arg)

    def handle_call(self, request: Any, from_: gs.Ref, state: Any) -> gs.Reply[Any]:
        return gs.Reply(state, state)


class Branch(gs.Supervisor):
    """A nested supervisor: five workers, alternately plain and GenServer."""

    def init(self, strategy: Any) -> Any:
        children = [
            gs.ChildSpec(f"{strategy}.{i}", start=(gs.spawn_link, (idle,)))
            if i % 2
            else gs.ChildSpec(f"{strategy}.{i}", start=(Counter.start_link, (i,)))
            for i in range(5)
        ]
        return gs.Supervisor.spec(children, strategy=strategy, **INTENSITY)


def tree_spec() -> list[gs.ChildSpec]:
    branches = [
        Branch.child_spec(strategy).replace(id=strategy)
        for strategy in ("one_for_one", "one_for_all", "rest_for_one")
    ]
    named = [
        gs.ChildSpec(f"w{i}", start=(Counter.start_link, (i,), {"name": f"chaos_w{i}"}))
        for i in range(5)
    ]
    return [*branches, *named]


def children(sup: gs.Pid) -> list[tuple[object, Any, str]]:
    return gs.Supervisor.which_children(sup)


def walk(top: gs.Pid) -> list[tuple[gs.Pid, gs.Pid, str]]:
    """Every process under *top*: (pid, its supervisor, type), depth first."""
    found = []
    for _, pid, kind in children(top):
        assert type(pid) is gs.Pid, f"a child of the top is not running: {pid!r}"
        found.append((pid, top, kind))
        if kind == "supervisor":
            for _, grandchild, grand_kind in children(pid):
                assert type(grandchild) is gs.Pid, f"a grandchild is not running: {grandchild!r}"
                found.append((grandchild, pid, grand_kind))
    return found


def snapshot(top: gs.Pid) -> dict[str, Any]:
    """What must be the same before and after the chaos, pids aside."""
    procs = walk(top)
    supervisors = [top, *(pid for pid, _, kind in procs if kind == "supervisor")]
    shape = [len(children(sup)) for sup in supervisors]
    sup_facts = []
    for sup in supervisors:
        info = gs.info(sup)
        assert info is not None
        links = set(info["links"])  # type: ignore[call-overload]
        own = {pid for _, pid, _ in children(sup)}
        sup_facts.append(
            {
                "links_beyond_children": len(links - own),  # its parent only
                "children_unlinked": len(own - links),
                "monitors": info["monitors"],
                "monitored_by": len(info["monitored_by"]),  # type: ignore[arg-type]
                "message_queue_len": info["message_queue_len"],
            }
        )
    return {
        "shape": shape,
        "process_count": len(gs.processes()),
        "tree_size": len(procs),
        "registered": sorted(gs.registered()),
        "supervisors": sup_facts,
    }


class TestChaos:
    @pytest.mark.timeout(600)
    def test_the_tree_survives_random_kills_and_leaks_nothing(self, gs_reports: ReportLog) -> None:
        gs_reports.expect("supervisor_report", context="child_terminated")
        rng = random.Random(SEED)
        me = gs.self()
        baseline = set(gs.processes())
        names = set(gs.registered())
        top = gs.Supervisor.start_link(tree_spec(), **INTENSITY)
        before = snapshot(top)
        assert before["tree_size"] == 3 + 15 + 5
        assert set(gs.processes()) == baseline | {top} | {p for p, _, _ in walk(top)}
        kinds: dict[str, int] = {"worker": 0, "supervisor": 0}
        abnormal = 0

        for _ in range(KILLS):
            victim, parent, kind = rng.choice(walk(top))
            # A supervisor traps exits: only "kill" takes it down.
            reason = "kill" if kind == "supervisor" else rng.choice(WORKER_REASONS)
            ref = gs.monitor(victim)
            gs.exit(victim, reason)
            wait_down(ref)
            children(parent)  # the barrier: the exit, and the restart, are handled
            kinds[kind] += 1
            abnormal += reason not in ("shutdown", ("shutdown", "chaos"))

        after = snapshot(top)
        assert after == before
        tree = walk(top)
        assert all(gs.alive(pid) for pid, _, _ in tree)
        assert set(gs.processes()) == baseline | {top} | {p for p, _, _ in tree}
        assert set(gs.registered()) == names | {f"chaos_w{i}" for i in range(5)}
        for i in range(5):
            assert gs.GenServer.call(f"chaos_w{i}", "get") == i
        info = gs.info(me)
        assert info is not None
        assert info["monitors"] == []
        assert info["message_queue_len"] == 0
        assert kinds["supervisor"] > 0
        # One report per abnormal kill: siblings taken down by a strategy exit
        # with "shutdown", and a killed supervisor's children die unreported.
        reports = gs_reports.of("supervisor_report")
        assert {r["context"] for r in reports} == {"child_terminated"}
        assert len(reports) == abnormal
        assert gs_reports.of("crash_report") == []

        gs.Supervisor.stop(top)

        assert set(gs.processes()) == baseline
        assert set(gs.registered()) == names
