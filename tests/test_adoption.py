"""Adoption: a greenlet that was never spawned becomes a process on first use (issue 14).

A web server's request greenlets are adopted by the thousand; what each
leaves behind when it ends is pinned here. The cost is in ``make bench``
(``adoption.*``).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import gevent
import pytest

import greenserver as gs
from greenserver.testing import wait_down


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class TestAnAdoptedGreenletThatEnds:
    def test_is_freed_at_once_without_the_cyclic_gc(self, no_cyclic_gc: None) -> None:
        glet = gevent.spawn(gs.self)
        pid = glet.get()
        wait_down(gs.monitor(pid))  # its process has ended too
        freed = weakref.ref(glet)

        del glet

        assert freed() is None
        assert not gs.alive(pid)
