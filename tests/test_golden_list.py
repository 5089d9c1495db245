"""``data.golden`` as a list of sources (issue 11: "any role may be a list of sources").

A golden set kept as several files (a Hub test split plus a local file here) is the union of its members' rows,
in spec order, and every reader of the golden set reads every member: the plan (rows per member, each locked),
``specc check`` and the firewall stage (hits name the member's own ``file:line``), the baseline/eval scoring
(rows of both members), the guard (a changed member refuses the stage, exit 3), and the plan-time rule that a
golden source must not be a training source (per member). Hub members are local Hub-layout repositories
(``make_hub_repo``) reached through ``SPECC_HUB_MIRROR``: the same loader code a Hub id takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_hub_repo

GOLDEN = [{"prompt": f"ticket: golden thing {i} of {i * 3}", "completion": f"#{i}/GOLDEN"} for i in range(8)]
TRAIN = [{"prompt": f"ticket: training item {i} with {i * 7} parts", "completion": f"#{i}/ITEM"}
         for i in range(30)]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _chat(row: dict) -> dict:
    return {"messages": [{"role": "user", "content": row["prompt"]},
                         {"role": "assistant", "content": row["completion"]}]}


def _project(tmp_path: Path, mirror: Path, golden: str | None = None, train: str = "{path: data/train.jsonl}") -> Path:
    """A spec whose golden set is a Hub test split (member 1, prompt/completion) plus a local JSONL file
    (member 2, chat rows: members may differ in format)."""
    from strategies import write_data_spec, write_fuzz_project

    proj = write_fuzz_project(tmp_path / "proj")
    sha = make_hub_repo(mirror, "acme/golden", {"test": GOLDEN[:4]})
    _jsonl(proj / "data" / "train.jsonl", TRAIN)
    _jsonl(proj / "data" / "golden_b.jsonl", [_chat(r) for r in GOLDEN[4:]])
    golden = golden or (f"\n    - {{hub: acme/golden, revision: {sha}, split: test}}"
                        "\n    - {path: data/golden_b.jsonl}")
    write_data_spec(proj, train=train, golden=golden, name="golden-list")
    return proj


def test_a_golden_list_plans_each_member_with_its_rows_lock_and_firewall_inputs(mirror: Path, tmp_path: Path) -> None:
    from specc.build.lock import build_document
    from specc.plan.planner import plan_spec_file
    from specc.plan.render import render_text

    proj = _project(tmp_path, mirror)
    plan = plan_spec_file(proj / "spec.yaml")
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    golden = [d for d in plan.data if d.role == "golden"]
    assert [(d.name, d.path, d.format, d.rows) for d in golden] == [
        ("golden[0]", "hub:acme/golden[test]", "prompt_completion", 4),
        ("golden[1]", "data/golden_b.jsonl", "messages", 4)]
    assert golden[0].source["kind"] == "hub" and len(golden[0].source["revision"]) == 40
    assert golden[1].sha256 and golden[1].source is None
    assert plan.contract is not None and plan.contract.golden == golden
    # the lock pins each member like any source: the Hub commit, the local file's sha256
    lock = {e["name"]: e for e in json.loads(build_document(plan, "."))["lock"]["data"]}
    assert lock["golden[1]"]["sha256"] == golden[1].sha256 and lock["golden[1]"]["rows"] == 4
    assert lock["golden[0]"]["rows"] == 4
    # the firewall and the eval stages read every member; the firewall declares each as an input
    firewall, baseline = plan.stage("firewall"), plan.stage("baseline")
    assert [e["name"] for e in firewall.config["golden"]] == ["golden[0]", "golden[1]"]
    assert firewall.config["golden"] == baseline.config["golden"] == plan.stage("eval").config["golden"]
    assert firewall.inputs["golden[1]"] == "data/golden_b.jsonl"
    text = render_text(plan)
    assert "golden hub:acme/golden[test] (sha256" in text and ", data/golden_b.jsonl (sha256" in text
    # specc diff names the member that changed
    from specc.plan.diff import diff_plans, render_diff

    _jsonl(proj / "data" / "golden_b.jsonl", [_chat(r) for r in GOLDEN[4:7]])
    changed = render_diff(diff_plans(plan, plan_spec_file(proj / "spec.yaml")))
    assert "golden:golden[1]" in changed and "golden:golden[0]" not in changed, changed


def test_check_names_the_member_file_and_line_of_a_planted_golden_row(mirror: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from specc.cli.main import main as cli

    proj = _project(tmp_path, mirror)
    _jsonl(proj / "data" / "train.jsonl", [*TRAIN, GOLDEN[6]])  # member 2's third row, as training data
    monkeypatch.chdir(proj)
    result = CliRunner().invoke(cli, ["check", "spec.yaml"])
    assert result.exit_code == 3, result.output
    assert "hit on golden data/golden_b.jsonl:3" in result.output, result.output
    assert "golden data/golden_b.jsonl:3: " in result.output  # the contaminated row, by its member
    assert "1/8 rows contaminated" in result.output
    payload = json.loads(CliRunner().invoke(cli, ["check", "spec.yaml", "--format", "json"]).output)
    assert payload["golden"]["members"] == [{"file": "hub:acme/golden[test]", "rows": 4},
                                            {"file": "data/golden_b.jsonl", "rows": 4}]
    [row] = payload["contaminated"]
    assert (row["file"], row["line"]) == ("data/golden_b.jsonl", 3)
    assert {(h["golden_file"], h["golden_line"]) for h in payload["hits"]} == {("data/golden_b.jsonl", 3)}
    github = CliRunner().invoke(cli, ["check", "spec.yaml", "--format", "github"]).output
    assert "matches golden row data/golden_b.jsonl:3 " in github
    # a row of member 1 (the Hub split) is found and named by its own source and row
    _jsonl(proj / "data" / "train.jsonl", [*TRAIN, GOLDEN[1]])
    result = CliRunner().invoke(cli, ["check", "spec.yaml"])
    assert result.exit_code == 3 and "hit on golden hub:acme/golden[test]:2" in result.output, result.output
    _jsonl(proj / "data" / "train.jsonl", TRAIN)
    assert CliRunner().invoke(cli, ["check", "spec.yaml"]).exit_code == 0


def test_a_golden_member_equal_to_a_training_member_is_a_plan_error(mirror: Path, tmp_path: Path) -> None:
    from specc.plan.planner import plan_spec_file

    train = "\n    - {path: data/train.jsonl}\n    - {path: data/golden_b.jsonl}"  # a mixture with member 2
    plan = plan_spec_file(_project(tmp_path, mirror, train=train) / "spec.yaml")
    assert [f.message for f in plan.findings if f.rule == "DATA-GOLDEN-IS-TRAINING"] == [
        "a golden set member and data.train are the same source (data/golden_b.jsonl)"]
    assert not plan.ok


@pytest.mark.parametrize("key", ["weight: 2", "max_rows: 2", "fraction: 0.5"])
def test_a_golden_member_is_never_sampled(key: str, mirror: Path, tmp_path: Path) -> None:
    from specc.cli.main import main as cli

    golden = f"\n    - {{path: data/golden_b.jsonl}}\n    - {{path: data/golden_c.jsonl, {key}}}"
    proj = _project(tmp_path, mirror, golden=golden)
    result = CliRunner().invoke(cli, ["validate", str(proj / "spec.yaml")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "spec.yaml:11:7: error: data.golden[1]: " in result.output, result.output
    assert f"{key.split(':')[0]}: a golden set is not sampled" in result.output and "split: test[:200]" in result.output


@pytest.mark.train
def test_firewall_and_baseline_read_both_members_and_a_changed_member_refuses(write_spec, compile_spec, stage_runner,
                                                                              tmp_path: Path, mirror: Path) -> None:
    spec = write_spec()
    data = spec.parent / "data"
    rows = [json.loads(x) for x in (data / "golden.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    hub = [{"prompt": r["messages"][0]["content"], "completion": r["messages"][-1]["content"]} for r in rows[:3]]
    sha = make_hub_repo(mirror, "acme/golden", {"test": hub})
    _jsonl(data / "golden_b.jsonl", rows[3:])
    text = spec.read_text(encoding="utf-8").replace(
        "  golden: {path: data/golden.jsonl}",
        f"  golden:\n    - {{hub: acme/golden, revision: {sha}, split: test}}\n    - {{path: data/golden_b.jsonl}}")
    spec.write_text(text, encoding="utf-8")
    plan, build = compile_spec(spec)
    env = {"SPECC_HUB_MIRROR": str(mirror), "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")}
    script = {s.id: s.script for s in plan.stages}
    stage_runner(build, script["firewall"], env=env)
    report = json.loads((build / "reports/firewall.json").read_text())
    assert report["passed"] is True and report["golden"]["rows"] == len(rows)
    assert report["golden"]["members"] == [{"file": "hub:acme/golden[test]", "rows": 3},
                                           {"file": "data/golden_b.jsonl", "rows": len(rows) - 3}]
    stage_runner(build, script["baseline"], env=env, timeout=600)
    baseline = json.loads((build / "results/baseline.json").read_text())
    assert baseline["target"]["n"] == len(rows)  # every row of both members scored
    # member 2 changes after planning: the stage refuses before loading anything
    _jsonl(data / "golden_b.jsonl", rows[3:-1])
    refused = stage_runner(build, script["baseline"], env=env, check=False)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "data/golden_b.jsonl" in refused.stderr


@pytest.mark.train
def test_a_reward_models_golden_list_scores_the_pairs_of_every_member(write_spec, compile_spec, stage_runner) -> None:
    from specc.plan.planner import plan_spec_file

    spec = write_spec(name="tiny-reward", data={"preference": "preference.jsonl"})
    data = spec.parent / "data"
    pairs = [json.loads(line) for line in (data / "preference.jsonl").read_text().splitlines()]
    _jsonl(data / "preference.jsonl", pairs[:40])
    # member a's pairs have chosen == rejected: a margin of exactly 0 each, so its accuracy is 0 and its mean
    # margin 0.0 only if its figures come from its own pairs (the members read as a shuffled mixture mixed them)
    _jsonl(data / "pairs_a.jsonl", [{**p, "rejected": p["chosen"]} for p in pairs[40:44]])
    _jsonl(data / "pairs_b.jsonl", pairs[44:50])
    text = spec.read_text().replace("  golden: {path: data/golden.jsonl}",
                                    "  golden:\n    - {path: data/pairs_a.jsonl}\n    - {path: data/pairs_b.jsonl}")
    text = text.replace("  metric: exact_match\n", "  metric: pairwise_accuracy\n")
    head, _, tail = text.partition("  general_suites:\n")
    spec.write_text(head + "method:" + tail.split("method:", 1)[1])
    # a member that is not pairs is named on its own
    spec_text = spec.read_text()
    spec.write_text(spec_text.replace("data/pairs_b.jsonl", "data/golden.jsonl"))
    refused = plan_spec_file(spec)
    assert [f.message.split(";")[0] for f in refused.findings if f.rule == "CONTRACT-REWARD-GOLDEN-PAIRS"] == [
        "data.golden (data/golden.jsonl) holds messages rows"]
    spec.write_text(spec_text)
    plan, build = compile_spec(spec)
    assert plan.method == "reward"
    script = {s.id: s.script for s in plan.stages}
    stage_runner(build, script["firewall"])
    stage_runner(build, script["baseline"])
    target = json.loads((build / "results/baseline.json").read_text())["target"]
    assert target["metric"] == "pairwise_accuracy" and target["n"] == 10  # 4 + 6 pairs
    # each member's pairwise accuracy, cut from the same pass (tests/test_golden_members.py covers the rest)
    assert [(m["name"], m["key"], m["n"]) for m in target["members"]] == [
        ("data/pairs_a.jsonl", "data_pairs_a_jsonl", 4), ("data/pairs_b.jsonl", "data_pairs_b_jsonl", 6)]
    assert sum(m["score"] * m["n"] for m in target["members"]) / 10 == pytest.approx(target["score"], abs=1e-12)
    assert (target["members"][0]["score"], target["members"][0]["extra"]["mean_margin"]) == (0.0, 0.0)


def test_a_golden_row_emptied_by_boilerplate_is_named_by_its_member(tmp_path: Path) -> None:
    from specc.contract.goldenset import GoldenUnion, scan_golden
    from specc.contract.settings import FirewallSettings, InputFile

    boiler = "you are a helpful ticket formatting assistant"
    _jsonl(tmp_path / "a.jsonl", GOLDEN[:3])
    _jsonl(tmp_path / "b.jsonl", [GOLDEN[3], {"prompt": boiler, "completion": boiler}])
    _jsonl(tmp_path / "train.jsonl", [*TRAIN[:5], GOLDEN[1]])
    members = [InputFile(tmp_path / n, name=n, role="golden") for n in ("a.jsonl", "b.jsonl")]
    report = scan_golden(GoldenUnion(members), [InputFile(tmp_path / "train.jsonl", name="train.jsonl")],
                         FirewallSettings(ignore=(boiler,)))
    assert report.boilerplate_only_where() == ["b.jsonl:2"] and not report.passed
    assert [(row.file, row.line) for row in report.contaminated] == [("a.jsonl", 2)]
    assert report.golden_rows == 5 and report.golden_members == (("a.jsonl", 3), ("b.jsonl", 2))
    assert "b.jsonl:2" in report.render_text() and "golden a.jsonl:2: 1 hits" in report.render_text()
    # one source: the report is the plain scan's, unchanged
    single = scan_golden(members[0], [InputFile(tmp_path / "train.jsonl", name="train.jsonl")])
    assert "members" not in single.to_dict()["golden"] and "golden_file" not in single.to_dict()["hits"][0]
