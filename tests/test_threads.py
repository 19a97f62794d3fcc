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
from gevent.monkey import get_original

import greenserver as gs
from greenserver.testing import wait_all_idle

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


# A real OS lock: waiting on it blocks the hub's thread (a gevent lock would not).
_real_lock = get_original("_thread", "allocate_lock")
_monotonic = get_original("time", "monotonic")


def timed(fn: Callable[[], object]) -> tuple[float, BaseException | None]:
    """Run *fn*; return the seconds it took and what it raised."""
    start = _monotonic()
    try:
        fn()
    except BaseException as exc:
        return _monotonic() - start, exc
    return _monotonic() - start, None


class Blocker(gs.GenServer[Any]):
    """Blocks the hub's thread on a real lock when called with one; a cast waits for "go"."""

    def init(self, arg: None) -> gs.Ok[None]:
        return gs.Ok(None)

    def handle_call(self, request: Any, from_: gs.Ref, state: None) -> gs.Reply[None]:
        request.acquire(timeout=BOUND)
        return gs.Reply("unblocked", state)

    def handle_cast(self, request: Any, state: None) -> gs.NoReply[None]:
        gs.receive(lambda m: m == "go", timeout=BOUND)  # blocks this process only
        return gs.NoReply(state)


class TestForeignDeadline:
    """A call from an OS thread ends within 100 ms of its timeout, and says why."""

    def test_a_server_that_never_replies_times_out_on_time(self) -> None:
        pid = Counter.start(0)

        elapsed, exc = in_thread(  # type: ignore[misc]
            lambda: timed(lambda: gs.GenServer.call(pid, "never", timeout=0.2))
        )

        assert 0.2 <= elapsed < 0.3
        assert isinstance(exc, gs.CallTimeoutError)
        assert str(exc) == f"call to {pid!r} timed out after 0.2s; request was 'never'"
        assert (exc.server, exc.request) == (pid, "never")
        gs.GenServer.stop(pid)

    def test_a_stop_times_out_on_time_too(self) -> None:
        pid = Blocker.start(None)
        gs.GenServer.cast(pid, "wait for go")  # busy, without blocking the hub's thread

        elapsed, exc = in_thread(  # type: ignore[misc]
            lambda: timed(lambda: gs.GenServer.stop(pid, timeout=0.2))
        )

        assert 0.2 <= elapsed < 0.3
        assert isinstance(exc, gs.CallTimeoutError)
        assert str(exc) == f"stopping {pid!r} timed out after 0.2s"
        gs.send(pid, "go")
        gs.GenServer.stop(pid)

    def test_a_hub_thread_blocked_from_the_start_is_named(self) -> None:
        """The hub's thread never runs the request: the thread says so on time."""
        pid = Counter.start(0)
        outcome: list[tuple[float, BaseException | None]] = []
        finished = _real_lock()
        finished.acquire()

        def body() -> None:
            outcome.append(timed(lambda: gs.GenServer.call(pid, "get", timeout=0.2)))
            finished.release()

        thread = threading.Thread(target=body)
        thread.start()
        assert finished.acquire(timeout=BOUND)  # blocks the hub's thread meanwhile
        thread.join(BOUND)
        wait_all_idle()  # the late request runs now, and its proxy ends

        [(elapsed, exc)] = outcome
        assert 0.2 <= elapsed < 0.3
        assert isinstance(exc, gs.CallTimeoutError)
        assert str(exc) == (
            "a call from another OS thread got no answer within 0.2s: greenserver's hub "
            "thread is blocked (never picked the request up); it must be running gevent "
            "(serving, joining, receiving), not an unpatched blocking call such as "
            "time.sleep() or long CPU work"
        )
        assert (exc.server, exc.request) == (pid, "get")
        gs.GenServer.stop(pid)

    def test_a_hub_thread_blocked_during_the_call_is_named(self) -> None:
        """A server blocks the hub's thread while handling the call."""
        pid = Blocker.start(None)
        lock = _real_lock()
        lock.acquire()

        def call_then_unblock() -> tuple[float, BaseException | None]:
            try:
                return timed(lambda: gs.GenServer.call(pid, lock, timeout=0.2))
            finally:
                lock.release()

        elapsed, exc = in_thread(call_then_unblock)  # type: ignore[misc]
        wait_all_idle()  # the server's late reply reaches the proxy, which ends

        assert 0.2 <= elapsed < 0.3
        assert isinstance(exc, gs.CallTimeoutError)
        assert "(picked the request up, then got blocked before it could even time out)" in str(exc)
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


LATE_SENDER = """
import threading, time
import greenserver as gs
me = gs.self()
def late():
    time.sleep(0.1)  # the main process is blocked in receive by then
    gs.send(me, "from a thread")
threading.Thread(target=late).start()
print(gs.receive(timeout=None))
"""


def test_a_process_blocked_in_receive_waits_for_another_threads_message() -> None:
    """gevent's loop sees nothing that could wake it; the thread's send still must."""
    done = subprocess.run(
        [sys.executable, "-c", LATE_SENDER], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "from a thread"
