"""The benchmark harness's bookkeeping (bench/): targets, skips, shared subprocess runs.

The figures themselves are for ``make bench``; these tests pin what the
table says about them, with made-up samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from bench._fresh import SharedRun
from bench._harness import Case, Result, case, table, verdicts


def make_case(
    name: str,
    *,
    baselines: Sequence[str] = (),
    targets: Mapping[str, float] | None = None,
    limit: float | None = None,
    programs: Sequence[str] = (),
    unit: str = "s/op",
) -> Case:
    return Case(
        name=name,
        fn=lambda ctx: 0.0,
        unit=unit,
        baselines=tuple(baselines),
        group="g",
        requires=(),
        programs=tuple(programs),
        warmup=False,
        max_repeats=None,
        doc="",
        targets=dict(targets or {}),
        limit=limit,
    )


def result(c: Case, *samples: float, skipped: str | None = None) -> Result:
    return Result(c, samples=list(samples), skipped=skipped)


def gs_and_twin(gs_median: float, twin_skipped: str | None = None) -> list[Result]:
    gs_case = make_case("gen_server.call", baselines=["beam.call"], targets={"beam.call": 1.5})
    twin = make_case("beam.call")
    twin_result = result(twin, skipped=twin_skipped) if twin_skipped else result(twin, 2.0)
    return [result(gs_case, gs_median), twin_result]


class TestRatioTargets:
    def test_ratio_at_the_bound_is_met(self) -> None:
        [verdict] = verdicts(gs_and_twin(3.0))

        assert (verdict.against, verdict.value, verdict.met) == ("beam.call", 1.5, True)

    def test_ratio_above_the_bound_is_missed_in_row_and_footer(self) -> None:
        text = table(gs_and_twin(3.2))

        row = next(line for line in text.splitlines() if line.startswith("gen_server.call"))
        assert row.split()[-4:] == ["1.60x", "<=", "1.5x", "MISSED"]
        assert "targets: 0 met, 1 missed, 0 not measured" in text
        assert "MISSED  gen_server.call: 1.60x beam.call (target <= 1.5x)" in text

    def test_skipped_twin_leaves_the_target_not_measured(self) -> None:
        results = gs_and_twin(3.0, twin_skipped="elixir not installed")

        [verdict] = verdicts(results)
        text = table(results)

        assert verdict.met is None
        assert verdict.why == "beam.call skipped: elixir not installed"
        row = next(line for line in text.splitlines() if line.startswith("beam.call"))
        assert row.split(maxsplit=3) == [
            "beam.call",
            "-",
            "µs/op",
            "(skipped: elixir not installed)",
        ]
        assert "targets: 0 met, 0 missed, 1 not measured" in text


class TestLimits:
    def million(self, median: float) -> list[Result]:
        c = make_case("million.gs.start_s", unit="s", limit=30.0)
        return [result(c, median, median + 1, median - 1)]

    def test_limit_is_checked_on_the_median(self) -> None:
        [met] = verdicts(self.million(30.0))
        [missed] = verdicts(self.million(30.5))

        assert (met.met, missed.met) == (True, False)
        assert "MISSED  million.gs.start_s: 30.5 s (target <= 30 s)" in table(self.million(30.5))

    def test_quick_runs_do_not_check_limits(self) -> None:
        [verdict] = verdicts(self.million(1.0), quick=True)

        assert verdict.met is None
        assert verdict.why == "--quick runs a smaller N than the target assumes"


class TestSkips:
    def test_missing_program_is_named(self) -> None:
        c = make_case("beam.cast", programs=["no-such-program-for-bench"])

        assert c.missing() == "no-such-program-for-bench not installed"

    def test_target_must_name_a_baseline(self) -> None:
        with pytest.raises(
            ValueError, match=r"^case 'x\.y': targets \['beam\.x'\] are not among its baselines$"
        ):
            case("x.y", baseline="x.z", targets={"beam.x": 1.0})


class TestSharedRun:
    def test_one_run_feeds_each_key_once(self) -> None:
        runs: list[int] = []

        def start(n: int) -> dict[str, Any]:
            runs.append(n)
            return {"start_s": float(len(runs)), "peak_rss": 10.0 * len(runs)}

        shared = SharedRun(start)
        first = (shared.figure("start_s", 5), shared.figure("peak_rss", 5))
        second = shared.figure("start_s", 5)

        assert first == (1.0, 10.0)
        assert second == 2.0
        assert runs == [5, 5]


class TestErrorRows:
    def test_a_traceback_shows_its_last_line_and_widens_no_column(self) -> None:
        failed = Result(
            make_case("loadgen.request"), error="RuntimeError: failed:\n  File x\nOops: y"
        )
        text = table([result(make_case("a.b"), 1e-6), failed])

        [head, *_] = text.splitlines()
        row = next(line for line in text.splitlines() if line.startswith("loadgen.request"))
        assert row.endswith("µs/op     (ERROR: Oops: y)")
        assert len(head) < 60
