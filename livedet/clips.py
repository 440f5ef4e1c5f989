"""Event clips: a ring of the last seconds of one source as H.264 packets, and the clip files made
from it by remuxing (copying packets into an .mp4), never by encoding a second time.

Each frame is encoded once, as it is rendered, by an in-memory libx264 encoder (no B-frames, no
look-ahead: one packet out per frame in, at once) with a keyframe forced every KEYFRAME_EVERY_S
seconds of the source's time. The ring keeps the packets from the newest keyframe at or before
`pre_roll` seconds ago, so it holds between `pre_roll` and `pre_roll + KEYFRAME_EVERY_S` seconds
of video, whatever the run's length: its memory is bounded by the stream's bit rate (measured in
docs/clips.md). A clip starts at such a keyframe, so it plays from its first frame.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livedet.atomic import finish, temporary_path
from livedet.sinks import DEFAULT_VIDEO_QUALITY, VIDEO_QUALITY

KEYFRAME_EVERY_S = 1.0  # a clip can start at most this much before its pre-roll asks
_MS = Fraction(1, 1000)


@dataclass(frozen=True)
class Packet:
    """One encoded frame: its time (milliseconds of the source's clock), whether it is an IDR
    frame (a clip may start there), and its H.264 bytes (Annex B, SPS/PPS in every keyframe)."""

    pts: int
    keyframe: bool
    data: bytes


class PacketRing:
    """The last `pre_roll` seconds (and up to KEYFRAME_EVERY_S more) of one source, encoded.

    `push` encodes a frame and returns its packet; `since(t)` gives the packets a clip starting
    `t` needs (from the newest keyframe at or before it). Frames of another size than the first
    are resized to it (a camera that came back at another resolution); odd sizes are padded by
    one pixel (4:2:0 H.264 stores even sizes only).
    """

    def __init__(self, pre_roll: float, *, quality: str = DEFAULT_VIDEO_QUALITY) -> None:
        self.pre_roll_ms = int(round(pre_roll * 1000))
        self.size: tuple[int, int] | None = None  # (width, height) of the encoded picture
        self.bytes_held = 0
        self.peak_bytes = 0
        self._preset, self._crf = VIDEO_QUALITY[quality]
        self._encoder: Any = None
        self._packets: deque[Packet] = deque()
        self._keyframes: deque[int] = deque()  # pts of the keyframes in _packets
        self._last_key: int | None = None
        self._last_pts = -1
        self._picture_size: tuple[int, int] | None = None  # frames as they come

    def push(self, image: np.ndarray, timestamp: float) -> Packet:
        """Encode the frame and keep its packet."""
        packet = self.encode(image, timestamp)
        self.add(packet)
        return packet

    def encode(self, image: np.ndarray, timestamp: float) -> Packet:
        """The frame's packet, not kept yet: the slow part, which touches only the encoder (so
        it runs outside the lock that guards the ring; one thread encodes)."""
        import av

        if self._encoder is None:
            self._open(image.shape[1], image.shape[0])
        assert self.size is not None and self._picture_size is not None
        if (image.shape[1], image.shape[0]) != self._picture_size:
            image = cv2.resize(image, self._picture_size, interpolation=cv2.INTER_AREA)
        width, height = self.size
        if image.shape[1] != width or image.shape[0] != height:
            bottom, right = height - image.shape[0], width - image.shape[1]
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        yuv: np.ndarray = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        pts = max(int(round(timestamp * 1000)), self._last_pts + 1)  # strictly increasing
        self._last_pts = frame.pts = pts
        frame.time_base = _MS
        if self._last_key is None or pts - self._last_key >= KEYFRAME_EVERY_S * 1000:
            frame.pict_type = av.video.frame.PictureType.I
        packets = self._encoder.encode(frame)
        if len(packets) != 1:  # zerolatency: one frame in, one packet out
            raise RuntimeError(f"clip encoder returned {len(packets)} packets for one frame")
        packet = Packet(pts, bool(packets[0].is_keyframe), bytes(packets[0]))
        if packet.keyframe:
            self._last_key = pts
        return packet

    def add(self, packet: Packet) -> None:
        """Keep an encoded packet; the oldest beyond the pre-roll go."""
        if packet.keyframe:
            self._keyframes.append(packet.pts)
        self._packets.append(packet)
        self.bytes_held += len(packet.data)
        self._trim(packet.pts - self.pre_roll_ms)
        self.peak_bytes = max(self.peak_bytes, self.bytes_held)

    def since(self, t_ms: int) -> list[Packet]:
        """The packets from the newest keyframe at or before `t_ms` (all of them when the ring
        is younger), up to the newest: what a clip starting at `t_ms` begins with."""
        start = next((pts for pts in reversed(self._keyframes) if pts <= t_ms), None)
        if start is None:
            return list(self._packets)
        return [p for p in self._packets if p.pts >= start]

    @property
    def seconds_held(self) -> float:
        if not self._packets:
            return 0.0
        return (self._packets[-1].pts - self._packets[0].pts) / 1000

    def _trim(self, limit_ms: int) -> None:
        # Keep the newest keyframe at or before the limit: drop what lies before it.
        while len(self._keyframes) >= 2 and self._keyframes[1] <= limit_ms:
            self._keyframes.popleft()
            while self._packets[0].pts < self._keyframes[0]:
                self.bytes_held -= len(self._packets.popleft().data)

    def _open(self, width: int, height: int) -> None:
        import av

        self._picture_size = (width, height)
        self.size = (width + width % 2, height + height % 2)
        encoder: Any = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = self.size
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = _MS
        encoder.options = {
            "preset": self._preset,
            "crf": str(self._crf),
            "tune": "zerolatency",  # no B-frames or look-ahead: a packet per frame, at once
            "forced-idr": "1",  # a forced I frame is an IDR: a clip can start there
        }
        encoder.open()
        self._encoder = encoder


class ClipFile:
    """One clip being written: packets copied into an .mp4 (H.264, faststart) under a hidden
    partial name, moved into place by `close()`. Times start at 0 at the clip's first packet;
    `start_t` is that packet's time on the source's clock."""

    def __init__(self, path: Path, first: Packet, size: tuple[int, int]) -> None:
        import av

        self.path = path
        self.start_t = first.pts / 1000
        self.last_t = self.start_t
        self.tmp = temporary_path(path)
        self._start = first.pts
        self._last = -1
        self._held: Any = None  # the newest packet, muxed when its duration is known
        self._last_duration = 1
        self._container: Any = av.open(
            str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        self._container.metadata["comment"] = f"livedet clip; starts at t={self.start_t:.3f}"
        width, height = size
        self._stream: Any = self._container.add_mux_stream("h264", width=width, height=height)
        self._stream.time_base = _MS
        try:
            self.write(first)
        except BaseException:
            self.abandon()
            raise

    def write(self, packet: Packet) -> None:
        import av

        pts = max(packet.pts - self._start, self._last + 1)
        if self._held is not None:  # a packet's duration is known when the next one comes
            self._mux(self._held, pts - self._last)
        self._last = pts
        out = av.Packet(packet.data)
        out.pts = out.dts = pts
        out.time_base = _MS
        if packet.keyframe:
            out.is_keyframe = True
        self._held = out
        self.last_t = packet.pts / 1000

    def close(self) -> None:
        """Finish the file and move it into place; on an error the partial file is removed."""
        try:
            if self._held is not None:  # the last frame lasts as long as the one before it
                self._mux(self._held, self._last_duration)
            self._container.close()
        except BaseException:
            finish(self.tmp, self.path, keep=False)
            raise
        finish(self.tmp, self.path, keep=True)

    def _mux(self, packet: Any, duration: int) -> None:
        # Without durations the file's edit list would end at the last frame's start, and
        # players (and decoders) would drop that frame.
        packet.duration = self._last_duration = max(duration, 1)
        packet.stream = self._stream
        self._held = None
        self._container.mux(packet)

    def abandon(self) -> None:
        """Give up on this clip (a full disk): nothing is left behind under any name."""
        with contextlib.suppress(Exception):  # the disk is already known to be failing
            self._container.close()
        finish(self.tmp, self.path, keep=False)


class SourceClips:
    """One source's clip: opened at an event from the ring's pre-roll, fed every frame, closed
    when no track that caused one of its events has been seen for `post_roll` seconds.
    Overlapping events share the open clip."""

    def __init__(self, pre_roll: float, post_roll: float, *, quality: str) -> None:
        self.ring = PacketRing(pre_roll, quality=quality)
        self.post_roll = post_roll
        self.clip: ClipFile | None = None
        self._tracks: dict[int, float] = {}  # event-causing track id -> last seen
        self._last_t: float | None = None
        self._pending: Path | None = None  # opened at the next frame: the ring was empty

    def event(self, path: Path, track_id: int | None, t: float) -> tuple[Path, float | None]:
        """An event at `t`: the clip it belongs to (`path` when it opens one) and the event's
        offset into it (None when the clip opens at the next frame: no frame came before)."""
        key = -1 if track_id is None else track_id  # -1: no track, kept post-roll after it
        self._tracks[key] = max(self._tracks.get(key, t), t)
        if self.clip is not None:
            return self.clip.path, round(t - self.clip.start_t, 3)
        if self._pending is not None:
            return self._pending, None
        packets = self.ring.since(int(round((t - self.ring.pre_roll_ms / 1000) * 1000)))
        if not packets:
            self._pending = path
            return path, None
        self._open(path, packets)
        assert self.clip is not None
        return path, round(t - self.clip.start_t, 3)

    def seen(self, track_ids: np.ndarray, t: float) -> None:
        for track_id in track_ids.tolist():
            if track_id >= 0 and track_id in self._tracks:
                self._tracks[track_id] = t

    def frame(self, image: np.ndarray, t: float) -> None:
        self.add(self.ring.encode(image, t), t)

    def add(self, packet: Packet, t: float) -> None:
        """A frame encoded by `ring.encode`: into the ring, and the open clip."""
        self.ring.add(packet)
        self._last_t = t
        if self._pending is not None:
            path, self._pending = self._pending, None
            self._open(path, [packet])
            return
        if self.clip is None:
            return
        self.clip.write(packet)
        if t - max(self._tracks.values()) >= self.post_roll:
            self.close()

    def close(self) -> None:
        clip, self.clip = self.clip, None
        self._tracks.clear()
        self._pending = None
        if clip is not None:
            clip.close()

    def abandon(self) -> None:
        clip, self.clip = self.clip, None
        self._tracks.clear()
        self._pending = None
        if clip is not None:
            clip.abandon()

    @property
    def writing(self) -> Path | None:
        return self.clip.path if self.clip is not None else self._pending

    def _open(self, path: Path, packets: list[Packet]) -> None:
        assert self.ring.size is not None
        clip = ClipFile(path, packets[0], self.ring.size)
        self.clip = clip
        for packet in packets[1:]:
            clip.write(packet)
