"""Read a spec file into a validated :class:`~specc.spec.language.Spec`, or report every problem with its location.

Why not ``yaml.safe_load`` + ``Spec.model_validate``: that loses line numbers, silently keeps the last of
two duplicate keys, and turns a typo into a pydantic traceback. Here the YAML is *composed* into nodes (which
carry marks), turned into plain data while recording where every key and list item stands, and pydantic's
errors are mapped back onto those positions, with a hint for each unknown key.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from specc.spec.errors import SpecError, SpecInvalid
from specc.spec.language import SCHEMA_VERSION, SECTION_KEYS, Spec
from specc.spec.suggest import did_you_mean, unknown_key_hint

try:  # libyaml is much faster; fall back to the pure-Python loader where it is not built.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

Location = tuple[int, int]
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
MAX_VALUES = 100_000
"""A real spec has a few hundred values; more means an alias bomb ("billion laughs"), refused early."""
KeyPath = tuple[Any, ...]


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec plus what the planner needs to know about where it came from."""

    spec: Spec
    path: Path
    base_dir: Path
    sha256: str
    text: str
    locations: dict[KeyPath, Location] = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, relative: str) -> Path:
        """A path from the spec, resolved against the spec's directory (the documented rule)."""
        return (self.base_dir / relative).resolve() if not Path(relative).is_absolute() else Path(relative)


class _DataBuilder:
    """Turns composed YAML nodes into plain data, recording key positions and collecting errors."""

    def __init__(self, display: str, loader: Any):
        self.display = display
        self.loader = loader
        self.locations: dict[KeyPath, Location] = {}
        self.errors: list[SpecError] = []
        self._building: set[int] = set()  # ids of collection nodes on the current path (recursive aliases)
        self._built = 0  # values built so far: aliases can expand a tiny file exponentially
        self._too_big = False

    def error(self, mark: Any, path: KeyPath, message: str, hint: str = "", code: str = "yaml") -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        self.errors.append(SpecError(self.display, line, col, format_path(path), message, hint, code))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._built += 1
        if self._built > MAX_VALUES:
            if not self._too_big:
                self._too_big = True
                self.error(node.start_mark, path, f"the spec expands to more than {MAX_VALUES:,} values",
                           "YAML aliases (*name) are expanding exponentially; write the values out", "too-large")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            self.error(node.start_mark, path, f"YAML tag `{node.tag}` is not allowed in a spec", code="yaml")
            return None
        if id(node) in self._building:
            self.error(node.start_mark, path, "recursive YAML alias (a value that contains itself)", code="yaml")
            return None
        self._building.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            out = []
            for i, item in enumerate(node.value):
                self.locations[path + (i,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, path + (i,)))
            return out
        finally:
            self._building.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        except yaml.YAMLError as exc:
            self.error(node.start_mark, path, f"bad merge key: {_problem(exc)}")
        out: dict[Any, Any] = {}
        first_seen: dict[Any, Location] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key is None or not isinstance(key, (str, int, float, bool)):
                self.error(key_node.start_mark, path, "keys must be plain names", code="yaml")
                continue
            if not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in first_seen:
                line, col = first_seen[key]
                self.error(
                    key_node.start_mark,
                    path + (key,),
                    f"duplicate key `{key}` (first defined at line {line}, column {col})",
                    "remove one of them: YAML would silently keep only the last",
                    code="duplicate-key",
                )
                continue
            first_seen[key] = where
            self.locations[path + (key,)] = where
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            self.error(node.start_mark, path, f"number too large: {exc}", code="huge-number")
            return None
        except yaml.YAMLError as exc:
            self.error(node.start_mark, path, _problem(exc), code="yaml")
            return None
        if isinstance(value, float) and math.isinf(value):
            self.error(node.start_mark, path, "number too large (overflows to infinity)", code="huge-number")
            return None
        if isinstance(value, float) and math.isnan(value):
            self.error(node.start_mark, path, "not a number (.nan) is not a valid value", code="nan")
            return None
        return value


def format_path(path: KeyPath) -> str:
    """('data', 'general_suites', 0, 'path') → 'data.general_suites[0].path'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{context}: {problem}" if context and context not in problem else str(problem)


def _display_name(path: Path) -> str:
    """Paths in messages: relative to the current directory when possible, never needlessly absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_yaml(text: str, display: str) -> tuple[Any, dict[KeyPath, Location], list[SpecError]]:
    """YAML text → (data, locations, errors). Syntax errors become one located error."""
    tab_line = _indentation_tab(text)
    if tab_line:
        err = SpecError(
            display, tab_line, 1, "", "tab character used for indentation", "YAML indents with spaces only", "yaml"
        )
        return None, {}, [err]
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        return None, {}, [_reader_error(text, exc, display)]
    builder = _DataBuilder(display, loader)
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        return None, {}, [_reader_error(text, exc, display)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = _problem(exc)
        hint = "a spec holds one YAML document" if "single document" in str(exc) else "check the YAML syntax here"
        builder.error(mark, (), f"malformed YAML: {msg}", hint)
        return None, {}, builder.errors
    except yaml.YAMLError as exc:
        builder.error(None, (), f"malformed YAML: {exc}")
        return None, {}, builder.errors
    finally:
        loader.dispose()
    if node is None:
        return None, {}, [SpecError(display, 0, 0, "", "the spec is empty", "start from `specc init`", "empty")]
    data = builder.build(node, ())
    return data, builder.locations, builder.errors


def _reader_error(text: str, exc: yaml.reader.ReaderError, display: str) -> SpecError:
    """A character YAML does not allow (NUL, other control characters), located by its offset."""
    position = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    char = getattr(exc, "character", "")
    code = f"U+{ord(char):04X}" if isinstance(char, str) and char else repr(char)
    return SpecError(display, line, column, "", f"character {code} is not allowed in YAML",
                     "remove control characters from the file", "yaml")


def _indentation_tab(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            return number
    return 0


def _locate(loc: tuple[Any, ...], data: Any, locations: dict[KeyPath, Location]) -> tuple[KeyPath, Location]:
    """Map a pydantic error location onto the data path and the nearest recorded position.

    Pydantic inserts union-member tags (``'list[str]'``) into locations; those are skipped by walking the
    actual data alongside.
    """
    path: KeyPath = ()
    cursor = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cursor, dict) and part in cursor:
            path += (part,)
            cursor = cursor[part]
        elif isinstance(cursor, list) and isinstance(part, int) and 0 <= part < len(cursor):
            path += (part,)
            cursor = cursor[part]
        elif last and isinstance(part, str) and isinstance(cursor, dict):
            path += (part,)  # a missing key: report it at its parent mapping
    probe = path
    while probe and probe not in locations:
        probe = probe[:-1]
    return path, locations.get(probe, (1, 1))


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``path`` (for the list of allowed keys)."""
    from specc.spec.language import _submodels  # local: a helper of the schema module

    model: type[BaseModel] | None = Spec
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        subs = _submodels(field.annotation)
        model = subs[0] if subs else None
    return model


def validation_errors(exc: ValidationError, data: Any, locations: dict[KeyPath, Location], display: str) -> list[SpecError]:
    """Turn pydantic's errors into located SpecErrors with hints."""
    out: list[SpecError] = []
    for err in exc.errors(include_url=False):
        path, (line, col) = _locate(tuple(err["loc"]), data, locations)
        etype = err["type"]
        hint = ""
        if etype == "extra_forbidden":
            key = str(path[-1]) if path else str(err["loc"][-1])
            parent = path[:-1]
            model = _model_at(parent)
            allowed = list(model.model_fields) if model is not None else []
            section = format_path(tuple(p for p in parent if not isinstance(p, int)))
            hint = unknown_key_hint(key, allowed, section, SECTION_KEYS)
            message = f"unknown key `{key}`"
        elif etype == "missing":
            message = f"missing required key `{path[-1]}`" if path else "missing required key"
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            value = err.get("input")
            if value is not None and not isinstance(value, (dict, list)):
                shown = repr(value)
                if len(shown) <= 60:
                    message += f" (got {shown})"
            if etype == "literal_error" and isinstance(value, str):
                close = did_you_mean(value, _literal_choices(err))
                if close is not None and close != value:
                    hint = f"did you mean `{close}`?"
        out.append(SpecError(display, line, col, format_path(path), message, hint, etype))
    return _merge_alternatives(out)


def _literal_choices(err: dict) -> list[str]:
    expected = str(err.get("ctx", {}).get("expected", ""))
    return [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip(" '")]


def _merge_alternatives(errors: list[SpecError]) -> list[SpecError]:
    """A value that fits no member of a union gets one error per member; show them as one 'or' message."""
    merged: dict[tuple[int, int, str], SpecError] = {}
    for e in errors:
        key = (e.line, e.column, e.key_path)
        if key in merged and e.code != "extra_forbidden":
            prev = merged[key]
            merged[key] = SpecError(
                e.file, e.line, e.column, e.key_path, f"{prev.message}; or {e.message}", prev.hint or e.hint, prev.code
            )
        else:
            merged[(e.line, e.column, e.key_path + ("#" + e.message if e.code == "extra_forbidden" else ""))] = e
    return list(merged.values())


def _version_errors(data: dict, locations: dict[KeyPath, Location], display: str) -> list[SpecError]:
    if "specc" not in data:
        return [
            SpecError(display, 1, 1, "specc", "missing schema version", f"add `specc: {SCHEMA_VERSION}` as the first line", "version")
        ]
    version = data["specc"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        line, col = locations.get(("specc",), (1, 1))
        return [
            SpecError(
                display,
                line,
                col,
                "specc",
                f"unsupported schema version {version!r}",
                f"this specc reads `specc: {SCHEMA_VERSION}`",
                "version",
            )
        ]
    return []


MAX_SPEC_BYTES = 4 * 1024 * 1024
"""A spec is a few kilobytes; a bigger file is not a spec (and is not read into memory)."""


class _NotASpecFile(OSError):
    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        return self.args[0]


def _read_spec_bytes(path: Path) -> bytes:
    """The spec file's bytes. A FIFO, a device or a directory is refused by what it is, without blocking on
    it (opening a FIFO for reading waits for a writer: every command used to hang there)."""
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if
                    stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
            raise _NotASpecFile(f"is {kind}, not a spec file", "give the path of a YAML file")
        if st.st_size > MAX_SPEC_BYTES:
            raise _NotASpecFile(f"is {st.st_size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,}",
                                "is this the right file? specs are a few kilobytes")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:  # grew while we read it
            raise _NotASpecFile(f"is larger than {MAX_SPEC_BYTES:,} bytes; not a spec")
        return raw
    finally:
        os.close(fd)


def load_spec(path: str | Path) -> LoadedSpec:
    """Load and validate one spec file. Raises :class:`SpecInvalid` listing every error found."""
    path = Path(path)
    display = _display_name(path)
    try:
        raw = _read_spec_bytes(path)
    except FileNotFoundError:
        raise SpecInvalid([SpecError(display, 0, 0, "", "file not found", code="io")]) from None
    except IsADirectoryError:
        raise SpecInvalid([SpecError(display, 0, 0, "", "is a directory, not a spec file", code="io")]) from None
    except _NotASpecFile as exc:
        raise SpecInvalid([SpecError(display, 0, 0, "", str(exc), exc.hint, code="io")]) from None
    except OSError as exc:
        raise SpecInvalid([SpecError(display, 0, 0, "", f"cannot read: {exc.strerror}", code="io")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecInvalid(
            [SpecError(display, line, col, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", "save the spec as UTF-8", "encoding")]
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return load_spec_text(text, path, display=display, raw=raw)


def load_spec_text(text: str, path: Path, *, display: str | None = None, raw: bytes | None = None) -> LoadedSpec:
    """Validate spec text as if it were the file at ``path`` (used by ``specc diff --base``)."""
    display = display or _display_name(path)
    data, locations, errors = parse_yaml(text, display)
    if errors and data is None:
        raise SpecInvalid(errors)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "nothing"
        raise SpecInvalid([SpecError(display, 1, 1, "", f"a spec is a mapping of sections, not a {kind}", "start from `specc init`", "type")])
    version_errors = _version_errors(data, locations, display)
    if version_errors:
        raise SpecInvalid(errors + version_errors)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        # Structural YAML problems (duplicate keys, huge numbers) were already reported at their key; keep
        # validating the rest so that one run lists every error of the file.
        reported = {e.key_path for e in errors}
        more = [e for e in validation_errors(exc, data, locations, display) if e.key_path not in reported]
        raise SpecInvalid(errors + more) from None
    if errors:
        raise SpecInvalid(errors)
    digest = hashlib.sha256(raw if raw is not None else text.encode("utf-8")).hexdigest()
    return LoadedSpec(spec, path, path.resolve().parent, digest, text, locations)
