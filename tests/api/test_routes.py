"""The route modules stand alone: none imports another, what they share lives outside."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import api.routes

ROUTES = Path(api.routes.__file__).parent
MODULES = sorted(p for p in ROUTES.glob("*.py") if p.name != "__init__.py")


def route_imports(source: str) -> list[str]:
    """The route modules ``source`` imports, anywhere in it (relative imports as dots)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("api.routes."))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.ImportFrom) and node.module == "api.routes":
            found.update(f"api.routes.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("api.routes."):
            found.add(str(node.module))
    return sorted(found)


def test_there_are_route_modules() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_a_route_module_imports_no_other_route_module(module: Path) -> None:
    assert route_imports(module.read_text(encoding="utf-8")) == []


def test_the_check_sees_every_way_of_importing_a_route() -> None:
    assert route_imports("from api.routes.files import local_today") == ["api.routes.files"]
    assert route_imports("from api.routes import files") == ["api.routes.files"]
    assert route_imports("import api.routes.files") == ["api.routes.files"]
    assert route_imports("from . import files") == ["."]
    assert route_imports("def f():\n    from api.routes.files import x\n") == ["api.routes.files"]
    assert route_imports("from api.records import columns") == []
