"""Text normalisation for contamination matching.

Two texts count as "the same words" when they differ only in Unicode
compatibility forms (full-width letters, ligatures), case, punctuation or
whitespace. Contamination rarely arrives byte-identical: a golden question gets
re-cased, re-punctuated or pasted through a tool that swaps quotes, so matching
must see through all of that.

The definition, applied in this order:

1. Unicode NFKC, then full case folding (``str.casefold``), then NFKC again
   (case folding can leave text that is no longer NFKC-normal);
2. apostrophes (``'``, ``’``, ``ʼ`` and friends) are deleted, so "don't" == "dont";
3. every other Unicode punctuation character (general category ``P*``) becomes a
   space, so "well-known" == "well known" and "end.Start" == "end start";
   symbols (``S*``: ``+ $ =``) and digits are kept, they carry meaning;
4. whitespace (any Unicode whitespace) is collapsed by splitting into words.

Speed matters (this runs over every training byte), so all of it is C-level
builtins: ``unicodedata.normalize``, ``str.casefold``, ``str.translate`` and
``str.split``, with an ASCII fast path. The translation table is filled lazily per
character (a ``dict`` with ``__missing__``) so importing this module costs nothing.
"""

from __future__ import annotations

import unicodedata

__all__ = ["ASCII_TABLE", "normalize", "normalize_words"]

_APOSTROPHES = frozenset("'\u2019\u2018\u02bc\u02bb\uff07\u055a\u05f3")


class _PunctuationTable(dict[int, "str | None"]):
    """Code point -> replacement for ``str.translate``, computed on first sight.

    Maps apostrophes to deletion, other punctuation to a space and leaves every
    other character alone. Caching keeps repeated lookups at dict speed.
    """

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        if char in _APOSTROPHES:
            value: str | None = None
        elif unicodedata.category(char).startswith("P"):
            value = " "
        else:
            value = char
        self[code] = value
        return value


_TABLE = _PunctuationTable()
# ASCII is by far the most common input; precompute it so the fast path never misses.
for _code in range(128):
    _TABLE[_code]
del _code

#: The translation table for already-lowercased ASCII text (punctuation -> space,
#: apostrophe -> deleted). Exposed so a hot loop can inline the ASCII fast path of
#: :func:`normalize_words` as ``text.lower().translate(ASCII_TABLE).split()``.
ASCII_TABLE: dict[int, str | None] = {code: _TABLE[code] for code in range(128)}


def normalize_words(text: str) -> list[str]:
    """Split ``text`` into normalised words (see the module docstring for the definition)."""
    if text.isascii():
        return text.lower().translate(ASCII_TABLE).split()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.translate(_TABLE).split()


def normalize(text: str) -> str:
    """Return ``text`` normalised: words joined by single spaces, no leading/trailing space."""
    return " ".join(normalize_words(text))
