"""--clips DIR: a clip and snapshots for every event, wired to the pipeline's hooks.

An object's appearance (a new confirmed track: its first box with a track id; an "appear" event),
its entering a zone and its crossing a line open a clip `DIR/<source>/<time>-<event>.mp4` (or
join the one open: overlapping events share a clip) and ask for its snapshot
`DIR/<source>/<time>-<event>.jpg` and crop `...-crop.jpg` (livedet.snapshots). The event record
names them ("clip", "clip_t" its offset into the clip, "snapshot", "crop") before any other
consumer sees it: `wrap(downstream)` is the first in the on_event fan-out.

Hooks, all called on the renderer thread in frame order: `on_detections` (camera picture and
tracked boxes: snapshots, appearances, who is still seen), `on_event`, `on_rendered` (the annotated
frame, handed to the clip thread that encodes it into the ring and the open clip). A full disk or
any other failure to write is one warning line; the run goes on without clips and snapshots, and
the events go on (without the keys).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from livedet.appearances import Appearances
from livedet.clips import ClipFile, SourceClips
from livedet.detections import Detections
from livedet.errors import LivedetError
from livedet.snapshots import SourceSnapshots

log = logging.getLogger(__name__)

CLIP_EVENTS = frozenset({"appear", "enter", "cross"})  # what opens (or extends) a clip
_FRAMES_QUEUED = 8  # frames the clip thread may lag the renderer by before the renderer waits
_POLL_S = 0.1  # how often a waiting renderer looks whether the clip thread has stopped
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_SUFFIX = re.compile(r"\.(mp4|mkv|avi|mov|webm|m4v|ts|jpe?g|png|bmp|webp)$", re.IGNORECASE)

EventSink = Callable[[dict[str, Any]], None]
RenderedHook = Callable[[str, np.ndarray, float], None]


def _write_errors() -> tuple[type[BaseException], ...]:
    import av

    return (OSError, LivedetError, av.FFmpegError)


class EventMedia:
    """Clips and snapshots of every source's events, under `folder`."""

    def __init__(
        self,
        folder: Path,
        labels: Mapping[int, str],
        *,
        pre_roll: float = 5.0,
        post_roll: float = 5.0,
        quality: str = "balanced",
    ) -> None:
        self.folder = folder
        self.labels = labels
        self.pre_roll, self.post_roll, self.quality = pre_roll, post_roll, quality
        self.enabled = True
        self.clips_written: list[Path] = []
        self._clips: dict[str, SourceClips] = {}
        self._snapshots: dict[str, SourceSnapshots] = {}
        self._appeared: dict[str, Appearances] = {}
        self._names: set[Path] = set()
        self._lock = threading.RLock()  # clip thread, renderer, retention: all but encoding
        self._frames: queue.Queue[tuple[str, np.ndarray, float] | None] = queue.Queue(
            maxsize=_FRAMES_QUEUED
        )
        self._serving, self._stopped = False, threading.Event()
        self._downstream: EventSink | None = None
        self._errors = _write_errors()

    def wrap(self, downstream: EventSink | None) -> EventSink:
        """The on_event hook: names the clip and snapshots in each event, then `downstream`."""
        self._downstream = downstream
        return self.on_event

    def rendered_then(self, after: RenderedHook) -> RenderedHook:
        """The on_rendered hook: the clip ring gets the frame, then `after` (the web view)."""

        def rendered(name: str, image: np.ndarray, timestamp: float) -> None:
            self.on_rendered(name, image, timestamp)
            after(name, image, timestamp)

        return rendered

    def on_event(self, event: dict[str, Any]) -> None:
        if self.enabled and event.get("event") in CLIP_EVENTS:
            self._attach(event)
        elif self.enabled:
            with self._lock:
                clip = self._open_clip(event)
                if clip is not None:  # an exit while a clip runs: it is in there
                    event["clip"] = str(clip.path)
                    event["clip_t"] = round(float(event.get("t", 0.0)) - clip.start_t, 3)
        if self._downstream is not None:
            self._downstream(event)

    def on_detections(
        self, name: str, image: np.ndarray, detections: Detections, timestamp: float
    ) -> None:
        if not self.enabled or detections.track_ids is None:
            return
        try:
            self._source_snapshots(name).observe(image, detections, timestamp)
            with self._lock:
                self._source_clips(name).seen(detections.track_ids, timestamp)
            if name not in self._appeared:
                self._appeared[name] = Appearances(name, self.labels)
            appeared = self._appeared[name].new(detections, timestamp)
        except self._errors as e:
            self._fail(e)
            appeared = []
        for event in appeared:
            self.on_event(event)

    def on_rendered(self, name: str, image: np.ndarray, timestamp: float) -> None:
        """To the clip thread (`serve_forever`): the renderer waits for no encoding (2-4 ms a
        frame) unless that thread is _FRAMES_QUEUED frames behind (then it does: no clip misses
        a frame). Nothing draws on a rendered picture after this hook: passed, not copied."""
        # Once the clip thread has stopped (an aborted run), nobody would take the frame.
        while self.enabled and not self._stopped.is_set():
            with contextlib.suppress(queue.Full):
                self._frames.put((name, image, timestamp), timeout=_POLL_S)
                return

    def wait_encoded(self) -> None:
        """Until every frame handed over so far is in the ring and the open clip."""
        self._frames.join()

    def serve_forever(self) -> None:
        """The clip thread (a pipeline service): encodes the frames handed over, in order, into
        the rings and open clips, until `shutdown` (what was queued before it is encoded)."""
        self._serving = True
        try:
            while (item := self._frames.get()) is not None:
                try:
                    self._encode(*item)
                finally:
                    self._frames.task_done()
            self._frames.task_done()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._frames.put(None)

    def _encode(self, name: str, image: np.ndarray, timestamp: float) -> None:
        if not self.enabled:
            return  # drained, so the renderer never waits on a recorder that gave up
        try:
            clips = self._source_clips(name)
            packet = clips.ring.encode(image, timestamp)
            with self._lock:
                before = clips.writing
                clips.add(packet, timestamp)
                if before is not None and clips.writing is None:
                    self.clips_written.append(before)
        except self._errors as e:
            self._fail(e)
        except Exception as e:  # a bug must not leave the renderer blocked on this queue
            log.exception("clips: the clip recorder failed")
            self._fail(e)

    def writing(self) -> list[Path]:
        """The clips open now (retention never removes them); any thread."""
        with self._lock:
            return [p for c in self._clips.values() if (p := c.writing) is not None]

    def close(self) -> None:
        """The run's end: queued frames encoded, open clips finished, snapshots written."""
        if self._serving and not self._stopped.is_set():
            self.shutdown()
            self._stopped.wait()
        if not self.enabled:
            return
        try:
            for clips in self._clips.values():
                before = clips.writing
                clips.close()
                if before is not None and before.exists():
                    self.clips_written.append(before)
            for snapshots in self._snapshots.values():
                snapshots.close()
        except self._errors as e:
            self._fail(e)

    @property
    def ring_bytes(self) -> dict[str, int]:
        """Per source: the most the clip ring held (bytes of encoded video)."""
        return {name: clips.ring.peak_bytes for name, clips in self._clips.items()}

    def _open_clip(self, event: dict[str, Any]) -> ClipFile | None:
        clips = self._clips.get(str(event.get("source")))
        return None if clips is None else clips.clip

    def _attach(self, event: dict[str, Any]) -> None:
        source = str(event.get("source", "0"))
        t = float(event.get("t", 0.0))
        track_id = event.get("track_id")
        try:
            path = self._new_name(source, str(event["event"]), ".mp4")
            with self._lock:
                clip, clip_t = self._source_clips(source).event(path, track_id, t)
        except self._errors as e:
            self._fail(e)
            return
        event["clip"] = str(clip)
        if clip_t is not None:
            event["clip_t"] = clip_t
        if isinstance(track_id, int):
            snapshot = path.with_suffix(".jpg")
            crop = path.with_name(path.stem + "-crop.jpg")
            self._source_snapshots(source).want(track_id, snapshot, crop)
            event["snapshot"], event["crop"] = str(snapshot), str(crop)

    def _new_name(self, source: str, kind: str, suffix: str) -> Path:
        # "hall.mp4" -> clips/hall/: a folder named like a video would confuse a file browser.
        stem = _MEDIA_SUFFIX.sub("", source)
        folder = self.folder / (_UNSAFE.sub("_", stem).strip("._") or "source")
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        stamp = (
            time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
        )
        path, number = folder / f"{stamp}-{kind}{suffix}", 2
        while path in self._names or path.exists():
            path, number = folder / f"{stamp}-{kind}-{number}{suffix}", number + 1
        self._names.add(path)
        if len(self._names) > 1000:
            self._names = {path}
        return path

    def _source_clips(self, name: str) -> SourceClips:
        with self._lock:  # the renderer and the clip thread may both meet a new source
            clips = self._clips.get(name)
            if clips is None:
                clips = self._clips[name] = SourceClips(
                    self.pre_roll, self.post_roll, quality=self.quality
                )
            return clips

    def _source_snapshots(self, name: str) -> SourceSnapshots:
        snapshots = self._snapshots.get(name)
        if snapshots is None:
            snapshots = self._snapshots[name] = SourceSnapshots(self.post_roll)
        return snapshots

    def _fail(self, error: BaseException) -> None:
        """One warning; no more clips or snapshots this run (what was half-written is removed)."""
        self.enabled = False
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        log.warning(
            "clips: cannot write under %s (%s); clip recording is off for the rest of the run, "
            "detection goes on",
            self.folder,
            reason,
        )
        with self._lock:
            for clips in self._clips.values():
                with contextlib.suppress(OSError):  # not even removed: the disk is failing
                    clips.abandon()


def open_event_media(
    config: Any, labels: Mapping[int, str], resources: contextlib.ExitStack
) -> EventMedia | None:
    """The Config's --clips recorder (closed with `resources`: open clips finished), or None."""
    if config.clips is None:
        return None
    media = EventMedia(
        config.clips,
        labels,
        pre_roll=config.pre_roll,
        post_roll=config.post_roll,
        quality=config.video_quality,
    )
    resources.callback(media.close)
    return media
