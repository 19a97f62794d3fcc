"""The node examples run as they are, each on a private epmd (see tests/_nodes.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _nodes import private_epmd

pytestmark = pytest.mark.timeout(180)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    with private_epmd():
        done = subprocess.run(
            [sys.executable, *args],
            cwd=EXAMPLES.parent,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
            env=None if env is None else {**os.environ, **env},
        )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class TestTwoNodes:
    def test_a_genserver_on_a_peer_is_called_by_name_and_by_pid(self) -> None:
        out = _run(str(EXAMPLES / "two_nodes.py"))

        lines = out.splitlines()
        assert lines[:3] == ["40", "42", "True"]
        assert re.fullmatch(r"Down\(ref=#Ref<.*>, pid=<worker@\S+>, reason='normal'\)", lines[3])
        assert len(lines) == 4

    def test_the_readme_shows_this_example_as_it_is(self) -> None:
        """README's two-node snippet is lines of examples/two_nodes.py, unchanged."""
        readme = (EXAMPLES.parent / "README.md").read_text()
        snippet = readme.split("<!-- two_nodes.py -->")[1].split("```python\n")[1].split("```")[0]
        example = (EXAMPLES / "two_nodes.py").read_text()

        assert snippet.strip()
        assert [ln for ln in snippet.splitlines() if ln.strip() not in example] == []


class TestElixirNode:
    def test_elixir_and_python_call_each_other(self) -> None:
        out = _run(str(EXAMPLES / "elixir_node.py"))

        assert out.splitlines() == ["Elixir got a string from Python", "Python got 42"]


class TestNodesDemo:
    def test_a_call_across_a_kill_9_a_restart_and_elixir_calling_python(self) -> None:
        out = _run(str(EXAMPLES / "nodes_demo.py"))

        expected = [
            r"^this OS process is the node demo\d+@\S+$",
            r"^connected nodes: \['the peer'\]$",
            r"^GenServer\.call\(\('counter', peer\), \('add', 2\)\) -> 7$",
            r"^got NodeDown\(node='worker\d+@\S+', reason='connection_closed'\)$",
            r"^the supervisor restarted the peer; ping -> pong$",
            r"^Elixir printed: hello Elixir, from Python on demo\d+@\S+$",
            r"^all done: the peer is gone with its supervisor$",
        ]
        lines = iter(out.splitlines())
        missing = [p for p in expected if not any(re.search(p, line) for line in lines)]
        assert missing == [], out

    def test_without_elixir_the_elixir_part_is_skipped(self, tmp_path: Path) -> None:
        out = _run(str(EXAMPLES / "nodes_demo.py"), env={"PATH": str(tmp_path)})  # no programs

        assert "== (no elixir here: the Elixir part is skipped)" in out.splitlines()
        assert out.splitlines()[-1] == "all done: the peer is gone with its supervisor"


class TestCpuNodes:
    def test_runs_the_jobs_on_one_node_then_two_and_reports_the_ratio(self) -> None:
        """Small and quick: the ratio itself is the bench's business (make bench)."""
        out = _run(str(EXAMPLES / "cpu_nodes.py"), "--jobs", "6", "--scale", "5")

        lines = out.splitlines()
        assert re.fullmatch(r"1 node:  6 jobs in [\d.]+s, [\d.]+ jobs/s", lines[0])
        assert re.fullmatch(r"2 nodes: 6 jobs in [\d.]+s, [\d.]+ jobs/s", lines[1])
        assert lines[2] == "results agree: True"
        assert re.fullmatch(r"throughput ratio, 2 nodes / 1 node: [\d.]+x", lines[3])

    def test_the_jobs_compute_what_they_should(self) -> None:
        import cpu_nodes

        assert cpu_nodes.compute("squares", 1) == sum(i * i for i in range(60))
        assert cpu_nodes.compute("primes", 10) == 8  # 2 3 5 7 11 13 17 19
        assert cpu_nodes.compute("collatz", 4) == 0 + 1 + 7  # 1, 2, 3
        with pytest.raises(ValueError, match=r"^kind must be one of"):
            cpu_nodes.compute("sorting", 1)
