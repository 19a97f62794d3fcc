"""greenserver's benchmark suite: ``python -m bench`` (``make bench``).

Every figure is the median of several samples, measured in the same run as
its baselines (raw gevent / greenlet doing the same job), and reported as a
ratio to them; see ``python -m bench --help``.

Adding a case
-------------
Write a function that takes a ``Context`` and returns one sample (seconds per
operation, or bytes per process), decorate it with ``@case``, and put its
module in ``CASE_MODULES``::

    from ._harness import Context, case, timed

    @case("call.gs", baseline="call.queue")      # group "call": runs interleaved
    def call_gs(ctx: Context) -> float:
        n = ctx.n(20_000, 2_000)                  # full run / --quick
        server = ...                              # start what you measure
        try:
            return timed(lambda: ...) / n
        finally:
            ...                                   # stop it and wait (the runner checks)

A case that needs an optional package says ``requires="pykka"`` and imports
it inside the function; without the package it is reported as skipped.

Planned modules: ``_cases_gen_server`` (GenServer.call round trip, cast,
start_link), ``_cases_supervisor`` (restart of a crashed child),
``_cases_pykka`` (the same figures for pykka, ``requires="pykka"``).
"""

from __future__ import annotations

# The modules whose @case functions make up the suite, in report order.
CASE_MODULES: tuple[str, ...] = (
    "bench._cases_process",
    "bench._cases_gen_server",
    "bench._cases_adoption",
    "bench._cases_pykka",
    "bench._cases_trace",
    "bench._cases_sysmon",
    "bench._cases_observer",
    "bench._cases_supervisor",
    "bench._cases_memory",
    "bench._cases_million",
    "bench._cases_loadgen",
    "bench._cases_beam",
)
