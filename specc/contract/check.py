"""``specc check``: the golden-set firewall of a spec, run on its own (for CI on every pull request).

The emitted ``firewall`` stage (``templates/stages/firewall.py.j2``) runs the same check right before
training; this module lets CI run it without planning, compiling or installing the training stack, so a
pull request that copies golden rows into training data fails where the data changed, not hours later.

What is checked, exactly as the stage checks it:

* the golden set (``data.golden``) against **every** training input, in this order: ``data.train``,
  ``data.preference`` and ``data.prompts`` (what a distillation teacher answers or online RL samples from);
  each input carries its spec section as its role;
* with the settings of ``eval.firewall`` mapped by the same function (``FirewallSettings.from_spec``); the command
  line may override ``threshold`` and ``near_duplicates``.

Every general suite that reads rows (``data.general_suites[*]``, any source) is read once: the rows the stages
score (the first ``limit``) are checked by :func:`specc.data.rowformat.suite_row_problem` (the baseline and eval
stages' own check), counted, and indexed; training rows are matched against them as the scan streams them, and
suite rows found in training data are a warning (:mod:`specc.contract.suiteoverlap`), never a failure.

Before scanning, every row of every input file (golden included) is checked against its format — declared
in the spec, or detected from the first row when ``auto`` (:func:`specc.data.rowformat.detect_format`) — so a
missing or misspelled column is reported as ``file:line`` here, not as a trainer traceback later.
Problems with the data raise :class:`specc.data.jsonl.DataError`.

A spec without a golden set has nothing to firewall: its data is still validated, and the result is a
pass with a note (``skipped``), like the emitted stage's report.

This module imports only the standard library and specc's light modules (no torch/transformers).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from specc.spec.errors import github_annotation as _github_annotation
from specc.contract.settings import FirewallSettings, InputFile
from specc.data.jsonl import DataError
from specc.data.rowformat import ROLE_FORMATS, _describe_keys, detect_format, row_problem

__all__ = [
    "CheckInput",
    "CheckResult",
    "TRAINING_ROLES",
    "check_inputs",
    "display_path",
    "firewall_settings",
    "render_github",
    "render_json",
    "render_text",
    "run_check",
    "suite_inputs",
    "validate_rows",
]

#: The spec sections that feed training, in the order the firewall stage scans them.
TRAINING_ROLES: tuple[str, ...] = ("train", "preference", "prompts", "validation", "replay")

_FORMAT_HINT = "use messages, prompt/completion, prompt/chosen/rejected, text or prompt"


@dataclass(frozen=True)
class CheckInput:
    """One data file of the spec: its section (role), where it is, and how to name it in output."""

    role: str
    spec_path: str  # as written in the spec (relative to the spec's directory)
    path: Path  # where to read it
    display: str  # how output names it: relative to the current directory when possible
    format: str  # declared format ("auto" to detect from the first row)
    source: dict[str, Any] | None = None  # how to load a source that is not plain JSONL (Hub, CSV, mapping...)
    suite: str | None = None  # a general suite's name (role "suite"; ``format`` is then the suite's kind)
    limit: int | None = None  # a suite's rows: the stages score only the first ``limit``

    def input_file(self) -> InputFile:
        hub = (self.source or {}).get("kind") == "hub"  # no local path: Path("") would mean the current directory
        fmt = "auto" if self.role == "suite" else self.format  # a suite's ``format`` is its kind, not a row format
        return InputFile("" if hub else self.path, name=self.display, role=self.role, source=self.source,
                         format=(self.source or {}).get("format") or fmt)


@dataclass(frozen=True)
class CheckResult:
    """What ``specc check`` found. ``report`` is None when the spec has no golden set (nothing to scan)."""

    spec: str
    golden: CheckInput | list[CheckInput] | None  # a list: the members of a golden set given as a list
    training: tuple[CheckInput, ...]
    rows: dict[str, int]  # display path -> rows validated
    report: Any  # specc.contract.report.FirewallReport | None
    personal_data: Any = None  # specc.contract.pii.PiiReport: personal data in the training rows
    suites: tuple[CheckInput, ...] = ()  # general suites that read rows (role "suite"), in spec order
    suite_rows: dict[str, int] | None = None  # suite name -> rows validated (those the stages score)
    suite_overlap: Any = None  # specc.contract.suiteoverlap.SuiteOverlapReport: suite rows found in training data

    @property
    def skipped(self) -> bool:
        return self.report is None

    @property
    def passed(self) -> bool:
        pii_ok = self.personal_data is None or self.personal_data.passed
        return (self.report is None or bool(self.report.passed)) and pii_ok


def display_path(path: str | os.PathLike[str], *, relative_spec: bool = True, cwd: Path | None = None) -> str:
    """A path for output: relative to the current directory when it lies inside it; otherwise relative
    (``../x``) when the user named the spec by a relative path, else absolute. Never needlessly absolute."""
    absolute = Path(os.path.abspath(path))
    here = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    try:
        return absolute.relative_to(here).as_posix()
    except ValueError:
        pass
    # The current directory may be reached through a symlink (e.g. /tmp on macOS): compare real paths too.
    try:
        return Path(os.path.realpath(absolute)).relative_to(Path(os.path.realpath(here))).as_posix()
    except ValueError:
        pass
    if relative_spec:
        try:
            return Path(os.path.relpath(absolute, here)).as_posix()
        except ValueError:  # another drive (Windows)
            pass
    return str(absolute)


def firewall_settings(
    firewall: Any, *, threshold: float | None = None, near_duplicates: bool | None = None
) -> FirewallSettings:
    """``eval.firewall`` of a spec as scan settings, mapped exactly as the emitted firewall stage maps them.

    ``firewall`` is the spec's :class:`specc.spec.language.Firewall` (or any object with its attributes); the keyword
    arguments override the spec (command-line flags).
    """
    return FirewallSettings.from_spec(firewall.model_dump(), threshold=threshold, near_duplicates=near_duplicates)


def check_inputs(loaded: Any, spec_arg: str | os.PathLike[str] | None = None
                 ) -> tuple[CheckInput | list[CheckInput] | None, list[CheckInput]]:
    """(golden, training inputs) of a loaded spec, paths resolved against the spec's directory. The golden set
    is one input, or the list of its members' inputs when the spec gives it as a list of sources."""
    relative_spec = spec_arg is None or not os.path.isabs(spec_arg)
    data = loaded.spec.data
    from specc.spec.language import GoldenSet, HeldOutFraction, members_of

    def make(role: str, entry: Any) -> CheckInput:
        return _make_input(loaded, role, entry, relative_spec)

    # every member of a mixture is checked whole (a superset of the rows the mix draws)
    training = [make(role, member) for role in TRAINING_ROLES for member in members_of(getattr(data, role))
                if not isinstance(member, HeldOutFraction)]  # a held-out share of train is scanned with train
    if data.golden is None:
        return None, training
    if isinstance(data.golden, GoldenSet):
        return [make("golden", member) for member in data.golden.members], training
    return make("golden", data.golden), training


def _make_input(loaded: Any, role: str, entry: Any, relative_spec: bool, **extra: Any) -> CheckInput:
    """One spec source as a :class:`CheckInput`: a local path resolved against the spec's directory, or a Hub
    dataset (read through the runtime loader, which needs the data stack and says which extra when missing)."""
    from specc.data.mapping import SOURCE_FORMATS
    from specc.data.sourcefacts import is_plain_jsonl, source_config
    from specc.data.sources import local_kind

    fmt = extra.pop("format", None) or SOURCE_FORMATS.get(entry.format, entry.format)
    if entry.path is None:  # a Hub dataset: read through the runtime loader (needs the data stack)
        return CheckInput(role=role, spec_path=entry.where, path=Path(""), display=entry.where, format=fmt,
                          source=source_config(entry, "hub", entry.revision), **extra)
    path = Path(os.path.normpath(os.path.join(loaded.base_dir, entry.path)))
    source = None if is_plain_jsonl(entry) else source_config(entry, local_kind(path) or "jsonl", None)
    return CheckInput(role=role, spec_path=entry.path, path=path,
                      display=display_path(path, relative_spec=relative_spec), format=fmt, source=source, **extra)


def suite_inputs(loaded: Any, spec_arg: str | os.PathLike[str] | None = None) -> list[CheckInput]:
    """The general suites of a loaded spec that read rows from a source (any kind: local file or folder, Hub
    split), in spec order; an ``lm_eval`` task or the built-in refusal set has no rows of the spec to check."""
    relative_spec = spec_arg is None or not os.path.isabs(spec_arg)
    return [_make_input(loaded, "suite", suite.as_source(), relative_spec, format=suite.kind, suite=suite.name,
                        limit=suite.limit)
            for suite in loaded.spec.data.general_suites if suite.reads_rows]


def _checked_suite_rows(inp: CheckInput, counts: dict[str, int]) -> Iterator[tuple[str, int, Any]]:
    """The rows of one general suite the stages score (the first ``limit``), each checked as the baseline and
    eval stages check it (:func:`specc.data.rowformat.suite_row_problem`); the count goes to ``counts``."""
    from specc.data.rowformat import suite_row_problem

    rows = 0
    # any source, through the stages' loader; a row past ``limit`` is never read (the stages do not read it)
    for name, line, row in itertools.islice(inp.input_file().rows(), inp.limit):
        problem = suite_row_problem(row, inp.format)
        if problem is not None:
            raise DataError(inp.display, line, f"suite {inp.suite!r} ({inp.format}): {problem}")
        rows += 1
        yield name, line, row
    if rows == 0:
        raise DataError(inp.display, 0, f"suite {inp.suite!r} has no rows: the forgetting gate would measure nothing")
    counts[inp.suite or inp.display] = rows


def _resolve_format(inp: CheckInput, line: int, row: dict[str, Any]) -> str:
    """The format every row of ``inp`` must have, decided on its first row (as the planner decides it)."""
    detected = detect_format(row)
    declared = inp.format
    if declared == "auto":
        if detected is None:
            raise DataError(inp.display, line, f"row keys ({_describe_keys(row)}) match no known format; {_FORMAT_HINT}")
        fmt = detected
    else:
        fmt = declared
    allowed = ROLE_FORMATS.get(inp.role, ())
    if allowed and fmt not in allowed:
        raise DataError(
            inp.display, line,
            f"a {inp.role} file must be {' or '.join(allowed)}, not {fmt}"
            + ("" if declared == "auto" else " (declared in the spec)"),
        )
    return fmt


def _checked_rows(inp: CheckInput, counts: dict[str, int], personal: Any = None,
                  observe: Any = None) -> Iterator[tuple[str, int, Any]]:
    """Every row of ``inp`` (as :meth:`InputFile.rows` yields it), each checked against its format first;
    when the rows are exhausted, their count is stored under ``inp.display`` in ``counts``. ``personal`` (a
    :class:`specc.contract.pii.PiiFileReport`) also gets each row's personal-data scan.

    Why a filter and not a pass of its own: the firewall scan reads every row anyway, so checking rows as
    they stream through it reads and parses each file once instead of twice (``specc check`` on large
    training sets is dominated by reading)."""
    fmt: str | None = None
    rows = 0
    scan_row = None
    if personal is not None:
        from specc.contract.pii import scan_rows

        scan_row = functools.partial(scan_rows, name=personal.name, role=personal.role, report=personal)
    for name, line, row in inp.input_file().rows():  # any source, through the stages' loader
        if fmt is None:
            fmt = _resolve_format(inp, line, row)
        problem = row_problem(row, fmt, inp.role)
        if problem is not None:
            raise DataError(inp.display, line, problem)
        rows += 1
        if scan_row is not None:
            scan_row(((line, row),))
        if observe is not None:  # the general-suite overlap scan sees the row as it passes (no second read)
            observe(line, row)
        yield name, line, row
    counts[inp.display] = rows


@dataclass(frozen=True)
class _CheckedInput(InputFile):
    """An :class:`InputFile` whose rows are format-checked (and counted) as the scan reads them."""

    check: CheckInput | None = None
    counts: dict[str, int] | None = None
    personal: Any = None
    observe: Any = None

    def rows(self):
        return _checked_rows(self.check, self.counts, self.personal, self.observe)


def _checked(inp: CheckInput, counts: dict[str, int], personal: Any = None, observe: Any = None) -> InputFile:
    plain = inp.input_file()
    return _CheckedInput(plain.path, plain.name, plain.role, plain.source, plain.format, check=inp, counts=counts,
                         personal=personal, observe=observe)


def validate_rows(inp: CheckInput) -> int:
    """Check every row of one file against its format; return the row count. Raises :class:`DataError`
    naming ``file:line`` for unreadable data (missing or empty file, non-UTF-8, malformed JSON) and for
    rows that do not fit the format."""
    counts: dict[str, int] = {}
    for _row in _checked_rows(inp, counts):
        pass
    return counts[inp.display]


def run_check(
    loaded: Any,
    spec_arg: str | os.PathLike[str] | None = None,
    *,
    threshold: float | None = None,
    near_duplicates: bool | None = None,
) -> CheckResult:
    """Validate every data file of the spec, then scan the golden set against every training input.

    Raises :class:`DataError` for bad data. The result's ``report`` is None for a spec without a golden set.
    Each file is read once for row checks and the firewall (the checks run as the scan streams the rows);
    a local JSONL file is read a second time by the personal-data byte scan, which parses only the few
    lines its byte pre-filter flags.
    """
    spec_display = display_path(spec_arg if spec_arg is not None else loaded.path,
                                relative_spec=spec_arg is None or not os.path.isabs(spec_arg))
    golden, training = check_inputs(loaded, spec_arg)
    settings = firewall_settings(loaded.spec.eval.firewall, threshold=threshold, near_duplicates=near_duplicates)
    from specc.contract.pii import PiiFileReport, PiiReport, scan_file

    policy = loaded.spec.data.personal_data
    # Sources that are not one local JSONL file (Hub, CSV, Parquet, mapped) are scanned row by row as they
    # stream past; plain JSONL files by the byte scan below. Reports keep the old order: plain files first.
    streamed = {id(inp): PiiFileReport(name=inp.display, role=inp.role) for inp in training
                if inp.source and (inp.source or {}).get("kind") != "held_out"}
    counts: dict[str, int] = {}
    suites = suite_inputs(loaded, spec_arg)
    suite_counts: dict[str, int] = {}
    overlap = None
    if suites:  # each suite is read once: checked, counted and indexed for the overlap scan in one pass
        from specc.contract.suiteoverlap import SuiteOverlapScan, SuiteRows

        overlap = SuiteOverlapScan([SuiteRows(inp.suite or inp.display, inp.display,
                                              functools.partial(_checked_suite_rows, inp, suite_counts))
                                    for inp in suites], settings)

    def observer(inp: CheckInput) -> Any:
        return None if overlap is None else overlap.matcher(inp.display)

    report = None
    if golden is not None:
        # the scanner itself only when there is something to scan; a golden list is read member by member
        from specc.contract.goldenset import GoldenUnion, scan_golden

        report = scan_golden(GoldenUnion([_checked(g, counts) for g in golden]) if isinstance(golden, list)
                             else _checked(golden, counts),
                      [_checked(inp, counts, streamed.get(id(inp)), observer(inp)) for inp in training], settings,
                      share=overlap.share if overlap is not None else None)
    else:
        for inp in training:
            for _row in _checked_rows(inp, counts, streamed.get(id(inp)), observer(inp)):
                pass
    goldens = golden if isinstance(golden, list) else [golden] if golden is not None else []
    rows = {inp.display: counts[inp.display] for inp in [*training, *goldens]}
    plain = [inp for inp in training if not inp.source]
    personal = PiiReport(action=policy.action, reason=policy.reason,
                         files=[scan_file(inp.path, name=inp.display, role=inp.role) for inp in plain])
    personal.files.extend(streamed[id(inp)] for inp in training if id(inp) in streamed)
    return CheckResult(spec=spec_display, golden=golden, training=tuple(training), rows=rows, report=report,
                       personal_data=personal, suites=tuple(suites), suite_rows=suite_counts,
                       suite_overlap=None if overlap is None else overlap.report())


# ---------------------------------------------------------------------------------------------------
# Renderings
# ---------------------------------------------------------------------------------------------------


def _score(hit: Any) -> str:
    if hit.coverage is not None:
        return f", coverage {hit.coverage:.0%}"
    if hit.jaccard is not None:
        return f", jaccard {hit.jaccard:.2f}"
    return ""


def _hit_line(hit: Any, report: Any) -> str:
    return (f"{hit.location()}: {hit.stage} hit on golden {report.golden_where(hit.golden_line, hit.golden_file)}"
            f"{_score(hit)}: "
            f"\"{hit.snippet}\"")


def render_text(result: CheckResult) -> str:
    """Human output: verdict, every listed hit (training file:line + field → golden row), summary counts."""
    if result.report is None:
        names = ", ".join(f"{inp.display} [{inp.role}]" for inp in result.training) or "no training inputs"
        return (f"{result.spec}: no golden set (data.golden): nothing to firewall; skipped\n"
                f"  data validated: {names}\n")
    report = result.report
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [f"{result.spec}: golden-set firewall {verdict} ({', '.join(report.stages)})"]
    if not result.training:
        lines.append("  the spec has no training inputs (data.train, data.preference, data.prompts)")
    if report.listed_hits:
        lines.append("hits (training row → golden row):")
        lines.extend(f"  {_hit_line(hit, report)}" for hit in report.listed_hits)
        more = report.total_hits - len(report.listed_hits)
        if more > 0:
            lines.append(f"  ... and {more} more hits (counts below are exact)")
    lines.append("summary:")
    lines.append(
        f"  golden set {report.golden_file}: {report.contaminated_rows}/{report.golden_rows} rows contaminated "
        f"({report.contaminated_fraction:.2%}; allowed {report.threshold:.2%})"
    )
    by_stage = ", ".join(f"{stage} {report.hits_by_stage.get(stage, 0)}" for stage in report.stages)
    lines.append(f"  training rows scanned: {report.training_rows}; hits: {report.total_hits} ({by_stage})")
    for summary in report.files:
        lines.append(f"  - {summary.name} [{summary.role}]: {summary.rows} rows, "
                     f"{summary.rows_flagged} flagged, {summary.hits} hits")
    lines.extend(report.boilerplate_lines())
    for row in report.contaminated:
        lines.append(f"  golden {report.golden_where(row.line, row.file)}: {row.hit_count} hits "
                     f"[{', '.join(row.stages)}], "
                     f"n-gram coverage {row.coverage:.0%}")
    return "\n".join(lines) + "\n"


def render_json(result: CheckResult) -> str:
    """The report's JSON plus ``spec`` and ``passed`` (deterministic: sorted keys, trailing newline)."""
    if result.report is None:
        payload: dict[str, Any] = {
            "files": [{"name": inp.display, "role": inp.role, "rows": result.rows.get(inp.display, 0)}
                      for inp in result.training],
            "skipped": "no golden set",
        }
    else:
        payload = result.report.to_dict()
    payload["spec"] = result.spec
    payload["passed"] = result.passed
    return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


github_annotation = functools.partial(_github_annotation, title="specc firewall")
"""Annotations of this command carry the title "specc firewall" (see :func:`specc.spec.errors.github_annotation`)."""


def render_github(result: CheckResult) -> str:
    """GitHub Actions annotations: one per listed hit on the training file's line (``error`` when the check
    fails, ``warning`` when the hits stay within the threshold), then one summary line."""
    if result.report is None:
        return github_annotation("notice", f"{result.spec}: no golden set (data.golden): nothing to firewall") + "\n"
    report = result.report
    level = "warning" if report.passed else "error"
    out = []
    for hit in report.listed_hits:
        where = hit.field or "whole row"
        out.append(github_annotation(
            level,
            f"{where} matches golden row {report.golden_where(hit.golden_line, hit.golden_file)} "
            f"({hit.stage}{_score(hit)}): "
            f"\"{hit.snippet}\"",
            file=hit.file, line=hit.line,
        ))
    for entry in report.boilerplate:
        out.append(github_annotation(
            "notice", f"declared boilerplate ignored: \"{entry.text}\" in {entry.golden_rows} golden rows and "
            f"{entry.training_rows} training rows", file=result.spec))
    files = report.boilerplate_only_files or (report.golden_file,) * len(report.boilerplate_only)
    for line, file in zip(report.boilerplate_only, files):
        out.append(github_annotation(
            "error", "golden row is entirely declared boilerplate (eval.firewall.ignore): it cannot be checked",
            file=file, line=line))
    summary = (f"{result.spec}: {report.contaminated_rows}/{report.golden_rows} golden rows of "
               f"{report.golden_file} found in training data ({report.contaminated_fraction:.2%}; allowed "
               f"{report.threshold:.2%}); {report.total_hits} hits")
    if report.passed:
        out.append(github_annotation("notice", f"golden-set firewall passed: {summary}"))
    else:
        out.append(github_annotation("error", f"golden-set firewall failed: {summary}", file=result.spec))
    return "\n".join(out) + "\n"


def render(result: CheckResult, fmt: str) -> str:
    """The firewall's rendering, then the personal-data scan's (:mod:`specc.contract.pii`)."""
    personal = result.personal_data
    if fmt == "json":
        payload = json.loads(render_json(result))
        if personal is not None:
            payload["personal_data"] = personal.to_dict()
        if result.suites:
            payload["suites"] = [{"name": inp.suite, "kind": inp.format, "source": inp.display,
                                  "rows": (result.suite_rows or {}).get(inp.suite or inp.display, 0)}
                                 for inp in result.suites]
            payload["suite_overlap"] = result.suite_overlap.to_dict()
        return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        out = render_github(result)
        overlap = result.suite_overlap
        if overlap is not None:
            out += "".join(github_annotation("warning", f"{h.hit.field or 'row'} matches row {h.hit.golden_line} of "
                                             f"general suite {h.suite} ({h.suite_file}): \"{h.hit.snippet}\"",
                                             file=h.hit.file, line=h.hit.line, title="specc general suites") + "\n"
                           for h in overlap.listed)
        if personal is not None and personal.total and personal.action != "allow":
            level = "error" if personal.action == "error" else "warning"
            out += "".join(github_annotation(level, f"{h.field or 'row'}: {h.kind} {h.masked}", file=h.file,
                                             line=h.line, title="specc personal data") + "\n"
                           for f in personal.files for h in f.listed)
        return out
    text = render_text(result)
    text += "".join(line + "\n" for line in _suite_lines(result))
    if personal is not None:
        text += "\n".join(personal.render_lines()) + "\n"
    return text


def _suite_lines(result: CheckResult) -> list[str]:
    """The general suites' rows checked (those the stages score), then their overlap with the training data."""
    if not result.suites:
        return []
    counts = result.suite_rows or {}
    lines = ["general suites (rows the baseline and eval stages score):"]
    lines.extend(f"  - {inp.suite} ({inp.format}) {inp.display}: {counts.get(inp.suite or inp.display, 0)} rows"
                 for inp in result.suites)
    if result.suite_overlap is not None:
        lines.extend(result.suite_overlap.render_lines())
    return lines


def render_data_error(exc: DataError, fmt: str, spec: str) -> str:
    """A data problem in the chosen format (text goes to stderr; the caller decides)."""
    if fmt == "json":
        payload = {"error": {"column": exc.column, "file": exc.path, "line": exc.line, "message": exc.message},
                   "passed": False, "spec": spec}
        return json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return github_annotation("error", exc.message, file=exc.path, line=exc.line or None,
                                 title="specc data") + "\n"
    where = exc.path
    if exc.line:
        where += f":{exc.line}" + (f":{exc.column}" if exc.column is not None else "")
    return f"{where}: error: {exc.message} (spec {spec})\n"
