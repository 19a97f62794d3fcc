"""The benchmark machinery: a registry of cases, a runner, and the report.

A *case* is a function decorated with ``@case(...)``. It takes a ``Context``
and returns one sample: seconds per operation (``unit="s/op"``) or bytes per
process (``unit="B/proc"``). The runner calls it once to warm up, then
``repeats`` times, and reports the median. Cases of one *group* (by default
the part of the name before the first dot) run interleaved, round-robin, so a
noisy neighbour slows a case and its baselines alike; the ratio of a case to
its baseline is therefore meaningful even when absolute numbers drift.

After every call the runner checks that the case cleaned up: no process but
the runner's own, no live greenlet but the hub, an empty mailbox. A case owns
its cleanup (kill/stop what it started and wait for it); ``settle`` is the
safety net that reports and removes leftovers so one case cannot disturb the
next.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import gevent
import greenlet

import greenserver as gs
from greenserver import _process

RESULTS_DIR = Path(__file__).resolve().parent / "results"

UNITS = {
    # unit: (scale for display, display unit)
    "s/op": (1e6, "µs/op"),
    "B/proc": (1.0, "B/proc"),
    "share": (100.0, "%"),  # a share of the node's time
}


@dataclass(frozen=True)
class Context:
    """What a case gets: the run's settings."""

    quick: bool

    def n(self, full: int, quick: int) -> int:
        """Return the iteration count for this run: *full*, or *quick* with ``--quick``."""
        return quick if self.quick else full


CaseFn = Callable[[Context], float]


@dataclass(frozen=True)
class Case:
    """One registered benchmark case."""

    name: str
    fn: CaseFn
    unit: str
    baselines: tuple[str, ...]
    group: str
    requires: tuple[str, ...]
    warmup: bool
    max_repeats: int | None
    doc: str

    def missing(self) -> list[str]:
        """Return the modules this case needs that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


CASES: dict[str, Case] = {}


def case(
    name: str,
    *,
    baseline: str | Sequence[str] = (),
    unit: str = "s/op",
    group: str | None = None,
    requires: str | Sequence[str] = (),
    warmup: bool = True,
    max_repeats: int | None = None,
) -> Callable[[CaseFn], CaseFn]:
    """Register a benchmark case.

    Args:
        name: Unique dotted name, e.g. ``"pingpong.gs"``.
        baseline: Name(s) of the case(s) this one is compared with; the
            report gives ``median / baseline median`` for each.
        unit: ``"s/op"`` (the function returns seconds per operation) or
            ``"B/proc"`` (bytes per process).
        group: Cases of a group run interleaved; defaults to the name's first
            dotted part. A case and its baselines should share a group.
        requires: Modules the case imports (e.g. ``"pykka"``); without them it
            is reported as skipped instead of failing.
        warmup: Whether the runner makes a discarded warm-up call first (a case
            that measures in a fresh subprocess has nothing to warm up).
        max_repeats: At most this many samples, whatever ``--repeats`` says
            (for slow cases whose samples hardly vary).
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; known: {sorted(UNITS)}")
    baselines = (baseline,) if isinstance(baseline, str) else tuple(baseline)
    needs = (requires,) if isinstance(requires, str) else tuple(requires)

    def register(fn: CaseFn) -> CaseFn:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} is registered twice")
        CASES[name] = Case(
            name=name,
            fn=fn,
            unit=unit,
            baselines=baselines,
            group=group or name.split(".", 1)[0],
            requires=needs,
            warmup=warmup,
            max_repeats=max_repeats,
            doc=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
        )
        return fn

    return register


# --- timing helpers -----------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    """Return how long ``fn()`` takes, in seconds (``time.perf_counter``)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- cleanup ------------------------------------------------------------------


class LeakError(RuntimeError):
    """A case left processes, greenlets or messages behind."""


def _live_greenlets() -> list[greenlet.greenlet]:
    hub = gevent.get_hub()
    main = greenlet.getcurrent()
    pooled = {id(engine) for engine in _process.idle_engines()}  # parked, for reuse
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, greenlet.greenlet)
        and obj is not hub
        and obj is not main
        and not obj.dead
        and obj.parent is not None
        and id(obj) not in pooled
    ]


def settle(strict: bool = True) -> list[str]:
    """Kill whatever a case left behind, wait until it is gone, collect garbage.

    Returns a description of the leftovers (empty if there were none). With
    *strict*, leftovers also raise ``LeakError`` (after they are removed).
    """
    me = gs.self()
    problems: list[str] = []
    others = [pid for pid in gs.processes() if pid != me]
    if others:
        problems.append(f"{len(others)} process(es) still alive")
        for pid in others:
            gs.exit(pid, "kill")
    # Let killed processes unwind and finished greenlets report.
    for _ in range(3):
        gevent.sleep(0)
    drained = 0
    while True:
        try:
            gs.receive(timeout=0)
        except TimeoutError:
            break
        drained += 1
    if drained:
        problems.append(f"{drained} message(s) left in the runner's mailbox")
    gc.collect()
    glets = _live_greenlets()
    if glets:
        problems.append(f"{len(glets)} greenlet(s) still alive")
        for g in glets:
            if isinstance(g, gevent.Greenlet):
                g.kill(block=True)
            elif g.parent is greenlet.getcurrent():
                # A raw greenlet returns here when it dies; one parented to
                # the hub is left alone: dying into the hub would confuse it.
                with contextlib.suppress(greenlet.GreenletExit):
                    g.throw(greenlet.GreenletExit)
        gevent.sleep(0)
        gc.collect()
    if strict and problems:
        raise LeakError("; ".join(problems))
    return problems


# --- running ------------------------------------------------------------------


@dataclass
class Result:
    """The samples of one case and what the report says about them."""

    case: Case
    samples: list[float] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def spread(self) -> float | None:
        """Half the (max - min) range relative to the median, a rough noise figure."""
        med = self.median
        if not med or len(self.samples) < 2:
            return None
        return (max(self.samples) - min(self.samples)) / 2 / med


def select(patterns: Sequence[str]) -> list[Case]:
    """Return the cases matching any of *patterns* (globs or prefixes), plus their baselines.

    No pattern selects every case. Order is registration order.
    """
    if not patterns:
        return list(CASES.values())
    chosen: set[str] = set()
    for pat in patterns:
        hits = [
            name
            for name in CASES
            if fnmatchcase(name, pat) or name == pat or name.startswith(pat.rstrip(".") + ".")
        ]
        if not hits:
            raise SystemExit(f"--only {pat!r} matches no case; known: {', '.join(CASES)}")
        chosen.update(hits)
    todo = list(chosen)
    while todo:
        for base in CASES[todo.pop()].baselines:
            if base in CASES and base not in chosen:
                chosen.add(base)
                todo.append(base)
    return [c for name, c in CASES.items() if name in chosen]


def _groups(cases: Iterable[Case]) -> list[list[Case]]:
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    return list(groups.values())


def _call(result: Result, ctx: Context, keep: bool) -> None:
    if result.error is not None:
        return
    try:
        value = float(result.case.fn(ctx))
        settle()
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        settle(strict=False)
        return
    if keep:
        result.samples.append(value)


def run(
    cases: Sequence[Case],
    ctx: Context,
    repeats: int,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[Result]:
    """Run *cases*: each group interleaved, one warm-up call then *repeats* samples."""
    results = {c.name: Result(c) for c in cases}
    settle(strict=False)
    for group in _groups(cases):
        live = []
        for c in group:
            missing = c.missing()
            if missing:
                results[c.name].skipped = f"needs {', '.join(missing)}"
            else:
                live.append(results[c.name])
        if not live:
            continue
        started = time.perf_counter()
        for r in live:  # warm-up: imports, caches, allocator pools
            if r.case.warmup:
                _call(r, ctx, keep=False)
        for i in range(repeats):
            for r in live:
                if r.case.max_repeats is None or i < r.case.max_repeats:
                    _call(r, ctx, keep=True)
        progress(
            f"  {group[0].group}: {len(live)} case(s) x {max(len(r.samples) for r in live)} "
            f"in {time.perf_counter() - started:.1f}s"
        )
    return [results[c.name] for c in cases]


# --- reporting ----------------------------------------------------------------


def ratios(result: Result, by_name: dict[str, Result]) -> dict[str, float | None]:
    """Return ``median / baseline median`` for each of the case's baselines."""
    out: dict[str, float | None] = {}
    med = result.median
    for base in result.case.baselines:
        other = by_name.get(base)
        base_med = other.median if other is not None else None
        out[base] = med / base_med if med is not None and base_med else None
    return out


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    shown = value * UNITS[unit][0]
    if shown >= 1000:
        return f"{shown:,.0f}"
    if shown >= 10:
        return f"{shown:.1f}"
    return f"{shown:.3f}"


def table(results: Sequence[Result]) -> str:
    """Return the printed table: name, median, unit, spread, baseline, ratio."""
    by_name = {r.case.name: r for r in results}
    head = ("case", "median", "unit", "±", "baseline", "ratio")
    rows: list[tuple[str, ...]] = []
    for r in results:
        unit = UNITS[r.case.unit][1]
        if r.skipped or r.error:
            rows.append(
                (r.case.name, "-", unit, "", f"({r.skipped or 'ERROR: ' + str(r.error)})", "")
            )
            continue
        spread = r.spread
        first = (
            r.case.name,
            _fmt_value(r.median, r.case.unit),
            unit,
            "" if spread is None else f"{spread * 100:.0f}%",
        )
        rats = ratios(r, by_name)
        if not rats:
            rows.append((*first, "", ""))
        for i, (base, ratio) in enumerate(rats.items()):
            lead = first if i == 0 else ("", "", "", "")
            rows.append((*lead, base, "-" if ratio is None else f"{ratio:.2f}x"))
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    right = {1, 3, 5}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(row) for row in rows)])


def environment() -> dict[str, Any]:
    """Return the versions and the machine facts a result file records."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "gevent": gevent.__version__,
        "greenlet": greenlet.__version__,
        "greenserver": gs.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "nproc": os.cpu_count(),
        "nproc_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def to_json(
    results: Sequence[Result], ctx: Context, repeats: int, wall: float, argv: Sequence[str]
) -> dict[str, Any]:
    """Return the result document written to ``bench/results/``."""
    by_name = {r.case.name: r for r in results}
    cases = []
    for r in results:
        cases.append(
            {
                "name": r.case.name,
                "group": r.case.group,
                "description": r.case.doc,
                "unit": r.case.unit,
                "median": r.median,
                "min": min(r.samples) if r.samples else None,
                "max": max(r.samples) if r.samples else None,
                "samples": r.samples,
                "baselines": list(r.case.baselines),
                "ratios": ratios(r, by_name),
                "skipped": r.skipped,
                "error": r.error,
            }
        )
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": list(argv),
        "quick": ctx.quick,
        "repeats": repeats,
        "wall_seconds": round(wall, 3),
        "environment": environment(),
        "cases": cases,
    }


def write_json(doc: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write *doc* as ``<UTC timestamp>.json`` and ``latest.json``; return the first path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    n = 1
    while path.exists():  # two runs in one second
        n += 1
        path = directory / f"{stamp}-{n}.json"
    text = json.dumps(doc, indent=2) + "\n"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
