"""``specc check``: the golden-set firewall as a standalone command (CI on every pull request).

Specs and data are written into tmp_path; the command runs through click's test runner from inside the
project directory (so output paths are relative), and once as a real subprocess to prove it is light.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.contract.check import check_inputs, display_path, firewall_settings
from specc.cli.main import main
from specc.spec.loader import load_spec

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "wandb", "accelerate")

# Golden questions long enough (>= 13 words) for the n-gram stage as well as exact field matching.
GOLDEN = [
    ("Which river flows through the old market town where the annual cheese festival is held every spring",
     "The Alder river"),
    ("How many bridges cross the canal between the northern lock and the southern harbour in the old city",
     "Seven bridges in total"),
    ("What colour are the doors of the lighthouse keeper cottage on the windy cliff above the fishing village",
     "Bright blue doors"),
    ("Who painted the large mural on the library wall facing the square where the weekly farmers market meets",
     "A local art collective"),
]
TOPICS = ["apples", "trains", "clouds", "maps", "boats", "lamps", "stones", "birds", "roads", "clocks"]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _chat(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _clean_questions() -> list[tuple[str, str]]:
    return [(f"Tell me one short fact about {t} number {i}", f"Fact {i} about {t}.")
            for i, t in enumerate(TOPICS)]


def _recased(text: str) -> str:
    """A golden text disguised: upper-cased, punctuation added, spacing changed."""
    return "  " + text.upper().replace(" ", " ,  ") + "?!"


SPEC = """\
specc: 1
name: check-test
goal:
  behaviours: [format]
base_model: {{id: Qwen/Qwen2.5-0.5B-Instruct, licence: apache-2.0}}
data:
{data}
eval:
  metric: exact_match
  bar: 0.5
{firewall}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A project directory with clean data (train, preference, prompts, golden); cwd is the project."""
    proj = tmp_path / "proj"
    data = proj / "data"
    clean = _clean_questions()
    _write_jsonl(data / "train.jsonl", [_chat(q, a) for q, a in clean])
    _write_jsonl(data / "preference.jsonl",
                 [{"prompt": q, "chosen": a, "rejected": a.lower()} for q, a in clean])
    _write_jsonl(data / "prompts.jsonl", [{"prompt": q} for q, _ in clean])
    _write_jsonl(data / "golden.jsonl", [_chat(q, a) for q, a in GOLDEN])
    monkeypatch.chdir(proj)

    def write_spec(roles=("train", "preference", "prompts", "golden"), firewall: str = "", formats=None,
                   name: str = "spec.yaml") -> Path:
        formats = formats or {}
        lines = []
        for role in roles:
            fmt = f", format: {formats[role]}" if role in formats else ""
            lines.append(f"  {role}: {{path: data/{role}.jsonl{fmt}}}")
        spec = proj / "specs" / name
        spec.parent.mkdir(exist_ok=True)
        # The spec lives in specs/ and names data relative to itself: ../data/...
        text = SPEC.format(data="\n".join(lines).replace("path: data/", "path: ../data/"),
                           firewall=f"  firewall: {firewall}" if firewall else "")
        spec.write_text(text, encoding="utf-8")
        return spec

    return proj, write_spec


def _run(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def _plant(path: Path, line: int, row: dict) -> None:
    """Insert ``row`` so that it becomes line ``line`` (1-based) of the JSONL file."""
    rows = path.read_text(encoding="utf-8").splitlines()
    rows.insert(line - 1, json.dumps(row))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------------


def test_clean_data_passes(project):
    proj, write_spec = project
    write_spec()
    result = _run("specs/spec.yaml")
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
    assert "0/4 rows contaminated" in result.output
    for name, role in (("train", "train"), ("preference", "preference"), ("prompts", "prompts")):
        assert f"data/{name}.jsonl [{role}]: 10 rows, 0 flagged, 0 hits" in result.output
    assert str(proj) not in result.output  # relative paths, resolved against the spec's directory


def test_golden_row_planted_in_train_fails_with_locations(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[2]
    _plant(proj / "data" / "train.jsonl", 4, _chat(_recased(q), a.lower() + "!!"))
    result = _run("specs/spec.yaml")
    assert result.exit_code == 3, result.output
    out = result.output
    assert "FAILED" in out
    assert "data/train.jsonl:4 messages[0].content" in out
    assert "golden data/golden.jsonl:3" in out
    assert "exact hit" in out and "ngram hit" in out and "coverage 100%" in out
    assert "1/4 rows contaminated (25.00%; allowed 0.00%)" in out
    assert "data/train.jsonl [train]: 11 rows, 1 flagged" in out
    assert "lighthouse keeper cottage" in out  # the snippet (normalised text)


def test_golden_answer_planted_in_preference_chosen_fails(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[0]
    # The golden *question* reappears, re-punctuated, as a preferred answer.
    _plant(proj / "data" / "preference.jsonl", 7, {"prompt": "Say something", "chosen": _recased(q),
                                                    "rejected": "no"})
    result = _run("specs/spec.yaml")
    assert result.exit_code == 3, result.output
    assert "data/preference.jsonl:7 chosen" in result.output
    assert "golden data/golden.jsonl:1" in result.output


def test_golden_row_planted_in_teacher_prompts_fails(project):
    proj, write_spec = project
    write_spec(roles=("prompts", "golden"))
    q, _ = GOLDEN[3]
    _plant(proj / "data" / "prompts.jsonl", 2, {"prompt": q.lower().replace(" ", ", ") + "."})
    result = _run("specs/spec.yaml")
    assert result.exit_code == 3, result.output
    assert "data/prompts.jsonl:2 prompt" in result.output
    assert "golden data/golden.jsonl:4" in result.output
    assert "[prompts]" in result.output


def test_threshold_above_the_contaminated_fraction_passes(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[1]
    _plant(proj / "data" / "train.jsonl", 1, _chat(q, a))  # 1 of 4 golden rows = 25%
    assert _run("specs/spec.yaml").exit_code == 3
    assert _run("specs/spec.yaml", "--threshold", "0.2").exit_code == 3
    passed = _run("specs/spec.yaml", "--threshold", "0.25")
    assert passed.exit_code == 0, passed.output
    assert "PASSED" in passed.output and "data/train.jsonl:1" in passed.output  # hits still shown
    # The spec's own threshold is used when the flag is absent.
    write_spec(firewall="{threshold: 0.5}")
    assert _run("specs/spec.yaml").exit_code == 0
    assert _run("specs/spec.yaml", "--threshold", "0").exit_code == 3


def test_near_duplicates_flag_overrides_the_spec(project):
    proj, write_spec = project
    write_spec(firewall="{ngram: 64, jaccard: 0.6}")  # long n-grams: only exact matching and near-duplicates hit
    q, a = GOLDEN[0]
    words = q.split()
    words[3] = "stream"  # one word changed: no exact match, still a near duplicate of the whole row
    _plant(proj / "data" / "train.jsonl", 3, _chat(" ".join(words), a))
    assert _run("specs/spec.yaml").exit_code == 0
    result = _run("specs/spec.yaml", "--near-duplicates", "--format", "json")
    assert result.exit_code == 3, result.output
    payload = json.loads(result.output)
    assert payload["settings"]["near_duplicates"] is True
    assert [h["stage"] for h in payload["hits"]] == ["near_duplicate"]
    write_spec(firewall="{ngram: 64, jaccard: 0.6, near_duplicates: true}")
    assert _run("specs/spec.yaml").exit_code == 3
    assert _run("specs/spec.yaml", "--no-near-duplicates").exit_code == 0


# ---------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------


def test_json_format(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[2]
    _plant(proj / "data" / "train.jsonl", 5, _chat(_recased(q), a))
    result = _run("specs/spec.yaml", "--format", "json")
    assert result.exit_code == 3
    payload = json.loads(result.output)
    assert payload["spec"] == "specs/spec.yaml"
    assert payload["passed"] is False
    assert payload["golden"] == {"file": "data/golden.jsonl", "rows": 4}
    assert payload["summary"]["contaminated_rows"] == 1
    assert [f["name"] for f in payload["files"]] == ["data/train.jsonl", "data/preference.jsonl",
                                                     "data/prompts.jsonl"]
    assert [f["role"] for f in payload["files"]] == ["train", "preference", "prompts"]
    hit = payload["hits"][0]
    assert (hit["file"], hit["line"], hit["field"], hit["golden_line"]) == (
        "data/train.jsonl", 5, "messages[0].content", 3)
    # Settings mapped from the spec exactly as the firewall stage maps them.
    assert payload["settings"]["ngram_n"] == 13 and payload["settings"]["ngram_floor"] == 8
    # Deterministic output.
    assert _run("specs/spec.yaml", "--format", "json").output == result.output
    # A clean run is JSON too.
    (proj / "data" / "train.jsonl").write_text(json.dumps(_chat("hello there", "hi")) + "\n")
    clean = _run("specs/spec.yaml", "--format", "json")
    assert clean.exit_code == 0 and json.loads(clean.output)["passed"] is True


def test_github_format_annotates_the_training_file(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[1]
    _plant(proj / "data" / "prompts.jsonl", 6, {"prompt": _recased(q)})
    result = _run("specs/spec.yaml", "--format", "github")
    assert result.exit_code == 3
    lines = result.output.splitlines()
    hits = [line for line in lines if line.startswith("::error file=data/prompts.jsonl,line=6,")]
    assert hits, result.output
    assert all("golden row data/golden.jsonl:2" in line for line in hits)
    assert "prompt matches" in hits[0]
    assert lines[-1].startswith("::error file=specs/spec.yaml,") and "firewall failed" in lines[-1]
    # Within the threshold the hits become warnings and the summary a notice.
    passed = _run("specs/spec.yaml", "--format", "github", "--threshold", "0.5")
    assert passed.exit_code == 0
    assert any(line.startswith("::warning file=data/prompts.jsonl,line=6,") for line in passed.output.splitlines())
    assert passed.output.splitlines()[-1].startswith("::notice ")


def test_paths_are_relative_to_the_current_directory(project, monkeypatch):
    proj, write_spec = project
    spec = write_spec()
    monkeypatch.chdir(proj / "specs")
    result = _run("spec.yaml", "--format", "json")
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["golden"]["file"] == "../data/golden.jsonl"
    # An absolute spec argument outside the current directory gives absolute paths (nothing else is right).
    elsewhere = proj.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    payload = json.loads(_run(str(spec), "--format", "json").output)
    assert payload["golden"]["file"] == str(proj / "data" / "golden.jsonl")
    assert display_path(proj / "data" / "x.jsonl", cwd=proj) == "data/x.jsonl"


# ---------------------------------------------------------------------------------------------------
# Bad specs and bad data
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
         b'{"messages": [}\n', "data/train.jsonl:2:15: error: malformed JSON"),
        (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n', "data/train.jsonl:1: error: not UTF-8"),
        (b"", "data/train.jsonl: error: empty file"),
        (b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n[1, 2]\n',
         "data/train.jsonl:2:1: error: row must be a JSON object"),
    ],
    ids=["malformed-json", "not-utf8", "empty", "not-an-object"],
)
def test_bad_data_exits_1_naming_file_and_line(project, content, expected):
    proj, write_spec = project
    write_spec()
    (proj / "data" / "train.jsonl").write_bytes(content)
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an uncaught DataError


def test_missing_or_misspelled_column_names_file_line(project):
    proj, write_spec = project
    write_spec()
    rows = [{"prompt": "a", "chosen": "b", "rejected": "c"}] * 3 + [{"prompt": "a", "chosen": "b", "rejectd": "c"}]
    _write_jsonl(proj / "data" / "preference.jsonl", rows)
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1
    assert "data/preference.jsonl:4: error: " in result.output
    assert "missing rejected" in result.output and "`rejectd` should be `rejected`" in result.output

    _write_jsonl(proj / "data" / "preference.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    _write_jsonl(proj / "data" / "prompts.jsonl", [{"prompt": "a"}, {"prompt": 5}])
    result = _run("specs/spec.yaml", "--format", "github")
    assert result.exit_code == 1
    assert result.output.startswith("::error file=data/prompts.jsonl,line=2,")
    assert "`prompt` must be a string, not int" in result.output

    _write_jsonl(proj / "data" / "prompts.jsonl", [{"prompt": "a"}])
    _write_jsonl(proj / "data" / "train.jsonl", [_chat("q", "a"), {"messages": []}])
    result = _run("specs/spec.yaml", "--format", "json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["passed"] is False
    assert (payload["error"]["file"], payload["error"]["line"]) == ("data/train.jsonl", 2)


def test_declared_format_and_role_are_checked(project):
    proj, write_spec = project
    write_spec(formats={"train": "prompt_completion"})  # the rows are messages
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1
    assert "data/train.jsonl:1: error: a prompt_completion row needs prompt, completion; missing" in result.output
    # A training file whose rows are preference pairs does not belong under data.train.
    write_spec()
    _write_jsonl(proj / "data" / "train.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1
    assert "data/train.jsonl:1: error: a train file must be messages or prompt_completion or text, not preference" in result.output
    # Unknown keys on the first row of an auto file.
    _write_jsonl(proj / "data" / "train.jsonl", [{"question": "a", "answer": "b"}])
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1 and "data/train.jsonl:1: error: row keys (answer, question) match no known format" in result.output


def test_bad_golden_rows_and_missing_files_exit_1(project):
    proj, write_spec = project
    write_spec()
    _write_jsonl(proj / "data" / "golden.jsonl", [_chat("q", "a"), {"mesages": []}])
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1 and "data/golden.jsonl:2:" in result.output
    (proj / "data" / "golden.jsonl").unlink()
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1 and "data/golden.jsonl: error: cannot open" in result.output


def test_invalid_spec_exits_1_with_located_errors(project):
    proj, write_spec = project
    spec = write_spec(firewall="{treshold: 0.1}")
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), 1) if "treshold" in text)
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1
    assert f"specs/spec.yaml:{line}:14: error: eval.firewall.treshold" in result.output
    assert "did you mean `threshold`" in result.output
    result = _run("specs/spec.yaml", "--format", "github")
    assert result.exit_code == 1 and result.output.startswith(f"::error file=specs/spec.yaml,line={line},")
    result = _run("specs/spec.yaml", "--format", "json")
    assert result.exit_code == 1 and json.loads(result.output)["errors"][0]["line"] == line
    spec.write_text(spec.read_text().replace("bar: 0.5", "bar: [oops"), encoding="utf-8")
    result = _run("specs/spec.yaml")
    assert result.exit_code == 1 and "specs/spec.yaml:" in result.output


def test_usage_errors_exit_2(project):
    proj, write_spec = project
    write_spec()
    assert _run("specs/spec.yaml", "--threshold", "1.5").exit_code == 2
    assert _run("specs/spec.yaml", "--format", "xml").exit_code == 2
    assert _run().exit_code == 2
    missing = _run("specs/nope.yaml")
    assert missing.exit_code == 2 and "file not found" in missing.output


def test_spec_without_golden_set_passes_with_a_note_but_still_validates_data(project):
    proj, write_spec = project
    write_spec(roles=("train", "prompts"))
    result = _run("specs/spec.yaml")
    assert result.exit_code == 0
    assert "no golden set" in result.output and "nothing to firewall" in result.output
    payload = json.loads(_run("specs/spec.yaml", "--format", "json").output)
    assert payload["passed"] is True and payload["skipped"] == "no golden set"
    assert payload["files"] == [{"name": "data/train.jsonl", "role": "train", "rows": 10},
                                {"name": "data/prompts.jsonl", "role": "prompts", "rows": 10}]
    assert _run("specs/spec.yaml", "--format", "github").output.startswith("::notice ")
    _write_jsonl(proj / "data" / "prompts.jsonl", [{"prompt": "a"}, {"promt": "b"}])
    bad = _run("specs/spec.yaml")
    assert bad.exit_code == 1 and "data/prompts.jsonl:2:" in bad.output


# ---------------------------------------------------------------------------------------------------
# Same inputs and settings as the emitted firewall stage; the shipped examples; lightness
# ---------------------------------------------------------------------------------------------------


def test_inputs_and_settings_match_the_firewall_stage(project):
    """The compiled firewall stage scans golden vs [train, preference, prompts] (in that order, roles as
    the spec's sections) with eval.firewall mapped by FirewallSettings.from_spec, as in templates/stages/firewall.py.j2."""
    proj, write_spec = project
    spec = write_spec(firewall="{ngram: 6, threshold: 0.1, near_duplicates: true, jaccard: 0.7}")
    loaded = load_spec(spec)
    golden, training = check_inputs(loaded, spec)
    assert golden is not None and golden.role == "golden" and golden.spec_path == "../data/golden.jsonl"
    assert [(t.role, t.spec_path) for t in training] == [
        ("train", "../data/train.jsonl"), ("preference", "../data/preference.jsonl"),
        ("prompts", "../data/prompts.jsonl")]
    assert all(t.path == proj / "data" / f"{t.role}.jsonl" for t in training)
    settings = firewall_settings(loaded.spec.eval.firewall)
    assert (settings.ngram_n, settings.ngram_floor, settings.threshold, settings.near_duplicates,
            settings.jaccard_threshold) == (6, 6, 0.1, True, 0.7)
    overridden = firewall_settings(loaded.spec.eval.firewall, threshold=0.0, near_duplicates=False)
    assert (overridden.threshold, overridden.near_duplicates) == (0.0, False)
    # The compiled firewall stage maps its settings with the same function, from the same section.
    template = (REPO / "templates" / "stages" / "firewall.py.j2").read_text(encoding="utf-8")
    assert 'FirewallSettings.from_spec(CONFIG["settings"])' in template


EXAMPLES_WITH_GOLDEN = sorted(
    p for p in (REPO / "specs").glob("*.yaml") if load_spec(p).spec.data.golden is not None
)


def test_there_are_examples_with_a_golden_set():
    assert len(EXAMPLES_WITH_GOLDEN) >= 3


@pytest.mark.parametrize("spec", EXAMPLES_WITH_GOLDEN, ids=lambda p: p.stem)
def test_example_specs_check_clean(spec: Path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = _run(str(spec.relative_to(REPO)))
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
    assert f"specs/{load_spec(spec).spec.data.golden.path}" in result.output  # the spec's own golden set


def test_check_loads_none_of_the_training_stack(project):
    proj, write_spec = project
    write_spec()
    q, a = GOLDEN[0]
    _plant(proj / "data" / "train.jsonl", 2, _chat(q, a))
    code = (
        "import sys\n"
        "from specc.cli.main import main\n"
        "try:\n"
        "    main(['check', 'specs/spec.yaml', '--near-duplicates', '--format', 'json'])\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "print('STATUS', status, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=proj, capture_output=True, text=True,
                          timeout=120, env=env)
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert "STATUS 3" in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["summary"]["contaminated_rows"] == 1
    # And the real entry point exits 3 too.
    proc = subprocess.run([sys.executable, "-m", "specc", "check", "specs/spec.yaml"], cwd=proj,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "data/train.jsonl:2 messages[0].content" in proc.stdout


def test_each_file_is_parsed_once_for_row_checks_and_the_scan(project, jsonl_opens):
    """Rows are checked as the firewall scan streams them (issue 11, performance): every data file is parsed
    once, not once to validate and again to scan; the verdict and the row counts are those of the full check."""
    proj, write_spec = project
    write_spec()
    _plant(proj / "data" / "train.jsonl", 4, _chat(GOLDEN[0][0], "x"))
    opened = jsonl_opens
    result = _run("specs/spec.yaml", "--format", "json")
    assert result.exit_code == 3, result.output
    assert sorted(opened) == ["golden.jsonl", "preference.jsonl", "prompts.jsonl", "train.jsonl"]
    files = {f["name"]: f["rows"] for f in json.loads(result.output)["files"]}
    assert files == {"data/train.jsonl": 11, "data/preference.jsonl": 10, "data/prompts.jsonl": 10}
