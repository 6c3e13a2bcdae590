"""Photographed and filled-in documents with exact ground truth: the troubles real pages bring.

Four kinds, each made again exactly from its seed:

- ``desk-photo``: a sheet with handwritten numbers photographed on a desk (wood, grey fabric or dark
  fabric), tilted up to 10 degrees in perspective and turned up to 5 in the image plane, with the
  paper's shadow on the desk, often a hand's shadow across the sheet, uneven light, sensor noise and
  JPEG. Half the frames are mostly light paper with the desk around it; the others show the sheet small.
- ``sticky-note``: one to three big numbers (1-3 digits) in marker on a coloured note lying on a
  desk, its edges, curl and shadow in view.
- ``form``: a printed form filled in by hand: title, labels, comb boxes (one digit per box; a comb
  field is ONE number), numbers on underlines (sometimes touching or crossing the line), names and
  words in handwriting, a number after a handwritten word, ticked and crossed check boxes, a
  signature, sometimes a table. Half are flat scans, half phone photos as ``desk-photo``.
- ``card-video``: 640x480 frames of an index card with a number or two moving and turning a little
  over a desk, all four corners in view (``card_video`` for a clip, ``write_card_video`` for an .avi).

Only handwritten digits are ground truth, and they are MNIST *test* digits (a ``DigitBank``). Every
other mark is something a reader should not report: printed text (Pillow, printed fonts), printed
digits in enumerations such as "1." (``printed_digits``, on by default because real forms have them;
their boxes are kept in ``Document.printed_digits`` for diagnosis, not as truth), handwritten words and
signatures drawn here as joined-up pen paths (so pages do not depend on installed handwriting fonts),
ticks, crosses, scribbles, box borders, paper edges, desk texture and shadows. Boxes are in the output
image's pixels after every warp: a digit's box is the bounding box of its four warped corners.

Seeds: tune on ``TUNING_SEEDS`` (100-199); the benchmarks read pages from ``BENCHMARK_FIRST_SEED``
(1000) on and choose a competitor's settings on ``SETTINGS_FIRST_SEED`` (5000) on, so no benchmark
figure comes from a page anyone tuned on. Printed text uses the first printed fonts found on the
machine (DejaVu, Liberation, FreeFont, matplotlib's DejaVu), else Pillow's built-in font; the layout
never depends on the font, so the ground truth is the same on every machine.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.pipeline.results import Box

from trainer.synth.pages import DigitBank, Page, elastic, ink_box

KINDS = ("desk-photo", "sticky-note", "form", "card-video")
TUNING_SEEDS = range(100, 200)  # for anyone tuning the recogniser: look at and tune on these
BENCHMARK_FIRST_SEED = 1000  # the benchmark's pages: 1000, 1001, ...
SETTINGS_FIRST_SEED = 5000  # pages on which the benchmark picks a competitor's best settings

FRAME_SIZE = (480, 640)  # card-video frames, height x width: a webcam's VGA
PHOTO_SIZE = (960, 1280)  # phone photos (landscape; portrait ones swap): 1.2 megapixels, as sent on
SCAN_SIZE = (1400, 990)  # a flat A4 form scan at about 120 dpi
MAX_TILT = 10.0  # degrees of perspective (the sheet's plane against the sensor's)
MAX_ROLL = 5.0  # degrees of turn in the image plane; the sheet tables go to 5 too
FOCAL = 0.9  # focal length in frame widths: a phone's main camera, about 60 degrees across
FRAME_MARGIN = 6  # pixels: every digit stays at least this far inside the frame

INK_BLACK = (40, 30, 25)  # BGR
INK_BLUE = (150, 60, 20)
PRINT_BLACK = (30, 30, 30)

_NOTE_COLOURS = ((140, 235, 250), (200, 165, 250), (165, 240, 190), (245, 215, 150), (110, 195, 250))
_FORM_TITLES = ("ORDER FORM", "Delivery note", "Registration form", "Service request", "Expense claim",
                "Return slip")
_NAMES = ("Anna Berg", "Tom Hale", "Maria Costa", "J. Moreau", "Lena Voss", "Paul Kent", "Sara Lind",
          "Omar Said", "Eva Novak", "Ian Reid")
_ITEMS = ("apples", "paper", "chairs", "blue pens", "boxes", "cable", "tape", "lamps", "folders")
_STREETS = ("Main St", "Oak Road", "Hill Lane", "Park Ave", "Elm Court", "Mill Way")
_CHECKS = ("Paid", "Pending", "Urgent", "Express", "Gift", "Invoice", "Pick-up")


@dataclass
class Document(Page):
    """A page plus what helps to diagnose a reader: printed digits (never truth) and the paper's corners."""

    printed_digits: list[tuple[int, Box]] = field(default_factory=list)
    paper: list[tuple[float, float]] = field(default_factory=list)  # sheet corners TL, TR, BR, BL in the image
    details: dict = field(default_factory=dict)  # desk, mode, pose: what this page was made of


def make_document(kind: str, bank: DigitBank, seed: int, printed_digits: bool = True) -> Document:
    """One document of the given kind; the same (kind, seed) always gives the same image and truth."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])  # each kind its own stream
    if kind == "desk-photo":
        return _desk_photo(bank, rng)
    if kind == "sticky-note":
        return _sticky_note(bank, rng)
    if kind == "form":
        return _form(bank, rng, printed_digits)
    return card_video(bank, seed, 1)[0]


# --- printed fonts ---------------------------------------------------------------------------------

_FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "LiberationSans-Regular.ttf",
               "LiberationSerif-Regular.ttf", "FreeSans.ttf", "FreeSerif.ttf")
_BOLD_NAMES = ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "FreeSansBold.ttf", "DejaVuSerif-Bold.ttf")


def _font_dirs() -> list[Path]:
    dirs = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"]
    spec = importlib.util.find_spec("matplotlib")  # finds the package without importing it
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    return [d for d in dirs if d.is_dir()]


@functools.lru_cache(maxsize=None)
def printed_fonts(bold: bool = False) -> tuple[Path, ...]:
    """Printed (not handwriting) TrueType fonts on this machine, in a fixed order; may be empty."""
    found: dict[str, Path] = {}
    for folder in _font_dirs():
        for path in sorted(folder.rglob("*.ttf")):
            found.setdefault(path.name, path)
    return tuple(found[name] for name in (_BOLD_NAMES if bold else _FONT_NAMES) if name in found)


@functools.lru_cache(maxsize=256)
def _load_font(choice: float, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    fonts = printed_fonts(bold) or printed_fonts(False)
    if not fonts:
        return ImageFont.load_default(size)  # Pillow's own font: the same everywhere
    return ImageFont.truetype(str(fonts[int(choice * len(fonts)) % len(fonts)]), size)


# --- textures and noise ----------------------------------------------------------------------------

def _smooth_noise(shape: tuple[int, int], cell: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Unit Gaussian noise that varies over about ``cell`` (rows, columns) pixels."""
    h, w = shape
    coarse = rng.normal(0, 1, (max(2, int(h / cell[0]) + 2), max(2, int(w / cell[1]) + 2))).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur done at a fraction of the size: shadows have no fine detail to lose."""
    factor = max(1, int(sigma / 4))
    if factor == 1:
        return cv2.GaussianBlur(mask, (0, 0), sigma)
    h, w = mask.shape[:2]
    small = cv2.resize(mask, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)


def _desk(shape: tuple[int, int], surface: str, rng: np.random.Generator) -> np.ndarray:
    """A desk top as a float BGR image: wood planks, grey fabric or dark fabric."""
    h, w = shape
    if surface == "wood":
        across_x = rng.random() < 0.5  # planks run up the frame (grain vertical) or across it
        rows, cols = (w, h) if across_x else (h, w)  # grain along the columns of this array
        y = np.arange(rows, dtype=np.float32)[:, None]
        period = rng.uniform(7, 16)  # pixels between grain lines
        wobble = _smooth_noise((rows, cols), (30, 260), rng) * rng.uniform(0.8, 1.8)
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * (y / period + wobble))
        fibres = _smooth_noise((rows, cols), (1.5, 40), rng)
        plank = int(rng.integers(140, 320))
        offset = int(rng.integers(0, plank))
        index = (np.arange(rows) + offset) // plank
        shade = 1 + 0.08 * rng.normal(0, 1, index.max() + 1)[index][:, None]
        tone = (1 - 0.16 * rings - 0.05 * fibres) * shade
        seams = ((np.arange(rows) + offset) % plank < 2)[:, None]
        tone = np.where(seams, tone * 0.55, tone)
        base = np.float32([95, 150, 195]) * rng.uniform(0.45, 1.05)  # oak to walnut
        desk = tone[..., None] * base
        if across_x:
            desk = desk.transpose(1, 0, 2)
        return np.ascontiguousarray(desk, np.float32)
    grey = rng.uniform(110, 170) if surface == "grey-fabric" else rng.uniform(25, 60)
    tint = np.float32([1.0, 1.0, 1.0]) + rng.normal(0, 0.06, 3).astype(np.float32)
    if surface == "dark-fabric" and rng.random() < 0.5:
        tint = np.float32([1.5, 1.0, 0.8])  # navy
    pitch = rng.uniform(3, 5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = np.sin(2 * np.pi * xx / pitch) * np.sin(2 * np.pi * yy / pitch)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 0.7)
    tone = 1 + 0.06 * weave + 0.06 * fine + 0.05 * _smooth_noise((h, w), (120, 120), rng)
    return (tone[..., None] * grey * tint).astype(np.float32)


# --- a sheet being written on ----------------------------------------------------------------------

def _digit_glyph(bank: DigitBank, value: int, height: int, rng: np.random.Generator) -> np.ndarray:
    glyph = bank.sample(value, rng)
    width = max(1, round(glyph.shape[1] * height / glyph.shape[0]))
    return cv2.resize(glyph, (width, height), interpolation=cv2.INTER_LINEAR)


# Cursive letters as pen paths in x-height units (baseline y = 0, x-height 1, ascenders 2, descenders
# -0.9), entering low on the left and leaving low on the right so that letters join; the second item
# is the advance. Drawn by us rather than with a handwriting font or OpenCV's Hershey script, which
# OpenCV 5 replaced by a sans-serif face: the same pages on every machine and every OpenCV.
_LETTERS: dict[str, tuple[tuple[tuple[float, float], ...], float]] = {
    "a": (((0, .3), (.55, .95), (.25, 1), (.05, .55), (.2, .05), (.5, .3), (.6, 1), (.58, .15), (.8, .1)), .85),
    "b": (((0, .2), (.45, 1.6), (.35, 2.1), (.15, 1.6), (.1, .1), (.45, .9), (.7, .5), (.4, .05), (.15, .2), (.8, .3)), .85),
    "c": (((0, .3), (.6, .9), (.35, 1), (.08, .6), (.2, .05), (.7, .15)), .75),
    "d": (((0, .3), (.55, .95), (.25, 1), (.05, .55), (.2, .05), (.5, .3), (.65, 2.1), (.6, .15), (.85, .1)), .9),
    "e": (((0, .2), (.5, .55), (.45, .95), (.2, .85), (.1, .3), (.35, .02), (.7, .15)), .75),
    "f": (((0, .2), (.4, 1.5), (.4, 2.1), (.2, 1.6), (.25, -.9), (.35, -.8), (.3, .4), (.7, .2)), .7),
    "g": (((0, .3), (.55, .95), (.25, 1), (.05, .55), (.2, .05), (.5, .3), (.6, 1), (.55, -.8), (.25, -.9),
           (.2, -.5), (.85, .15)), .85),
    "h": (((0, .2), (.4, 1.6), (.35, 2.1), (.15, 1.6), (.1, 0), (.35, .8), (.55, .9), (.6, .3), (.65, .05), (.85, .2)), .9),
    "i": (((0, .2), (.25, 1), (.2, .15), (.5, .15)), .55),
    "j": (((0, .2), (.3, 1), (.25, -.8), (0, -.9), (.05, -.5), (.55, .15)), .6),
    "k": (((0, .2), (.4, 1.6), (.35, 2.1), (.15, 1.6), (.1, 0), (.2, .6), (.55, .95), (.5, .6), (.2, .45), (.45, .3),
           (.6, .02), (.8, .2)), .85),
    "l": (((0, .2), (.45, 1.6), (.4, 2.1), (.2, 1.6), (.15, .15), (.5, .15)), .55),
    "m": (((0, .1), (.15, .9), (.2, 0), (.3, .8), (.45, .9), (.5, 0), (.6, .8), (.8, .9), (.85, .1), (1.05, .15)), 1.1),
    "n": (((0, .1), (.15, .9), (.2, 0), (.35, .8), (.55, .9), (.6, .1), (.8, .15)), .85),
    "o": (((0, .3), (.4, 1), (.15, .85), (.1, .3), (.35, 0), (.6, .4), (.45, .95), (.4, .85), (.75, .8)), .8),
    "p": (((0, .1), (.2, .9), (.15, -.9), (.15, .5), (.45, .95), (.65, .5), (.4, .05), (.15, .2), (.75, .2)), .85),
    "q": (((0, .3), (.55, .95), (.25, 1), (.05, .55), (.2, .05), (.5, .3), (.6, 1), (.55, -.9), (.5, -.3), (.85, .15)), .85),
    "r": (((0, .1), (.2, .9), (.3, .7), (.5, .85), (.45, .1), (.7, .15)), .7),
    "s": (((0, .1), (.35, 1), (.5, .45), (.45, .05), (.1, .15), (.3, .1), (.7, .15)), .7),
    "t": (((0, .2), (.3, 1.7), (.25, .1), (.55, .15)), .6),
    "u": (((0, .2), (.15, .9), (.15, .2), (.35, 0), (.55, .4), (.6, .95), (.6, .1), (.8, .15)), .85),
    "v": (((0, .2), (.15, .9), (.35, 0), (.6, .95), (.5, .8), (.75, .8)), .8),
    "w": (((0, .2), (.12, .9), (.3, 0), (.45, .7), (.6, 0), (.8, .95), (.7, .8), (.95, .8)), 1.0),
    "x": (((0, .1), (.3, .9), (.5, .4), (.6, .05), (.8, .15)), .8),
    "y": (((0, .2), (.15, .9), (.15, .2), (.35, 0), (.55, .4), (.6, .95), (.55, -.8), (.25, -.9), (.2, -.5), (.8, .15)), .85),
    "z": (((0, .9), (.55, .95), (.1, .05), (.5, 0), (.6, -.5), (.35, -.6), (.75, .1)), .8),
}
# The lower-case letters the cursive hand can write (capitals are tall lower case).
CURSIVE_LETTERS = "".join(sorted(_LETTERS))
# Marks lifted off the paper: i and j dots, the t bar, the x's second stroke.
_EXTRA_STROKES = {"i": (((.25, 1.4), (.28, 1.45)),), "j": (((.3, 1.4), (.33, 1.45)),),
                  "t": (((.05, 1.05), (.55, 1.1)),), "x": (((.1, .05), (.7, .95)),)}


def _smooth_path(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """A Catmull-Rom curve through the points: a pen moves smoothly, not in straight segments."""
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    parts = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        parts.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                            + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    parts.append(p[-2:-1])
    return np.vstack(parts)


def _cursive_paths(text: str, rng: np.random.Generator, jitter: float = 0.05, squeeze: float = 1.0):
    """Pen paths (x-height units, y up) for joined-up handwriting of ``text``; capitals are tall lower case."""
    paths, current, x = [], [], 0.0
    for char in text:
        key = char.lower()
        if key not in _LETTERS:  # space, dot, hyphen: lift the pen
            if current:
                paths.append(np.float64(current))
                current = []
            if char in ".-":
                y = 0.05 if char == "." else 0.5
                paths.append(np.float64([[x + 0.1, y], [x + (0.16 if char == "." else 0.45), y + 0.02]]))
            x += 0.35 if char == "." else 0.6
            continue
        template, advance = _LETTERS[key]
        sx, sy = (1.6, 1.9) if char.isupper() else (1.25, 1.0)  # joined letters run wide
        size = rng.normal(1, 0.05)
        sx, sy = sx * size * squeeze, sy * size
        points = [(x + px * sx + rng.normal(0, jitter), py * sy + rng.normal(0, jitter)) for px, py in template]
        current.extend(points)
        for stroke in _EXTRA_STROKES.get(key, ()):
            paths.append(np.float64([(x + px * sx, py * sy) for px, py in stroke]))
        x += advance * sx
    if current:
        paths.append(np.float64(current))
    return paths


def script_word(text: str, height: int, rng: np.random.Generator, jitter: float = 0.05,
                 squeeze: float = 1.0) -> np.ndarray:
    """Joined-up handwriting of ``text`` about ``height`` pixels from ascender to descender, cropped to its ink."""
    xh = height / 2.2  # x-height: about half a digit; ascenders reach 2.1 of it, descenders 0.9 below
    slant = rng.uniform(0.05, 0.3)
    thickness = max(2, round(xh * 0.11))
    paths = _cursive_paths(text, rng, jitter, squeeze)
    pad = 2 * xh + thickness
    width = max(p[:, 0].max() for p in paths) * xh + 2 * pad + 3 * xh
    canvas = np.zeros((int(3.5 * xh + 2 * pad), int(width)), np.uint8)
    base = 2.2 * xh + pad
    for path in paths:
        curve = _smooth_path(path) if len(path) > 2 else path
        pts = np.column_stack([pad + (curve[:, 0] + slant * curve[:, 1]) * xh, base - curve[:, 1] * xh])
        cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, shift=4)
    canvas = elastic(canvas, rng, amount=xh / 8)
    ys, xs = np.nonzero(canvas > 30)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


class _Sheet:
    """A flat sheet: paper, printed layers, handwriting on top, and the ground truth as it is written."""

    def __init__(self, height: int, width: int, paper, pen, rng: np.random.Generator):
        self.h, self.w = height, width
        self.paper = np.float32(paper)
        self.pen = np.float32(pen)
        self.rng = rng
        self.hand = np.zeros((height, width), np.float32)  # handwriting coverage 0..1
        self.layers: dict[tuple[int, int, int], Image.Image] = {}  # printed coverage per colour
        self.digits: list[tuple[int, Box]] = []
        self.numbers: list[list[int]] = []
        self.printed_digits: list[tuple[int, Box]] = []
        self.combs: list[tuple[int, list[Box]]] = []  # comb fields: (number index, its printed boxes)
        self.table: list[int] = []  # the numbers written in a table's cells
        self.font_choice = float(rng.random())  # one typeface per sheet, whatever fonts are installed

    def draw(self, colour=PRINT_BLACK) -> ImageDraw.ImageDraw:
        if colour not in self.layers:
            self.layers[colour] = Image.new("L", (self.w, self.h), 0)
        return ImageDraw.Draw(self.layers[colour])

    def stamp(self, glyph: np.ndarray, x: int, y: int) -> None:
        """Lay ink (a 0..255 glyph) at x, y, clipped to the sheet."""
        gh, gw = glyph.shape
        x0, y0, x1, y1 = max(0, x), max(0, y), min(self.w, x + gw), min(self.h, y + gh)
        if x1 <= x0 or y1 <= y0:
            return
        region = self.hand[y0:y1, x0:x1]
        np.maximum(region, glyph[y0 - y : y1 - y, x0 - x : x1 - x] / 255.0, out=region)

    def number(self, bank: DigitBank, values: list[int], x: int, y: int, height: int,
               gap: tuple[float, float] = (0.08, 0.22), wander: float = 0.1, right: int | None = None) -> int:
        """Write a number left to right from (x, y) (top of the digits); returns the x after it.

        The digits shrink, if they must, to end before ``right`` (default: the sheet's edge).
        """
        raws = [bank.sample(value, self.rng) for value in values]
        gaps = self.rng.uniform(*gap, len(values))
        shifts = self.rng.uniform(-wander, wander, len(values))
        limit = self.w if right is None else min(right, self.w)

        def widths(h: int) -> list[int]:
            return [max(1, round(raw.shape[1] * h / raw.shape[0])) for raw in raws]

        while height > 8 and x + sum(widths(height)) + sum(int(height * g) for g in gaps[:-1]) > limit:
            height -= 1
        indices = []
        for value, raw, width, g, shift in zip(values, raws, widths(height), gaps, shifts):
            glyph = cv2.resize(raw, (width, height), interpolation=cv2.INTER_LINEAR)
            gy = y + int(round(shift * height))
            self.stamp(glyph, x, gy)
            indices.append(self.digit(value, ink_box(glyph, x, gy)))
            x += width + int(height * g)
        self.numbers.append(indices)
        return x

    def digit(self, value: int, box: Box) -> int:
        if box.x < 0 or box.y < 0 or box.x2 > self.w or box.y2 > self.h:
            raise RuntimeError(f"a digit at {box} runs off the {self.w}x{self.h} sheet")  # a generator bug
        self.digits.append((value, box))
        return len(self.digits) - 1

    def word(self, text: str, x: int, bottom: int, height: int) -> Box:
        """Handwritten ``text`` with its lowest ink at ``bottom``, as a word written on a line."""
        glyph = script_word(text, height, self.rng)
        y = bottom - glyph.shape[0]
        self.stamp(glyph, x, y)
        return Box(x, y, glyph.shape[1], glyph.shape[0])

    def strokes(self, paths: list[np.ndarray], thickness: int) -> None:
        """Pen strokes (ticks, crosses, scribbles) through the given points."""
        canvas = np.zeros((self.h, self.w), np.uint8)
        for path in paths:
            cv2.polylines(canvas, [np.round(path * 16).astype(np.int32)], False, 255, thickness,
                          cv2.LINE_AA, shift=4)
        np.maximum(self.hand, canvas / 255.0, out=self.hand)

    def text(self, text: str, x: int, y: int, size: int, max_width: int | None = None, bold: bool = False,
             colour=PRINT_BLACK) -> None:
        """Printed text with its top-left at x, y; shrunk to fit ``max_width``. Digits in it are recorded."""
        while True:
            font = _load_font(self.font_choice, size, bold)
            if max_width is None or size <= 8 or font.getlength(text) <= max_width:
                break
            size -= 1
        self.draw(colour).text((x, y), text, fill=255, font=font)
        for i, char in enumerate(text):
            if char.isdigit():
                left = x + font.getlength(text[:i])
                l, t, r, b = font.getbbox(char)
                self.printed_digits.append((int(char), Box(int(left + l), y + t, r - l, b - t)))

    def ink_box(self, pad: int) -> Box:
        """The box around every mark on the sheet, handwritten or printed, ``pad`` pixels wider."""
        mask = self.hand > 0.1
        for layer in self.layers.values():
            mask |= np.asarray(layer) > 25
        ys, xs = np.nonzero(mask)
        x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
        return Box(x0, y0, min(self.w, xs.max() + 1 + pad) - x0, min(self.h, ys.max() + 1 + pad) - y0)

    def render(self) -> np.ndarray:
        """The sheet as a float BGR image: paper with a little texture, print, then handwriting."""
        grain = 1.5 * _smooth_noise((self.h, self.w), (40, 40), self.rng)
        image = self.paper + grain[..., None] + 1.2 * self.rng.standard_normal((self.h, self.w, 1), np.float32)
        for colour, layer in self.layers.items():
            alpha = np.asarray(layer, np.float32)[..., None] / 255.0
            image = image * (1 - alpha) + np.float32(colour) * alpha
        alpha = self.hand[..., None]
        return (image * (1 - alpha) + self.pen * alpha).astype(np.float32)


# --- putting a sheet in front of a camera ----------------------------------------------------------

@dataclass(frozen=True)
class _Pose:
    """Where the sheet lies in the frame: its centre, frame pixels per sheet pixel, and its angles."""

    cx: float
    cy: float
    scale: float
    roll: float = 0.0  # degrees in the image plane
    tilt_x: float = 0.0  # degrees about the frame's horizontal axis
    tilt_y: float = 0.0  # ... and its vertical axis


def _homography(sheet_hw: tuple[int, int], pose: _Pose, frame_hw: tuple[int, int]) -> np.ndarray:
    """Sheet pixels to frame pixels for a flat sheet seen by a pinhole camera."""
    sh, sw = sheet_hw
    focal = FOCAL * max(frame_hw)
    corners = np.float64([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    centred = np.column_stack([(corners - [sw / 2, sh / 2]) * pose.scale, np.zeros(4)])
    r, a, b = np.radians([pose.roll, pose.tilt_x, pose.tilt_y])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    points = centred @ (ry @ rx @ rz).T + [0, 0, focal]
    projected = focal * points[:, :2] / points[:, 2:] + [pose.cx, pose.cy]
    return cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))


def _warp_points(matrix: np.ndarray, points) -> np.ndarray:
    return cv2.perspectiveTransform(np.float64(points).reshape(-1, 1, 2), matrix).reshape(-1, 2)


def _warp_box(matrix: np.ndarray, box: Box) -> Box:
    """The bounding box of a box's warped corners (pixel edges, so a 1-pixel box stays 1 pixel)."""
    corners = [[box.x - 0.5, box.y - 0.5], [box.x2 - 0.5, box.y - 0.5],
               [box.x - 0.5, box.y2 - 0.5], [box.x2 - 0.5, box.y2 - 0.5]]
    pts = _warp_points(matrix, corners)
    x0, y0 = np.floor(pts.min(axis=0) + 0.5).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + 0.5).astype(int)
    return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _random_pose(rng: np.random.Generator, frame_hw, sheet_hw, scale: float, shift: float,
                 max_tilt: float = MAX_TILT, max_roll: float = MAX_ROLL) -> _Pose:
    fh, fw = frame_hw
    tilt, direction = rng.uniform(0, max_tilt), rng.uniform(0, 2 * np.pi)
    # ``shift``: how far the centre may wander, as a share of the room the sheet leaves in the frame.
    room_x = max(0.05 * fw, fw - sheet_hw[1] * scale) / 2
    room_y = max(0.05 * fh, fh - sheet_hw[0] * scale) / 2
    return _Pose(cx=fw / 2 + rng.uniform(-1, 1) * shift * room_x, cy=fh / 2 + rng.uniform(-1, 1) * shift * room_y,
                 scale=scale, roll=rng.uniform(-max_roll, max_roll),
                 tilt_x=tilt * np.cos(direction), tilt_y=tilt * np.sin(direction))


def _pose_details(pose: _Pose) -> dict[str, float]:
    return {name: round(float(value), 3) for name, value in vars(pose).items()}


def _fit(pose: _Pose, sheet_hw, frame_hw, keep: Box, margin: int = FRAME_MARGIN) -> tuple[_Pose, np.ndarray]:
    """Shrink the sheet towards the frame's centre until ``keep`` (sheet pixels) is inside the frame."""
    fh, fw = frame_hw
    for _ in range(60):
        matrix = _homography(sheet_hw, pose, frame_hw)
        pts = _warp_points(matrix, [[keep.x, keep.y], [keep.x2, keep.y], [keep.x, keep.y2], [keep.x2, keep.y2]])
        if pts[:, 0].min() >= margin and pts[:, 1].min() >= margin and \
                pts[:, 0].max() <= fw - margin and pts[:, 1].max() <= fh - margin:
            return pose, matrix
        pose = replace(pose, scale=pose.scale * 0.96, cx=pose.cx + 0.15 * (fw / 2 - pose.cx),
                       cy=pose.cy + 0.15 * (fh / 2 - pose.cy))
    raise RuntimeError("the sheet's writing cannot be fitted into the frame")


def _visible_area(matrix: np.ndarray, frame_hw, sheet_hw, inset: float) -> Box:
    """The sheet rectangle (sheet pixels) seen inside the frame shrunk by ``inset`` on each side."""
    fh, fw = frame_hw
    sh, sw = sheet_hw
    mx, my = inset * fw, inset * fh
    pts = _warp_points(np.linalg.inv(matrix), [[mx, my], [fw - mx, my], [fw - mx, fh - my], [mx, fh - my]])
    x0 = max(pts[0, 0], pts[3, 0], 0.07 * sw)
    x1 = min(pts[1, 0], pts[2, 0], 0.93 * sw)
    y0 = max(pts[0, 1], pts[1, 1], 0.06 * sh)
    y1 = min(pts[2, 1], pts[3, 1], 0.94 * sh)
    return Box(int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0)))


def _lay_on_desk(desk: np.ndarray, sheet: np.ndarray, matrix: np.ndarray, rng: np.random.Generator,
                 shadow: float) -> np.ndarray:
    """The warped sheet on the desk, casting a soft shadow ``shadow`` deep (0..1) beside it."""
    fh, fw = desk.shape[:2]
    scale = np.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    if scale < 0.9:  # shrinking: blur first, as a lens would, so fine strokes do not alias
        sheet = cv2.GaussianBlur(sheet, (0, 0), 0.45 / max(scale, 0.1))
    warped = cv2.warpPerspective(sheet, matrix, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(sheet.shape[:2], np.float32)
    alpha = cv2.warpPerspective(ones, matrix, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    corners = _warp_points(matrix, [[0, 0], [sheet.shape[1], 0], [sheet.shape[1], sheet.shape[0]], [0, sheet.shape[0]]])
    offset = rng.uniform(4, 16, 2) * rng.choice([-1, 1], 2)
    mask = np.zeros((fh, fw), np.float32)
    cv2.fillConvexPoly(mask, np.round((corners + offset) * 16).astype(np.int32), 1.0, cv2.LINE_AA, shift=4)
    mask = _soft(mask, rng.uniform(5, 14))
    shaded = desk * (1 - shadow * mask)[..., None]
    return shaded * (1 - alpha) + warped * alpha


def _hand_shadow(shape: tuple[int, int], target: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """A soft shadow (0..1) of a forearm and hand reaching in from one edge of the frame to ``target``."""
    h, w = shape
    unit = min(h, w)
    edge = int(rng.integers(4))
    t = rng.uniform(0.2, 0.8)
    start = [(t * w, -0.1 * h), (1.1 * w, t * h), (t * w, 1.1 * h), (-0.1 * w, t * h)][edge]
    tx, ty = target
    direction = np.float64([tx - start[0], ty - start[1]])
    direction /= max(1e-6, np.hypot(*direction))
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (int(start[0]), int(start[1])), (int(tx), int(ty)), 255, int(unit * rng.uniform(0.12, 0.18)))
    angle = float(np.degrees(np.arctan2(direction[1], direction[0])))
    palm = (int(tx + direction[0] * unit * 0.05), int(ty + direction[1] * unit * 0.05))
    cv2.ellipse(mask, palm, (int(unit * 0.1), int(unit * 0.07)), angle, 0, 360, 255, -1)
    for k in range(int(rng.integers(2, 5))):
        spread = np.radians(rng.uniform(-35, 35))
        c, s = np.cos(spread), np.sin(spread)
        d = (direction[0] * c - direction[1] * s, direction[0] * s + direction[1] * c)
        length = unit * rng.uniform(0.1, 0.16)
        tip = (int(palm[0] + d[0] * length * 1.6), int(palm[1] + d[1] * length * 1.6))
        cv2.line(mask, palm, tip, 255, int(unit * rng.uniform(0.025, 0.035)))
    return _soft(mask.astype(np.float32) / 255.0, unit * rng.uniform(0.02, 0.05))


def _light(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Uneven light as a gain per pixel: a slope from one side and a darker rim."""
    h, w = shape
    yy, xx = np.mgrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    slope = rng.uniform(0.08, 0.25) * (np.cos(angle) * xx + np.sin(angle) * yy)
    rim = rng.uniform(0.05, 0.3) * (xx ** 2 + yy ** 2) / 2
    return (rng.uniform(0.85, 1.08) * (1 + slope - rim)).astype(np.float32)


def _camera(frame: np.ndarray, rng: np.random.Generator, jpeg: tuple[int, int] = (55, 90)) -> np.ndarray:
    """A phone or webcam's own marks: colour balance, a little defocus, sensor noise, JPEG."""
    frame = frame * (1 + rng.normal(0, 0.04, 3)).astype(np.float32)
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.4, 1.0))
    sigma = rng.uniform(2, 6)
    noise = sigma * (rng.standard_normal(frame.shape, np.float32)
                     + 0.5 * rng.standard_normal(frame.shape[:2] + (1,), np.float32))
    image = np.clip(frame + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*jpeg))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _photograph(sheet: _Sheet, image: np.ndarray, pose: _Pose, frame_hw, desk: str,
                rng: np.random.Generator, hand: float, keep: Box | None = None) -> tuple[np.ndarray, np.ndarray, _Pose]:
    """The rendered sheet on a desk in front of a camera; ``hand``: the chance of a hand's shadow."""
    pose, matrix = _fit(pose, (sheet.h, sheet.w), frame_hw, keep or sheet.ink_box(pad=4))
    frame = _lay_on_desk(_desk(frame_hw, desk, rng), image, matrix, rng, shadow=rng.uniform(0.3, 0.55))
    frame = frame * _light(frame_hw, rng)[..., None]
    if rng.random() < hand:
        target = _warp_points(matrix, [[rng.uniform(0.2, 0.8) * sheet.w, rng.uniform(0.3, 0.9) * sheet.h]])[0]
        frame = frame * (1 - rng.uniform(0.25, 0.5) * _hand_shadow(frame_hw, target, rng))[..., None]
    return _camera(frame, rng), matrix, pose


# --- ground truth in reading order ----------------------------------------------------------------

def _finish(kind: str, image: np.ndarray, sheet: _Sheet, matrix: np.ndarray, details: dict) -> Document:
    """Warp the truth into the image and put it in reading order: lines top to bottom, left to right,
    as written on the flat sheet (a turned or tilted photo does not reorder them)."""
    digits = [(value, _warp_box(matrix, box)) for value, box in sheet.digits]
    boxes = []
    for indices in sheet.numbers:
        box = sheet.digits[indices[0]][1]
        for i in indices[1:]:
            box = box.union(sheet.digits[i][1])
        boxes.append(box)
    rows: list[list[int]] = []
    for n in sorted(range(len(boxes)), key=lambda n: boxes[n].cy):
        row = rows[-1] if rows else None
        if row is not None:
            cy = np.mean([boxes[m].cy for m in row])
            height = np.median([boxes[m].h for m in row])
            if abs(boxes[n].cy - cy) < 0.5 * max(height, boxes[n].h):
                row.append(n)
                continue
        rows.append([n])
    ordered, numbers, lines, moved = [], [], [], {}
    for row in rows:
        row.sort(key=lambda n: boxes[n].x)
        texts = []
        for n in row:
            moved[n] = len(numbers)
            numbers.append(list(range(len(ordered), len(ordered) + len(sheet.numbers[n]))))
            ordered.extend(digits[i] for i in sheet.numbers[n])
            texts.append("".join(str(digits[i][0]) for i in sheet.numbers[n]))
        lines.append(texts)
    if sheet.combs:  # where each comb field's boxes are, for checking that a comb is one number
        details["combs"] = [{"number": moved[n], "boxes": [_warp_box(matrix, b).as_list() for b in cells]}
                            for n, cells in sheet.combs]
    if sheet.table:  # one number a cell: cells side by side in a row are not one comb
        details["table"] = sorted(moved[n] for n in sheet.table)
    corners = _warp_points(matrix, [[0, 0], [sheet.w, 0], [sheet.w, sheet.h], [0, sheet.h]])
    return Document(kind=kind, image=image, lines=lines, digits=ordered, numbers=numbers,
                    printed_digits=[(v, _warp_box(matrix, b)) for v, b in sheet.printed_digits],
                    paper=[(float(x), float(y)) for x, y in corners], details=details)


# --- the kinds ------------------------------------------------------------------------------------

def _frame_shape(rng: np.random.Generator, portrait_share: float) -> tuple[int, int]:
    return PHOTO_SIZE[::-1] if rng.random() < portrait_share else PHOTO_SIZE


def _desk_photo(bank: DigitBank, rng: np.random.Generator) -> Document:
    frame_hw = _frame_shape(rng, 0.5)
    surface = str(rng.choice(["wood", "grey-fabric", "dark-fabric"]))
    fills = rng.random() < 0.5  # light paper over much of the frame, or a small sheet with desk around
    sheet_hw = (1100, 778)  # A4's proportions
    fit = min(frame_hw[0] / sheet_hw[0], frame_hw[1] / sheet_hw[1])  # scale at which the sheet just fits
    scale = fit * (rng.uniform(0.95, 1.25) if fills else rng.uniform(0.45, 0.65))
    pose = _random_pose(rng, frame_hw, sheet_hw, scale, shift=0.3 if fills else 0.8)
    area = _visible_area(_homography(sheet_hw, pose, frame_hw), frame_hw, sheet_hw, inset=0.05)
    sheet = _Sheet(*sheet_hw, paper=np.float32([236, 241, 245]) + rng.normal(0, 3, 3), rng=rng,
                   pen=INK_BLUE if rng.random() < 0.4 else INK_BLACK)
    low, high = (28, 58) if fills else (20, 38)  # digit heights in the frame, pixels
    y = area.y
    while True:
        h = max(12, int(rng.uniform(low, high) / scale))  # this line's digit height on the sheet
        if y + h > area.y2:
            break
        x = area.x + int(rng.integers(0, max(1, h)))
        while True:
            values = [int(v) for v in rng.integers(0, 10, int(rng.integers(1, 6)))]
            if x + 1.2 * len(values) * h > area.x2:  # MNIST digits are at most about as wide as tall
                break
            x = sheet.number(bank, values, x, y, h, right=area.x2) + int(h * rng.uniform(1.3, 2.5))
        y += int(h * rng.uniform(1.6, 2.6))
    image, matrix, pose = _photograph(sheet, sheet.render(), pose, frame_hw, surface, rng, hand=0.7)
    return _finish("desk-photo", image, sheet, matrix,
                   {"desk": surface, "mode": "fills" if fills else "small", "pose": _pose_details(pose)})


def _sticky_note(bank: DigitBank, rng: np.random.Generator) -> Document:
    frame_hw = _frame_shape(rng, 0.3)
    surface = str(rng.choice(["wood", "grey-fabric", "dark-fabric"]))
    side = 600
    scale = rng.uniform(0.4, 0.7) * min(frame_hw) / side
    pose = _random_pose(rng, frame_hw, (side, side), scale, shift=0.7, max_roll=10.0)
    colour = np.float32(_NOTE_COLOURS[int(rng.integers(len(_NOTE_COLOURS)))])
    sheet = _Sheet(side, side, paper=colour, pen=INK_BLACK if rng.random() < 0.6 else INK_BLUE, rng=rng)
    count = int(rng.integers(1, 4))
    rows = int(rng.integers(1, count + 1))  # numbers stand on lines of their own or share them
    per_row = [count // rows + (1 if r < count % rows else 0) for r in range(rows)]
    lengths = [[int(rng.integers(1, 4)) for _ in range(n)] for n in per_row]
    # Widest line in digit heights: MNIST digits are at most about as wide as tall, gaps as below.
    widest = max(sum(row) + 0.18 * (sum(row) - len(row)) + 1.1 * (len(row) - 1) for row in lengths)
    h = int(min(side * rng.uniform(0.17, 0.26), 0.86 * side / widest, 0.8 * side / (1.5 * rows)))
    pitch = int(h * rng.uniform(1.3, 1.5))
    y = (side - (rows - 1) * pitch - h) // 2
    for row in lengths:
        width = h * (sum(row) + 0.13 * (sum(row) - len(row)) + 0.95 * (len(row) - 1))
        x = int(max(0.06 * side, (side - width) / 2 + rng.uniform(-0.05, 0.05) * side))
        for length in row:
            values = [int(v) for v in rng.integers(0, 10, length)]
            x = sheet.number(bank, values, x, y, h, gap=(0.08, 0.18), wander=0.05, right=int(0.94 * side)) \
                + int(h * rng.uniform(0.8, 1.1))
        y += pitch
    image = sheet.render()
    # The note curls up at its free end: that part turns from the light and darkens.
    curl = np.clip((np.arange(side, dtype=np.float32) / side - 0.7) / 0.3, 0, 1)
    image *= (1 - rng.uniform(0.05, 0.15) * curl ** 2)[:, None, None]
    keep = Box(0, 0, side, side)  # the whole note is in view
    image, matrix, pose = _photograph(sheet, image, pose, frame_hw, surface, rng, hand=0.3, keep=keep)
    return _finish("sticky-note", image, sheet, matrix, {"desk": surface, "pose": _pose_details(pose)})


def _tick(x: float, y: float, size: float, rng: np.random.Generator) -> list[np.ndarray]:
    """A tick over a box at x, y: short stroke down, long stroke up past the box's corner."""
    shape = np.float64([[0, 0.55], [0.35, 1.0], [1.15, -0.2]])
    return [[x, y] + (shape + rng.uniform(-0.08, 0.08, shape.shape)) * size]


def _cross(x: float, y: float, size: float, rng: np.random.Generator) -> list[np.ndarray]:
    """A cross in a box at x, y: two strokes corner to corner, a little off."""
    strokes = np.float64([[[0, 0], [1, 1]], [[1, 0], [0, 1]]]) + rng.uniform(-0.1, 0.1, (2, 2, 2))
    return [[x, y] + stroke * size for stroke in strokes]


def _signature(sheet: _Sheet, x: int, y: int, height: int) -> None:
    """A signature: a name scrawled fast (squeezed, shaky, tall capitals) and a stroke under it."""
    rng = sheet.rng
    name = str(_NAMES[int(rng.integers(len(_NAMES)))])
    glyph = script_word(name, height, rng, jitter=0.15, squeeze=rng.uniform(0.5, 0.8))
    sheet.stamp(glyph, x, y)
    gy = y + glyph.shape[0] * rng.uniform(0.7, 1.0)
    sheet.strokes([np.float64([[x - 10, gy + 8], [x + glyph.shape[1] * 0.5, gy + rng.uniform(-6, 6)],
                               [x + glyph.shape[1] + 20, gy - rng.uniform(5, 20)]])], 2)


def _comb(sheet: _Sheet, bank: DigitBank, x: int, y: int, boxes: int, filled: int, size: int, colour) -> int:
    """A comb field: ``boxes`` printed boxes, the first ``filled`` with a digit each (one number); returns its right edge."""
    rng = sheet.rng
    draw = sheet.draw(colour)
    indices, cells = [], []
    for k in range(boxes):
        left = x + k * size
        cells.append(Box(left, y, size + 1, size + 1))
        draw.rectangle([left, y, left + size, y + size], outline=255, width=2)
        if k < filled:
            value = int(rng.integers(0, 10))
            h = int(size * rng.uniform(0.6, 0.8))
            glyph = _digit_glyph(bank, value, h, rng)
            gx = left + (size - glyph.shape[1]) // 2 + int(rng.integers(-size // 12, size // 12 + 1))
            gy = y + (size - h) // 2 + int(rng.integers(-size // 12, size // 12 + 1))
            sheet.stamp(glyph, gx, gy)
            indices.append(sheet.digit(value, ink_box(glyph, gx, gy)))
    sheet.combs.append((len(sheet.numbers), cells))
    sheet.numbers.append(indices)
    return x + boxes * size


def _on_line(sheet: _Sheet, bank: DigitBank, values: list[int], x: int, line_y: int, h: int, right: int) -> int:
    """A number written on an underline: its foot on the line, now and then touching or crossing it."""
    rng = sheet.rng
    foot = int(rng.integers(1, h // 6 + 2)) if rng.random() < 0.35 else -int(rng.integers(3, h // 8 + 4))
    return sheet.number(bank, values, x, line_y + foot - h, h, wander=0.05, right=right)


def _form(bank: DigitBank, rng: np.random.Generator, printed_digits: bool) -> Document:
    sh, sw = SCAN_SIZE
    sheet = _Sheet(sh, sw, paper=np.float32([240, 243, 245]) + rng.normal(0, 2, 3),
                   pen=INK_BLUE if rng.random() < 0.5 else INK_BLACK, rng=rng)
    box_colour = PRINT_BLACK if rng.random() < 0.6 else (120, 120, 225)  # black, or a pale red dropout colour
    margin, label_w = 70, 250
    field_x = margin + label_w + 20
    right = sw - margin
    sheet.text(str(rng.choice(_FORM_TITLES)), margin, 50, 40, max_width=right - margin, bold=True)
    sheet.draw().line([margin, 112, right, 112], fill=255, width=2)
    sheet.text("Please write clearly, one digit per box.", margin, 126, 18, max_width=right - margin)
    y = 185
    fields = ["comb", "date", "amount", "phone", "name", "street", "checks", "comb2", "quantity"]
    order = [fields[i] for i in rng.permutation(len(fields))][: int(rng.integers(6, len(fields) + 1))]
    if "comb" not in order:  # every form has at least one comb field
        order[int(rng.integers(len(order)))] = "comb"
    with_table = rng.random() < 0.5
    entry = 0
    labels = {"comb": "Order number", "comb2": "Customer no.", "date": "Date", "amount": "Amount",
              "phone": "Phone", "name": "Name", "street": "Street", "checks": "Options", "quantity": "Quantity"}
    for kind in order:
        if y > sh - (420 if with_table else 200):
            break
        entry += 1
        label = (f"{entry}. " if printed_digits else "") + labels[kind]
        sheet.text(label, margin, y + 14, 22, max_width=label_w)
        line_y = y + 62  # the underline, where there is one
        if kind in ("comb", "comb2"):
            boxes = int(rng.integers(6, 10))
            _comb(sheet, bank, field_x, y, boxes, int(rng.integers(3, boxes + 1)), int(rng.integers(46, 60)), box_colour)
        elif kind == "date":
            size = int(rng.integers(46, 56))
            x = field_x
            for boxes in (2, 2, 4):  # day, month, year: three comb fields, three numbers
                x = _comb(sheet, bank, x, y, boxes, boxes, size, box_colour) + int(size * rng.uniform(0.5, 0.9))
        elif kind in ("amount", "quantity", "phone"):
            sheet.draw().line([field_x, line_y, right, line_y], fill=255, width=2)
            h = int(rng.integers(36, 54))
            groups = [int(rng.integers(3, 5)), int(rng.integers(4, 8))] if kind == "phone" else [int(rng.integers(1, 7))]
            x = field_x + int(rng.integers(5, 40))
            for length in groups:
                x = _on_line(sheet, bank, [int(v) for v in rng.integers(0, 10, length)], x, line_y, h, right) \
                    + int(h * rng.uniform(0.9, 1.4))
        elif kind in ("name", "street"):
            sheet.draw().line([field_x, line_y, right, line_y], fill=255, width=2)
            h = int(rng.integers(38, 50))
            words = _NAMES if kind == "name" else _STREETS
            box = sheet.word(str(words[int(rng.integers(len(words)))]), field_x + int(rng.integers(5, 30)),
                             line_y + int(rng.integers(-4, 3)), h)
            if kind == "street":  # a house number after the word
                x = box.x2 + int(h * rng.uniform(0.6, 1.2))
                _on_line(sheet, bank, [int(v) for v in rng.integers(0, 10, int(rng.integers(1, 4)))], x, line_y, h, right)
        else:  # check boxes
            size, pitch = int(rng.integers(24, 32)), 170
            options = [_CHECKS[i] for i in rng.permutation(len(_CHECKS))[: int(rng.integers(2, 4))]]
            for k, option in enumerate(options):
                bx, by = field_x + k * pitch, y + 16
                sheet.draw().rectangle([bx, by, bx + size, by + size], outline=255, width=2)
                sheet.text(option, bx + size + 10, by + 2, 20, max_width=pitch - size - 20)
                mark = rng.random()
                if mark < 0.45:
                    sheet.strokes(_tick(bx + 3, by + 2, size * 0.9, rng), 3)
                elif mark < 0.65:
                    sheet.strokes(_cross(bx + 4, by + 4, size - 8, rng), 3)
        y += 92
    if with_table:
        y = _table(sheet, bank, margin, y + 10, right)
    sheet.text("Signature", margin, y + 40, 22, max_width=label_w)
    sheet.draw().line([field_x, y + 80, field_x + 380, y + 80], fill=255, width=2)
    _signature(sheet, field_x + 20, y + 14, int(rng.integers(50, 66)))
    image = sheet.render()
    if rng.random() < 0.5:  # a flat scan: the page fills the image, turned a little on the glass
        pose = _Pose(cx=sw / 2, cy=sh / 2, scale=1.0, roll=rng.uniform(-0.8, 0.8))
        matrix = _homography((sh, sw), pose, (sh, sw))
        scan = cv2.warpPerspective(image, matrix, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        scan = cv2.GaussianBlur(scan, (0, 0), 0.5) + 2 * rng.standard_normal(scan.shape, np.float32)
        ok, buf = cv2.imencode(".jpg", np.clip(scan, 0, 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(80, 96))])
        return _finish("form", cv2.imdecode(buf, cv2.IMREAD_COLOR), sheet, matrix,
                       {"capture": "scan", "roll": round(float(pose.roll), 3), "printed_digits": printed_digits})
    frame_hw = _frame_shape(rng, 0.8)
    surface = str(rng.choice(["wood", "grey-fabric", "dark-fabric"]))
    fit = min(frame_hw[0] / sh, frame_hw[1] / sw)
    pose = _random_pose(rng, frame_hw, (sh, sw), fit * rng.uniform(0.85, 1.05), shift=0.5)
    image, matrix, pose = _photograph(sheet, image, pose, frame_hw, surface, rng, hand=0.6)
    return _finish("form", image, sheet, matrix,
                   {"capture": "photo", "desk": surface, "pose": _pose_details(pose), "printed_digits": printed_digits})


def _table(sheet: _Sheet, bank: DigitBank, left: int, top: int, right: int) -> int:
    """A ruled table of items, quantities and prices filled in by hand; returns the y below it."""
    rng = sheet.rng
    width = right - left
    cols = [left, left + int(0.45 * width), left + int(0.65 * width), right]
    row_h, rows = 58, int(rng.integers(3, 5))
    draw = sheet.draw()
    bottom = top + row_h * (rows + 1)
    for x in cols:
        draw.line([x, top, x, bottom], fill=255, width=2)
    for k in range(rows + 2):
        draw.line([left, top + k * row_h, right, top + k * row_h], fill=255, width=2)
    for title, x0, x1 in zip(("Item", "Qty", "Price"), cols, cols[1:]):
        sheet.text(title, x0 + 10, top + 16, 22, max_width=x1 - x0 - 20, bold=True)
    for k in range(1, rows + 1):
        y = top + k * row_h
        h = int(rng.integers(30, 40))
        sheet.word(str(_ITEMS[int(rng.integers(len(_ITEMS)))]), cols[0] + 12, y + row_h - 6, h)
        for c, length in ((1, int(rng.integers(1, 3))), (2, int(rng.integers(2, 5)))):
            x = cols[c] + 12 + int(rng.integers(0, 20))
            sheet.table.append(len(sheet.numbers))
            sheet.number(bank, [int(v) for v in rng.integers(0, 10, length)], x, y + (row_h - h) // 2, h, wander=0.04,
                         right=cols[c + 1] - 8)
    return bottom


# --- card-video ----------------------------------------------------------------------------------

def card_video(bank: DigitBank, seed: int, frames: int, size: tuple[int, int] = FRAME_SIZE) -> list[Document]:
    """``frames`` consecutive webcam frames (height x width ``size``) of an index card moving over a desk.

    The card sways, drifts and turns a few degrees; its four corners stay in view in every frame. Each
    frame is a Document with its own ground truth (the same numbers, moved).
    """
    rng = np.random.default_rng([seed, KINDS.index("card-video")])
    fh, fw = size
    surface = str(rng.choice(["wood", "grey-fabric", "dark-fabric"]))
    desk = _desk(size, surface, rng)
    light = _light(size, rng)
    cw = 340
    ch = int(cw * 0.6)  # a 5 x 3 inch index card
    ruled = rng.random() < 0.6
    sheet = _Sheet(ch, cw, paper=np.float32([232, 242, 248]) + rng.normal(0, 3, 3),
                   pen=INK_BLUE if rng.random() < 0.5 else INK_BLACK, rng=rng)
    if ruled:
        draw = sheet.draw((130, 110, 235))
        draw.line([0, int(0.2 * ch), cw, int(0.2 * ch)], fill=200, width=2)  # the red header line
        blue = sheet.draw((225, 185, 140))
        for y in range(int(0.2 * ch) + 26, ch, 26):
            blue.line([0, y, cw, y], fill=160, width=1)
    two = rng.random() < 0.5
    h = int(ch * rng.uniform(0.2, 0.26))
    if two:
        for y in (int(0.26 * ch), int(0.6 * ch)):
            values = [int(v) for v in rng.integers(0, 10, int(rng.integers(2, 5)))]
            sheet.number(bank, values, int(cw * rng.uniform(0.1, 0.3)), y, h, wander=0.05, right=int(0.94 * cw))
    else:
        h = int(ch * rng.uniform(0.26, 0.32))
        values = [int(v) for v in rng.integers(0, 10, int(rng.integers(3, 6)))]
        sheet.number(bank, values, int(cw * rng.uniform(0.08, 0.2)), int(ch * 0.42), h, wander=0.05, right=int(0.94 * cw))
    card = sheet.render()
    scale = fw * rng.uniform(0.42, 0.55) / cw
    base = _random_pose(rng, size, (ch, cw), scale, shift=0.3, max_tilt=6.0, max_roll=4.0)
    sway = rng.uniform([20, 15], [45, 30])  # pixels
    periods = rng.uniform(70, 150, 3)  # frames (at 30 per second)
    phases = rng.uniform(0, 2 * np.pi, 3)
    shadow = rng.uniform(0.3, 0.5)
    shadow_rng = rng.integers(0, 2**31)
    documents = []
    for k in range(frames):
        pose = replace(base, cx=base.cx + sway[0] * np.sin(2 * np.pi * k / periods[0] + phases[0]) + rng.normal(0, 1.5),
                       cy=base.cy + sway[1] * np.sin(2 * np.pi * k / periods[1] + phases[1]) + rng.normal(0, 1.5),
                       roll=base.roll + 3.0 * np.sin(2 * np.pi * k / periods[2] + phases[2]))
        pose, matrix = _fit(pose, (ch, cw), size, Box(0, 0, cw, ch), margin=FRAME_MARGIN)
        frame = _lay_on_desk(desk, card, matrix, np.random.default_rng(shadow_rng), shadow)
        image = _camera(frame * light[..., None], rng, jpeg=(70, 90))
        documents.append(_finish("card-video", image, sheet, matrix,
                                 {"desk": surface, "frame": k, "ruled": ruled, "pose": _pose_details(pose)}))
    return documents


def write_card_video(path: str | Path, documents: list[Document], fps: float = 30.0) -> None:
    """Write card-video frames as an MJPG .avi, as a webcam clip would be saved."""
    fh, fw = documents[0].image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (fw, fh))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} (MJPG)")
    try:
        for document in documents:
            writer.write(document.image)
    finally:
        writer.release()
