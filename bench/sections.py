"""Write one benchmark's section of docs/benchmarks.md, keeping the others."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(heading: str, section: str) -> None:
    """Replace (or append) the ``## {heading}`` section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nRun by `make bench`.\n"
    pattern = rf"## {re.escape(heading)}\n.*?(?=\n## |\Z)"
    if re.search(pattern, text, flags=re.DOTALL):
        text = re.sub(pattern, lambda _: section.rstrip() + "\n", text, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n" + section
    DOC.write_text(text)


def head_commit() -> str:
    """The short hash of the commit measured."""
    return subprocess.run(
        ["git", "-C", str(DOC.parents[1]), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
