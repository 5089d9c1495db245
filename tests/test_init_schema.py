"""Editors are pointed at a schema file that exists (issue 18.2).

The starter used to name ``https://specc.dev/schema/specc-1.schema.json``, an address that does not exist.
Now ``specc init`` writes the schema next to the spec and the header names it by a relative path, which the
YAML language server resolves from the spec's directory. The example specs name the committed copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main
from specc.spec.loader import load_spec
from specc.spec.schema import SCHEMA_FILE, json_schema_text

REPO = Path(__file__).resolve().parent.parent
MODELINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(\S+)")


def schema_reference(spec: Path) -> Path:
    """The file a spec's ``$schema`` modeline names, resolved as the YAML language server does: a
    relative path from the spec's directory (a URL would not be a file, and fails here)."""
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.fullmatch(first.strip())
    assert match, f"{spec}: first line is not a yaml-language-server $schema modeline: {first!r}"
    ref = match.group(1)
    assert "://" not in ref, f"{spec}: names {ref}, not a file"
    return spec.parent / ref


@pytest.mark.parametrize("where", ["spec.yaml", "new/dir/spec.yaml"])
def test_init_schema_reference_resolves_to_the_schema(tmp_path, where):
    spec = tmp_path / where
    result = CliRunner().invoke(main, ["init", str(spec)])
    assert result.exit_code == 0, result.output
    target = schema_reference(spec)
    assert target.is_file(), f"{spec} names {target}, which does not exist"
    assert target.name == SCHEMA_FILE
    assert target.read_text(encoding="utf-8") == json_schema_text()
    assert json.loads(target.read_text(encoding="utf-8"))["additionalProperties"] is False
    assert load_spec(spec).spec.name == "spec"


def test_init_keeps_a_schema_file_it_did_not_write_unless_forced(tmp_path):
    mine = tmp_path / SCHEMA_FILE
    mine.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "a.yaml")])
    assert result.exit_code == 0, result.output
    assert mine.read_text(encoding="utf-8") == "{}\n"
    assert f"kept {mine}" in result.output and "specc schema -o" in result.output

    # The current schema is left alone silently; --force refreshes a stale one.
    mine.write_text(json_schema_text(), encoding="utf-8")
    again = CliRunner().invoke(main, ["init", str(tmp_path / "b.yaml")])
    assert "kept" not in again.output and "wrote" in again.output
    mine.write_text("{}\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["init", str(tmp_path / "b.yaml"), "--force"]).exit_code == 0
    assert mine.read_text(encoding="utf-8") == json_schema_text()


@pytest.mark.parametrize("spec", sorted((REPO / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_specs_name_the_committed_schema(spec):
    target = schema_reference(spec)
    assert target.resolve() == (REPO / "schema" / SCHEMA_FILE).resolve()
    assert target.is_file()
