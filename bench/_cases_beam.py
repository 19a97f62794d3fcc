"""The BEAM twins: each greenserver case of issue 10 against the same job in Elixir.

``bench/beam/twins.exs`` holds the Elixir side (the Echo server of
``_cases_gen_server``, the Holder of ``_million``); ``bench._beam`` runs it
in a fresh VM per sample. Each twin shares its greenserver case's group, so
the runner interleaves them and both see the same machine load; the
greenserver case names the twin as a baseline and sets issue 10's target
on that ratio:

==============================  ==========================  ========
greenserver case                BEAM twin                   target
==============================  ==========================  ========
gen_server.call                 beam.call                   <= 1.5x
gen_server.cast                 beam.cast                   <= 2x
gen_server.start_link_100k      beam.start_link_100k        <= 2x
idle_mem.gen_server.rss         beam.idle_mem               <= 1.0x
million.gs.start_s              beam.million.start_s        <= 30 s
million.gs.peak_rss             beam.million.peak_rss       <= 4 GiB
==============================  ==========================  ========

Without ``elixir`` these cases are skipped ("elixir not installed") and the
greenserver cases report their other baselines only.
"""

from __future__ import annotations

from typing import Any

from . import _beam, _million
from ._fresh import SharedRun
from ._harness import Context, case


def _twin(name: str, n: int, key: str = "seconds_per_op") -> float:
    return float(_beam.twin(name, n)[key])


@case("beam.call", group="pingpong", programs="elixir", warmup=False)
def beam_call(ctx: Context) -> float:
    """BEAM twin: GenServer.call round trip on an Echo server (Elixir, fresh VM)."""
    return _twin("call", ctx.n(20_000, 2_000))


@case("beam.cast", group="gen_server", programs="elixir", warmup=False)
def beam_cast(ctx: Context) -> float:
    """BEAM twin: N GenServer.cast, then one call as a barrier; per cast."""
    return _twin("cast", ctx.n(50_000, 5_000))


@case("beam.start_link_100k", group="start_link_100k", programs="elixir", warmup=False)
def beam_start_link_100k(ctx: Context) -> float:
    """BEAM twin: GenServer.start_link of 100k Echo servers, all alive at the end; per server."""
    return _twin("start_link", ctx.n(100_000, 10_000))


# RSS moves in carriers of the BEAM's allocators: below about 20,000
# processes the delta swings by half, so the twin always starts 20,000 (a
# tenth of a second), --quick or not; per process, N drops out.
IDLE_N = 20_000
_idle_twin = SharedRun(lambda n: _beam.twin("idle_mem", n))


@case(
    "beam.idle_mem",
    unit="B/proc",
    group="idle_mem",
    programs="elixir",
    warmup=False,
    max_repeats=5,
)
def beam_idle_mem(ctx: Context) -> float:
    """BEAM twin: RSS delta per idle GenServer (20k of them, fresh VM)."""
    return _idle_twin.figure("bytes_per_proc", IDLE_N)


@case(
    "beam.idle_mem.erlang_memory",
    unit="B/proc",
    group="idle_mem",
    programs="elixir",
    warmup=False,
    max_repeats=5,
)
def beam_idle_mem_erlang_memory(ctx: Context) -> float:
    """The same servers by the VM's own count: erlang:memory(processes) delta per server."""
    return _idle_twin.figure("processes_bytes_per_proc", IDLE_N)


def _million_run(n: int) -> dict[str, Any]:
    doc = _beam.twin("million", n, timeout=1200)
    if doc.get("all_answered") is not True:
        raise RuntimeError(f"{doc['answered']} of {n} BEAM children answered their call")
    return doc


_million_twin = SharedRun(_million_run)


@case(
    "beam.million.start_s",
    unit="s",
    group="million",
    programs="elixir",
    warmup=False,
    max_repeats=_million.REPEATS,
)
def beam_million_start_s(ctx: Context) -> float:
    """BEAM twin: start 1M GenServers under one DynamicSupervisor; seconds."""
    return _million_twin.figure("start_s", ctx.n(_million.N, _million.QUICK_N))


@case(
    "beam.million.call_s",
    unit="s",
    group="million",
    programs="elixir",
    warmup=False,
    max_repeats=_million.REPEATS,
)
def beam_million_call_s(ctx: Context) -> float:
    """BEAM twin: one call to each of the 1M children (every one answers); seconds."""
    return _million_twin.figure("call_s", ctx.n(_million.N, _million.QUICK_N))


@case(
    "beam.million.peak_rss",
    unit="B",
    group="million",
    programs="elixir",
    warmup=False,
    max_repeats=_million.REPEATS,
)
def beam_million_peak_rss(ctx: Context) -> float:
    """BEAM twin: the VM's peak RSS (VmHWM) with 1M children alive."""
    return _million_twin.figure("peak_rss", ctx.n(_million.N, _million.QUICK_N))
