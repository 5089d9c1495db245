"""Personal data in training rows: emails, phone numbers, payment cards, IBANs and API keys.

Why specc looks: a tuned model can repeat what it was trained on, so personal data or secrets left in training
rows can come back out of the model. The planner (:mod:`specc.plan.inputs`), ``specc check`` and the emitted
firewall stage all call :func:`scan_file`, so the three agree on what counts.

Precision over recall, because a scanner that cries wolf gets switched off: every pattern has a shape test
*and* a checksum or structure check where one exists —

* **email**: ``local@domain.tld``; the reserved example domains (``example.com``, ``*.test``, ``*.invalid``,
  ``localhost``; RFC 2606) are placeholders, not people, and are skipped;
* **phone**: an international number (``+`` and 8–15 digits) or a national one with the shapes people write
  (``(415) 555-0132``, ``415-555-0132``, ``020 7946 0958``); dates, versions, times and plain numbers do not
  have those shapes;
* **card**: 13–19 digits, one separator style, a known issuer prefix (Visa, Mastercard, Amex, Discover, JCB,
  Diners) and a valid **Luhn** checksum;
* **iban**: country code, check digits, the country's length and a valid **ISO 7064 mod-97** checksum;
* **api_key**: the fixed prefixes of common providers (OpenAI ``sk-``, AWS ``AKIA``, GitHub ``ghp_``, Slack
  ``xox?-``, Google ``AIza``, Hugging Face ``hf_``, Stripe ``sk_live_``) and PEM private-key headers.

Reports never carry the data itself: a hit names ``file:line``, the field and a **masked** value (``j***@***.com``,
``card ending 1111``). Streaming and stdlib only: one line in memory, JSON parsed only for lines a cheap
pre-filter flags, so planning large files stays fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from specc.contract import native
from specc.contract.fields import iter_text_fields
from specc.data.jsonl import MAX_LINE_BYTES

__all__ = ["KINDS", "PiiHit", "PiiFileReport", "PiiReport", "find_pii", "kinds_possible", "luhn_ok", "iban_ok", "mask",
           "scan_file", "scan_files", "describe_counts", "stage_check"]

KINDS = ("email", "phone", "card", "iban", "api_key")
"""Every kind of personal data or secret the scanner reports, in report order."""

KIND_WORDS = {"email": ("email address", "email addresses"), "phone": ("phone number", "phone numbers"),
              "card": ("payment card number", "payment card numbers"), "iban": ("IBAN", "IBANs"),
              "api_key": ("API key", "API keys")}

LISTED_HITS = 20
"""How many hits a report lists one by one; the counts are always exact."""

# ---------------------------------------------------------------- patterns

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![A-Za-z0-9-])")
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_TLDS = ("test", "example", "invalid", "localhost", "local")

_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,5}[ .-]?\d{2,4}"  # +44 20 7946 0958, +1 (415) 555-0132
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"  # (415) 555-0132
    r"|\d{3}([-. ])\d{3}\1\d{4}"  # 415-555-0132, 415.555.0132
    r"|0\d{2,4} \d{3,4} \d{3,4}"  # 020 7946 0958 (national trunk prefix 0)
    r")(?![\w-])")
_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-])")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9])|35|3(?:0[0-5]|[689])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24,
    "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "TR": 26, "AE": 23, "SA": 24, "IL": 23, "BR": 29, "QA": 29,
}
_API_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|sk_live_[A-Za-z0-9]{20,}|rk_live_[A-Za-z0-9]{20,}"  # Stripe
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r")(?![A-Za-z0-9_-])"
    r"|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")

_KEY_PREFIX = re.compile(r"sk-(?:proj-|ant-)?|[sr]k_live_|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abposr]-|AIza|hf_")
"""The provider prefix of a key: all a masked key shows."""

_NUMBERISH_AS_HASH = bytes.maketrans(b"0123456789 ().-", b"#" * 15)
_KEYISH_AS_HASH = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", b"#" * 64)
_PLUS_DIGIT = re.compile(rb"\+\(?\d")


def kinds_possible(raw: bytes) -> frozenset[str]:
    """Which kinds a raw line (or block of lines) could hold, from byte translations and substring tests only
    (no per-position regex): an ``@`` for emails; a run of 15 key characters (``[A-Za-z0-9_-]``; every key shape
    is at least that long) or a PEM header for keys; ``+`` and a digit for international phones; a run of ten
    digits or separators (space, ``().-``) for national phones, cards and IBANs. A line with none is not parsed."""
    kinds = set()
    if b"@" in raw:
        kinds.add("email")
    if b"###############" in raw.translate(_KEYISH_AS_HASH) or b"PRIVATE KEY" in raw:
        kinds.add("api_key")
    if b"+" in raw and _PLUS_DIGIT.search(raw):
        kinds.add("phone")
    if b"##########" in raw.translate(_NUMBERISH_AS_HASH):
        kinds.update(("phone", "card", "iban"))
    return frozenset(kinds)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """Country length and the ISO 7064 mod-97 check of an IBAN (spaces removed, upper case)."""
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _phone_ok(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith("+"):
        return 8 <= digits <= 15
    return 10 <= digits <= 11


def _card_ok(text: str) -> bool:
    seps = {ch for ch in text if not ch.isdigit()}
    if len(seps) > 1:
        return False
    digits = text.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    if seps and not all(3 <= len(g) <= 6 for g in re.split(r"[ -]", text)):
        return False
    return _CARD_PREFIX.match(digits) is not None and luhn_ok(digits)


def find_pii(text: str, kinds: frozenset[str] | set[str] | tuple[str, ...] = KINDS) -> list[tuple[str, int, int]]:
    """Every hit in ``text`` as ``(kind, start, end)``, in text order; overlapping weaker hits dropped.

    Order of trust: API keys, IBANs, cards, emails, phones (a card number is not also reported as a phone).
    ``kinds`` limits the search (the scan passes what :func:`kinds_possible` allows for the line).
    """
    hits: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        hits.append((kind, start, end))

    if "api_key" in kinds:
        for m in _API_KEY.finditer(text):
            add("api_key", m.start(), m.end())
    if "iban" in kinds:
        for m in _IBAN.finditer(text):
            if iban_ok(m.group().replace(" ", "")):
                add("iban", m.start(), m.end())
    if "card" in kinds:
        for m in _CARD.finditer(text):
            if _card_ok(m.group()):
                add("card", m.start(), m.end())
    if "email" in kinds and "@" in text:
        for m in _EMAIL.finditer(text):
            domain = m.group(1).lower()
            if domain in _RESERVED_DOMAINS or domain.endswith(tuple("." + d for d in _RESERVED_DOMAINS)) \
                    or domain.rsplit(".", 1)[-1] in _RESERVED_TLDS:
                continue
            add("email", m.start(), m.end())
    for m in _PHONE.finditer(text) if "phone" in kinds else ():
        if _phone_ok(m.group()):
            add("phone", m.start(), m.end())
    return sorted(hits, key=lambda h: h[1])


def mask(kind: str, value: str) -> str:
    """A value a reviewer can recognise the kind of, but that gives away nothing usable."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if kind == "card":
        digits = re.sub(r"\D", "", value)
        return f"card ending {digits[-4:]}"
    if kind == "iban":
        return f"{value[:2]}** … (IBAN, {len(value.replace(' ', ''))} characters)"
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return f"phone ending {digits[-2:]}"
    if value.startswith("-----"):
        return "PEM private key header"
    prefix = _KEY_PREFIX.match(value)
    return f"{prefix.group() if prefix else ''}… ({len(value)} characters)"


# ---------------------------------------------------------------- reports


@dataclass(frozen=True)
class PiiHit:
    """One piece of personal data: where it is and what kind, masked."""

    kind: str
    file: str
    line: int
    field: str
    masked: str

    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "field": self.field, "masked": self.masked}


@dataclass
class PiiFileReport:
    """One file's counts (exact), rows that hold any hit, and the first hit of each kind."""

    name: str
    role: str
    rows: int = 0
    rows_flagged: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, PiiHit] = field(default_factory=dict)
    listed: list[PiiHit] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "rows": self.rows, "rows_flagged": self.rows_flagged,
                "counts": {k: self.counts[k] for k in KINDS if k in self.counts},
                "first": {k: self.first[k].to_dict() for k in KINDS if k in self.first},
                "hits": [h.to_dict() for h in self.listed]}


def describe_counts(report: PiiFileReport) -> str:
    """``3 email addresses (first train.jsonl:12, messages[0].content), 1 payment card number (...)``."""
    parts = []
    for kind in KINDS:
        n = report.counts.get(kind, 0)
        if n:
            first = report.first[kind]
            parts.append(f"{n} {KIND_WORDS[kind][n != 1]} (first {first.location()}, {first.field or 'row'})")
    return ", ".join(parts)


def scan_file(path: str | Path, *, name: str | None = None, role: str = "train",
              listed: int = LISTED_HITS) -> PiiFileReport:
    """Scan every text field of every row of a JSONL file. Lines that are not JSON objects are skipped here
    (the row checks of the planner, ``specc check`` and the firewall stage report them)."""
    scanner = ByteScanner(name if name is not None else str(path), role, listed)
    with open(path, "rb") as handle:
        while chunk := handle.read(_BLOCK_BYTES):
            scanner.feed(chunk)
    return scanner.finish()


class ByteScanner:
    """The byte scan of :func:`scan_file`, fed the file's bytes in chunks of any size by whoever reads them.

    Why: the planner already streams each training file once for its hash and row count
    (:func:`specc.data.jsonl.count_rows_and_sha256`); feeding those same chunks here scans the file for
    personal data without reading it a second time. Chunks become blocks of whole lines as
    :func:`scan_file` has always made them, so the result is the same whoever reads."""

    def __init__(self, name: str, role: str = "train", listed: int = LISTED_HITS):
        self.report = PiiFileReport(name=name, role=role)
        self.listed = listed
        self.line_no = 0
        self.carry = b""
        self.skipping = False  # inside a line over the JSONL limit: dropped, it stands as one empty line

    def feed(self, chunk: bytes) -> None:
        if self.skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                return
            self.skipping, chunk = False, chunk[cut + 1:]
            self._block(b"\n")
        data = self.carry + chunk
        cut = data.rfind(b"\n")
        if cut >= 0:
            self._block(data[:cut + 1])
            self.carry = data[cut + 1:]
        else:
            self.carry = data
        if len(self.carry) > MAX_LINE_BYTES:
            self.carry, self.skipping = b"", True

    def finish(self) -> PiiFileReport:
        if self.carry:
            self._block(self.carry)
            self.carry = b""
        return self.report

    def _block(self, block: bytes) -> None:
        report = self.report
        counted = native.line_kinds(block, MAX_LINE_BYTES)
        if counted is not None:  # the same lines, rows and kinds, found in one pass in C (specc.contract.native)
            lines_in_block, rows, flagged = counted
            report.rows += rows
            if flagged:
                lines = block.split(b"\n")
                for index, mask in flagged:
                    raw = lines[index]
                    if not raw or len(raw) > MAX_LINE_BYTES or raw.isspace():
                        continue
                    _scan_row(raw, _MASK_KINDS[mask], self.line_no + index + 1, report.name, report, self.listed)
            self.line_no += lines_in_block
            return
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        report.rows += _count_rows(lines)
        if kinds_possible(block):  # most blocks of most files: count the rows, parse nothing
            for index in _candidate_lines(block, len(lines)):  # the few lines that may hold something
                raw = lines[index]
                if not raw or len(raw) > MAX_LINE_BYTES or raw.isspace():  # overlong: the row checks refuse it
                    continue
                kinds = kinds_possible(raw)
                if kinds:
                    _scan_row(raw, kinds, self.line_no + index + 1, report.name, report, self.listed)
        self.line_no += len(lines)


_MASK_KINDS = [frozenset(kind for bit, kind in ((1, "email"), (2, "phone"), (4, "card"), (8, "iban"), (16, "api_key"))
                          if mask & bit) for mask in range(32)]
"""A kinds mask of :func:`specc.contract.native.line_kinds` as the set :func:`kinds_possible` returns."""


def _count_rows(lines: list[bytes]) -> int:
    """Rows among ``lines``: not blank (empty or whitespace only) and within the JSONL line limit. In C when no
    line is overlong (the common case): ``bytes.strip`` returns an empty string exactly for a blank line."""
    if max(map(len, lines), default=0) <= MAX_LINE_BYTES:
        return sum(map(bool, map(bytes.strip, lines)))
    return sum(1 for raw in lines if raw and len(raw) <= MAX_LINE_BYTES and not raw.isspace())


_CANDIDATES_PER_BLOCK = 256
"""Above this many candidate lines in a block, every line of it is tested (the cheaper way then)."""


def _candidate_lines(block: bytes, count: int) -> list[int]:
    """Indexes (in order) of the lines of ``block`` that may hold something :func:`kinds_possible` looks for.

    Why: a block that holds one email must not cost a test of each of its thousands of lines. Every test of
    :func:`kinds_possible` looks for something that never spans a newline (``@``, a run of key or number
    characters, ``PRIVATE KEY``, ``+`` and a digit), so finding each occurrence in the whole block and
    skipping to the end of its line finds every such line, in C, with one search per candidate line. The
    caller still runs :func:`kinds_possible` on each, so what is scanned is exactly what a line-by-line
    loop would scan."""
    starts: set[int] = set()
    searches = ((block, b"@"), (block.translate(_KEYISH_AS_HASH), b"#" * 15), (block, b"PRIVATE KEY"),
                (block.translate(_NUMBERISH_AS_HASH), b"#" * 10))
    for haystack, needle in searches:
        at = haystack.find(needle)
        while at >= 0:
            start = block.rfind(b"\n", 0, at) + 1
            starts.add(start)
            if len(starts) > _CANDIDATES_PER_BLOCK:
                return list(range(count))
            end = block.find(b"\n", at)
            if end < 0:
                break
            at = haystack.find(needle, end)
    if b"+" in block:
        match = _PLUS_DIGIT.search(block)
        while match is not None:
            starts.add(block.rfind(b"\n", 0, match.start()) + 1)
            if len(starts) > _CANDIDATES_PER_BLOCK:
                return list(range(count))
            end = block.find(b"\n", match.start())
            if end < 0:
                break
            match = _PLUS_DIGIT.search(block, end)
    indexes, line, previous = [], 0, 0
    for start in sorted(starts):
        line += block.count(b"\n", previous, start)
        previous = start
        if line < count:
            indexes.append(line)
    return indexes


def scan_rows(rows: Iterable[tuple[int, Any]], *, name: str, role: str = "train",
              listed: int = LISTED_HITS, report: PiiFileReport | None = None) -> PiiFileReport:
    """Scan rows already read as objects (``(row number, row)``): sources that are not one local JSONL file —
    Hub datasets, Parquet, CSV, mapped columns — read through the stages' own reader. ``report`` continues
    an earlier report (a caller feeding rows as another pass streams them)."""
    report = report if report is not None else PiiFileReport(name=name, role=role)
    for line_no, row in rows:
        report.rows += 1
        _scan_object(row, KINDS, line_no, name, report, listed)
    return report


def scan_entry(entry: dict[str, Any], role: str | None = None) -> PiiFileReport:
    """One stage CONFIG data entry: a local JSONL file by the fast byte scan, any other source row by row."""
    from specc.data.sources import Source, iter_source_rows

    role = role or entry.get("role") or "train"
    source = Source.from_entry(entry)
    name = entry.get("spec_path") or source.name
    if source.streams_without_datasets and not source.columns and source.path:
        return scan_file(source.path, name=name, role=role)
    return scan_rows(((line, row) for _n, line, row in iter_source_rows(source)), name=name, role=role)


def _scan_row(raw: bytes, kinds: frozenset[str], line_no: int, display: str, report: PiiFileReport,
              listed: int) -> None:
    try:
        row = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return
    _scan_object(row, kinds, line_no, display, report, listed)


def _scan_object(row: Any, kinds: Any, line_no: int, display: str, report: PiiFileReport, listed: int) -> None:
    """Every text field of one row: counts, the first hit of each kind, the listed hits (masked)."""
    flagged = False
    for field_path, value in _fields(row):
        for kind, start, end in find_pii(value, kinds):
            flagged = True
            hit = PiiHit(kind, display, line_no, field_path, mask(kind, value[start:end]))
            report.counts[kind] = report.counts.get(kind, 0) + 1
            report.first.setdefault(kind, hit)
            if len(report.listed) < listed:
                report.listed.append(hit)
    report.rows_flagged += flagged


_BLOCK_BYTES = 1 << 20


def _fields(row: Any) -> Iterator[tuple[str, str]]:
    """Text fields as the firewall walks them (chat roles and other labels are not text)."""
    if isinstance(row, (dict, list)):
        yield from iter_text_fields(row)
    elif isinstance(row, str):
        yield "", row


@dataclass
class PiiReport:
    """Every training file's scan and the policy that judges it (``data.personal_data``)."""

    action: str
    reason: str
    files: list[PiiFileReport]

    @property
    def total(self) -> int:
        return sum(f.total for f in self.files)

    @property
    def passed(self) -> bool:
        """False only when the policy is ``error`` and something was found."""
        return self.action != "error" or self.total == 0

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "passed": self.passed, "total": self.total,
                "files": [f.to_dict() for f in self.files]}

    def render_lines(self) -> list[str]:
        """Text lines for ``specc check`` and the stage log: hits like overlap hits, then a verdict."""
        if not self.total:
            return [f"personal data: none found in {len(self.files)} training file(s)"]
        verdict = {"error": "FAILED (data.personal_data.action: error)",
                   "warn": "WARNING (data.personal_data.action: warn)",
                   "allow": f"allowed (data.personal_data.action: allow; reason: {self.reason})"}[self.action]
        lines = [f"personal data: {verdict}"]
        for f in self.files:
            if f.total:
                lines.append(f"  - {f.name} [{f.role}]: {f.rows_flagged}/{f.rows} rows: {describe_counts(f)}")
                lines.extend(f"    {h.location()}: {h.field or 'row'}: {h.kind} {h.masked}" for h in f.listed)
                more = f.total - len(f.listed)
                if more > 0:
                    lines.append(f"    ... and {more} more (counts above are exact)")
        return lines


def scan_files(inputs: list[tuple[str | Path, str, str]], action: str = "warn", reason: str = "") -> PiiReport:
    """Scan ``(path, display name, role)`` inputs under a policy."""
    return PiiReport(action=action, reason=reason,
                     files=[scan_file(path, name=name, role=role) for path, name, role in inputs])


def stage_check(config: dict[str, Any], report_path: Path) -> int:
    """The firewall stage's personal-data step: scan every training input, write the report, log the verdict.

    Returns 3 (refused) when the policy is ``error`` and something was found, else 0. ``config`` is the stage's
    CONFIG: ``training`` entries (``path``, ``spec_path``, ``role``) and ``personal_data`` (action, reason).
    """
    policy = config.get("personal_data") or {"action": "warn", "reason": ""}
    report = PiiReport(action=policy.get("action", "warn"), reason=policy.get("reason", ""),
                       files=[scan_entry(d) for d in config.get("training", [])
                              if (d.get("source") or {}).get("kind") != "held_out"])
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    import sys

    for line in report.render_lines():
        print(f"[specc] {line}", file=sys.stderr)
    return 0 if report.passed else 3
