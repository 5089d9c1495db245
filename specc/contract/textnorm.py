"""Text normalisation for contamination matching.

Two texts count as "the same words" when they differ only in Unicode
compatibility forms (full-width letters, ligatures), case, punctuation,
whitespace, invisible characters, accents, look-alike letters from other scripts
or digit grouping. Contamination rarely arrives byte-identical: a golden question
gets re-cased, re-punctuated, pasted through a tool that swaps quotes or adds soft
hyphens (scraped HTML is full of them), or is deliberately disguised with
zero-width characters and Cyrillic look-alikes, so matching must see through all of that.

The definition, applied in this order:

1. Unicode NFKC, then full case folding (``str.casefold``), then NFKC again
   (case folding can leave text that is no longer NFKC-normal), then NFD so that
   accents become separate combining marks;
2. a digit-group separator (``,`` ``.`` ``_`` or the Arabic thousands separator
   between a digit and exactly three digits) is deleted, so "1,000,000" == "1000000";
3. invisible characters are deleted: Unicode's default-ignorable code points
   (zero-width space and joiners, soft hyphen, word joiner, invisible operators,
   variation selectors, tag characters, Hangul fillers, ...), every other format
   character (category ``Cf``), control characters other than whitespace, and
   combining marks (categories ``Mn``/``Me``: accents, the combining grapheme joiner),
   so "café" == "cafe" and "Ky\u200biv" == "Kyiv";
4. apostrophes (``'``, ``’``, ``ʼ`` and friends) are deleted, so "don't" == "dont";
5. a non-ASCII character that Unicode's confusables data (UTS #39) says looks like
   ASCII becomes that ASCII (:mod:`specc.contract.confusables`), so Cyrillic "а" == "a"
   and Greek "ο" == "o"; ASCII itself is never remapped;
6. every other Unicode punctuation character (general category ``P*``) becomes a
   space, so "well-known" == "well known" and "end.Start" == "end start";
   symbols (``S*``: ``+ $ =``) and digits are kept, they carry meaning;
7. whitespace (any Unicode whitespace) is collapsed by splitting into words.

Speed matters (this runs over every training byte), so all of it is C-level
builtins: ``unicodedata.normalize``, ``str.casefold``, ``str.translate``, one
regular expression and ``str.split``, with an ASCII fast path (steps 1, 3 and 5 do
nothing to ASCII except lower-casing and deleting control characters); in mostly-ASCII
text only the words that hold a non-ASCII character take the full steps (every step is
separable at an ASCII space, see ``_normalize_mixed``). Steps 3-6 are
one ``str.translate`` table, filled lazily per character (a ``dict`` with
``__missing__``), so importing this module costs almost nothing; the confusables
table is imported on the first non-ASCII character.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ASCII_TABLE", "fold_digit_groups", "is_invisible", "normalize", "normalize_words"]

_APOSTROPHES = frozenset("'\u2019\u2018\u02bc\u02bb\uff07\u055a\u05f3")

#: Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 14.0), as ranges.
#: ``unicodedata`` does not expose the property; most of these are ``Cf`` or ``Mn`` anyway, the rest
#: (Hangul fillers, which are letters) are why the list is needed.
_DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)

_DELETED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc", "Cs", "Co"})

#: A digit-group separator: ``,`` ``.`` ``_`` or U+066C between a digit and exactly three digits.
#: It starts with the separator (a character class) so the regex engine scans for it quickly.
_DIGIT_GROUP = re.compile("[,._\u066c](?<=\\d.)(?=\\d{3}(?!\\d))")


def is_invisible(char: str) -> bool:
    """True for a character the normaliser deletes: default-ignorable, format, control (not whitespace),
    surrogate or private-use code points, and combining marks."""
    code = ord(char)
    if any(low <= code <= high for low, high in _DEFAULT_IGNORABLE):
        return True
    return unicodedata.category(char) in _DELETED_CATEGORIES and not char.isspace()


_CONFUSABLES: dict[int, str] | None = None


def _confusable(code: int) -> str | None:
    global _CONFUSABLES
    if _CONFUSABLES is None:
        from specc.contract.confusables import CONFUSABLES

        _CONFUSABLES = CONFUSABLES
    return _CONFUSABLES.get(code)


def _ascii_value(char: str) -> str | None:
    if char in _APOSTROPHES:
        return None
    if is_invisible(char):
        return None
    if unicodedata.category(char).startswith("P"):
        return " "
    return char


class _Table(dict[int, "str | None"]):
    """Code point -> replacement for ``str.translate`` (steps 3-6), computed on first sight.

    Deletes invisible characters and apostrophes, maps look-alikes to ASCII and other
    punctuation to a space, and leaves every other character alone. Caching keeps
    repeated lookups at dict speed.
    """

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value: str | None
        if code < 128:
            value = _ascii_value(char)
        elif char in _APOSTROPHES or is_invisible(char):
            value = None
        else:
            prototype = _confusable(code)
            if prototype is not None:
                value = "".join(_ascii_value(c) or "" for c in prototype) or None
            elif unicodedata.category(char).startswith("P"):
                value = " "
            else:
                value = char
        self[code] = value
        return value


_TABLE = _Table()
# ASCII is by far the most common input; precompute it so the fast path never misses.
for _code in range(128):
    _TABLE[_code]
del _code

#: The translation table for already-lowercased ASCII text (punctuation -> space,
#: apostrophe and control characters -> deleted). Exposed so a hot loop can inline the ASCII fast
#: path of :func:`normalize_words` as ``fold_digit_groups(text.lower()).translate(ASCII_TABLE).split()``.
ASCII_TABLE: dict[int, str | None] = {code: _TABLE[code] for code in range(128)}


def fold_digit_groups(text: str) -> str:
    """Delete digit-group separators (step 2 of the module docstring): "1,000" -> "1000".

    Most text has no digits at all, and ten ``in`` tests (memchr-fast) cost far less than a regular
    expression scan, so the expression runs only on text that has a digit.
    """
    for digit in _DIGITS:
        if digit in text:
            return _DIGIT_GROUP.sub("", text)
    return text


_DIGITS = "0123456789"


def normalize_words(text: str) -> list[str]:
    """Split ``text`` into normalised words (see the module docstring for the definition)."""
    if text.isascii():
        return fold_digit_groups(text.lower()).translate(ASCII_TABLE).split()
    return _normalize_mixed(text).split()


def _normalize_full(text: str) -> str:
    """Steps 1-6 of the module docstring on any text (the string :func:`normalize_words` splits)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # Separators are folded before the table runs (as on the ASCII path), so both paths agree word for word.
    # Unguarded here: digits may be non-ASCII (Arabic-Indic, Devanagari...), which the ASCII guard misses.
    return _DIGIT_GROUP.sub("", unicodedata.normalize("NFD", folded)).translate(_TABLE)


def _normalize_ascii(text: str) -> str:
    return fold_digit_groups(text.lower()).translate(ASCII_TABLE)


_NON_ASCII_RUN = re.compile("[^\x00-\x7f]+")


def _normalize_mixed(text: str) -> str:
    """:func:`_normalize_full` of ``text``, faster when only a few words of it are not ASCII (English with a
    curly quote, a dash or an accented name: most real chat text that is not plain ASCII).

    Every step is separable at an ASCII space: no Unicode composition, reordering or case mapping involves
    U+0020 (it is a starter that composes with nothing), the digit-group rule needs digits on both sides of a
    separator, and the table maps one character at a time. So the text is cut at the spaces around each word
    that holds a non-ASCII character; those words go through the full steps, the ASCII stretches between them
    through the ASCII path (equal to the full steps on ASCII, as :func:`normalize_words` relies on), and the
    pieces are joined. (``tests/test_firewall_textnorm.py`` checks the separation for every code point.)
    Text with many such words (Cyrillic, CJK) takes the full steps in one call.
    """
    spans: list[list[int]] = []
    limit = len(text) // 64
    for match in _NON_ASCII_RUN.finditer(text):
        start = text.rfind(" ", 0, match.start()) + 1
        if spans and start <= spans[-1][1]:
            continue  # the same word as the previous run
        end = text.find(" ", match.end())
        spans.append([start, end if end >= 0 else len(text)])
        if len(spans) > limit:
            return _normalize_full(text)
    pieces = []
    position = 0
    for start, end in spans:
        pieces.append(_normalize_ascii(text[position:start]))
        pieces.append(_normalize_full(text[start:end]))
        position = end
    pieces.append(_normalize_ascii(text[position:]))
    return "".join(pieces)


def normalize(text: str) -> str:
    """Return ``text`` normalised: words joined by single spaces, no leading/trailing space."""
    return " ".join(normalize_words(text))
