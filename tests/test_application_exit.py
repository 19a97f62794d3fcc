"""Application ``stop_on_exit``: SIGTERM, SIGINT and interpreter exit, in real OS processes.

Issue 14: on SIGTERM nothing stopped the tree, so ``terminate`` never ran.
Each test runs ``tests/apps/exit_app.py`` (two workers under one supervisor;
every ``terminate`` and the ``stop`` callback print a line) and reads what
it printed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "apps" / "exit_app.py"
BOUND = 30.0  # seconds: bounds a failure, never decides success

STOPPED = [
    "terminate b shutdown",  # reverse start order
    "terminate a shutdown",
    "stop callback",
]


def run(mode: str, signum: int | None = None) -> tuple[int, list[str]]:
    """Run the script; once it is ready, send *signum*; return its exit code and lines.

    Its reports go to stderr, which the test leaves alone (pytest shows it on failure).
    """
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), mode], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
            if signum is not None:
                proc.send_signal(signum)
            # Not communicate(): it would miss what readline() already buffered.
            out = proc.stdout.read()
            proc.wait(BOUND)
        finally:
            proc.kill()
    return proc.returncode, out.splitlines()


class TestStopOnExit:
    def test_interpreter_exit_stops_the_tree(self) -> None:
        code, lines = run("return")

        assert (code, lines) == (0, STOPPED)

    def test_sigterm_stops_the_tree_then_the_process_dies_of_it(self) -> None:
        code, lines = run("wait", signal.SIGTERM)

        assert (code, lines) == (-signal.SIGTERM, STOPPED)

    def test_sigint_stops_the_tree_then_raises_keyboard_interrupt(self) -> None:
        code, lines = run("wait", signal.SIGINT)

        assert (code, lines) == (-signal.SIGINT, STOPPED)

    def test_the_host_programs_own_handler_still_runs_afterwards(self) -> None:
        code, lines = run("host", signal.SIGTERM)

        assert (code, lines) == (3, [*STOPPED, "host handler"])


def test_without_stop_on_exit_nothing_runs_at_exit() -> None:
    """The opt-out: a plain ``ensure_started`` leaves the process's exit alone."""
    code = (
        "import greenserver as gs, sys; sys.path.insert(0, sys.argv[1]); "
        "from exit_app import ExitApp; ExitApp.ensure_started(); print('ready', flush=True)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(SCRIPT.parent)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=True,
    )

    assert out.stdout.splitlines() == ["ready"]


def test_a_forked_child_does_not_use_its_parents_application() -> None:
    """``--preload``'s hazard: a child forked from a running node gets frozen copies."""
    code = """if True:
        import os, sys
        sys.path.insert(0, sys.argv[1])
        import greenserver as gs
        from exit_app import ExitApp
        ExitApp.ensure_started()
        child = os.fork()
        if child == 0:
            try:
                ExitApp.ensure_started()
            except gs.StartError as error:
                print("child:", error.reason, ExitApp.running(), flush=True)
            ExitApp.stop()  # forgets the inherited copy; starts nothing
            print("child after stop:", ExitApp.running(), flush=True)
            os._exit(0)
        os.waitpid(child, 0)
        print("parent:", ExitApp.running(), flush=True)
        ExitApp.stop()
    """
    out = subprocess.run(
        [sys.executable, "-c", code, str(SCRIPT.parent)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=True,
    )

    assert out.stdout.splitlines() == [
        "child: forked False",
        "child after stop: False",
        "parent: True",
        "terminate b shutdown",
        "terminate a shutdown",
        "stop callback",
    ]
