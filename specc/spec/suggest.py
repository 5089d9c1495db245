"""Hints for misspelled and misplaced keys: "did you mean `lora_r`?", "`gpus` belongs in `constraints.hardware`".

Kept apart from the loader because the same hints serve ``specc explain`` (rule ids) and the CLI (command
names): a close-match search plus knowledge of where each key of the spec language lives.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to ``word``, if one is close enough to be a likely typo."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:  # wrong case only
        return lowered[word.lower()]
    normalised = {c.replace("-", "_").replace(" ", "_").lower(): c for c in choices}
    key = word.replace("-", "_").replace(" ", "_").lower()
    if key in normalised:
        return normalised[key]
    match = difflib.get_close_matches(key, list(normalised), n=1, cutoff=0.6)
    if match:
        return normalised[match[0]]
    # Common abbreviations and long forms: lora_rank ~ lora_r, lr ~ learning_rate.
    for c in choices:
        cl = c.lower()
        if len(key) >= 3 and (cl.startswith(key) or key.startswith(cl)) and len(cl) >= 2:
            return c
    return None


def unknown_key_hint(key: str, allowed: Iterable[str], section: str, homes: dict[str, tuple[str, ...]]) -> str:
    """Explain an unknown key: a near miss in this section, or the section where the key actually lives."""
    allowed = list(allowed)
    close = did_you_mean(key, allowed)
    if close is not None:
        return f"did you mean `{close}`?"
    where = [h for h in homes.get(key, ()) if h != section]
    if where:
        target = where[0] or "the top level"
        shown = f"`{target}`" if where[0] else target
        return f"`{key}` belongs in {shown}"
    # A misspelled key that also sits in the wrong section.
    close_anywhere = did_you_mean(key, homes)
    if close_anywhere is not None:
        target = homes[close_anywhere][0]
        place = f"`{target}`" if target else "the top level"
        return f"did you mean `{close_anywhere}` (in {place})?"
    if allowed:
        return "allowed keys here: " + ", ".join(sorted(allowed))
    return ""
