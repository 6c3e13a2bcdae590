"""One loop for every input: open it as a stream of frames, read each frame, hand each result to the
outputs.

Images, PDF pages, video frames and camera frames go through the same steps; what differs is said
by the stream (a video's frames are stabilised over time and drawn in a window, a document's pages
are read once each). Settings are typed (``RunSettings``), so the library runs without the command
line; ``edge.apps.recognize`` only translates flags into them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TextIO

import numpy as np

from edge.pipeline.layout import arrange
from edge.pipeline.paper import PaperTracker
from edge.pipeline.recognizer import RecognizeOptions, Recognizer, Trace, build_recognizer, preset
from edge.pipeline.results import Box, Detections, Reading
from edge.pipeline.stabilize import StabilizeOptions, Stabilizer
from edge.runtime.settings import RuntimeSettings
from edge.sinks.images import ImageOutputs, output_stem
from edge.sinks.outputs import RecordSinks
from edge.sinks.records import error_record, json_record
from edge.sinks.result import Result
from edge.sinks.resultlog import Key, finished, finished_csv
from edge.sources.capture import Frame
from edge.sources.files import skipped_summary
from edge.sources.images import DEFAULT_MAX_PAGES, DEFAULT_MAX_PIXELS, PageOptions
from edge.sources.streams import Input, OpenOptions, SourceError, Stream, list_inputs, open_stream

if TYPE_CHECKING:
    from edge.api import Reader

log = logging.getLogger("edge")

# Adaptive working size for stream frames: keep digits at least SHRINK_TO pixels tall, shrink at
# most MAX_SHRINK times (digits held in front of a camera are often far bigger than reading needs).
SHRINK_TO = 40
MAX_SHRINK = 4


class UsageError(ValueError):
    """Settings that do not fit together or do not fit the inputs (exit status 2)."""


@dataclass(frozen=True)
class InputSettings:
    sources: tuple[str, ...] = ()  # files, folders, globs, video files, "-" for standard input
    videos: tuple[Path, ...] = ()  # --video
    camera: str | None = None  # --camera
    recursive: bool = False
    pages: PageOptions = PageOptions(max_pixels=DEFAULT_MAX_PIXELS, max_pages=DEFAULT_MAX_PAGES)
    roi: Box | None = None  # read only this region of each image or frame
    every: int = 1  # streams: read every Nth frame
    width: int | None = None  # cameras: requested capture size and rate
    height: int | None = None
    fps: int | None = None

    @property
    def has_streams(self) -> bool:
        """Videos or a camera among the inputs (decided from the arguments, nothing is opened)."""
        from edge.sources.streams import VIDEO_EXTENSIONS

        return bool(self.camera is not None or self.videos
                    or any(Path(s).suffix.lower() in VIDEO_EXTENSIONS for s in self.sources))


@dataclass(frozen=True)
class OutputSettings:
    json: bool = False  # JSON Lines on stdout instead of text
    csv: Path | None = None
    output: Path | None = None  # the resumable JSON Lines result log
    resume: bool = False
    annotate_dir: Path | None = None  # --out: annotated copies (images, pages) or videos (streams)
    debug_dir: Path | None = None
    record: Path | None = None  # the one stream's annotated video
    window: bool = False  # show streams in a window
    show_images: bool = False  # show images and pages in the window too, one key press each
    snapshot_dir: Path = Path(".")
    changes_only: bool = False  # streams, JSON: only frames whose reading changed
    progress: bool = True
    verbose: bool = False


@dataclass(frozen=True)
class RunSettings:
    inputs: InputSettings = InputSettings()
    outputs: OutputSettings = OutputSettings()
    options: RecognizeOptions = RecognizeOptions()
    runtime: RuntimeSettings = RuntimeSettings()
    jobs: int = 1  # worker processes for documents (Ray: actors)
    ordered: bool = True  # with jobs: results in input order
    fields: Path | None = None  # a form's field spec (JSON): read those fields of every page by name
    engine: str = "local"  # "local" (this machine's processes) or "ray" (edge.apps.ray_engine)
    ray_address: str | None = None  # a running Ray cluster to join; None: start a local instance


# --- reading one stream ----------------------------------------------------------------------------

class FrameReader:
    """Reads one stream's frames in order: the region of interest, recognition, and for videos and
    cameras stabilisation over frames; layout last, once."""

    def __init__(self, recognizer: Recognizer, roi: Box | None, stream: bool) -> None:
        self.recognizer = (Recognizer(recognizer.classifier, preset("frames", recognizer.options), recognizer.strings)
                           if stream else recognizer)
        self.roi = roi
        self.stabilizer = Stabilizer(StabilizeOptions()) if stream else None
        self.paper = PaperTracker() if stream else None  # a video's sheet, kept from frame to frame
        self.shrink = 1

    def read(self, image: np.ndarray, trace: Trace | None = None) -> Reading:
        height, width = image.shape[:2]
        region, dx, dy = image, 0, 0
        if self.roi is not None:
            roi = clip_roi(self.roi, width, height)
            if roi is None:
                r = self.roi
                what = "frame" if self.stabilizer is not None else "image"
                raise UsageError(f"--roi {r.x},{r.y},{r.w},{r.h} lies outside the {width}x{height} {what}")
            region, dx, dy = image[roi.y : roi.y2, roi.x : roi.x2], roi.x, roi.y
        hint = self.paper.paper if self.paper is not None else None
        found = self.recognizer.detect(region, shrink=self.shrink, trace=trace, paper_hint=hint)
        if self.paper is not None:
            self.paper.update(found.paper)
        digits = offset_digits(found.digits, dx, dy)
        start = time.perf_counter()
        timings = dict(found.timings)
        if self.stabilizer is not None:
            heights = sorted(d.box.h for d in found.digits)
            self.shrink = max(1, min(MAX_SHRINK, heights[len(heights) // 2] // SHRINK_TO)) if heights else 1
            digits = self.stabilizer.update(digits)
            timings["stabilise"] = _ms_since(start)
            start = time.perf_counter()
        options = self.recognizer.options
        fields = [Box(f.x + dx, f.y + dy, f.w, f.h) for f in found.fields]
        rejected = offset_digits(found.rejected, dx, dy)
        detections = Detections(width=width, height=height, digits=digits, rejected=rejected, notes=found.notes,
                                fields=fields)
        reading = arrange(detections, options.min_confidence, options.drop_uncertain, options.context)
        timings["layout"] = _ms_since(start)
        reading.timings = timings
        return reading


def clip_roi(roi: Box, width: int, height: int) -> Box | None:
    """The part of the region inside an image of this size, or None when there is none."""
    x2, y2 = min(roi.x2, width), min(roi.y2, height)
    if roi.x >= x2 or roi.y >= y2:
        return None
    return Box(roi.x, roi.y, x2 - roi.x, y2 - roi.y)


def offset_digits(digits, dx: int, dy: int):
    """Digits read in a region, moved to the whole image's coordinates."""
    if not dx and not dy:
        return digits
    from dataclasses import replace

    return [replace(d, box=Box(d.box.x + dx, d.box.y + dy, d.box.w, d.box.h)) for d in digits]


@dataclass
class Step:
    """One frame of a stream, as the loop sees it: the frame, the latest reading to draw on it, and
    the result to write when this frame was read (None for frames skipped by --every)."""

    frame: Frame
    reading: Reading | None
    result: Result | None


class FrameFailures:
    """Frames whose reading raised: each distinct error is logged once (with its traceback under
    --verbose), the frame is skipped with an error record, and the stream goes on."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.count = 0
        self._seen: set[str] = set()

    @staticmethod
    def message(exc: Exception) -> str:
        detail = (str(exc).strip().splitlines() or [""])[0]
        return f"internal error while reading ({type(exc).__name__}: {detail})"

    def record(self, where: str, exc: Exception) -> str:
        self.count += 1
        text = self.message(exc)
        if text not in self._seen:
            self._seen.add(text)
            log.error("%s: %s; skipping it%s", where, text, "" if self.verbose else " (--verbose shows the traceback)",
                      exc_info=self.verbose)
        return text


def read_input(item: Input, recognizer: Recognizer, settings: RunSettings, done: frozenset[Key] | set[Key] = frozenset(),
               stopped: Callable[[], bool] = lambda: False, failures: FrameFailures | None = None,
               on_open: Callable[[Stream], None] | None = None) -> Iterator[Step]:
    """Every frame of one input as a ``Step``; never raises for bad input (errors become results).

    ``done``: keys already in the result log (``--resume``), skipped; ``stopped``: asked after every
    frame, a stop after the current one; ``on_open``: told the opened stream (the live view wants its
    frame rate).
    """
    failures = failures or FrameFailures(settings.outputs.verbose)
    if (item.name, None, None) in done:
        return
    inputs, outputs = settings.inputs, settings.outputs
    step = 1 if (outputs.window or outputs.record or outputs.annotate_dir) else inputs.every
    opening = OpenOptions(pages=inputs.pages, width=inputs.width, height=inputs.height, fps=inputs.fps, step=step)
    try:
        stream = open_stream(item, opening)
    except SourceError as exc:
        yield Step(Frame(0, 0.0, np.zeros((0, 0), np.uint8)), None,
                   Result(item.name, error_record(item.name, str(exc)), kind=item.kind))
        return
    if on_open is not None:
        on_open(stream)
    is_stream = stream.kind != "document"
    reader = FrameReader(recognizer, inputs.roi, is_stream)
    images = ImageOutputs(outputs.annotate_dir if not is_stream else None, outputs.debug_dir)
    form = load_form_once(settings) if settings.fields is not None and not is_stream else None
    labels = recognizer.classifier.metadata.labels
    reading: Reading | None = None
    last_text: str | None = None
    last_read: int | None = None
    seen: int | None = None  # the last frame the stream gave
    with stream:
        while not stopped():
            try:
                frame = stream.read()
            except SourceError as exc:
                where = {} if seen is None else {"frame": seen}
                yield Step(Frame(0, 0.0, np.zeros((0, 0), np.uint8)), reading,
                           Result(item.name, error_record(item.name, str(exc), **where), kind=stream.kind))
                return
            if frame is None:
                return
            seen = frame.index
            where = _where(stream, frame)
            key = (item.name, where.get("page"), where.get("frame"))
            if key in done:
                continue
            if is_stream and last_read is not None and frame.index - last_read < inputs.every:
                yield Step(frame, reading, None)
                continue
            last_read = frame.index
            if frame.error is not None:
                yield Step(frame, reading, _result(item.name, stream, frame, error_record(item.name, frame.error, **where)))
                continue
            start = time.perf_counter()
            trace = Trace() if outputs.debug_dir is not None else None
            try:
                reading = reader.read(frame.image, trace)
            except UsageError as exc:  # --roi outside this image: the images of a batch differ in size
                if is_stream:  # every frame of a stream has that size: the setting is wrong
                    raise
                yield Step(frame, reading, _result(item.name, stream, frame, error_record(item.name, str(exc), **where)))
                continue
            except Exception as exc:  # a bug must cost this frame or image, not the run
                log.debug("reading %s failed", item.name, exc_info=True)
                message = failures.record(_result(item.name, stream, frame, {}).label, exc) if is_stream else FrameFailures.message(exc)
                if not is_stream:
                    log.debug("%s", message)
                yield Step(frame, reading, _result(item.name, stream, frame, error_record(item.name, message, **where)))
                continue
            reading.notes[:0] = list(frame.notes)
            ms = (time.perf_counter() - start) * 1000
            if images.wanted:
                stem = output_stem(item.name, where.get("page"), where.get("frame"))
                note = images.write(stem, frame.image, reading, trace, labels)
                if note:
                    reading.notes.append(note)
            record = json_record(item.name, reading, ms, **where)
            if form is not None:
                _add_fields(record, recognizer, frame.image, form)
            result = _result(item.name, stream, frame, record, reading)
            result.changed = reading.text != last_text
            last_text = reading.text
            yield Step(frame, reading, result)


@functools.lru_cache(maxsize=4)
def _load_form(path: Path, max_pixels: int):
    from edge.pipeline.fields import load_form

    return load_form(path, max_pixels)


def load_form_once(settings: RunSettings):
    """The run's form (``--fields``): loaded once per process, its reference's features found once.
    Raises ``FieldSpecError`` with one line when the spec or its reference cannot be used."""
    return _load_form(settings.fields, settings.inputs.pages.max_pixels)


def _add_fields(record: dict, recognizer: Recognizer, image: np.ndarray, form) -> None:
    """The form's fields, read on their own from the page aligned to the form's reference."""
    from edge.pipeline.fields import read_form

    reading = read_form(recognizer, image, form)
    ms = record.pop("ms")
    record["fields"] = reading.values()
    record["field_confidence"] = reading.confidences()
    record["ms"] = ms
    if reading.notes:
        record.setdefault("notes", []).extend(reading.notes)


def _where(stream: Stream, frame: Frame) -> dict:
    """The record's position keys: ``page`` for pages, ``frame`` and ``t`` for stream frames."""
    if stream.kind != "document":
        return {"frame": frame.index, "t": round(frame.t, 3)}
    return {} if frame.page is None else {"page": frame.page}


def _result(name: str, stream: Stream, frame: Frame, record: dict, reading: Reading | None = None) -> Result:
    where = _where(stream, frame)
    return Result(name, record, reading, kind=stream.kind, page=where.get("page"), frame=where.get("frame"),
                  t=where.get("t"))


def read_document(item: Input, recognizer: Recognizer, settings: RunSettings,
                  done: frozenset[Key] | set[Key] = frozenset()) -> list[Result]:
    """All the results of one document (a worker's unit of work): picklable, no pixels."""
    return [step.result for step in read_input(item, recognizer, settings, done) if step.result is not None]


# --- signals -----------------------------------------------------------------------------------------

class StopOnSignal:
    """SIGINT, SIGTERM and SIGHUP (a closed SSH session) ask the run to stop after the current frame or
    image, everything written; a second Ctrl+C stops at once. Exit status 128 + the signal's number."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.listeners: list[Callable[[], None]] = []
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name, None)
                if number is not None:
                    with contextlib.suppress(OSError, ValueError):
                        self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, handler)

    def _handle(self, signum, _frame) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: finishing the current image or frame, then stopping", self.signal_name)
        for listener in self.listeners:
            listener()

    def quit(self) -> None:
        """The user quit (the window's q key, or closing it): stop, and exit 0 as at the end."""
        self.user_quit = True

    user_quit: bool = False

    @property
    def stopped(self) -> bool:
        return self.signal_name is not None or self.user_quit

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name or "SIGINT"))


# --- the run -------------------------------------------------------------------------------------------

@dataclass
class Tally:
    results: int = 0
    failed: int = 0
    inputs: int = 0
    skipped: list[Input] = field(default_factory=list)


def run(reader: "Reader", stdout: TextIO | None = None) -> int:
    """Read every input of the reader's settings; 0 when everything was read, 1 when something
    failed, 128+n after a signal. Raises UsageError (2) for settings that do not fit the inputs."""
    settings, recognizer = reader.settings, reader.recognizer
    outputs = settings.outputs
    done: set[Key] = set()
    if outputs.resume:
        done = finished(outputs.output)
        if outputs.csv is not None:
            done &= finished_csv(outputs.csv)
        log.info("resuming: %d result(s) already in %s", len(done), outputs.output)
    for flag, folder in (("--out", outputs.annotate_dir), ("--debug", outputs.debug_dir)):
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # checked with the flags; this is what changed since
                raise UsageError(f"{flag} {folder}: cannot be made ({exc.strerror or exc})") from None
    tally = Tally()
    inputs = _counted(list_inputs(settings.inputs.sources, settings.inputs.recursive, settings.inputs.camera,
                                  settings.inputs.videos), tally)
    view = None
    field_names = load_form_once(settings).spec.names if settings.fields is not None else None
    with RecordSinks(outputs.json, outputs.csv, outputs.output, append=outputs.resume,
                     changes_only=outputs.changes_only, stdout=stdout, fields=field_names) as sinks, \
            StopOnSignal() as stop:
        progress = progress_bar(settings)
        try:
            if settings.jobs > 1:
                results = _in_workers(inputs, recognizer, settings, done, stop)
                for result in results:
                    emit(sinks, result, tally, progress)
            else:
                from edge.apps.live import LiveView

                view = LiveView(settings, stop)
                failures = FrameFailures(outputs.verbose)
                for item in inputs:
                    if stop.stopped:
                        break
                    steps = reader.steps(item, done=done, stopped=lambda: stop.stopped, failures=failures,
                                         on_open=view.opened)
                    try:
                        for step in steps:
                            if step.result is not None:
                                emit(sinks, step.result, tally, progress)
                            view.show(item, step)
                            if stop.stopped:
                                break
                    finally:
                        steps.close()
                        view.closed(item)
                if failures.count:
                    log.warning("%d frame(s) skipped after an internal error", failures.count)
        finally:
            progress.close()
            if view is not None:
                view.close()
    return finish(tally, outputs, stop.signal_name, stop.exit_code, quit=stop.user_quit)


def finish(tally: "Tally", outputs: OutputSettings, stopped_by: str | None = None, stop_code: int = 0,
           failure: str | None = None, quit: bool = False) -> int:
    """The end of a run, the same for every engine: what was left out, one summary line, the exit
    status (0 all read, 1 something failed or the engine failed, 128+n stopped by signal n)."""
    summary = skipped_summary([_as_source(i) for i in tally.skipped])
    if summary:
        log.warning("%s", summary)
    if tally.inputs == 0 and not tally.skipped and stopped_by is None and not quit:
        log.warning("no input found: the folders named hold no images or PDFs")
    described = f"{tally.results - tally.failed} read, {tally.failed} failed"
    hint = f"; continue with --resume --output {outputs.output}" if outputs.output else ""
    if failure is not None:
        print(f"digits-recognize: error: {failure}: {described}{hint}", file=sys.stderr)
        return 1
    if stopped_by is not None:
        print(f"digits-recognize: stopped by {stopped_by}: {described}{hint}", file=sys.stderr)
        return stop_code
    if tally.results > 1 or tally.failed:
        log.info("%s", described)
    return 1 if tally.failed else 0


def _counted(inputs: Iterable[Input], tally: Tally) -> Iterator[Input]:
    """The inputs to read; files found but left out (not images or PDFs) are counted for the summary."""
    for item in inputs:
        if item.skipped is not None:
            tally.skipped.append(item)
            continue
        tally.inputs += 1
        yield item


def counted(inputs: Iterable[Input], tally: Tally) -> Iterator[Input]:
    """The inputs to read; files left out (not images or PDFs) are counted in ``tally``."""
    return _counted(inputs, tally)


def _as_source(item: Input):
    from edge.sources.files import Source

    return Source(item.name, path=item.path, skipped=item.skipped)


def emit(sinks: RecordSinks, result: Result, tally: Tally, progress) -> None:
    """One result to the record outputs, counted (and the progress bar moved for documents)."""
    with progress.external_write_mode():
        sinks.emit(result)
    tally.results += 1
    tally.failed += not result.ok
    if result.kind == "document":
        progress.update()


def progress_bar(settings: RunSettings):
    """The progress bar over pages on stderr (tqdm, imported only when a run starts); off for streams."""
    from tqdm import tqdm  # imported when a run starts, not at start-up

    enabled = settings.outputs.progress and not settings.inputs.has_streams
    return tqdm(desc="pages", unit="page", file=sys.stderr, delay=2.0, leave=False, disable=None if enabled else True)


def _in_workers(inputs: Iterable[Input], recognizer: Recognizer, settings: RunSettings, done: set[Key],
                stop: StopOnSignal) -> Iterator[Result]:
    from edge.apps.workers import WorkerPool

    runtime = RuntimeSettings(recognizer.classifier.path, settings.runtime.backend, settings.runtime.threads)
    factory = partial(build_recognizer, runtime, recognizer.options)
    reader = partial(read_document, settings=settings, done=done)
    with WorkerPool(settings.jobs, factory, reader) as pool:
        stop.listeners.append(pool.request_stop)
        for results in pool.run(inputs, ordered=settings.ordered):
            yield from results


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
