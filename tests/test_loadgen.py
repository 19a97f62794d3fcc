"""examples/loadgen.py: client processes under a DynamicSupervisor load the KV server."""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _nodes import private_epmd
from gevent import subprocess

import greenserver as gs
import kv_server
import loadgen

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "loadgen.py"


@pytest.fixture
def kv() -> Iterator[kv_server.KVServer]:
    server = kv_server.start(port=0)
    yield server
    server.stop(grace=0)


class TestRun:
    def test_each_client_makes_its_requests_and_all_processes_end(
        self, kv: kv_server.KVServer
    ) -> None:
        before = set(gs.processes())
        out = io.StringIO()

        report = loadgen.run(port=kv.port, clients=20, requests=50, out=out)

        assert (report.clients, report.requests, report.errors) == (20, 1000, 0)
        assert sum(report.histogram.values()) == 1000
        assert 0 < report.p50_us <= report.p90_us <= report.p99_us <= report.max_us
        assert kv.listener.wait_drained(timeout=5)  # the server saw every client leave
        assert set(gs.processes()) == before
        text = out.getvalue()
        assert "20 clients, 1,000 requests in" in text
        assert "clients running 0" in text
        assert "KiB per client process" in text

    def test_the_script_really_ran_against_the_server(self, kv: kv_server.KVServer) -> None:
        loadgen.run(port=kv.port, clients=3, requests=40, out=None)
        # Each client's script sets keys, reads them back and counts in a key of its own:
        # 40 requests = 10 rounds of SET, GET, INCR, PING.
        pids = [pid for pid in kv.table.pids if pid is not None]
        values: dict[bytes, bytes] = {}
        for pid in pids:
            values.update(gs.sys.get_state(pid).data)

        assert {values[f"loadgen:{c}:counter".encode()] for c in range(3)} == {b"10"}
        assert values[b"loadgen:2:9"] == b"value-9"

    def test_a_time_limited_run_stops_on_time(self, kv: kv_server.KVServer) -> None:
        report = loadgen.run(port=kv.port, clients=5, seconds=0.2, out=None)

        assert report.requests > 0
        assert report.errors == 0
        assert report.seconds < 5


class TestHistogram:
    def test_percentiles_come_from_bucket_edges(self) -> None:
        histogram: Counter[int] = Counter()
        for micros in [100] * 50 + [200] * 40 + [1000] * 9 + [5000]:
            histogram[loadgen.bucket_of(micros)] += 1

        assert 100 <= loadgen.percentile(histogram, 0.50) <= 105
        assert 200 <= loadgen.percentile(histogram, 0.90) <= 210
        assert 1000 <= loadgen.percentile(histogram, 0.99) <= 1050
        assert loadgen.percentile(Counter(), 0.5) == 0.0


class TestScript:
    def test_runs_as_a_script_against_a_server(self, kv: kv_server.KVServer) -> None:
        done = subprocess.run(
            [
                *(sys.executable, str(EXAMPLE), "--clients", "10", "--requests", "20"),
                *("--port", str(kv.port)),
            ],
            capture_output=True,
            timeout=60,
        )

        assert done.returncode == 0, done.stderr
        out = done.stdout.decode()
        assert "10 clients, 200 requests in" in out
        assert "latency p50" in out


class TestRunOnNodes:
    def test_two_peer_nodes_run_the_clients_and_their_histograms_merge(
        self, kv: kv_server.KVServer
    ) -> None:
        out = io.StringIO()
        with private_epmd():
            report = loadgen.run_on_nodes(port=kv.port, nodes=2, clients=5, requests=20, out=out)

        assert (report.clients, report.requests, report.errors) == (5, 100, 0)
        assert sum(report.histogram.values()) == 100
        assert 0 < report.p50_us <= report.p99_us
        assert gs.node.name() is None  # the node it started is stopped again
        lines = out.getvalue().splitlines()
        assert sorted(line.split(": ", 1)[1] for line in lines[:2]) == [
            "2 clients, 40 requests, 0 errors",
            "3 clients, 60 requests, 0 errors",
        ]
        assert "5 clients, 100 requests in" in out.getvalue()
        assert kv.listener.wait_drained(timeout=5)

    def test_runs_as_a_script_with_nodes(self, kv: kv_server.KVServer) -> None:
        with private_epmd():
            done = subprocess.run(
                [
                    *(sys.executable, str(EXAMPLE), "--clients", "4", "--requests", "10"),
                    *("--port", str(kv.port), "--nodes", "2"),
                ],
                capture_output=True,
                timeout=60,
            )

        assert done.returncode == 0, done.stderr
        out = done.stdout.decode()
        assert out.count("2 clients, 20 requests, 0 errors") == 2
        assert "4 clients, 40 requests in" in out

    def test_nodes_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match=r"^nodes must be at least 1; got 0$"):
            loadgen.run_on_nodes(nodes=0)
