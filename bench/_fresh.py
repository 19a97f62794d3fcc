"""Figures measured in a fresh process: a Python interpreter or an Erlang VM.

A case that starts thousands of processes, or measures memory, runs its
work in a subprocess of its own, so that one measurement's allocator state
(free lists, arenas, a heap grown to hold 100,000 servers) stays out of the
next one. The subprocess prints one JSON object on its last line of output.

One subprocess run can feed several cases (start seconds and peak RSS of
the same million servers): ``SharedRun`` hands each case its figure from the
latest run and starts a new run when a case comes back for a second one.
The runner calls a group's cases round-robin, so a round costs one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the directory holding bench/


def run_json(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run *argv*; return the JSON object its standard output ends with.

    Raises:
        RuntimeError: The command failed or printed no JSON; the message
            carries the command line and its standard error.
    """
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{' '.join(argv)} took longer than {timeout}s") from exc
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(argv)} exited with status {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{' '.join(argv)} printed no JSON line: {lines[-1]!r}") from exc


def python_module(module: str, *args: str, timeout: float) -> Any:
    """Run ``python -m module args`` in a fresh interpreter that can import ``bench``."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) if not path else f"{ROOT}{os.pathsep}{path}"
    return run_json([sys.executable, "-m", module, *args], timeout=timeout, env=env)


class SharedRun:
    """One subprocess run whose figures several cases take, one key each."""

    def __init__(self, start: Callable[[int], dict[str, Any]]) -> None:
        self._start = start
        self._latest: dict[str, Any] | None = None
        self._n: int | None = None
        self._taken: set[str] = set()

    def figure(self, key: str, n: int) -> float:
        """Return *key* of the latest run of size *n*; start a run if *key* was taken."""
        if self._latest is None or key in self._taken or self._n != n:
            self._latest, self._n = None, n  # a failed run leaves nothing stale
            self._latest = self._start(n)
            self._taken.clear()
        self._taken.add(key)
        return float(self._latest[key])
