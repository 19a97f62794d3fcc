"""greenserver.observer without a browser: what a snapshot holds, and what it costs.

``Observer.snapshot()`` returns what the page gets over server-sent events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import greenserver as gs
from greenserver.observer import _collect
from greenserver.testing import wait_down


class Counter(gs.GenServer[int]):
    def init(self, n: int) -> gs.Ok[int]:
        return gs.Ok(n)


@pytest.fixture
def observer() -> Iterator[gs.observer.Observer]:
    observer = gs.observer.serve()
    try:
        yield observer
    finally:
        observer.stop()


def stop_plain(pid: gs.Pid) -> None:
    ref = gs.monitor(pid)
    gs.exit(pid, "kill")
    wait_down(ref)


class TestTable:
    @pytest.mark.parametrize("sort", _collect.SORT_KEYS)
    def test_every_column_sorts(self, observer: gs.observer.Observer, sort: str) -> None:
        backlog = gs.spawn(gs.receive, lambda m: m == "stop")
        for i in range(3):
            gs.send(backlog, i)

        table = observer.snapshot(sort=sort, desc=1)["table"]

        assert table["sort"] == sort
        assert len(table["rows"]) == table["total"] == len(gs.processes())
        if sort == "mailbox":
            assert table["rows"][0]["pid"] == repr(backlog)
        stop_plain(backlog)

    def test_pages_of_page_size_rows(self, observer: gs.observer.Observer) -> None:
        idle = [gs.spawn(gs.receive) for _ in range(25)]

        first = observer.snapshot(page_size=10)["table"]
        last = observer.snapshot(page_size=10, page=99)["table"]  # clamped to the last

        total = len(gs.processes())
        assert (first["pages"], first["page"], len(first["rows"])) == (-(-total // 10), 0, 10)
        assert (last["page"], len(last["rows"])) == (first["pages"] - 1, total % 10 or 10)
        pids = [row["pid"] for row in first["rows"]]
        assert pids == [repr(pid) for pid in gs.processes()[:10]]  # pid order
        for pid in idle:
            stop_plain(pid)

    def test_a_row_describes_the_process(self, observer: gs.observer.Observer) -> None:
        server = Counter.start(0, name="counter")
        assert server is not None
        assert gs.sys.get_state(server) == 0  # one message in, one reply out

        [row] = [r for r in observer.snapshot(page_size=1000)["table"]["rows"] if r["name"]]

        assert row == {
            "pid": repr(server),
            "name": "counter",
            "current": "Counter",
            "behaviour": True,
            "status": "waiting",
            "mailbox": 0,
            "in": row["in"],
            "out": 1,
            "activity": 0.0,
            "memory": row["memory"],
            "links": 0,
            "monitors": 0,
        }
        assert row["memory"] > 0
        gs.GenServer.stop(server)

    def test_a_bad_sort_is_a_value_error(self, observer: gs.observer.Observer) -> None:
        with pytest.raises(ValueError, match=r"^sort must be one of pid, name, .*; got 'bogus'$"):
            observer.snapshot(sort="bogus")


class TestTrees:
    def test_a_big_supervisor_shows_its_first_children_and_counts_the_rest(
        self, observer: gs.observer.Observer
    ) -> None:
        pool = gs.DynamicSupervisor.start_link(name="pool")
        for i in range(_collect.TREE_CHILDREN + 10):
            gs.DynamicSupervisor.start_child(pool, (Counter, i))

        [tree] = observer.snapshot()["trees"]

        assert (tree["pid"], tree["name"], tree["current"]) == (
            repr(pool),
            "pool",
            "DynamicSupervisor",
        )
        assert len(tree["children"]) == _collect.TREE_CHILDREN
        assert tree["more"] == 10
        assert tree["children"][0]["current"] == "Counter"
        gs.DynamicSupervisor.stop(pool)


class TestDetail:
    def test_a_behaviour_shows_its_state_through_sys(self, observer: gs.observer.Observer) -> None:
        server = Counter.start(41)
        assert server is not None

        detail: dict[str, Any] = observer.snapshot(detail=repr(server))["detail"]

        assert detail["sys"]["state"] == "41"
        assert detail["sys"]["status"] == "running"
        gs.GenServer.stop(server)

    def test_a_plain_process_is_described_and_never_sent_anything(
        self, observer: gs.observer.Observer
    ) -> None:
        plain = gs.spawn(gs.receive, lambda m: m == "stop")

        detail: dict[str, Any] = observer.snapshot(detail=repr(plain))["detail"]

        assert "sys" not in detail
        assert "sys_error" not in detail
        assert (detail["behaviour"], detail["mailbox"]) == (False, 0)
        assert (gs.info(plain) or {})["message_queue_len"] == 0
        stop_plain(plain)

    def test_a_dead_pid_is_dead(self, observer: gs.observer.Observer) -> None:
        assert observer.snapshot(detail="<0.999999.0>")["detail"] == {
            "pid": "<0.999999.0>",
            "status": "dead",
        }


class TestSummary:
    def test_names_the_node_and_its_connections(self, observer: gs.observer.Observer) -> None:
        summary = observer.snapshot()["summary"]

        assert (summary["node"], summary["nodes"]) == (None, [])  # not distributed here
        assert summary["processes"] == len(gs.processes())

    def test_statistics_count_the_snapshots(self, observer: gs.observer.Observer) -> None:
        observer.snapshot()
        observer.snapshot()

        stats = observer.statistics()

        assert stats.snapshots == 2
        assert 0 < stats.busy < stats.uptime
        assert stats.share == pytest.approx(stats.busy / stats.uptime, rel=0.5)
