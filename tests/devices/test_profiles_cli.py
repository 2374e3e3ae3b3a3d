"""``facmon profiles check``: exit 0 on the library, 1 with file, line and field on an error.

A text people read without English and Chinese is a warning (file, line, what).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from devices.profile import PROFILE_DIR

CHINESE = re.compile(r"[\u4e00-\u9fff]")


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


def _bilingual(text: Any) -> bool:
    return (
        isinstance(text, dict) and bool(text.get("en")) and bool(CHINESE.search(text.get("zh", "")))
    )


def _unnamed(path: Path) -> list[str]:
    """What in the profile file at ``path`` lacks a name (or description) in en and zh."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [] if _bilingual(data.get("description", {"en": "-", "zh": "-"})) else ["profile"]
    items = [(f"point {p['name']}", p) for p in data["points"]]
    items += [(f"flag {f['name']}", f) for p in data["points"] for f in p.get("flags", {}).values()]
    items += [(f"fault {f['point']}{f['op']}{f['value']}", f) for f in data.get("faults", [])]
    for what, item in items:
        if not _bilingual(item.get("label")):
            missing.append(f"{what}: label")
        if "description" in item and not _bilingual(item["description"]):
            missing.append(f"{what}: description")
    missing += [
        f"point {p['name']}: state {code}"
        for p in data["points"]
        for code, state in p.get("enum", {}).items()
        if not _bilingual(state)
    ]
    return missing


def test_every_point_flag_state_and_fault_of_the_library_is_named_in_en_and_zh() -> None:
    missing = {path.name: _unnamed(path) for path in sorted(PROFILE_DIR.glob("*.yaml"))}
    assert {name: what for name, what in missing.items() if what} == {}
    paths = sorted(PROFILE_DIR.glob("*.yaml"))
    result = check("--strict", *paths)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_a_profile_without_chinese_is_warned_about_with_file_and_line(tmp_path: Path) -> None:
    site = tmp_path / "site-meter.yaml"
    site.write_text(
        textwrap.dedent(
            """\
            name: site-meter
            vendor: Acme
            model: M1
            category: energy
            measurement: meter
            description: A meter of the site
            points:
              - {name: power_kw, table: input, address: 0, type: uint16, description: Power}
              - name: mode
                label: {en: Mode, zh: 模式}
                table: holding
                address: 1
                type: uint16
                enum: {0: "off", 1: {en: Running, zh: 运行}}
            faults:
              - {point: mode, op: "==", value: 0, severity: warning}
            """
        )
    )
    result = check(site)
    assert result.returncode == 0, result.stderr  # plain strings still load: warnings only
    assert f"ok  {site}" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {site}:6: the profile's description has no zh",
        f"warning: {site}:8: point power_kw: label has no en and zh",
        f"warning: {site}:8: point power_kw: description has no zh",
        f"warning: {site}:14: point mode: state 0 has no zh",
        f"warning: {site}:16: fault mode==0: label has no en and zh",
    ]
    assert "1 of 1 profile(s) lack English or Chinese texts" in result.stderr
    assert check("--strict", site).returncode == 1
