"""``python -m greenserver.observer URL``: the terminal top, run as a user runs it.

The node (this test's process) serves the observer; the top runs as a
separate OS process, waited for with ``gevent.subprocess`` so the node keeps
answering its requests meanwhile (and so gevent's child reaping, installed
by other tests, cannot steal its exit status).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import gevent.subprocess
import pytest

import greenserver as gs
from greenserver.testing import wait_down


def top(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "TERM": "dumb"}
    command = [sys.executable, "-m", "greenserver.observer", *args]
    result: subprocess.CompletedProcess[str] = gevent.subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    return result


class Busy(gs.GenServer[int]):
    """Counts the casts it handles."""

    def init(self, n: int) -> gs.Ok[int]:
        return gs.Ok(n)

    def handle_cast(self, request: object, state: int) -> gs.NoReply[int]:
        return gs.NoReply(state + 1)


@pytest.fixture
def observed() -> Iterator[tuple[gs.observer.Observer, gs.Pid, gs.Pid]]:
    backlog = gs.spawn(gs.receive, lambda m: m == "stop")
    gs.register("backlog", backlog)
    for i in range(40):
        gs.send(backlog, i)
    busy = gs.GenServer.start(Busy, 0)
    assert busy is not None
    gs.register("busy", busy)
    observer = gs.observer.serve()
    try:
        yield observer, backlog, busy
    finally:
        observer.stop()
        gs.GenServer.stop(busy)
        ref = gs.monitor(backlog)
        gs.send(backlog, "stop")
        wait_down(ref)


def table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.lstrip().startswith("<0.")]


class TestTop:
    def test_help(self) -> None:
        result = top("--help")

        assert result.returncode == 0
        assert result.stdout.startswith("usage: python -m greenserver.observer [-h]")
        assert "--sort {mailbox,activity," in result.stdout

    def test_sorted_by_mailbox_the_backlog_comes_first(
        self, observed: tuple[gs.observer.Observer, gs.Pid, gs.Pid]
    ) -> None:
        observer, backlog, _ = observed

        result = top(observer.url, "--once", "--rows", "2")

        assert result.returncode == 0, result.stderr
        assert f"greenserver top {observer.url}" in result.stdout
        first = table_lines(result.stdout)[0].split()
        assert first[:2] == [repr(backlog), "backlog"]
        assert "40" in first
        assert len(table_lines(result.stdout)) == 2  # of the four processes

    def test_sorted_by_activity_the_busy_server_comes_first(
        self, observed: tuple[gs.observer.Observer, gs.Pid, gs.Pid]
    ) -> None:
        observer, _, busy = observed
        observer.snapshot(sort="activity")  # the first look: counts start here
        for _ in range(500):
            gs.GenServer.cast(busy, "work")
        gs.sys.get_state(busy)  # a barrier: the casts are handled

        result = top(observer.url, "--once", "--sort", "activity")

        assert result.returncode == 0, result.stderr
        first = table_lines(result.stdout)[0].split()
        assert first[:3] == [repr(busy), "busy", "Busy"]

    def test_live_mode_refreshes(
        self, observed: tuple[gs.observer.Observer, gs.Pid, gs.Pid]
    ) -> None:
        observer, backlog, _ = observed

        result = top(observer.url, "--iterations", "2", "--interval", "0.1")

        assert result.returncode == 0, result.stderr
        assert repr(backlog) in result.stdout

    def test_an_unreachable_url_is_a_clear_error(self) -> None:
        result = top("http://127.0.0.1:9/", "--once")

        assert result.returncode == 2
        assert result.stderr.startswith("cannot read an observer at 'http://127.0.0.1:9/': ")
