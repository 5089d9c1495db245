"""Facts the planner reads from disk: each data file (hash, rows, format) and each model (size, vocabulary,
licence) — read once, before any decision, so that decisions are a pure function of spec + facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.data.facts import read_data_fact
from specc.plan.model import DataFact
from specc.plan.trace import Trace
from specc.spec.language import ModelRef, Spec

__all__ = ["FEW_ROWS", "KnownModel", "advise_small_data", "know_model", "read_data", "task_rows"]


FEW_ROWS = 100
"""Below this many rows a training input is small: a note, and (without prompting evidence) the advice to try
the rows as few-shot examples first."""


def read_data(spec: Spec, base_dir: Path, t: Trace) -> list[DataFact]:
    """Read every data source the spec names (streaming); problems become findings of their rule.

    Plain JSONL files are read here with the standard library; every other source (other file kinds,
    Hub datasets, column mappings) through the runtime loader (:mod:`specc.data.sourcefacts`)."""
    from specc.data.sourcefacts import is_plain_jsonl, read_source_fact, same_source
    from specc.spec.language import GoldenSet, HeldOutFraction, Mixture, members_of

    facts: list[DataFact] = []
    problems: list[tuple[DataFact, list[Any]]] = []
    scanned: dict[tuple[str, str], Any] = {}  # (role, path) -> personal-data scan made while hashing the file
    for role in ("train", "preference", "prompts", "validation", "replay", "golden"):
        entry = getattr(spec.data, role)
        if isinstance(entry, HeldOutFraction):  # a share of data.train: no source of its own (stages split it)
            facts.append(_held_out(entry.fraction, facts))
            continue
        mixture = isinstance(entry, Mixture)
        listed = mixture or isinstance(entry, GoldenSet)  # a golden set given as a list: each member its own fact
        members: list[DataFact] = []
        for i, member in enumerate(members_of(entry)):
            name = f"{role}[{i}]" if listed else role
            if is_plain_jsonl(member):
                scanner = _personal_data_scanner(role, member.path)
                fact, problem = read_data_fact(role, name, member.path, member.format, base_dir,
                                               on_chunk=scanner.feed if scanner is not None else None)
                if scanner is not None:
                    scanned[(role, member.path)] = scanner.finish()
                found = [problem] if problem is not None else []
            else:
                fact, found = read_source_fact(role, member, base_dir, name)
            members.append(fact)
            problems.append((fact, found))
        if mixture and members and all(f.exists and f.rows is not None for f in members):
            members = _mixed(role, entry.members, members, t)  # type: ignore[union-attr]
        if role == "replay" and members and spec.data.replay is not None:
            members = [_replayed(members[0], spec.data.replay.ratio, facts)]
        facts.extend(members)
    for suite in spec.data.general_suites:
        if not suite.reads_rows:
            continue
        source = suite.as_source()
        if is_plain_jsonl(source):
            fact, problem = read_data_fact("suite", suite.name, source.path, suite.kind, base_dir)
            found = [problem] if problem is not None else []
        else:  # any other source (a Hub split, Parquet, CSV, a folder), read as the eval stages will read it
            fact, found = read_source_fact("suite", source, base_dir, suite.name)
            fact = fact.model_copy(update={"format": suite.kind})
        facts.append(fact)
        problems.append((fact, found))
    for fact, found in problems:
        for problem in found:
            t.find(problem.rule, problem.message, problem.hint)
        if (not any(p.rule != "DATA-HUB-UNPINNED" for p in found) and fact.role in ("train", "preference", "prompts")
                and fact.rows is not None and fact.rows < FEW_ROWS):
            t.find("DATA-FEW-ROWS", f"{fact.role} file {fact.path!r} has {fact.rows} rows (< {FEW_ROWS})",
                   "quality and diversity matter more than size, but tiny sets overfit")
        local = base_dir / fact.path
        if (fact.role in ("train", "preference", "prompts", "replay") and fact.exists and not found
                and fact.path.endswith(".jsonl") and local.is_file()):
            # personal data: scanned in local JSONL here (the firewall stage scans every source at run time)
            _scan_personal_data(spec, fact.role, fact.path, local, t, scanned.get((fact.role, fact.path)))
    golden = spec.data.golden
    for role in ("train", "preference", "prompts", "validation", "replay"):
        entry = getattr(spec.data, role)
        if isinstance(entry, HeldOutFraction):
            continue
        if entry is None:
            continue
        for member in members_of(golden):  # every golden member against every member of every training role
            if same_source(member, entry):
                what = "the golden set" if not isinstance(golden, GoldenSet) else "a golden set member"
                t.find("DATA-GOLDEN-IS-TRAINING", f"{what} and data.{role} are the same source ({member.where})",
                       "hold the golden set out: a separate file, or another split of the dataset")
    return facts


def _personal_data_scanner(role: str, path: str) -> Any:
    """A byte scanner for a local JSONL training input (None for other files), fed while the file is hashed so
    the file is read once at plan time."""
    if role not in ("train", "preference", "prompts") or not path.endswith(".jsonl"):
        return None
    from specc.contract.pii import ByteScanner

    return ByteScanner(path, role)


def _scan_personal_data(spec: Spec, role: str, path: str, file: Path, t: Trace, report: Any = None) -> None:
    """Personal data in a training input becomes a finding at the level ``data.personal_data.action`` asks for.
    The message carries counts and the first location of each kind, never the data. ``report`` is the scan
    already made while the file was hashed (scanned here when absent)."""
    from specc.contract.pii import describe_counts, scan_file

    if report is None:
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


def _held_out(fraction: float, facts: list[DataFact]) -> DataFact:
    """``data.validation: {fraction: f}`` as a fact: the rows it will hold out of the first training stage's
    input — data.train when given (the SFT stage), else data.preference (the DPO/ORPO/KTO/reward stage) — by a
    seeded split (``datasets``' ``train_test_split`` holds out ceil(rows × fraction), and so does the plan)."""
    role = "train" if any(f.role == "train" for f in facts) else "preference"
    train = [f for f in facts if f.role == role]
    rows = sum((f.mix or {}).get("rows_used", f.rows or 0) for f in train)
    formats = {f.format for f in train}
    fmt = "messages" if formats == CHAT_MIX else train[0].format if train else "auto"  # a chat mix is chat
    return DataFact(role="validation", name="validation", path=f"{fraction:g} of data.{role}",
                    format=fmt, exists=bool(train), rows=math.ceil(rows * fraction) if rows else 0,
                    source={"kind": "held_out", "fraction": fraction, "of": f"data.{role}"})


CHAT_MIX = frozenset({"messages", "prompt_completion"})
"""Member formats a mixture may combine: prompt/completion rows (alpaca, say) join chat rows (sharegpt) as
one-turn conversations (:func:`specc.runtime.datasource.load_mixture`), so the mix is trained as messages."""


def task_rows(facts: list[DataFact]) -> int | None:
    """Rows the SFT stage trains on before replay: data.train (its mixture's draw), less a held-out split."""
    train = [f for f in facts if f.role == "train"]
    if not train or any(f.rows is None for f in train):
        return None
    rows = sum(int((f.mix or {}).get("rows_used", f.rows or 0)) for f in train)
    held = next((f for f in facts if f.role == "validation" and (f.source or {}).get("kind") == "held_out"
                 and (f.source or {}).get("of") == "data.train"), None)
    return rows - (held.rows or 0) if held is not None else rows


def _replayed(fact: DataFact, ratio: float, facts: list[DataFact]) -> DataFact:
    """``data.replay`` with the rows it adds to the SFT stage (its ``ratio`` of the final mix) and their estimated
    tokens (bytes / 4 × rows drawn / rows in the source), as mixture members show theirs."""
    from specc.data.mixture import replay_rows

    task = task_rows(facts)
    if task is None or not fact.exists or not fact.rows:
        return fact
    used = replay_rows(task, ratio)
    tokens = int((fact.bytes or 0) / 4 * used / max(1, fact.rows))
    return fact.model_copy(update={"mix": {"ratio": ratio, "task_rows": task, "rows_used": used, "tokens": tokens}})


def _mixed(role: str, specs: list[Any], members: list[DataFact], t: Trace) -> list[DataFact]:
    """Members of a mixture with the rows each contributes and their estimated tokens (bytes / 4 × share)."""
    from specc.data.mixture import MixtureError, member_counts

    formats = sorted({f.format for f in members})
    if len(formats) > 1 and set(formats) != CHAT_MIX:
        t.find("DATA-MIXTURE-INVALID", f"the members of data.{role} differ in format ({', '.join(formats)})",
               "map every member to one format (format:, columns:)")
        return members
    try:
        counts = member_counts([f.rows or 0 for f in members], [m.weight for m in specs],
                               [m.max_rows for m in specs], [m.fraction for m in specs])
    except MixtureError as exc:
        which = f" (member {exc.member} is {specs[exc.member].where})" if exc.member is not None else ""
        t.find("DATA-MIXTURE-INVALID", f"data.{role}: {exc}{which}", "lower max_rows/fraction or drop the member")
        return members
    out = []
    for fact, spec_member, used in zip(members, specs, counts):
        tokens = int((fact.bytes or 0) / 4 * used / max(1, fact.rows or 0))
        out.append(fact.model_copy(update={"mix": {"weight": spec_member.weight, "max_rows": spec_member.max_rows,
                                                   "fraction": spec_member.fraction, "rows_used": used,
                                                   "tokens": tokens}}))
    return out


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

