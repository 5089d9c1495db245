"""Per-member target scores of a golden set given as a list (``data.golden: [source, ...]``).

The gate and the bar judge the union of the members' rows; a reviewer also needs to see which member moved. Each
member's score is cut from the union's own per-row results (one scoring pass), with the union's aggregate, so
the union is the row-weighted mean of the members and does not move by a bit. Shown in the results files,
``specc status`` (text, Markdown, JSON), ``specc report``, the model card and the W&B summary
(``<stage>/target/<member>``). A one-source golden set shows exactly what it showed before.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner


def _weighted(members: list[dict]) -> float:
    return sum(m["score"] * m["n"] for m in members) / sum(m["n"] for m in members)


def test_member_scores_are_cut_from_the_union_and_average_back_to_it() -> None:
    from specc.runtime.suites import _accuracy, _binomial, _mean_nll, with_members

    a, b = [{"prompt": "p"}] * 3, [{"prompt": "q"}] * 5
    # exact_match: hits of member a (1 of 3) and b (4 of 5)
    union = _binomial("golden", "exact_match", [True, False, False, True, True, False, True, True], "exact_match")
    split = with_members(union, [("data/a.jsonl", a), ("hub:org/x[test]", b)])
    members = split.to_dict()["members"]
    assert [(m["name"], m["key"], m["rows"], m["n"]) for m in members] == [
        ("data/a.jsonl", "data_a_jsonl", 3, 3), ("hub:org/x[test]", "hub_org_x_test", 5, 5)]
    assert [m["score"] for m in members] == [1 / 3, 4 / 5]
    assert split.score == union.score == 5 / 8 and _weighted(members) == pytest.approx(union.score, abs=1e-15)
    assert {k: v for k, v in split.to_dict().items() if k != "members"} == union.to_dict()
    # accuracy (multiple choice): the same cut, each member with its own chance level
    mc_a = [{"choices": ["x", "y"], "answer": 0}] * 3
    mc_b = [{"choices": ["x", "y", "z", "w"], "answer": 1}] * 5
    hits = [True, True, False, False, False, False, True, False]
    acc = with_members(_accuracy("golden", "multiple_choice", hits, mc_a + mc_b), [("a", mc_a), ("b", mc_b)])
    members = acc.to_dict()["members"]
    assert [m["score"] for m in members] == [2 / 3, 1 / 5]
    assert [m["extra"]["chance"] for m in members] == [0.5, 0.25]
    assert _weighted(members) == pytest.approx(acc.score, abs=1e-15)
    # perplexity: the score is the mean per-row token NLL, so the union is again the row-weighted mean of the
    # members (rows with nothing to score count in neither); each member's perplexity is exp of its own score
    nll = _mean_nll("golden", "perplexity", [0.5, None, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    members = with_members(nll, [("a", a), ("b", b)]).to_dict()["members"]
    assert [(m["rows"], m["n"], m["score"]) for m in members] == [(3, 2, 1.0), (5, 5, 3.0)]
    assert _weighted(members) == pytest.approx(nll.score, abs=1e-15)
    assert members[1]["extra"]["perplexity"] == math.exp(3.0)


def test_one_source_has_no_breakdown_and_member_keys_are_valid_and_unique() -> None:
    from specc.runtime.suites import _binomial, member_keys, with_members

    union = _binomial("golden", "exact_match", [True, False], "exact_match")
    assert with_members(union, [("data/a.jsonl", [{}, {}])]) is union  # a list of one: shown as before
    assert "members" not in union.to_dict()
    keys = member_keys(["data/a.jsonl", "data_a.jsonl", "data/a.jsonl", "hub:o/x[train[:5%]]", "//", "é"])
    assert keys == ["data_a_jsonl", "data_a_jsonl_2", "data_a_jsonl_3", "hub_o_x_train_5", "member_5", "member_6"]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", k) for k in keys) and len(set(keys)) == len(keys)


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _chat(row: dict) -> dict:
    return {"messages": [{"role": "user", "content": row["prompt"]},
                         {"role": "assistant", "content": row["completion"]}]}


@pytest.mark.train
def test_baseline_eval_status_report_and_wandb_show_each_member(write_spec, compile_spec, stage_runner,
                                                                tmp_path: Path) -> None:
    """Two members that score differently (the narrow task's rows and copy/reverse rows, under perplexity: the tiny
    test base answers both wrongly, so exact match would be 0 and 0), through baseline, a 2-step SFT, merge and
    eval with W&B offline; then the same rows as one source. The exact-match and accuracy cuts are the same
    code on hits (the first tests); here the whole path is walked with the metric that tells members apart."""
    from specc.cli.main import main as cli
    from specc.run.reportdata import read_arms
    from test_wandb_offline import offline_runs

    spec = write_spec(name="golden-members", extra="tracking: {backend: wandb, mode: offline}\n")
    data = spec.parent / "data"
    hard = _read(data / "golden.jsonl")  # 8 narrow-task rows
    easy = [_chat(r) for r in _read(data / "suites" / "copy_reverse.jsonl")[:6]]  # other text: another NLL
    _jsonl(data / "golden_easy.jsonl", easy)
    text = spec.read_text(encoding="utf-8").replace(
        "  metric: exact_match\n  bar: 0.5\n", "  metric: perplexity\n  bar: 0.01\n")  # prompting's 0.1 misses it
    spec.write_text(text.replace("  golden: {path: data/golden.jsonl}",
                                 "  golden:\n    - {path: data/golden.jsonl}\n    - {path: data/golden_easy.jsonl}"),
                    encoding="utf-8")
    plan, build = compile_spec(spec)
    script = {s.id: s.script for s in plan.stages}
    env = {"SPECC_WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    for stage in ("firewall", "baseline", "sft", "merge"):
        stage_runner(build, script[stage], env=env, timeout=600)
    gated = stage_runner(build, script["eval"], env=env, timeout=600, check=False)
    assert gated.returncode in (0, 3), gated.stderr[-3000:]  # the gate may fail a 2-step tune (exit 3)

    names = ["data/golden.jsonl", "data/golden_easy.jsonl"]
    before = json.loads((build / "results/baseline.json").read_text())["target"]
    after = json.loads((build / "results/eval.json").read_text())["target"]
    for t in (before, after):
        members = t["members"]
        assert [(m["name"], m["key"], m["rows"], m["n"]) for m in members] == [
            (names[0], "data_golden_jsonl", len(hard), len(hard)), (names[1], "data_golden_easy_jsonl", 6, 6)]
        assert t["n"] == len(hard) + 6
        assert _weighted(members) == pytest.approx(t["score"], abs=1e-12)  # the union = the row-weighted mean
    assert before["members"][0]["score"] != before["members"][1]["score"], before  # they score differently
    assert before["metric"] == "mean_token_nll" and math.isclose(  # each member's perplexity is its own
        before["members"][1]["extra"]["perplexity"], math.exp(before["members"][1]["score"]))
    assert [m["baseline_score"] for m in after["members"]] == [m["score"] for m in before["members"]]
    b, a = before["members"][1], after["members"][1]  # the eval stage prints each member under the gate's verdict
    assert f"  golden member data/golden_easy.jsonl (6 rows): {b['score']:.4g} -> {a['score']:.4g}" in gated.stderr

    # specc status: JSON and text carry each member's rows and scores before -> after
    status = json.loads(CliRunner().invoke(cli, ["status", str(build), "--format", "json"]).output)
    assert status["results"]["target"]["members"] == [
        {"name": n, "rows": m["rows"], "before": b["score"], "after": m["score"]}
        for n, b, m in zip(names, before["members"], after["members"])]
    shown = CliRunner().invoke(cli, ["status", str(build)]).output
    assert f"    data/golden_easy.jsonl (6 rows): {before['members'][1]['score']:.4g} -> " in shown, shown
    assert "golden member `data/golden.jsonl`" in CliRunner().invoke(
        cli, ["status", str(build), "--format", "markdown"]).output
    # specc report: a per-member table under the arm (the demo's report is drawn by test_report/test_demo)
    [arm] = read_arms([build])
    assert [(m.name, m.rows, m.before.mean, m.after.mean) for m in arm.members] == [
        (n, b["rows"], b["score"], a["score"]) for n, b, a in zip(names, before["members"], after["members"])]
    out = tmp_path / "report"
    assert CliRunner().invoke(cli, ["report", str(build), "-o", str(out)]).exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "per golden-set member" in page and "<code>data/golden_easy.jsonl</code>" in page
    # the model card (written by the eval stage where the spec publishes one): a row per member under the target
    from specc.build.reader import read_document
    from specc.run.modelcard import render_card

    card = render_card(read_document(build / "plan.json"), json.loads((build / "results/eval.json").read_text()))
    for b, a in zip(before["members"], after["members"]):
        assert (f"| golden member `{a['name']}` ({a['rows']} rows) | {b['score']:.4g} | {a['score']:.4g} | "
                "part of the target above |") in card, card
    # W&B (offline run files): <stage>/target/<member> next to <stage>/target
    summaries = {r["name"]: r["summary"] for r in offline_runs(build)}
    for stage, t in (("baseline", before), ("eval", after)):
        summary = next(s for name, s in summaries.items() if stage in name and f"{stage}/target" in s)
        assert summary[f"{stage}/target"] == t["score"]
        assert {k: v for k, v in summary.items() if k.startswith(f"{stage}/target/")} == {
            f"{stage}/target/{m['key']}": m["score"] for m in t["members"]}

    # the same rows as one source: the union's score is bit for bit the list's, and nothing else is shown
    single = tmp_path / "single"
    _jsonl(data / "golden_all.jsonl", hard + easy)
    spec2 = spec.with_name("one.yaml")
    spec2.write_text(text.replace("name: golden-members", "name: golden-one").replace(
        "data/golden.jsonl", "data/golden_all.jsonl"), encoding="utf-8")
    plan2, build2 = compile_spec(spec2, single)
    script2 = {s.id: s.script for s in plan2.stages}
    for stage in ("firewall", "baseline"):
        stage_runner(build2, script2[stage], env=env, timeout=600)
    one = json.loads((build2 / "results/baseline.json").read_text())["target"]
    assert "members" not in one and one["score"] == before["score"] and one["n"] == before["n"]
    assert {k: v for k, v in before.items() if k not in ("members", "name")} == {
        k: v for k, v in one.items() if k != "name"}
    [run] = [r for r in offline_runs(build2) if "baseline/target" in r["summary"]]
    assert not [k for k in run["summary"] if k.startswith("baseline/target/")]
    assert "members" not in json.loads(CliRunner().invoke(
        cli, ["status", str(build2), "--format", "json"]).output)["results"]["target"]
