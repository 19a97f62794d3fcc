"""The benchmark machinery: a registry of cases, a runner, and the report.

A *case* is a function decorated with ``@case(...)``. It takes a ``Context``
and returns one sample: seconds per operation (``unit="s/op"``), bytes per
process (``unit="B/proc"``), or a whole run's seconds (``"s"``) or bytes
(``"B"``). The runner calls it once to warm up, then
``repeats`` times, and reports the median. Cases of one *group* (by default
the part of the name before the first dot) run interleaved, round-robin, so a
noisy neighbour slows a case and its baselines alike; the ratio of a case to
its baseline is therefore meaningful even when absolute numbers drift.

After every call the runner checks that the case cleaned up: no process but
the runner's own, no live greenlet but the hub, an empty mailbox. A case owns
its cleanup (kill/stop what it started and wait for it); ``settle`` is the
safety net that reports and removes leftovers so one case cannot disturb the
next.

A case may carry *targets* (issue 10's "call <= 1.5x the BEAM's"): an upper
bound on its ratio to a baseline, or on its median itself (``limit``). The
table marks each one met or missed and a footer sums them up; a missed
target is reported, never turned into a failure.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import gevent
import greenlet

import greenserver as gs
from greenserver import _process

from . import _beam

RESULTS_DIR = Path(__file__).resolve().parent / "results"

UNITS = {
    # unit: (scale for display, display unit)
    "s/op": (1e6, "µs/op"),
    "B/proc": (1.0, "B/proc"),
    "s": (1.0, "s"),
    "B": (2.0**-30, "GiB"),
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
    programs: tuple[str, ...]
    warmup: bool
    max_repeats: int | None
    doc: str
    targets: Mapping[str, float] = field(default_factory=dict)
    limit: float | None = None
    profile: CaseFn | None = None

    def missing(self) -> str | None:
        """Return why this case cannot run here (a module or program missing), or None."""
        modules = [m for m in self.requires if importlib.util.find_spec(m) is None]
        programs = [p for p in self.programs if shutil.which(p) is None]
        if not modules and not programs:
            return None
        why = [f"{p} not installed" for p in programs]
        if modules:
            why.append(f"needs {', '.join(modules)}")
        return "; ".join(why)


CASES: dict[str, Case] = {}


def case(
    name: str,
    *,
    baseline: str | Sequence[str] = (),
    unit: str = "s/op",
    group: str | None = None,
    requires: str | Sequence[str] = (),
    programs: str | Sequence[str] = (),
    warmup: bool = True,
    max_repeats: int | None = None,
    targets: Mapping[str, float] | None = None,
    limit: float | None = None,
    profile: CaseFn | None = None,
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
        programs: Executables the case runs (e.g. ``"elixir"``); without
            them it is reported as skipped ("elixir not installed").
        warmup: Whether the runner makes a discarded warm-up call first (a case
            that measures in a fresh subprocess has nothing to warm up).
        max_repeats: At most this many samples, whatever ``--repeats`` says
            (for slow cases whose samples hardly vary).
        targets: Upper bounds on the ratio to some of the baselines, e.g.
            ``{"beam.call": 1.5}``.
        limit: An upper bound on the median itself, in the case's unit
            (seconds, bytes); checked in full runs only, since ``--quick``
            shrinks the N it assumes.
        profile: What ``python -m bench.profile`` runs instead of the case,
            for a case that measures in a subprocess (same signature).
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; known: {sorted(UNITS)}")
    baselines = (baseline,) if isinstance(baseline, str) else tuple(baseline)
    needs = (requires,) if isinstance(requires, str) else tuple(requires)
    progs = (programs,) if isinstance(programs, str) else tuple(programs)
    targets = dict(targets or {})
    strays = [t for t in targets if t not in baselines]
    if strays:
        raise ValueError(f"case {name!r}: targets {strays!r} are not among its baselines")

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
            programs=progs,
            warmup=warmup,
            max_repeats=max_repeats,
            doc=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            targets=targets,
            limit=limit,
            profile=profile,
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
                results[c.name].skipped = missing
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


@dataclass(frozen=True)
class Verdict:
    """One target of one case: the bound it sets and what the run measured.

    ``against`` names the baseline of a ratio target; ``None`` means the
    bound is on the case's median itself (its ``limit``). ``value`` is the
    ratio or the median, ``None`` when it was not measured (``why`` says
    why) or, for a limit in a ``--quick`` run, not checked.
    """

    case: str
    unit: str
    against: str | None
    bound: float
    value: float | None
    why: str | None

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.value <= self.bound

    def bound_text(self) -> str:
        if self.against is not None:
            return f"<= {self.bound:g}x"
        scale, shown = UNITS[self.unit]
        return f"<= {self.bound * scale:g} {shown}"

    def status(self) -> str:
        met = self.met
        return "-" if met is None else "met" if met else "MISSED"

    def line(self) -> str:
        """Return the footer's line for this target."""
        if self.value is None:
            measured = f"not measured ({self.why})"
        elif self.against is None:
            measured = f"{_fmt_value(self.value, self.unit)} {UNITS[self.unit][1]}"
        else:
            measured = f"{self.value:.2f}x {self.against}"
        return f"{self.status():6}  {self.case}: {measured} (target {self.bound_text()})"


def _why_not(result: Result | None, name: str) -> str:
    if result is None:
        return f"{name} not selected"
    if result.skipped:
        return f"{name} skipped: {result.skipped}"
    if result.error:
        return f"{name} failed"
    return f"{name} has no samples"


def verdicts(results: Sequence[Result], quick: bool = False) -> list[Verdict]:
    """Return every target of *results*, met, missed or not measured."""
    by_name = {r.case.name: r for r in results}
    out: list[Verdict] = []
    for r in results:
        rats = ratios(r, by_name)
        unit = r.case.unit
        for base, bound in r.case.targets.items():
            ratio = rats.get(base)
            why = None
            if ratio is None:
                missing = r if r.median is None else by_name.get(base)
                why = _why_not(missing, r.case.name if missing is r else base)
            out.append(Verdict(r.case.name, unit, base, bound, ratio, why))
        if r.case.limit is not None:
            why = _why_not(r, r.case.name) if r.median is None else None
            value = r.median
            if quick and value is not None:
                value, why = None, "--quick runs a smaller N than the target assumes"
            out.append(Verdict(r.case.name, unit, None, r.case.limit, value, why))
    return out


def table(results: Sequence[Result], quick: bool = False) -> str:
    """Return the printed table (name, median, unit, spread, baseline, ratio, target).

    A footer lists every target, met or not, when any case has one.
    """
    by_name = {r.case.name: r for r in results}
    judged = verdicts(results, quick)
    cells = {(v.case, v.against): f"{v.bound_text()} {v.status()}" for v in judged}
    head = ("case", "median", "unit", "±", "baseline", "ratio", "target")
    rows: list[tuple[str, ...]] = []
    for r in results:
        unit = UNITS[r.case.unit][1]
        name = r.case.name
        if r.skipped or r.error:
            # Only the last line of an error (a subprocess's traceback ends
            # with the exception): the whole of it is in the JSON results.
            last = (r.error or "").strip().splitlines()[-1:] or [""]
            why = f"skipped: {r.skipped}" if r.skipped else f"ERROR: {last[0]}"
            rows.append((name, "-", unit, "", f"({why})", "", ""))
            continue
        spread = r.spread
        first = (
            name,
            _fmt_value(r.median, r.case.unit),
            unit,
            "" if spread is None else f"{spread * 100:.0f}%",
        )
        subrows = [
            [base, "-" if ratio is None else f"{ratio:.2f}x", cells.get((name, base), "")]
            for base, ratio in ratios(r, by_name).items()
        ]
        limit = cells.get((name, None))
        if limit is not None:
            if subrows and not subrows[0][2]:
                subrows[0][2] = limit
            else:
                subrows.append(["", "", limit])
        for i, sub in enumerate(subrows or [["", "", ""]]):
            lead = first if i == 0 else ("", "", "", "")
            rows.append((*lead, *sub))
    # A skipped or failed row's note overflows its column instead of widening it.
    sized = [row for row in rows if not row[4].startswith("(")]
    widths = [
        max(len(row[i]) for row in (head, *(rows if i < 4 else sized))) for i in range(len(head))
    ]
    right = {1, 3, 5}

    def line(row: tuple[str, ...]) -> str:
        note = row[4].startswith("(")  # name, "-", unit, then the note as it is
        cells = [
            cell
            if note and i == 4
            else cell.rjust(widths[i])
            if i in right
            else cell.ljust(widths[i])
            for i, cell in enumerate(row[:5] if note else row)
        ]
        return "  ".join(cells).rstrip()

    sep = "  ".join("-" * w for w in widths)
    out = [line(head), sep, *(line(row) for row in rows)]
    if judged:
        met = sum(v.met is True for v in judged)
        missed = sum(v.met is False for v in judged)
        unknown = len(judged) - met - missed
        out.append("")
        out.append(f"targets: {met} met, {missed} missed, {unknown} not measured")
        out.extend(f"  {v.line()}" for v in judged)
    return "\n".join(out)


def environment() -> dict[str, Any]:
    """Return the versions and the machine facts a result file records."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "gevent": gevent.__version__,
        "greenlet": greenlet.__version__,
        "greenserver": gs.__version__,
        "beam": _beam.version(),  # the twins' Elixir/OTP, None without elixir
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
    judged: dict[str, list[dict[str, Any]]] = {}
    for v in verdicts(results, ctx.quick):
        judged.setdefault(v.case, []).append(
            {"against": v.against, "bound": v.bound, "value": v.value, "met": v.met, "why": v.why}
        )
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
                "targets": judged.get(r.case.name, []),
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
