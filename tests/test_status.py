"""`specc status` on hand-written builds: stage table, results vs contract, the three formats."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from specc.contract.gate import judge
from specc.run.progress import Display
from specc.run.runner import run_build
from specc.run.status import collect, render
from test_runner_helpers import make_build, writer


def _build(tmp_path, fail_second=False):
    build = make_build(tmp_path, [
        {"id": "baseline", "kind": "baseline", "body": writer("results/baseline.json", "{}"),
         "outputs": {"results": "results/baseline.json"}},
        {"id": "eval", "kind": "eval", "body": "import sys; sys.exit(3)\n" if fail_second else writer("x/y", "1"),
         "outputs": {"y": "x/y"}},
    ])
    run_build(build, display=Display(io.StringIO(), tty=False))
    return build


def test_status_reports_stages_and_gate_results(tmp_path):
    build = _build(tmp_path)
    base = {"arithmetic": {"score": 0.8, "stderr": 0.02, "higher_is_better": True}}
    tuned = {"arithmetic": {"score": 0.7, "stderr": 0.02, "higher_is_better": True}}
    verdict = judge(base, tuned, {"metric": "exact_match", "bar": 0.5, "score": 0.9, "baseline_score": 0.1},
                    {"max_abs_drop": 0.05})
    (build / "results/baseline.json").write_text(json.dumps({"suites": base}))
    (build / "results/eval.json").write_text(json.dumps({"gate": verdict.to_dict()}))
    info = collect(build)
    assert [s["status"] for s in info["stages"]] == ["completed", "completed"]
    assert info["state"] == "completed: gate failed"
    assert info["results"]["target"] == {"metric": "exact_match", "before": 0.1, "after": 0.9, "bar": 0.5,
                                         "passed": True}
    assert info["results"]["suites"][0]["status"] == "regressed"
    text = render(build, "text")
    assert "results: FAIL" in text and "target exact_match: 0.1 -> 0.9 (bar 0.5)" in text
    assert "arithmetic" in text and "[regressed]" in text
    md = render(build, "markdown")
    assert "| baseline | ✅ completed |" in md and "### Results: ❌ fail" in md
    cli = subprocess.run([sys.executable, "-m", "specc", "status", str(build), "--format", "json"],
                         capture_output=True, text=True)
    assert cli.returncode == 0 and json.loads(cli.stdout)["results"]["passed"] is False


def test_status_of_a_gated_build_and_of_a_fresh_one(tmp_path):
    build = _build(tmp_path, fail_second=True)
    info = collect(build)
    assert info["state"] == "gated" and info["stages"][1]["exit_code"] == 3
    assert "gated" in render(build, "text")
    fresh = make_build(tmp_path / "fresh", [{"id": "a", "body": "pass\n"}])
    assert collect(fresh)["state"] == "not started" and collect(fresh)["results"] is None
