"""Synthetic handwritten pages with exact ground truth, for tests and benchmarks.

MNIST *test* digits (never training digits) are composed onto paper-like pages: several numbers per
line, then degraded by one kind of trouble at a time (noise, blur, tilt, shadow, JPEG, coloured ink,
chalk on a board, ruled paper, touching and broken digits). Hershey script digits drawn by OpenCV
add handwriting that is not MNIST at all. Every digit's box is known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.pipeline.results import Box

KINDS = (
    "clean", "noisy", "blurred", "rotated", "shadow", "jpeg", "colour", "inverted",
    "hershey", "ruled", "touching", "broken", "blank",
)


@dataclass
class Page:
    kind: str
    image: np.ndarray  # BGR uint8
    lines: list[list[str]]  # numbers per line, top to bottom
    digits: list[tuple[int, Box]] = field(default_factory=list)  # ground truth, reading order
    numbers: list[list[int]] = field(default_factory=list)  # indices into digits, per number

    @property
    def text(self) -> str:
        return "\n".join(" ".join(line) for line in self.lines)


class DigitBank:
    """MNIST test digits by class, cropped to their ink."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.by_class = [np.flatnonzero(labels == d) for d in range(10)]
        self.images = images

    def sample(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        image = self.images[rng.choice(self.by_class[digit])]
        ys, xs = np.nonzero(image > 30)
        return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


# A digit's true box is its pen stroke: glyph pixels at least this bright (0-255), half covered by ink.
# MNIST's grey levels are the anti-aliasing of binary strokes, so half coverage is where a stroke's
# edge lay; its faint fringe (down to the 30 that ``DigitBank`` crops at) widens a thin 1's box by up
# to half again, more than any reader's box of the visible ink can match at IoU 0.5.
HALF_COVERED = 128


def ink_box(glyph: np.ndarray, x: int, y: int) -> Box:
    """The box of a glyph's half-covered pixels, placed at (x, y); the whole glyph when none are."""
    ys, xs = np.nonzero(glyph >= HALF_COVERED)
    if not len(xs):
        return Box(x, y, glyph.shape[1], glyph.shape[0])
    return Box(x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min()) + 1, int(ys.max() - ys.min()) + 1)


def elastic(glyph: np.ndarray, rng: np.random.Generator, amount: float = 1.5) -> np.ndarray:
    """Wobble a glyph smoothly, as a hand does, so that printed fonts stop looking printed."""
    h, w = glyph.shape
    field = rng.normal(0, 1, (2, 3, 3)).astype(np.float32)  # coarse: the whole digit bends, no jitter
    dx = cv2.resize(field[0], (w, h), interpolation=cv2.INTER_CUBIC) * amount
    dy = cv2.resize(field[1], (w, h), interpolation=cv2.INTER_CUBIC) * amount
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(glyph, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)


def hershey_digit(digit: int, height: int, thickness: int, rng: np.random.Generator) -> np.ndarray:
    """A digit in OpenCV's Hershey script font, slanted and wobbled, as an ink image cropped to its ink."""
    font = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX if rng.random() < 0.7 else cv2.FONT_HERSHEY_SIMPLEX
    scale = height / 22.0
    canvas = np.zeros((height * 3, height * 3), np.uint8)
    cv2.putText(canvas, str(digit), (height // 2, int(height * 2.2)), font, scale, 255, thickness, cv2.LINE_AA)
    shear = rng.uniform(-0.25, 0.15)
    matrix = np.float32([[1, shear, -shear * height * 1.5], [0, 1, 0]])
    canvas = cv2.warpAffine(canvas, matrix, canvas.shape[::-1], flags=cv2.INTER_LINEAR)
    canvas = elastic(canvas, rng, amount=height / 12)
    ys, xs = np.nonzero(canvas > 30)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _glyph(bank: DigitBank, digit: int, height: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "hershey":
        return hershey_digit(digit, height, int(rng.integers(1, max(2, height // 12) + 1)), rng)
    glyph = bank.sample(digit, rng)
    scale = height / glyph.shape[0]
    size = (max(1, round(glyph.shape[1] * scale)), height)
    glyph = cv2.resize(glyph, size, interpolation=cv2.INTER_LINEAR)
    if kind == "broken" and glyph.shape[0] > 12:
        # Cut a thin band across the digit, as a skipping pen does.
        y = int(rng.integers(glyph.shape[0] // 3, 2 * glyph.shape[0] // 3))
        band = max(2, height // 18)
        glyph[y : y + band] = 0
    return glyph


def make_page(kind: str, bank: DigitBank, seed: int, size: tuple[int, int] = (900, 1200),
              digit_height: tuple[int, int] = (36, 60), n_lines: int = 6) -> Page:
    """One page of the given kind; the same (kind, seed) always gives the same page."""
    if kind not in KINDS:
        raise ValueError(f"unknown page kind {kind!r}")
    rng = np.random.default_rng(seed)
    height_px, width_px = size
    ink = np.zeros(size, np.float32)  # ink coverage 0..1
    digits: list[tuple[int, Box]] = []
    lines: list[list[str]] = []
    numbers: list[list[int]] = []
    margin = 60
    y = margin
    line_pitch = (height_px - 2 * margin) // max(1, n_lines)
    for _ in range(n_lines if kind != "blank" else 0):
        h = int(rng.integers(*digit_height))
        x = margin + int(rng.integers(0, 40))
        line_numbers: list[str] = []
        while True:
            length = int(rng.integers(1, 6))
            values = [int(v) for v in rng.integers(0, 10, size=length)]
            glyphs = [_glyph(bank, v, h, kind, rng) for v in values]
            gap = (-max(2, h // 14)) if kind == "touching" else int(h * rng.uniform(0.08, 0.22))
            width = sum(g.shape[1] for g in glyphs) + gap * (length - 1)
            if x + width > width_px - margin:
                break
            indices = []
            for value, glyph in zip(values, glyphs):
                gy = y + int(rng.integers(-h // 10, h // 10 + 1))  # handwriting wanders
                gh, gw = glyph.shape
                region = ink[gy : gy + gh, x : x + gw]
                np.maximum(region, glyph[: region.shape[0], : region.shape[1]] / 255.0, out=region)
                indices.append(len(digits))
                digits.append((value, ink_box(glyph, x, gy)))
                x += gw + gap
            numbers.append(indices)
            line_numbers.append("".join(map(str, values)))
            x += int(h * rng.uniform(1.3, 2.5))  # wider than a digit: a new number
        if line_numbers:
            lines.append(line_numbers)
        y += line_pitch
    image = _render(kind, ink, rng)
    if kind == "rotated":
        image, digits = _rotate(image, digits, float(rng.uniform(-5, 5)))
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 45))])
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return Page(kind=kind, image=image, lines=lines, digits=digits, numbers=numbers)


def _render(kind: str, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = ink.shape
    paper = np.array([238, 242, 245], np.float32) + rng.normal(0, 2, 3)  # BGR off-white
    pen = np.array([40, 30, 25], np.float32)
    if kind == "colour":
        paper = np.array([170, 235, 250], np.float32)  # yellow sticky note
        pen = np.array([170, 60, 20], np.float32) if rng.random() < 0.5 else np.array([40, 40, 190], np.float32)
    if kind == "inverted":
        paper = np.array([45, 55, 40], np.float32)  # green-black board
        pen = np.array([235, 235, 230], np.float32)  # chalk
    alpha = ink[..., None]
    page = paper * (1 - alpha) + pen * alpha
    if kind == "ruled":
        pitch = int(rng.integers(38, 52))
        offset = int(rng.integers(0, pitch))
        rule = np.array([200, 160, 120], np.float32)  # pale blue lines, BGR
        for yy in range(offset, h, pitch):
            page[yy : yy + 2] = np.minimum(page[yy : yy + 2], rule)
        page[:, 80:82] = np.minimum(page[:, 80:82], np.array([140, 140, 230], np.float32))  # red margin
    if kind == "shadow":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        gradient = 0.45 + 0.55 * (xx / w) * (0.6 + 0.4 * yy / h)
        blob = np.exp(-(((xx - w * 0.3) / (w * 0.25)) ** 2 + ((yy - h * 0.6) / (h * 0.3)) ** 2))
        page = page * (gradient - 0.25 * blob)[..., None]
    if kind in ("noisy", "jpeg", "shadow", "colour", "inverted", "blank"):
        page = page + rng.normal(0, 9 if kind == "noisy" else 4, page.shape)
    if kind == "noisy":
        page = cv2.GaussianBlur(page, (0, 0), 0.8)
    if kind == "blurred":
        page = cv2.GaussianBlur(page, (0, 0), 1.8)
    return np.clip(page, 0, 255).astype(np.uint8)


def _rotate(image: np.ndarray, digits: list[tuple[int, Box]], degrees: float):
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    border = tuple(int(v) for v in np.median(image.reshape(-1, 3), axis=0))
    rotated = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=border)
    moved = []
    for value, b in digits:
        corners = np.array([[b.x, b.y, 1], [b.x2, b.y, 1], [b.x, b.y2, 1], [b.x2, b.y2, 1]], np.float32)
        pts = corners @ matrix.T
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        moved.append((value, Box(int(x0), int(y0), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0)))))
    return rotated, moved


def _stamp(canvas: np.ndarray, glyph: np.ndarray, x: int, y: int, pen=(40, 30, 25)) -> None:
    """Darken ``canvas`` (BGR) with an ink glyph (bright on 0) at x, y."""
    h, w = glyph.shape
    region = canvas[y : y + h, x : x + w]
    alpha = glyph[: region.shape[0], : region.shape[1], None].astype(np.float32) / 255.0
    region[:] = (region * (1 - alpha) + np.float32(pen) * alpha).astype(np.uint8)


def camera_frame(bank: DigitBank, rng: np.random.Generator, digits: int = 5,
                 size: tuple[int, int] = (480, 640)) -> tuple[np.ndarray, str]:
    """A webcam-like frame: one number of ``digits`` MNIST test digits on grey paper, with noise."""
    h, w = size
    frame = np.full((h, w, 3), 205, np.float32) + rng.normal(0, 3, (h, w, 3))
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    value = "".join(str(int(v)) for v in rng.integers(0, 10, digits))
    height = int(h * 0.22)
    x = int(w * 0.08)
    for char in value:
        glyph = bank.sample(int(char), rng)
        glyph = cv2.resize(glyph, (max(1, round(glyph.shape[1] * height / glyph.shape[0])), height))
        _stamp(frame, glyph, x, int(h * 0.4))
        x += glyph.shape[1] + int(height * 0.15)
    return frame, value


def a4_page(bank: DigitBank, rng: np.random.Generator, digits: int = 40) -> tuple[np.ndarray, list[str]]:
    """An A4 page scanned at 300 dpi (2480x3508) with ``digits`` digits in numbers of four, 7 mm tall."""
    page = np.full((3508, 2480, 3), 242, np.uint8)
    height = 83  # 7 mm at 300 dpi
    numbers = []
    per_row = 2
    for i in range(digits // 4):
        value = "".join(str(int(v)) for v in rng.integers(0, 10, 4))
        numbers.append(value)
        x = 300 + (i % per_row) * 1000
        y = 300 + (i // per_row) * 300
        for char in value:
            glyph = bank.sample(int(char), rng)
            glyph = cv2.resize(glyph, (max(1, round(glyph.shape[1] * height / glyph.shape[0])), height))
            _stamp(page, glyph, x, y)
            x += glyph.shape[1] + 15
    return page, numbers
