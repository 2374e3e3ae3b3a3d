"""``facmon profiles check``: exit 0 on the library, 1 with file, line and field on an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devices.profile import PROFILE_DIR


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", "profiles", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_library_passes() -> None:
    paths = sorted(PROFILE_DIR.glob("*.yaml"))
    result = check(*paths)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  ") == len(paths) >= 2


def test_a_broken_profile_fails_naming_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (PROFILE_DIR / "th-sensor.yaml").read_text()
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if "name: humidity" in line)
    lines[index] = lines[index].replace("type: uint16", "type: uint12")
    broken.write_text("\n".join(lines) + "\n")
    result = check(PROFILE_DIR / "ups.yaml", broken)
    assert result.returncode == 1
    assert f"{broken}:{index + 1}: points[1].type: Input should be" in result.stderr
    assert "1 of 2 profile(s) invalid" in result.stderr
    assert "ok  " in result.stdout
