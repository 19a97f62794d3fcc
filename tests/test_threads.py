"""Plain OS threads (not greenlets) calling into the node, and monkey-patched apps."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import greenserver as gs

BOUND = 10.0


class Counter(gs.GenServer[int]):
    def init(self, start: int) -> gs.Ok[int]:
        return gs.Ok(start)

    def handle_call(self, request: Any, from_: gs.Ref, state: int) -> Any:
        if request == "get":
            return gs.Reply(state, state)
        if request == "never":
            return gs.NoReply(state)
        return gs.Reply(request, state)

    def handle_cast(self, request: Any, state: int) -> gs.NoReply[int]:
        return gs.NoReply(state + request)


def in_thread(fn: Callable[[], object]) -> object:
    """Run *fn* in a plain OS thread; the node keeps running while we wait.

    The thread reports back with gs.send, itself one of the thread-safe calls.
    """
    me = gs.self()

    def body() -> None:
        try:
            gs.send(me, ("thread done", True, fn()))
        except BaseException as exc:
            gs.send(me, ("thread done", False, exc))

    thread = threading.Thread(target=body)
    thread.start()
    msg: Any = gs.receive(lambda m: type(m) is tuple and m[0] == "thread done", timeout=BOUND)
    thread.join(BOUND)
    _, ok, value = msg
    if not ok:
        raise value
    return value


class TestCallFromAThread:
    def test_returns_the_reply(self) -> None:
        pid = Counter.start(5)

        assert in_thread(lambda: gs.GenServer.call(pid, "get")) == 5
        gs.GenServer.stop(pid)

    def test_by_name(self) -> None:
        pid = Counter.start(7, name="counter")

        assert in_thread(lambda: gs.GenServer.call("counter", "get")) == 7
        gs.GenServer.stop(pid)

    def test_timeout_is_honoured(self) -> None:
        pid = Counter.start(0)

        with pytest.raises(gs.CallTimeoutError):
            in_thread(lambda: gs.GenServer.call(pid, "never", timeout=0.05))
        gs.GenServer.stop(pid)

    def test_dead_server_raises_no_process_error(self) -> None:
        pid = Counter.start(0)
        gs.GenServer.stop(pid)

        with pytest.raises(gs.NoProcessError):
            in_thread(lambda: gs.GenServer.call(pid, "get"))

    def test_many_pool_workers_at_once(self) -> None:
        pid = Counter.start(0)
        me = gs.self()

        def work(n: int) -> None:
            gs.send(me, ("answer", gs.GenServer.call(pid, n)))

        with ThreadPoolExecutor(max_workers=4) as pool:
            for n in range(40):
                pool.submit(work, n)
            answers = sorted(gs.receive(timeout=BOUND)[1] for _ in range(40))  # type: ignore[index]

        assert answers == list(range(40))
        gs.GenServer.stop(pid)


class TestCastAndSendFromAThread:
    def test_casts_arrive_before_a_later_send(self) -> None:
        pid = Counter.start(0)

        def cast_three() -> str:
            for _ in range(3):
                gs.GenServer.cast(pid, 1)
            return "sent"

        assert in_thread(cast_three) == "sent"
        assert gs.GenServer.call(pid, "get") == 3
        gs.GenServer.stop(pid)

    def test_send_to_an_unknown_name_raises_in_the_thread(self) -> None:
        with pytest.raises(gs.NoProcessError, match=r"^no process is registered as 'nobody'$"):
            in_thread(lambda: gs.send("nobody", "hi"))

    def test_cast_to_an_unknown_server_never_fails(self) -> None:
        assert in_thread(lambda: gs.GenServer.cast("nobody", 1)) is None


class TestOtherRequestsFromAThread:
    def test_sys_get_state_and_stop(self) -> None:
        pid = Counter.start(9)
        ref = gs.monitor(pid)

        assert in_thread(lambda: gs.sys.get_state(pid)) == 9
        in_thread(lambda: gs.GenServer.stop(pid))

        down: Any = gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=BOUND)
        assert down.reason == "normal"

    def test_a_thread_cannot_be_a_process(self) -> None:
        with pytest.raises(
            RuntimeError,
            match=r"^this OS thread is not the one running greenserver's hub: from here use "
            r"GenServer.call/cast/stop, gs.send and gs.sys functions, which are thread-safe$",
        ):
            in_thread(gs.self)


MONKEY_SUBSET = [
    "tests/test_process.py",
    "tests/test_links.py",
    "tests/test_monitors.py",
    "tests/test_mailbox.py",
    "tests/test_gen_server.py",
    "tests/test_supervisor.py",
    "tests/test_registry.py",
]

MONKEY_RUNNER = """
from gevent import monkey
monkey.patch_all()
import sys, pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
"""


class TestMonkeyPatched:
    def test_a_subset_of_the_suite_passes_after_patch_all(self) -> None:
        root = Path(__file__).resolve().parent.parent

        done = subprocess.run(
            [sys.executable, "-c", MONKEY_RUNNER, *MONKEY_SUBSET],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )

        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert " passed" in done.stdout

    def test_patched_threads_are_greenlets_and_so_processes(self) -> None:
        script = """
from gevent import monkey
monkey.patch_all()
import threading
import greenserver as gs

class Echo(gs.GenServer):
    def init(self, arg):
        return gs.Ok(arg)
    def handle_call(self, request, from_, state):
        return gs.Reply(request, state)

pid = Echo.start(None)
seen = []
def worker():
    seen.append(gs.GenServer.call(pid, "from a patched thread"))
    seen.append(isinstance(gs.self(), gs.Pid))
t = threading.Thread(target=worker)
t.start()
t.join()
gs.GenServer.stop(pid)
print(seen)
"""
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )

        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "['from a patched thread', True]"
