"""The web page in a real headless chromium (selenium): its first paint already shows the run
(sources, their state, the counted line and zone at 0), the stream image moves, boxes are
visible, stats update, events read as sentences with a thumbnail of their moment, and the token
given to the page reaches every request.

The page is served by the app's own wiring (livedet.remote.Remote from a Config, real tracking
and counting); only the pipeline is synthetic.
LIVEDET_DOCS_SCREENSHOT=docs/web_view.png also saves the page for the documentation."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fakes import StatusOnlySource
from one_lane import lane_state

from livedet.analytics import SourceAnalytics
from livedet.config import Config
from livedet.detections import Detections
from livedet.pipeline import Lane
from livedet.pipeline.tally import Tally
from livedet.remote import Remote
from livedet.stats import RunStats
from livedet.tracking import ByteTrack, TrackIdCounter

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
COLOURS = {1: GREEN, 3: (40, 140, 230)}
LABELS = {1: "person", 3: "car"}
LINE = "0.5,0,0.5,1:door"
ZONE = "0.6,0.3,1,0.3,1,1,0.6,1:hall"


def scene(index: int, camera: str) -> tuple[np.ndarray, Detections]:
    """A 640x360 frame and what a detector would find on it: a person walking to the right
    across the middle (then starting over on the left), a car parked on the right."""
    image = np.full((360, 640, 3), (52, 46, 40), np.uint8)
    cv2.rectangle(image, (0, 250), (640, 360), (70, 80, 70), -1)
    cv2.putText(image, f"{camera}  frame {index}", (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                (255, 255, 255), 2)  # fmt: skip
    x = 60 + (index * 12 + (150 if camera == "yard" else 0)) % 380
    detections = Detections(
        boxes=np.array([[x, 120, x + 90, 300], [420, 200, 600, 290]], np.float32),
        scores=np.array([0.91, 0.84], np.float32),
        class_ids=np.array([1, 3], np.int32),
    )
    return image, detections


def draw_tracked(image: np.ndarray, tracked: Detections) -> None:
    """Boxes with "label #id" tags, as the renderer draws them."""
    ids = tracked.track_ids if tracked.track_ids is not None else [-1] * len(tracked)
    for box, class_id, track_id in zip(tracked.boxes, tracked.class_ids, ids, strict=True):
        x1, y1, x2, y2 = (int(v) for v in box)
        colour, label = COLOURS[int(class_id)], LABELS[int(class_id)]
        tag = f"{label} #{track_id}" if track_id >= 0 else label
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 3)
        cv2.rectangle(image, (x1, y1 - 22), (x1 + 8 + 11 * len(tag), y1), colour, -1)
        cv2.putText(image, tag, (x1 + 4, y1 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)


class SyntheticRun:
    """The web side of a run as the app wires it (Remote from a Config with --serve, --track,
    --line, --zone), fed by a synthetic pipeline once `go` is set: before that the server
    answers with what `Remote.ready` published, as a real run does before its first frame."""

    def __init__(self, sources: tuple[str, ...] = ("front-door", "yard")) -> None:
        config = Config(
            serve="127.0.0.1:0", serve_token=TOKEN, track=True, lines=(LINE,), zones=(ZONE,)
        )
        self.resources = contextlib.ExitStack()
        self.remote = Remote(config, self.resources)
        assert self.remote.server is not None
        self.server = self.remote.server
        lines, zones = config.regions()
        ids = TrackIdCounter()
        self.lanes = [
            Lane(
                StatusOnlySource(name),  # type: ignore[arg-type]
                name=name,
                analytics=SourceAnalytics(
                    ByteTrack(ids=ids),
                    name=name,
                    labels=LABELS,
                    lines=lines,
                    zones=zones,
                    smooth=True,
                ),
            )
            for name in sources
        ]
        self.states = [lane_state(lane) for lane in self.lanes]
        self.stats = RunStats()
        self.go = threading.Event()  # frames and periodic status pushes begin
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self._run, daemon=True),
        ]

    def _run(self) -> None:
        while not self.go.wait(0.05):
            if self.stop.is_set():
                return
        self.remote.running(True)
        tally, index = Tally(self.stats, self.lanes), 0
        while not self.stop.wait(0.1):
            index += 1
            for state in self.states:
                lane = state.lane
                assert lane.analytics is not None
                image, detections = scene(index, lane.name)
                started = time.perf_counter()
                tracked, events = lane.analytics.detected(detections, index * 0.1, image)
                for event in events:  # as the pipeline hands them to its on_event hook
                    self.remote.on_event(event)
                lane.analytics.draw(image)
                draw_tracked(image, tracked)
                state.rendered(image, tracked)
                self.remote.on_rendered(lane.name, image, index * 0.1)
                tally.latency(lane, 0.04 + time.perf_counter() - started)  # 40 ms "inference"
                tally.frame_out(lane)
            self.remote.on_progress(self.stats, [state.status() for state in self.states])

    def __enter__(self) -> SyntheticRun:
        # as the app does just before the run
        self.remote.ready(self.stats, [state.status() for state in self.states])
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        for thread in self.threads:
            thread.join(timeout=5)
        self.resources.close()


@pytest.fixture
def run() -> Iterator[SyntheticRun]:
    with SyntheticRun() as synthetic:
        yield synthetic


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
    options.page_load_strategy = "eager"  # an MJPEG <img> never finishes loading
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def decode_png(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def counts_row(browser: webdriver.Chrome, source: str, kind: str, name: str) -> list[str]:
    """The cells of one line's or zone's row in the counts table of `source` ([] if none), read
    in one go: the page rebuilds the table every second."""
    return texts(browser, f'#counts [data-source="{source}"] tr[data-{kind}="{name}"] td')


def texts(browser: webdriver.Chrome, selector: str) -> list[str]:
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)"
    return list(browser.execute_script(script, selector))


def test_first_paint_shows_sources_state_and_counted_line_before_any_push(
    run: SyntheticRun, browser: webdriver.Chrome
) -> None:
    loaded = time.monotonic()
    browser.get(f"{run.server.url}?token={TOKEN}")
    wait = WebDriverWait(browser, 2, poll_frequency=0.05)  # no frame, no status push meanwhile

    def badges(b: webdriver.Chrome) -> dict[str, str]:
        cards = b.find_elements(By.CSS_SELECTOR, ".card")
        return {c.get_attribute("data-source"): c.find_element(By.CSS_SELECTOR, ".state").text
                for c in cards}  # fmt: skip

    wait.until(lambda b: len(badges(b)) == 2)
    assert badges(browser) == {"front-door": "starting", "yard": "starting"}
    wait.until(lambda b: counts_row(b, "front-door", "line", "door"))
    assert counts_row(browser, "front-door", "line", "door")[0].startswith("door")
    assert counts_row(browser, "front-door", "line", "door")[1:] == ["0", "0"]  # in, out
    assert counts_row(browser, "yard", "zone", "hall")[1:] == ["0", "0", "0"]  # inside, in, out
    assert "counting is off" not in browser.find_element(By.ID, "counts").text
    summary = browser.find_element(By.ID, "summary").text
    assert "2 sources" in summary and "counting 1 line, 1 zone" in summary
    assert browser.find_element(By.ID, "health").text == "healthy"
    assert time.monotonic() - loaded < 5  # page load included; the check itself had 2 s
    assert not run.go.is_set()


def test_page_streams_counts_and_shows_events_with_thumbnails(
    run: SyntheticRun, browser: webdriver.Chrome
) -> None:
    run.go.set()
    browser.get(f"{run.server.url}?token={TOKEN}")
    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    assert browser.title == "livedet"
    image = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, '[data-source="front-door"] img'))
    wait.until(lambda b: b.execute_script("return arguments[0].naturalWidth", image) == 640)
    first = decode_png(image.screenshot_as_png)
    time.sleep(0.5)  # the synthetic pipeline moves the box 12 px per 0.1 s
    second = decode_png(image.screenshot_as_png)
    assert np.mean(np.abs(first.astype(int) - second.astype(int))) > 0.5, "stream froze"
    green = np.all(np.abs(second.astype(int) - GREEN) < 40, axis=2)
    assert green.sum() > 500, "no box visible in the streamed image"

    def frames_shown(b: webdriver.Chrome) -> int:
        selector = '[data-source="front-door"] dl div:last-child dd'
        return int(b.execute_script(f"return document.querySelector('{selector}').textContent"))

    before = frames_shown(browser)
    wait.until(lambda b: frames_shown(b) > before)  # /api/stats polled and shown
    wait.until(lambda b: badges_live(b))

    crossing = re.compile(r"^person #\d+ crossed door \((in|out)\)$")
    row = wait.until(lambda b: next(
        (r for r in b.find_elements(By.CSS_SELECTOR, "#events li.event")
         if crossing.match(r.find_element(By.CSS_SELECTOR, ".what").text)), None))  # fmt: skip
    meta = row.find_element(By.CSS_SELECTOR, ".meta").text
    assert re.fullmatch(r"\d{1,2}:\d{2}:\d{2}( [AP]M)? · (front-door|yard)", meta), meta
    thumbnail = row.find_element(By.CSS_SELECTOR, "img.thumb")
    wait.until(lambda b: b.execute_script("return arguments[0].complete", thumbnail))
    assert browser.execute_script("return arguments[0].naturalWidth", thumbnail) == 256
    assert TOKEN in (thumbnail.get_attribute("src") or "")
    sentences = texts(browser, "#events .what")
    assert any(re.fullmatch(r"car #\d+ entered hall", t) for t in sentences), sentences
    assert not any("=" in t for t in sentences), sentences  # not key=value dumps

    source = meta.split(" · ")[1]

    def door_total(b: webdriver.Chrome) -> int:
        cells = counts_row(b, source, "line", "door")
        return int(cells[1]) + int(cells[2]) if cells else 0

    wait.until(lambda b: door_total(b) >= 1)  # the crossing is counted in the table
    assert "person" in texts(browser, "#counts tr.by-class td")
    assert browser.find_element(By.ID, "health").text == "healthy"
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card img")) == 2

    target = os.environ.get("LIVEDET_DOCS_SCREENSHOT")
    if target:
        time.sleep(4)  # let a few events and stats arrive for a representative picture
        browser.save_screenshot(target)


def badges_live(browser: webdriver.Chrome) -> bool:
    states = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".card .state")]
    return states == ["live", "live"]


def test_page_without_token_gets_nothing(run: SyntheticRun, browser: webdriver.Chrome) -> None:
    browser.get(run.server.url)
    assert "token required" in browser.page_source
