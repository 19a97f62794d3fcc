"""The recipes of ``docs/applications.md``, run with the real tools (issue 14).

gunicorn's gevent worker serving Flask (with and without ``--preload``, and
recycling workers with ``--max-requests``), Locust, and a plain
``gevent.pywsgi`` server each run as OS processes on 127.0.0.1, started from
``examples/apps/``; the tests talk HTTP to them and read what they print.
Every run is bounded; a program that hangs fails its test.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gunicorn as gunicorn_package
import pytest

APPS = Path(__file__).resolve().parents[1] / "examples" / "apps"
BIN = Path(sys.executable).parent
BOUND = 30.0  # seconds: bounds a failure, never decides success


class Program:
    """An OS process whose output (stdout and stderr together) is read as it comes."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            args,
            cwd=APPS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str) -> re.Match[str]:
        """Return the first output line matching *pattern*, waiting for it if need be."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            for line in self.lines:
                match = regex.search(line)
                if match:
                    return match
            return None

        with self.changed:
            if not self.changed.wait_for(
                lambda: found() is not None or self.proc.poll() is not None, BOUND
            ):
                raise TimeoutError(f"no line matched {pattern!r}:\n{self.output()}")
            match = found()
        if match is None:
            raise AssertionError(f"exited before printing {pattern!r}:\n{self.output()}")
        return match

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send *signum*, wait for the exit and the last output; return the exit code."""
        self.proc.send_signal(signum)
        code = self.proc.wait(BOUND)
        self.reader.join(BOUND)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(BOUND)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def output(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def program(args: list[str]) -> Iterator[Program]:
    running = Program(args)
    try:
        yield running
    finally:
        running.kill()


def get(port: int, path: str) -> tuple[int, dict[str, int] | str]:
    """GET http://127.0.0.1:port/path; return the status and the JSON (or text) body."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    try:
        with urllib.request.urlopen(request, timeout=BOUND) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


# gunicorn 27 added a control socket (and --no-control-socket).
_HAS_CONTROL_SOCKET = int(gunicorn_package.__version__.split(".")[0]) >= 27


def gunicorn(*options: str) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "-k",
        "gevent",
        "-b",
        "127.0.0.1:0",
        # An idle gevent worker forked from a --preload master does not exit
        # on SIGTERM (gunicorn 27, with or without greenserver): the master
        # kills it after this many seconds.
        "--graceful-timeout",
        "3",
        # gunicorn 27's control socket lives at one path in $HOME: two
        # gunicorns at once (parallel test runs) would fight over it.
        *(["--no-control-socket"] if _HAS_CONTROL_SOCKET else []),
        *options,
        "flask_app:app",
    ]


def listening_port(server: Program) -> int:
    return int(server.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))


def terminated(server: Program) -> dict[int, str]:
    """Map each worker pid to how its counter's ``terminate`` ended, from the output."""
    found = {}
    for line in server.lines:
        match = re.search(r"counter terminate pid=(\d+) count=(\d+) reason=(\S+)", line)
        if match:
            found[int(match.group(1))] = f"count={match.group(2)} reason={match.group(3)}"
    return found


def counts_by_worker(replies: list[tuple[int, dict[str, int] | str]]) -> dict[int, list[int]]:
    by_worker: dict[int, list[int]] = {}
    for status, body in replies:
        assert status == 200, body
        assert isinstance(body, dict)
        by_worker.setdefault(body["worker"], []).append(body["count"])
    return by_worker


class TestGunicornFlask:
    @pytest.mark.parametrize("preload", [False, True], ids=["fork-then-import", "preload"])
    def test_each_worker_starts_its_own_application_and_sigterm_stops_it(
        self, preload: bool
    ) -> None:
        with program(gunicorn("-w", "2", *(["--preload"] if preload else []))) as server:
            port = listening_port(server)
            replies = [get(port, "/count") for _ in range(20)]
            code = server.stop(signal.SIGTERM)

        by_worker = counts_by_worker(replies)
        # One application per worker, started there after the fork: each
        # worker's counter counts its own requests from 1.
        assert all(counts == list(range(1, len(counts) + 1)) for counts in by_worker.values())
        # SIGTERM reached each worker's application, and terminate ran.
        assert terminated(server) == {
            worker: f"count={len(counts)} reason=shutdown" for worker, counts in by_worker.items()
        }, server.output()
        assert code == 0, server.output()

    def test_a_crash_is_a_500_and_a_report_never_a_dead_worker(self) -> None:
        with program(gunicorn("-w", "1")) as server:
            port = listening_port(server)
            first = get(port, "/count")
            crash = get(port, "/crash")
            after_crash = get(port, "/count")
            # Two more crashes: the supervisor gives up, the application stops.
            more_crashes = [get(port, "/crash")[0] for _ in range(2)]
            after_give_up = get(port, "/count")  # reports why, clears the failure
            fresh = get(port, "/count")
            server.stop()

        worker = counts_by_worker([first])
        assert list(worker.values()) == [[1]]
        assert crash[0] == 500
        assert counts_by_worker([after_crash, fresh]) == {next(iter(worker)): [1, 1]}
        assert more_crashes == [500, 500]
        assert after_give_up[0] == 500
        output = server.output()
        assert "crash_report" in output
        assert "application_report" in output
        assert "reached_max_restart_intensity" in output
        # One worker served everything: none died, none was booted to replace it.
        assert output.count("Booting worker") == 1, output

    def test_max_requests_recycling_starts_and_stops_one_application_per_worker(self) -> None:
        replies: list[tuple[int, dict[str, int] | str]] = []
        with program(gunicorn("-w", "1", "--max-requests", "3")) as server:
            port = listening_port(server)
            # A worker past its 3 requests notices within a second and exits;
            # until then it serves on. Go on until a third worker has served.
            while len({body["worker"] for _, body in replies}) < 3:  # type: ignore[index]
                replies.append(get(port, "/count"))
                if len(replies) > 10_000:
                    raise AssertionError(f"no recycling:\n{server.output()}")
            server.stop()

        by_worker = counts_by_worker(replies)
        assert all(counts == list(range(1, len(counts) + 1)) for counts in by_worker.values())
        assert all(len(counts) >= 3 for counts in list(by_worker.values())[:2])
        # Each worker, recycled or stopped, stopped its application on its way out.
        assert terminated(server) == {
            worker: f"count={len(counts)} reason=shutdown" for worker, counts in by_worker.items()
        }, server.output()


class TestLocust:
    def test_shared_and_per_user_servers_leave_nothing_behind(self) -> None:
        args = [str(BIN / "locust"), "-f", "locustfile.py", "--headless"]
        args += ["-u", "30", "-r", "30", "-t", "2s", "--only-summary"]
        with program(args) as run:
            run.wait_for(r"servers left")
            code = run.proc.wait(BOUND)

        output = run.output()
        assert code == 0, output
        assert int(re.findall(r"shared calls (\d+)", output)[0]) > 30
        assert "greenserver: servers left 0" in output
        assert "crash_report" not in output


class TestGeventWSGIServer:
    def test_serves_from_fresh_greenlets_and_sigterm_stops_the_application(self) -> None:
        with program([sys.executable, "wsgi_server.py", "--port", "0"]) as server:
            port = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
            counts = [get(port, "/count") for _ in range(3)]
            crash = get(port, "/crash")
            after = get(port, "/count")
            code = server.stop(signal.SIGTERM)

        assert [body["count"] for _, body in counts] == [1, 2, 3]  # type: ignore[index]
        assert crash[0] == 500
        assert "ServerExitError" in str(crash[1])
        assert after[0] == 200
        assert after[1]["count"] == 1  # type: ignore[index]
        assert list(terminated(server).values()) == ["count=1 reason=shutdown"]
        assert code == -signal.SIGTERM


class TestDocs:
    def test_the_applications_page_shows_every_recipe_as_tested(self) -> None:
        page = (APPS.parents[1] / "docs" / "applications.md").read_text()

        for recipe in sorted(APPS.glob("*.py")):
            assert f'--8<-- "examples/apps/{recipe.name}"' in page, recipe.name
