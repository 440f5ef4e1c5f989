"""Motion gating (--detect-on motion): run the model only when something moves in a source.

`MotionDetector` tells, per frame, whether something moved: a downscaled, blurred grey frame
against a running-average background (cv2.accumulateWeighted), thresholded, and a minimum
fraction of changed pixels. A change over most of the frame at once is a light change (a lamp
switched on, the camera's exposure jumping): the background is re-based on that frame, and it is
not motion. `MotionGate` decides, per frame, detect or skip: on motion, on the first still frame
after motion (so the boxes carried afterwards come from the scene as it stays), and at least every
`detect_every` seconds of the source's time (a still object is still seen, and one that appeared
in the dark is found after the lights come on). Plain calls, no threads: the pipeline's grabber
asks the gate of its lane (livedet.pipeline.stages).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from livedet.errors import UsageError

DETECT_ON = ("motion", "always")  # --detect-on
DETECT_EVERY_S = 2.0  # --detect-every default: a still scene is looked at every 2 s

# Motion is looked for at ~160 px wide: a person or a car is still tens of pixels there, the
# compare costs a fraction of a millisecond per frame, and the averaging of the downscale
# (INTER_AREA) already cancels most per-pixel sensor noise.
WIDTH = 160
# A 5x5 Gaussian blur on the small frame: what noise and compression blocking the downscale left
# is averaged away, so single pixels do not flicker over the threshold; objects keep their edges.
BLUR = (5, 5)
# A pixel has changed when it differs from the background by more than 20 grey levels (of 255):
# camera noise after downscale and blur is a few levels; a person against a wall is 30-100.
PIXEL_DIFF = 20
# The background follows each frame by 5 %: a time constant of ~20 frames (under a second at
# 30 fps), so slow light changes (clouds, auto exposure) are absorbed, while an object drifting
# even a third of a (small-frame) pixel per frame stays several pixels ahead of where the
# background remembers it: still motion. An object that stops fades into the background in ~1-2 s.
ALPHA = 0.05
# Motion needs at least 0.1 % of the small frame changed (~19 of 19,200 pixels at 160x120: a blob
# of ~4x5 px, the size of a distant walker): below that is noise, flicker, a leaf.
MIN_AREA = 0.001
# Over half the frame changed at once is a light change, not motion: nothing that moves fills
# the frame between two frames, a lamp or the exposure does. The background is re-based on it.
LIGHT_AREA = 0.5


class Change(enum.Enum):
    """What one frame showed against the background."""

    FIRST = "first"  # no background yet: this frame is it
    STILL = "still"
    MOTION = "motion"
    LIGHT = "light"  # a whole-frame change: re-based, not motion


class MotionDetector:
    """One source's background and the change each new frame shows against it."""

    def __init__(self) -> None:
        self._background: np.ndarray | None = None  # float32, small grey
        self.changed_fraction = 0.0  # of the last frame, for tests and tuning

    def update(self, image: np.ndarray) -> Change:
        """Compare a BGR (or grey) frame with the background, then fold it in."""
        import cv2

        small = _small_grey(image)
        if self._background is None or self._background.shape != small.shape:
            self._background = small.astype(np.float32)
            self.changed_fraction = 0.0
            return Change.FIRST
        difference = cv2.absdiff(small, cv2.convertScaleAbs(self._background))
        changed = np.count_nonzero(difference > PIXEL_DIFF)
        self.changed_fraction = changed / difference.size
        if self.changed_fraction > LIGHT_AREA:
            self._background = small.astype(np.float32)  # the new light is the new background
            return Change.LIGHT
        cv2.accumulateWeighted(small, self._background, ALPHA)
        return Change.MOTION if self.changed_fraction >= MIN_AREA else Change.STILL


def _small_grey(image: np.ndarray) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if width > WIDTH:
        size = (WIDTH, max(1, round(height * WIDTH / width)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(grey, BLUR, 0)


@dataclass(frozen=True)
class GateSettings:
    """A lane's motion gating (--detect-on motion): detect at least every `detect_every` s."""

    detect_every: float = DETECT_EVERY_S


class MotionGate:
    """Detect or skip, frame by frame, for one source (timestamps: the source's seconds)."""

    def __init__(self, settings: GateSettings) -> None:
        self.settings = settings
        self.detector = MotionDetector()
        self._last_detect: float | None = None
        self._moving = False  # the previous frame moved: its first still successor is detected

    def wants(self, image: np.ndarray, timestamp: float) -> bool:
        """True: run the model on this frame; False: show it with the carried boxes."""
        change = self.detector.update(image)
        moving, self._moving = self._moving, change is Change.MOTION
        due = (
            self._last_detect is None
            or timestamp - self._last_detect >= self.settings.detect_every
            or timestamp < self._last_detect  # the source restarted its clock (a reconnect)
        )
        if change in (Change.FIRST, Change.MOTION) or moving or due:
            self._last_detect = timestamp
            return True
        return False


def tracks_kept_for(detect_every: float | None) -> float:
    """Seconds a tracker keeps an object it no longer sees (ByteTrack's lost_track_seconds;
    detect_every None: no gating, its 2 s). With gating a still object is seen only every
    detect_every seconds (later when the model is busy), so its track must outlive twice that,
    or it would end and start again (a new id, a second zone entry) at each periodic detection."""
    return 2.0 if detect_every is None else max(2.0, 2 * detect_every)


def gate_settings(detect_on: str | None, detect_every: float, *, live: bool) -> GateSettings | None:
    """A source's gating from --detect-on (None: motion on a camera or stream, always on a file)
    and --detect-every; None: the source detects on every frame."""
    if (detect_on or ("motion" if live else "always")) == "always":
        return None
    return GateSettings(detect_every=detect_every)


def check_gate_flags(detect_on: str | None, detect_every: float) -> None:
    """UsageError (one line) for a bad --detect-on or --detect-every."""
    if detect_on is not None and detect_on not in DETECT_ON:
        raise UsageError(f"--detect-on {detect_on!r}: use one of {', '.join(DETECT_ON)}")
    if not detect_every > 0:  # also NaN
        raise UsageError(f"--detect-every {detect_every:g}: must be more than 0 seconds")
