"""Playing a recorded file at its own speed, as a player does, instead of as fast as possible.

A file that someone watches (a window, the web view, MQTT events) or that loops (a kiosk promo)
is paced: frame k is handed on no earlier than the first frame's start plus k's media time, so a
25 fps clip shows 25 frames a second and event and record times grow at wall-clock rate, over
every pass of a loop. A file that is only written to disk is not paced: every frame, in order,
as fast as the model allows.

When the model is slower than the clip, a paced file is read like a live source: the newest
frame wins and the frames the model could not take are counted as dropped (the pipeline's
newest-only channel), so the picture stays at wall-clock speed with no growing latency; a
recording of it keeps real speed because the writer follows the timestamps. No threads here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from livedet.frames import Frame

RESYNC_AFTER = 1.0  # seconds behind at which a paced file goes on from where it is


class Pacer:
    """Holds each frame of one recorded file until it is due.

    wait(seconds) sleeps and returns True at once when the run is stopping (Shutdown.wait).
    The clock starts at the first frame held, not when the file opened: a model that took
    seconds to load does not make the first frames rush.
    """

    def __init__(
        self,
        wait: Callable[[float], bool],
        *,
        clock: Callable[[], float] = time.perf_counter,
        resync_after: float = RESYNC_AFTER,
    ) -> None:
        self._wait = wait
        self._clock = clock
        self._resync_after = resync_after
        self._origin: float | None = None  # the wall-clock time of media time 0

    def hold(self, frame: Frame) -> bool:
        """Wait until `frame` is due; False when the run stopped meanwhile.

        A frame that is late by less than `resync_after` goes on at once, so a short hiccup is
        caught up (the pipeline drops what the model cannot take). Further behind (decoding
        slower than the clip, a stalled machine) the clock restarts at this frame, as a player
        does after buffering, instead of rushing through seconds of backlog.
        """
        now = self._clock()
        if self._origin is None or now - (self._origin + frame.timestamp) > self._resync_after:
            self._origin = now - frame.timestamp
        due = self._origin + frame.timestamp
        if due > now and self._wait(due - now):
            return False
        frame.captured_at = max(now, due)  # latency counts from when the frame is due
        return True

    def delay(self, seconds: float) -> None:
        """The file was paused for `seconds`: it resumes where it paused, like a player."""
        if self._origin is not None:
            self._origin += seconds
