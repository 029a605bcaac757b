"""The package's rooms keep their one-way imports (cli -> stages -> shared -> core)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ebsdphase"
#: top-level modules the map of rooms (ebsdphase/__init__.py) allows
TOP_LEVEL = {"__init__.py", "features.py", "plots.py", "htmlreport.py"}
STAGES = {"synth", "labelling", "dataset", "training", "prediction", "evaluation"}
SHARED = {"models", "features", "plots", "htmlreport", "io", "crystal", "core"}


def _imports(path: Path) -> set[str]:
    """The ebsdphase modules ``path`` imports (anywhere in the file, lazy imports too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ebsdphase"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("ebsdphase"))
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else ""


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_at_most_the_mapped_modules_sit_at_the_top_level():
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL


def test_only_the_cli_imports_the_cli():
    offenders = [str(p.relative_to(PACKAGE)) for p, room in _modules()
                 if room != "cli" and any(_room(m) == "cli" for m in _imports(p))]
    assert not offenders


def test_shared_rooms_never_import_a_stage_and_core_imports_only_core():
    bad = []
    for path, room in _modules():
        rooms = {_room(m) for m in _imports(path)} - {"", room}
        if room == "core" and rooms:
            bad.append((str(path.relative_to(PACKAGE)), sorted(rooms)))
        elif room in SHARED and rooms & STAGES:
            bad.append((str(path.relative_to(PACKAGE)), sorted(rooms & STAGES)))
    assert not bad
