"""Every command in the docs runs, or is matched to the test that exercises it.

Commands are the lines of the ```sh blocks of README.md and docs/**/*.md ("Commands in these
docs" in docs/quickstart.md). Most run for real against one ``facmon demo`` started here, on
a port other than 8000: commands reach the API through ``"$FACMON_URL"``, which each page
sets once (``export FACMON_URL=http://127.0.0.1:8000``, the one place the address is rewritten
to the demo's), ``.demo/`` becomes its work directory and ``/tmp/`` a temporary directory,
and the working directory is a copy of the repository, so nothing is written into the
checkout. The commands of one file run in order and share their
shell variables (``TOKEN=$(cat .demo/api-token)``); a command selected alone runs the ones
before it in its file first. A long-running command (``facmon sim --config ...``, a
``curl -N`` event stream) must still run after 3 s with no traceback, and keeps running for
the commands after it until the end of its section (the next heading); then it is stopped
with SIGINT, and a facmon component must exit 0.

Commands that CI cannot run as written (``make demo``, ``docker compose``, a real device's
address) are listed in ``MATCHED`` with the test that exercises the same thing.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import yaml

from facmon.net import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
THIS = "tests/integration/test_doc_commands.py"
NOT_SCANNED = {"docs/configuration.md", "docs/benchmarks.md"}
"""Generated or measured pages, with no command to run."""
OTHER_SHELL_LANGUAGES = {"bash", "shell", "console", "zsh", "sh-session", "shell-session"}
DOC_BASE = "http://127.0.0.1:8000"
DOC_EXPORT = f"export FACMON_URL={DOC_BASE}"
"""How a page says where the API is, once; its commands say ``"$FACMON_URL"``."""
HARD_CODED = re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+")
"""An address with a port written into a command (the API's is ``$FACMON_URL``)."""
DOC_WORKDIR = ".demo/"
REWRITTEN = re.compile(
    rf"(?<=^{re.escape('export FACMON_URL=')}){re.escape(DOC_BASE)}(?!\d)"
    rf"|(?<![\w.-]){re.escape(DOC_WORKDIR)}|(?<![\w./-])/tmp/",
    re.MULTILINE,
)
"""What a command says of the demo and of scratch space, rewritten before it runs."""
READY_TIMEOUT_S = 90.0
ALERTS_TIMEOUT_S = 90.0
COMMAND_TIMEOUT_S = 60.0
ALIVE_S = 3.0
STOP_TIMEOUT_S = 20.0

DEMO_ASSET = "ups-b1-1"
DEMO_ALERTS = ("projector-left-on", "after-hours-access", "service-area")
"""Alerts of the demo's scenario that the docs handle (acknowledge, resolve, work order).
They stay open; the commands wait for nothing, so the demo must have raised them first."""

MATCHED: list[tuple[str, str]] = [
    (
        r"^make demo\s*(#.*)?$",
        "tests/integration/test_demo.py::test_demo_raises_every_scenario_alert_within_two_minutes",
    ),
    (r"^make test\s*(#.*)?$", f"{THIS}::test_make_runs_what_the_docs_say"),
    (
        r"^docker compose (--profile sim )?up -d\s*(#.*)?$",
        "tests/test_deploy.py::test_compose_config_is_valid_when_every_secret_is_set",
    ),
    (
        r"^docker compose exec api facmon api create-token ",
        "tests/integration/test_registry_db.py::test_create_token_prints_a_token_that_carries_its_role",
    ),
    (r"^docker compose -f ", f"{THIS}::test_the_documented_compose_files_are_valid"),
    (
        r"^docker compose (exec|cp|stop|start|restart|build|ps|logs)\b",
        f"{THIS}::test_compose_commands_name_real_services",
    ),
    (
        r"^facmon probe --host 10\.",
        "tests/integration/test_sim_wire.py::test_probe_lists_the_right_decoding",
    ),
]
"""Commands CI cannot run as written (regex on the command, the first that matches) → the
pytest node id of the test that exercises the same thing."""
CANNOT_RUN = re.compile(r"^(sudo|make|docker|apt-get|apt|systemctl|journalctl|ssh|scp)\b")
"""Never run here: such a command without a MATCHED entry fails, naming its file and line."""
LONG_RUNNING = re.compile(
    r"^facmon (--\S+ \S+ )*(gateway|collector|sim|api) +(--config|-c) "
    r"|^curl (.* )?-[a-zA-Z]*N\b|&$"
)
"""Runs until stopped: a facmon component with its configuration, an event stream, a job."""


@dataclass(frozen=True)
class Command:
    """One command of a doc: where it is and its text (continuation lines included)."""

    file: str
    line: int
    text: str
    section: int
    """Which part of the file (counted by headings): long-running commands stop at its end."""

    @property
    def where(self) -> str:
        """``file:line``, the pytest id of its test."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Fence:
    """A fenced block's language and the line it opens on."""

    file: str
    line: int
    language: str


def doc_files() -> list[Path]:
    """README.md and every page under docs/ that has commands."""
    pages = sorted((ROOT / "docs").rglob("*.md"))
    return [ROOT / "README.md"] + [p for p in pages if str(p.relative_to(ROOT)) not in NOT_SCANNED]


FENCE = re.compile(r"^\s*(```+|~~~+)\s*([^\s`]*)")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]+)\1")


def parse(path: Path) -> tuple[list[Command], list[Fence]]:
    """The commands of the ``sh`` blocks of ``path``, and every fence it opens."""
    name = str(path.relative_to(ROOT))
    commands: list[Command] = []
    fences: list[Fence] = []
    closing: str | None = None
    language = ""
    section = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        text = lines[index]
        number = index + 1
        index += 1
        match = FENCE.match(text)
        if closing is None:
            if match:
                closing, language = match.group(1), match.group(2).lower()
                fences.append(Fence(name, number, language))
            elif text.startswith("#"):
                section += 1
            continue
        if match and match.group(1).startswith(closing) and not match.group(2):
            closing = None
            continue
        if language != "sh" or not text.strip() or text.strip().startswith("#"):
            continue
        parts = [text]
        while parts[-1].rstrip().endswith("\\") and index < len(lines):
            parts.append(lines[index])
            index += 1
        heredoc = HEREDOC.search("\n".join(parts))
        if heredoc:
            while index < len(lines):
                parts.append(lines[index])
                index += 1
                if parts[-1].strip() == heredoc.group(2):
                    break
        commands.append(Command(name, number, "\n".join(parts).strip(), section))
    return commands, fences


ALL: list[Command] = []
FENCES: list[Fence] = []
for _path in doc_files():
    _commands, _fences = parse(_path)
    ALL += _commands
    FENCES += _fences


def matched_test(command: Command) -> str | None:
    """The node id of the test standing in for ``command``, if it cannot run here."""
    for pattern, node in MATCHED:
        if re.search(pattern, command.text):
            return node
    return None


@dataclass(frozen=True)
class Step:
    """Run a command, start a long-running one, or stop it at the end of its section."""

    command: Command
    kind: Literal["run", "start", "stop"]

    @property
    def id(self) -> str:
        """The pytest id: ``file:line``, and `` stop`` for the stop of a long-running one."""
        return self.command.where + (" stop" if self.kind == "stop" else "")


def plan(commands: list[Command]) -> list[Step]:
    """The steps of the commands that run here, in the order of the docs."""
    steps: list[Step] = []
    running: list[Command] = []
    for position, command in enumerate(commands):
        if matched_test(command) is None:
            long = bool(LONG_RUNNING.search(command.text)) and not CANNOT_RUN.match(command.text)
            steps.append(Step(command, "start" if long else "run"))
            if long:
                running.append(command)
        following = commands[position + 1] if position + 1 < len(commands) else None
        if following is None or (following.file, following.section) != (
            command.file,
            command.section,
        ):
            steps += [Step(c, "stop") for c in reversed(running)]
            running = []
    return steps


STEPS = plan(ALL)


# --- the demo and the shells the commands run in ---------------------------------------------


@dataclass
class Demo:
    """A running ``facmon demo``."""

    base: str
    workdir: Path
    token: str


def _get(base: str, path: str, token: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.TransportError:
        return None


def _wait(
    what: str,
    timeout: float,
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
) -> None:
    """Wait until ``ready()``; fail, with the demo's log, if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"facmon demo exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"facmon demo: no {what} within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``facmon demo`` on a free port (never the docs' 8000), once its asset file, readings and
    alerts are there."""
    port = free_port()
    while port == 8000:
        port = free_port()
    workdir = tmp_path_factory.mktemp("demo") / "data"
    log = workdir.parent / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "launcher",
                "demo",
                "--port",
                str(port),
                "--workdir",
                str(workdir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**_clean_environment(), "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    token_file = workdir / "api-token"

    def token() -> str:
        return token_file.read_text().strip() if token_file.exists() else ""

    def answers(path: str) -> bool:
        response = _get(base, path, token()) if token() else None
        return response is not None and response.status_code == 200

    def raised(rule: str) -> bool:
        response = _get(base, f"/api/v1/alerts?state=open&rule={rule}", token())
        return response is not None and response.status_code == 200 and response.json()["total"] > 0

    try:
        _wait(
            "asset file and readings",
            READY_TIMEOUT_S,
            lambda: (
                answers(f"/api/v1/assets/{DEMO_ASSET}")
                and answers(f"/api/v1/devices/{DEMO_ASSET}/latest")
            ),
            process,
            log,
        )
        _wait(
            f"alerts {', '.join(DEMO_ALERTS)}",
            ALERTS_TIMEOUT_S,
            lambda: all(raised(rule) for rule in DEMO_ALERTS),
            process,
            log,
        )
        yield Demo(base, workdir, token())
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, f"facmon demo exited with {process.returncode}:\n{tail(log)}"


def _clean_environment() -> dict[str, str]:
    """This environment without facmon's variables, and with the venv's programs first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FACMON_") and k not in {"PORT", "INFLUX"}
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file."""
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's files (tracked or not ignored), its venv linked in."""
    copy = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


@dataclass
class Running:
    """A long-running command started by a step."""

    process: subprocess.Popen[bytes]
    log: Path
    facmon: bool


@dataclass
class Session:
    """The shell of one doc file: working directory, variables, what runs in the background."""

    demo: Demo
    cwd: Path
    tmp: Path
    env: dict[str, str]
    outcomes: dict[str, str | None] = field(default_factory=dict)
    running: dict[str, Running] = field(default_factory=dict)

    def script(self, text: str) -> str:
        """The command as it runs against this demo."""
        places = {
            DOC_BASE: self.demo.base,
            DOC_WORKDIR: f"{self.demo.workdir}/",
            "/tmp/": f"{self.tmp}/",
        }
        return REWRITTEN.sub(lambda found: places[found.group(0)], text)

    def do(self, step: Step) -> None:
        """Run the steps of this file before ``step`` if needed, then ``step``; fail if it does."""
        for earlier in (s for s in STEPS if s.command.file == step.command.file):
            if earlier == step:
                break
            if earlier.id not in self.outcomes:
                self._record(earlier)
            if self.outcomes[earlier.id] is not None:
                pytest.fail(f"an earlier command of this file failed: {earlier.id}", pytrace=False)
        self._record(step)
        problem = self.outcomes[step.id]
        if problem is not None:
            pytest.fail(f"{step.id}: {step.command.text}\n{problem}", pytrace=False)

    def _record(self, step: Step) -> None:
        try:
            {"run": self._run, "start": self._start, "stop": self._stop}[step.kind](step)
        except AssertionError as exc:
            self.outcomes[step.id] = str(exc)
        else:
            self.outcomes[step.id] = None

    def _run(self, step: Step) -> None:
        if CANNOT_RUN.match(step.command.text):
            raise AssertionError(
                "CI cannot run this: add it to MATCHED with the test that covers it"
            )
        after = self.tmp / "after"
        script = (
            f"set -a\n{self.script(step.command.text)}\n__status=$?\n"
            f"pwd > {shlex.quote(str(after))}.pwd\nenv -0 > {shlex.quote(str(after))}.env\n"
            "exit $__status\n"
        )
        try:
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", script],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"still running after {COMMAND_TIMEOUT_S:.0f} s") from exc
        if result.returncode != 0:
            raise AssertionError(
                f"exit status {result.returncode}\n--- stderr ---\n{result.stderr[-4000:]}"
                f"\n--- stdout ---\n{result.stdout[-2000:]}"
            )
        variables = Path(f"{after}.env").read_bytes().decode().split("\0")
        self.env = {
            name: value
            for name, _, value in (v.partition("=") for v in variables if "=" in v)
            if not name.startswith("__") and name not in {"PWD", "OLDPWD", "SHLVL", "_"}
        }
        self.cwd = Path(Path(f"{after}.pwd").read_text().strip())

    def _start(self, step: Step) -> None:
        text = self.script(step.command.text).removesuffix("&").rstrip()
        simple = not re.search(r"[|;&\n]|\$\(", text)
        log = self.tmp / f"{step.command.line}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-o", "pipefail", "-c", f"{'exec ' if simple else ''}{text}"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        facmon = text.startswith("facmon ")
        self.running[step.id] = Running(process, log, facmon)
        deadline = time.monotonic() + ALIVE_S
        while time.monotonic() < deadline:
            assert process.poll() is None, f"exited with {process.returncode}:\n{tail(log)}"
            time.sleep(0.2)
        assert "Traceback" not in log.read_text(errors="replace"), tail(log, 80)
        if not facmon:
            assert log.stat().st_size > 0, f"no output within {ALIVE_S:.0f} s"

    def _stop(self, step: Step) -> None:
        started = Step(step.command, "start")
        running = self.running.pop(started.id, None)
        if running is None:
            return  # it did not start, and its start failed
        code = stop(running.process)
        text = running.log.read_text(errors="replace")
        assert "Traceback" not in text, tail(running.log, 80)
        if running.facmon:
            assert code == 0, f"exit status {code} after SIGINT:\n{tail(running.log)}"

    def close(self) -> None:
        """Stop whatever still runs."""
        for running in self.running.values():
            stop(running.process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGINT the process group of ``process``; SIGKILL it if it does not end in time."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"still running {STOP_TIMEOUT_S:.0f} s after SIGINT") from None
    return process.returncode


@pytest.fixture(scope="module")
def sessions(
    demo: Demo, checkout: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Session]]:
    """One shell per doc file, made on first use; what they left running is stopped before
    the demo is."""
    made: dict[str, Session] = {}
    yield made
    for session in made.values():
        session.close()


def session_for(
    file: str, made: dict[str, Session], demo: Demo, checkout: Path, tmp: pytest.TempPathFactory
) -> Session:
    """The shell of ``file``."""
    if file not in made:
        made[file] = Session(
            demo, checkout, tmp.mktemp(file.replace("/", "-")), _clean_environment()
        )
    return made[file]


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.timeout(900)
@pytest.mark.parametrize("step", STEPS, ids=[s.id for s in STEPS])
def test_doc_command(
    step: Step,
    sessions: dict[str, Session],
    demo: Demo,
    checkout: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The command runs against the demo and exits 0 (or keeps running, and stops cleanly)."""
    session_for(step.command.file, sessions, demo, checkout, tmp_path_factory).do(step)


MATCHED_COMMANDS = [c for c in ALL if matched_test(c) is not None]


@pytest.mark.parametrize("command", MATCHED_COMMANDS, ids=[c.where for c in MATCHED_COMMANDS])
def test_a_command_that_cannot_run_here_is_covered_by_a_test(command: Command) -> None:
    """Its MATCHED entry names a test that exists."""
    node = matched_test(command)
    assert node is not None
    assert node_exists(node), f"{command.where}: {command.text}\n  → {node}: no such test"


def node_exists(node: str) -> bool:
    """Whether ``path::function`` (or ``path::Class::method``) is defined, without importing."""
    path, *names = node.split("[", maxsplit=1)[0].split("::")
    source = ROOT / path
    if not source.is_file() or not names:
        return False
    body: list[ast.stmt] = ast.parse(source.read_text()).body
    for name in names:
        found = [
            n
            for n in body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == name
        ]
        if not found:
            return False
        body = found[0].body
    return True


def test_every_matched_pattern_is_used() -> None:
    """No entry of MATCHED is left over from a command that is gone."""
    unused = [p for p, _ in MATCHED if not any(re.search(p, c.text) for c in ALL)]
    assert not unused, f"no command matches: {unused}"


def test_commands_are_in_sh_blocks_only() -> None:
    """Commands are fenced ``sh``: another shell language would escape this test."""
    other = [
        f"{f.file}:{f.line} ```{f.language}" for f in FENCES if f.language in OTHER_SHELL_LANGUAGES
    ]
    assert not other, "use ```sh for commands, ```text for output:\n" + "\n".join(other)
    assert len(ALL) > 50, f"only {len(ALL)} commands found: is the parser broken?"


def test_commands_reach_the_api_through_facmon_url() -> None:
    """No command hard-codes the API's port: each page exports ``FACMON_URL`` once, before the
    first command that uses it, and the commands say ``"$FACMON_URL"``."""
    problems = []
    for command in ALL:
        rest = [t for t in command.text.splitlines() if not t.strip().startswith(DOC_EXPORT)]
        problems += [f"{command.where}: {t.strip()}" for t in rest if HARD_CODED.search(t)]
    for file in sorted({c.file for c in ALL}):
        commands = [c for c in ALL if c.file == file]
        exports = [c for c in commands if c.text.startswith(DOC_EXPORT)]
        users = [c for c in commands if "$FACMON_URL" in c.text]
        if users and (len(exports) != 1 or exports[0].line > users[0].line):
            problems.append(f"{file}: export FACMON_URL once, before {users[0].where}")
    assert not problems, 'use "$FACMON_URL" instead of the address:\n' + "\n".join(problems)


def test_the_demo_console_prints_the_next_commands_for_its_port_and_links_that_open(
    demo: Demo, tmp_path: Path
) -> None:
    """Its ``export`` lines work in a shell, its links open in a browser (no Bearer header),
    and it prints no Alembic INFO nor raw dicts; ``/healthz`` counts the devices it counts."""
    printed = (demo.workdir.parent / "demo.log").read_text(errors="replace")
    lines = [line.strip() for line in printed.splitlines()]
    assert f"export FACMON_URL={demo.base}" in lines
    token_line = next(line for line in lines if line.startswith("export TOKEN="))
    script = f"{token_line}\nexport FACMON_URL={demo.base}\n" + next(
        line for line in lines if line.startswith("curl ") and "$FACMON_URL" in line
    )
    ran = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=tmp_path,  # the printed path works from any folder
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("{")
    for label in ("status page", "open alerts", "API docs", "API health"):
        link = next(line for line in lines if line.startswith(label)).split()[len(label.split())]
        assert link.startswith(demo.base), link
        page = httpx.get(link, timeout=10)  # as a browser opens it: no Authorization header
        assert page.status_code == 200, f"{label} {link}: {page.status_code}"
    assert "alembic" not in printed
    assert "{'" not in printed, [line for line in lines if "{'" in line][:3]
    health = httpx.get(f"{demo.base}/healthz", timeout=10).json()
    devices = _get(demo.base, "/api/v1/devices", demo.token)
    assert devices is not None
    counted = [d for d in devices.json() if d["state"] and d["device"] != d["gateway"]]
    assert health["devices"] == len(counted)


def test_curl_examples_fail_on_http_errors() -> None:
    """Every curl has ``-f`` (``--fail``), so that an HTTP error fails the command."""
    missing = []
    for command in ALL:
        for use in re.findall(r"(?:^|[|;&(]\s*|\$\()curl\s[^|;&)]*", command.text, re.MULTILINE):
            words = use.replace("\\\n", " ").split()
            if not any(
                w in {"--fail", "--fail-with-body"} or (re.fullmatch(r"-[a-zA-Z]+", w) and "f" in w)
                for w in words
            ):
                missing.append(f"{command.where}: {use.strip()}")
    assert not missing, "curl without -f:\n" + "\n".join(missing)


def test_make_runs_what_the_docs_say() -> None:
    """``make demo PORT=``/``INFLUX=`` reach ``facmon demo``; ``make test`` lints, type-checks
    and runs the suite after installing the services (a dry run: ``make -n``)."""

    def dry(*args: str) -> list[str]:
        result = subprocess.run(
            ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return [line.rstrip() for line in result.stdout.splitlines()]

    assert ".venv/bin/facmon demo --port 8000" in dry("demo")
    assert ".venv/bin/facmon demo --port 8080" in dry("demo", "PORT=8080")
    influx = ".venv/bin/facmon demo --port 8000 --influx http://127.0.0.1:8086"
    assert influx in dry("demo", "INFLUX=http://127.0.0.1:8086")
    recipe = dry("test")
    for line in (
        "bash tests/setup-services.sh",
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        ".venv/bin/pytest",
    ):
        assert line in recipe, f"make test no longer runs {line!r}: {recipe}"


def compose_services(files: list[str]) -> dict[str, Any]:
    """The services of the compose files (repository paths), later files adding to earlier."""
    services: dict[str, Any] = {}
    for name in files:
        services.update(yaml.safe_load((ROOT / name).read_text()).get("services", {}))
    return services


def compose_words(command: Command) -> tuple[list[str], list[str]]:
    """The ``-f`` files of a ``docker compose`` command and the words after its options."""
    words = shlex.split(command.text.replace("\\\n", " "))[2:]
    files: list[str] = []
    while words and words[0].startswith("-"):
        option = words.pop(0)
        value = words.pop(0) if option in {"-f", "--file", "--env-file", "--profile"} else ""
        if option in {"-f", "--file"}:
            files.append(value)
    return files or ["docker-compose.yml"], words


def test_compose_commands_name_real_services() -> None:
    """``docker compose exec|cp|logs|...`` in the docs name services of the compose files, and
    the databases, users and mounted configuration that compose gives them."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    checked = 0
    for command in ALL:
        if not re.match(r"^docker compose\b", command.text):
            continue
        files, words = compose_words(command)
        services = compose_services(files)
        verb, rest = words[0], [w for w in words[1:] if not w.startswith("-")]
        service = ""
        if verb in {"exec", "cp", "logs", "restart", "stop", "start"} and rest:
            service = rest[0].split(":")[0] if verb == "cp" else rest[0]
            assert service in services, f"{command.where}: no service {service!r} in {files}"
        text = command.text
        if re.search(r"\b(pg_dump|pg_restore|psql)\b", text):
            env = compose["postgres"]["environment"]
            assert f"-U {env['POSTGRES_USER']}" in text, command.where
            assert re.search(rf"\s{env['POSTGRES_DB']}(\s|$)", text), command.where
        if re.search(r"\binfluxd? ", text):
            database = compose["influxdb"]["environment"]["INFLUXDB_DB"]
            assert f"-db {database}" in text or f"ON {database}" in text, command.where
        config = re.search(r"--config /etc/facmon/(\S+)", text)
        if config:
            assert "./facmon/deploy:/etc/facmon:ro" in services[service]["volumes"], command.where
            assert (ROOT / "facmon" / "deploy" / config.group(1)).is_file(), command.where
        checked += 1
    assert checked, "no docker compose command found"


def test_the_documented_compose_files_are_valid(tmp_path: Path) -> None:
    """Each set of ``-f`` files a ``docker compose`` command of the docs names passes
    ``docker-compose config`` with every secret set."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: run tests/setup-services.sh"
    from tests.test_deploy import SECRETS  # noqa: PLC0415 - the secrets compose refuses without

    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({name: f"secret-{i}" for i, name in enumerate(SECRETS)})
    empty = tmp_path / "empty.env"
    empty.write_text("")
    combinations = {
        tuple(compose_words(c)[0]) for c in ALL if re.match(r"^docker compose -f ", c.text)
    }
    assert combinations, "no docker compose -f command found"
    for files in sorted(combinations):
        arguments = [part for name in files for part in ("-f", str(ROOT / name))]
        result = subprocess.run(
            [binary, "--env-file", str(empty), *arguments, "config", "-q"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{files}: {result.stderr}"


def test_the_worked_profile_in_the_docs_is_the_example_file() -> None:
    """docs/devices.md shows examples/archive-co2.yaml, which its commands use."""
    shown = re.findall(
        r"```yaml\n(# Archive-room.*?)```", (ROOT / "docs/devices.md").read_text(), re.S
    )
    assert shown == [(ROOT / "examples" / "archive-co2.yaml").read_text()]
