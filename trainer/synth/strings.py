"""Generated number regions for the string reader: digits that touch, overlap and run into lines.

Each sample is a handwritten number of 1 to 10 MNIST digits, drawn as a pen would on real paper:
spacing from clearly apart to overlapping, slant, size, pen width and baseline varying, styles MNIST
lacks added by augmenting its digits (a 1 with a lead-in stroke and a foot, a 7 with a crossbar, an
open-top 4 drawn as strokes), punctuation between groups (``. , - /``, not part of the label), and
the distractors documents have: underlines and box borders through or under the digits, printed
security backgrounds (fine line patterns, guilloches), paper grain and uneven light, blur, noise and
JPEG. The result is a grey photo-like crop (dark ink on light paper) **and** its ink image made by
the edge's own ``edge.pipeline.segment.ink_image``: the ink image is what the string reader reads,
so the edge feeds it crops of ``Segmentation.ink`` and the two sides share the preprocessing code.

Training draws MNIST *training* digits; benchmarks and tests draw MNIST *test* digits. Every sample
is a pure function of its bank and seed (NumPy and OpenCV only, no TensorFlow).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from edge.pipeline.results import Box
from edge.pipeline.segment import ink_image
from edge.pipeline.strings import prepare_crop
from trainer.synth.pages import elastic

# Seed ranges of the splits, far apart so that no two splits ever share a sample.
TRAIN_SEEDS = 0  # training: seeds 0, 1, 2, ... with MNIST training digits
VALIDATION_SEEDS = 50_000_000  # held out from training: other seeds, MNIST training digits
TEST_SEEDS = 90_000_000  # the trainer's test strings (int8 check, report): MNIST *test* digits
BENCHMARK_SEEDS = 95_000_000  # benchmarks/strings.py: MNIST *test* digits

# Largest share of the narrower of two neighbours that they may overlap by.
MAX_OVERLAP = 0.33

STYLES = ("european-1", "crossed-7", "open-4")
DISTRACTORS = ("underline", "strike", "box", "comb", "background", "punctuation", "neighbours", "jpeg")


@dataclass(frozen=True)
class StringOptions:
    """How varied the generated numbers are; the defaults are the training and benchmark mix."""

    min_digits: int = 1
    max_digits: int = 10
    # Digit height in the rendered crop, pixels (the reader rescales to its input height anyway).
    digit_height: tuple[int, int] = (22, 64)
    # Gap between neighbours in digit heights: negative overlaps. Drawn per string from
    # ``spacing`` (apart ... overlapping), then jittered per gap.
    spacing: tuple[float, float] = (-0.2, 0.35)
    # Share of strings whose every gap is negative (the digits touch or overlap throughout).
    touching_share: float = 0.45
    max_slant: float = 0.35  # horizontal shear, x per y
    # Probability of each writing style for a digit it applies to.
    european_1: float = 0.35
    crossed_7: float = 0.3
    open_4: float = 0.25
    # Probability of each distractor for a string.
    underline: float = 0.25
    strike: float = 0.06  # a printed line through the digits' lower half (a form's box edge)
    box: float = 0.15  # box borders left and right of the number
    comb: float = 0.06  # one box per digit (forms), its walls between the digits
    background: float = 0.25  # printed security pattern
    punctuation: float = 0.2
    neighbours: float = 0.2  # ink of the lines above and below cut by the crop
    jpeg: float = 0.15
    # Margin of the crop around the digits' ink, in digit heights (what the edge's region crop adds,
    # drawn per sample so the reader does not depend on the exact margin).
    margin: tuple[float, float] = (0.04, 0.35)


@dataclass
class StringSample:
    text: str  # the digits, nothing else (punctuation is not part of the label)
    gray: np.ndarray  # photo-like grey crop, dark ink on light paper, uint8
    ink: np.ndarray  # its ink image (0 paper .. 255 ink): what the edge feeds the reader
    boxes: list[Box]  # per digit, in crop pixels, in reading order
    region: Box  # the digits' ink (union of ``boxes``), in crop pixels
    tags: tuple[str, ...] = field(default_factory=tuple)  # styles and distractors used

    def model_input(self, height: int, step: int = 4) -> np.ndarray:
        """The reader's input (without the edge's padding to its width step): the crop's ink as
        ``edge.pipeline.strings.prepare_crop`` makes it."""
        return prepare_crop(self.ink, height, step=step).image


class GlyphBank:
    """MNIST digits by class, cropped to their ink (training or test images, never both)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images = images
        self.by_class = [np.flatnonzero(labels == d) for d in range(10)]

    def sample(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        image = self.images[rng.choice(self.by_class[digit])]
        ys, xs = np.nonzero(image > 30)
        return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


# --- writing styles ---------------------------------------------------------------------------

def _pen(glyph: np.ndarray) -> int:
    """Pen width of an ink glyph, pixels (for strokes added to it)."""
    from edge.pipeline.normalize import stroke_width

    return max(1, int(round(stroke_width(glyph >= 128))))


def european_one(glyph: np.ndarray, rng: np.random.Generator, foot: bool) -> np.ndarray:
    """Add a lead-in stroke (down-left from the top) and optionally a foot to an MNIST 1."""
    h, w = glyph.shape
    pen = _pen(glyph)
    pad = int(0.5 * h)
    canvas = cv2.copyMakeBorder(glyph, 0, 0, pad, pad // 2, cv2.BORDER_CONSTANT, value=0)
    ys, xs = np.nonzero(canvas[: max(2, h // 8)] > 128)
    top_x, top_y = (int(xs.mean()), int(ys.min())) if len(xs) else (pad + w // 2, 0)
    length = h * rng.uniform(0.25, 0.45)
    angle = np.deg2rad(rng.uniform(25, 60))  # below the horizontal, towards the left
    end = (int(top_x - length * np.cos(angle)), int(top_y + length * np.sin(angle)))
    cv2.line(canvas, (top_x, top_y), end, 255, pen, cv2.LINE_AA)
    if foot:
        ys, xs = np.nonzero(canvas[h - max(2, h // 8) :] > 128)
        bx = int(xs.mean()) if len(xs) else top_x
        half = int(h * rng.uniform(0.15, 0.25))
        y = h - 1 - pen // 2
        cv2.line(canvas, (bx - half, y), (bx + half, y), 255, pen, cv2.LINE_AA)
    return _crop(canvas)


def crossed_seven(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a short crossbar through the stem of an MNIST 7, at about mid-height."""
    h, w = glyph.shape
    pen = _pen(glyph)
    y = int(h * rng.uniform(0.45, 0.6))
    xs = np.flatnonzero(glyph[y] > 128)
    cx = int(xs.mean()) if len(xs) else w // 2
    half = int(w * rng.uniform(0.25, 0.4))
    canvas = cv2.copyMakeBorder(glyph, 0, 0, half, half, cv2.BORDER_CONSTANT, value=0)
    tilt = int(rng.integers(-h // 12, h // 12 + 1))
    cv2.line(canvas, (cx, y + tilt), (cx + 2 * half, y - tilt), 255, pen, cv2.LINE_AA)
    return _crop(canvas)


def open_four(height: int, pen: int, rng: np.random.Generator) -> np.ndarray:
    """An open-top 4 drawn as pen strokes (MNIST's 4s are mostly closed or barely open)."""
    w = int(height * rng.uniform(0.6, 0.8))
    canvas = np.zeros((height + 2 * pen, w + 2 * pen), np.uint8)
    j = lambda v, s=0.05: v + rng.uniform(-s, s)  # noqa: E731 - a wobble per point
    bar = j(0.6, 0.08)
    left = [(j(0.2), j(0.0)), (j(0.05), bar)]
    across = [(j(0.05), bar), (j(0.98, 0.02), bar + rng.uniform(-0.05, 0.03))]
    stem = [(j(0.72), j(0.02)), (j(0.66), 1.0)]
    for stroke in (left, across, stem):
        pts = np.array([(pen + x * w, pen + y * height) for x, y in stroke], np.int32)
        cv2.polylines(canvas, [pts], False, 255, pen, cv2.LINE_AA)
    return _crop(elastic(canvas, rng, amount=height / 20))


def _crop(canvas: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(canvas > 30)
    if not len(ys):
        return canvas
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _shape(glyph: np.ndarray, height: int, slant: float, thickness: int, rng: np.random.Generator) -> np.ndarray:
    """Scale to ``height``, squeeze or stretch a little, slant, and thicken or thin the pen."""
    aspect = rng.uniform(0.85, 1.2)
    w = max(1, int(round(glyph.shape[1] * height / glyph.shape[0] * aspect)))
    glyph = cv2.resize(glyph, (w, height), interpolation=cv2.INTER_LINEAR)
    if slant:
        extra = int(abs(slant) * height) + 1
        matrix = np.float32([[1, -slant, (slant * height if slant > 0 else 0)], [0, 1, 0]])
        glyph = cv2.warpAffine(glyph, matrix, (w + extra, height), flags=cv2.INTER_LINEAR)
    if thickness:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(thickness) + 1,) * 2)
        glyph = cv2.dilate(glyph, kernel) if thickness > 0 else cv2.erode(glyph, kernel)
        if thickness < 0 and glyph.max() < 128:  # thinned away: keep the original pen
            return _shape(glyph, height, 0.0, 0, rng)
    return _crop(glyph)


def _glyph(bank: GlyphBank, digit: int, height: int, options: StringOptions, slant: float,
           thickness: int, rng: np.random.Generator, tags: set[str]) -> np.ndarray:
    if digit == 4 and rng.random() < options.open_4:
        tags.add("open-4")
        pen = max(1, int(round(height * rng.uniform(0.07, 0.14))))
        glyph = open_four(height, pen, rng)
        return _shape(glyph, height, slant, 0, rng)
    glyph = _shape(bank.sample(digit, rng), height, slant, thickness, rng)
    if digit == 1 and rng.random() < options.european_1:
        tags.add("european-1")
        glyph = european_one(glyph, rng, foot=rng.random() < 0.5)
    elif digit == 7 and rng.random() < options.crossed_7:
        tags.add("crossed-7")
        glyph = crossed_seven(glyph, rng)
    return elastic(glyph, rng, amount=height / 40)


# --- marks that are not digits ----------------------------------------------------------------

def _punctuation(mark: str, height: int, pen: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A handwritten ``. , - /`` and how far below the digits' top it sits (pixels)."""
    if mark == "/":
        w = int(height * rng.uniform(0.35, 0.6))
        canvas = np.zeros((height + 2 * pen, w + 2 * pen), np.uint8)
        cv2.line(canvas, (pen + w, pen), (pen, pen + height), 255, pen, cv2.LINE_AA)
        return _crop(canvas), int(rng.integers(-height // 10, height // 10 + 1))
    if mark == "-":
        w = int(height * rng.uniform(0.25, 0.45))
        canvas = np.zeros((3 * pen, w + 2 * pen), np.uint8)
        cv2.line(canvas, (pen, pen + pen // 2), (pen + w, pen + int(rng.integers(0, pen + 1))), 255, pen, cv2.LINE_AA)
        return _crop(canvas), int(height * rng.uniform(0.4, 0.6))
    size = max(2, int(pen * rng.uniform(1.0, 1.6)))
    canvas = np.zeros((size * 4, size * 3), np.uint8)
    cv2.circle(canvas, (size + size // 2, size), max(1, size // 2), 255, -1, cv2.LINE_AA)
    if mark == ",":
        cv2.line(canvas, (size + size // 2, size), (size, size * 3), 255, max(1, pen - 1), cv2.LINE_AA)
    return _crop(canvas), int(height * rng.uniform(0.85, 0.98))


def security_pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A printed background as cheques have: fine parallel lines, crossed lines or a guilloche (0..1)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.choice(("lines", "cross", "guilloche", "dots"))
    period = rng.uniform(3.0, 7.0)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == "guilloche":
        amplitude = rng.uniform(2, 8)
        wave = rng.uniform(15, 60)
        phase = amplitude * np.sin(2 * np.pi * (xx * np.sin(angle) - yy * np.cos(angle)) / wave)
        pattern = np.cos(2 * np.pi * (along + phase) / period)
    elif kind == "dots":
        pattern = np.cos(2 * np.pi * xx / period) * np.cos(2 * np.pi * yy / period)
    else:
        pattern = np.cos(2 * np.pi * along / period)
        if kind == "cross":
            other = xx * np.cos(angle + np.pi / 2) + yy * np.sin(angle + np.pi / 2)
            pattern = np.maximum(pattern, np.cos(2 * np.pi * other / period))
    sharp = rng.uniform(2.0, 6.0)  # thin printed lines, not a sine wave
    return np.clip((pattern - 1 + 2 / sharp) * sharp / 2, 0, 1).astype(np.float32)


def paper_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Grain and slow unevenness of paper and light, in grey levels around 0."""
    h, w = shape
    grain = rng.normal(0, rng.uniform(1, 6), shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), rng.uniform(0.3, 1.2))
    coarse = rng.normal(0, 1, (3, 4)).astype(np.float32)
    light = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(0, 14)
    return grain + light


# --- the sample --------------------------------------------------------------------------------

def make_string(bank: GlyphBank, seed: int, options: StringOptions = StringOptions(),
                text: str | None = None) -> StringSample:
    """One generated number region; the same (bank, seed, options, text) always gives the same sample.

    ``text`` fixes the digits (tests); otherwise 1 to 10 random digits are drawn.
    """
    rng = np.random.default_rng(seed)
    if text is None:
        n = int(rng.integers(options.min_digits, options.max_digits + 1))
        text = "".join(str(int(v)) for v in rng.integers(0, 10, n))
    if not text or not text.isdigit():
        raise ValueError(f"text must be digits, got {text!r}")
    tags: set[str] = set()
    height = int(rng.integers(options.digit_height[0], options.digit_height[1] + 1))
    slant = float(rng.uniform(-options.max_slant, options.max_slant)) * (rng.random() < 0.7)
    thickness = int(rng.choice((-1, 0, 0, 0, 1, 1, 2))) if height >= 36 else int(rng.choice((0, 0, 0, 1)))
    touching = rng.random() < options.touching_share
    if touching:
        tags.add("touching")
        spacing = float(rng.uniform(options.spacing[0], -0.02))
    else:
        spacing = float(rng.uniform(*options.spacing))
    glyphs = []
    for char in text:
        h = int(round(height * rng.uniform(0.88, 1.1)))
        s = slant + float(rng.uniform(-0.08, 0.08))
        glyphs.append(_glyph(bank, int(char), h, options, s, thickness, rng, tags))
    pen = max(1, int(round(height * 0.1)))

    # Groups separated by punctuation ("12.05.2024", "3-14"), only between digits.
    marks: dict[int, str] = {}
    if len(text) >= 3 and rng.random() < options.punctuation:
        tags.add("punctuation")
        mark = str(rng.choice((".", ",", "-", "/")))
        for i in sorted(rng.choice(np.arange(1, len(text)), size=min(2, len(text) - 1), replace=False)):
            marks[int(i)] = mark

    # Lay the glyphs out on a wide ink canvas (coverage 0..1), left to right.
    margin = 2 * height
    total = sum(g.shape[1] for g in glyphs) + len(glyphs) * height + 4 * margin
    ink = np.zeros((4 * height, total), np.float32)
    baseline = 2 * height  # bottom of a digit of the nominal height
    x = margin
    boxes: list[Box] = []
    for i, glyph in enumerate(glyphs):
        if i in marks:
            x += int(height * rng.uniform(0.08, 0.2))
            mark, top = _punctuation(marks[i], height, pen, rng)
            _paste(ink, mark, x, baseline - height + top)
            x += mark.shape[1] + int(height * rng.uniform(0.08, 0.2))
        elif i:
            gap = spacing + float(rng.uniform(-0.06, 0.06))
            if touching:
                gap = min(gap, -0.02)
            x += int(round(gap * height))
            # Never let a digit swallow its neighbour: at most a third of the narrower one overlaps
            # (more is illegible to people too).
            x = max(x, boxes[-1].x2 - int(MAX_OVERLAP * min(boxes[-1].w, glyph.shape[1])))
        gh, gw = glyph.shape
        y = baseline - gh + int(rng.integers(-height // 12, height // 12 + 1))
        _paste(ink, glyph, x, y)
        boxes.append(Box(x, y, gw, gh))
        x += gw

    region = boxes[0]
    for b in boxes[1:]:
        region = region.union(b)
    printed = np.zeros_like(ink)
    _printed_marks(printed, region, boxes, height, options, rng, tags)
    if rng.random() < options.neighbours:
        tags.add("neighbours")
        _neighbours(ink, bank, region, height, rng)

    # The crop: the region with a margin, as the edge cuts it (plus context for the ink image,
    # which must see paper around the digits, as it does on a page).
    m = options.margin
    top, bottom = (int(round(height * rng.uniform(*m))) for _ in range(2))
    left, right = (int(round(height * rng.uniform(*m))) for _ in range(2))
    context = height
    y0, y1 = max(0, region.y - top - context), min(ink.shape[0], region.y2 + bottom + context)
    x0, x1 = max(0, region.x - left - context), min(ink.shape[1], region.x2 + right + context)
    gray = _render(ink[y0:y1, x0:x1], printed[y0:y1, x0:x1], options, rng, tags)
    full_ink = ink_image(gray, "dark-on-light")
    # Cut the context away again: what remains is the region plus its margin.
    cx0, cy0 = region.x - left - x0, region.y - top - y0
    cx1, cy1 = region.x2 + right - x0, region.y2 + bottom - y0
    cx0, cy0 = max(0, cx0), max(0, cy0)
    gray, full_ink = gray[cy0:cy1, cx0:cx1], full_ink[cy0:cy1, cx0:cx1]
    shift_x, shift_y = x0 + cx0, y0 + cy0
    boxes = [Box(b.x - shift_x, b.y - shift_y, b.w, b.h) for b in boxes]
    region = Box(region.x - shift_x, region.y - shift_y, region.w, region.h)
    return StringSample(text=text, gray=gray, ink=full_ink, boxes=boxes, region=region,
                        tags=tuple(sorted(tags)))


def _paste(canvas: np.ndarray, glyph: np.ndarray, x: int, y: int) -> None:
    h, w = glyph.shape
    y = max(0, y)
    region = canvas[y : y + h, x : x + w]
    np.maximum(region, glyph[: region.shape[0], : region.shape[1]] / np.float32(255), out=region)


def _printed_marks(printed: np.ndarray, region: Box, boxes: list[Box], height: int,
                   options: StringOptions, rng: np.random.Generator, tags: set[str]) -> None:
    """Underlines, strike-through lines, box borders and comb boxes (coverage 0..1, in place)."""
    h, w = printed.shape
    thick = int(rng.integers(1, max(2, height // 16) + 2))
    reach = int(height * rng.uniform(0.3, 2.0))
    x0, x1 = max(0, region.x - reach), min(w, region.x2 + reach)
    if rng.random() < options.underline:
        tags.add("underline")
        # From a little below the digits' feet to well into their bottom part.
        y = region.y2 + int(height * rng.uniform(-0.25, 0.2))
        dy = int(rng.integers(-2, 3))
        cv2.line(printed, (x0, y), (x1, y + dy), 1.0, thick, cv2.LINE_AA)
    if rng.random() < options.strike:
        tags.add("strike")
        y = region.y + int(region.h * rng.uniform(0.45, 0.85))
        cv2.line(printed, (x0, y), (x1, y), 1.0, thick, cv2.LINE_AA)
    if rng.random() < options.box:
        tags.add("box")
        top = region.y - int(height * rng.uniform(0.0, 0.4))
        bottom = region.y2 + int(height * rng.uniform(-0.1, 0.3))
        left = region.x - int(height * rng.uniform(0.05, 0.5))
        right = region.x2 + int(height * rng.uniform(0.05, 0.5))
        cv2.rectangle(printed, (left, top), (right, bottom), 1.0, thick, cv2.LINE_AA)
    if len(boxes) > 1 and rng.random() < options.comb:
        tags.add("comb")
        top = region.y - int(height * rng.uniform(0.05, 0.3))
        bottom = region.y2 + int(height * rng.uniform(0.0, 0.2))
        walls = [boxes[0].x - int(height * 0.15)]
        walls += [(a.x2 + b.x) // 2 for a, b in zip(boxes, boxes[1:])]
        walls.append(boxes[-1].x2 + int(height * 0.15))
        for wx in walls:
            cv2.line(printed, (wx, top), (wx, bottom), 1.0, thick, cv2.LINE_AA)
        cv2.line(printed, (walls[0], bottom), (walls[-1], bottom), 1.0, thick, cv2.LINE_AA)


def _neighbours(ink: np.ndarray, bank: GlyphBank, region: Box, height: int, rng: np.random.Generator) -> None:
    """Digits of the lines above and below, which a generous crop catches the edge of."""
    for above in (True, False):
        if rng.random() < 0.5:
            continue
        x = region.x + int(rng.integers(-height, max(1 - height, region.w - height) + 1))
        while x < region.x2 + height:
            glyph = cv2.resize(bank.sample(int(rng.integers(0, 10)), rng), None, fx=height / 20, fy=height / 20)
            y = region.y - glyph.shape[0] - int(height * rng.uniform(0.15, 0.5)) if above else \
                region.y2 + int(height * rng.uniform(0.15, 0.5))
            if y >= 0 and y + glyph.shape[0] <= ink.shape[0] and x >= 0:
                _paste(ink, glyph, x, y)
            x += glyph.shape[1] + int(height * rng.uniform(0.1, 0.6))


def _render(ink: np.ndarray, printed: np.ndarray, options: StringOptions, rng: np.random.Generator,
            tags: set[str]) -> np.ndarray:
    """Grey photo-like crop: paper, printed background and lines, handwriting, then the camera."""
    shape = ink.shape
    paper = np.full(shape, rng.uniform(165, 250), np.float32) + paper_texture(shape, rng)
    if rng.random() < options.background:
        tags.add("background")
        paper -= security_pattern(shape, rng) * rng.uniform(15, 70)
    page = paper - printed * rng.uniform(60, 190)
    contrast = rng.uniform(80, 220)  # pencil to black marker
    page = page * (1 - ink) + (page - contrast) * ink
    blur = rng.uniform(0, 1.3)
    if blur > 0.4:
        page = cv2.GaussianBlur(page, (0, 0), blur)
    page += rng.normal(0, rng.uniform(0, 7), shape)
    gray = np.clip(page, 0, 255).astype(np.uint8)
    if rng.random() < options.jpeg:
        tags.add("jpeg")
        _, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return gray


def clean_options() -> StringOptions:
    """No distractors and no new styles: plain MNIST digits, for isolating what the reader can do."""
    return replace(StringOptions(), european_1=0.0, crossed_7=0.0, open_4=0.0, underline=0.0, strike=0.0,
                   box=0.0, comb=0.0, background=0.0, punctuation=0.0, neighbours=0.0, jpeg=0.0)
