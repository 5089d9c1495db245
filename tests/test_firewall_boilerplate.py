"""Declared boilerplate (issue 17, finding 8): a system prompt or instruction template shared by training and
golden rows flags every golden row; ``eval.firewall.ignore`` cuts it out on both sides, reports it, and
never hides a real copy. A threshold of 1, the old way out, is refused everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main as cli
from specc.contract.firewall import FirewallReport, FirewallSettings, InputFile, scan

SHORT_SYSTEM = "You are a helpful assistant."
LONG_SYSTEM = (  # 26 words
    "You are a careful assistant for a travel company. Answer every question about cities, countries and "
    "journeys politely, briefly and truthfully, and never invent facts."
)
TEMPLATE = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request. ### Instruction: {q} ### Response:")
GOLDEN_QA = [("Name the capital of Peru.", "Lima"), ("Which ocean borders Chile?", "The Pacific"),
             ("Spell the word house backwards.", "esuoh")]
TRAIN_QA = [(f"Give me fact number {i} about rivers.", f"Fact {i} is about water.") for i in range(30)]


def _chat(system: str, question: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": question},
                         {"role": "assistant", "content": answer}]}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _scan(tmp_path: Path, golden: list[dict], train: list[dict], **settings) -> FirewallReport:
    return scan(InputFile(_write(tmp_path / "g.jsonl", golden), "g.jsonl", "golden"),
                [InputFile(_write(tmp_path / "t.jsonl", train), "t.jsonl")], FirewallSettings(**settings))


@pytest.mark.parametrize("system", [SHORT_SYSTEM, LONG_SYSTEM], ids=["5-word system prompt", "26-word system prompt"])
def test_shared_system_prompt_is_declared_boilerplate_and_reported(tmp_path: Path, system: str) -> None:
    golden = [_chat(system, q, a) for q, a in GOLDEN_QA]
    train = [_chat(system, q, a) for q, a in TRAIN_QA]
    flagged = _scan(tmp_path, golden, train)
    assert flagged.contaminated_rows == len(GOLDEN_QA) and not flagged.passed  # the false positive of issue 17
    report = _scan(tmp_path, golden, train, ignore=(system.upper(),))  # matched normalised, whatever the case
    assert report.passed and report.total_hits == 0
    assert [(b.text, b.golden_rows, b.training_rows) for b in report.boilerplate] == [
        (system.upper(), len(GOLDEN_QA), len(TRAIN_QA))]
    data = json.loads(report.to_json())
    assert data["boilerplate"] == {"golden_rows_entirely_boilerplate": [], "ignored": [
        {"golden_rows": 3, "text": system.upper(), "training_rows": 30}]}
    assert f'boilerplate ignored: "{system.upper()}" in 3 golden rows and 30 training rows' in report.render_text()


def test_shared_instruction_template_is_declared_boilerplate(tmp_path: Path) -> None:
    golden = [{"prompt": TEMPLATE.format(q=q), "completion": a} for q, a in GOLDEN_QA]
    train = [{"prompt": TEMPLATE.format(q=q), "completion": a} for q, a in TRAIN_QA]
    assert _scan(tmp_path, golden, train).contaminated_rows == 3
    head = TEMPLATE.split("{q}")[0]
    report = _scan(tmp_path, golden, train, ignore=(head,))
    assert report.passed and report.boilerplate[0].golden_rows == 3 and report.boilerplate[0].training_rows == 30


def test_boilerplate_never_hides_a_copied_golden_row(tmp_path: Path) -> None:
    golden = [_chat(SHORT_SYSTEM, q, a) for q, a in GOLDEN_QA]
    train = [_chat(SHORT_SYSTEM, q, a) for q, a in TRAIN_QA] + [golden[1],
             {"prompt": TEMPLATE.format(q=GOLDEN_QA[2][0]), "completion": "esuoh"}]
    report = _scan(tmp_path, golden, train, ignore=(SHORT_SYSTEM, TEMPLATE.split("{q}")[0]))
    assert {row.line for row in report.contaminated} == {2, 3} and not report.passed


def test_a_golden_row_that_is_all_boilerplate_fails_the_check(tmp_path: Path) -> None:
    golden = [_chat(SHORT_SYSTEM, q, a) for q, a in GOLDEN_QA] + [{"prompt": SHORT_SYSTEM, "completion": ""}]
    report = _scan(tmp_path, golden, [{"prompt": "unrelated words here", "completion": "x"}],
                   ignore=(SHORT_SYSTEM,))
    assert report.contaminated_rows == 0 and report.boilerplate_only == (4,) and not report.passed
    assert "entirely declared boilerplate" in report.render_text() and "g.jsonl:4" in report.render_text()


@pytest.mark.parametrize("entry", ["the", "  Hello!  ", "...", ""])
def test_boilerplate_must_be_two_words_or_more(entry: str) -> None:
    with pytest.raises(ValueError, match="must be at least two words"):
        FirewallSettings(ignore=(entry,))


SPEC = """\
specc: 1
name: boilerplate
goal: {{behaviours: [format]}}
base_model: {{id: Qwen/Qwen2.5-0.5B-Instruct, licence: apache-2.0}}
data:
  train: {{path: train.jsonl}}
  golden: {{path: golden.jsonl}}
eval:
  bar: 0.5
  firewall: {firewall}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _write(tmp_path / "golden.jsonl", [_chat(SHORT_SYSTEM, q, a) for q, a in GOLDEN_QA])
    _write(tmp_path / "train.jsonl", [_chat(SHORT_SYSTEM, q, a) for q, a in TRAIN_QA])
    monkeypatch.chdir(tmp_path)

    def spec(firewall: str) -> str:
        (tmp_path / "spec.yaml").write_text(SPEC.format(firewall=firewall), encoding="utf-8")
        return "spec.yaml"

    return spec


def test_spec_declares_boilerplate_and_check_reports_it(project) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["check", project("{}")]).exit_code == 3
    result = runner.invoke(cli, ["check", project(f'{{ignore: ["{SHORT_SYSTEM}"]}}')])
    assert result.exit_code == 0, result.output
    assert f'boilerplate ignored: "{SHORT_SYSTEM}" in 3 golden rows and 30 training rows' in result.output
    payload = json.loads(runner.invoke(cli, ["check", "spec.yaml", "--format", "json"]).output)
    assert payload["boilerplate"]["ignored"][0]["training_rows"] == 30 and payload["settings"]["ignore"] == [
        SHORT_SYSTEM]
    plan = runner.invoke(cli, ["plan", "spec.yaml"])
    assert SHORT_SYSTEM in plan.output  # the reviewed plan shows what the firewall ignores


@pytest.mark.parametrize(("firewall", "message"), [
    ("{threshold: 1.0}", "a threshold of 1 passes even training data equal to the golden set"),
    ("{threshold: 1}", "eval.firewall.ignore instead"),
    ('{ignore: ["assistant"]}', "must be at least two words"),
])
def test_spec_refuses_a_threshold_of_one_and_one_word_boilerplate(project, firewall: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["validate", project(firewall)])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "spec.yaml:10:" in result.output and "eval.firewall." in result.output
    assert "Traceback" not in result.output


def test_check_refuses_a_threshold_of_one_on_the_command_line(project) -> None:
    result = CliRunner().invoke(cli, ["check", project("{}"), "--threshold", "1"])
    assert result.exit_code == 2 and "0.0<=x<1.0" in result.output
