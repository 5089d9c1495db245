"""Facts the planner reads from disk: each data file (hash, rows, format) and each model (size, vocabulary,
licence) — read once, before any decision, so that decisions are a pure function of spec + facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.data.facts import read_data_fact
from specc.plan.model import DataFact
from specc.plan.trace import Trace
from specc.spec.language import ModelRef, Spec

__all__ = ["FEW_ROWS", "KnownModel", "advise_small_data", "know_model", "read_data"]


FEW_ROWS = 100
"""Below this many rows a training input is small: a note, and (without prompting evidence) the advice to try
the rows as few-shot examples first."""


def read_data(spec: Spec, base_dir: Path, t: Trace) -> list[DataFact]:
    """Read every data file the spec names (streaming); problems become findings of their rule."""
    files: list[tuple[str, str, str, str]] = []
    for role in ("train", "preference", "prompts", "validation", "golden"):
        entry = getattr(spec.data, role)
        if entry is not None:
            files.append((role, role, entry.path, entry.format))
    for suite in spec.data.general_suites:
        if suite.path is not None:
            files.append(("suite", suite.name, suite.path, suite.kind))
    facts: list[DataFact] = []
    for role, name, path, declared in files:
        fact, problem = read_data_fact(role, name, path, declared, base_dir)
        facts.append(fact)
        if problem is not None:
            t.find(problem.rule, problem.message, problem.hint)
            continue
        if role in ("train", "preference", "prompts") and fact.rows is not None and fact.rows < FEW_ROWS:
            t.find("DATA-FEW-ROWS", f"{role} file {path!r} has {fact.rows} rows (< {FEW_ROWS})",
                   "quality and diversity matter more than size, but tiny sets overfit")
        if role in ("train", "preference", "prompts"):
            _scan_personal_data(spec, role, path, base_dir / path, t)
    return facts


def _scan_personal_data(spec: Spec, role: str, path: str, file: Path, t: Trace) -> None:
    """Personal data in a training input becomes a finding at the level ``data.personal_data.action`` asks for.
    The message carries counts and the first location of each kind, never the data."""
    from specc.contract.pii import describe_counts, scan_file

    report = scan_file(file, name=path, role=role)
    if not report.total:
        return
    policy = spec.data.personal_data
    message = (f"{role} file {path!r} holds personal data in {report.rows_flagged} of {report.rows} rows: "
               f"{describe_counts(report)}")
    if policy.action == "allow":
        t.find("DATA-PERSONAL-DATA", f"{message}; allowed by data.personal_data: {policy.reason}", level="info")
        return
    t.find("DATA-PERSONAL-DATA", message,
           "remove or pseudonymise it (a tuned model can repeat its training rows), or set data.personal_data.action "
           "to allow with a reason; `specc check` lists every hit",
           level="error" if policy.action == "error" else "warning")


def advise_small_data(spec: Spec, data: list[DataFact], trains: bool, t: Trace) -> None:
    """A handful of demonstrations is a prompt, not a training set: without evidence that prompting (with those
    examples) fell short, advise trying them as few-shot examples first."""
    if not trains or spec.evidence.prompting is not None:
        return
    small = [d for d in data if d.role == "train" and d.rows is not None and d.rows < FEW_ROWS]
    for fact in small:
        t.find("DATA-FEW-SHOT-FIRST",
               f"data.train {fact.path!r} has only {fact.rows} rows and evidence.prompting is absent: put the best "
               "of them into the prompt as few-shot examples before training on them",
               "score the few-shot prompt on the golden set and record it under evidence.prompting; tune only if "
               "it falls short of eval.bar")
        t.recommend(f"Try the {fact.rows} demonstrations of {fact.path} as few-shot examples in the prompt first; "
                    "record the golden-set score under evidence.prompting.")


@dataclass(frozen=True)
class KnownModel:
    """A model as the planner sees it: the spec's reference plus what modelinfo and the registry know."""

    ref: ModelRef
    params: int | None
    params_source: str | None
    vocab_size: int | None
    model_type: str | None
    licence: str | None
    facts: Any


def know_model(ref: ModelRef, base_dir: Path) -> KnownModel:
    from specc.plan.modelinfo import model_facts
    from specc.plan.registry.lookup import licence_for_model

    facts = model_facts(ref.ref, base_dir)
    licence = ref.licence or (facts.license if facts is not None else None) or licence_for_model(ref.ref)
    if licence is not None and licence.strip().lower() in ("other", "unknown"):
        licence = None
    return KnownModel(
        ref=ref,
        params=facts.params if facts is not None else None,
        params_source=facts.source if facts is not None else None,
        vocab_size=facts.vocab_size if facts is not None else None,
        model_type=facts.model_type if facts is not None else None,
        licence=licence,
        facts=facts,
    )

