"""The ``facmon`` command.

Each long-running subcommand takes ``--config PATH`` (YAML; ``FACMON_*`` environment
variables override it), validates the configuration before starting anything, and exits 2
with the file, the field and what was wrong when it is invalid. SIGINT and SIGTERM stop a
service cleanly (exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from facmon import __version__
from facmon.config import ConfigError, load_config
from facmon.logs import LogFormat, setup_logging

log = logging.getLogger(__name__)

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
    _exit_past_stuck_threads()


EXIT_GRACE_S = 5.0
"""How long a stopped service waits for threads still running before it exits anyway."""


def _exit_past_stuck_threads() -> None:
    """Exit even if a library left a worker thread running.

    Everything durable is done once the service's coroutine has ended. A database driver's
    thread whose connection was being used when the service was cancelled (aiosqlite's are
    not daemon threads) would otherwise keep the process alive forever after SIGTERM.
    """
    deadline = time.monotonic() + EXIT_GRACE_S
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    for thread in others:
        if not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in others if t.is_alive() and not t.daemon]
    if stuck:
        log.warning("exiting with %d thread(s) still running: %s", len(stuck), ", ".join(stuck))
        logging.shutdown()
        os._exit(0)


@app.command()
def gateway(config: ConfigOption = None) -> None:
    """Poll Modbus devices and publish their readings uplink."""
    from gateway.config import GatewayConfig  # noqa: PLC0415 - each command imports only its own
    from gateway.main import Gateway, compile_plans, ingest_profiles  # noqa: PLC0415
    from gateway.spool import SpoolError  # noqa: PLC0415

    settings = _load(GatewayConfig, config)
    try:
        plans, ingest = compile_plans(settings), ingest_profiles(settings)
    except ConfigError as exc:
        raise fail(f"{config}: {exc}") from None

    async def serve() -> None:
        try:
            gateway = Gateway(settings, plans, ingest)
        except SpoolError as exc:
            raise fail(f"{config}: spool.path: {exc}") from None
        await gateway.run()

    run_service(serve())


@app.command()
def collector(config: ConfigOption = None) -> None:
    """Consume readings from the broker and store them (InfluxDB or SQLite)."""
    from collector.config import CollectorConfig  # noqa: PLC0415
    from collector.main import Collector  # noqa: PLC0415

    run_service(Collector(_load(CollectorConfig, config)).run())


api_app = typer.Typer(help="Serve the asset-status API; manage its tokens.")
app.add_typer(api_app, name="api")


@api_app.callback(invoke_without_command=True)
def api(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Serve the asset-status API (with no subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from api.alerts.rules import RulesError  # noqa: PLC0415
    from api.config import ApiConfig  # noqa: PLC0415
    from api.main import ApiService  # noqa: PLC0415

    try:
        service = ApiService(_load(ApiConfig, config))
    except RulesError as exc:
        raise fail(f"alert rules: {exc}") from None
    run_service(service.run())


@api_app.command("create-token")
def create_token(
    role: Annotated[str, typer.Option(help="viewer, operator or admin")],
    name: Annotated[str, typer.Option(help="Who or what the token is for")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create an API token in the registry's database and print it (shown only once)."""
    from api.config import ApiConfig  # noqa: PLC0415
    from api.registry.db import make_engine, migrate, prepare_sqlite_dir  # noqa: PLC0415
    from api.registry.models import Role  # noqa: PLC0415
    from api.registry.tokens import create_token as store_token  # noqa: PLC0415

    try:
        wanted = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"{role!r} is not one of viewer, operator, admin", param_hint="--role"
        ) from None
    settings = _load(ApiConfig, config)
    prepare_sqlite_dir(settings.database)
    migrate(settings.database)

    async def store() -> str:
        from sqlalchemy.ext.asyncio import async_sessionmaker  # noqa: PLC0415

        engine = make_engine(settings.database)
        try:
            return await store_token(async_sessionmaker(engine), name[:200], wanted)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(store()))


@api_app.command("revoke-token")
def revoke_token(
    name: Annotated[str, typer.Option(help="The name the token was created with")],
    config: ConfigOption = None,
) -> None:
    """Revoke every API token of that name; a running API refuses them within 6 s."""
    from api.config import ApiConfig  # noqa: PLC0415
    from api.registry.db import make_engine  # noqa: PLC0415
    from api.registry.tokens import revoke_tokens  # noqa: PLC0415

    settings = _load(ApiConfig, config)

    async def revoke() -> int:
        from sqlalchemy.ext.asyncio import async_sessionmaker  # noqa: PLC0415

        engine = make_engine(settings.database)
        try:
            return await revoke_tokens(async_sessionmaker(engine), name)
        finally:
            await engine.dispose()

    count = asyncio.run(revoke())
    if count == 0:
        typer.echo(f"facmon: no API token in force is named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} token(s) named {name!r}")


@app.command()
def sim(
    config: ConfigOption = None,
    scenario: Annotated[
        Path | None, typer.Option(help="A scenario file (steps:) played on top of the config's.")
    ] = None,
) -> None:
    """Simulate devices from their profiles (Modbus TCP or RTU over TCP, and MQTT)."""
    from devices.library import ProfileError  # noqa: PLC0415
    from devices.sim.model import SimConfig  # noqa: PLC0415
    from devices.sim.runner import Simulator  # noqa: PLC0415
    from devices.sim.scenario import Scenario  # noqa: PLC0415

    settings = _load(SimConfig, config)
    if scenario is not None:
        steps = [*settings.scenario, *_load(Scenario, scenario).steps]
        try:
            settings = SimConfig.model_validate(
                {
                    **settings.model_dump(by_alias=True),
                    "scenario": [s.model_dump(by_alias=True, exclude_none=True) for s in steps],
                }
            )
        except ValueError as exc:
            raise fail(f"{scenario}: {exc}") from None
    try:
        simulator = Simulator(settings)
    except ProfileError as exc:
        raise fail(str(exc)) from None
    run_service(simulator.run())


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
    from launcher.demo import DemoError, run_demo  # noqa: PLC0415

    try:
        run_service(run_demo(host, port, workdir, influx))
    except* DemoError as group:
        for error in group.exceptions:
            typer.echo(f"facmon demo: {error}", err=True)
        raise typer.Exit(1) from None


profiles_app = typer.Typer(help="Check device profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("check")
def profiles_check(
    paths: Annotated[list[Path], typer.Argument(help="Profile files (YAML).", show_default=False)],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on a text without English or Chinese too.")
    ] = False,
) -> None:
    """Validate profiles; print each error with file, line and field; exit 1 on any error.

    A text people read (a point's, flag's, state's or fault's name, a description) without
    both English and Chinese is a warning (file, line, what), an error with ``--strict``.
    """
    from devices.library import ProfileError, load_profile, untranslated  # noqa: PLC0415

    failed = warned = 0
    for path in paths:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            failed += 1
            typer.echo(str(exc), err=True)
            continue
        warnings = untranslated(path, profile)
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
        warned += bool(warnings)
        typer.echo(f"ok  {path}: {profile.name}, {profile.protocol}, {len(profile.points)} points")
    if warned:
        typer.echo(f"{warned} of {len(paths)} profile(s) lack English or Chinese texts", err=True)
    if failed:
        typer.echo(f"{failed} of {len(paths)} profile(s) invalid", err=True)
    if failed or (strict and warned):
        raise typer.Exit(1)


dashboards_app = typer.Typer(help="Build and check the Grafana dashboards.", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")
DashboardsDir = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Directory of the JSON files [default: dashboards/generated]."
    ),
]


@dashboards_app.command("build")
def dashboards_build(output: DashboardsDir = None) -> None:
    """Write one <uid>.json per dashboard, generated from the code in dashboards/."""
    from dashboards.catalog import GENERATED_DIR, differences, write  # noqa: PLC0415

    directory = output or GENERATED_DIR
    for path in write(directory):
        typer.echo(f"wrote {_shown(path)}")
    for difference in differences(directory):
        typer.echo(f"warning: {difference}", err=True)


@dashboards_app.command("check")
def dashboards_check(output: DashboardsDir = None) -> None:
    """Compare the JSON files with the code; name each that differs, is missing or extra."""
    from dashboards.catalog import BUILDERS, GENERATED_DIR, differences  # noqa: PLC0415

    directory = output or GENERATED_DIR
    found = differences(directory)
    for difference in found:
        typer.echo(f"{_shown(directory / difference.file)} {difference.reason}", err=True)
    if found:
        typer.echo("run `facmon dashboards build` and commit the result", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok  {len(BUILDERS)} dashboards in {_shown(directory)} match the code")


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


@app.command()
def probe(
    host: Annotated[str, typer.Option(help="Device or serial server address.")],
    port: Annotated[int, typer.Option(help="TCP port.")] = 502,
    unit: Annotated[int, typer.Option(help="Modbus unit id.")] = 1,
    address: Annotated[int, typer.Option(help="First register (zero-based PDU address).")] = 0,
    count: Annotated[int, typer.Option(min=1, max=125, help="Registers to read.")] = 4,
    table: Annotated[str, typer.Option(help="holding or input.")] = "holding",
    profile: Annotated[
        str | None, typer.Option(help="Profile name or file: show values with its scale.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read raw registers from a live device and print them under every type and byte order."""
    from devices.modbus.probe_cli import run_probe  # noqa: PLC0415

    code = run_probe(host, port, unit, address, count, table, profile, timeout, as_json)
    if code:
        raise typer.Exit(code)


@app.command("config-reference")
def config_reference(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the configuration reference (Markdown) generated from the config models."""
    from launcher.reference import components, render  # noqa: PLC0415

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
