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

__all__ = ["FEW_ROWS", "KnownModel", "know_model", "read_data"]


FEW_ROWS = 100


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
        elif role in ("train", "preference", "prompts") and fact.rows is not None and fact.rows < FEW_ROWS:
            t.find("DATA-FEW-ROWS", f"{role} file {path!r} has {fact.rows} rows (< {FEW_ROWS})",
                   "quality and diversity matter more than size, but tiny sets overfit")
    return facts


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

