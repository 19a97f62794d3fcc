"""examples/registry_pubsub.py runs as it is, in-process and as a script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import registry_pubsub

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "registry_pubsub.py"


class TestRegistryPubsub:
    def test_each_subscriber_gets_its_topics_in_order(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        received = registry_pubsub.main()

        assert received == {
            "alice": [("news", "rain tomorrow"), ("news", "markets up")],
            "bob": [("news", "rain tomorrow"), ("sports", "3-1"), ("news", "markets up")],
            "carol": [("sports", "3-1")],
        }
        out = capsys.readouterr().out
        assert "published 'nobody listens' on 'weather' to 0 subscriber(s)" in out
        assert out.endswith("entries left after the subscribers exited: 0\n")

    def test_runs_as_a_script(self) -> None:
        done = subprocess.run(
            [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
        )

        assert done.returncode == 0, done.stderr
        assert "carol received [('sports', '3-1')]" in done.stdout
