"""``make demo``'s nodes act: two nodes, a call across, a peer killed and restarted.

This OS process becomes a node; a supervisor starts a second greenserver
node as an OS process of its own (``gs.node.Peer``). A call crosses
between them in OTP's wire format; then the peer is killed with
``kill -9``: this node gets ``NodeDown`` and the supervisor, which saw its
child exit with ``noconnection``, starts the peer again. With Elixir
installed, an Elixir node then calls a Python GenServer here. Needs only
Python: without an ``epmd`` on the machine, greenserver starts its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import gevent
import gevent.subprocess as subprocess
import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))  # node_tasks, for this node and its peers


class Greeter(gs.GenServer[None]):
    def init(self, arg: None) -> gs.Ok[None]:
        return gs.Ok(None)

    def handle_call(self, request: object, from_: gs.Ref, state: None) -> gs.Reply[None]:
        assert isinstance(request, tuple)
        return gs.Reply(f"hello {request[1]}, from Python on {gs.node.name()}", state)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def wait_until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        gevent.sleep(0.05)


def main() -> int:
    structlog.configure(  # crash reports to stderr; the expected ones are debug-level
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    cookie = secrets.token_hex(16)
    me = gs.node.start(f"demo{os.getpid()}", cookie=cookie)
    host = me.partition("@")[2]
    peer = f"worker{os.getpid()}@{host}"
    print(f"this OS process is the node {me}")

    step("a supervisor starts a peer node, an OS process of its own")
    sup = gs.Supervisor.start_link([gs.node.Peer(peer.partition("@")[0])], strategy="one_for_one")
    print(f"connected nodes: {['the peer' if n == peer else n for n in gs.node.list()]}")

    step("a call across")
    gs.node.spawn(peer, "node_tasks:start_counter", ("counter", gs.self()))
    gs.receive(lambda m: isinstance(m, tuple) and m[0] == "counter", timeout=10)
    total = gs.GenServer.call(("counter", peer), ("add", 5))
    total = gs.GenServer.call(("counter", peer), ("add", 2))
    print(f"GenServer.call(('counter', peer), ('add', 2)) -> {total}")

    step("kill -9 the peer's OS process")
    os_pid = gs.GenServer.call(("counter", peer), "os_pid")
    assert isinstance(os_pid, int)
    keeper = gs.Supervisor.which_children(sup)[0][1]
    gs.node.monitor(peer)
    os.kill(os_pid, signal.SIGKILL)
    down = gs.receive(lambda m: isinstance(m, gs.NodeDown), timeout=30)
    print(f"got {down!r}")
    wait_until(
        lambda: gs.Supervisor.which_children(sup)[0][1] not in (keeper, None),
        "the restart",
    )
    print(f"the supervisor restarted the peer; ping -> {gs.node.ping(peer)}")

    if shutil.which("elixir"):
        step("an Elixir node calls a Python GenServer")
        Greeter.start(None, name="greeter")
        code = f'IO.puts GenServer.call({{:greeter, :"{me}"}}, {{:hello, "Elixir"}})'
        done = subprocess.run(
            ["elixir", "--sname", f"ex{os.getpid()}", "--cookie", cookie, "-e", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        print(f"Elixir printed: {done.stdout.strip()}")
        if done.returncode:
            print(done.stderr, file=sys.stderr)
        gs.GenServer.stop("greeter")
    else:
        step("(no elixir here: the Elixir part is skipped)")

    gs.Supervisor.stop(sup)
    gs.node.stop()
    print("\nall done: the peer is gone with its supervisor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
