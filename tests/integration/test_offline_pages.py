"""The API's pages in chromium with the network cut to loopback: nothing leaves the machine.

Chromium sends every request through a proxy that does not exist (127.0.0.1:9) except those
to loopback, which it never proxies: a page that needs a CDN or a font service stays white,
and the performance log lists every URL the page asked for, answered or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.support.wait import WebDriverWait

from api.registry.tokens import new_token
from bench.harness.mosquitto import MosquittoServer
from tests.integration.browser import _program
from tests.integration.processes import start_api

pytestmark = pytest.mark.integration

ADMIN = new_token()
LOCAL_SCHEMES = {"data", "blob", "about"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer) -> Iterator[str]:
    """A running `facmon api` with an empty registry."""
    api, url = start_api(tmp_path_factory.mktemp("offline"), mosquitto.url, ADMIN)
    yield url
    assert api.stop() == 0


@dataclass
class Traffic:
    """What the page asked for, from chromium's performance log."""

    requested: list[str]
    refused: list[str]
    """What the page's Content-Security-Policy stopped before it was sent."""
    failed: list[tuple[str, str]]
    """What was sent and not answered, with chromium's reason."""

    def sent_elsewhere(self) -> list[str]:
        """Every URL sent anywhere but this machine's loopback."""
        return [
            url
            for url in self.requested
            if url not in self.refused
            and urlsplit(url).scheme not in LOCAL_SCHEMES
            and urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}
        ]


@contextmanager
def cut_off_chromium() -> Iterator[webdriver.Chrome]:
    """Headless chromium that can reach loopback only, with its network events logged."""
    options = webdriver.ChromeOptions()
    options.binary_location = _program("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--proxy-server=http://127.0.0.1:9",  # nothing listens there: the wide world is cut
        "--disable-background-networking",  # chromium's own requests are not the page's
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(_program("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def traffic(driver: webdriver.Chrome) -> Traffic:
    """The requests logged since the last call."""
    requested: list[str] = []
    ids: dict[str, str] = {}
    refused: list[str] = []
    failed: list[tuple[str, str]] = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            requested.append(params["request"]["url"])
            ids[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            refused.append(ids.get(params["requestId"], "?"))
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append((ids.get(params["requestId"], "?"), params["errorText"]))
    return Traffic(requested, refused, failed)


def until(driver: webdriver.Chrome, what: str, check: Callable[[], Any]) -> Any:
    """Wait up to 20 s for ``check`` to return something true."""
    try:
        return WebDriverWait(driver, 20).until(lambda _: check())
    except TimeoutException:
        shown = driver.execute_script("return document.body ? document.body.innerText : ''")
        asked = traffic(driver)
        raise AssertionError(
            f"waited 20 s for {what}; the page shows:\n{shown[:2000]}\n"
            f"it asked for {asked.requested}\nand failed on {asked.failed}"
        ) from None


def shown(driver: webdriver.Chrome, css: str) -> str:
    """The visible text of the first element matching ``css`` ("" if none)."""
    return str(
        driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css
        )
    )


def icon(driver: webdriver.Chrome) -> str:
    """The address of the page's icon ("" if it links none)."""
    return str(
        driver.execute_script(
            "const l = document.querySelector('link[rel~=icon]'); return l ? l.href : '';"
        )
    )


def check_stays_local(driver: webdriver.Chrome, base: str) -> Traffic:
    """Assert that the page sent nothing beyond loopback, and got all it sent for."""
    seen = traffic(driver)
    assert seen.requested, "the performance log saw no request"
    assert seen.sent_elsewhere() == []
    assert seen.failed == []
    assert icon(driver) == f"{base}/favicon.ico"
    return seen


def test_swagger_ui_renders_from_the_package_alone(base: str) -> None:
    with cut_off_chromium() as driver:
        driver.get(f"{base}/docs")
        until(driver, "Swagger UI's title", lambda: "facmon API" in shown(driver, ".info .title"))
        until(driver, "the operations", lambda: shown(driver, ".opblock-summary-path"))
        seen = check_stays_local(driver, base)
        assert f"{base}/openapi.json" in seen.requested
        assert seen.refused == []


def test_redoc_renders_from_the_package_alone(base: str) -> None:
    with cut_off_chromium() as driver:
        driver.get(f"{base}/redoc")
        until(driver, "ReDoc's title", lambda: "facmon API" in shown(driver, ".api-content h1"))
        until(driver, "the operations", lambda: "/healthz" in shown(driver, ".api-content"))
        seen = check_stays_local(driver, base)
        assert f"{base}/openapi.json" in seen.requested
        # ReDoc's side menu always asks a CDN for Redocly's logo: the page's policy stops it
        # in the browser, and ReDoc leaves the logo out.
        assert all(urlsplit(url).hostname != "127.0.0.1" for url in seen.refused)
        assert not driver.execute_script(
            "return document.querySelector('img[alt=\"redocly logo\"]')"
        )


def test_the_status_page_and_its_icon_stay_on_the_machine(base: str) -> None:
    with cut_off_chromium() as driver:
        driver.get(f"{base}/#token={ADMIN}")
        until(driver, "the live board", lambda: shown(driver, "#connection").startswith("Live"))
        assert check_stays_local(driver, base).refused == []
        favicon = httpx.get(f"{base}/favicon.ico")
        assert favicon.status_code == 200
        assert favicon.headers["content-type"] == "image/vnd.microsoft.icon"
        assert favicon.content.startswith(b"\x00\x00\x01\x00")  # an ICO directory
