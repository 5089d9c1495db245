"""The native fast paths of ``specc check`` (:mod:`specc.contract.native`) against the Python code they stand in for.

A prefilter that drops a row the exact matcher would hit is the firewall's worst bug (a pass that looks right),
so each C function is checked against its Python definition on adversarial input, and whole ``specc check``
reports are compared with the extension on and off (``SPECC_NATIVE=0``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from specc.contract import native
from specc.contract.fields import text_values
from specc.contract.firewall import _Collector, row_matcher
from specc.contract.index import build_golden_index
from specc.contract.pii import _MASK_KINDS, kinds_possible
from specc.contract.settings import FirewallSettings, InputFile
from specc.contract.textnorm import normalize_words
from specc.data.jsonl import _SURROGATE_ESCAPE, DataError, iter_jsonl
from specc.data.rowformat import _CHAT_NEED, _plain_chat_ok

ROOT = Path(__file__).resolve().parents[1]
fast = native._C  # None when the extension is not built, stale or switched off: the needs_native tests skip
needs_native = pytest.mark.skipif(not native.ENABLED, reason="SPECC_NATIVE=0: the fallbacks are in use")

# Text that stresses every normalisation step: case, punctuation, digit groups, apostrophes, control and
# format characters, whitespace of every kind, accents, look-alikes, full-width forms, non-ASCII digits.
_PIECES = ["Kyiv", "KYIV", "don't", "dont", "it\u2019s", "1,000", "1.000", "12,345,678", "1_000", "1,00", "1,0000",
           ",000", "9,", "\u0661,\u0662\u0663\u0664", "caf\u00e9", "cafe\u0301", "Ky\u200biv", "\u041a\u0443\u0456v",
           "\uff2b\uff59\uff49\uff56", "\u00ad", "\ufeff", "\x00", "\x07", "\x1c", "\x1f", "\x7f", "\t", "\n", "\r",
           "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000", " ", "  ", "-", "\u2014", "...", "\u2026", "!", "@", "#", "$",
           "+", "=", "_", "'", "\"", "\u00bd", "\ufb01", "\u2460", "ß", "\u0130", "\U0001d400", "\U0001f600", "\u00b2",
           "a", "B", "x1", "A.B", "e.g.", "3.14159", "0.5", "2024", "\u0663", "\ud800", " the BLACK sea ",
           " capital, of "]
adversarial_text = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=24).map("".join)


def _prefilter(index, settings):
    candidate = native.row_prefilter(index, settings)
    return candidate.__self__  # the Prefilter object (candidate is its bound method)


def _hash_words(words: list[str]) -> list[int] | None:
    try:
        return [fast.word_hash(w) for w in words]
    except UnicodeEncodeError:  # a lone surrogate cannot be hashed: the prefilter passes such rows on
        return None


@needs_native
@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial_text)
def test_c_normaliser_gives_textnorms_words(text: str) -> None:
    """Word for word (as hashes), the C normaliser is textnorm's: the prefilter looks up the words the exact
    matcher compares."""
    settings = FirewallSettings()
    index = build_golden_index(_golden(Path(os.environ["SPECC_TEST_TMP"])), settings)
    expected = _hash_words(normalize_words(text))
    try:
        got = _prefilter(index, settings).words({"t": text})
    except UnicodeEncodeError:
        assert expected is None
        return
    assert expected is not None and got == [expected]


@pytest.fixture(autouse=True)
def _tmp_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SPECC_TEST_TMP", str(tmp_path_factory.getbasetemp()))


GOLDEN = [
    {"prompt": "Which river flows through the ancient city of Kyiv before reaching the Black Sea after a long "
               "journey south", "completion": "The Dnieper carries 1,000 boats past Kyiv; it\u2019s wide."},
    {"prompt": "Name the largest planet of the solar system and give its mass.", "completion": "Jupiter"},
    {"messages": [{"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "Paris"}]},
    {"prompt": "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 translate these three words into plain English",
     "completion": "cafe naive resume"},
]


def _golden(folder: Path) -> InputFile:
    path = folder / "native_golden.jsonl"
    if not path.exists():
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in GOLDEN), encoding="utf-8")
    return InputFile(path, "golden.jsonl", "golden")


def _golden_texts() -> list[str]:
    return [text for row in GOLDEN for text in text_values(row, [])]


def _perturb(text: str, how: int) -> str:
    """A golden text as contamination arrives: re-cased, re-punctuated, zero-width characters, full width."""
    if how == 0:
        return text.upper()
    if how == 1:
        return text.replace(" ", " , ").replace("'", "\u2019")
    if how == 2:
        return "\u200b".join(text.split(" ", 3)) + "!!"
    if how == 3:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    return "  \t".join(text.split())


training_row = st.builds(
    lambda prefix, index, start, length, how, suffix, shape: _make_row(prefix, index, start, length, how, suffix,
                                                                       shape),
    adversarial_text, st.integers(0, 7), st.sampled_from([0, 0, 0, 1, 3, 7, 12]), st.sampled_from([2, 4, 7, 9, 14, 99]),
    st.integers(0, 4),
    adversarial_text, st.integers(0, 2))


def _make_row(prefix: str, index: int, start: int, length: int, how: int, suffix: str, shape: int) -> dict:
    texts = _golden_texts()
    words = texts[index % len(texts)].split(" ")
    piece = _perturb(" ".join(words[start % len(words): start % len(words) + length]), how)
    if shape == 0:
        return {"prompt": prefix + " " + piece + " " + suffix, "completion": suffix}
    if shape == 1:
        return {"messages": [{"role": "user", "content": piece}, {"role": "assistant", "content": prefix}]}
    return {"text": [prefix, {"name": piece, "type": "x"}, piece + suffix]}


@needs_native
@pytest.mark.parametrize("config", [{}, {"exact_min_words": 1, "ngram_n": 5, "ngram_floor": 3},
                                    {"ngrams": False}, {"contained": False, "exact": False},
                                    {"ignore": ("the black sea", "CAPITAL of", "it\u2019s wide")}])
def test_prefilter_never_drops_a_row_the_matcher_hits(tmp_path: Path, config: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row on which the exact matcher reports a hit, or counts declared boilerplate, is a prefilter
    candidate (the property the whole speed-up rests on), over golden fragments perturbed the ways
    contamination arrives."""
    settings = FirewallSettings(**config)
    index = build_golden_index(_golden(tmp_path), settings)
    candidate = native.row_prefilter(index, settings)
    collector = _Collector(index, settings)
    counts = [0] * len(index.boilerplate.patterns)
    # the reference: the same matcher with the prefilter taken out (row_matcher asks native for it)
    with monkeypatch.context() as patch:
        patch.setattr(native, "row_prefilter", lambda _index, _settings: None)
        reference = row_matcher("train.jsonl", index, settings, collector, None, counts, share=[None])
    hits = 0

    @hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
    @given(training_row)
    def check(row: dict) -> None:
        nonlocal hits
        before = list(counts)
        found = reference(1, row)
        hits += bool(found)
        if found or counts != before:
            assert candidate(row), row

    check()
    assert hits > 5  # the property was exercised on rows that do hit
    assert sum(counts) > 0 or not settings.ignore  # and on rows holding declared boilerplate


@needs_native
def test_a_scan_builds_one_prefilter_for_all_its_training_files(tmp_path: Path, monkeypatch) -> None:
    """Building the prefilter hashes every golden key (about a second for a large golden set); a scan makes a row
    matcher per training file, and they share the one prefilter built for the index and settings."""
    from specc.contract.firewall import scan

    built = []
    real = native._build_prefilter
    monkeypatch.setattr(native, "_build_prefilter", lambda index, settings: built.append(1) or real(index, settings))
    training = []
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text(json.dumps({"prompt": GOLDEN[0]["prompt"], "completion": "x"}) + "\n")
        training.append(InputFile(tmp_path / name, name, "train"))
    report = scan(_golden(tmp_path), training, FirewallSettings())
    assert [f.rows_flagged for f in report.files] == [1, 1, 1] and len(built) == 1


@needs_native
def test_prefilter_on_a_golden_field_with_a_lone_surrogate(tmp_path: Path) -> None:
    """A lone surrogate is deleted by the normaliser (category Cs), in C as in Python: the row still hits."""
    settings = FirewallSettings()
    candidate = native.row_prefilter(build_golden_index(_golden(tmp_path), settings), settings)
    assert candidate({"prompt": "what is the CAPITAL\ud800 of france"}) is True
    assert candidate({"prompt": "bread needs salt, water and patience"}) is False


@needs_native
def test_a_row_holding_declared_boilerplate_is_a_candidate(tmp_path: Path) -> None:
    """The matcher counts declared boilerplate on every row that holds it, hit or not: such rows are passed on
    (and, without the declaration, the same rows are not, so it is the boilerplate test that passes them)."""
    rows = [{"prompt": "we sailed on the Black Sea today"}, {"text": ["x", {"c": "x the BLACK, sea y"}]},
            {"messages": [{"role": "user", "content": "capital, of"}]}]
    declared = FirewallSettings(ignore=("the black sea", "CAPITAL of"))
    candidate = native.row_prefilter(build_golden_index(_golden(tmp_path), declared), declared)
    plain = native.row_prefilter(build_golden_index(_golden(tmp_path), FirewallSettings()), FirewallSettings())
    assert [candidate(row) for row in rows] == [True, True, True]
    assert [plain(row) for row in rows] == [False, False, False]


_json_key = st.sampled_from(["a", "b", "role", "content", "a\"", "\\", "k:", " ", "é", "\\\"", ":"])
_json_value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                                     st.sampled_from(["\":", "\\\"", "{\"a\":1}"])),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.lists(st.tuples(_json_key, inner), max_size=4)),
                           max_leaves=12)


def _render(value) -> str:
    """JSON text of a value whose objects are lists of (key, value) pairs, so keys may repeat."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return "{" + " , ".join(f"{json.dumps(k, ensure_ascii=False)} :{_render(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        if value == []:
            return "[]"
        return "[" + ",".join(_render(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _has_duplicates(value) -> bool:
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        keys = [k for k, _v in value]
        return len(set(keys)) != len(keys) or any(_has_duplicates(v) for _k, v in value)
    if isinstance(value, list):
        return any(_has_duplicates(v) for v in value)
    return False


@needs_native
@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_json_key, _json_value), max_size=5))
def test_key_count_finds_exactly_the_repeated_keys(pairs) -> None:
    raw = _render(pairs).encode("utf-8") if pairs else b"{}"
    row = json.loads(raw)
    assert fast.line_flags(raw, row) & 1 == _has_duplicates(pairs)


@needs_native
@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["\\", "u", "d", "D", "8", "9", "a", "F", "c", "0", "\"", "{", "\u00e9", "x"]),
                max_size=30).map("".join))
def test_surrogate_flag_is_the_readers_expression(text: str) -> None:
    """Bit 2 of the per-line flags is set exactly when jsonl's lone-surrogate expression finds something."""
    assert bool(fast.line_flags(text.encode("utf-8"), {}) & 2) == bool(_SURROGATE_ESCAPE.search(text))


@needs_native
def test_duplicate_key_is_still_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n{"m": [{"role": "user", "role": "x", "content": "c"}]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:2: duplicate key 'role'"):
        list(iter_jsonl(path, display_name="d.jsonl"))


_pii_bytes = st.lists(st.one_of(st.sampled_from([b"@", b"+", b"+(", b"(", b")", b"-", b".", b" ", b"#", b"_", b"\n",
                                                 b"\t", b"PRIVATE KEY", b"PRIVATE", b"0", b"12345", b"abcdefgh",
                                                 b"\xc3\xa9", b"\r", b"\x0b"]),
                                st.binary(max_size=4)), max_size=60).map(b"".join)


@needs_native
@hsettings(max_examples=500, deadline=None)
@given(_pii_bytes)
def test_line_kinds_is_kinds_possible_per_line(block: bytes) -> None:
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    count, rows, flagged = fast.line_kinds(block, 40)
    assert count == len(lines)
    assert rows == sum(1 for raw in lines if raw and len(raw) <= 40 and not raw.isspace())
    got = {index: _MASK_KINDS[mask] for index, mask in flagged}
    for index, raw in enumerate(lines):
        if raw and not raw.isspace():
            assert got.get(index, frozenset()) == kinds_possible(raw), raw


_runs = st.lists(st.tuples(st.sampled_from([b"a", b"Z", b"1", b" ", b".", b"#", b"-", b"_", b"(", b")", b"!", b"@",
                                             b"\xc3\xa9", b"\n", b"+", b"\x7f", b"\x80", b"`", b"{", b"/", b":"]),
                          st.integers(1, 20)), max_size=60).map(lambda runs: b"".join(c * k for c, k in runs))


@needs_native
@hsettings(max_examples=500, deadline=None)
@given(_runs)
def test_line_kinds_on_long_lines_of_runs(block: bytes) -> None:
    """Long lines of character runs, so that runs of key and number characters cross the 64-byte blocks of the
    vectorised search."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    _count, _rows, flagged = fast.line_kinds(block, 1 << 20)
    got = {index: _MASK_KINDS[mask] for index, mask in flagged}
    for index, raw in enumerate(lines):
        if raw and not raw.isspace():
            assert got.get(index, frozenset()) == kinds_possible(raw), raw


@needs_native
def test_line_kinds_on_runs_across_block_boundaries() -> None:
    """Every run length around the thresholds (10 number characters, 15 key characters) at every offset around
    the vectorised search's 64-byte block edges, and runs longer than a block."""
    for fill, stop in ((b"a", b"!"), (b"7", b"!"), (b" ", b"x"), (b"#", b"!"), (b"-", b"!")):
        for offset in list(range(0, 20)) + list(range(40, 140)):
            for size in (8, 9, 10, 11, 14, 15, 16, 64, 65, 130):
                for tail in (0, 3, 70):
                    raw = stop * offset + fill * size + stop * tail
                    if raw.isspace():  # a blank line is not a row: never scanned
                        continue
                    assert _MASK_KINDS[dict(fast.line_kinds(raw, 1 << 20)[2]).get(0, 0)] == kinds_possible(raw), \
                        (fill, offset, size, tail)


_turn = st.one_of(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "Assistant"]),
                                         "content": st.one_of(st.text(max_size=3), st.none())}),
                  st.dictionaries(st.sampled_from(["role", "content", "x"]), st.one_of(st.text(max_size=3),
                                                                                       st.integers())),
                  st.text(max_size=2))


@needs_native
@hsettings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_turn, max_size=4), st.none(), st.text(max_size=2)),
       st.sampled_from(["train", "replay", "golden", "prompts", "validation", None]))
def test_plain_chat_ok_is_rowformats(turns, role) -> None:
    assert fast.plain_chat_ok(turns, _CHAT_NEED.get(role, 0)) == _plain_chat_ok(turns, role)


def _check_json(spec: Path, native_on: bool) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPECC_NATIVE": "1" if native_on else "0"}
    proc = subprocess.run([sys.executable, "-m", "specc", "check", "--format", "json", str(spec)], env=env,
                          capture_output=True, text=True, cwd=spec.parent)
    assert proc.returncode in (0, 3), proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_check
    finally:
        sys.path.pop(0)
    folder = tmp_path_factory.mktemp("bench")
    paths = bench_check.generate(folder, 1.5)
    golden = [json.loads(line) for line in paths["golden"].read_text(encoding="utf-8").splitlines()]
    # a general suite made of golden rows (some are planted in the training data): the suite-overlap matcher
    (folder / "suite.jsonl").write_text("".join(json.dumps(row) + "\n" for row in golden[::3]), encoding="utf-8")
    paths["spec"] = bench_check.SPEC
    return paths


VARIANTS = {
    "plain": "",
    "suites": "  general_suites:\n    - {name: facts, kind: exact_match, path: suite.jsonl}\n",
    "boilerplate": "eval:\n  bar: 0.8\n  firewall: {{ignore: [{phrase}]}}\n",
}


@needs_native
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size", ["short", "long"])
def test_whole_report_is_the_same_with_and_without_the_extension(bench_data, variant: str, size: str) -> None:
    """``specc check --format json`` (firewall hits, coverage, snippets, suite overlap, boilerplate counts,
    personal data) is byte-identical with the extension and with ``SPECC_NATIVE=0``, on benchmark-like data
    with planted golden rows and personal data."""
    text = bench_data["spec"].format(train=bench_data[size].name)
    extra = VARIANTS[variant]
    if variant == "suites":
        text = text.replace("  golden: {path: golden.jsonl}\n", "  golden: {path: golden.jsonl}\n" + extra)
    elif variant == "boilerplate":  # the first two words of the first row: declared boilerplate
        first = json.loads(bench_data[size].open(encoding="utf-8").readline())["messages"][0]["content"]
        text = text.replace("eval: {bar: 0.8}\n", extra.format(phrase=json.dumps(" ".join(first.split()[:2]))))
    assert text != bench_data["spec"].format(train=bench_data[size].name) or variant == "plain"
    spec = bench_data[size].parent / f"spec_{variant}_{size}.yaml"
    spec.write_text(text, encoding="utf-8")
    with_c, without = _check_json(spec, True), _check_json(spec, False)
    assert with_c == without
    report = json.loads(with_c)
    assert report["summary"]["hits_by_stage"]["ngram"] > 0
    assert report["personal_data"]["total"] > 0 or size == "long"  # one row in ~1000 holds some: ~250 long rows
    if variant == "suites":
        assert report["suite_overlap"]["total_hits"] > 0
    if variant == "boilerplate":
        assert report["boilerplate"]["ignored"][0]["training_rows"] > 0


FALLBACK_TESTS = ["tests/test_firewall.py", "tests/test_firewall_boilerplate.py", "tests/test_firewall_evasions.py",
                  "tests/test_firewall_reference.py", "tests/test_firewall_surrogates.py",
                  "tests/test_firewall_textnorm.py", "tests/test_jsonl.py", "tests/test_pii.py", "tests/test_rowformat.py",
                  "tests/test_check.py", "tests/test_check_suites.py"]


@needs_native
@pytest.mark.slow
def test_the_firewall_tests_pass_on_the_fallback_too() -> None:
    """The suite runs with the extension; this runs the firewall, check, JSONL, row-format and personal-data
    tests once more with ``SPECC_NATIVE=0``, so both implementations are held to the same tests in CI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPECC_NATIVE": "0"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
                           *FALLBACK_TESTS], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_a_module_built_from_another_source_is_stale(tmp_path: Path) -> None:
    """An editable install keeps the built module beside _fastscan.c; after a pull that changes the C code without
    a rebuild, native.py must not use it (its answers would no longer match the Python definitions)."""
    import hashlib
    import types

    source = tmp_path / "_fastscan.c"
    source.write_bytes(b"/* version 1 */")
    built = types.SimpleNamespace(SOURCE_SHA256=hashlib.sha256(b"/* version 1 */").hexdigest())
    assert not native.stale(built, source)
    source.write_bytes(b"/* version 2 */")
    assert native.stale(built, source)
    assert native.stale(types.SimpleNamespace(), source)  # built without the hash: unknown, so not trusted
    assert not native.stale(built, tmp_path / "absent.c")  # an installed wheel ships no source: nothing to compare


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler: the fallbacks are in use")
def test_with_a_compiler_the_extension_is_built_and_matches_its_source() -> None:
    """Where a C compiler is (CI, every dev machine we know), the tests must exercise the C code, not skip it:
    the install built the extension, from the source in this checkout (`make test` rebuilds when it changes)."""
    if os.environ.get("SPECC_NATIVE", "1") in ("0", "false", "no", "off"):
        pytest.skip("SPECC_NATIVE=0 forces the fallbacks")
    try:
        from specc.contract import _fastscan
    except ImportError:
        pytest.fail("a C compiler is here but specc.contract._fastscan is not built: run `pip install -e .`")
    assert native.ENABLED and not native.stale(_fastscan)
