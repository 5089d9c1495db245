"""The licence a Hub dataset's card states: the ``license:`` key of the YAML front matter of its README.md.

Why apart: the planner checks every training dataset's licence against ``goal.intended_use`` like a model's
(:mod:`specc.plan.licences`). For a Hub source the licence is written in the dataset card of the commit the
plan pinned, so it is read from that commit (:func:`specc.runtime.datasource.card_text` fetches the card the
same way the revision is resolved: git in a mirror clone, the Hub's API otherwise; never ``datasets``).
This module only parses the card (PyYAML, standard library), so it is cheap and testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

__all__ = ["CardLicence", "card_licence"]


@dataclass(frozen=True)
class CardLicence:
    """What a card says about its licence: the id (None when it states none) and the card's own words."""

    licence: str | None
    words: str


def _front_matter(text: str) -> dict | None:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for end, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            try:
                data = yaml.safe_load("\n".join(lines[1:end]))
            except yaml.YAMLError:
                return None
            return data if isinstance(data, dict) else None
    return None


def card_licence(text: str | None) -> CardLicence:
    """The licence of a dataset card's text (None: no card). A list of licences is kept when it has one
    entry; several licences are returned joined, so the planner treats them as unknown and says so."""
    meta = _front_matter(text) if text else None
    if meta is None:
        return CardLicence(None, "no YAML front matter" if text else "no dataset card (README.md)")
    value = meta.get("license")
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else ", ".join(str(v) for v in value)
    if value is None or not str(value).strip():
        return CardLicence(None, "its front matter has no `license:`")
    words = f"license: {value}"
    name = meta.get("license_name")
    if name:
        words += f" (license_name: {name})"
    return CardLicence(str(value).strip(), words)
