"""`specc report`: the numbers behind the charts (light), and the command's refusals.

The charts and the page are exercised end to end, in a real browser, on the reduced demo's builds:
tests/test_demo.py::test_report_renders_in_a_real_browser.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from specc.run.reportdata import BuildData, Stat, read_losses, summarise_arm


def test_stat_is_mean_and_sample_sd_over_seeds():
    s = Stat.of([0.5, 0.7, 0.9, None])
    assert math.isclose(s.mean, 0.7) and math.isclose(s.spread, 0.2) and s.values == [0.5, 0.7, 0.9]
    assert s.text() == "0.700 ± 0.200"
    one = Stat.of([0.25])
    assert one.spread == 0.0 and one.text() == "0.250"
    assert Stat.of([None, float("nan")]).text() == "n/a"


def test_losses_come_from_the_last_attempt_in_the_stage_log(tmp_path: Path):
    log = tmp_path / "sft.log"
    log.write_text(
        "### specc run: sft attempt 1 at t0: python stages/03_sft.py\n"
        '@@specc {"event": "progress", "step": 1, "max_steps": 4, "loss": 9.0}\n'
        "### specc run: sft attempt 2 at t1: python stages/03_sft.py\n"
        "some library chatter\n"
        '@@specc {"event": "progress", "step": 3, "max_steps": 4, "loss": 2.5}\n'
        '@@specc {"event": "progress", "step": 4, "max_steps": 4, "train_runtime": 3.0}\n'
        '@@specc {"event": "progress", "step": 4, "max_steps": 4, "loss": 2.0}\n', encoding="utf-8")
    assert read_losses(log) == [(3, 2.5), (4, 2.0)]
    assert read_losses(tmp_path / "missing.log") == []


def _build(seed: int, after: float, nll_after: float, passed: bool) -> BuildData:
    results = {"passed": passed,
               "target": {"metric": "exact_match", "before": 0.0, "after": 0.6, "bar": 0.5, "passed": True},
               "budget": {"max_abs_drop": 0.05, "max_rel_drop": 0.15},
               "suites": [{"suite": "formatting", "baseline": 0.9, "after": after, "drop": 0.9 - after,
                           "status": "ok" if passed else "regressed"},
                          {"suite": "nll", "baseline": 2.0, "after": nll_after, "drop": nll_after - 2.0,
                           "status": "ok"}]}
    return BuildData(Path(f"b{seed}"), "arm", "sft", "lora", seed, {}, [], [], results, {}, "completed")


def test_an_arm_averages_its_seeds_and_draws_the_budget_line_where_the_gate_judges():
    arm = summarise_arm("arm", [_build(0, 0.88, 2.1, True), _build(1, 0.20, 2.3, False)], label="(a)")
    assert arm.label == "(a)" and arm.runs == 2 and arm.passed == 1 and arm.bar_met == 2
    fmt, nll = arm.suites
    assert math.isclose(fmt.after.mean, 0.54) and fmt.regressed == 1 and fmt.higher_is_better
    # both caps hold: abs 0.05 and rel 15% of 0.9 = 0.135 -> the tighter one, 0.05
    assert math.isclose(fmt.limit, 0.85)
    # lower is better: the gate's drop is after - before, and the limit sits above the baseline
    assert not nll.higher_is_better and math.isclose(nll.limit, 2.05)


def test_report_refuses_a_directory_that_is_not_a_build(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "specc", "report", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "not a build directory (no plan.json)" in proc.stderr and "Traceback" not in proc.stderr


def test_report_needs_at_least_one_build():
    proc = subprocess.run([sys.executable, "-m", "specc", "report"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("chart", ["target", "suites", "loss"])
def test_each_chart_draws_from_the_numbers(chart: str):
    pytest.importorskip("matplotlib")
    from PIL import Image
    import io

    from specc.run import charts

    arms = [summarise_arm("arm", [_build(0, 0.88, 2.1, True), _build(1, 0.20, 2.3, False)], label="(a)")]
    png = getattr(charts, f"{chart}_chart")(arms)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] > 300 and len(image.convert("RGB").getcolors(1 << 20)) > 20
    assert png == getattr(charts, f"{chart}_chart")(arms)  # same numbers, same bytes
