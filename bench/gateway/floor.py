"""The C floor: ``floor.c`` (libmodbus) compiled on this machine, looping on one connection."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build_floor(workdir: Path) -> Path:
    """Compile floor.c against libmodbus (Debian libmodbus-dev, installed when missing)."""
    if not Path("/usr/include/modbus/modbus.h").exists():
        if os.geteuid() != 0:
            raise RuntimeError("libmodbus-dev is missing: apt-get install libmodbus-dev (as root)")
        print("installing libmodbus-dev ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "libmodbus-dev"],
            check=True,
            env=env,
        )
    binary = workdir / "floor"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libmodbus"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split() or ["-I/usr/include/modbus", "-lmodbus"]
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(binary), str(HERE / "floor.c"), *flags], check=True
    )
    return binary
