"""The repository's layout rules: benchmarks never depend on the tests."""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def python_files(folder: Path) -> list[Path]:
    """The ``.py`` files below ``folder``, hidden folders (caches, venvs) left out."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(here) / name for name in files if name.endswith(".py")]
    return sorted(found)


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or absolute ``from ... import`` in ``source`` names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def imports_tests(source: str) -> set[str]:
    """The modules of the ``tests`` package that ``source`` imports."""
    return {m for m in imported_modules(source) if m == "tests" or m.startswith("tests.")}


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import tests\n"
        "import tests.integration.apps as apps\n"
        "from tests.integration import receivers\n"
        "def later():\n"
        "    from tests.faults.accounting import all_stored\n"
        "from bench.harness import servers\n"
        "import testsuite\n"
    )
    assert imports_tests(source) == {
        "tests",
        "tests.integration.apps",
        "tests.integration",
        "tests.faults.accounting",
    }


def test_no_file_under_bench_imports_tests() -> None:
    files = python_files(BENCH)
    assert BENCH / "gateway" / "run.py" in files
    offenders = {
        str(path.relative_to(ROOT)): sorted(found)
        for path in files
        if (found := imports_tests(path.read_text()))
    }
    assert offenders == {}, "bench/ must not import tests (move what both need to bench/harness)"
