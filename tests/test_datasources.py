"""Data sources (issue 11): Hub datasets, local JSON/CSV/Parquet/folders, alpaca/sharegpt/column mappings,
pinning — each read through the real loader (:mod:`specc.runtime.datasource`, ``datasets``).

Hub datasets are tested through the same loader code against local repositories laid out as the Hub lays
them out (``make_hub_repo`` in conftest.py: a git clone with a dataset card's ``configs`` and ``data/*.parquet``), reached by
``SPECC_HUB_MIRROR``; nothing is mocked. The firewall stage runs as the emitted script, in a subprocess.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_hub_repo, write_parquet
from specc.build.emitter import compile_plan
from specc.cli.main import main as cli
from specc.data.jsonl import DataError
from specc.data.sources import Source, iter_source_rows
from specc.plan.planner import plan_spec_file
from strategies import write_data_spec, write_fuzz_project

ALPACA = [{"instruction": f"Format ticket {i} for item {i * 7}", "input": "" if i % 2 else f"urgent {i}",
           "output": f"#{i}/ITEM"} for i in range(30)]
GOLDEN = [{"prompt": f"ticket: golden thing {i} of {i * 3}", "completion": f"#{i}/GOLDEN"} for i in range(8)]
SHAREGPT = [{"conversations": [{"from": "human", "value": f"hello {i}"}, {"from": "bot", "value": f"hi {i}"}]}
            for i in range(5)]


def _spec(proj: Path, train: str, golden: str = "{path: data/golden.jsonl}") -> Path:
    return write_data_spec(proj, train=train, golden=golden)


@pytest.fixture()
def proj(tmp_path: Path) -> Path:
    root = write_fuzz_project(tmp_path / "proj")
    (root / "data" / "golden.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GOLDEN), encoding="utf-8")
    return root


def _errors(plan) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error"]


def _warnings(plan) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "warning"]


# ------------------------------------------------------------------------ Hub sources, planning and lock

def test_hub_source_is_planned_with_its_commit_and_unpinned_warning(mirror: Path, proj: Path) -> None:
    sha = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA, "test": ALPACA[:3]})
    plan = plan_spec_file(_spec(proj, "{hub: acme/tickets, format: alpaca}"))
    assert not _errors(plan), _errors(plan)
    [fact] = [d for d in plan.data if d.role == "train"]
    assert fact.path == "hub:acme/tickets" and fact.rows == 30 and fact.format == "prompt_completion"
    assert fact.source == {"kind": "hub", "hub": "acme/tickets", "revision": sha, "requested_revision": None,
                           "format": "alpaca"}
    assert [w for w in _warnings(plan) if w.startswith("DATA-HUB-UNPINNED")] == [
        f"DATA-HUB-UNPINNED: train source hub:acme/tickets is not pinned: revision 'main' resolved to {sha}"]
    # A Hub source is no file for the runner to hash: the guard checks its commit and rows instead.
    assert plan.stage("firewall").inputs == {"golden": "data/golden.jsonl"}
    assert plan.stage("firewall").config["training"][0]["source"]["revision"] == sha
    pinned = plan_spec_file(_spec(proj, f"{{hub: acme/tickets, revision: {sha}, split: 'train[:10]'}}"))
    assert not _errors(pinned) and not [w for w in _warnings(pinned) if "UNPINNED" in w]
    assert [d.rows for d in pinned.data if d.role == "train"] == [10]


def test_hub_source_errors_are_located_plan_findings(mirror: Path, proj: Path) -> None:
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    cases = {
        "{hub: acme/tickets, split: validation}": "Unknown split \"validation\"",
        "{hub: acme/tickets, revision: v9.9}": "revision 'v9.9' cannot be resolved",
        "{hub: acme/missing}": "acme/missing is not in the Hub mirror",
        "{hub: acme/tickets, columns: {prompt: instrution, completion: output}}":
            "unknown column `instrution` (columns.prompt); the dataset has columns: instruction, input, output "
            "— did you mean `instruction`?",
    }
    for train, expected in cases.items():
        errors = _errors(plan_spec_file(_spec(proj, train)))
        assert any(e.startswith("DATA-UNREADABLE: hub:acme/") and expected in e for e in errors), (train, errors)


def test_golden_that_is_the_training_source_is_a_plan_error(mirror: Path, proj: Path) -> None:
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    plan = plan_spec_file(_spec(proj, "{hub: acme/tickets}", golden="{hub: acme/tickets, split: train}"))
    assert any(e.startswith("DATA-GOLDEN-IS-TRAINING") for e in _errors(plan)), _errors(plan)
    other_split = plan_spec_file(_spec(proj, "{hub: acme/tickets, split: 'train[:20]'}",
                                       golden="{hub: acme/tickets, split: 'train[20:]'}"))
    assert not any(e.startswith("DATA-GOLDEN-IS-TRAINING") for e in _errors(other_split))


def _firewall(spec: Path, build: Path) -> subprocess.CompletedProcess:
    plan = plan_spec_file(spec)
    assert plan.ok, _errors(plan)
    compile_plan(plan, spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled"}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)


def _guard(build: Path, stage: str = "sft") -> subprocess.CompletedProcess:
    """The pre-flight of a later stage (its own CONFIG, the real guard), as the stage script runs it."""
    [script] = sorted((build / "stages").glob(f"*_{stage}.py"))
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('s', sys.argv[1]); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "from specc.runtime import common, guard; common.enter_build_dir(sys.argv[1]); "
            "guard.verify_inputs(m.CONFIG); print('GUARD-OK')")
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled"}
    return subprocess.run([sys.executable, "-c", code, str(script)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_firewall_reads_hub_rows_records_them_and_later_stages_refuse_changes(mirror: Path, proj: Path) -> None:
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    spec = _spec(proj, "{hub: acme/tickets, format: alpaca}")
    build = proj / "build"
    proc = _firewall(spec, build)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((build / "reports" / "firewall.json").read_text())
    assert report["passed"] is True and report["files"][0]["rows"] == 30
    record = json.loads((build / "reports" / "data-lock.json").read_text())["hub:acme/tickets"]
    assert record["rows"] == 30 and len(record["fingerprint"]) == 64
    assert "GUARD-OK" in _guard(build).stdout
    # The branch moves (a new commit): the locked commit no longer is what `main` resolves to.
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA[:20]})
    moved = _guard(build)
    assert moved.returncode == 3 and "moved since the plan was made" in moved.stderr, moved.stderr[-2000:]


def test_rows_that_differ_from_the_firewalls_are_refused(mirror: Path, proj: Path) -> None:
    sha = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    spec = _spec(proj, f"{{hub: acme/tickets, revision: {sha}, format: alpaca}}")
    build = proj / "build"
    assert _firewall(spec, build).returncode == 0
    lock = build / "reports" / "data-lock.json"
    records = json.loads(lock.read_text())
    records["hub:acme/tickets"]["fingerprint"] = "0" * 64  # what the firewall read is not what is served now
    lock.write_text(json.dumps(records))
    proc = _guard(build)
    assert proc.returncode == 3 and "differ from the rows the firewall read" in proc.stderr, proc.stderr[-2000:]


def test_firewall_catches_golden_rows_in_a_hub_dataset(mirror: Path, proj: Path) -> None:
    leaked = ALPACA + [{"instruction": GOLDEN[2]["prompt"], "input": "", "output": GOLDEN[2]["completion"]}]
    make_hub_repo(mirror, "acme/tickets", {"train": leaked})
    proc = _firewall(_spec(proj, "{hub: acme/tickets}"), proj / "build")
    assert proc.returncode == 3, proc.stderr[-2000:]
    report = json.loads((proj / "build" / "reports" / "firewall.json").read_text())
    [hit, *_] = report["contaminated"][0]["hits"]
    assert report["passed"] is False and (hit["file"], hit["line"]) == ("hub:acme/tickets", 31)


# ------------------------------------------------------------------------ local kinds and formats

def test_every_local_kind_reads_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets

    rows = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(4)]
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "a.csv").write_text("prompt,completion\n" + "".join(f"p{i},c{i}\n" for i in range(4)))
    write_parquet(tmp_path / "a.parquet", rows)
    write_parquet(tmp_path / "folder" / "part-0.parquet", rows)
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    for name, kind in (("a.json", "json"), ("a.csv", "csv"), ("a.parquet", "parquet"), ("folder", "directory"),
                       ("saved", "saved")):
        source = Source.from_entry({"path": str(tmp_path / name), "spec_path": name})
        assert source.kind == kind
        assert [(line, row) for _n, line, row in iter_source_rows(source)] == list(enumerate(rows, 1)), name


def test_sharegpt_roles_and_column_renames_map_to_canonical_rows(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SHAREGPT), encoding="utf-8")
    [first, *_] = [row for *_x, row in iter_source_rows(Source(name="chat.jsonl", kind="jsonl", path=str(path)))]
    assert first == {"messages": [{"role": "user", "content": "hello 0"}, {"role": "assistant", "content": "hi 0"}]}
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"dialog": [{"from": "customer", "value": "q"}, {"from": "agent", "value": "a"}]}) + "\n")
    src = Source(name="odd.jsonl", kind="jsonl", path=str(odd), format="sharegpt", columns={"conversations": "dialog"})
    with pytest.raises(DataError, match=r"odd.jsonl:1: conversations\[1\]: unknown speaker `customer`"):
        list(iter_source_rows(src))
    mapped = Source(**{**src.__dict__, "roles": {"customer": "user", "agent": "assistant"}})
    assert [r for *_x, r in iter_source_rows(mapped)] == [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]


def test_check_names_the_unknown_column_with_the_datasets_columns(proj: Path) -> None:
    (proj / "data" / "qa.csv").write_text("question,answer\nwhat is one,1\nwhat is two,2\n", encoding="utf-8")
    spec = _spec(proj, "{path: data/qa.csv, columns: {prompt: question, completion: answr}}")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code != 0
    assert "unknown column `answr` (columns.completion); the dataset has columns: question, answer" in result.output
    assert "did you mean `answer`?" in result.output and "Traceback" not in result.output
    spec.write_text(spec.read_text().replace("answr", "answer"))
    ok = CliRunner().invoke(cli, ["check", str(spec)])
    assert ok.exit_code == 0, ok.output


def test_bad_files_are_located_errors(tmp_path: Path) -> None:
    gz = tmp_path / "train.jsonl"
    gz.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    with pytest.raises(DataError, match=r"train.jsonl:1: .*gzip"):
        list(iter_source_rows(Source(name="train.jsonl", kind="jsonl", path=str(gz))))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("prompt,completion\na,b\nc,d,e\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"^ragged.csv:3: a ragged row: 3 fields where the header has 2"):
        list(iter_source_rows(Source(name="ragged.csv", kind="csv", path=str(ragged))))


def test_plan_text_and_diff_show_the_hub_commit(mirror: Path, proj: Path) -> None:
    from specc.plan.diff import diff_plans, render_diff
    from specc.plan.render import render_text

    first = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    spec = _spec(proj, "{hub: acme/tickets}")
    old = plan_spec_file(spec)
    assert f"train: hub:acme/tickets (prompt_completion) 30 rows, commit {first[:12]}" in render_text(old)
    second = make_hub_repo(mirror, "acme/tickets", {"train": ALPACA[:25]})
    text = render_diff(diff_plans(old, plan_spec_file(spec)))
    assert second in text and "25" in text, text


def test_check_reads_a_hub_source_and_says_which_extra_when_datasets_is_missing(mirror: Path, proj: Path) -> None:
    leaked = ALPACA + [{"instruction": GOLDEN[1]["prompt"], "input": "", "output": GOLDEN[1]["completion"]}]
    make_hub_repo(mirror, "acme/tickets", {"train": leaked})
    spec = _spec(proj, "{hub: acme/tickets, format: alpaca}")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 3 and "hub:acme/tickets" in result.output, result.output
    # Without the data stack (datasets cannot be imported), the same command names the extra to install.
    code = ("import sys; sys.modules['datasets'] = None; from specc.cli.main import main; "
            "sys.exit(main(['check', sys.argv[1]]))")
    proc = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert proc.returncode != 0 and "pip install 'specc[train]'" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_sharegpt_training_data_keeps_assistant_only_loss(mirror: Path, proj: Path) -> None:
    (proj / "data" / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in SHAREGPT * 30), encoding="utf-8")
    plan = plan_spec_file(_spec(proj, "{path: data/chat.jsonl, format: sharegpt}"))
    assert not _errors(plan), _errors(plan)
    assert [d.format for d in plan.data if d.role == "train"] == ["messages"]
    assert plan.hyperparameters["assistant_only_loss"] is True



def test_a_changed_hub_layout_folder_is_read_as_it_is_now(mirror: Path, tmp_path: Path) -> None:
    """Regression: datasets served the rows it had cached for an earlier folder of the same name (its cache key
    for a card-configured folder ignores the files), so the firewall could scan other rows than the trainer's."""
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    source = Source(name="hub:acme/tickets", kind="hub", hub="acme/tickets")
    assert len(list(iter_source_rows(source))) == 30
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA[:25]})  # the same repository, a new commit
    assert len(list(iter_source_rows(source))) == 25
    other = tmp_path / "other"
    make_hub_repo(other, "acme/tickets", {"train": ALPACA + ALPACA[:1]})
    local = Source(name="tickets", kind="directory", path=str(other / "acme" / "tickets"))
    assert len(list(iter_source_rows(local))) == 31


def test_check_does_not_count_the_current_directory_as_a_hub_sources_bytes(mirror: Path, proj: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a Hub input reached the firewall with the path ``Path("")`` (the current directory), and the
    report summed the size of every file under it as the source's bytes."""
    from specc.contract.check import run_check
    from specc.spec.loader import load_spec

    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    (proj / "big.bin").write_bytes(b"\0" * 100_000)
    monkeypatch.chdir(proj)
    result = run_check(load_spec(_spec(proj, "{hub: acme/tickets}")))
    assert [(f.name, f.bytes) for f in result.report.files] == [("hub:acme/tickets", 0)]
