"""Model resolution, loading, signature checks and the Detector on fixture SavedModels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fixture_models import (
    BLUE,
    CAR,
    DOG,
    PERSON,
    RED,
    YELLOW,
    build_no_signature_model,
    build_wrong_signature_model,
)

from livedet.detector import Detector, Selection
from livedet.errors import ModelError
from livedet.labels import COCO_LABEL_MAP
from livedet.model_folders import default_hub_cache
from livedet.models import CENTERNET_VARIANTS, load_model, resolve_model
from livedet.paths import DEMO_MODEL_DIR


@pytest.fixture(scope="session")
def conversion_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("xdg_cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, conversion_cache):
    """Conversions go to a per-session folder, never the user's ~/.cache/livedet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(conversion_cache))


def _frame_rgb(height=200, width=320):
    frame = np.full((height, width, 3), 128, np.uint8)
    frame[20:60, 100:180] = RED  # person: x 100..180, y 20..60
    frame[120:150, 30:90] = BLUE  # car
    frame[160:170, 250:300] = YELLOW  # dog at score 0.3
    return frame


def _bgr(frame_rgb):
    return cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("name", list(CENTERNET_VARIANTS))
def test_short_names_map_to_tf_hub_handles(name):
    spec = resolve_model(name)
    assert spec.hub_handle == f"https://tfhub.dev/tensorflow/centernet/{name}/1"
    assert spec.label_map == COCO_LABEL_MAP


def test_urls_and_bare_handles():
    url = "https://tfhub.dev/tensorflow/centernet/hourglass_512x512/1"
    assert resolve_model(url).hub_handle == url
    assert resolve_model("tensorflow/centernet/resnet50v2_512x512/1").hub_handle == (
        "https://tfhub.dev/tensorflow/centernet/resnet50v2_512x512/1"
    )


def test_demo_resolves_to_the_bundled_folder():
    if not (DEMO_MODEL_DIR / "saved_model" / "saved_model.pb").exists():
        pytest.skip("bundled demo model not built yet")
    spec = resolve_model("demo")
    assert spec.local_path == DEMO_MODEL_DIR / "saved_model"
    assert spec.label_map == DEMO_MODEL_DIR / "label_map.pbtxt"


def test_zoo_folder_layout_is_accepted(tmp_path, color_model_b1):
    zoo = tmp_path / "centernet_zoo"
    (zoo).mkdir()
    (zoo / "saved_model").symlink_to(color_model_b1, target_is_directory=True)
    spec = resolve_model(str(zoo))
    assert spec.local_path == zoo / "saved_model"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file or folder"),
        (lambda p: (p.mkdir(), p)[1], "holds no saved_model.pb"),
        (lambda p: (p.write_text("x"), p)[1], "is a file, not a SavedModel folder"),
    ],
)
def test_bad_local_models_say_what_to_do(tmp_path, make, message):
    path = make(tmp_path / "model")
    with pytest.raises(ModelError, match=message):
        resolve_model(str(path))


def test_savedmodel_without_detection_signature_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="no serving_default signature"):
        load_model(resolve_model(str(build_no_signature_model(tmp_path / "none"))))
    with pytest.raises(ModelError, match="does not have the detection signature"):
        load_model(resolve_model(str(build_wrong_signature_model(tmp_path / "wrong"))))


def test_corrupt_savedmodel_gives_one_line(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="cannot load model"):
        load_model(resolve_model(str(folder)))


def test_hub_cache_defaults_to_a_persistent_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_hub_cache() == tmp_path / "livedet" / "tfhub"
    assert not str(default_hub_cache()).startswith("/tmp/tfhub")


def test_download_failure_points_to_the_demo_model(monkeypatch, tmp_path):
    import tensorflow_hub as hub

    def offline(handle):
        raise OSError("Name or service not known")

    monkeypatch.setattr(hub, "resolve", offline)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="--model demo") as info:
        load_model(resolve_model("hourglass_512x512"))
    assert "\n" not in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_batch_support_is_read_from_the_signature(color_model_b1, color_model_open):
    # TensorFlow: the CPU runtimes take batches of any model (they run a batch-1 model's frames
    # one by one themselves), so only TensorFlow's answer is the signature's.
    b1 = load_model(resolve_model(str(color_model_b1)), backend="tensorflow")
    assert b1.open_batch is False
    assert load_model(resolve_model(str(color_model_open)), backend="tensorflow").open_batch


@pytest.mark.parametrize("model_fixture", ["color_model_b1", "color_model_open"])
def test_detector_pixel_exact_boxes_rgb_order_and_threshold(request, model_fixture):
    detector = Detector.from_name(str(request.getfixturevalue(model_fixture)))
    detections = detector(_bgr(_frame_rgb()))
    assert detections.class_ids.tolist() == [PERSON, CAR]  # dog (0.3) is under 0.5
    np.testing.assert_allclose(detections.boxes, [[100, 20, 180, 60], [30, 120, 90, 150]])
    # The same pixels handed over in the wrong order: red and blue trade places, so the
    # "person" is now where the blue patch is. Proves the model is fed RGB, not OpenCV's BGR.
    swapped = detector(_frame_rgb())
    assert swapped.class_ids.tolist() == [PERSON, CAR]
    np.testing.assert_allclose(swapped.boxes, [[30, 120, 90, 150], [100, 20, 180, 60]])


def test_detector_threshold_classes_and_max_boxes(color_model_open):
    model = load_model(resolve_model(str(color_model_open)))
    frame = _bgr(_frame_rgb())
    assert Detector(model, Selection(threshold=0.2))(frame).class_ids.tolist() == [PERSON, CAR, DOG]
    assert Detector(model, Selection(threshold=0.2, class_ids=frozenset({DOG})))(
        frame
    ).class_ids.tolist() == [DOG]
    assert Detector(model, Selection(threshold=0.0, max_boxes=1))(frame).class_ids.tolist() == [
        PERSON
    ]


def test_batch_one_model_never_gets_a_batch(color_model_b1):
    """A batch-1 signature silently mixes a batch (tensorflow/models#9358); run frame by frame."""
    detector = Detector.from_name(str(color_model_b1))
    first = _frame_rgb()
    second = np.full_like(first, 128)
    second[100:140, 200:260] = RED
    results = detector.predict([_bgr(first), _bgr(second)])
    assert len(results) == 2
    np.testing.assert_allclose(results[1].boxes, [[200, 100, 260, 140]])
    assert results[1].class_ids.tolist() == [PERSON]


def test_open_batch_model_gets_true_batches_and_mixed_sizes_are_split(color_model_open):
    detector = Detector.from_name(str(color_model_open), backend="tensorflow")
    calls = []
    original = detector.model.signature

    def spy(**kwargs):
        calls.append(tuple(next(iter(kwargs.values())).shape))
        return original(**kwargs)

    detector.model.signature = spy
    small = np.full((100, 160, 3), 128, np.uint8)
    small[10:20, 10:30] = RED
    frames = [_bgr(_frame_rgb())] * 3 + [_bgr(small)]
    results = detector.predict(frames)
    assert calls == [(3, 200, 320, 3), (1, 100, 160, 3)]
    np.testing.assert_allclose(results[3].boxes, [[10, 10, 30, 20]])
    np.testing.assert_allclose(results[2].boxes[0], [100, 20, 180, 60])


def test_keypoint_models_return_keypoints_in_pixels(color_model_kpts):
    detector = Detector.from_name(str(color_model_kpts))
    assert detector.model.has_keypoints
    detections = detector(_bgr(_frame_rgb()))
    assert detections.keypoints is not None and detections.keypoints.shape == (2, 17, 2)
    # Fixture: keypoint 0 at the box's top-left corner, 16 at its bottom-right.
    np.testing.assert_allclose(detections.keypoints[0, 0], [100, 20], atol=1)
    np.testing.assert_allclose(detections.keypoints[0, 16], [180, 60], atol=1)
