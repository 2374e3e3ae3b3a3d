"""The committed dashboard JSON is what the code generates, byte for byte, every time."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dashboards.catalog import BUILDERS, GENERATED_DIR, Difference, differences, files, write
from launcher.cli import app


def test_the_committed_files_are_what_the_code_generates() -> None:
    assert differences(GENERATED_DIR) == [], "run `facmon dashboards build` and commit the result"


def test_building_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(first)
    write(second)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert len(names) == len(BUILDERS)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_files_are_sorted_indented_json_with_a_trailing_newline() -> None:
    for name, text in files().items():
        model = json.loads(text)
        assert name == f"{model['uid']}.json"
        assert text == json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_differences_name_changed_missing_and_extra_files(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert differences(tmp_path) == []
    changed, removed = written[0], written[1]
    changed.write_text(changed.read_text().replace('"schemaVersion": 39', '"schemaVersion": 38'))
    removed.unlink()
    (tmp_path / "old-dashboard.json").write_text("{}\n")
    assert differences(tmp_path) == [
        Difference(changed.name, "differs"),
        Difference(removed.name, "missing"),
        Difference("old-dashboard.json", "extra"),
    ]


def test_cli_build_writes_and_check_passes(tmp_path: Path) -> None:
    runner = CliRunner()
    built = runner.invoke(app, ["dashboards", "build", "--output", str(tmp_path)])
    assert built.exit_code == 0, built.output
    assert built.output.count("wrote ") == len(BUILDERS)
    checked = runner.invoke(app, ["dashboards", "check", "--output", str(tmp_path)])
    assert checked.exit_code == 0, checked.output


def test_cli_check_fails_naming_the_file_that_differs(tmp_path: Path) -> None:
    write(tmp_path)
    target = tmp_path / "facmon-energy.json"
    target.write_text(target.read_text().replace("Energy", "Power", 1))
    result = CliRunner().invoke(app, ["dashboards", "check", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "facmon-energy.json differs from the code" in result.output
    assert "facmon-fleet.json" not in result.output
