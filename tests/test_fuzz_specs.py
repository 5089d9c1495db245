"""Fuzzing load → plan → compile with 10,000+ generated specs: valid, mutated and YAML-ish noise.

Every spec must end in exactly one of three outcomes, never a traceback:

* ``invalid``  - :class:`SpecInvalid` whose every error is a located :class:`SpecError` (file, line, column);
* ``refused``  - a plan with error findings, which the compiler refuses with :class:`CompileError`
  (writing nothing);
* ``compiled`` - a build directory whose every file parses (``ast.parse`` for .py, ``yaml.safe_load`` for
  .yaml, ``json.loads`` for .json, ``bash -n`` for run.sh, batched), in which hostile strings sit only
  inside string literals (checked token by token), and whose run.sh, *executed*, creates no canary file.

Unexpected exceptions are collected (the shortest spec text per exception type and place) and reported
at the end, so one bug does not hide the counts. The counts per outcome are printed (``pytest -s``) and
stored in pytest's cache under ``specc/fuzz/<family>``.
"""

from __future__ import annotations

import ast
import collections
import io
import json
import os
import shutil
import subprocess
import sys
import tokenize
import traceback
import uuid
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from specc.build.emitter import CompileError, compile_plan
from specc.spec.errors import SpecError, SpecInvalid
from specc.spec.loader import load_spec
from specc.plan.planner import make_plan

from strategies import CANARY_TOKEN, mutated_specs, valid_specs, write_fuzz_project, yamlish_texts

FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=list(HealthCheck))
SCALE = float(os.environ.get("SPECC_FUZZ_SCALE", "1"))
"""Multiplies every example count (e.g. 0.1 for a quick local loop, 10 for a nightly soak)."""
WHOLE_FILE_CODES = {"empty", "io", "encoding"}
"""Error codes that concern a whole file and carry line 0."""


class Fuzzer:
    """Pushes spec texts through load → plan → compile and checks what comes out."""

    def __init__(self, root: Path):
        self.root = root
        self.project = write_fuzz_project(root / "proj")
        self.canary_dir = root / "canary"
        self.canary_dir.mkdir()
        self.canary = str(self.canary_dir / f"specc-canary-{uuid.uuid4().hex}")
        self.builds = root / "builds"
        self.run_scripts: dict[int, str] = {}
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.labels: collections.Counter[str] = collections.Counter()
        self.files_checked: collections.Counter[str] = collections.Counter()
        self.crashes: dict[str, tuple[str, str]] = {}
        self.n = 0

    def feed(self, label: str, text: str) -> None:
        self.n += 1
        self.labels[label.split(":")[0]] += 1
        try:
            self.outcomes[self._one(text)] += 1
        except Exception as exc:  # noqa: BLE001 - every escape is a finding, recorded with its input
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            self.outcomes["CRASH"] += 1
            if key not in self.crashes or len(text) < len(self.crashes[key][0]):
                self.crashes[key] = (text, f"{label}: {exc!s:.300}")

    def _one(self, text: str) -> str:
        spec_path = self.project / "spec.yaml"
        spec_path.write_text(text, encoding="utf-8", newline="")
        try:
            loaded = load_spec(spec_path)
        except SpecInvalid as exc:
            assert exc.errors, "SpecInvalid without errors"
            for err in exc.errors:
                assert isinstance(err, SpecError)
                assert err.file and err.file.endswith("spec.yaml"), err
                assert err.message.strip(), err
                if err.code not in WHOLE_FILE_CODES:
                    assert err.line >= 1 and err.column >= 1, f"unlocated error: {err}"
                    assert err.line <= text.count("\n") + 2, f"error beyond the end of the file: {err}"
                str(exc), err.render(), err.github()
            return "invalid"
        plan = make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)
        plan.to_json()
        out = self.builds / str(self.n)
        if not plan.ok:
            with pytest.raises(CompileError):
                compile_plan(plan, self.project, out)
            assert not out.exists(), "a refused compile left files behind"
            return "refused"
        files = compile_plan(plan, self.project, out)
        self._check_build(out, files)
        shutil.rmtree(out)
        return "compiled"

    def _check_build(self, out: Path, files: list[Path]) -> None:
        on_disk = sorted(p for p in out.rglob("*") if p.is_file())
        assert on_disk == sorted(files), "compile_plan's file list differs from what is on disk"
        for path in files:
            text = path.read_text(encoding="utf-8")
            self.files_checked[path.suffix or path.name] += 1
            if path.suffix == ".py":
                _check_python(path, text)
            elif path.suffix == ".yaml":
                yaml.safe_load(text)
            elif path.suffix == ".json":
                json.loads(text)
            elif path.name == "run.sh":
                self.run_scripts.setdefault(hash(text), text)
                assert "\x00" not in text

    def check_run_scripts(self) -> None:
        """``bash -n`` every distinct run.sh, then execute each with a stage name that selects nothing:
        every export and every quoted word runs, no stage does. One bash process for the lot."""
        if not self.run_scripts:
            return
        batch = self.root / "runsh"
        batch.mkdir(exist_ok=True)
        for i, text in enumerate(self.run_scripts.values()):
            (batch / f"{i:05d}.sh").write_text(text, encoding="utf-8")
        loop = ('for f in "$@"; do bash -n "$f" || echo "SYNTAX $f"; '
                'bash "$f" __specc_no_such_stage__ >/dev/null 2>"$f.err" || echo "EXIT $? $f"; done')
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(["bash", "-c", loop, "_", *sorted(map(str, batch.glob("*.sh")))],
                              capture_output=True, text=True, cwd=self.canary_dir, env=env, timeout=600)
        assert proc.returncode == 0 and not proc.stdout, proc.stdout[:3000] + proc.stderr[:3000]
        self.files_checked["run.sh executed"] += len(self.run_scripts)

    def report(self, request: pytest.FixtureRequest, family: str) -> dict:
        stats = {"specs": self.n, "by_family": dict(self.labels), "outcomes": dict(self.outcomes),
                 "files_checked": dict(self.files_checked), "distinct_run_sh": len(self.run_scripts),
                 "crashes": {k: v[1] for k, v in self.crashes.items()}}
        print(f"\n[fuzz {family}] {json.dumps(stats, sort_keys=True)}")
        if getattr(request.config, "cache", None) is not None:
            request.config.cache.set(f"specc/fuzz/{family}", stats)
        return stats

    def assert_clean(self) -> None:
        assert not os.listdir(self.canary_dir), f"a hostile string ran: {os.listdir(self.canary_dir)}"
        leftovers = [p for p in self.root.rglob("*") if "specc-canary" in p.name]
        assert not leftovers, leftovers
        if self.crashes:
            lines = [f"{len(self.crashes)} kind(s) of traceback escaped load → plan → compile:"]
            for key, (text, what) in sorted(self.crashes.items()):
                lines.append(f"--- {key}\n{what}\nshortest spec ({len(text)} chars):\n{text[:1500]}")
            pytest.fail("\n".join(lines), pytrace=False)


def _check_python(path: Path, text: str) -> None:
    tree = ast.parse(text, filename=str(path))
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for tok in tokens:
        if tok.type != tokenize.STRING:
            assert CANARY_TOKEN not in tok.string, f"{path.name}:{tok.start[0]}: spec text outside a string literal"
        if tok.type == tokenize.NAME:
            assert tok.string != "__import__", f"{path.name}:{tok.start[0]}: __import__ in emitted code"
    configs = [n for n in tree.body if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "CONFIG" for t in n.targets)]
    if configs:
        assert isinstance(ast.literal_eval(configs[0].value), dict)


@pytest.fixture
def fuzzer(tmp_path: Path) -> Fuzzer:
    return Fuzzer(tmp_path)


def _run(fuzzer: Fuzzer, strategy, examples: int, request, family: str) -> dict:
    @settings(FUZZ, max_examples=max(1, int(examples * SCALE)))
    @given(strategy)
    def feed(case: tuple[str, str]) -> None:
        fuzzer.feed(*case)

    feed()
    fuzzer.check_run_scripts()
    stats = fuzzer.report(request, family)
    fuzzer.assert_clean()
    return stats


def test_fuzz_valid_specs(fuzzer, request):
    """Well-formed specs with hostile free text: most compile, and their builds are inert."""
    stats = _run(fuzzer, valid_specs(fuzzer.canary), 2000, request, "valid")
    assert stats["specs"] >= int(2000 * SCALE)
    assert stats["outcomes"].get("compiled", 0) >= 0.25 * stats["specs"], stats  # the generator must keep reaching the emitter
    assert stats["files_checked"].get("run.sh executed", 0) >= 0.02 * stats["specs"], stats


def test_fuzz_mutated_specs(fuzzer, request):
    """Valid specs with dropped/renamed/misplaced keys, wrong types, huge numbers, YAML damage."""
    stats = _run(fuzzer, mutated_specs(fuzzer.canary), 5000, request, "mutated")
    assert stats["specs"] >= int(5000 * SCALE)
    assert stats["outcomes"].get("invalid", 0) >= 0.3 * stats["specs"], stats


def test_fuzz_yamlish_noise(fuzzer, request):
    """Arbitrary YAML-ish documents and raw characters: all invalid, all located."""
    stats = _run(fuzzer, yamlish_texts(), 3000, request, "yamlish")
    assert stats["specs"] >= int(3000 * SCALE)
    assert stats["outcomes"].get("invalid", 0) == stats["specs"] - stats["outcomes"].get("CRASH", 0), stats


# ------------------------------------------------------------------------- regressions the fuzz found

def _load_plan_compile(tmp_path: Path, text: str) -> str:
    proj = write_fuzz_project(tmp_path / "proj")
    spec = proj / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        loaded = load_spec(spec)
    except SpecInvalid as exc:
        assert all(e.line >= 1 for e in exc.errors), exc.errors
        return "invalid"
    plan = make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)
    if not plan.ok:
        with pytest.raises(CompileError):
            compile_plan(plan, proj, tmp_path / "out")
        return "refused"
    compile_plan(plan, proj, tmp_path / "out")
    return "compiled"


BASE = """\
specc: 1
name: fz
goal: {behaviours: [format], consistency_required: true}
evidence: {prompting: {score: 0.1}}
constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}
base_model: {path: model, licence: apache-2.0}
data:
  train: {path: data/narrow_train.jsonl}
  golden: {path: data/narrow_golden.jsonl}
eval: {bar: 0.5}
"""


@pytest.mark.parametrize("value", [".nan", ".NaN", "-.nan"])
def test_nan_bar_is_a_located_error_not_a_compile_traceback(tmp_path, value):
    """`eval.bar: .nan` validated, planned, then crashed the compiler with LiteralError (a traceback)."""
    assert _load_plan_compile(tmp_path, BASE.replace("bar: 0.5", f"bar: {value}")) in ("invalid", "refused")


@pytest.mark.parametrize("serving", [
    "{max_latency_ms: 879, current_latency_ms: 1" + "0" * 400 + "}",
    "{max_context_tokens: 1" + "0" * 400 + ", current_context_tokens: 5}",
    "{max_cost_per_call: .inf, current_cost_per_call: 0.5}",
])
def test_huge_serving_numbers_are_located_errors_not_a_planner_traceback(tmp_path, serving):
    """A 400-digit `current_latency_ms` validated, then crashed the serving comparison with OverflowError."""
    text = BASE.replace("constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}",
                        f"constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 16}}, serving: {serving}}}")
    assert _load_plan_compile(tmp_path, text) == "invalid"


def test_recursive_alias_is_a_located_error(tmp_path):
    """`x: &a [*a]` made the loader recurse until RecursionError."""
    assert _load_plan_compile(tmp_path, BASE + "loop: &a [*a]\n") == "invalid"


def test_alias_bomb_is_refused_quickly(tmp_path):
    """A 1 kB "billion laughs" spec (9 levels of 10 aliases) must be refused in seconds, not expanded:
    the loader builds plain data from every alias, so time and memory grow 10x per level."""
    lines = [BASE, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    lines += [f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 10)}]\n" for k in range(1, 9)]
    spec = tmp_path / "bomb.yaml"
    spec.write_text("".join(lines), encoding="utf-8")
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from specc.spec.loader import load_spec\nfrom specc.spec.errors import SpecInvalid\n"
            "try:\n    load_spec(sys.argv[1])\nexcept SpecInvalid as exc:\n    print(exc)\n    sys.exit(1)\n")
    try:
        proc = subprocess.run([os.sys.executable, "-c", code, str(spec)], capture_output=True, text=True,
                              timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("specc took over 15 s on a 1 kB alias bomb (exponential alias expansion)")
    assert proc.returncode == 1 and "bomb.yaml:" in proc.stdout, proc.stdout[-500:] + proc.stderr[-1500:]


@pytest.mark.parametrize("key", ["project", "entity"])
def test_nul_in_tracking_names_is_a_located_error_not_a_compile_traceback(tmp_path, key):
    """`tracking.project: "a\\0b"` validated and planned, then crashed the compiler with LiteralError
    (`sh` refuses NUL, correctly, but nothing before it does)."""
    assert _load_plan_compile(tmp_path, BASE + f'tracking: {{{key}: "a\\0b"}}\n') in ("invalid", "refused")


def test_control_character_in_yaml_is_located(tmp_path):
    """A raw NUL in the file is a YAML reader error; it must name its line and column, not 0:0."""
    spec = write_fuzz_project(tmp_path / "proj") / "spec.yaml"
    spec.write_text(BASE + "description: a\x00b\n", encoding="utf-8")
    with pytest.raises(SpecInvalid) as info:
        load_spec(spec)
    [err] = info.value.errors
    assert (err.line, err.column) == (BASE.count("\n") + 1, 15), err


@pytest.mark.parametrize("model", ["{id: '~nobody-specc/m'}", "{path: '~nobody-specc/m'}"])
def test_tilde_model_reference_does_not_crash_the_planner(tmp_path, model):
    """modelinfo._local_directory calls Path(ref).expanduser(): `~user` of an unknown user raises
    RuntimeError ("Could not determine home directory") out of make_plan."""
    text = BASE.replace("base_model: {path: model, licence: apache-2.0}", f"base_model: {model}")
    assert _load_plan_compile(tmp_path, text) in ("invalid", "refused", "compiled")


@pytest.mark.parametrize("where", ["data/narrow_train.jsonl", "model,"])
def test_overlong_path_does_not_crash_the_planner(tmp_path, where):
    """A 5000-character path made Path.is_file() raise OSError(ENAMETOOLONG) out of make_plan."""
    long = "x" * 5000 + ("," if where.endswith(",") else "")
    # A missing data file is an error finding; a local model that is not there (yet) is only a warning
    # (the plan can be made before the model is built), so that case may compile.
    allowed = ("invalid", "refused") if where.startswith("data") else ("invalid", "refused", "compiled")
    assert _load_plan_compile(tmp_path, BASE.replace(where, long)) in allowed


def test_logit_distillation_from_an_unknown_teacher_does_not_crash_the_planner(tmp_path):
    """make_plan raised ValueError from the estimator ("logit distillation needs the teacher's facts")
    when the teacher is a hub id specc knows nothing about; expected: an error finding."""
    text = """\
specc: 1
name: logit
goal: {behaviours: [latency]}
evidence: {retrieval: {score: 1}}
constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}
base_model: {path: model, licence: apache-2.0}
teacher: {id: some-org/unknown-model, licence: apache-2.0}
data:
  prompts: {path: data/prompts.jsonl}
  golden: {path: data/narrow_golden.jsonl}
method: {distillation: logit}
"""
    assert _load_plan_compile(tmp_path, text) in ("invalid", "refused", "compiled")


# --------------------------------------------- issue 17: spec files that are not specs, through every command

SPEC_FILE_KINDS = ["fifo", "directory", "/dev/zero", "5 MB file", "non-UTF-8", "missing"]
COMMANDS = [["validate"], ["plan"], ["compile"], ["check"], ["run"]]


def _hostile_spec_file(root: Path, kind: str) -> Path:
    spec = root / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(spec)
    elif kind == "directory":
        spec.mkdir()
        spec = root / "spec.yaml"
    elif kind == "/dev/zero":
        os.symlink("/dev/zero", spec)
    elif kind == "5 MB file":
        spec.write_bytes(b"specc: 1\n" + b"# padding\n" * 520_000)
    elif kind == "non-UTF-8":
        spec.write_bytes(b"specc: 1\nname: caf\xe9\n")
    return spec


@pytest.mark.parametrize("kind", SPEC_FILE_KINDS)
def test_a_spec_path_that_is_not_a_spec_never_hangs_or_crashes_any_command(tmp_path, kind):
    """Every command ends within seconds with one located line and the same exit code: 1 for a file that
    is not valid spec text (non-UTF-8, as validate says), 2 for a path that cannot be read as a file
    (plan, compile, check and run agree; validate reports every bad file as invalid, 1)."""
    spec = _hostile_spec_file(tmp_path, kind)
    codes = {}
    for command in COMMANDS:
        proc = subprocess.run([sys.executable, "-m", "specc", *command, str(spec)], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        out = proc.stdout + proc.stderr
        assert "Traceback" not in out, (command, out[-2000:])
        assert "spec.yaml" in out, (command, out)
        codes[command[0]] = proc.returncode
    expected = 1 if kind == "non-UTF-8" else 2
    if kind == "directory":  # validate and run take a directory as a folder of specs / a build directory
        return
    assert codes["validate"] == 1, codes
    assert {codes[c] for c in ("plan", "compile", "check", "run")} == {expected}, codes


@pytest.mark.parametrize("where", ["afile/x.yaml", "afile/deeper/x.yaml", "adir"])
def test_init_through_a_file_or_onto_a_directory_is_a_clear_error(tmp_path, where):
    """A missing directory is created (tests/test_init_schema.py); a path through a file, or a directory
    named as the spec, is a usage error, never a traceback."""
    (tmp_path / "afile").write_text("keep")
    (tmp_path / "adir").mkdir()
    proc = subprocess.run([sys.executable, "-m", "specc", "init", where], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (tmp_path / "afile").read_text() == "keep"
