"""Inputs of a firewall scan: which files, and how strict to be.

Kept apart from the scan itself so the planner and the CLI can build and validate
them (e.g. from a spec) without pulling in any scanning code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FirewallSettings", "InputFile", "THRESHOLD_PROBLEM", "ignore_problem"]

#: Why a threshold of 1 (or more) is refused, for every place that refuses it.
THRESHOLD_PROBLEM = (
    "threshold must be at least 0 and below 1: a threshold of 1 passes even training data equal to the "
    "golden set; if shared boilerplate (a system prompt, an instruction template) flags every golden row, "
    "declare it under eval.firewall.ignore instead"
)


def ignore_problem(text: str) -> str | None:
    """Why ``text`` cannot be declared boilerplate (None when it can): it must normalise to two or more
    words, or cutting it out would split every field at a common word and blind the firewall."""
    from specc.contract.textnorm import normalize_words

    if len(normalize_words(text)) < 2:
        return (f"ignore entry {text!r} must be at least two words (after removing case and punctuation): "
                "a single word is not boilerplate, and cutting it out of every field would hide copies")
    return None


@dataclass(frozen=True)
class InputFile:
    """One JSONL data file the firewall reads.

    ``path`` is where to read it; ``name`` is what reports show (a path relative to
    the spec, so reports are the same on every machine); ``role`` says what the
    file feeds ("train", "preference", "teacher_prompts", "golden", ...) and is
    carried into the report so a reviewer sees which input leaked.
    """

    path: str | os.PathLike[str]
    name: str
    role: str = "train"
    source: Mapping[str, Any] | None = None
    """How to load a source that is not a plain JSONL file (a plan's ``DataFact.source``): read through
    :func:`specc.data.sources.iter_source_rows`, the loader the stages use."""
    format: str = "auto"

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], role: str | None = None) -> InputFile:
        """From a stage CONFIG data entry (``path`` relative to the build directory, ``source`` from the plan)."""
        return cls(entry.get("path") or "", name=entry["spec_path"], role=role or entry["role"],
                   source=entry.get("source"), format=entry.get("format") or "auto")

    def rows(self):
        """``(name, row number, row)`` of every row, from any source (:mod:`specc.data.sources`)."""
        from specc.data.sources import Source, iter_source_rows

        entry = {"path": os.fspath(self.path) if self.path else None, "source": self.source, "format": self.format}
        return iter_source_rows(Source.from_entry(entry, name=self.name))


@dataclass(frozen=True)
class FirewallSettings:
    """How the firewall decides that training data touches the golden set.

    Defaults follow common decontamination practice (13-word n-grams, as in GPT-3
    and lm-evaluation-harness) and err towards failing: any contaminated golden row
    fails the check.

    Attributes:
        ngram_n: words per n-gram. Longer means fewer coincidental matches of
            stock phrases; shorter catches smaller copied fragments.
        ngram_floor: golden fields shorter than ``ngram_n`` words (but at least
            this many) are matched as one n-gram of their own length, i.e. the
            whole field must appear word-for-word in a training field. Below the
            floor a field is only checked by exact match.
        exact_min_words: a golden *field* takes part in exact matching only if it
            has at least this many words, so a short answer such as "4" or "Yes"
            does not flag every training row that says the same. The whole golden
            row (all its text fields joined) is always matched exactly, whatever
            its length: a training row equal to a whole golden row is a copy.
        question_exact_min_words: a golden *question* (prompt, user turn, plain
            text) takes part in exact matching from this many words: a training
            field equal to a two-word golden question is that question.
        contain_min_words: a golden question of at least this many words (and
            under ``ngram_floor``) is contamination wherever it appears inside a
            training field ("Question: <golden question> please"). Shorter golden
            rows are caught when the whole row (every question and answer) appears
            in one training row, across its fields (contained stage).
        threshold: largest allowed fraction of contaminated golden rows; 0 means
            any contaminated golden row fails the check. Must be below 1: a
            threshold of 1 passes even training data equal to the golden set.
        ignore: declared boilerplate (a shared system prompt, an instruction
            template): each text is cut out of every golden and training field
            before matching, and the report says how often it was found. Each must
            be at least two words once normalised, so no single word can blind the check.
        exact / contained / ngrams / near_duplicates: which stages run. Near-duplicate search
            (MinHash + verified Jaccard on word shingles of whole rows) is off by
            default because it costs far more than the other two.
        jaccard_threshold: a training row whose word-shingle Jaccard similarity
            with a golden row is at least this is a near duplicate.
        shingle_size: words per shingle for the near-duplicate stage. Small values
            keep short, lightly edited rows similar.
        minhash_permutations / minhash_bands: MinHash signature length and LSH
            band count (must divide it). More bands find lower similarities as
            candidates (more recall, more verification work); candidates are
            always verified with the exact Jaccard, so this never adds false hits.
        max_hits_per_golden_row / max_hits_listed: how many individual hits the
            report lists per golden row and in total; counts stay exact.
    """

    ngram_n: int = 13
    ngram_floor: int = 8
    exact_min_words: int = 5
    question_exact_min_words: int = 2
    contain_min_words: int = 4
    threshold: float = 0.0
    ignore: tuple[str, ...] = ()
    exact: bool = True
    contained: bool = True
    ngrams: bool = True
    near_duplicates: bool = False
    jaccard_threshold: float = 0.8
    shingle_size: int = 3
    minhash_permutations: int = 128
    minhash_bands: int = 32
    max_hits_per_golden_row: int = 5
    max_hits_listed: int = 200

    @classmethod
    def from_spec(cls, firewall: Mapping[str, Any], *, threshold: float | None = None,
                  near_duplicates: bool | None = None) -> FirewallSettings:
        """Settings from a spec's ``eval.firewall`` section (as a mapping: ``ngram``, ``threshold``,
        ``near_duplicates``, ``jaccard``, ``ignore``). The one mapping that the emitted firewall stage and
        ``specc check`` share, so both always check the same thing; keyword arguments override the spec.
        """
        ngram = int(firewall.get("ngram", cls.ngram_n))
        return cls(
            ngram_n=ngram,
            ngram_floor=min(ngram, cls.ngram_floor),
            threshold=float(firewall.get("threshold", cls.threshold) if threshold is None else threshold),
            near_duplicates=bool(firewall.get("near_duplicates", cls.near_duplicates)
                                 if near_duplicates is None else near_duplicates),
            jaccard_threshold=float(firewall.get("jaccard", cls.jaccard_threshold)),
            ignore=tuple(firewall.get("ignore") or ()),
        )

    def __post_init__(self) -> None:
        if not isinstance(self.ignore, tuple):
            object.__setattr__(self, "ignore", tuple(self.ignore))
        problems = []
        if self.ngram_n < 1:
            problems.append("ngram_n must be at least 1")
        if not 1 <= self.ngram_floor <= self.ngram_n:
            problems.append("ngram_floor must be between 1 and ngram_n")
        if self.exact_min_words < 1:
            problems.append("exact_min_words must be at least 1")
        if not 0.0 <= self.threshold < 1.0:
            problems.append(THRESHOLD_PROBLEM)
        if not 1 <= self.question_exact_min_words:
            problems.append("question_exact_min_words must be at least 1")
        if not 3 <= self.contain_min_words:
            problems.append("contain_min_words must be at least 3")
        problems += [problem for text in self.ignore if (problem := ignore_problem(text)) is not None]
        if not 0.0 < self.jaccard_threshold <= 1.0:
            problems.append("jaccard_threshold must be in (0, 1]")
        if self.shingle_size < 1:
            problems.append("shingle_size must be at least 1")
        if self.minhash_bands < 1 or self.minhash_permutations % self.minhash_bands:
            problems.append("minhash_bands must be a positive divisor of minhash_permutations")
        if self.max_hits_per_golden_row < 0 or self.max_hits_listed < 0:
            problems.append("hit listing caps must not be negative")
        if problems:
            raise ValueError("invalid firewall settings: " + "; ".join(problems))
