"""Live mode: read digits from a camera or a video file, frame after frame.

    digits-recognize --camera                 # webcam 0, window if there is a display
    digits-recognize --camera picamera --headless --json
    digits-recognize --video clip.mp4 --json --record annotated.avi

One loop for every source: take a frame (cameras: the newest one), recognise the region of interest
on every Nth frame, stabilise the digits over frames, then write the reading (stdout) and draw it
(window, recording). Capture runs in its own thread (``edge.sources.capture``); the window lives in
``edge.sinks.window``, which the headless path never imports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from edge.sources.capture import CaptureError, Frame, FrameSource, open_camera, open_video, parse_camera, quiet_ffmpeg
from edge.pipeline.layout import layout
from edge.sinks.live import RECORD_CODECS, ReadingWriter, Recorder, save_snapshot
from edge.sinks.overlay import render
from edge.pipeline.recognizer import Recognizer
from edge.pipeline.results import Box, Digit, Reading
from edge.pipeline.stabilize import StabilizeOptions, Stabilizer

if TYPE_CHECKING:  # only for type checkers: the headless path never imports the window module
    from edge.sinks.window import Window

log = logging.getLogger("edge")

RATE_WINDOW_S = 1.0  # frames per second are measured over the last second
REPORT_EVERY_S = 5.0  # --verbose: a progress line this often


class UsageError(ValueError):
    """A live-mode option is malformed or does not fit the source (exit status 2)."""


@dataclass(frozen=True)
class LiveSettings:
    camera: str | None = None
    video: Path | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    roi: Box | None = None
    every: int = 1
    window: bool = False  # a window was asked for (not --headless) and a display exists
    json: bool = False
    changes_only: bool = False
    record: Path | None = None
    snapshot_dir: Path = Path(".")
    verbose: bool = False


# --- options -------------------------------------------------------------------------------------

def parse_roi(text: str) -> Box:
    """``X,Y,W,H`` in pixels of the frame; UsageError unless four integers with W, H > 0 and X, Y >= 0."""
    parts = [p.strip() for p in text.replace(" ", "").split(",")]
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--roi: expected X,Y,W,H (four whole numbers of pixels), got {text!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise UsageError(f"--roi: X and Y must be 0 or more and W and H at least 1, got {text!r}")
    return Box(x, y, w, h)


def clip_roi(roi: Box, width: int, height: int) -> Box | None:
    """The part of the region inside a frame of this size, or None when there is none."""
    x2, y2 = min(roi.x2, width), min(roi.y2, height)
    if roi.x >= x2 or roi.y >= y2:
        return None
    return Box(roi.x, roi.y, x2 - roi.x, y2 - roi.y)


def display_available(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a window could be shown: on Linux and BSD only with an X11 or Wayland display."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True


def settings_from_args(args: argparse.Namespace) -> LiveSettings:
    """Validate the live options (UsageError) and decide on the window."""
    roi = parse_roi(args.roi) if getattr(args, "roi", None) else None
    camera = getattr(args, "camera", None)
    if camera is not None:
        try:
            parse_camera(camera)
        except ValueError as exc:
            raise UsageError(f"--camera: {exc}") from None
    record = getattr(args, "record", None)
    if record is not None:
        record = Path(record)
        if record.suffix.lower() not in RECORD_CODECS:
            raise UsageError(f"--record {record}: use a file ending in " + ", ".join(RECORD_CODECS))
        if record.exists() and record.is_dir():
            raise UsageError(f"--record {record}: is a folder")
    if getattr(args, "changes_only", False) and not getattr(args, "json", False):
        log.info("--changes-only: text output always shows changes only")
    headless = bool(getattr(args, "headless", False))
    window = not headless and display_available()
    if not headless and not window:
        log.info("no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless")
    return LiveSettings(
        camera=camera, video=getattr(args, "video", None), width=getattr(args, "width", None),
        height=getattr(args, "height", None), fps=getattr(args, "fps", None), roi=roi,
        every=max(1, int(getattr(args, "every", 1) or 1)), window=window, json=bool(getattr(args, "json", False)),
        changes_only=bool(getattr(args, "changes_only", False)), record=record,
        snapshot_dir=Path(getattr(args, "out", None) or "."), verbose=bool(getattr(args, "verbose", False)),
    )


# --- small parts of the loop ---------------------------------------------------------------------

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
class LoopStats:
    """Where the loop's time went, for --verbose and the benchmark."""

    frames: int = 0  # frames taken from the source
    processed: int = 0  # frames recognised
    wall_s: float = 0.0
    failed: int = 0  # frames skipped because reading them raised
    wait_ms: float = 0.0  # the loop waiting for the source
    stages_ms: dict[str, float] = field(default_factory=dict)  # recogniser stages, stabilise, output, draw

    def add(self, stage: str, ms: float) -> None:
        self.stages_ms[stage] = self.stages_ms.get(stage, 0.0) + ms

    @property
    def fps(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    def per_frame(self) -> dict[str, float]:
        """Mean milliseconds per processed frame for each stage, waiting included."""
        n = max(1, self.processed)
        return {"wait": self.wait_ms / n, **{k: v / n for k, v in self.stages_ms.items()}}


class FrameFailures:
    """Frames whose reading raised: each distinct error is logged once (with its traceback under
    --verbose), the frame is skipped, and the stream goes on."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.count = 0
        self._seen: set[str] = set()

    @staticmethod
    def message(exc: Exception) -> str:
        detail = (str(exc).strip().splitlines() or [""])[0]
        return f"internal error while reading ({type(exc).__name__}: {detail})"

    def record(self, frame: Frame, exc: Exception) -> None:
        self.count += 1
        text = self.message(exc)
        if text in self._seen:
            return
        self._seen.add(text)
        log.error("frame %d: %s; skipping the frame%s", frame.index, text,
                  "" if self.verbose else " (--verbose shows the traceback)", exc_info=self.verbose)


@dataclass
class LoopResult:
    stats: LoopStats
    error: str | None = None  # the source failed
    interrupted: bool = False  # stopped by the user (q, Ctrl+C, a termination signal)


def offset_digits(digits: list[Digit], dx: int, dy: int) -> list[Digit]:
    """Digits read in a region, moved to frame coordinates."""
    if not dx and not dy:
        return digits
    return [replace(d, box=Box(d.box.x + dx, d.box.y + dy, d.box.w, d.box.h)) for d in digits]


# Adaptive working size for frames: keep digits at least SHRINK_TO pixels tall, shrink at most 4x.
SHRINK_TO = 40
MAX_SHRINK = 4


class FrameReader:
    """One frame's reading: the region of interest recognised, its digits moved to frame coordinates,
    then stabilised against the frames before (so the reader is used for one stream, in order)."""

    def __init__(self, recognizer: Recognizer, roi: Box | None = None) -> None:
        options = recognizer.options
        # Frames cut only blobs clearly wider than tall into touching digits: trying cuts on every
        # near-square blob the model is unsure of (a 1 leaning into its neighbour, but far more often
        # one badly written digit) costs about 3 ms a frame, half a frame's budget.
        self.recognizer = Recognizer(recognizer.classifier, replace(options, split_unsure_below=0.0))
        self.roi = roi
        self.stabilizer = Stabilizer(StabilizeOptions(min_confidence=options.min_confidence))
        self.drop_uncertain = options.drop_uncertain and options.min_confidence > 0
        # Digits held in front of a camera are often far bigger than the ~40 px reading needs:
        # segment the next frame at a whole-number fraction of the size the last one's digits allow.
        self.shrink = 1

    def read(self, image: np.ndarray) -> Reading:
        """The stabilised reading; ``timings`` holds the recogniser's stages and ``stabilise``."""
        height, width = image.shape[:2]
        region, dx, dy = image, 0, 0
        if self.roi is not None:
            roi = clip_roi(self.roi, width, height)
            if roi is None:
                r = self.roi
                raise UsageError(f"--roi {r.x},{r.y},{r.w},{r.h} lies outside the {width}x{height} frame")
            region, dx, dy = image[roi.y : roi.y2, roi.x : roi.x2], roi.x, roi.y
        raw = self.recognizer.read(region, shrink=self.shrink)
        heights = sorted(d.box.h for d in raw.digits)
        self.shrink = max(1, min(MAX_SHRINK, heights[len(heights) // 2] // SHRINK_TO)) if heights else 1
        start = time.perf_counter()
        stable = self.stabilizer.update(offset_digits(raw.digits, dx, dy))
        if self.drop_uncertain:
            stable = [d for d in stable if not d.uncertain]
        lines = layout(stable)
        timings = {**raw.timings, "stabilise": round((time.perf_counter() - start) * 1000, 3)}
        return Reading(width=width, height=height, lines=lines, timings=timings, notes=list(raw.notes))


# --- the loop ----------------------------------------------------------------------------------

def run_loop(source: FrameSource, recognizer: Recognizer, settings: LiveSettings, writer: ReadingWriter,
             window: Window | None = None, recorder: Recorder | None = None) -> LoopResult:
    """Read the source until it ends, fails or the user stops; recognise, stabilise, write and draw."""
    reader = FrameReader(recognizer, settings.roi)
    stats = LoopStats()
    meter = RateMeter()
    reading: Reading | None = None
    last_processed: int | None = None
    last_frame: Frame | None = None
    paused = False
    pace_origin: float | None = None  # window + video file: show frames at the video's own speed
    next_report = time.perf_counter() + REPORT_EVERY_S
    start = time.perf_counter()
    result = LoopResult(stats)
    failures = FrameFailures(settings.verbose)
    try:
        while True:
            if paused:
                action = window.poll(30)
                if action == "quit":
                    result.interrupted = True
                    break
                if action == "pause":
                    paused = False
                    pace_origin = None
                elif action == "snapshot" and last_frame is not None:
                    _snapshot(settings, last_frame, render_frame(last_frame, reading, meter, settings, paused=True))
                continue

            t0 = time.perf_counter()
            frame = source.read()
            stats.wait_ms += (time.perf_counter() - t0) * 1000
            if frame is None:
                break
            stats.frames += 1
            last_frame = frame

            if last_processed is None or frame.index - last_processed >= settings.every:
                last_processed = frame.index
                t1 = time.perf_counter()
                try:
                    reading = reader.read(frame.image)
                except UsageError:
                    raise
                except Exception as exc:  # a bug must cost this frame, not the stream
                    failures.record(frame, exc)
                    writer.error(failures.message(exc), frame.index)
                    continue
                ms = (time.perf_counter() - t1) * 1000
                for stage, value in reading.timings.items():
                    stats.add(stage, value)
                stats.processed += 1
                meter.tick(time.perf_counter())
                t2 = time.perf_counter()
                writer.write(frame, reading, ms)
                stats.add("output", (time.perf_counter() - t2) * 1000)

            if window is not None or recorder is not None:
                t3 = time.perf_counter()
                canvas = render_frame(frame, reading, meter, settings)
                if recorder is not None:
                    recorder.write(canvas, frame.t)
                if window is not None:
                    if not source.live:
                        pace_origin = _pace(pace_origin, frame.t)
                    action = window.show(canvas)
                    if action == "quit":
                        result.interrupted = True
                        break
                    if action == "snapshot":
                        _snapshot(settings, frame, canvas)
                    elif action == "pause":
                        paused = True
                        window.show(render_frame(frame, reading, meter, settings, paused=True))
                stats.add("draw", (time.perf_counter() - t3) * 1000)

            if settings.verbose and time.perf_counter() >= next_report:
                next_report += REPORT_EVERY_S
                log.info("%s", progress_line(stats, source, time.perf_counter() - start, meter.rate()))
    except CaptureError as exc:
        result.error = str(exc)
    except KeyboardInterrupt:
        result.interrupted = True
    stats.wall_s = time.perf_counter() - start
    stats.failed = failures.count
    if failures.count:
        log.warning("%d frame(s) skipped after an internal error", failures.count)
    return result


def render_frame(frame: Frame, reading: Reading | None, meter: RateMeter, settings: LiveSettings,
                 paused: bool = False) -> np.ndarray:
    height, width = frame.image.shape[:2]
    shown = reading if reading is not None else Reading(width=width, height=height)
    roi = clip_roi(settings.roi, width, height) if settings.roi is not None else None
    return render(frame.image, shown, fps=meter.rate(), roi=roi, paused=paused)


def _pace(origin: float | None, t: float) -> float:
    """Sleep until the video's time ``t`` (from ``origin``, the wall time of its t=0); returns the origin."""
    now = time.perf_counter()
    if origin is None:
        return now - t
    delay = origin + t - now
    if delay > 0:
        time.sleep(delay)
        return origin
    return origin if delay > -0.25 else now - t  # far behind: catch up instead of rushing


def _snapshot(settings: LiveSettings, frame: Frame, annotated: np.ndarray) -> None:
    try:
        path = save_snapshot(settings.snapshot_dir, frame, annotated)
        log.warning("snapshot saved: %s (and -raw.png)", path)
    except OSError as exc:
        log.error("snapshot: %s", exc)


def progress_line(stats: LoopStats, source: FrameSource, elapsed: float, fps_now: float | None = None) -> str:
    """``120 frames read in 4.0 s (30.1 FPS now, 29.8 overall); ms per frame: segment 13.2, ...``"""
    per = stats.per_frame()
    stages = ", ".join(f"{k} {v:.1f}" for k, v in per.items() if v >= 0.05)
    rates = f"{stats.processed / elapsed if elapsed > 0 else 0.0:.1f} FPS"
    if fps_now is not None:
        rates = f"{fps_now:.1f} FPS now, {rates} overall"
    if source.live:
        rates += f", {source.stats.dropped} older camera frames skipped"
    return f"{stats.processed} frames read in {elapsed:.1f} s ({rates}); ms per frame: {stages}"


@contextlib.contextmanager
def _termination_stops() -> Iterator[None]:
    """SIGTERM and SIGHUP (systemd stop, a closed SSH session) stop the loop like Ctrl+C does, so the
    device is released and the outputs are flushed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise KeyboardInterrupt

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            with contextlib.suppress(OSError, ValueError):
                previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, handler)


def _open_window(settings: LiveSettings) -> Window | None:
    if not settings.window:
        return None
    from edge.sinks.window import HELP, Window, WindowUnavailable

    try:
        window = Window()
    except WindowUnavailable as exc:
        log.warning("no window (%s): running headless; opencv-python instead of opencv-python-headless "
                    "gives one", exc)
        return None
    log.info("keys: %s", HELP)
    return window


def run_live(args: argparse.Namespace, recognizer: Recognizer) -> int:
    """The ``--camera`` / ``--video`` command: 0 read to the end or stopped, 1 the source failed, 2 usage."""
    try:
        settings = settings_from_args(args)
    except UsageError as exc:
        log.error("error: %s", exc)
        return 2
    if not settings.verbose:
        quiet_ffmpeg()
    source: FrameSource | None = None
    window = recorder = None
    name = str(settings.video) if settings.video is not None else parse_camera(settings.camera or "0").name
    writer = ReadingWriter(name, settings.json, settings.changes_only)
    with _termination_stops():
        try:
            try:
                if settings.video is not None:
                    # Without a window or a recording, frames that are not read are not even converted.
                    step = 1 if settings.window or settings.record else settings.every
                    source = open_video(settings.video, step)
                else:
                    source = open_camera(parse_camera(settings.camera or "0"), settings.width, settings.height,
                                         settings.fps)
            except CaptureError as exc:
                log.error("%s", exc)
                writer.error(str(exc), None)
                return 1
            if source.live:
                size = getattr(source, "size", None)
                log.info("%s: %s at %.0f FPS", source.name, f"{size[0]}x{size[1]}" if size else "?", source.fps)
            window = _open_window(settings)
            if settings.record is not None:
                recorder = Recorder(settings.record, source.fps or settings.fps or 30.0)
            try:
                result = run_loop(source, recognizer, settings, writer, window, recorder)
            except UsageError as exc:
                log.error("error: %s", exc)
                return 2
            except OSError as exc:  # the recording could not be written
                if isinstance(exc, BrokenPipeError):
                    raise
                log.error("%s", exc)
                return 1
        except KeyboardInterrupt:  # during opening, or while cleaning up
            log.info("stopped")
            return 0
        finally:
            if source is not None:
                source.close()
            if recorder is not None:
                recorder.close()
            if window is not None:
                window.close()
    if result.interrupted:
        log.info("stopped")
    if settings.verbose:
        log.info("%s", progress_line(result.stats, source, result.stats.wall_s))
    if result.error is not None:
        last = None if source is None else source.stats.frames
        log.error("%s", result.error)
        writer.error(result.error, last)
        return 1
    return 0
