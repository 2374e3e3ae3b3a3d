"""The status page's event stream over real HTTP, and the page itself in headless chromium."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import update

from api import streams
from api.config import ApiConfig
from api.main import create_app, serve
from api.registry.models import ApiToken
from api.registry.tokens import new_token
from api.routes import overview
from api.services import Services
from bench.harness.mosquitto import MosquittoServer
from facmon.contract import DEFAULT_PREFIX, Topic, TopicKind
from facmon.net import free_port
from tests.integration.apps import registry_services
from tests.integration.browser import chromium
from tests.integration.processes import start_api

pytestmark = pytest.mark.integration

ESTATE = [
    ("sites", {"id": "hq", "name": "总部"}),
    ("buildings", {"id": "b1", "site_id": "hq", "name": "1号楼"}),
    ("floors", {"id": "b1-1f", "building_id": "b1", "name": "1F", "level": 1}),
    ("floors", {"id": "b1-b1", "building_id": "b1", "name": "B1", "level": -1}),
    ("rooms", {"id": "b1-101", "floor_id": "b1-1f", "name": "Server room 机房"}),
    ("rooms", {"id": "b1-001", "floor_id": "b1-b1", "name": "Power room"}),
    ("rooms", {"id": "b1-102", "floor_id": "b1-1f", "name": "Empty room"}),
    ("assets", {"id": "ups-a", "name": "UPS A", "category": "ups", "room_id": "b1-101"}),
    ("assets", {"id": "ac-1", "name": "<b>AC</b> 1", "category": "crac", "room_id": "b1-101"}),
    ("assets", {"id": "meter", "name": "Meter", "category": "meter", "room_id": "b1-001"}),
    ("assets", {"id": "spare", "name": "Spare UPS", "category": "ups", "lifecycle": "idle"}),
    (
        "bindings",
        {"asset_id": "ups-a", "device": "ups-1", "effective_from": "2020-01-01T00:00:00Z"},
    ),
    ("bindings", {"asset_id": "ac-1", "device": "ac-1", "effective_from": "2020-01-01T00:00:00Z"}),
    ("bindings", {"asset_id": "meter", "device": "m-1", "effective_from": "2020-01-01T00:00:00Z"}),
]


def reading(device: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, bytes]:
    """A data message of ``device`` (site hq, gateway gw-1) stamped now."""
    topic = Topic(TopicKind.DATA, "hq", "gw-1", device, prefix)
    data = {"ts": int(time.time() * 1000), "seq": 1, "measurement": "m", "values": {"v": 1}}
    return str(topic), orjson.dumps(data)


def not_answering(device: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, bytes]:
    """A state message: the gateway says ``device`` does not answer."""
    topic = Topic(TopicKind.STATE, "hq", "gw-1", device, prefix)
    state = {"state": "offline", "since": int(time.time() * 1000), "error": "timeout"}
    return str(topic), orjson.dumps(state)


# ---- the stream, over a real HTTP server in this process --------------------------------


@dataclass
class Served:
    """The API served on loopback by uvicorn in this process."""

    base: str
    services: Services
    headers: dict[str, dict[str, str]]


@asynccontextmanager
async def served(folder: Path) -> AsyncIterator[Served]:
    url = ApiConfig(database=f"sqlite:///{folder / 'registry.db'}").database
    async with registry_services(url, folder) as (services, headers):
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services),
                host="127.0.0.1",
                port=port,
                log_config=None,
                timeout_graceful_shutdown=5,
            )
        )
        task = asyncio.create_task(serve(server, services.stopping))
        while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            for path, body in ESTATE:
                response = await http.post(f"/api/v1/{path}", json=body, headers=headers["admin"])
                assert response.status_code == 201, response.text
        try:
            yield Served(base, services, headers)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The events of a server-sent event stream, as (name, parsed data)."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, orjson.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def statuses(overview: dict[str, Any]) -> dict[str, str]:
    found = {a["id"]: a["status"] for a in overview["unplaced"]}
    for site in overview["sites"]:
        for building in site["buildings"]:
            for room in building["rooms"]:
                found.update({a["id"]: a["status"] for a in room["assets"]})
    return found


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams that look for changes and recheck their token often."""
    monkeypatch.setattr(overview, "POLL_S", 0.05)
    monkeypatch.setattr(overview, "RECHECK_S", 0.3)


@pytest.mark.usefixtures("quick")
async def test_the_stream_sends_the_overview_then_each_change(tmp_path: Path) -> None:
    async with served(tmp_path) as api, httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        live = api.services.live
        zh = await http.get("/api/v1/overview?lang=zh", headers=api.headers["viewer"])
        assert zh.status_code == 200
        rooms = zh.json()["sites"][0]["buildings"][0]["rooms"]
        assert [r["id"] for r in rooms] == ["b1-001", "b1-101", "b1-102"]  # by floor level
        assert rooms[1]["assets"][1]["reason"] == "尚未收到 ups-1 的数据"
        async with http.stream(
            "GET", "/api/v1/overview/stream?lang=en", headers=api.headers["viewer"]
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            name, first = await anext(stream)
            assert name == "overview"
            assert statuses(first) == {
                "ups-a": "unknown",
                "ac-1": "unknown",
                "meter": "unknown",
                "spare": "unknown",
            }
            assert first["counts"]["unknown"] == 4

            for device in ("ups-1", "ac-1", "m-1"):
                live.apply(Topic.parse(reading(device)[0]), reading(device)[1])
            live.apply(Topic.parse(not_answering("ups-1")[0]), not_answering("ups-1")[1])
            changed: dict[str, dict[str, Any]] = {}
            while len(changed) < 3:
                name, change = await anext(stream)
                assert name == "status", change
                changed.update({a["id"]: a for a in change["assets"]})
            assert changed["ups-a"]["status"] == "offline"
            assert changed["ups-a"]["reason"] == "ups-1 is not answering: timeout"
            assert changed["ac-1"]["status"] == changed["meter"]["status"] == "ok"
            assert change["counts"] == {
                "ok": 2,
                "fault": 0,
                "offline": 1,
                "idle": 0,
                "maintenance": 0,
                "unknown": 1,
            }

            moved = {"room_id": "b1-102"}
            patched = await http.patch(
                "/api/v1/assets/meter", json=moved, headers=api.headers["admin"]
            )
            assert patched.status_code == 200
            name, again = await anext(stream)
            assert name == "overview"  # the layout changed: the whole overview again
            room = again["sites"][0]["buildings"][0]["rooms"][2]
            assert [a["id"] for a in room["assets"]] == ["meter"]

            order = {"asset_id": "ups-a", "title": "Battery check"}
            made = await http.post("/api/v1/work_orders", json=order, headers=api.headers["admin"])
            assert made.status_code == 201
            name, after = await anext(stream)
            assert name == "overview"
            assert statuses(after)["ups-a"] == "maintenance"


@pytest.mark.usefixtures("quick")
async def test_a_stream_ends_when_its_token_is_revoked_or_the_server_stops(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as api, httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        viewer, operator = api.headers["viewer"], api.headers["operator"]
        async with (
            http.stream("GET", "/api/v1/overview/stream", headers=viewer) as doomed,
            http.stream("GET", "/api/v1/overview/stream", headers=operator) as kept,
        ):
            revoked, stopped = events(doomed), events(kept)
            assert (await anext(revoked))[0] == (await anext(stopped))[0] == "overview"
            async with api.services.sessions() as session, session.begin():
                await session.execute(
                    update(ApiToken)
                    .where(ApiToken.name == "test viewer")
                    .values(revoked_at=datetime.now(UTC))
                )
            name, detail = await anext(revoked)
            assert (name, detail) == ("revoked", {"detail": "the API token was revoked"})
            with pytest.raises(StopAsyncIteration):
                await anext(revoked)
            api.services.stopping.set()
            async with asyncio.timeout(5):
                assert [name async for name, _ in stopped] == []


@pytest.mark.usefixtures("quick")
async def test_streams_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "MAX_STREAMS", 1)
    async with served(tmp_path) as api, httpx.AsyncClient(base_url=api.base, timeout=10) as http:
        viewer = api.headers["viewer"]
        async with http.stream("GET", "/api/v1/overview/stream", headers=viewer) as first:
            await anext(events(first))
            refused = await http.get("/api/v1/overview/stream", headers=viewer)
            assert refused.status_code == 503
            assert "streams are open already" in refused.json()["detail"]
        # a closed stream frees its place (the server notices the disconnection)
        async with asyncio.timeout(5):
            while True:
                async with http.stream("GET", "/api/v1/overview/stream", headers=viewer) as next_:
                    if next_.status_code == 200:
                        assert (await anext(events(next_)))[0] == "overview"
                        break
                await asyncio.sleep(0.1)
        anonymous = await http.get("/api/v1/overview/stream")
        assert anonymous.status_code == 401
        for query in ("lang=fr", "lang=", "lang=zh&lang=xx"):
            wrong = await http.get(f"/api/v1/overview/stream?{query}", headers=viewer)
            assert wrong.status_code == 422, query
            assert wrong.json()["detail"][0]["loc"] == ["query", "lang"]


# ---- the page, in Debian's chromium, against a running `facmon api` ---------------------

ADMIN = new_token()
PREFIX = "facmon-page"


@dataclass
class Site:
    """A running `facmon api` with the estate above, and the broker it follows."""

    base: str
    viewer: str
    broker: MosquittoServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer) -> Iterator[Site]:
    # A prefix of its own: what other tests left retained on the broker (gateways gone
    # offline) would be alerts here.
    with running_site(tmp_path_factory.mktemp("page"), mosquitto, PREFIX) as running:
        yield running


@contextmanager
def running_site(folder: Path, mosquitto: MosquittoServer, prefix: str) -> Iterator[Site]:
    """A `facmon api` on ``prefix`` with the estate above, and a viewer token for it."""
    api, base = start_api(folder, mosquitto.url, ADMIN, prefix=prefix)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    for path, body in ESTATE:
        response = httpx.post(f"{base}/api/v1/{path}", json=body, headers=admin)
        assert response.status_code == 201, response.text
    made = subprocess.run(
        [
            *(sys.executable, "-m", "launcher", "api", "create-token"),
            *("--role", "viewer", "--config", str(api.config_path)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    yield Site(base, made.stdout.strip(), mosquitto)
    assert api.stop() == 0
    assert "Traceback" not in api.log(100_000), api.log(200)


def publish(broker: MosquittoServer, *messages: tuple[str, bytes]) -> None:
    """Publish ``messages`` (topic, payload) with mosquitto_pub, as a gateway would."""
    for topic, payload in messages:
        subprocess.run(
            [
                *("mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1"),
                *("-t", topic, "-m", payload.decode()),
            ],
            check=True,
            timeout=10,
        )


def until(driver: webdriver.Chrome, what: str, check: Callable[[], Any]) -> Any:
    """Wait up to 15 s for ``check`` to return something true."""
    try:
        return WebDriverWait(driver, 15).until(lambda _: check())
    except TimeoutException:
        logs = driver.execute_script("return document.body.innerText")
        raise AssertionError(f"waited 15 s for {what}; the page shows:\n{logs}") from None


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    """Save the page as ``name`` in $FACMON_SCREENSHOTS, when set (for the docs)."""
    folder = os.environ.get("FACMON_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


# Read in one script, so that a part of the page redrawn meanwhile cannot go stale.
_TEXT = """
const found = document.querySelector(arguments[0]);
if (!found) throw new Error('nothing matches ' + arguments[0]);
return found.checkVisibility() ? found.innerText.trim() : '';
"""


def text(driver: webdriver.Chrome, css: str) -> str:
    return str(driver.execute_script(_TEXT, css))


def shown_rooms(driver: webdriver.Chrome) -> list[str]:
    """The names of the room cards on screen, in order."""
    found = driver.execute_script(
        "return [...document.querySelectorAll('.room h4')]"
        ".filter(h => h.checkVisibility()).map(h => h.innerText.trim())"
    )
    return [str(name) for name in found]


def asset_status(driver: webdriver.Chrome, asset: str) -> str:
    found = driver.execute_script(
        "return document.querySelector(arguments[0])?.dataset.status ?? ''",
        f'.room [data-asset="{asset}"]',
    )
    return str(found)


def test_the_page_shows_the_estate_live_in_english_and_chinese(site: Site) -> None:
    with chromium("en-US") as driver:
        driver.get(f"{site.base}/#token={site.viewer}")
        until(driver, "the live board", lambda: text(driver, "#connection").startswith("Live"))
        assert "token" not in driver.current_url  # taken out of the address bar
        assert text(driver, "h1") == "Facility status"
        assert shown_rooms(driver) == ["Power room", "Server room 机房", "Empty room"]
        assert text(driver, ".unplaced h2") == "Not in a room"
        assert text(driver, '.unplaced [data-asset="spare"]').startswith("Unknown\nSpare UPS")
        # A name is shown as text, never as markup.
        assert text(driver, '[data-asset="ac-1"] .name') == "<b>AC</b> 1"
        assert not driver.find_elements(By.CSS_SELECTOR, ".name b")
        assert asset_status(driver, "ups-a") == "unknown"
        assert text(driver, "#all-clear") == (
            "All clear: no open alert, nothing faulty or offline."
        )

        publish(
            site.broker,
            *(reading(device, PREFIX) for device in ("ups-1", "ac-1", "m-1")),
        )
        until(driver, "ups-a ok", lambda: asset_status(driver, "ups-a") == "ok")
        publish(site.broker, not_answering("ups-1", PREFIX))
        until(driver, "ups-a offline", lambda: asset_status(driver, "ups-a") == "offline")
        attention = text(driver, "#attention-list")
        assert "UPS A" in attention
        assert "总部 / 1号楼 / Server room 机房" in attention
        assert "ups-1 is not answering: timeout" in attention
        assert text(driver, '[data-count="offline"] strong') == "1"
        # The default rules raise a communication-loss alert; the page lists it at once.
        until(
            driver,
            "the alert",
            lambda: "ups-1 is not answering: timeout" in text(driver, "#alert-list"),
        )
        assert text(driver, "#alert-list .badge") == "Warning"
        assert text(driver, '[data-count="ok"] strong') == "2"

        screenshot(driver, "status-page-en.png")
        driver.find_element(By.ID, "problems").click()
        assert shown_rooms(driver) == ["Server room 机房"]

        driver.find_element(By.ID, "language").click()
        until(
            driver, "Chinese reasons", lambda: "ups-1 无响应：timeout" in text(driver, "#attention")
        )
        assert text(driver, "h1") == "设施状态"
        assert text(driver, '[data-asset="ups-a"] .badge') == "离线"
        assert driver.execute_script("return document.documentElement.lang") == "zh-CN"

        driver.refresh()  # the token and the language are remembered
        until(driver, "the board again", lambda: text(driver, "#connection").startswith("实时"))
        assert asset_status(driver, "ups-a") == "offline"

        driver.find_element(By.ID, "signout").click()
        assert driver.find_element(By.ID, "signin").is_displayed()
        driver.find_element(By.ID, "token").send_keys("fm_forged")
        driver.find_element(By.CSS_SELECTOR, "#signin button").click()
        until(driver, "the refusal", lambda: text(driver, "#signin-error"))
        assert text(driver, "#signin-error") == "令牌被拒绝：the API token is unknown or revoked"
        assert not driver.find_element(By.ID, "board").is_displayed()


def test_the_page_speaks_the_browsers_language_and_fits_a_phone(site: Site) -> None:
    with chromium("zh-CN", phone=True) as driver:
        driver.get(f"{site.base}/#token={site.viewer}")
        until(driver, "the live board", lambda: text(driver, "#connection").startswith("实时"))
        assert text(driver, "h1") == "设施状态"
        width = driver.execute_script("return window.innerWidth")
        assert width == 390
        # Nothing wider than the screen: no sideways scrolling.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        for control in ("language", "signout", "problems"):
            box = driver.execute_script(
                "const b = arguments[0].closest('button, label').getBoundingClientRect();"
                "return [b.left, b.right, b.height];",
                driver.find_element(By.ID, control),
            )
            assert box[0] >= 0, control
            assert box[1] <= width, control
            assert box[2] >= 40, f"{control} is too small to tap: {box[2]} px"
        screenshot(driver, "status-page-phone-zh.png")
        cards = driver.execute_script(
            "return [...document.querySelectorAll('.room')].map(c => {"
            " const b = c.getBoundingClientRect(); return [b.left, b.width]; })"
        )
        assert all(width_ <= width for _, width_ in cards)
        assert len({left for left, _ in cards}) == 1  # one column


# ---- the first paint and after: never a state that /summary contradicts -----------------

_SAMPLER = """
window.facmonSamples = [];
const sample = () => {
  const board = document.getElementById('board');
  const loading = document.getElementById('loading');
  if (!board) return;
  const counts = {};
  for (const item of document.querySelectorAll('#counts [data-count]')) {
    counts[item.dataset.count] = Number(item.querySelector('strong').textContent);
  }
  window.facmonSamples.push({
    t: Date.now() / 1000,
    board: !board.hidden,
    loading: loading && !loading.hidden ? loading.textContent : '',
    counts,
  });
};
// Every 100 ms, and at every change of the page, from the first paint on.
setInterval(sample, 100);
new MutationObserver(sample).observe(document, {
  subtree: true, childList: true, characterData: true, attributes: true,
});
"""

LAG_S = 2 * overview.POLL_S + 0.5
"""How long after a change the page may still show the state before it (the stream looks
for a new snapshot every second and may find the one made from the previous look)."""


@dataclass
class Summaries:
    """``/api/v1/summary`` asked every 100 ms in a thread: (asked, answered, by_status)."""

    base: str
    token: str
    taken: list[tuple[float, float, dict[str, int]]]
    stop: threading.Event

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as http:
            while not self.stop.wait(0.1):
                asked = time.time()
                by_status = http.get("/api/v1/summary").raise_for_status().json()["by_status"]
                self.taken.append((asked, time.time(), by_status))

    def agrees(self, at: float, counts: dict[str, int]) -> bool:
        """Whether ``/summary`` said ``counts`` at ``at``, or in the ``LAG_S`` before."""
        return any(
            by_status == counts and answered >= at - LAG_S and asked <= at + 0.5
            for asked, answered, by_status in self.taken
        )


@pytest.fixture(scope="module")
def first_paint_site(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("paint"), mosquitto, "facmon-paint") as running:
        yield running


def test_the_page_never_shows_a_state_that_the_summary_contradicts(
    first_paint_site: Site,
) -> None:
    site, prefix = first_paint_site, "facmon-paint"
    viewer = {"Authorization": f"Bearer {site.viewer}"}
    # A snapshot of the estate is made while nothing has reported (everything unknown)...
    assert httpx.get(f"{site.base}/api/v1/overview", headers=viewer).json()["counts"] == {
        "ok": 0,
        "fault": 0,
        "offline": 0,
        "idle": 0,
        "maintenance": 0,
        "unknown": 4,
    }
    # ... then the devices report, and the summary says so at once.
    publish(site.broker, *(reading(device, prefix) for device in ("ups-1", "ac-1", "m-1")))
    publish(site.broker, not_answering("ups-1", prefix))
    now = {"ok": 2, "fault": 0, "offline": 1, "idle": 0, "maintenance": 0, "unknown": 1}
    deadline = time.monotonic() + 15
    while httpx.get(f"{site.base}/api/v1/summary", headers=viewer).json()["by_status"] != now:
        assert time.monotonic() < deadline, "the summary never showed the readings"
        time.sleep(0.1)
    summaries = Summaries(site.base, site.viewer, [], threading.Event())
    poller = threading.Thread(target=summaries.run)
    poller.start()
    try:
        time.sleep(LAG_S + 0.5)  # the state before the readings is no longer "just now"
        with chromium("en-US") as driver:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _SAMPLER})
            driver.get(f"{site.base}/#token={site.viewer}")
            until(driver, "the live board", lambda: text(driver, "#connection").startswith("Live"))
            time.sleep(1.5)
            publish(site.broker, not_answering("ac-1", prefix))  # a change while watched
            until(driver, "ac-1 offline", lambda: asset_status(driver, "ac-1") == "offline")
            time.sleep(1.5)
            samples = driver.execute_script("return window.facmonSamples")
    finally:
        summaries.stop.set()
        poller.join()
    shown = [s for s in samples if s["board"]]
    assert len(shown) >= 30, samples  # 100 ms apart for 3 s and more
    assert shown[-1]["counts"] == {**now, "ok": 1, "offline": 2}
    wrong = [
        (round(s["t"] - shown[0]["t"], 2), {k: n for k, n in s["counts"].items() if n})
        for s in shown
        if not summaries.agrees(s["t"], s["counts"])
    ]
    assert not wrong, f"seconds after the first paint, counts shown: {wrong}; summary: {now}"
    # Before the first overview the page says it is loading: never a board and that at once.
    assert "Loading the current state of the estate…" in {s["loading"] for s in samples}
    assert not [s for s in samples if s["board"] and s["loading"]]


def test_until_the_first_overview_the_page_says_it_is_loading_in_chinese(site: Site) -> None:
    with chromium("zh-CN") as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _SAMPLER})
        driver.get(f"{site.base}/#token={site.viewer}")
        until(driver, "the live board", lambda: text(driver, "#connection").startswith("实时"))
        samples = driver.execute_script("return window.facmonSamples")
    assert "正在载入当前状态…" in {s["loading"] for s in samples}
    assert not [s for s in samples if s["board"] and s["loading"]]
