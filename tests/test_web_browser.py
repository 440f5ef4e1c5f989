"""The web page in a real headless chromium (selenium): it loads, the stream image moves, boxes
are visible, stats and events update, and the token given to the page reaches every request.

LIVEDET_DOCS_SCREENSHOT=docs/web_view.png also saves the page for the documentation."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from livedet.web.hub import WebHub
from livedet.web.server import WebServer

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "browser-test-token"
pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not os.path.exists(CHROMEDRIVER), reason="needs chromium-driver"),
]
GREEN = (60, 200, 60)  # BGR of the synthetic "person" box


def synthetic_frame(index: int, camera: str) -> np.ndarray:
    """A 640x360 scene with two labelled boxes that move a little every frame."""
    image = np.full((360, 640, 3), (52, 46, 40), np.uint8)
    cv2.rectangle(image, (0, 250), (640, 360), (70, 80, 70), -1)
    x = 60 + (index * 7) % 380
    for (x1, y1, x2, y2), colour, label in [
        ((x, 120, x + 90, 300), GREEN, "person 0.91"),
        ((420, 200, 600, 290), (40, 140, 230), "car 0.84"),
    ]:
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 3)
        cv2.rectangle(image, (x1, y1 - 22), (x1 + 8 + 11 * len(label), y1), colour, -1)
        cv2.putText(image, label, (x1 + 4, y1 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    cv2.putText(
        image,
        f"{camera}  frame {index}",
        (12, 28),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (255, 255, 255),
        2,
    )
    return image


class SyntheticPipeline:
    """Publishes frames, status and events into the hub like the pipeline's renderer does."""

    def __init__(self, hub: WebHub, sources: tuple[str, ...] = ("front-door", "yard")) -> None:
        self.hub, self.sources = hub, sources
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started, index, crossings = time.monotonic(), 0, 0
        self.hub.set_running(True)
        while not self.stop.wait(0.1):
            index += 1
            for source in self.sources:
                self.hub.publish_frame(source, synthetic_frame(index, source), time.time())
            uptime = time.monotonic() - started
            self.hub.publish_status(
                {
                    "sources": {
                        name: {
                            "state": "live",
                            "fps": 10.0,
                            "dropped": index // 20,
                            "latency_ms": 42.0 + n,
                            "outage_s": 0,
                            "uptime_s": uptime,
                        }
                        for n, name in enumerate(self.sources)
                    },
                    "counts": {"door": {"in": crossings, "out": crossings // 2}},
                }
            )
            if index % 5 == 0:
                crossings += 1
                self.hub.publish_event(
                    {
                        "time": time.time(),
                        "type": "cross",
                        "line": "door",
                        "direction": "in",
                        "track_id": 10 + crossings,
                        "class": "person",
                        "source": "front-door",
                    }
                )

    def __enter__(self) -> SyntheticPipeline:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[WebServer]:
    hub = WebHub()
    web = WebServer(hub, "127.0.0.1", 0, token=TOKEN)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    with SyntheticPipeline(hub):
        yield web
    web.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def decode_png(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def test_page_streams_and_updates(server: WebServer, browser: webdriver.Chrome) -> None:
    browser.get(f"{server.url}?token={TOKEN}")
    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    assert browser.title == "livedet"
    image = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, '[data-source="front-door"] img'))
    wait.until(lambda b: b.execute_script("return arguments[0].naturalWidth", image) == 640)
    first = decode_png(image.screenshot_as_png)
    time.sleep(0.5)  # the synthetic pipeline moves the box 7 px per 0.1 s
    second = decode_png(image.screenshot_as_png)
    assert np.mean(np.abs(first.astype(int) - second.astype(int))) > 0.5, "stream froze"
    green = np.all(np.abs(second.astype(int) - GREEN) < 40, axis=2)
    assert green.sum() > 500, "no box visible in the streamed image"

    def frames_shown(b: webdriver.Chrome) -> int:
        selector = '[data-source="front-door"] dl div:last-child dd'
        return int(b.execute_script(f"return document.querySelector('{selector}').textContent"))

    before = frames_shown(browser)
    wait.until(lambda b: frames_shown(b) > before)  # /api/stats polled and shown
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#events li")) >= 2)
    assert "cross" in browser.find_element(By.CSS_SELECTOR, "#events li").text
    assert browser.find_element(By.ID, "health").text == "healthy"
    assert "door in" in browser.find_element(By.ID, "counts").text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card img")) == 2

    target = os.environ.get("LIVEDET_DOCS_SCREENSHOT")
    if target:
        time.sleep(1.5)  # let a few events and stats arrive for a representative picture
        browser.save_screenshot(target)


def test_page_without_token_gets_nothing(server: WebServer, browser: webdriver.Chrome) -> None:
    browser.get(server.url)
    assert "token required" in browser.page_source
