"""Debian's headless chromium, driven through its chromedriver (selenium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService


@contextmanager
def chromium(language: str, *, phone: bool = False) -> Iterator[webdriver.Chrome]:
    """Debian's headless chromium, its browser language ``language``, optionally a phone."""
    options = webdriver.ChromeOptions()
    options.binary_location = _program("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    if phone:
        metrics = {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": True}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    else:
        options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(options=options, service=ChromeService(_program("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def _program(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: run tests/setup-services.sh"
    return found
