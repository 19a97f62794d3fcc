"""What greenserver's reports print when the application did or did not configure structlog.

Each case runs a small program in a fresh interpreter (structlog's
configuration is global, and this test session configures it), with
``rich`` installed: structlog's default renderer would then print each
frame's local variables in a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

PROGRAM = """\
    import greenserver as gs

    class Vault(gs.GenServer):
        def init(self, password):
            return gs.Ok({"password": password})

        def handle_call(self, request, from_, state):
            secret = state["password"]  # a local in the crashing frame
            raise ValueError("the vault jammed")

        def format_status(self, status):
            return {**status, "state": {"password": "***"}}

    sup = gs.Supervisor.start_link([(Vault, "hunter2")])
    [(_, pid, _)] = gs.Supervisor.which_children(sup)
    try:
        gs.GenServer.call(pid, "open")
    except gs.ServerExitError:
        pass
    gs.Supervisor.stop(sup)
"""

CONFIGURED = """\
    import structlog

    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer()]
    )
"""


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # structlog colours its console output


def _run(program: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_rich_is_installed() -> None:
    """The premise of this file: without rich, structlog would show no locals anyway."""
    import rich  # noqa: F401


class TestUnconfigured:
    def test_a_state_hidden_by_format_status_never_reaches_the_output(self) -> None:
        output = _run(PROGRAM)

        assert "crash_report" in output
        assert "state=\"{'password': '***'}\"" in output
        assert "ValueError: the vault jammed" in output  # the traceback is there...
        assert "hunter2" not in output  # ...without the frames' locals

    def test_debug_reports_are_not_shown(self) -> None:
        """Elixir shows nothing when a supervisor starts a child; neither do we."""
        output = _run(PROGRAM)

        assert "supervisor_report" in output  # info and above are shown
        assert "progress_report" not in output


@pytest.fixture(scope="module")
def output() -> str:
    return _run(CONFIGURED + PROGRAM)


class TestConfigured:
    def test_the_applications_renderer_rules(self, output: str) -> None:
        """structlog's default renderer with rich shows locals: the app chose it."""
        assert "crash_report" in output
        assert "hunter2" in output

    def test_the_applications_level_rules(self, output: str) -> None:
        assert "progress_report" in output


FILTERED = """\
    import logging, structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    built = []
    real = structlog.get_logger
    structlog.get_logger = lambda *a, **k: built.append(a) or real(*a, **k)

    import greenserver as gs

    class Idle(gs.GenServer):
        def init(self, arg):
            return gs.Ok(arg)

    sup = gs.DynamicSupervisor.start_link()
    for i in range(100):
        gs.DynamicSupervisor.start_child(sup, (Idle, i))
    gs.DynamicSupervisor.stop(sup)
    print("loggers built:", len(built))
"""


def test_a_filtered_debug_report_is_never_built() -> None:
    """A million children under a supervisor pay nothing for progress reports nobody sees."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FILTERED)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "loggers built: 0"
