"""The wheel (what the Docker image installs) holds every file the packages read at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(
    name.rstrip("*")
    for name in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
)


@pytest.mark.integration
def test_the_wheel_holds_every_data_file_of_the_packages(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "README.md", "LICENSE", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    source = tmp_path / "src"  # the tracked files only: no build/ left by an earlier build
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    data = {n for n in tracked if n.startswith(PACKAGES) and not n.endswith(".py")}
    assert "api/alerts/default-rules.yaml" in data
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("facmon-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(data - packed) == []
