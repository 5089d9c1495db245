"""The personal-data scan (specc/contract/pii.py): precision and recall on planted and clean rows, masked reports,
and the three places that run it — `specc plan`, `specc check` and the emitted firewall stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_firewall_stage
from click.testing import CliRunner

from specc.cli.main import main as cli
from specc.contract.pii import KINDS, find_pii, iban_ok, luhn_ok, mask, scan_file

# Planted: (kind, text). Several shapes per kind, as people write them in tickets and chats.
PLANTED = [
    ("email", "Please write to jane.doe@acme-mail.io before Friday."),
    ("email", "cc: Ops.Team+alerts@corp.example-bank.co.uk"),
    ("email", "<b>mail</b>: x.y_z@mail.ru"),
    ("email", "Contact: priya.k@uni-hamburg.de, thanks"),
    ("phone", "Call me on +44 20 7946 0958 tomorrow."),
    ("phone", "US office (415) 555-0132 after 9."),
    ("phone", "mobile 415-555-0199"),
    ("phone", "tel. +1 (212) 555-0147"),
    ("phone", "Paris: +33 1 23 45 67 89"),
    ("phone", "ring 020 7946 0018 please"),
    ("card", "Charge 4111 1111 1111 1111 for the order."),
    ("card", "card no. 5500-0000-0000-0004"),
    ("card", "amex 378282246310005 exp 12/27"),
    ("card", "use 6011111111111117 again"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 00 please"),
    ("iban", "pay to GB82WEST12345698765432"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606 is the account"),
    ("api_key", "OPENAI_API_KEY=sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4"),
    ("api_key", "aws key AKIAIOSFODNN7EXAMPLE leaked"),
    ("api_key", "token ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    ("api_key", "hf token hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"),
    ("api_key", "-----BEGIN RSA PRIVATE KEY-----"),
]

# Clean: text full of numbers, at-signs and codes that are not personal data.
CLEAN = [
    "The meeting is on 2024-01-15 at 12:30, room 4.12.",
    "Upgrade from version 1.2.3.4 to 10.0.19045.",
    "ISBN 978-3-16-148410-0 and ISSN 0317-8471.",
    "Order 1234-5678-9012 shipped; tracking 1Z999AA10123456784.",
    "2+3=5, 12*12=144, 3.14159265358979 is pi.",
    "Server at 192.168.100.200:8080, build 20240115123045.",
    "Write to user@example.com or admin@test.invalid (placeholders).",
    "Invoice total: $1,234,567.89 (EUR 1.234.567,89).",
    "The 16-digit id 1234567812345678 fails the Luhn check.",
    "uuid 123e4567-e89b-12d3-a456-426614174000 and sha 9f86d081884c7d659a2feaa0c55ad015",
    "Decorators like @property and @staticmethod, or @mentions like @alice.",
    "Call count 4155550132 was logged (no separators: an id, not a phone).",
    "DE00 1234 5678 9012 3456 78 is not a valid IBAN (checksum).",
    "sk- prefixes alone (sk-short) are not keys; neither is the word 'skills'.",
    "Year ranges 1990-2000-2010 and scores 10 20 30 40 50.",
    "Coordinates 48.8584, 2.2945; elevation 330 m.",
]


def test_planted_personal_data_is_found_and_clean_text_is_not():
    """Recall: every planted item is found with its kind. Precision: nothing is found in the clean rows."""
    found = 0
    for kind, text in PLANTED:
        kinds = [k for k, _, _ in find_pii(text)]
        assert kinds == [kind], (text, kinds)
        found += 1
    assert found / len(PLANTED) == 1.0
    false_positives = [(text, find_pii(text)) for text in CLEAN if find_pii(text)]
    assert false_positives == []
    assert {k for k, _ in PLANTED} == set(KINDS)


def test_checksums_decide_cards_and_ibans():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert find_pii("4111 1111 1111 1112") == []
    assert find_pii("GB82WEST12345698765433") == []


def test_masks_give_nothing_away():
    for kind, text in PLANTED:
        [(k, start, end)] = find_pii(text)
        value = text[start:end]
        masked = mask(k, value)
        assert value not in masked
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) > 4:
            assert digits not in masked.replace(" ", "")
    assert mask("email", "jane.doe@acme-mail.io") == "j***@***.io"
    assert mask("card", "4111 1111 1111 1111") == "card ending 1111"
    assert mask("api_key", "AKIAIOSFODNN7EXAMPLE") == "AKIA… (20 characters)"


def _rows_with(plants: dict[int, str], n: int = 60) -> list[dict]:
    rows = [{"messages": [{"role": "user", "content": f"question {i} about order {1000 + i}"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(n)]
    for index, text in plants.items():
        rows[index]["messages"][1]["content"] = text
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_file_scan_counts_every_hit_and_names_the_first_location(tmp_path):
    plants = {4: PLANTED[0][1], 9: PLANTED[10][1], 30: "two: a.b@acme-mail.io and c.d@acme-mail.io", 51: PLANTED[4][1]}
    report = scan_file(_write(tmp_path / "t.jsonl", _rows_with(plants)), name="data/t.jsonl")
    assert report.rows == 60 and report.rows_flagged == 4
    assert report.counts == {"email": 3, "card": 1, "phone": 1}
    assert report.first["email"].location() == "data/t.jsonl:5"
    assert report.first["email"].field == "messages[1].content"
    assert report.first["card"].location() == "data/t.jsonl:10"
    text = json.dumps(report.to_dict())
    for _, planted in (PLANTED[0], PLANTED[10], PLANTED[4]):
        assert planted not in text
    assert "jane.doe" not in text and "4111 1111" not in text and "7946" not in text


def test_clean_file_has_no_hits(tmp_path):
    report = scan_file(_write(tmp_path / "c.jsonl", _rows_with({i: t for i, t in enumerate(CLEAN)})))
    assert report.total == 0 and report.rows_flagged == 0


# ------------------------------------------------------------------ the planner, `specc check` and the stage

SPEC = """\
specc: 1
name: pii
goal: {behaviours: [format], consistency_required: true}
evidence: {prompting: {score: 0.1}}
constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}
base_model: {path: model, licence: apache-2.0}
data:
  train: {path: data/train.jsonl}
  golden: {path: data/golden.jsonl}
  personal_data: {action: %(action)s%(reason)s}
eval: {bar: 0.5}
tracking: {mode: disabled}
"""


def _project(tmp_path: Path, action: str, plants: dict[int, str]) -> Path:
    from strategies import write_fuzz_project

    proj = write_fuzz_project(tmp_path / "proj")
    _write(proj / "data" / "train.jsonl", _rows_with(plants))
    _write(proj / "data" / "golden.jsonl", [{"prompt": f"golden {i}", "completion": f"g{i}"} for i in range(8)])
    reason = ", reason: synthetic test contacts" if action == "allow" else ""
    (proj / "spec.yaml").write_text(SPEC % {"action": action, "reason": reason}, encoding="utf-8")
    return proj / "spec.yaml"


def test_plan_reports_counts_and_first_location_without_the_data(tmp_path):
    from specc.plan.planner import plan_spec_file

    spec = _project(tmp_path, "warn", {4: PLANTED[0][1], 9: PLANTED[10][1]})
    [finding] = [f for f in plan_spec_file(spec).findings if f.rule == "DATA-PERSONAL-DATA"]
    assert finding.level == "warning"
    assert finding.message == ("train file 'data/train.jsonl' holds personal data in 2 of 60 rows: "
                               "1 email address (first data/train.jsonl:5, messages[1].content), "
                               "1 payment card number (first data/train.jsonl:10, messages[1].content)")
    assert "jane.doe" not in finding.message + finding.hint


@pytest.mark.parametrize("action,level", [("error", "error"), ("allow", "info")])
def test_the_policy_sets_the_level(tmp_path, action, level):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_project(tmp_path, action, {4: PLANTED[18][1]}))
    [finding] = [f for f in plan.findings if f.rule == "DATA-PERSONAL-DATA"]
    assert finding.level == level
    assert plan.ok is (action != "error")
    if action == "allow":
        assert "synthetic test contacts" in finding.message


def test_allow_without_a_reason_is_a_located_spec_error(tmp_path):
    spec = _project(tmp_path, "allow", {})
    spec.write_text(spec.read_text().replace(", reason: synthetic test contacts", ""), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(spec)])
    assert result.exit_code == 1
    assert "personal_data" in result.output and "reason" in result.output


def test_check_lists_masked_hits_and_refuses_under_error(tmp_path):
    spec = _project(tmp_path, "error", {4: PLANTED[0][1], 20: PLANTED[14][1]})
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 3, result.output
    assert "personal data: FAILED" in result.output
    assert "train.jsonl:5: messages[1].content: email j***@***.io" in result.output
    assert "jane.doe" not in result.output and "3704 0044" not in result.output
    as_json = json.loads(CliRunner().invoke(cli, ["check", str(spec), "--format", "json"]).output)
    assert as_json["passed"] is False
    assert as_json["personal_data"]["files"][0]["counts"] == {"email": 1, "iban": 1}


def test_check_warns_but_passes_under_warn(tmp_path):
    spec = _project(tmp_path, "warn", {4: PLANTED[0][1]})
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert "personal data: WARNING" in result.output
    gh = CliRunner().invoke(cli, ["check", str(spec), "--format", "github"]).output
    assert "::warning file=" in gh and "title=specc personal data" in gh




def test_firewall_stage_reports_personal_data_and_proceeds_under_warn(tmp_path):
    proc = run_firewall_stage(_project(tmp_path, "warn", {7: PLANTED[5][1]}))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((proc.build / "reports" / "personal_data.json").read_text())
    assert report["passed"] is True and report["total"] == 1
    assert report["files"][0]["first"]["phone"]["line"] == 8
    assert "(415) 555-0132" not in proc.stderr and "phone ending 32" in proc.stderr


def test_firewall_stage_refuses_personal_data_under_error_with_exit_3(tmp_path):
    spec = _project(tmp_path, "warn", {7: PLANTED[5][1]})
    spec.write_text(spec.read_text().replace("action: warn", "action: error"), encoding="utf-8")
    # The plan refuses first; compile the stage anyway from the warn plan to prove the stage enforces it too.
    from specc.build.emitter import compile_plan
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    assert not plan.ok and any(f.rule == "DATA-PERSONAL-DATA" for f in plan.findings)
    lenient = plan.model_copy(update={"findings": [f for f in plan.findings if f.level != "error"]})
    from specc.plan.stages import build_stages

    lenient = lenient.model_copy(update={"stages": build_stages(lenient)})
    build = spec.parent / "build"
    compile_plan(lenient, spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SPECC_WANDB_MODE": "disabled"}, cwd=spec.parent)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "personal data" in proc.stderr
    assert not list(build.rglob("specc_done.json"))


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_line_numbers_stay_right_across_blocks_and_overlong_lines(tmp_path, monkeypatch, block):
    """The scan reads blocks of whole lines; hits keep their editor line numbers whatever the block size, and a
    line over the JSONL limit is skipped (the row checks refuse it) without shifting the numbers after it."""
    from specc.contract import pii

    monkeypatch.setattr(pii, "_BLOCK_BYTES", block)
    monkeypatch.setattr(pii, "MAX_LINE_BYTES", 200)
    rows = _rows_with({3: PLANTED[0][1], 17: PLANTED[10][1], 40: PLANTED[15][1]}, n=45)
    lines = [json.dumps(r) for r in rows]
    lines[10] = json.dumps({"text": "x" * 500 + " a.b@acme-mail.io"})  # overlong: skipped, still a line
    lines.insert(20, "   ")  # a blank line counts as a line, not a row
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = scan_file(path, name="b.jsonl")
    assert [h.line for h in report.listed] == [4, 18, 42]
    assert report.rows == 44  # 46 lines: 45 rows plus a blank line, less the overlong row


@pytest.mark.parametrize("every", [1, 7, 400])
def test_block_scan_finds_every_line_a_line_by_line_scan_finds(tmp_path, every):
    """The byte scan picks the lines worth parsing from the whole block (one search per candidate line); it
    must report exactly what testing every line would: same counts, same lines, first and last line included,
    also when so many lines are candidates that it tests them all, and without a final newline."""
    from specc.contract.pii import _fields, kinds_possible

    texts = [PLANTED[i % len(PLANTED)][1] if i % every == 0 or i == 1199 else f"clean row {i} about nothing"
             for i in range(1200)]
    lines = [json.dumps({"prompt": "q " + str(i), "completion": text}) for i, text in enumerate(texts)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline after the last row
    expected = [(n, kind) for n, raw in enumerate(lines, 1) for _path, value in _fields(json.loads(raw))
                for kind, _s, _e in find_pii(value, kinds_possible(raw.encode()))]
    report = scan_file(path, name="many.jsonl", listed=10_000)
    assert [(h.line, h.kind) for h in report.listed] == expected
    assert report.rows == 1200 and expected[-1][0] == 1200


def test_plan_scans_personal_data_in_the_pass_that_hashes_the_file(tmp_path, monkeypatch):
    """The planner reads each local training file once: its personal-data scan rides on the pass that hashes and
    counts the file (one chunk stream), and reports exactly what a scan of its own reports — also for a file of
    several blocks with hits on both sides of a block boundary."""
    from specc.contract import pii
    from specc.data import jsonl
    from specc.plan.planner import plan_spec_file

    spec = _project(tmp_path, "warn", {})
    rows = _rows_with({3: PLANTED[0][1], 59: PLANTED[10][1]}, n=60) * 40  # ~2,400 rows
    _write(spec.parent / "data" / "train.jsonl", rows)
    monkeypatch.setattr(pii, "_BLOCK_BYTES", 4096)  # the separate scan, in small blocks
    alone = pii.scan_file(spec.parent / "data" / "train.jsonl", name="data/train.jsonl")
    monkeypatch.setattr(jsonl, "_CHUNK", 4096)  # the hashing pass, in chunks of the same size: many blocks
    expected = (f"train file 'data/train.jsonl' holds personal data in {alone.rows_flagged} of {alone.rows} rows: "
                f"{pii.describe_counts(alone)}")

    def second_read(*args, **kwargs):
        raise AssertionError("the planner read the training file a second time for personal data")

    monkeypatch.setattr(pii, "scan_file", second_read)
    [finding] = [f for f in plan_spec_file(spec).findings if f.rule == "DATA-PERSONAL-DATA"]
    assert finding.message == expected
    assert alone.rows == 2400 and alone.total == 80
