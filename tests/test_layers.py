"""The layer rule of DESIGN §3: imports point downward only, never sideways."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "alignkit"
LEVELS = {
    "cli": 6,
    "audit": 5,
    "report": 5,
    "organism": 4,
    "lab": 4,
    "evals": 4,
    "redteam": 4,
    "guard": 4,
    "train": 4,
    "interpret": 4,
    "scoring": 3,
    "monitor": 3,
    "data": 3,
    "models": 3,
    "store": 3,
    "core": 2,
    "taxonomy": 1,
}


def _package_of(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else None


def _absolute(node: ast.ImportFrom, module: str) -> str:
    """The absolute module a ``from`` import names (``from ..audit import x`` in
    ``alignkit.evals._a`` is ``alignkit.audit``)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: -node.level]
    return ".".join([*base, *([node.module] if node.module else [])])


def _dynamic(node: ast.AST) -> str | None:
    """The module an ``importlib.import_module("…")`` or ``__import__("…")`` call names."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    fn = node.func
    name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
    arg = node.args[0]
    if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
        return str(arg.value)
    return None


def _imported_packages(tree: ast.AST, module: str = "alignkit._") -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module)
            if source == "alignkit":
                names = [f"alignkit.{a.name}" for a in node.names]
            else:
                names = [source]
        elif (dynamic := _dynamic(node)) is not None:
            names = [dynamic]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "alignkit" and len(parts) > 1 and parts[1] in LEVELS:
                found.add(parts[1])
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package_of(path)
        if pkg is None:
            continue
        assert pkg in LEVELS, f"package {pkg} has no layer in DESIGN §3 (add it to LEVELS)"
        module = ".".join(["alignkit", *path.relative_to(SRC).with_suffix("").parts])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for imported in _imported_packages(tree, module):
            if imported != pkg and LEVELS[imported] >= LEVELS[pkg]:
                bad.append(f"{path.relative_to(SRC)} ({pkg}) imports {imported}")
    return bad


def test_every_package_has_a_layer() -> None:
    for child in SRC.iterdir():
        if child.is_dir() and (child / "__init__.py").exists():
            assert child.name in LEVELS, child.name


def test_imports_point_downward_only() -> None:
    assert _violations() == []


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    tree = ast.parse(
        "from alignkit.audit import run\nimport alignkit.cli\nfrom alignkit import evals"
    )
    assert _imported_packages(tree) == {"audit", "cli", "evals"}
    # relative and dynamic imports went unseen
    hidden = ast.parse(
        "from ..audit import run\nfrom .. import report\n"
        "def f():\n    importlib.import_module('alignkit.cli')\n    __import__('alignkit.train')"
    )
    assert _imported_packages(hidden, "alignkit.evals._x") == {"audit", "report", "cli", "train"}


@pytest.mark.parametrize("pkg", sorted(LEVELS))
def test_public_api_declares_all(pkg: str) -> None:
    init = SRC / pkg / "__init__.py"
    if not init.exists():
        pytest.skip(f"{pkg} not built yet")
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    } | {
        n.target.id
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    assert "__all__" in names, f"alignkit.{pkg} has no __all__"
