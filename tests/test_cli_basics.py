"""CLI basics: version, init, schema, and the promise that light commands never import the training stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from specc import __version__
from specc.cli.main import main
from specc.spec.loader import load_spec
from specc.spec.schema import json_schema_text

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "wandb", "accelerate", "matplotlib")


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_init_writes_a_valid_commented_spec(tmp_path: Path):
    target = tmp_path / "My Experiment.yaml"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.count("#") > 10  # commented
    loaded = load_spec(target)
    assert loaded.spec.name == "my-experiment"
    # Refuses to overwrite without --force (usage error).
    assert CliRunner().invoke(main, ["init", str(target)]).exit_code == 2
    assert CliRunner().invoke(main, ["init", str(target), "--force"]).exit_code == 0


def test_schema_documents_every_field_and_forbids_unknown_keys():
    schema = json.loads(json_schema_text())
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        if definition.get("type") != "object":
            continue
        assert definition.get("additionalProperties") is False, name
        for field, prop in definition["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
    for field, prop in schema["properties"].items():
        assert prop.get("description"), field


def test_committed_schema_is_current():
    committed = (REPO / "schema" / "specc-1.schema.json").read_text()
    assert committed == json_schema_text(), "run `specc schema -o schema/specc-1.schema.json`"


def test_schema_command_prints_json():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "Spec"


def _imported_after(code: str) -> set[str]:
    probe = (
        "import sys\n"
        f"{code}\n"
        f"print('HEAVY:' + ' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    last = [ln for ln in out.stdout.splitlines() if ln.startswith("HEAVY:")][-1]
    return set(last[len("HEAVY:"):].split())


def test_importing_the_cli_loads_no_training_stack():
    assert _imported_after("import specc.cli.main") == set()


def test_light_commands_load_no_training_stack(tmp_path: Path):
    """Run each light command in a fresh interpreter and check sys.modules afterwards."""
    spec = tmp_path / "s.yaml"
    CliRunner().invoke(main, ["init", str(spec)])
    commands = [["validate", str(spec)], ["schema"], ["init", str(tmp_path / "t.yaml")]]
    from specc.cli.main import main as group

    for optional in ("plan", "rules", "check", "compile", "diff"):
        if optional in group.commands:
            args = {"plan": ["plan", str(spec)], "rules": ["rules"], "check": ["check", str(spec)],
                    "compile": ["compile", str(spec), "-o", str(tmp_path / "build")],
                    "diff": ["diff", str(spec), str(spec)]}[optional]
            commands.append(args)
    for args in commands:
        code = (
            "from specc.cli.main import main\n"
            "try:\n"
            f"    main({args!r}, standalone_mode=False)\n"
            "except BaseException:\n"
            "    pass"
        )
        assert _imported_after(code) == set(), args
