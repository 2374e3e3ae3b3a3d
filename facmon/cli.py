"""The ``facmon`` command.

Each long-running subcommand takes ``--config PATH`` (YAML; ``FACMON_*`` environment
variables override it), validates the configuration before starting anything, and exits 2
with the file, the field and what was wrong when it is invalid. SIGINT and SIGTERM stop a
service cleanly (exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from facmon import __version__
from facmon.config import ConfigError, load_config
from facmon.logs import LogFormat, setup_logging

app = typer.Typer(
    name="facmon",
    help="Facility and equipment monitoring: gateways, collectors, API and simulators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

M = TypeVar("M", bound=BaseModel)
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration file; FACMON_* variables override it."),
]
EXIT_CONFIG = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"facmon {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    log_level: Annotated[
        str, typer.Option(envvar="FACMON_LOG_LEVEL", help="debug, info, warning, error")
    ] = "info",
    log_format: Annotated[
        str, typer.Option(envvar="FACMON_LOG_FORMAT", help="text or json")
    ] = "text",
) -> None:
    """Facility and equipment monitoring."""
    fmt: LogFormat = "json" if log_format == "json" else "text"
    setup_logging(log_level, fmt)


def fail(message: str) -> typer.Exit:
    """Print a configuration error to stderr and return the exit to raise (code 2)."""
    typer.echo(f"facmon: invalid configuration:\n{message}", err=True)
    return typer.Exit(EXIT_CONFIG)


def _load(model: type[M], path: Path | None) -> M:
    try:
        return load_config(model, path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until it ends or SIGINT/SIGTERM arrives, then cancel it and wait."""

    async def supervise() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(supervise())


@app.command()
def gateway(config: ConfigOption = None) -> None:
    """Poll Modbus devices and publish their readings uplink."""
    from gateway.config import GatewayConfig  # noqa: PLC0415 - each command imports only its own
    from gateway.main import Gateway, compile_plans  # noqa: PLC0415

    settings = _load(GatewayConfig, config)
    try:
        plans = compile_plans(settings)
    except ConfigError as exc:
        raise fail(f"{config}: {exc}") from None
    run_service(Gateway(settings, plans).run())


@app.command()
def collector(config: ConfigOption = None) -> None:
    """Consume readings from the broker and store them (InfluxDB or SQLite)."""
    from collector.config import CollectorConfig  # noqa: PLC0415
    from collector.main import Collector  # noqa: PLC0415

    run_service(Collector(_load(CollectorConfig, config)).run())


@app.command()
def api(config: ConfigOption = None) -> None:
    """Serve the asset-status API."""
    from api.config import ApiConfig  # noqa: PLC0415
    from api.main import ApiService  # noqa: PLC0415

    run_service(ApiService(_load(ApiConfig, config)).run())


@app.command()
def sim(config: ConfigOption = None) -> None:
    """Simulate devices from their profiles (Modbus TCP)."""
    from devices.library import ProfileError  # noqa: PLC0415
    from devices.sim.model import SimConfig  # noqa: PLC0415
    from devices.sim.server import build_simulators  # noqa: PLC0415

    settings = _load(SimConfig, config)
    try:
        simulators = build_simulators(settings)
    except ProfileError as exc:
        raise fail(str(exc)) from None

    async def serve() -> None:
        async with asyncio.TaskGroup() as group:
            for simulator in simulators:
                group.create_task(simulator.run())

    run_service(serve())


@app.command()
def demo(
    port: Annotated[int, typer.Option(envvar="PORT", help="Port of the API.")] = 8000,
    host: Annotated[str, typer.Option(help="Address of the API.")] = "127.0.0.1",
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(".demo"),
    influx: Annotated[
        str | None, typer.Option(envvar="INFLUX", help="Write to this InfluxDB instead of SQLite.")
    ] = None,
) -> None:
    """Run the whole system with simulated devices on embedded defaults."""
    from facmon.demo import run_demo  # noqa: PLC0415

    run_service(run_demo(host, port, workdir, influx))


@app.command("config-reference")
def config_reference(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the configuration reference (Markdown) generated from the config models."""
    from facmon.reference import components, render  # noqa: PLC0415

    text = render(components())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def main() -> None:
    """Entry point of the ``facmon`` console script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app(prog_name="facmon")
    sys.exit(0)
