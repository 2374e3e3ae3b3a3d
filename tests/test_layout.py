"""The layout holds: each package imports only what docs/architecture.md says it may.

Benchmarks never import the tests (what both need lives in ``bench/harness``); nothing
imports the launcher; the API does not import the collector.

The table "folder | what lives here | may import" in docs/architecture.md is the one statement of the rules; this
test reads it and checks every import of every module (at any depth, read with ``ast``).
"""

from __future__ import annotations

import ast
import itertools
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
_ROW = re.compile(r"^\| `(?P<folder>[a-z_]+)/` \| (?P<what>[^|]+) \| (?P<imports>[^|]+) \|$")


def rules() -> dict[str, set[str]]:
    """Folder → the top-level packages of this repository it may import (besides itself)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index("| folder | what lives here | may import |")
    table: dict[str, set[str]] = {}
    for line in itertools.takewhile(lambda text: text.startswith("|"), lines[start + 2 :]):
        match = _ROW.match(line.strip())
        assert match, f"docs/architecture.md: a Layout row not of the form expected: {line}"
        table[match["folder"]] = set(re.findall(r"`([a-z_]+)`", match["imports"]))
    return table


def python_files(folder: Path) -> list[Path]:
    """The ``.py`` files below ``folder``, hidden folders (caches, venvs) left out."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(here) / name for name in files if name.endswith(".py")]
    return sorted(found)


def imports_of(path: Path) -> set[tuple[str, int]]:
    """The top-level names ``path`` imports, with the line of each import."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def test_the_layout_table_names_every_package_of_the_repository() -> None:
    table = rules()
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(table), (
        f"packages missing from the Layout table: {packages - set(table)}"
    )
    assert "bench" in table
    assert table["facmon"] == set()


def test_no_package_imports_one_it_must_not() -> None:
    table = rules()
    ours = set(table) | {"tests"}
    broken: list[str] = []
    for folder, allowed in table.items():
        for path in python_files(ROOT / folder):
            for name, line in imports_of(path):
                if name in ours and name != folder and name not in allowed:
                    broken.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert broken == []


def test_nothing_imports_the_launcher() -> None:
    users = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in rules()
        if folder != "launcher"
        for path in python_files(ROOT / folder)
        for name, line in imports_of(path)
        if name == "launcher"
    ]
    assert users == []


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import tests\n"
        "import tests.integration.apps as apps\n"
        "def later():\n"
        "    from collector.main import Collector\n"
        "from . import sibling\n"
        "import testsuite\n"
    )
    assert imports_of(module) == {("tests", 1), ("tests", 2), ("collector", 4), ("testsuite", 6)}
    assert "collector" not in rules()["api"]
    assert "tests" not in rules()["bench"]


def test_components_name_no_field_protocol_and_no_simulator() -> None:
    """The gateway, the API and the dashboards drive protocols only through ``devices.fieldbus``."""
    protocols = {p.parent.name for p in (ROOT / "devices").glob("*/protocol.py")}
    assert "modbus" in protocols
    internal = {f"devices.{name}" for name in protocols | {"sim"}}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"
        for folder in ("gateway", "api", "dashboards", "collector", "storage")
        for path in python_files(ROOT / folder)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom | ast.Import)
        for module in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
        if any(module == i or module.startswith(f"{i}.") for i in internal)
    ]
    assert found == []
