"""What the reading loop shows while it runs: the window (keys, pause, snapshots), the annotated
recordings of streams, playback at a video's own speed, and frames-per-second figures.

    digits-recognize --camera                 # webcam 0, window if there is a display
    digits-recognize --camera picamera --headless --json
    digits-recognize clip.mp4 --json --record annotated.avi

The window lives in ``edge.sinks.window``, which the headless path never imports.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.pipeline.results import Box, Reading
from edge.sinks.images import output_stem
from edge.sinks.overlay import render
from edge.sinks.video import RECORD_CODECS, Recorder, save_snapshot
from edge.sources.capture import Frame
from edge.sources.streams import Input, Stream

if TYPE_CHECKING:  # only for type checkers: the headless path never imports the window module
    from edge.apps.driver import RunSettings, StopOnSignal, Step
    from edge.sinks.window import Window

log = logging.getLogger("edge")

RATE_WINDOW_S = 1.0  # frames per second are measured over the last second
REPORT_EVERY_S = 5.0  # --verbose: a progress line this often
PAUSE_POLL_MS = 30  # how often a paused window looks at the keyboard
# A window showing a video file more than this far behind the video's clock catches up instead of
# rushing through the frames it is late for.
MAX_LAG_S = 0.25


def parse_roi(text: str) -> Box:
    """``X,Y,W,H`` in pixels; ValueError unless four integers with W, H > 0 and X, Y >= 0."""
    parts = [p.strip() for p in text.replace(" ", "").split(",")]
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--roi: expected X,Y,W,H (four whole numbers of pixels), got {text!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise ValueError(f"--roi: X and Y must be 0 or more and W and H at least 1, got {text!r}")
    return Box(x, y, w, h)


def display_available(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a window could be shown: on Linux and BSD only with an X11 or Wayland display."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True


class RateMeter:
    """Events per second over the last ``window`` seconds."""

    def __init__(self, window: float = RATE_WINDOW_S) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


@dataclass
class StreamStats:
    """Where a stream's time went, for --verbose and the benchmark."""

    frames: int = 0  # frames taken from the source
    processed: int = 0  # frames read
    started: float = field(default_factory=time.perf_counter)
    stages_ms: dict[str, float] = field(default_factory=dict)  # recogniser stages, stabilise, layout, draw

    def add(self, stage: str, ms: float) -> None:
        self.stages_ms[stage] = self.stages_ms.get(stage, 0.0) + ms

    def per_frame(self) -> dict[str, float]:
        n = max(1, self.processed)
        return {k: v / n for k, v in self.stages_ms.items()}


def progress_line(stats: StreamStats, stream: Stream, fps_now: float | None = None) -> str:
    """``120 frames read in 4.0 s (30.1 FPS now, 29.8 overall); ms per frame: segment 13.2, ...``"""
    elapsed = time.perf_counter() - stats.started
    stages = ", ".join(f"{k} {v:.1f}" for k, v in stats.per_frame().items() if v >= 0.05)
    rates = f"{stats.processed / elapsed if elapsed > 0 else 0.0:.1f} FPS"
    if fps_now is not None:
        rates = f"{fps_now:.1f} FPS now, {rates} overall"
    dropped = getattr(getattr(stream, "stats", None), "dropped", 0)
    if stream.live:
        rates += f", {dropped} older camera frames skipped"
    return f"{stats.processed} frames read in {elapsed:.1f} s ({rates}); ms per frame: {stages}"


class LiveView:
    """The loop's eyes: for streams a window (when there is a display), annotated recordings
    (``--record``; ``--out`` for videos and cameras) and progress lines; for images and pages the
    window only with ``--show``."""

    def __init__(self, settings: "RunSettings", stop: "StopOnSignal") -> None:
        self.settings = settings
        self.outputs = settings.outputs
        self.stop = stop
        self.window: Window | None = None
        self._window_failed = False
        self.stream: Stream | None = None
        self.recorders: list[Recorder] = []
        self.meter = RateMeter()
        self.stats: StreamStats | None = None
        self.reading: Reading | None = None
        self.paused = False
        self.pace_origin: float | None = None
        self.next_report = 0.0

    # --- the stream's life ----------------------------------------------------------------------
    def opened(self, stream: Stream) -> None:
        self.stream = stream
        self.reading = None
        self.pace_origin = None
        if stream.kind == "document":
            return
        self.stats = StreamStats()
        self.next_report = time.perf_counter() + REPORT_EVERY_S
        size = getattr(stream, "size", None)
        if stream.live:
            log.info("%s: %s at %.0f FPS", stream.name, f"{size[0]}x{size[1]}" if size else "?", stream.fps)
        fps = stream.fps or self.settings.inputs.fps or 30.0
        if self.outputs.record is not None:
            self.recorders.append(Recorder(self.outputs.record, fps))
        if self.outputs.annotate_dir is not None:
            self.recorders.append(Recorder(self.outputs.annotate_dir / f"{output_stem(stream.name)}.avi", fps))

    def closed(self, item: Input) -> None:
        if self.stream is not None and self.stats is not None and self.outputs.verbose:
            log.info("%s", progress_line(self.stats, self.stream))
        for recorder in self.recorders:
            recorder.close()
        self.recorders = []
        self.stream = None
        self.stats = None

    def close(self) -> None:
        for recorder in self.recorders:
            recorder.close()
        self.recorders = []
        if self.window is not None:
            self.window.close()
            self.window = None

    # --- every frame ----------------------------------------------------------------------------
    def show(self, item: Input, step: "Step") -> None:
        stream = self.stream
        if step.reading is not None:
            self.reading = step.reading
        if stream is None or step.frame.image.size == 0:
            return
        is_stream = stream.kind != "document"
        if is_stream and self.stats is not None:
            self.stats.frames += 1
            if step.result is not None and step.result.ok:
                self.stats.processed += 1
                self.meter.tick(time.perf_counter())
                for stage, value in (step.reading.timings if step.reading else {}).items():
                    self.stats.add(stage, value)
        wants_window = self.outputs.window and (is_stream or self.outputs.show_images)
        if not wants_window and not self.recorders:
            self._report()
            return
        start = time.perf_counter()
        canvas = self._render(step.frame)
        for recorder in self.recorders:
            recorder.write(canvas, step.frame.t)
        window = self._window() if wants_window else None
        if window is not None:
            if is_stream and not stream.live:
                self.pace_origin = _pace(self.pace_origin, step.frame.t)
            self._interact(window, step.frame, canvas, wait_for_key=not is_stream)
        if self.stats is not None:
            self.stats.add("draw", (time.perf_counter() - start) * 1000)
        self._report()

    def _render(self, frame: Frame, paused: bool = False) -> np.ndarray:
        height, width = frame.image.shape[:2]
        shown = self.reading if self.reading is not None else Reading(width=width, height=height)
        roi = self.settings.inputs.roi
        if roi is not None:
            from edge.apps.driver import clip_roi

            roi = clip_roi(roi, width, height)
        fps = self.meter.rate() if self.stream is not None and self.stream.kind != "document" else None
        return render(frame.image, shown, fps=fps, roi=roi, paused=paused)

    def _interact(self, window: "Window", frame: Frame, canvas: np.ndarray, wait_for_key: bool) -> None:
        """Show the frame and act on keys: quit, snapshot, pause (a paused window waits here).

        Images and pages (``--show``) stay on screen until a key is pressed (q quits)."""
        action = window.show(canvas)
        while True:
            if action == "quit":
                self.stop.quit()
                return
            if action == "snapshot":
                self._snapshot(frame, canvas)
            elif wait_for_key and action is not None:
                return
            elif action == "pause":
                self.paused = not self.paused
                self.pace_origin = None
                if self.paused:
                    window.show(self._render(frame, paused=True))
            if not wait_for_key and not self.paused:
                return
            action = window.poll(PAUSE_POLL_MS)

    def _window(self) -> "Window | None":
        if self.window is None and not self._window_failed:
            from edge.sinks.window import HELP, Window, WindowUnavailable

            try:
                self.window = Window()
                log.info("keys: %s", HELP)
            except WindowUnavailable as exc:
                self._window_failed = True
                log.warning("no window (%s): running headless; opencv-python instead of "
                            "opencv-python-headless gives one", exc)
        return self.window

    def _snapshot(self, frame: Frame, canvas: np.ndarray) -> None:
        folder = self.outputs.annotate_dir or self.outputs.snapshot_dir
        try:
            path = save_snapshot(folder, frame, canvas)
            log.warning("snapshot saved: %s (and -raw.png)", path)
        except OSError as exc:
            log.error("snapshot: %s", exc)

    def _report(self) -> None:
        if self.outputs.verbose and self.stats is not None and self.stream is not None \
                and time.perf_counter() >= self.next_report:
            self.next_report += REPORT_EVERY_S
            log.info("%s", progress_line(self.stats, self.stream, self.meter.rate()))


def _pace(origin: float | None, t: float) -> float:
    """Sleep until the video's time ``t`` (from ``origin``, the wall time of its t=0); returns the origin."""
    now = time.perf_counter()
    if origin is None:
        return now - t
    delay = origin + t - now
    if delay > 0:
        time.sleep(delay)
        return origin
    return origin if delay > -MAX_LAG_S else now - t


def check_record_path(path: Path) -> None:
    """ValueError unless ``path`` can take an annotated video."""
    if path.suffix.lower() not in RECORD_CODECS:
        raise ValueError(f"--record {path}: use a file ending in " + ", ".join(RECORD_CODECS))
    if path.is_dir():
        raise ValueError(f"--record {path}: is a folder")
