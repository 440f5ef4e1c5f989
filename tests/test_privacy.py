"""Privacy masks and --blur: parsing and one-line errors, black and blurred masks, detections
inside a mask dropped, the masked source; and a real run in which the masked pixels never reach
the video file, the detections records, the web snapshot or any rendered frame."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FiniteFile, decoded_frames, jsonl_records
from fixture_models import write_video

from livedet.config import Config
from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.privacy import MaskedSource, Privacy, blur_boxes
from livedet.regions import parse_mask

pytestmark = pytest.mark.timeout(60)

HALF = "0.25,0.25,0.75,0.25,0.75,0.75,0.25,0.75"  # the centre quarter, as fractions


def _noise(height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,0,1,1", "3 corners or more"),
        ("0,0,1,0,1", "3 corners or more"),
        ("0,0,1.5,0,1,1", "neither a fraction"),
        ("0,0,10,0,10,0.5", "neither a fraction"),
        ("a,b,c,d,e,f", "not a list of numbers"),
        ("0,0,1,1,2,2", "no area"),
        ("-1,0,1,0,1,1", ">= 0"),
    ],
)
def test_bad_masks_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message) as caught:
        parse_mask(text)
    assert "\n" not in str(caught.value)


def test_masks_and_their_style_are_checked_before_a_model_loads(tmp_path):
    video = tmp_path / "in.mkv"
    video.write_bytes(b"")
    with pytest.raises(UsageError, match=r"--mask '0,0,1,1': expected x,y pairs"):
        Config(video=video, out=tmp_path / "o.mp4", masks=("0,0,1,1",)).validate()
    with pytest.raises(UsageError, match="--mask-style 'pixelate'"):
        Config(video=video, out=tmp_path / "o.mp4", masks=(HALF,), mask_style="pixelate").validate()


def test_a_kiosk_source_mask_is_checked_and_named(tmp_path):
    from livedet.kiosk_file import apply_kiosk_file

    (tmp_path / "a.mkv").write_bytes(b"")
    kiosk = tmp_path / "kiosk.toml"
    kiosk.write_text(
        'out_dir = "out"\nmask_style = "blur"\n'
        '[[source]]\nname = "door"\nvideo = "a.mkv"\nmasks = ["0,0,1,1"]\n'
    )
    config = apply_kiosk_file(Config(), kiosk)
    assert config.mask_style == "blur" and config.sources[0].masks == ("0,0,1,1",)
    with pytest.raises(UsageError, match="source 'door' mask '0,0,1,1'"):
        config.validate()
    kiosk.write_text('[[source]]\nvideo = "a.mkv"\nmasks = "0,0,1,0,1,1"\n')
    with pytest.raises(UsageError, match="expected a list of strings"):
        apply_kiosk_file(Config(), kiosk)


def test_a_black_mask_is_exactly_black_and_nothing_else_changes():
    raw = _noise()
    image = raw.copy()
    Privacy([parse_mask(HALF)]).mask_image(image)
    assert not image[120:361, 160:481].any()  # the corners' pixels included
    outside = np.ones(raw.shape[:2], bool)
    outside[120:361, 160:481] = False
    assert np.array_equal(image[outside], raw[outside])


def test_a_blurred_mask_differs_from_the_raw_pixels_and_is_smooth():
    raw = _noise()
    image = raw.copy()
    Privacy([parse_mask(HALF)], style="blur").mask_image(image)
    inside = image[121:360, 161:480].astype(int)
    assert np.abs(inside - raw[121:360, 161:480]).mean() > 40  # noise is gone
    assert np.abs(np.diff(inside, axis=0)).max() <= 8 and np.abs(np.diff(inside, axis=1)).max() <= 8
    assert np.array_equal(image[:119], raw[:119])


def _detections(boxes, classes):
    return Detections(
        boxes=np.array(boxes, np.float32),
        scores=np.full(len(boxes), 0.9, np.float32),
        class_ids=np.array(classes, np.int32),
    )


def test_detections_whose_centre_is_inside_a_mask_are_dropped_unless_kept():
    found = _detections([[200, 150, 260, 250], [10, 10, 50, 50], [150, 130, 250, 230]], [1, 1, 3])
    privacy = Privacy([parse_mask(HALF)])
    privacy.mask_image(_noise())  # the mask drawn at the frame's size, as a masked read does
    kept = privacy.drop_masked(found)
    assert kept.boxes.tolist() == [[10, 10, 50, 50]]  # centres (230, 200), (200, 180) inside
    keeping = Privacy([parse_mask(HALF)], keep_masked_detections=True)
    keeping.mask_image(_noise())
    assert len(keeping.drop_masked(found)) == 3


def test_blur_boxes_blurs_only_the_chosen_classes():
    raw = _noise()
    image = raw.copy()
    blur_boxes(image, _detections([[100, 100, 200, 300], [300, 100, 400, 300]], [1, 3]), {1})
    person, car = image[100:300, 100:200].astype(int), image[100:300, 300:400]
    assert (
        np.abs(np.diff(person, axis=0)).max() <= 8
        and np.abs(person - raw[100:300, 100:200]).mean() > 40
    )
    assert np.array_equal(car, raw[100:300, 300:400])
    assert np.array_equal(image[:100], raw[:100])


def test_the_masked_source_hands_out_only_masked_frames_and_is_the_source_otherwise():
    inner = FiniteFile(3, size=(64, 48))
    source = MaskedSource(inner, Privacy([parse_mask("0,0,0.5,0,0.5,1,0,1")]))
    frame = source.read()
    assert frame is not None and not frame.image[:, :32].any() and frame.image[:, 33:, 1].all()
    assert (source.live, source.fps, source.expected_frames) == (False, 25.0, 3)
    assert source.description == inner.description and source.status == inner.status
    assert source.read() is not None and source.read() is not None and source.read() is None


def test_masking_costs_at_640x480(record_property):
    """The per-frame CPU cost (reported in docs/privacy.md); generous bounds for a loaded CI."""
    image = _noise()
    costs = {}
    for style in ("black", "blur"):
        privacy = Privacy([parse_mask(HALF)], style=style)
        privacy.mask_image(image.copy())  # the raster, once per frame size
        started = time.process_time()
        for _ in range(50):
            privacy.mask_image(image.copy())
        costs[style] = (time.process_time() - started) / 50 * 1000
    boxes = _detections([[100, 100, 200, 300], [300, 100, 420, 400]], [1, 1])
    started = time.process_time()
    for _ in range(50):
        blur_boxes(image.copy(), boxes, {1})
    costs["blur two person boxes"] = (time.process_time() - started) / 50 * 1000
    record_property("privacy_ms_per_frame", costs)
    assert all(ms < 50 for ms in costs.values()), costs


# ---- a real run: every output of a masked source --------------------------------------------

WIDTH, HEIGHT, FRAMES = 320, 200, 12
MASK_A = "0,0,100,0,100,100,0,100"  # hides a red "person" completely
MASK_B = "200,0,220,0,220,199,200,199"  # splits the blue "car": its box centre falls inside
TOKEN = "metrics-token"


def _scene() -> list[np.ndarray]:
    """RGB frames: a red person inside mask A, a blue car across mask B, a yellow dog (score 0.3)
    moving outside both."""
    frames = []
    for i in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
        frame[20:80, 20:80] = (255, 0, 0)
        frame[120:160, 170:251] = (0, 0, 255)
        frame[150:180, 110 + i : 140 + i] = (255, 255, 0)
        frames.append(frame)
    return frames


def _inside(points: str) -> np.ndarray:
    """The mask's pixels (shrunk by 3 px: lossy outputs blur its edge)."""
    corners = np.array(parse_mask(points)).reshape(-1, 2).astype(np.int32)
    pixels = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(pixels, [corners], 1)
    return cv2.erode(pixels, np.ones((7, 7), np.uint8)).astype(bool)


def _centre_in_masks(box: list[float]) -> bool:
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for points in (MASK_A, MASK_B):
        corners = np.array(parse_mask(points), np.float32).reshape(-1, 2)
        if cv2.pointPolygonTest(corners, (float(x), float(y)), False) >= 0:
            return True
    return False


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # 127.0.0.1 only
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def model_b1(color_model_b1: Path):
    from livedet.models import load_model, resolve_model

    return load_model(resolve_model(str(color_model_b1)), backend="tensorflow", use_gpu=False)


@pytest.mark.timeout(120)
def test_masked_pixels_reach_no_output_and_metrics_match_the_run(
    tmp_path, color_model_b1, model_b1
):
    from prometheus_client.parser import text_string_to_metric_families

    from livedet.app import build_pipeline
    from livedet.labels import load_label_map
    from livedet.models import resolve_model
    from livedet.opening import open_lane
    from livedet.pipeline import Hooks, Shutdown
    from livedet.remote import Remote
    from livedet.source_settings import SourceSettings
    from livedet.stats import RunStats

    clip = write_video(tmp_path / "scene.mkv", _scene(), fps=12)
    config = Config(
        video=clip,
        model=str(color_model_b1),
        out=tmp_path / "out.mp4",
        detections=tmp_path / "out.jsonl",
        masks=(MASK_A, MASK_B),
        threshold=0.2,
        overlay="none",
        show=False,
        pace=False,
        serve="127.0.0.1:0",
        serve_token=TOKEN,
    ).validate()
    labels = load_label_map(resolve_model(str(color_model_b1)).label_map)
    rendered: list[np.ndarray] = []
    stats, shutdown = RunStats(), Shutdown()
    with contextlib.ExitStack() as resources:
        remote = Remote(config, resources)
        assert remote.server is not None
        server = threading.Thread(target=remote.server.serve_forever, daemon=True)
        server.start()
        resources.callback(server.join, 5)
        resources.callback(remote.server.shutdown)
        lane = open_lane(
            SourceSettings(str(clip)), "scene", None, config, labels, shutdown, resources
        )

        def on_rendered(name: str, image: np.ndarray, timestamp: float) -> None:
            rendered.append(image.copy())
            remote.on_rendered(name, image, timestamp)

        hooks = Hooks(
            on_rendered=on_rendered, on_event=remote.on_event, on_progress=remote.on_progress
        )
        pipeline = build_pipeline(config, model_b1, [lane], labels, shutdown, stats, hooks=hooks)
        remote.ready(stats, pipeline.statuses())
        pipeline.run()
        url = remote.server.url
        assert _get(url + "metrics")[0] == 401  # the token rule of every route
        code, text = _get(url + "metrics", TOKEN)
        assert code == 200
        code, jpeg = _get(url + "snapshot.jpg", TOKEN)
        assert code == 200
    masks = _inside(MASK_A) | _inside(MASK_B)
    # Every rendered frame (what the window, the web view, clips and the video file get): exact.
    assert len(rendered) == FRAMES and all(not image[masks].any() for image in rendered)
    # The web snapshot (JPEG) and the H.264 file are lossy: near black, never the red behind A.
    snapshot = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    video = decoded_frames(tmp_path / "out.mp4")
    assert len(video) == FRAMES
    for image in [snapshot, *video]:
        hidden = image[masks]  # ringing of the car's edge next to the thin mask B: a few px
        assert image.shape[:2] == (HEIGHT, WIDTH)
        assert hidden.mean() < 2 and np.percentile(hidden, 99) <= 12, (hidden.mean(), hidden.max())
    # The yellow dog is found in every frame; the person (masked) never; the car's box centre is
    # inside mask B, so it is dropped.
    records = jsonl_records(tmp_path / "out.jsonl")
    boxes = [d for record in records for d in record["detections"]]
    assert len(records) == FRAMES and {d["label"] for d in boxes} == {"dog"}, boxes
    assert not any(_centre_in_masks(d["box"]) for d in boxes)
    # /metrics parses, and its numbers are the run's.
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}

    def value(family: str, sample: str, **labels: str) -> float:
        found = [
            s.value for s in families[family].samples if s.name == sample and s.labels == labels
        ]
        assert len(found) == 1, (family, sample, labels, families[family].samples)
        return found[0]

    assert (
        value("livedet_frames_in", "livedet_frames_in_total", source="scene")
        == stats.frames_in
        == FRAMES
    )
    assert (
        value("livedet_frames_out", "livedet_frames_out_total", source="scene") == stats.frames_out
    )
    assert value("livedet_frames_dropped", "livedet_frames_dropped_total", source="scene") == 0
    assert value("livedet_source_up", "livedet_source_up", source="scene") in (0.0, 1.0)
    assert value("livedet_inference_seconds", "livedet_inference_seconds_count") == FRAMES
    assert (
        value("livedet_inference_seconds", "livedet_inference_seconds_bucket", le="+Inf") == FRAMES
    )
    assert value("livedet_inference_seconds", "livedet_inference_seconds_sum") == pytest.approx(
        stats.stage_ms("inference") * FRAMES / 1000, rel=1e-6
    )
    assert value("livedet_detections_run", "livedet_detections_run_total") == stats.detections_run
    assert value("livedet_clips_disk_bytes", "livedet_clips_disk_bytes") == 0
