"""``specc check`` reads every general suite (issue 11 item 7): any source kind, every row checked as the baseline
and eval stages check it, row counts in text and JSON; and suite rows found in the training data are a warning
that names the suite and the rows (the forgetting gate would score trained-on rows).

Hub suites come from a local repository in the Hub's layout served through SPECC_HUB_MIRROR (no network).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main
from tests.conftest import make_hub_repo

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "wandb", "accelerate")

GOLDEN = [("Which river flows through the old market town where the annual cheese festival is held every spring",
           "The Alder river"),
          ("How many bridges cross the canal between the northern lock and the southern harbour in the old city",
           "Seven bridges in total")]
TRAIN = [(f"Tell me one short fact about {topic} number {i}", f"Fact {i} about {topic}.")
         for i, topic in enumerate(["apples", "trains", "clouds", "maps", "boats", "lamps"])]
SUITE = [(f"Name the {thing} that the {who} left {where} before the long winter storm arrived", f"Answer {i}")
         for i, (thing, who, where) in enumerate([("lantern", "ferryman", "on the pier"),
                                                   ("violin", "teacher", "in the chapel"),
                                                   ("map", "explorer", "under the bridge"),
                                                   ("basket", "baker", "beside the mill"),
                                                   ("compass", "sailor", "at the harbour inn")])]
CHOICE = [{"prompt": f"Pick the even number from question {i} of the quiz", "choices": ["3", str(2 * i + 4)],
           "answer": 1} for i in range(4)]

SPEC = """\
specc: 1
name: check-suites
goal:
  behaviours: [format]
base_model: {{id: Qwen/Qwen2.5-0.5B-Instruct, licence: apache-2.0}}
data:
  train: {{path: data/train.jsonl}}
  golden: {{path: data/golden.jsonl}}
  general_suites:
{suites}
eval:
  metric: exact_match
  bar: 0.5
"""


def _chat(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    _write(root / "data" / "train.jsonl", [_chat(q, a) for q, a in TRAIN])
    _write(root / "data" / "golden.jsonl", [_chat(q, a) for q, a in GOLDEN])
    _write(root / "data" / "facts.jsonl", [{"prompt": q, "completion": a} for q, a in SUITE])
    _write(root / "data" / "quiz.jsonl", CHOICE)
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.chdir(root)
    return root


def _spec(proj: Path, *suites: str) -> str:
    text = SPEC.format(suites="\n".join(f"    - {s}" for s in suites))
    (proj / "spec.yaml").write_text(text, encoding="utf-8")
    return "spec.yaml"


LOCAL = ("{name: facts, kind: exact_match, path: data/facts.jsonl}",
         "{name: quiz, kind: multiple_choice, path: data/quiz.jsonl}")


def _check(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def test_local_suites_are_checked_and_counted_in_text_and_json(proj: Path) -> None:
    spec = _spec(proj, *LOCAL, "{name: refusal, kind: refusal}")  # the built-in set has no rows of the spec
    result = _check(spec)
    assert result.exit_code == 0, result.output
    assert "  - facts (exact_match) data/facts.jsonl: 5 rows" in result.output
    assert "  - quiz (multiple_choice) data/quiz.jsonl: 4 rows" in result.output
    assert "general-suite overlap: none (6 training rows scanned against 9 suite rows)" in result.output
    payload = json.loads(_check(spec, "--format", "json").output)
    assert payload["suites"] == [
        {"kind": "exact_match", "name": "facts", "rows": 5, "source": "data/facts.jsonl"},
        {"kind": "multiple_choice", "name": "quiz", "rows": 4, "source": "data/quiz.jsonl"}]
    assert payload["suite_overlap"]["clean"] is True and payload["passed"] is True


def test_suite_limit_counts_the_rows_the_stages_score(proj: Path) -> None:
    # a bad row past the limit is never scored, so it is not an error
    _write(proj / "data" / "facts.jsonl", [{"prompt": q, "completion": a} for q, a in SUITE] + [{"prompt": "x"}])
    result = _check(_spec(proj, "{name: facts, kind: exact_match, path: data/facts.jsonl, limit: 3}"))
    assert result.exit_code == 0, result.output
    assert "facts (exact_match) data/facts.jsonl: 3 rows" in result.output
    # nor is a line past the limit that is not even JSON: the stages stop reading at the limit, and so does check
    rows = [{"prompt": q, "completion": a} for q, a in SUITE]
    (proj / "data" / "facts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]) + "{not json\n",
                                                encoding="utf-8")
    result = _check(_spec(proj, "{name: facts, kind: exact_match, path: data/facts.jsonl, limit: 3}"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("rows", "line", "message"), [
    (CHOICE[:2] + [{**CHOICE[2], "answer": 5}], 3, "`answer`, the index (0 to 1)"),
    (CHOICE[:1] + [{"question": "q", "choices": ["a", "b"], "answer": 0}], 2, "needs `prompt` or `messages`"),
    ([{"messages": [{"role": "user", "content": "no answer"}], "choices": ["a", "b"], "answer": 0}], 0, None),
])
def test_a_bad_suite_row_is_a_located_error(proj: Path, rows: list[dict], line: int, message: str | None) -> None:
    _write(proj / "data" / "quiz.jsonl", rows)
    result = _check(_spec(proj, *LOCAL))
    if message is None:  # a multiple-choice conversation needs no reference answer: it is fine
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1, result.output
    assert f"data/quiz.jsonl:{line}: error: suite 'quiz' (multiple_choice): " in result.output, result.output
    assert message in result.output and "Traceback" not in result.output


def test_an_exact_match_row_without_a_reference_is_refused_by_check_and_by_the_stages(proj: Path) -> None:
    from specc.runtime.suites import SuiteError, SuiteSpec, check_suite_rows

    rows = [{"prompt": q, "completion": a} for q, a in SUITE[:2]] + [{"prompt": "no reference"}]
    _write(proj / "data" / "facts.jsonl", rows)
    result = _check(_spec(proj, LOCAL[0]))
    assert result.exit_code == 1 and "data/facts.jsonl:3: error:" in result.output, result.output
    assert "reference answer" in result.output
    # the baseline and eval stages run the same check before scoring (specc.runtime.suites.evaluate_suite)
    with pytest.raises(SuiteError, match=r"data/facts.jsonl:3: .*reference answer"):
        check_suite_rows(SuiteSpec("facts", "exact_match", path="data/facts.jsonl"), rows)


def test_an_empty_suite_is_an_error(proj: Path) -> None:
    (proj / "data" / "facts.jsonl").write_text("", encoding="utf-8")
    result = _check(_spec(proj, LOCAL[0]))
    assert result.exit_code == 1 and "data/facts.jsonl" in result.output, result.output


def test_suite_rows_in_the_training_data_are_a_warning_naming_suite_and_rows(proj: Path) -> None:
    rows = [_chat(q, a) for q, a in TRAIN]
    rows.insert(2, _chat(SUITE[3][0], SUITE[3][1]))  # training line 3 is suite row 4
    rows.append(_chat(SUITE[1][0].upper() + "?!", "something else"))  # line 8: the question, recased
    _write(proj / "data" / "train.jsonl", rows)
    spec = _spec(proj, *LOCAL)
    result = _check(spec)
    assert result.exit_code == 0, result.output  # a warning: the golden-set firewall still passes
    assert ("general-suite overlap: WARNING: 2/5 rows of suite facts (data/facts.jsonl) are in the training data"
            in result.output), result.output
    assert "data/train.jsonl:3 messages[0].content: exact hit on suite facts data/facts.jsonl:4" in result.output
    assert "data/train.jsonl:8 messages[0].content: exact hit on suite facts data/facts.jsonl:2" in result.output
    assert "rows of suite quiz" not in result.output
    overlap = json.loads(_check(spec, "--format", "json").output)["suite_overlap"]
    assert overlap["clean"] is False and overlap["severity"] == "warning"
    assert {s["name"]: s["rows_in_training"] for s in overlap["suites"]} == {"facts": [2, 4], "quiz": []}
    github = _check(spec, "--format", "github").output
    assert "::warning file=data/train.jsonl,line=3,title=specc general suites::" in github, github


def test_each_suite_and_training_file_is_parsed_once(proj: Path, jsonl_opens: list[str]) -> None:
    """Suite rows are checked, counted and indexed in one read; training rows are matched against the suites as
    the firewall scan streams them (no second read of the training data)."""
    opened = jsonl_opens
    _write(proj / "data" / "train.jsonl", [_chat(q, a) for q, a in TRAIN] + [_chat(*SUITE[0])])
    result = _check(_spec(proj, *LOCAL), "--format", "json")
    assert result.exit_code == 0, result.output
    assert sorted(opened) == ["facts.jsonl", "golden.jsonl", "quiz.jsonl", "train.jsonl"]
    assert json.loads(result.output)["suite_overlap"]["suites"][0]["rows_in_training"] == [1]


def test_check_with_local_suites_stays_light(proj: Path) -> None:
    _spec(proj, *LOCAL)
    code = ("import sys\nfrom specc.cli.main import main\ntry:\n    main(['check', 'spec.yaml'])\n"
            "except SystemExit as exc:\n    print('STATUS', exc.code, file=sys.stderr)\n"
            f"print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=proj, capture_output=True, text=True, timeout=120,
                          env=env)
    assert "STATUS 0" in proc.stderr and "HEAVY []" in proc.stderr, proc.stderr
    assert "quiz (multiple_choice) data/quiz.jsonl: 4 rows" in proc.stdout


def test_hub_and_parquet_suites_are_read_and_overlap_is_found(proj: Path, tmp_path: Path) -> None:
    from tests.conftest import write_parquet

    commit = make_hub_repo(tmp_path / "hub", "acme/facts",
                           configs={"main": {"test": [{"question": q, "answer": a} for q, a in SUITE]}})
    write_parquet(proj / "data" / "quiz.parquet", CHOICE)
    rows = [_chat(q, a) for q, a in TRAIN] + [_chat(*SUITE[2])]
    _write(proj / "data" / "train.jsonl", rows)
    spec = _spec(proj, "{name: facts, kind: exact_match, hub: acme/facts, subset: main, split: 'test[:4]', "
                       f"revision: {commit}, columns: {{prompt: question, completion: answer}}}}",
                 "{name: quiz, kind: multiple_choice, path: data/quiz.parquet}")
    result = _check(spec)
    assert result.exit_code == 0, result.output
    assert "  - facts (exact_match) hub:acme/facts/main[test[:4]]: 4 rows" in result.output, result.output
    assert "  - quiz (multiple_choice) data/quiz.parquet: 4 rows" in result.output
    assert "data/train.jsonl:7 messages[0].content: exact hit on suite facts hub:acme/facts/main[test[:4]]:3" \
        in result.output, result.output
    # Without the data stack, check names the extra to install (as for a Hub training source).
    code = ("import sys; sys.modules['datasets'] = None; from specc.cli.main import main; "
            "sys.exit(main(['check', 'spec.yaml']))")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=proj, capture_output=True, text=True, timeout=120,
                          env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "pip install 'specc[train]'" in out and "Traceback" not in out, out


def test_the_firewall_stage_warns_of_suite_rows_in_the_training_data(proj: Path) -> None:
    """The emitted firewall stage runs the same overlap scan as ``specc check``: a warning in its log and in
    reports/firewall.json naming the suite rows; the stage still passes (exit 0)."""
    from tests.conftest import run_firewall_stage

    spec = proj / _spec(proj, *LOCAL)
    proc = run_firewall_stage(spec)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((proc.build / "reports" / "firewall.json").read_text(encoding="utf-8"))
    assert report["general_suites"]["clean"] is True, report.get("general_suites")
    assert "general-suite overlap: none" in proc.stderr
    rows = [_chat(q, a) for q, a in TRAIN] + [_chat(*SUITE[4])]
    _write(proj / "data" / "train.jsonl", rows)
    proc = run_firewall_stage(spec)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING: 1/5 rows of suite facts (data/facts.jsonl)" in proc.stderr, proc.stderr[-3000:]
    report = json.loads((proc.build / "reports" / "firewall.json").read_text(encoding="utf-8"))
    assert report["passed"] is True
    found = {s["name"]: s["rows_in_training"] for s in report["general_suites"]["suites"]}
    assert found == {"facts": [5], "quiz": []}
    assert report["general_suites"]["hits"][0]["line"] == 7


def test_the_golden_verdict_is_the_same_with_and_without_suites(proj: Path) -> None:
    """Each training row is normalised once and shared by the golden and the suite matchers: the golden
    report (hits, contaminated rows, declared-boilerplate counts) is unchanged by adding suites."""
    rows = [_chat(f"Please answer briefly. {q}", a) for q, a in TRAIN]
    rows.insert(1, _chat(f"Please answer briefly. {GOLDEN[0][0]}", GOLDEN[0][1]))
    rows.insert(4, _chat(f"Please answer briefly. {SUITE[0][0]}", SUITE[0][1]))
    _write(proj / "data" / "train.jsonl", rows)

    def golden_report(*suites: str) -> dict:
        text = SPEC.format(suites="\n".join(f"    - {s}" for s in suites) or "    []")
        text = text.replace("  bar: 0.5\n", "  bar: 0.5\n  firewall: {ignore: [\"Please answer briefly.\"]}\n")
        (proj / "spec.yaml").write_text(text, encoding="utf-8")
        result = _check("spec.yaml", "--format", "json")
        assert result.exit_code == 3, result.output
        payload = json.loads(result.output)
        return {key: payload[key] for key in ("boilerplate", "contaminated", "hits", "summary")}, payload

    alone, _ = golden_report()
    with_suites, payload = golden_report(*LOCAL)
    assert with_suites == alone
    assert alone["boilerplate"]["ignored"][0]["training_rows"] == 8
    assert payload["suite_overlap"]["suites"][0]["rows_in_training"] == [1]


def test_without_a_golden_set_check_and_the_firewall_stage_still_match_the_suites(proj: Path) -> None:
    from tests.conftest import run_firewall_stage

    _write(proj / "data" / "train.jsonl", [_chat(q, a) for q, a in TRAIN] + [_chat(*SUITE[1])])
    text = SPEC.format(suites="\n".join(f"    - {s}" for s in LOCAL)).replace("  golden: {path: data/golden.jsonl}\n",
                                                                           "")
    (proj / "spec.yaml").write_text(text, encoding="utf-8")
    result = _check("spec.yaml")
    assert result.exit_code == 0 and "nothing to firewall; skipped" in result.output, result.output
    assert "WARNING: 1/5 rows of suite facts (data/facts.jsonl)" in result.output, result.output
    proc = run_firewall_stage(proj / "spec.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING: 1/5 rows of suite facts (data/facts.jsonl)" in proc.stderr, proc.stderr[-3000:]
    report = json.loads((proc.build / "reports" / "firewall.json").read_text(encoding="utf-8"))
    assert report["skipped"] == "no golden set" and report["passed"] is True
    assert report["general_suites"]["suites"][0]["rows_in_training"] == [2]
