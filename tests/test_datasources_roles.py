"""Real data, the remaining gaps of issue 11 (and issue 14's dataset-card licences): slices of
``save_to_disk`` folders, typed CSV labels for KTO, rows validated inside the one loader, every role
(golden, general suites) from any source, and the licence a Hub dataset's card states.

Everything runs through the real loader (:mod:`specc.runtime.datasource`, ``datasets``); Hub datasets are
local repositories in the Hub's layout (``make_hub_repo``), reached by ``SPECC_HUB_MIRROR``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_hub_repo
from specc.data.jsonl import DataError
from specc.data.sources import Source, iter_source_rows

ROWS = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(10)]


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def _prompts(source: Source) -> list[str]:
    return [row["prompt"] for *_x, row in iter_source_rows(source)]


# ------------------------------------------------------------------------ loader gaps

def test_a_save_to_disk_folder_is_sliced_like_load_dataset_slices_a_split(hf_cache: Path) -> None:
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS),
                          "test": datasets.Dataset.from_list(ROWS[:3])}).save_to_disk(str(hf_cache / "saved"))
    datasets.Dataset.from_list(ROWS).save_to_disk(str(hf_cache / "single"))

    def saved(split: str, folder: str = "saved") -> Source:
        return Source(name=folder, kind="saved", path=str(hf_cache / folder), split=split)

    assert _prompts(saved("train[:20%]")) == ["p0", "p1"]
    assert _prompts(saved("train[5:7]")) == ["p5", "p6"]
    assert _prompts(saved("train[-2:]+test")) == ["p8", "p9", "p0", "p1", "p2"]
    assert _prompts(saved("test")) == ["p0", "p1", "p2"]
    assert _prompts(saved("train[:30%]", "single")) == ["p0", "p1", "p2"]
    with pytest.raises(DataError, match=r"^saved: no split 'validation'; the folder has train, test"):
        _prompts(saved("validation[:2]"))
    with pytest.raises(DataError, match=r"^saved: split 'train\[:abc\]'"):
        _prompts(saved("train[:abc]"))


def test_csv_labels_of_unpaired_preference_rows_are_booleans(hf_cache: Path) -> None:
    kto = hf_cache / "kto.csv"
    kto.write_text("prompt,completion,label\na,b,true\nc,d,0\ne,f, FALSE\ng,h,1\n", encoding="utf-8")
    rows = [row for *_x, row in iter_source_rows(Source(name="kto.csv", kind="csv", path=str(kto)))]
    assert [r["label"] for r in rows] == [True, False, False, True]
    renamed = hf_cache / "renamed.csv"
    renamed.write_text("q,completion,verdict\na,b,true\nc,d,maybe\n", encoding="utf-8")
    source = Source(name="renamed.csv", kind="csv", path=str(renamed), format="unpaired_preference",
                    columns={"label": "verdict", "prompt": "q"})
    with pytest.raises(DataError, match=r"^renamed.csv:2: `verdict` must be true/false \(or 1/0\).*not 'maybe'"):
        list(iter_source_rows(source))
    # a prompt/completion CSV keeps its text: "1" is an answer, not a label
    plain = hf_cache / "pc.csv"
    plain.write_text("prompt,completion\na,1\n", encoding="utf-8")
    assert [r for *_x, r in iter_source_rows(Source(name="pc.csv", kind="csv", path=str(plain)))] == [
        {"prompt": "a", "completion": "1"}]


# ------------------------------------------------------------------------ issue 14: dataset-card licences

ALPACA = [{"instruction": f"Format ticket {i} for item {i * 7}", "input": "", "output": f"#{i}/ITEM"} for i in range(120)]
GOLDEN = [{"prompt": f"ticket: golden thing {i} of {i * 3}", "completion": f"#{i}/GOLDEN"} for i in range(8)]


def _project(tmp_path: Path) -> Path:
    from strategies import write_fuzz_project

    root = write_fuzz_project(tmp_path / "proj")
    (root / "data" / "golden.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GOLDEN), encoding="utf-8")
    return root


def _spec(proj: Path, data: str, *, use: str | None = None) -> Path:
    spec = proj / "spec.yaml"
    goal = "{behaviours: [format], consistency_required: true" + (f", intended_use: {use}" if use else "") + "}"
    spec.write_text(f"""\
specc: 1
name: sources
goal: {goal}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 16}}}}
base_model: {{path: model, licence: apache-2.0}}
data:
{data}
  golden: {{path: data/golden.jsonl}}
eval: {{bar: 0.5}}
tracking: {{mode: disabled}}
""", encoding="utf-8")
    return spec


def _findings(plan, rule: str) -> list[str]:
    return [f"{f.level}: {f.message}" for f in plan.findings if f.rule == rule]


def test_a_non_commercial_dataset_card_refuses_a_commercial_plan_quoting_the_card(mirror: Path, tmp_path: Path) -> None:
    from specc.plan.planner import plan_spec_file

    sha = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA}, card="license: cc-by-nc-4.0\n")
    proj = _project(tmp_path)
    train = f"  train: {{hub: acme/tickets, revision: {sha}}}"
    plan = plan_spec_file(_spec(proj, train, use="commercial"))
    [refused] = _findings(plan, "LICENCE-NONCOMMERCIAL-USE")
    assert refused.startswith("error: goal.intended_use is commercial but data.train dataset hub:acme/tickets is "
                              "licensed cc-by-nc-4.0, which forbids it."), refused
    assert f"the dataset card at {sha[:12]}: license: cc-by-nc-4.0" in refused and not plan.ok
    [fact] = [d for d in plan.data if d.role == "train"]
    assert (fact.licence, fact.licence_source) == ("cc-by-nc-4.0", f"dataset card at {sha[:12]}: license: cc-by-nc-4.0")
    from specc.plan.render import render_text

    assert f"commit {sha[:12]}; licence cc-by-nc-4.0 (dataset card)" in render_text(plan)
    # research use is allowed (a traced decision), unstated use is a warning, a mixture member is checked too
    research = plan_spec_file(_spec(proj, train, use="research"))
    assert not _findings(research, "LICENCE-NONCOMMERCIAL-USE") and research.ok
    assert any(d.rule == "LICENCE-RESEARCH-USE" for d in research.decisions)
    assert [w.split(":")[0] for w in _findings(plan_spec_file(_spec(proj, train)), "LICENCE-INTENDED-USE-UNSTATED")] == [
        "warning"]
    (proj / "data" / "extra.jsonl").write_text("".join(json.dumps({"prompt": f"x{i}", "completion": f"y{i}"}) + "\n"
                                                       for i in range(120)), encoding="utf-8")
    mixed = plan_spec_file(_spec(proj, f"  train:\n    - {{path: data/extra.jsonl, licence: mit}}\n"
                                       f"    - {{hub: acme/tickets, revision: {sha}}}", use="commercial"))
    assert [m.split(" is licensed")[0] for m in _findings(mixed, "LICENCE-NONCOMMERCIAL-USE")] == [
        "error: goal.intended_use is commercial but data.train dataset hub:acme/tickets"]
    # the spec's `licence:` declares the terms the user holds (a commercial licence bought separately)
    declared = plan_spec_file(_spec(proj, f"  train: {{hub: acme/tickets, revision: {sha}, licence: cc-by-4.0}}",
                                    use="commercial"))
    assert not _findings(declared, "LICENCE-NONCOMMERCIAL-USE") and declared.ok
    assert [d.licence_source for d in declared.data if d.role == "train"] == ["spec"]


def test_a_card_without_a_licence_is_a_note(mirror: Path, tmp_path: Path) -> None:
    from specc.plan.planner import plan_spec_file

    sha = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    proj = _project(tmp_path)
    plan = plan_spec_file(_spec(proj, f"  train: {{hub: acme/tickets, revision: {sha}}}", use="commercial"))
    assert _findings(plan, "LICENCE-DATASET-UNSTATED") == [
        f"info: data.train dataset hub:acme/tickets: its dataset card states no licence (dataset card at "
        f"{sha[:12]}: its front matter has no `license:`)"]
    assert plan.ok
    other = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA}, card="license: other\nlicense_name: acme-terms\n")
    plan = plan_spec_file(_spec(proj, f"  train: {{hub: acme/tickets, revision: {other}}}", use="commercial"))
    [note] = _findings(plan, "LICENCE-DATASET-UNSTATED")
    assert "its dataset card states licence 'other', which is not in specc's registry" in note
    assert "license: other (license_name: acme-terms)" in note
    # a declared licence needs no note
    declared = plan_spec_file(_spec(proj, f"  train: {{hub: acme/tickets, revision: {sha}, licence: mit}}"))
    assert not _findings(declared, "LICENCE-DATASET-UNSTATED")


def test_card_licence_parsing() -> None:
    from specc.data.card import card_licence

    assert card_licence("---\nlicense: [cc-by-sa-4.0]\n---\n# x").licence == "cc-by-sa-4.0"
    assert card_licence("---\nlicense: [mit, apache-2.0]\n---\n").licence == "mit, apache-2.0"
    assert card_licence("# no front matter\nlicense: mit\n") .licence is None
    assert card_licence(None).words == "no dataset card (README.md)"
    assert card_licence("---\nlicense: [unclosed\n---\n").licence is None


# ------------------------------------------------------------------------ one validation path for rows

def test_the_loader_every_stage_uses_refuses_a_bad_row_of_any_source_with_its_location(
        mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: rows of non-JSONL sources reached the trainer unchecked (only the firewall stage validated
    them), so a bad row crashed inside TRL, or trained, instead of stopping with its place."""
    from conftest import write_parquet
    from specc.runtime import common

    root = mirror.parent
    bad = [*ROWS[:2], {"prompt": "p2", "completion": None}, *ROWS[3:]]
    write_parquet(root / "bad.parquet", bad)
    cases = {
        "bad.parquet:3: `completion` must be a string, not null":
            {"path": str(root / "bad.parquet"), "spec_path": "bad.parquet", "role": "train",
             "format": "prompt_completion"},
        "no_assistant.json:2: the conversation has no assistant turn":
            {"path": str(root / "no_assistant.json"), "spec_path": "no_assistant.json", "role": "train"},
        "hub:acme/chats:2: conversations[2]: unknown speaker `agent`":
            {"spec_path": "hub:acme/chats", "role": "train",
             "source": {"kind": "hub", "hub": "acme/chats", "format": "sharegpt"}},
    }
    (root / "no_assistant.json").write_text(json.dumps([
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": "c"}]}]), encoding="utf-8")
    make_hub_repo(mirror, "acme/chats", {"train": [
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "agent", "value": "a"}]}]})
    for expected, entry in cases.items():
        with pytest.raises(SystemExit) as stopped:
            common.load_rows_dataset(entry, chat=False)
        out = capsys.readouterr()
        assert stopped.value.code == 1 and f"REFUSED: {expected}" in out.out + out.err, (expected, out)
    # a mixture validates each member (rows numbered within the member)
    good = {"path": str(root / "good.parquet"), "spec_path": "good.parquet", "role": "train",
            "format": "prompt_completion", "mix": {"seed": 0}}
    write_parquet(root / "good.parquet", ROWS)
    with pytest.raises(SystemExit):
        common.load_rows_dataset([good, {**cases["bad.parquet:3: `completion` must be a string, not null"],
                                         "mix": {"seed": 0}}], chat=False)
    assert "REFUSED: bad.parquet:3: `completion` must be a string, not null" in capsys.readouterr().err
    assert len(common.load_rows_dataset(good, chat=False)) == len(ROWS)


# ------------------------------------------------------------------------ every role from every source

def test_a_golden_set_that_is_a_training_source_is_refused_for_hub_and_mixture_members(mirror: Path,
                                                                                       tmp_path: Path) -> None:
    from specc.plan.planner import plan_spec_file

    sha = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA, "test": ALPACA[:8]})
    proj = _project(tmp_path)
    (proj / "data" / "extra.jsonl").write_text("".join(json.dumps({"prompt": f"x{i}", "completion": f"y{i}"}) + "\n"
                                                       for i in range(120)), encoding="utf-8")

    def refused(data: str, golden: str) -> list[str]:
        text = _spec(proj, data).read_text().replace("  golden: {path: data/golden.jsonl}\n", f"  golden: {golden}\n")
        (proj / "spec.yaml").write_text(text)
        return [f.message for f in plan_spec_file(proj / "spec.yaml").findings if f.rule == "DATA-GOLDEN-IS-TRAINING"]

    member = f"  train:\n    - {{path: data/extra.jsonl}}\n    - {{hub: acme/tickets, revision: {sha}, format: alpaca}}"
    assert refused(member, f"{{hub: acme/tickets, revision: {sha}, split: train}}") == [
        "the golden set and data.train are the same source (hub:acme/tickets[train])"]
    assert refused(member, "{path: data/extra.jsonl}") == [
        "the golden set and data.train are the same source (data/extra.jsonl)"]
    assert refused("  preference: {path: data/extra.jsonl}\n  train: {path: data/extra.jsonl}",
                   "{path: ./data/extra.jsonl}") != []
    # another split of the same dataset is a held-out golden set
    assert refused(member, f"{{hub: acme/tickets, revision: {sha}, split: test, format: alpaca}}") == []


# ------------------------------------------------------------------------ bad inputs: located, nothing trained

BAD_INPUTS = {
    "unknown column": ("{hub: acme/tickets, columns: {prompt: instrution, completion: output}}",
                       ["hub:acme/tickets", "unknown column `instrution` (columns.prompt); the dataset has columns: "
                        "instruction, input, output", "did you mean `instruction`?"]),
    "missing split": ("{hub: acme/tickets, split: validation}", ["hub:acme/tickets[validation]", "validation"]),
    "revision not resolvable offline": ("{hub: acme/tickets, revision: v9.9}",
                                        ["hub:acme/tickets", "revision 'v9.9' cannot be resolved"]),
    "weights summing to zero": ("[{path: data/local.jsonl, weight: 0}, {hub: acme/tickets, weight: 0}]",
                                ["spec.yaml:", "data.train", "sum to zero"]),
    "mixture member empty after max_rows": ("[{path: data/local.jsonl}, {hub: acme/tickets, max_rows: 5, "
                                            "fraction: 0.001}]",
                                            ["member 1 is hub:acme/tickets", "no rows left after fraction/max_rows"]),
    "gzip file named .jsonl": ("{path: data/packed.jsonl}", ["data/packed.jsonl", "gzip"]),
    "CSV with a ragged row": ("{path: data/ragged.csv}", ["data/ragged.csv:3: a ragged row: 3 fields where the "
                                                         "header has 2"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_each_bad_input_is_a_located_error_and_nothing_runs(case: str, mirror: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from click.testing import CliRunner

    from specc.cli.main import main as cli

    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    proj = _project(tmp_path)
    data = proj / "data"
    (data / "local.jsonl").write_text("".join(json.dumps({"prompt": f"x{i}", "completion": f"y{i}"}) + "\n"
                                              for i in range(120)), encoding="utf-8")
    (data / "packed.jsonl").write_bytes(gzip.compress(b'{"prompt": "a", "completion": "b"}\n' * 120))
    (data / "ragged.csv").write_text("prompt,completion\na,b\nc,d,e\n" + "f,g\n" * 120, encoding="utf-8")
    train, expected = BAD_INPUTS[case]
    spec = _spec(proj, f"  train: {train}")
    monkeypatch.chdir(proj)
    result = CliRunner().invoke(cli, ["run", str(spec)])
    assert result.exit_code not in (0, None), result.output
    for words in expected:
        assert words in result.output, (case, words, result.output)
    assert "Traceback" not in result.output
    built = proj / "build"
    written = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()) if built.exists() else []
    assert not [p for p in written if p.startswith(("artifacts/", "results/", "reports/"))], written


def test_plan_and_diff_follow_a_hub_suite_and_a_card_licence(mirror: Path, tmp_path: Path) -> None:
    from specc.plan.diff import diff_plans, render_diff
    from specc.plan.planner import plan_spec_file

    suite = [{"prompt": f"{i} + {i} =", "completion": str(2 * i)} for i in range(6)]
    first = make_hub_repo(mirror, "acme/general", {"test": suite})
    proj = _project(tmp_path)
    (proj / "data" / "extra.jsonl").write_text("".join(json.dumps({"prompt": f"x{i}", "completion": f"y{i}"}) + "\n"
                                                       for i in range(120)), encoding="utf-8")
    spec = _spec(proj, "  train: {path: data/extra.jsonl}\n  general_suites:\n"
                       "    - {name: sums, kind: exact_match, hub: acme/general, split: test}")
    old = plan_spec_file(spec)
    [fact] = [d for d in old.data if d.role == "suite"]
    assert (fact.name, fact.path, fact.rows, fact.format) == ("sums", "hub:acme/general[test]", 6, "exact_match")
    assert fact.source["revision"] == first
    assert any(f.rule == "DATA-HUB-UNPINNED" and "suite source hub:acme/general[test]" in f.message
               for f in old.findings)
    [entry] = old.stage("baseline").config["suites"]
    assert entry["source"]["revision"] == first and entry["spec_path"] == "hub:acme/general[test]"
    assert old.stage("firewall").config["suites"] == [entry]  # the firewall records its rows for the guard
    second = make_hub_repo(mirror, "acme/general", {"test": suite[:4]}, card="license: cc-by-nc-4.0\n")
    text = render_diff(diff_plans(old, plan_spec_file(spec)))
    assert second in text and first in text, text


def test_check_json_counts_the_rows_of_every_source(tmp_path: Path, hf_cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the personal-data scan of a non-JSONL source reused the name of the row counts, so
    `specc check --format json` crashed (a generator has no .get) on a spec without a golden set whose training
    data is a CSV/Parquet/Hub source."""
    from click.testing import CliRunner

    from specc.cli.main import main as cli

    proj = _project(tmp_path)
    (proj / "data" / "qa.csv").write_text("question,answer\n" + "".join(f"what is {i},{i}\n" for i in range(120)),
                                          encoding="utf-8")
    spec = _spec(proj, "  train: {path: data/qa.csv, columns: {prompt: question, completion: answer}}")
    spec.write_text(spec.read_text().replace("  golden: {path: data/golden.jsonl}\n", ""))  # nothing to scan
    monkeypatch.chdir(proj)
    result = CliRunner().invoke(cli, ["check", "spec.yaml", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["skipped"] == "no golden set" and payload["files"] == [
        {"name": "data/qa.csv", "role": "train", "rows": 120}], payload


def test_a_hub_revision_that_cannot_be_resolved_offline_is_a_located_plan_error(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The real Hub path (no mirror), offline: the planner names the source and says why, nothing is compiled."""
    from specc.plan.planner import plan_spec_file

    monkeypatch.delenv("SPECC_HUB_MIRROR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    proj = _project(tmp_path)
    plan = plan_spec_file(_spec(proj, "  train: {hub: yahma/alpaca-cleaned, revision: v1.0, format: alpaca}"))
    [error] = [f.message for f in plan.findings if f.level == "error" and f.rule == "DATA-UNREADABLE"]
    assert error.startswith("hub:yahma/alpaca-cleaned: revision 'v1.0' of yahma/alpaca-cleaned cannot be resolved"), error
    assert "offline?" in error and not plan.ok and plan.stages == []
