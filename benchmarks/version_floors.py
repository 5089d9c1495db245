"""Do the arguments specc's emitted stages pass exist in a given transformers / trl / peft release?

Why: pyproject.toml's floors must be versions the code works with. The arguments the stages pass to each config
class are listed in ``benchmarks/stage_arguments.json`` (written and kept exact by
``tests/test_version_floors.py``, which also checks them against the *installed* packages). This script checks
the same names statically in downloaded wheels, so a floor can be proven without installing it:

    pip download --no-deps transformers==5.23.0 trl==1.10.0 peft==0.17.0 -d /tmp/wheels
    python benchmarks/version_floors.py /tmp/wheels/*.whl

It parses the wheel's source (no import): each class's annotated fields and ``__init__`` parameters, following
base classes by name across the given wheels (SFTConfig → TrainingArguments). Exit 1 when a name is missing.
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path

NAMES = Path(__file__).with_name("stage_arguments.json")


def _classes(wheels: list[str]) -> dict[str, tuple[set[str], list[str]]]:
    """class name → (field and __init__ argument names, base class names), over every .py file of the wheels."""
    out: dict[str, tuple[set[str], list[str]]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if not name.endswith(".py"):
                    continue
                try:
                    tree = ast.parse(zf.read(name))
                except SyntaxError:
                    continue
                for node in ast.walk(tree):
                    if not isinstance(node, ast.ClassDef):
                        continue
                    fields: set[str] = set()
                    for item in node.body:
                        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                            fields.add(item.target.id)
                        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                            fields.update(a.arg for a in item.args.args + item.args.kwonlyargs)
                    bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]
                    known = out.get(node.name)
                    if known is None or len(fields) > len(known[0]):  # the real class, not a stub of that name
                        out[node.name] = (fields, bases)
    return out


def _all_fields(cls: str, classes: dict[str, tuple[set[str], list[str]]], seen: set[str] | None = None) -> set[str]:
    seen = seen or set()
    if cls in seen or cls not in classes:
        return set()
    seen.add(cls)
    fields, bases = classes[cls]
    out = set(fields)
    for base in bases:
        out |= _all_fields(base, classes, seen)
    return out


def _exported(wheels: list[str], package: str, cls: str) -> bool:
    """Does ``package/__init__.py`` (``package`` may be dotted: ``trl.experimental.orpo``) name ``cls`` (the stages
    import it as ``from package import cls``)?"""
    init = package.replace(".", "/") + "/__init__.py"
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            if init in zf.namelist():
                return cls in zf.read(init).decode("utf-8", "replace")
    return False


def missing(wheels: list[str], names: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{"trl.SFTConfig": [missing names]} for every class whose arguments the wheels lack, that is absent, or that
    its package does not export at the top level."""
    names = names if names is not None else json.loads(NAMES.read_text(encoding="utf-8"))
    classes = _classes(wheels)
    out: dict[str, list[str]] = {}
    for qualified, wanted in names.items():
        package, _, cls = qualified.rpartition(".")
        if cls not in classes:
            out[qualified] = ["<class not found>"]
            continue
        if not _exported(wheels, package, cls):
            out[qualified] = [f"<not exported by {package}>"]
            continue
        lacking = sorted(set(wanted) - _all_fields(cls, classes))
        if lacking:
            out[qualified] = lacking
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    gaps = missing(argv)
    for cls, names in sorted(gaps.items()):
        print(f"MISSING {cls}: {', '.join(names)}")
    print("all stage arguments exist" if not gaps else f"{len(gaps)} class(es) lack arguments")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
