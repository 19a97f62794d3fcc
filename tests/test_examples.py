"""Every program in examples/ runs as it is: exit code 0 and the output it promises.

Each one runs as a subprocess of the interpreter running the tests (the
project's venv), exactly as a reader would start it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Lines (regular expressions) each program must print, in this order.
EXPECTED: dict[str, list[str]] = {
    "demo.py": [
        r"^<0\.\d+\.0> sent ping to <0\.\d+\.0>, got \('pong', <0\.\d+\.0>\)$",
        r"^Down from <0\.\d+\.0>: reason ValueError\('something went wrong'\)$",
        r"^ExitSignal from <0\.\d+\.0>: reason 'killed' \('kill' arrives as 'killed'\)$",
        r"^Stack\.pop -> hello$",
        r"^Stack\.pop -> world$",
        r"^stopped; name free: True$",
        r"^before the crash, state: \['world', 'hello'\]$",
        r"^after the restart, state: \['hello'\]$",
        r"^Supervisor <0\.\d+\.0> 'stack_sup' \[Supervisor, running, mailbox 0\]$",
        r"^all done: no process left behind$",
    ],
    "stack.py": [
        r"^pop -> hello$",
        r"^pop -> world$",
        r"^stopped; whereis\('stack'\) -> None$",
    ],
    "trace_server.py": [
        r"^Supervisor <0\.\d+\.0> 'stack_sup' \[Supervisor, running, mailbox 0\]$",
        r"^  'stack' <0\.\d+\.0> 'stack' \[Stack, running, mailbox 0\]$",
        r"^\[trace\] cast    <0\.\d+\.0> casts \('push', 'world'\) to <0\.\d+\.0>$",
        r"^\[trace\] call    <0\.\d+\.0> calls <0\.\d+\.0> with 'pop'$",
        r"^\*DBG\* <0\.\d+\.0> \(stack\) got cast \('push', 'world'\)$",
        r"^\*DBG\* <0\.\d+\.0> \(stack\) got call 'pop' from <0\.\d+\.0>$",
        r"^\[trace\] reply   <0\.\d+\.0> answers 'world' to <0\.\d+\.0>$",
        r"^pop -> world$",
        r"^pop -> hello$",
        r"^\[trace\] exit    <0\.\d+\.0> exits: 'boom'$",
        r"^\[trace\] restart <0\.\d+\.0> restarted child 'stack': <0\.\d+\.0> -> <0\.\d+\.0>$",
        r"^after the restart, state: \['hello'\]$",
        r"^all done: no process left behind$",
    ],
    "registry_pubsub.py": [
        r"^subscribers of 'news': \['alice', 'bob'\]$",
        r"^published 'nobody listens' on 'weather' to 0 subscriber\(s\)$",
        r"^carol received \[\('sports', '3-1'\)\]$",
        r"^entries left after the subscribers exited: 0$",
    ],
    "kv_demo.py": [
        r"^== KV server listening on 127\.0\.0\.1:\d+$",
        r"^== crashing shard 2 \(<0\.\d+\.0>\) on purpose$",
        r"^10 clients, [\d,]+ requests in ",
        r"^== shard 2 was <0\.\d+\.0>, is now <0\.\d+\.0> \(restarted: True\)$",
        r"^Supervisor <0\.\d+\.0> \[Supervisor, running, mailbox 0\]$",
        r"^  'shards' <0\.\d+\.0> \[Supervisor, running, mailbox 0\]$",
        r"^all done: \d+ requests, no process left behind$",
    ],
    "tasks.py": [
        r"^square\(12\) -> 144$",
        r"^map -> \('ok', 0\)$",
        r"^map -> \('ok', 16\)$",
        r"^parse\('7'\) -> \('ok', 7\)$",
        r"^parse\('x'\) -> \('exit', \('bad_input', 'x'\)\)$",
        r"^parse\('35'\) -> \('ok', 35\)$",
    ],
}

# Arguments that keep a run short.
ARGS: dict[str, list[str]] = {"kv_demo.py": ["--seconds", "1", "--clients", "10"]}

# Servers that need a free port or command-line arguments; their own tests run them.
# node_tasks.py holds functions other nodes spawn (tests/test_node.py runs them);
# the node examples run on a private epmd in tests/test_example_nodes.py;
# observer_demo.py: tests/test_observer_browser.py runs it (it needs Chromium).
NOT_RUN_HERE = {
    *("kv_server.py", "kv_tutorial.py", "loadgen.py", "node_tasks.py", "observer_demo.py"),
    *("cpu_nodes.py", "nodes_demo.py", "two_nodes.py", "elixir_node.py"),
}

RUN = sorted(name for name in EXPECTED if (EXAMPLES / name).exists())


def run_example(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *ARGS.get(name, [])],
        cwd=EXAMPLES.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def unmatched(patterns: list[str], lines: list[str]) -> list[str]:
    """Return the patterns not found in *lines* in order (each after the previous one)."""
    remaining = iter(lines)
    return [p for p in patterns if not any(re.search(p, line) for line in remaining)]


@pytest.mark.parametrize("name", RUN)
def test_example_runs_and_prints_what_it_promises(name: str) -> None:
    done = run_example(name)

    assert done.returncode == 0, done.stdout + done.stderr
    assert unmatched(EXPECTED[name], done.stdout.splitlines()) == [], done.stdout


def test_every_example_is_run_here_or_named_as_tested_elsewhere() -> None:
    present = {path.name for path in EXAMPLES.glob("*.py")}

    assert present - NOT_RUN_HERE == set(RUN)


def test_the_listed_core_examples_exist() -> None:
    assert {"demo.py", "stack.py", "trace_server.py"} <= set(RUN)
