"""Read many image files: each one loaded, read and reported on its own, so one bad file costs one line.

``read_file`` does everything that belongs to a single input (decode, recognise, write its annotated
copy and debug images) and returns a small picklable ``Outcome``; the caller streams outcomes to
stdout and files. Keeping per-image work in one function lets it run in worker processes too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from edge.sources.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from edge.pipeline.recognizer import Recognizer, Trace
from edge.sinks.records import annotate, crops_sheet, error_record, json_record, safe_filename
from edge.pipeline.results import Reading
from edge.sources.files import Source


@dataclass(frozen=True)
class FileOptions:
    max_pixels: int = DEFAULT_MAX_PIXELS
    annotate_dir: Path | None = None
    debug_dir: Path | None = None


@dataclass
class Outcome:
    source: str
    record: dict[str, Any]  # the JSON Lines object for this input
    reading: Reading | None = None

    @property
    def ok(self) -> bool:
        return "error" not in self.record


def output_stem(source: Source) -> str:
    """A safe, distinct file stem for outputs derived from an input: its path flattened.

    The extension stays in (``scan.png`` and ``scan.jpg`` are different inputs), and when making the
    name safe changed anything, a short hash of the original name keeps ``a b.png`` and ``a+b.png``
    (or ``x/y.png`` and ``x__y.png``) from landing on the same file.
    """
    flat = source.name.replace(os.sep, "__").replace("/", "__")
    if flat.lower().endswith(".png"):
        flat = flat[:-4]  # outputs are PNG; scan.jpg keeps its extension in the name (scan.jpg.png)
    safe = safe_filename(flat)
    if safe != flat:
        safe = f"{safe[:120]}-{hashlib.sha1(source.name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    return safe


def _write_image(path: Path, image) -> None:
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, path)


def _write_debug(folder: Path, stem: str, trace: Trace) -> None:
    seg = trace.segmentation
    _write_image(folder / f"{stem}.1-ink.png", seg.ink)
    _write_image(folder / f"{stem}.2-mask.png", seg.mask * 255)
    candidates = cv2.cvtColor(seg.mask * 255, cv2.COLOR_GRAY2BGR)
    for box in trace.boxes:
        cv2.rectangle(candidates, (box.x, box.y), (box.x2, box.y2), (0, 0, 255), 1)
    _write_image(folder / f"{stem}.3-candidates.png", candidates)
    probs = trace.probs if trace.probs is not None else []
    captions = [f"{int(p.argmax())} {float(p.max()):.2f}" for p in probs]
    _write_image(folder / f"{stem}.4-crops.png", crops_sheet(trace.crops, captions))


def read_file(source: Source, recognizer: Recognizer, options: FileOptions = FileOptions()) -> Outcome:
    """Load, recognise and write the per-image outputs of one input; never raises for bad input."""
    if source.error is not None or source.path is None:
        return Outcome(source.name, error_record(source.name, source.error or "not readable"))
    start = time.perf_counter()
    try:
        image = load_image(source.path, options.max_pixels)
    except ImageError as exc:
        return Outcome(source.name, error_record(source.name, str(exc)))
    trace = Trace() if options.debug_dir else None
    try:
        reading = recognizer.read(image.pixels, trace=trace)
    except Exception as exc:  # a bug must cost this input, not the batch: report it and go on
        logging.getLogger("edge").debug("reading %s failed", source.name, exc_info=True)
        detail = (str(exc).strip().splitlines() or [""])[0]
        return Outcome(source.name, error_record(source.name, f"internal error while reading ({type(exc).__name__}: {detail})"))
    reading.notes[:0] = image.notes
    ms = (time.perf_counter() - start) * 1000
    stem = output_stem(source)
    try:
        if options.annotate_dir is not None:
            _write_image(options.annotate_dir / f"{stem}.png", annotate(image.pixels, reading))
        if trace is not None and options.debug_dir is not None:
            _write_debug(options.debug_dir, stem, trace)
    except (OSError, cv2.error) as exc:
        reading.notes.append(f"could not write image outputs: {exc}")
    return Outcome(source.name, json_record(source.name, reading, ms), reading)
