"""The outputs made of pictures, written where the pixels are (in a worker process, for batches):
annotated copies (``--out``) and debug images (``--debug``) of every image, page and read frame.

File names come from the input's name, made safe: they never escape their folder, and distinct
inputs never share a file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.pipeline.recognizer import Trace
from edge.pipeline.results import Reading
from edge.sinks.overlay import annotate, crops_sheet
from edge.sinks.records import safe_filename


def output_stem(name: str, page: int | None = None, frame: int | None = None) -> str:
    """A safe, distinct file stem for outputs derived from an input: its path flattened.

    The extension stays in (``scan.png`` and ``scan.jpg`` are different inputs: their annotated
    copies are ``scan.png.png`` and ``scan.jpg.png``), and when flattening folders or making the name
    safe changed anything, a short hash of the original name keeps ``a b.png`` and ``a+b.png`` (or
    ``x/y.png`` and ``x__y.png``) from landing on the same file. Pages and frames get a suffix.
    """
    flat = name.replace(os.sep, "__").replace("/", "__")
    safe = safe_filename(flat)
    if safe != name:  # folders flattened or characters replaced: names that differed may now collide
        safe = f"{safe[:120]}-{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    if page is not None:
        safe += f".p{page}"
    if frame is not None:
        safe += f".f{frame:06d}"
    return safe


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode by the name's extension and write atomically (no half-written file is ever left)."""
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, path)


def write_debug(folder: Path, stem: str, trace: Trace, labels: tuple[str, ...] = ()) -> None:
    """The ink image, the threshold mask, the candidates (read: red; rejected as no digit: grey) and a
    sheet of the model inputs captioned with what each was read as (and its score)."""
    seg = trace.segmentation
    write_image(folder / f"{stem}.1-ink.png", seg.ink)
    write_image(folder / f"{stem}.2-mask.png", seg.mask * 255)
    candidates = cv2.cvtColor(seg.mask * 255, cv2.COLOR_GRAY2BGR)
    rejected = trace.rejected if trace.rejected is not None else np.zeros(len(trace.boxes), bool)
    for box, no_digit in zip(trace.boxes, rejected):
        colour = (128, 128, 128) if no_digit else (0, 0, 255)
        cv2.rectangle(candidates, (box.x, box.y), (box.x2, box.y2), colour, 1)
    write_image(folder / f"{stem}.3-candidates.png", candidates)
    probs = trace.probs if trace.probs is not None else []
    captions = []
    for p, no_digit in zip(probs, rejected):
        best = int(p.argmax())
        name = labels[best] if best < len(labels) else str(best)
        captions.append(f"{'x' if no_digit else name} {float(p.max()):.2f}")
    write_image(folder / f"{stem}.4-crops.png", crops_sheet(trace.crops, captions))


@dataclass(frozen=True)
class ImageOutputs:
    """Where per-picture outputs go; either may be None."""

    annotate_dir: Path | None = None
    debug_dir: Path | None = None

    @property
    def wanted(self) -> bool:
        return self.annotate_dir is not None or self.debug_dir is not None

    def write(self, stem: str, image: np.ndarray, reading: Reading, trace: Trace | None,
              labels: tuple[str, ...] = ()) -> str | None:
        """Write what is asked for; a note (one line) when it could not be written, else None."""
        try:
            if self.annotate_dir is not None:
                write_image(self.annotate_dir / f"{stem}.png", annotate(image, reading))
            if self.debug_dir is not None and trace is not None and trace.segmentation is not None:
                write_debug(self.debug_dir, stem, trace, labels)
        except (OSError, cv2.error) as exc:
            return f"could not write image outputs: {exc}"
        return None
