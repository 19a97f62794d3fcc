"""``python -m bench.profile CASE``: where the time of one benchmark case goes.

Runs one sample of CASE (after its warm-up call, as the runner would) under
a profiler and prints the call tree, then the sample's figure. A case that
measures in a fresh subprocess (``gen_server.start_link_100k``,
``million.gs.*``) names an in-process ``profile=`` function doing the same
work, so that the profile sees it. Cases that only measure memory, and the
BEAM twins, have nothing to profile here.

pyinstrument (the ``bench`` extra) samples the running stack every half
millisecond, whichever greenlet it belongs to, so time spent in the server
shows under the server's frames and time in the caller under the caller's.
Without it, or with ``--cprofile``, cProfile's table sorted by own time is
printed instead; its cumulative column is unreliable across greenlet
switches (a switch looks like a call that never returns). Last comes the
time the cyclic garbage collector took: the profilers charge it to
whichever frame allocated when it ran.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import importlib.util
import pstats
import sys
import time

import greenserver as gs

from . import CASE_MODULES
from ._gc_time import gc_time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("case", metavar="CASE", help="a case name, as python -m bench --list")
    parser.add_argument("--quick", action="store_true", help="the case's --quick N")
    parser.add_argument(
        "--cprofile", action="store_true", help="use cProfile even if pyinstrument is installed"
    )
    parser.add_argument(
        "--limit", type=int, default=30, help="rows of the cProfile table (default 30)"
    )
    args = parser.parse_args(argv)

    for module in CASE_MODULES:
        importlib.import_module(module)
    from ._harness import CASES, UNITS, Context, settle

    found = CASES.get(args.case)
    if found is None:
        parser.error(f"no case named {args.case!r}; known: {', '.join(CASES)}")
    if found.programs:
        parser.error(f"{found.name} runs in {', '.join(found.programs)}: nothing to profile here")
    fn = found.profile or found.fn
    if found.profile is None and found.unit in ("B/proc", "B"):
        parser.error(f"{found.name} measures memory in a subprocess: nothing to profile here")
    missing = found.missing()
    if missing:
        parser.error(f"{found.name} cannot run here: {missing}")

    ctx = Context(quick=args.quick)
    use_pyinstrument = not args.cprofile and importlib.util.find_spec("pyinstrument") is not None
    settle(strict=False)
    if found.warmup:
        fn(ctx)
        settle(strict=False)
    print(f"profiling one sample of {found.name}: {found.doc}", file=sys.stderr, flush=True)
    with gc_time() as collected:
        started = time.perf_counter()
        if use_pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            try:
                value = fn(ctx)
            finally:
                profiler.stop()
        else:
            prof = cProfile.Profile()
            value = prof.runcall(fn, ctx)
        wall = time.perf_counter() - started
    if use_pyinstrument:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    else:
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(args.limit)
    # A profile= function leaves its servers running, linked to this
    # process: trap their exits so that settle() killing them spares us.
    gs.trap_exits(True)
    settle(strict=False)
    scale, unit = UNITS[found.unit]
    print(f"{found.name}: {value * scale:.3f} {unit} (one sample, under the profiler)")
    # The collector runs inside whatever allocates, so the tree spreads its
    # time over innocent frames (a __len__, a constructor): say how much.
    print(
        f"cyclic GC: {collected.seconds:.3f} s of {wall:.3f} s "
        f"({collected.seconds / wall:.0%}; {collected.collections} collections, "
        f"{collected.full} full)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
