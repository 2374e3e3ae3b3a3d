"""``facmon api create-token`` prints the token on stdout, and nothing else at the default level."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def create_token(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "launcher", *options, "api", "create-token"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    return subprocess.run(
        [*command, "--role", "viewer", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )


def test_create_token_prints_only_the_token_even_on_a_new_database(tmp_path: Path) -> None:
    config = tmp_path / "api.yaml"
    config.write_text(yaml.safe_dump({"database": f"sqlite:///{tmp_path / 'registry.db'}"}))
    made = create_token(config)  # the first run migrates the new database
    assert made.stdout.count("\n") == 1
    assert made.stdout.startswith("fm_")
    assert made.stderr == ""
    again = create_token(config)
    assert (again.stdout.count("\n"), again.stderr) == (1, "")
    debug = create_token(config, "--log-level", "debug")
    assert debug.stdout.count("\n") == 1  # what the log says goes to stderr only
