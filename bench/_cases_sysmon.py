"""System monitor overhead: the call round trip with the monitor on and off.

``sysmon.call_off`` turns both checks off; ``sysmon.call_on`` runs with the
defaults (what every node pays), ``sysmon.call_tight`` with a 50 ms
long_schedule limit (the watchdog thread then wakes every 12.5 ms). Each is a
ratio to ``sysmon.call_off`` measured interleaved in the same run; the
budget is 1.03.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import greenserver as gs

from ._cases_gen_server import call_round_trip
from ._harness import Context, case


@contextmanager
def _monitor(**settings: Any) -> Iterator[None]:
    before = gs.sys.system_monitor()
    gs.sys.system_monitor(**settings)
    try:
        yield
    finally:
        gs.sys.system_monitor(**before)


@case("sysmon.call_off")
def sysmon_call_off(ctx: Context) -> float:
    """GenServer.call round trip with the system monitor off."""
    with _monitor(long_schedule=None, long_message_queue=None):
        return call_round_trip(ctx.n(20_000, 2_000))


@case("sysmon.call_on", baseline="sysmon.call_off")
def sysmon_call_on(ctx: Context) -> float:
    """GenServer.call round trip with the system monitor at its defaults."""
    with _monitor(long_schedule=0.5, long_message_queue=10_000):
        return call_round_trip(ctx.n(20_000, 2_000))


@case("sysmon.call_tight", baseline="sysmon.call_off")
def sysmon_call_tight(ctx: Context) -> float:
    """GenServer.call round trip with long_schedule at 50 ms (a 12.5 ms beat)."""
    with _monitor(long_schedule=0.05, long_message_queue=10_000):
        return call_round_trip(ctx.n(20_000, 2_000))
