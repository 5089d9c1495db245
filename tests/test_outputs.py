"""What leaves a build (issue 12): the model card written from the plan and the eval results into the output
folders, and the opt-in Hub push stage after the eval gate (token from the environment only; a failed gate is a
refusal unless the plan forces it, with a warning; no token is exit 4 before any upload). The push runs the real
huggingface_hub code (create_repo + upload_folder) against a local server speaking the Hub's endpoints
(tests/fake_hub.py); what that server does not speak (LFS/Xet uploads) is said there."""

from __future__ import annotations

import json

import pytest

from specc.spec.errors import SpecInvalid
from specc.spec.loader import load_spec

PUSH = "outputs: {push_to_hub: true, hub_model_id: my-org/tiny-style}\n"
TOKEN = "hf_TestTokenNeverWritten1234567890"


def _plan(write_spec, **kw):
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_spec(**kw))


def _extra(outputs: str) -> str:
    return "tracking: {backend: wandb, mode: disabled}\n" + outputs


@pytest.mark.parametrize("outputs, needle", [
    ("outputs: {push_to_hub: true}\n", "push_to_hub needs hub_model_id"),
    ("outputs: {hub_model_id: a/b}\n", "push_to_hub is false"),
    ("outputs: {push_to_hub: true, hub_model_id: no-namespace}\n", "hub_model_id"),
    ("outputs: {push_to_hub: true, hub_model_id: a/b, hub_artifacts: [merged]}\n", "hub_artifacts"),
])
def test_bad_outputs_are_located_spec_errors(write_spec, outputs, needle):
    with pytest.raises(SpecInvalid) as info:
        load_spec(write_spec(extra=_extra(outputs)))
    errors = info.value.errors
    assert errors and errors[0].line > 1 and any(needle in str(e) for e in errors), [str(e) for e in errors]


def test_the_push_stage_follows_eval_with_the_plans_settings(write_spec):
    plan = _plan(write_spec, extra=_extra(PUSH))
    assert plan.ok, [f.message for f in plan.findings]
    assert [s.kind for s in plan.stages][-2:] == ["eval", "push"]
    push = plan.stage("push")
    assert push.needs == ["eval"] and push.launcher == "python"
    assert push.config["hub_model_id"] == "my-org/tiny-style" and push.config["private"] is True
    assert push.config["uploads"] == [{"artifact": "adapter", "folder": "artifacts/sft/adapter", "path_in_repo": ""}]
    assert push.inputs == {"adapter": "artifacts/sft/adapter"}  # the guard checks the pushed folder is current
    assert "OUTPUT-PUSH-AFTER-GATE" in {d.rule for d in plan.decisions}
    assert plan.outputs.push_to_hub and not plan.outputs.push_if_gate_fails
    assert plan.stage("eval").config["model_card"] == {"folders": [
        {"artifact": "adapter", "dir": "artifacts/sft/adapter"}, {"artifact": "model", "dir": "artifacts/merge/model"}]}
    # each folder's producer writes its card first ("not evaluated yet"); the eval stage fills in the verdict
    assert plan.stage("sft").config["model_card"] == {"folders": [{"artifact": "adapter", "dir": "artifacts/sft/adapter"}]}
    assert plan.stage("merge").config["model_card"] == {"folders": [{"artifact": "model", "dir": "artifacts/merge/model"}]}


def test_both_artifacts_and_a_forced_push_are_visible_in_the_plan(write_spec):
    plan = _plan(write_spec, extra=_extra("outputs: {push_to_hub: true, hub_model_id: my-org/x, hub_private_repo: "
                                          "false, hub_artifacts: [adapter, model], push_if_gate_fails: true}\n"))
    uploads = plan.stage("push").config["uploads"]
    assert uploads == [{"artifact": "model", "folder": "artifacts/merge/model", "path_in_repo": ""},
                       {"artifact": "adapter", "folder": "artifacts/sft/adapter", "path_in_repo": "adapter"}]
    assert plan.stage("push").config["private"] is False
    assert [f.rule for f in plan.findings if f.level == "warning" and f.rule.startswith("OUTPUT")] == ["OUTPUT-PUSH-FORCED"]


def test_an_adapter_push_of_a_full_finetune_is_a_plan_error(write_spec):
    plan = _plan(write_spec, method={"parameter_budget": "full"}, allow_full=True,
                 extra=_extra("outputs: {push_to_hub: true, hub_model_id: a/b, hub_artifacts: [adapter]}\n"))
    assert [f.rule for f in plan.findings if f.level == "error"] == ["OUTPUT-PUSH-NOTHING"]


def test_no_push_no_push_stage_but_a_model_card(write_spec):
    plan = _plan(write_spec)
    assert "push" not in [s.kind for s in plan.stages]
    assert "model_card" in plan.stage("eval").config and plan.outputs is not None
    full = _plan(write_spec, method={"parameter_budget": "full"}, allow_full=True)
    assert full.stage("sft").config["model_card"] == {"folders": [{"artifact": "model", "dir": "artifacts/sft/model"}]}


def test_the_card_before_eval_says_so_and_is_deterministic(write_spec, compile_spec):
    from specc.build.reader import read_document
    from specc.run.modelcard import render_card

    plan, build = compile_spec(write_spec(name="tiny-card", extra=_extra(PUSH)))
    doc = read_document(build / "plan.json")
    card = render_card(doc, None, artifact="adapter")
    assert card == render_card(read_document(build / "plan.json"), None, artifact="adapter")
    assert card.startswith('---\nlicense: "apache-2.0"\nlibrary_name: "peft"\n')
    assert "Not evaluated yet" in card and "## Decisions" in card and "`LEVER-PROMPT-FIRST`" in card
    for fact in plan.data:  # the data lock: every file with its hash and rows
        if fact.sha256:
            assert f"| {fact.role} | {fact.path} | {fact.sha256} | {fact.rows} |" in card
    assert str(build.resolve()) not in card and str(build.parent.resolve()) not in card


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def _n(value):
    return "—" if value is None else f"{value:.4g}"


def _card_checks(build, results):
    """The card of every output folder carries the verdict and the numbers of results/eval.json."""
    verdict = results["verdict"]
    card = (build / "artifacts" / "sft" / "adapter" / "README.md").read_text()
    merged_card = (build / "artifacts" / "merge" / "model" / "README.md").read_text()
    assert f"**Forgetting gate: {'PASSED' if verdict['passed'] else 'FAILED'}**" in card
    target = verdict["target"]
    assert f"{_n(target['baseline_score'])} | {_n(target['score'])} | bar {_n(target['bar'])}" in card
    assert verdict["suites"]
    for s in verdict["suites"]:
        assert f"| suite `{s['suite']}` | {_n(s['baseline'])} | {_n(s['tuned'])} | {s['status']} |" in card
    assert "Not evaluated yet" not in card and 'library_name: "transformers"' in merged_card
    assert card.split("## Evaluation")[1] == merged_card.split("## Evaluation")[1]
    return card


@pytest.mark.train
def test_card_and_push_end_to_end(write_spec, compile_spec, stage_runner, tmp_path):
    """A real tiny run: eval fills the card with the gate verdict and the numbers of results/eval.json; the
    push stage refuses a failed gate, pushes it only when the plan forces it, needs a token (exit 4, nothing
    sent), and pushes a passed model through huggingface_hub."""
    import fake_hub

    spec = write_spec(name="tiny-push", extra=_extra(PUSH))
    spec.write_text(spec.read_text().replace("bar: 0.5", "bar: 1.0"))  # unreachable after two steps: gate fails
    plan, build = compile_spec(spec)
    for sid in ("firewall", "baseline", "sft", "merge"):
        stage_runner(build, plan.stage(sid).script)
    for folder in ("sft/adapter", "merge/model"):  # before the eval stage, the card says so
        before = (build / "artifacts" / folder / "README.md").read_text()
        assert "**Not evaluated yet**" in before and "## Decisions" in before, before[:500]
    ev = stage_runner(build, plan.stage("eval").script, check=False)
    assert ev.returncode == 3, ev.stderr[-3000:]
    failed = json.loads((build / "results" / "eval.json").read_text())
    assert failed["verdict"]["passed"] is False
    _card_checks(build, failed)

    hub, server = fake_hub.start(TOKEN)
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf-home"),
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    push = plan.stage("push").script
    try:
        refused = stage_runner(build, push, env={**env, "HF_TOKEN": TOKEN}, check=False)
        assert refused.returncode == 3 and "the forgetting gate failed" in refused.stderr, refused.stderr[-2000:]
        assert hub.requests == []
        # the plan forces it (a warning in the plan): recompiled with push_if_gate_fails
        spec.write_text(spec.read_text().replace("hub_model_id: my-org/tiny-style}",
                                                 "hub_model_id: my-org/tiny-style, push_if_gate_fails: true}"))
        plan, build = compile_spec(spec, build)
        assert "OUTPUT-PUSH-FORCED" in {f.rule for f in plan.findings if f.level == "warning"}
        no_token = stage_runner(build, push, env={**env, "HF_TOKEN": ""}, check=False)
        assert no_token.returncode == 4, no_token.stderr[-2000:]
        assert "no Hugging Face token: set HF_TOKEN" in no_token.stderr and "Traceback" not in no_token.stderr
        assert hub.requests == []  # nothing sent before the token check
        forced = stage_runner(build, push, env={**env, "HF_TOKEN": TOKEN})
        assert "pushing anyway because outputs.push_if_gate_fails" in forced.stderr
        repo = hub.repos["my-org/tiny-style"]
        assert "**Forgetting gate: FAILED**" in repo["files"]["README.md"].decode()
        # no bar (only forgetting is gated): the eval stage re-runs (its contract changed) and passes; the push
        # needs no force
        spec.write_text(spec.read_text().replace("bar: 1.0", "bar: null").replace(", push_if_gate_fails: true", ""))
        plan, build = compile_spec(spec, build)
        stage_runner(build, plan.stage("eval").script)
        passed = json.loads((build / "results" / "eval.json").read_text())
        card = _card_checks(build, passed)
        stage_runner(build, push, env={**env, "HF_TOKEN": TOKEN})
    finally:
        server.shutdown()
    assert repo["private"] is True
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= set(repo["files"])
    assert repo["files"]["README.md"].decode() == card and "**Forgetting gate: PASSED**" in card
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in hub.requests)
    report = json.loads((build / "reports" / "push.json").read_text())
    assert report["repo_id"] == "my-org/tiny-style" and report["gate_passed"] is True
    assert report["commits"][0]["artifact"] == "adapter"
    leaked = [p for p in _files(build) + _files(spec.parent / "data") if TOKEN.encode() in p.read_bytes()]
    assert leaked == []


def test_push_and_escape_hatch_stay_light_at_plan_and_compile_time(write_spec, tmp_path):
    """Planning and compiling a spec with outputs.push_to_hub and trainer_args imports neither the training stack
    nor huggingface_hub; the emitted push script answers --help without them."""
    import subprocess
    import sys

    spec = write_spec(method={"trainer_args": {"logging_first_step": True}}, extra=_extra(PUSH))
    build = tmp_path / "light-build"
    heavy = ("torch", "transformers", "trl", "peft", "datasets", "wandb", "huggingface_hub")
    code = ("import sys\nfrom specc.cli.main import main\n"
            f"try:\n    main(['compile', {str(spec)!r}, '-o', {str(build)!r}], standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            f"print('HEAVY:' + ' '.join(m for m in {heavy!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:", out.stdout[-2000:] + out.stderr[-2000:]
    [script] = sorted((build / "stages").glob("*_push.py"))
    helped = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "Hugging Face Hub" in helped.stdout
