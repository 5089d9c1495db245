"""The literal renderers: whatever a spec string contains, it comes out as a value, never as code."""

from __future__ import annotations

import ast
import subprocess

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from specc.build.literals import LiteralError, py, py_block, sh, yaml_literal

PAYLOADS = [
    "it's \"quoted\"",
    "line one\nline two\r\nthree",
    "{{ config.__class__ }}",
    "{% for x in y %}{% endfor %}",
    '"""; import os; os.system("echo pwned") #',
    "__import__('os').system('touch pwned')",
    "$(touch pwned) `touch pwned` ; rm -rf / && echo | cat > x",
    "\\x00-not-a-nul \\n \\' \\\\",
    "tab\there \x07 bell \x1b[31m",
    "ünïcödé ✓ 🤖",
    "",
    "- a: b\n  c: [d]",
]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_py_literal_is_a_constant(payload):
    tree = ast.parse(py({"k": [payload, 1, None, True]}), mode="eval")
    assert not any(isinstance(n, (ast.Call, ast.Name, ast.Attribute)) for n in ast.walk(tree))
    assert ast.literal_eval(tree) == {"k": [payload, 1, None, True]}


@given(json_like)
@settings(max_examples=200, deadline=None)
def test_py_roundtrips(value):
    assert ast.literal_eval(py(value)) == value


@given(json_like)
@settings(max_examples=200, deadline=None)
def test_yaml_roundtrips_on_one_line(value):
    text = yaml_literal(value)
    assert "\n" not in text
    assert yaml.safe_load(text) == value


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "\x00" not in p])
def test_sh_word_reaches_the_program_unchanged(payload, tmp_path):
    out = subprocess.run(["bash", "-c", f"printf %s {sh(payload)}"], capture_output=True, cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.decode() == payload
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object(), {1: "x"}, b"bytes", {"s": {1, 2}}])
def test_non_literal_data_is_refused(bad):
    with pytest.raises(LiteralError):
        py(bad)


def test_sh_refuses_containers_and_nul():
    for bad in ([1], {"a": 1}, None, True, "a\x00b"):
        with pytest.raises(LiteralError):
            sh(bad)


@given(json_like)
@settings(max_examples=200, deadline=None)
def test_py_block_roundtrips_with_sorted_keys(value):
    text = py_block(value)
    assert ast.literal_eval(text) == value
    tree = ast.parse(text, mode="eval")
    assert not any(isinstance(n, (ast.Call, ast.Name, ast.Attribute)) for n in ast.walk(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys]
            assert keys == sorted(keys)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_py_block_breaks_long_values_one_key_per_line(payload):
    value = {"z": [payload] * 3, "a": {"long": "x" * 120, "short": 1}, "m": payload}
    text = py_block(value, width=60)
    assert ast.literal_eval(text) == value
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and lines[1].startswith("    'a': {")
    assert py_block({"b": 1, "a": [1, 2]}) == "{'a': [1, 2], 'b': 1}"  # short values stay on one line
