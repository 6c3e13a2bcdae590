"""The draw-a-digit app's logic without Tk: the drawing kept as an image, and what reading it shows.

The window (``edge.apps.draw``) only forwards mouse points here and paints what ``recognise`` returns, so
everything that decides a result is testable without a display, and the drawing is never
screen-grabbed (which fails under Wayland, remote X and many window managers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from edge.pipeline.recognizer import Recognizer
from edge.pipeline.results import Box, Digit

PAPER = (255, 255, 255)  # BGR: dark ink on white paper, like a pen on a sheet
INK = (0, 0, 0)
# A digit drawn this fraction of the canvas height is what the pen width is chosen for.
DIGIT_FILL = 0.6
# Stroke width of MNIST digits at 28x28 (what the trainer measures); for metadata that lacks it.
FALLBACK_STROKE = 2.4
_SHIFT = 4  # OpenCV fixed-point bits: strokes are placed to 1/16 pixel

Point = tuple[float, float]


def pen_width(stroke_width: float | None, digit_box: int, canvas_height: int, fill: float = DIGIT_FILL) -> int:
    """Pen width in canvas pixels that gives the model digits with its training stroke width.

    The normaliser scales a digit so its larger side (the height, for handwritten digits) becomes
    ``digit_box`` pixels (20 of the model's 28), and training digits then have strokes
    ``stroke_width`` pixels wide (about 2.4). A digit drawn ``fill * canvas_height`` pixels tall is
    scaled by ``digit_box / (fill * canvas_height)``, so the pen must be
    ``stroke_width * fill * canvas_height / digit_box`` wide to arrive at the same width: about
    23 pixels for a 320-pixel canvas and digits 60% of its height. Digits drawn smaller come out a
    little bold, which the normaliser's stroke matching evens out.
    """
    stroke = stroke_width if stroke_width and stroke_width > 0 else FALLBACK_STROKE
    return max(1, int(round(stroke * fill * canvas_height / digit_box)))


@dataclass(frozen=True)
class View:
    """Where an image shown on the canvas sits: canvas = image * scale + (dx, dy)."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def box(self, box: Box) -> tuple[float, float, float, float]:
        """A box in image pixels as canvas corners (x0, y0, x1, y1)."""
        return (box.x * self.scale + self.dx, box.y * self.scale + self.dy,
                box.x2 * self.scale + self.dx, box.y2 * self.scale + self.dy)


@dataclass
class _Stroke:
    points: list[Point]
    width: int


class Sketch:
    """The drawing as a BGR image in memory, updated stroke by stroke as the user draws.

    Strokes are kept too, so the last one can be undone by drawing the others again over the
    background (blank paper, or an opened image fitted to the canvas).
    """

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._background = np.full((height, width, 3), PAPER, np.uint8)
        self._image = self._background.copy()
        self._strokes: list[_Stroke] = []
        self._current: _Stroke | None = None
        self._opened = False

    @property
    def strokes(self) -> int:
        return len(self._strokes)

    @property
    def empty(self) -> bool:
        """Nothing drawn and no image opened: nothing to read or save."""
        return not self._strokes and self._current is None and not self.has_background

    @property
    def has_background(self) -> bool:
        """An opened image lies under the strokes."""
        return self._opened

    def image(self) -> np.ndarray:
        """A copy of the drawing (BGR uint8, canvas size), as the recogniser and Save see it."""
        return self._image.copy()

    def begin(self, point: Point, width: int) -> None:
        """Pen down: a dot until the pen moves."""
        self.end()
        self._current = _Stroke([point], max(1, int(width)))
        self._dot(point, self._current.width)

    def extend(self, point: Point) -> None:
        """Pen moved: a segment from the last point, so fast strokes stay continuous."""
        if self._current is None:
            return
        self._segment(self._current.points[-1], point, self._current.width)
        self._current.points.append(point)

    def end(self) -> None:
        """Pen up: the stroke is finished (and can be undone)."""
        if self._current is not None:
            self._strokes.append(self._current)
            self._current = None

    def stroke(self, points: Sequence[Point], width: int) -> None:
        """Draw a whole stroke at once (pen down on the first point, up after the last)."""
        if not points:
            return
        self.begin(points[0], width)
        for point in points[1:]:
            self.extend(point)
        self.end()

    def undo(self) -> bool:
        """Remove the last stroke; False when there is none."""
        self.end()
        if not self._strokes:
            return False
        self._strokes.pop()
        self._image = self._background.copy()
        for s in self._strokes:
            self._dot(s.points[0], s.width)
            for a, b in zip(s.points, s.points[1:]):
                self._segment(a, b, s.width)
        return True

    def clear(self) -> None:
        """Blank paper again (an opened image is removed too)."""
        self._background[:] = PAPER
        self._image = self._background.copy()
        self._strokes.clear()
        self._current = None
        self._opened = False

    def set_background(self, pixels: np.ndarray) -> View:
        """Fit an image (grey, BGR or BGRA) into the canvas, keeping its shape; strokes are cleared."""
        self.clear()
        if pixels.ndim == 2:
            bgr = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
        elif pixels.shape[2] == 4:
            bgr = cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
        else:
            bgr = pixels
        h, w = bgr.shape[:2]
        scale = min(self.width / w, self.height / h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        fitted = cv2.resize(bgr, (new_w, new_h), interpolation=interpolation)
        dx, dy = (self.width - new_w) // 2, (self.height - new_h) // 2
        self._background[dy : dy + new_h, dx : dx + new_w] = fitted
        self._image = self._background.copy()
        self._opened = True
        return View(scale=new_w / w, dx=dx, dy=dy)

    def page(self) -> tuple[np.ndarray, View]:
        """The drawing as the recogniser should see it, and how that image maps back to the canvas.

        The segmenter is tuned for pages and photos, where handwriting is a small part of the
        image: it estimates the paper with a median filter an eighth of the image wide, takes ink
        over a large share of the image for noise, and straight strokes spanning most of it for
        ruled lines. A few bold digits filling a small canvas can trip each of these, so the
        drawing is read as if it sat in the middle of a blank sheet twice as wide and tall, shrunk
        back to the canvas's pixel count (so reading costs the same; a digit drawn at 60% of the
        canvas height is still about 100 pixels tall, five times the model's 20).
        """
        h, w = self.height, self.width
        sheet = np.full((2 * h, 2 * w, 3), PAPER, np.uint8)
        sheet[h // 2 : h // 2 + h, w // 2 : w // 2 + w] = self._image
        small = cv2.resize(sheet, (w, h), interpolation=cv2.INTER_AREA)
        return small, View(scale=2.0, dx=-(w // 2), dy=-(h // 2))

    def save(self, path: str | Path) -> Path:
        """Write the drawing as a PNG (whatever the name's extension says); returns the path."""
        from PIL import Image

        path = Path(path)
        Image.fromarray(np.ascontiguousarray(self._image[..., ::-1])).save(path, format="PNG")
        return path

    # OpenCV draws thick lines with round caps, so the joints between segments stay smooth. Its
    # anti-aliased rim makes them a pixel wider than asked, hence one less, to match the screen.
    def _segment(self, a: Point, b: Point, width: int) -> None:
        cv2.line(self._image, _fixed(a), _fixed(b), INK, max(1, width - 1), cv2.LINE_AA, _SHIFT)

    def _dot(self, point: Point, width: int) -> None:
        radius = max(1, round((width - 1) * (1 << _SHIFT) / 2))
        cv2.circle(self._image, _fixed(point), radius, INK, -1, cv2.LINE_AA, _SHIFT)


def _fixed(point: Point) -> tuple[int, int]:
    return round(point[0] * (1 << _SHIFT)), round(point[1] * (1 << _SHIFT))


@dataclass(frozen=True)
class Recognition:
    """What the window shows after reading: the digits, the number text, and every digit's bars."""

    digits: tuple[Digit, ...] = ()
    # One row of class probabilities per digit, in the same (reading) order as ``digits``.
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 10), np.float32))
    labels: tuple[str, ...] = tuple(str(d) for d in range(10))
    text: str = ""  # numbers separated by spaces, lines by newlines, as in image mode
    ms: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def confidence(self) -> float:
        """The weakest digit's confidence: a number is only as sure as its least sure digit."""
        return min((d.confidence for d in self.digits), default=0.0)

    def confidence_text(self) -> str:
        if not self.digits:
            return ""
        if len(self.digits) == 1:
            return f"confidence {100 * self.confidence:.1f}%"
        return f"{len(self.digits)} digits, lowest confidence {100 * self.confidence:.1f}%"

    def summary(self) -> str:
        """One line for the status bar."""
        if not self.digits:
            reason = f" ({self.notes[0]})" if self.notes else ""
            return f"No digit found{reason}: draw bigger or with more contrast"
        shown = self.text.replace("\n", " / ")
        count = "1 digit" if len(self.digits) == 1 else f"{len(self.digits)} digits"
        return f"Read {shown} ({count}) in {self.ms:.0f} ms"


def recognise(recognizer: Recognizer, image: np.ndarray) -> Recognition:
    """Read an image with the same pipeline as image mode, keeping each digit's ten digit probabilities."""
    start = time.perf_counter()
    reading = recognizer.read(image)
    ms = (time.perf_counter() - start) * 1000
    digits = tuple(reading.digits)
    # The chart shows the ten digits (a model's "not a digit" output, when it has one, is left out:
    # whatever is shown was read as a digit).
    classes = recognizer.classes
    meta_labels = recognizer.classifier.metadata.labels
    labels = tuple(meta_labels[i] for i in classes.digit_outputs)
    rows = np.array([[d.probabilities[i] for i in classes.digit_outputs] for d in digits],
                    np.float32).reshape(len(digits), len(labels))
    return Recognition(digits=digits, probabilities=rows, labels=labels, text=reading.text, ms=ms,
                       notes=tuple(reading.notes))
