"""Fixtures shared by every test: each test runs on a clean node.

``gs_clean`` (from ``greenserver.testing``) is autouse here: a test fails if
it leaves processes or registered names behind, or logs a crash report it
did not expect. The test itself runs in the main greenlet, which is one
process for the whole session; ``_clean`` also resets its trap_exit flag and
empties its mailbox, so no test sees what an earlier one left there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import greenserver as gs

# The fixtures are also registered by the ``pytest11`` entry point once the
# package is installed; importing them here makes the suite run from a
# plain checkout too (a conftest's own fixtures take precedence).
from greenserver.testing import gs_clean, gs_reports, manual_clock  # noqa: F401


def _drain() -> None:
    while True:
        try:
            gs.receive(timeout=0)
        except TimeoutError:
            return


@pytest.fixture(autouse=True)
def _clean(gs_clean: None) -> Iterator[None]:  # noqa: F811 - requests the imported fixture
    gs.trap_exits(False)
    _drain()
    yield
    gs.trap_exits(False)
    _drain()
