"""The tracking engines livedet can run, all from Roboflow's ``trackers`` package (extra ``track``).

Each is built the same way from livedet's settings and differs in how it associates boxes:
- "bytetrack": IoU on Kalman-predicted boxes, low-score boxes rescue lost tracks (the default);
- "ocsort": OC-SORT, observation-centric: a track found again after a gap is re-fitted along a
  virtual path from its last observation (better velocity after a stop or an occlusion), and
  association weighs the direction of motion;
- "botsort": BoT-SORT's association with camera-motion compensation: each frame's global motion
  (sparse optical flow on the background, boxes masked out) moves the predicted boxes before
  matching, so a shaking or panning camera does not tear tracks apart. Needs the frame.
Measured against each other in docs/tracking.md. Also here: what livedet adds to every engine
from outside it (camera-motion compensation), and the conversions to and from the engines.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from livedet.detections import Detections
from livedet.errors import UsageError

if TYPE_CHECKING:
    import supervision as sv

ENGINES = ("bytetrack", "ocsort", "botsort")
# Similarity a box needs to continue a track, tuned on the bench scenes: IoU at camera rate,
# DIoU (IoU minus the squared centre distance over the enclosing box's diagonal) when
# inferences are far apart, so boxes that moved apart still match.
MIN_IOU, MIN_DIOU = 0.1, -0.2
_FOLLOW_WIDTH = 320  # px: camera motion is followed on a copy about this wide


def check_tracker_settings(name: str, camera_motion: bool, *, tracking: bool) -> None:
    """--tracker and --camera-motion (UsageError, one line)."""
    if name not in ENGINES:
        raise UsageError(f"--tracker {name}: unknown tracker; choose {', '.join(ENGINES)}")
    if (name != ENGINES[0] or camera_motion) and not tracking:
        raise UsageError("--tracker and --camera-motion choose how --track tracks; add --track")


def build_engine(
    name: str,
    *,
    lost_track_seconds: float,
    frame_rate: float,
    new_track_min_score: float,
    high_score: float,
    confirm_hits: int,
    camera_motion: bool,
) -> Any:
    """The engine called `name`, configured alike: buffers in seconds, the same thresholds."""
    if name not in ENGINES:
        raise UsageError(f"--tracker {name}: unknown tracker; choose {', '.join(ENGINES)}")
    try:
        import trackers
    except ImportError as e:
        raise UsageError(
            f"tracking needs the 'trackers' package ({e}); install it: pip install 'livedet[track]'"
        ) from e
    # The engines count their buffer in 30 fps frames, whatever frame_rate says.
    buffer = max(0, round(lost_track_seconds * 30.0))
    if name == "bytetrack":
        return trackers.ByteTrackTracker(
            lost_track_buffer=buffer,
            frame_rate=frame_rate,
            track_activation_threshold=new_track_min_score,
            minimum_consecutive_frames=confirm_hits,
            minimum_iou_threshold=MIN_IOU,
            high_conf_det_threshold=high_score,
        )
    if name == "ocsort":
        # OC-SORT has no separate start threshold: boxes under high_score neither start nor
        # extend a track, so it is the display threshold too.
        return trackers.OCSORTTracker(
            lost_track_buffer=buffer,
            frame_rate=frame_rate,
            minimum_consecutive_frames=confirm_hits,
            minimum_iou_threshold=MIN_IOU,
            high_conf_det_threshold=min(high_score, new_track_min_score),
        )
    return trackers.BoTSORTTracker(
        lost_track_buffer=buffer,
        frame_rate=frame_rate,
        track_activation_threshold=new_track_min_score,
        minimum_consecutive_frames=confirm_hits,
        high_conf_det_threshold=high_score,
        enable_cmc=camera_motion,
        cmc_method="sparseOptFlow",
        instant_first_frame_activation=False,  # a first sighting is unconfirmed, as elsewhere
    )


def set_new_track_min_score(engine: Any, score: float) -> None:
    if hasattr(engine, "track_activation_threshold"):
        engine.track_activation_threshold = score
    else:  # OC-SORT: see build_engine
        engine.high_conf_det_threshold = score


def compare_for_gap(engine: Any, slow: bool) -> None:
    """IoU when inferences come at camera rate, DIoU when they are far apart (`slow`)."""
    iou, diou = _similarities()
    engine.iou = diou if slow else iou
    if hasattr(engine, "minimum_iou_threshold"):
        engine.minimum_iou_threshold = MIN_DIOU if slow else MIN_IOU
    # BoT-SORT compares fused similarities in [0, 1] (DIoU shifted there): its own thresholds.


@functools.cache
def _similarities() -> tuple[Any, Any]:
    """One IoU and one DIoU for every update of every tracker (they hold no state)."""
    from trackers import DIoU, IoU

    return IoU(), DIoU()


class CameraMotion:
    """Camera-motion compensation for the engines without their own (BoT-SORT has it): the
    global motion between this frame and the last one given (sparse optical flow on corners of
    the background, outliers dropped by RANSAC, trackers.CMC) moves every track's Kalman state
    before the engine predicts and matches. A shaking mast, a pan or a hand-held camera then no
    longer moves every predicted box away from its object at once."""

    def __init__(self) -> None:
        self._cmc: Any = None  # built at the first frame: its scale depends on the frame size

    def compensate(self, engine: Any, frame: np.ndarray, boxes: np.ndarray) -> None:
        from trackers import CMC, CMCConfig

        if self._cmc is None:
            # Followed on a ~320 px wide copy with up to 300 corners: 2-3.5 ms of flow at
            # 640x360 to 1280x720 (docs/tracking.md); the full frame and 1000 corners cost 9 ms
            # and track the shake no better.
            downscale = max(1, round(frame.shape[1] / _FOLLOW_WIDTH))
            config = CMCConfig(method="sparseOptFlow", downscale=downscale, sof_max_corners=300)
            self._cmc = CMC(config)
        warp = self._cmc.estimate(frame, boxes.astype(np.float64).reshape(-1, 4))
        if np.allclose(warp, np.eye(2, 3), atol=1e-4) or not engine.tracks:
            return
        # trackers' CMC.apply_batch min/max-sorts XYXY *velocities* like corners (2.6.1), which
        # scrambles them: XYXY states (ByteTrack's) are warped here, centre-based ones by it.
        centred = []
        for tracklet in engine.tracks:
            if tracklet.state_estimator.kf.state.shape[0] == 8:
                _warp_xyxy_state(tracklet.state_estimator.kf, warp)
            else:
                centred.append(tracklet)
        CMC.apply_batch(warp, centred)

    def reset(self) -> None:
        self._cmc = None


def _warp_xyxy_state(kf: Any, warp: np.ndarray) -> None:
    """Move an (x1, y1, x2, y2, and their velocities) Kalman state by the 2x3 affine `warp`:
    corners by the whole warp, velocities by its linear part, the covariance alike."""
    linear, shift = warp[:, :2].astype(np.float64), warp[:, 2].astype(np.float64)
    state = kf.state.reshape(-1).astype(np.float64)
    corners = state[:4].reshape(2, 2) @ linear.T + shift
    velocities = state[4:].reshape(2, 2) @ linear.T
    low, high = corners.min(axis=0), corners.max(axis=0)  # stays a box if the warp flips
    kf.state = np.concatenate([low, high, velocities.reshape(-1)]).reshape(-1, 1)
    rotate = np.kron(np.eye(4), linear)
    kf.state_covariance = rotate @ kf.state_covariance @ rotate.T


def to_supervision(detections: Detections) -> sv.Detections:
    """The detections as the engines take them, each with its row (to undo their reordering)."""
    import supervision as sv

    return sv.Detections(
        xyxy=detections.boxes.astype(np.float64).reshape(-1, 4),
        confidence=detections.scores.astype(np.float64),
        class_id=detections.class_ids.astype(np.int64),
        data={"row": np.arange(len(detections))},  # the engine reorders; this maps rows back
    )


def extrapolate(state_estimator: Any, frame_step: float, frame_rate: float) -> np.ndarray:
    """The Kalman filter's box `frame_step` frames ahead, leaving the filter as it was."""
    if frame_step <= 0.0:
        return np.asarray(state_estimator.state_to_bbox(), np.float32)
    saved = state_estimator.get_state()
    try:
        state_estimator.predict(frame_step, frame_rate)
        return np.asarray(state_estimator.state_to_bbox(), np.float32)
    finally:
        state_estimator.set_state(saved)
