"""examples/kv_tutorial.py: Elixir's KV tutorial, driven the way its guide does."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from gevent import socket, subprocess

import greenserver as gs
import kv_tutorial
from greenserver.testing import ReportLog


@pytest.fixture
def top() -> Iterator[gs.Pid]:
    with structlog.testing.capture_logs():  # progress reports
        pid = kv_tutorial.start(port=0)
    yield pid
    gs.Supervisor.stop(pid)


class Session:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def __call__(self, line: str, replies: int = 1) -> list[str]:
        self.sock.sendall(line.encode() + b"\r\n")
        return [self.file.readline().decode() for _ in range(replies)]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def session(top: gs.Pid) -> Iterator[Session]:
    s = Session(kv_tutorial.port_of(top))
    yield s
    s.close()


class TestServer:
    def test_the_guides_session(self, session: Session) -> None:
        assert session("CREATE shopping") == ["OK\r\n"]
        assert session("PUT shopping milk 1") == ["OK\r\n"]
        assert session("PUT shopping eggs 3") == ["OK\r\n"]
        assert session("GET shopping milk", 2) == ["1\r\n", "OK\r\n"]
        assert session("DELETE shopping eggs") == ["OK\r\n"]
        assert session("GET shopping eggs", 2) == ["\r\n", "OK\r\n"]

    def test_unknown_commands_and_buckets(self, session: Session) -> None:
        assert session("GET nowhere milk") == ["NOT FOUND\r\n"]
        assert session("FROB shopping") == ["UNKNOWN COMMAND\r\n"]
        assert session("PUT shopping milk") == ["UNKNOWN COMMAND\r\n"]

    def test_commands_split_across_packets(self, session: Session) -> None:
        session.sock.sendall(b"CREATE sp")
        session.sock.sendall(b"lit\r\nPUT split k v\r\nGET split k\r")

        assert session("", 0) == []
        assert [session.file.readline() for _ in range(4)] == [b"OK\r\n"] * 2 + [
            b"v\r\n",
            b"OK\r\n",
        ]


class TestRegistry:
    def test_a_dead_bucket_is_forgotten(self, top: gs.Pid, gs_reports: ReportLog) -> None:
        bucket = kv_tutorial.Registry.create(kv_tutorial.REGISTRY, "shopping")
        gs_reports.expect("supervisor_report", pid=bucket, context="child_terminated")

        gs.exit(bucket, "kill")  # its Down is in the registry's mailbox on return

        assert kv_tutorial.Registry.lookup(kv_tutorial.REGISTRY, "shopping") is None

    def test_a_crashed_registry_takes_the_buckets_with_it(
        self, top: gs.Pid, gs_reports: ReportLog
    ) -> None:
        bucket = kv_tutorial.Registry.create(kv_tutorial.REGISTRY, "shopping")
        registry = gs.whereis(kv_tutorial.REGISTRY)
        assert registry is not None
        gs_reports.expect("supervisor_report", pid=registry, context="child_terminated")
        ref = gs.monitor(bucket)

        gs.exit(registry, "kill")
        down = gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=5)
        [(_, kv_sup, _), _] = gs.Supervisor.which_children(top)
        gs.Supervisor.which_children(kv_sup)  # a barrier: the restart is done

        assert down.reason == "shutdown"
        assert kv_tutorial.Registry.lookup(kv_tutorial.REGISTRY, "shopping") is None


class TestScript:
    def test_it_serves_until_ctrl_c(self) -> None:
        script = Path(__file__).resolve().parent.parent / "examples" / "kv_tutorial.py"
        proc = subprocess.Popen(
            [sys.executable, str(script), "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            while line.startswith("20"):  # a timestamped report (debug level, unconfigured)
                line = proc.stdout.readline().decode()
            found = re.match(r"^kv_tutorial: try `nc 127\.0\.0\.1 (\d+)`; Ctrl-C stops it$", line)
            assert found, line
            session = Session(int(found.group(1)))
            assert session("CREATE shopping") == ["OK\r\n"]
            session.close()

            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)

            assert proc.returncode == 0, err.decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
