"""``python -m bench``: run the benchmark cases, print a table, save JSON results."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from . import CASE_MODULES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run greenserver's benchmarks beside raw gevent/greenlet baselines.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations and repeats (smoke test)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only cases matching NAME (exact, prefix like 'pingpong', or glob); "
        "repeatable or comma-separated; baselines are added automatically",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="samples per case (default 7, --quick 3)"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--no-save", action="store_true", help="do not write JSON under bench/results/"
    )
    args = parser.parse_args(argv)

    for module in CASE_MODULES:
        importlib.import_module(module)
    from ._harness import CASES, Context, run, select, table, to_json, write_json

    if args.list:
        for c in CASES.values():
            base = f"  (vs {', '.join(c.baselines)})" if c.baselines else ""
            print(f"{c.name:32} {c.doc}{base}")
        return 0

    patterns = [p for arg in args.only for p in arg.split(",") if p]
    cases = select(patterns)
    repeats = args.repeats or (3 if args.quick else 7)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    ctx = Context(quick=args.quick)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    progress(f"bench: {len(cases)} case(s), {repeats} repeats{' (quick)' if args.quick else ''}")
    started = time.perf_counter()
    results = run(cases, ctx, repeats, progress)
    wall = time.perf_counter() - started
    doc = to_json(results, ctx, repeats, wall, sys.argv if argv is None else argv)
    env = doc["environment"]
    print(
        f"python {env['python']}, gevent {env['gevent']}, greenlet {env['greenlet']}, "
        f"greenserver {env['greenserver']}, BEAM twins {env['beam'] or 'not run'}, "
        f"nproc {env['nproc']}, "
        f"median of {repeats} samples (fewer where a case caps them), {wall:.1f}s"
    )
    print(table(results, quick=args.quick))
    if not args.no_save:
        path = write_json(doc)
        print(f"results: {path} (and {path.parent / 'latest.json'})")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
