"""Distillation end to end on tiny models: an open teacher (the tiny base) and a smaller student.

Sequence level: the emitted ``generate`` script has the teacher answer the prompts (batched, left padded,
resumable), then the emitted student ``sft`` stage trains on that file. Logit level: the emitted
``distill_logit`` script trains the student (sharing the teacher's tokenizer) with TRL's
DistillationTrainer. Plus the run-time defence: an emitted script whose teacher was edited to a
closed-API model refuses to start (exit 3).
"""

from __future__ import annotations

import json
import re

import pytest

import conftest as kit

SPEC = """
specc: 1
name: distill-{kind}
goal: {{behaviours: [latency, serving_cost]}}
evidence: {{prompting: {{score: 0.1}}}}
constraints:
  hardware: {{gpus: 0, cpu_memory_gb: 24}}
  serving: {{max_latency_ms: 50, current_latency_ms: 400, too_costly: true}}
base_model: {{path: {student}, licence: apache-2.0}}
teacher: {{path: {teacher}, licence: apache-2.0}}
data:
  prompts: {{path: {prompts}}}
  golden: {{path: {golden}}}
  general_suites:
    - {{name: arithmetic, kind: exact_match, path: {suite}}}
method: {{method: distill, distillation: {kind}, max_seq_length: 96, max_steps: 2, micro_batch_size: 2,
          gradient_accumulation: 1}}
eval: {{metric: exact_match, bar: 0.3}}
tracking: {{mode: disabled}}
"""


def _workspace(root, kind):
    root.mkdir(parents=True, exist_ok=True)
    teacher = kit.link_model(root, "teacher", kit.tiny_model_dir())
    student = kit.link_model(root, "student", kit.small_student(root / "_student", kit.tiny_model_dir()))
    data = kit.write_data(root, general_prompts=True)
    spec = kit.write_spec_text(root, SPEC.format(kind=kind, teacher=teacher, student=student, **data))
    plan, build = kit.compile_spec_to(spec, root / "build")
    return plan, build


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return _workspace(tmp_path_factory.mktemp("seq"), "sequence")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.train
def test_sequence_generate_is_batched_and_resumable(sequence):
    plan, build = sequence
    assert [s.kind for s in plan.stages][2:4] == ["generate", "sft"]
    kit.pass_firewall(build, plan, build.parent)
    out = build / plan.stage("generate").outputs["data"]
    first = kit.run_plan_stage(build, plan, "generate", "--max-new-tokens", "16", "--max-steps", "2")
    rows = _rows(out)
    assert len(rows) == 2 * plan.stage("generate").config["batch_size"]
    assert all(isinstance(r["prompt"], str) and isinstance(r["completion"], str) for r in rows)
    assert "@@specc" in first.stdout
    # A rerun skips what is answered and continues; a torn last line (a crash mid-write) is cut off.
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"prompt": "torn')
    again = kit.run_plan_stage(build, plan, "generate", "--max-new-tokens", "16", "--max-steps", "1")
    assert re.search(rf"{len(rows)} already answered", again.stderr)
    more = _rows(out)
    assert more[: len(rows)] == rows and len(more) == len(rows) + plan.stage("generate").config["batch_size"]
    assert len({r["prompt"] for r in more}) == len(more)


@pytest.mark.train
def test_sequence_student_sft_consumes_the_teacher_file(sequence):
    plan, build = sequence
    out = build / plan.stage("generate").outputs["data"]
    if not out.is_file():
        kit.pass_firewall(build, plan, build.parent)
        kit.run_plan_stage(build, plan, "generate", "--max-new-tokens", "16", "--max-steps", "2")
    kit.run_plan_stage(build, plan, "sft", "--max-steps", "2")
    adapter = build / plan.stage("sft").outputs["adapter"]
    assert (adapter / "adapter_model.safetensors").is_file()
    assert plan.stage("sft").inputs["data"] == plan.stage("generate").outputs["data"]


@pytest.mark.train
def test_logit_distillation_trains_the_student(tmp_path):
    plan, build = _workspace(tmp_path / "logit", "logit")
    assert "distill_logit" in [s.kind for s in plan.stages]
    kit.pass_firewall(build, plan, build.parent)
    proc = kit.run_plan_stage(build, plan, "distill_logit")
    events = [json.loads(line[8:]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]
    losses = [e["loss"] for e in events if "loss" in e]
    assert losses and all(x > 0 for x in losses)
    assert any(e.get("grad_norm", 0) > 0 for e in events)
    adapter = build / plan.stage("distill_logit").outputs["adapter"]
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (build / "artifacts/distill_logit/specc_done.json").is_file()
    kit.run_plan_stage(build, plan, "merge")  # the next stage loads the student's adapter
    assert (build / plan.stage("merge").outputs["model"] / "config.json").is_file()


def _edit_teacher(script, key, new_ref):
    text = script.read_text()
    # CONFIG is laid out one key per line, keys sorted: the model's 'ref' follows its 'path'
    edited = re.sub(r"('" + key + r"': \{[^{}]*?'ref': )'[^']*'", lambda m: m.group(1) + repr(new_ref), text,
                    count=1)
    assert edited != text
    script.write_text(edited)


@pytest.mark.parametrize("ref", ["gpt-4o", "anthropic/claude-3-5-sonnet", "https://api.example.com/v1"])
def test_generate_refuses_an_api_teacher_edited_into_the_script(sequence, ref, tmp_path):
    plan, build = sequence
    script = build / plan.stage("generate").script
    copy = build / "stages" / f"_edited_{abs(hash(ref))}.py"
    copy.write_text(script.read_text())
    try:
        _edit_teacher(copy, "model", ref)
        proc = kit.subprocess.run([kit.PYTHON, str(copy.relative_to(build))], cwd=build, env=kit.stage_test_env(),
                                  capture_output=True, text=True, timeout=120)
        assert proc.returncode == 3, proc.stderr
        assert "REFUSED" in proc.stderr and "teacher" in proc.stderr
    finally:
        copy.unlink()


def test_distill_scripts_help_without_the_training_stack(sequence, tmp_path):
    plan, build = sequence
    logit_plan, logit_build = _workspace(tmp_path / "logit-help", "logit")
    for b, p, sid in ((build, plan, "generate"), (logit_build, logit_plan, "distill_logit")):
        script = p.stage(sid).script
        code = ("import runpy, sys; sys.argv = [%r, '--help']\n"
                "try:\n    runpy.run_path(%r, run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0\n"
                "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'bitsandbytes') if m in sys.modules]\n"
                "assert not heavy, heavy\n") % (script, script)
        proc = kit.subprocess.run([kit.PYTHON, "-c", code], cwd=b, env=kit.stage_test_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "usage:" in proc.stdout
