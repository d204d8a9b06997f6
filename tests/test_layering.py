"""The package layering: every package imports only the layers below it, and no two modules
import each other.

A lower layer that needs a higher one is the sign that a shared piece should move down; this
test keeps the order that ``README.md`` ("Layout") describes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deepspeech_tt"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "atomic"),
    ("checkpoints", "evaluation"),
    ("tensor",),
    ("nn",),
    ("model",),
    ("data",),
    ("config",),
    ("training",),
    ("builders",),
    ("decoding", "reporting"),
    ("commands",),
)
"""From the bottom up: a unit (a subpackage or a top-level module) imports only from lower rows."""

LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(path: Path, module: str) -> set[str]:
    """The toolkit modules ``path`` imports, at any depth (function-level imports too)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] == "deepspeech_tt"}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_layer() -> None:
    units = {_unit(name) for name, _ in _modules()} - {None}
    assert units <= set(LEVEL), f"give {sorted(units - set(LEVEL))} a row of LAYERS"


def test_no_package_imports_upward() -> None:
    upward = []
    for module, path in _modules():
        unit = _unit(module)
        if unit is None:
            continue
        for target in _imports(path, module):
            other = _unit(target)
            if other is not None and other != unit and other in LEVEL and (
                LEVEL[other] >= LEVEL[unit]
            ):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports of a unit at the same or a higher layer:\n" + "\n".join(upward)


def test_no_two_modules_import_each_other() -> None:
    modules = dict(_modules())
    graph = {module: {target for target in _imports(path, module) if target in modules}
             for module, path in modules.items()}  # fmt: skip
    mutual = sorted(f"{a} <-> {b}" for a, targets in graph.items() for b in targets
                    if a < b and a in graph.get(b, set()) and not _package_of(a, b))  # fmt: skip
    assert not mutual, "\n".join(mutual)


def _package_of(a: str, b: str) -> bool:
    """A package's ``__init__`` re-exporting a module of it, which imports a sibling through
    the package, is not a cycle of the code."""
    return b.startswith(f"{a}.") or a.startswith(f"{b}.")
