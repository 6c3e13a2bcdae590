"""Examples of the "not a digit" class, made the way the edge would see them.

The segmenter hands the classifier every blob of ink it finds: pieces of digits, two digits that
touch, letters and symbols printed on a form, pieces of handwritten words the splitter cut apart,
ticks and crossings-out, box borders and pieces of ruled lines, the edge of a sheet with its
shadow, wood or cloth under the paper. Each kind here
draws such ink (``trainer.synth.marks``), passes it through a model of the camera and segmenter
(contrast, blur, noise, a threshold, one blob kept and cut to its box, 20-120 px tall) and then
through the edge's own normaliser, so a negative reaches the model exactly as a real one would.

Nothing a person would read as a digit may become a negative, or the model learns to reject real
digits: a normalised result that is an upright straight stroke (a 1) or a lone ring (a 0), a piece
of a digit that still closes a loop, and (with a ``DigitReference``) anything lying closer to a real
MNIST digit than the median real digit does, is drawn again. Glyphs that fail that last rule for
most of their renders (l I O o / ( ) ...) are left out of the lists altogether (``glyph_evidence``).

Everything is seeded: the same (kind, seed) always gives the same images with the same fonts
installed, and each kind has its own random stream, so adding a kind changes none of the others.
NumPy, OpenCV and Pillow only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from edge.pipeline.ink import between_paths, cut_paths
from edge.pipeline.normalize import to_model_input
from edge.pipeline.split import cut_positions
from edge.runtime.metadata import InputSpec

from . import marks
from .documents import CURSIVE_LETTERS, script_word

NEGATIVE_KINDS = (
    "digit-piece",  # a stroke or part cut off a digit, under half its ink
    "digit-pair",  # two digits side by side or touching, in one crop
    "letter",  # printed and Hershey letters, upper and lower case
    "symbol",  # punctuation, currency, arithmetic and other form symbols
    "pen-mark",  # ticks, crosses, scribbles, underlines
    "box-line",  # box corners and borders, rows of character boxes, ruled-line pieces
    "paper-edge",  # the edge of a sheet with its soft shadow; shadow strips
    "texture",  # wood grain, woven fabric, paper fibres, thresholded
    "script-piece",  # a letter or two cut out of a joined-up handwritten word
)

# Height of the blob as the segmenter finds it, in pixels: small print on a scan to a close photo.
BLOB_HEIGHT = (20, 120)
# Ink contrast after the segmenter's background normalisation, as a share of full (faint pencil .. marker).
CONTRAST = (0.3, 1.0)
# Camera noise, grey levels (standard deviation).
NOISE = (0.0, 8.0)
# Share of blobs that are out of focus, and how much (Gaussian sigma, pixels).
BLUR_SHARE, BLUR_SIGMA = 0.3, (0.5, 1.2)
# Where the segmenter's threshold cuts a blob, as a share of its brightest ink: it keeps stroke
# cores and more or less of the anti-aliased rims and shadows.
THRESHOLD = (0.3, 0.55)
# Textures are thresholded higher: their ink is a continuum, and a low cut joins it all into one slab.
TEXTURE_THRESHOLD = (0.5, 0.85)
# The segmenter drops a blob filling more than this share of its box when it is wider than
# SOLID_MIN_ASPECT of its height (a 1 may fill its narrow box): solid blobs are no writing.
SOLID_FILL, SOLID_MIN_ASPECT = 0.88, 0.4
# Components this small (longest side, pixels) are specks the segmenter drops before grouping.
SPECK = 3
# A piece of a digit keeps this share of the digit's ink: enough to be a real stroke, under half so
# that no one would still read it as the digit it came from.
PIECE_SHARE = (0.12, 0.4)

# Joined-up words for the script-piece kind: this many letters, a capital first this often, written
# this tall (ascender to descender, as a share of a digit written beside them: a form's words and
# numbers are written at about the same size).
SCRIPT_LETTERS = (2, 8)
SCRIPT_CAPITAL_SHARE = 0.3
SCRIPT_HEIGHT = (0.8, 1.3)
# A piece spans this many of the word's cut intervals (the edge's own ``cut_positions``, at the
# word's height), cut along the edge's ``cut_paths``, and is this wide (share of the word's height):
# what the splitter hands the classifier when it cuts a word it takes for touching digits.
SCRIPT_SPAN = (1, 4)
SCRIPT_WIDTH = (0.2, 1.1)
# Cut paths may wander this far from their column (share of the word's height), as the splitter's do.
SCRIPT_CUT_RADIUS = 0.15

# Glyphs are left out when at least GLYPH_INSIDE_LIMIT of their renders lie "inside the digits"
# (``glyph_evidence``: closer to an MNIST training digit than the median test digit is), measured
# over 100 renders each with the shipped normaliser. Letters out (share inside): l .99, j .98,
# I .94, i .86, f .76, J .57, t .55, O .30, o .22 -- normalised to a 20 px box they are 1s and 0s.
# The doubtful S Z B g q stay in: .07, .04, .00, .00, .17. Symbols out: / ( ) | ! [ ] \ { } (1.0
# to .97), ' (.80), the printed check mark (.59), comma (.53), ? (.39, a 7), ; (.36).
GLYPH_INSIDE_LIMIT = 0.2
EXCLUDED_LETTERS = "IJOfijlot"
LETTERS = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in EXCLUDED_LETTERS)
SYMBOLS = "+-.:$%#&*=<>@_~^\"€£×÷§±→✗•№"
# The degree sign is left out too: few renders are inside the digits (.06), but normalised to a
# 20 px box its ring is a 0 to a person.
EXCLUDED_SYMBOLS = "/()|![]\\{}'✓,?;°"

# A normalised image is "a 1" when its ink spreads less than ONE_SPREAD of the digit box across its
# long axis (standard deviation from its second moments) and that axis leans less than ONE_MAX_LEAN
# degrees from upright. Together they flag 97.7% of MNIST training 1s (the rest carry long flags or
# bases) and 0.2-8.5% of the other digits (narrow 8s and 9s most).
ONE_SPREAD = 0.11
ONE_MAX_LEAN = 45.0
# Paper edges are drawn at most this many degrees from horizontal: a steeper line lies among the
# slanted MNIST 1s once normalised (they lean up to about 45 degrees from upright; a pilot model
# read edges 40 degrees from horizontal as 1s).
PAPER_EDGE_MAX_ANGLE = 35.0
# Holes smaller than this (pixels at 28x28) are ink texture, not a loop.
MIN_HOLE = 3
# A ring reads as a 0 when its hole covers this share of its box and the box is this wide for its
# height (MNIST 0s: holes of a quarter to a half of the box).
RING_HOLE, RING_ASPECT = 0.2, (0.45, 1.6)


@dataclass(frozen=True)
class NegativeSet:
    """Reject-class model inputs with the kind each was drawn as."""

    images: np.ndarray  # (N, height, width) uint8, as the edge normaliser makes them
    kinds: np.ndarray  # (N,) index into ``names``
    names: tuple[str, ...] = NEGATIVE_KINDS

    def of_kind(self, kind: str) -> np.ndarray:
        return self.images[self.kinds == self.names.index(kind)]


def normalise(crop: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The edge's normaliser driven by a model's input spec: a blob's ink -> one model input.

    The only call into ``edge.pipeline.normalize`` in the trainer, so its signature lives in one place.
    """
    return to_model_input(
        crop,
        box=spec.digit_box,
        size=(spec.height, spec.width),
        target_stroke=spec.stroke_width,
        light_on_dark=spec.polarity == "light-on-dark",
    )


def kind_rng(kind: str, seed: int) -> np.random.Generator:
    """The random stream of one kind under one seed (independent of the other kinds)."""
    return np.random.default_rng([int(seed), zlib.crc32(kind.encode())])


# ------------------------------------------------------------------------- the segmenter's view


def segmenter_view(ink: np.ndarray, rng: np.random.Generator, pick: str = "largest",
                   min_height: int = 1, threshold: tuple[float, float] = THRESHOLD) -> np.ndarray | None:
    """How the edge's segmenter would hand over this ink: one blob's ink cut to its box.

    Random contrast, blur and noise; a threshold at a random share of the brightest ink; then the
    ``pick`` ("largest" component, "all" components that are not specks, as the segmenter groups a
    glyph's parts, or a "random" one at least ``min_height`` tall). The blob keeps its anti-aliased
    rim (its mask grown by a pixel), as the segmenter's crops do. None when nothing fits or the
    segmenter would drop the blob as solid.
    """
    ink = np.asarray(ink, np.float32) * rng.uniform(*CONTRAST)
    ink = cv2.copyMakeBorder(ink, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0)
    if rng.random() < BLUR_SHARE:
        ink = cv2.GaussianBlur(ink, (0, 0), rng.uniform(*BLUR_SIGMA))
    peak = float(ink.max())
    if peak <= 0:
        return None
    mask = (ink > rng.uniform(*threshold) * peak).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    sizes = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    if pick == "largest":
        chosen = [1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    elif pick == "all":
        chosen = [1 + i for i in np.flatnonzero(sizes > SPECK)]
    elif pick == "random":
        tall = np.flatnonzero(stats[1:, cv2.CC_STAT_HEIGHT] >= min_height)
        chosen = [1 + int(rng.choice(tall))] if len(tall) else []
    else:
        raise ValueError(f"unknown pick {pick!r}")
    if not chosen:
        return None
    own = np.isin(labels, chosen).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(own)
    if w > SOLID_MIN_ASPECT * h and own.sum() > SOLID_FILL * w * h:
        return None
    keep = cv2.dilate(own, np.ones((3, 3), np.uint8))
    noisy = ink + rng.normal(0, rng.uniform(*NOISE), ink.shape).astype(np.float32)
    crop = np.where(keep > 0, np.clip(noisy, 0, 255), 0).astype(np.uint8)
    ys, xs = np.nonzero(keep)
    return crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def scale_to_height(ink: np.ndarray, height: int) -> np.ndarray:
    """Resize an ink image to ``height`` pixels tall, keeping its aspect ratio."""
    h, w = ink.shape
    new_w = max(1, round(w * height / h))
    interpolation = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    return np.clip(cv2.resize(ink.astype(np.float32), (new_w, height), interpolation=interpolation), 0, 255).astype(np.uint8)


def _digit_ink(digits: np.ndarray, rng: np.random.Generator, height: int) -> np.ndarray:
    """One random MNIST digit cropped to its ink and scaled to ``height`` pixels."""
    image = digits[int(rng.integers(len(digits)))]
    return scale_to_height(marks.crop_to_ink(image), height)


def edge_digits(digits: np.ndarray, seed: int, spec: InputSpec) -> np.ndarray:
    """MNIST digits as the edge would see them: drawn 20-120 px tall, through ``segmenter_view``
    (all pieces, as the segmenter groups a broken digit) and the edge normaliser, in order."""
    rng = np.random.default_rng([int(seed), zlib.crc32(b"edge-digits")])
    out = np.empty((len(digits), spec.height, spec.width), np.uint8)
    for i, image in enumerate(digits):
        ink = scale_to_height(marks.crop_to_ink(image), int(rng.integers(*BLOB_HEIGHT)))
        crop = segmenter_view(ink, rng, pick="all")
        out[i] = normalise(crop if crop is not None else ink, spec)
    return out


# ------------------------------------------------------------------------------ shape checks


def _axes(image: np.ndarray) -> tuple[float, float]:
    """Spread of the ink across its long axis (standard deviation, pixels) and the lean of that
    axis from upright (degrees), from the ink's second moments."""
    m = cv2.moments(image.astype(np.float32))
    if m["m00"] <= 0:
        return float("inf"), 0.0
    cov = np.array([[m["mu20"], m["mu11"]], [m["mu11"], m["mu02"]]]) / m["m00"]
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, 1]  # (x, y) of the long axis
    lean = float(np.degrees(np.arctan2(abs(major[0]), abs(major[1]))))
    return float(np.sqrt(max(values[0], 0.0))), lean


def looks_like_one(image: np.ndarray, digit_box: int = 20) -> bool:
    """A lone straight stroke near upright: a valid 1 to anyone, so never a negative.

    ``ONE_SPREAD`` and ``ONE_MAX_LEAN`` are set so that nearly all MNIST 1s (which lean up to
    about 40 degrees and carry short flags and bases) count as 1s here.
    """
    spread, lean = _axes(image)
    return spread < ONE_SPREAD * digit_box and lean < ONE_MAX_LEAN


def looks_like_zero(image: np.ndarray) -> bool:
    """One ring of ink around one large hole, about as wide as tall: a 0 (an o, a degree sign, a
    thread loop of cloth), whatever it was drawn as."""
    binary = (image >= 128).astype(np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    outer = [c for c, h in zip(contours, hierarchy[0]) if h[3] < 0 and cv2.contourArea(c) >= MIN_HOLE]
    holes = [c for c, h in zip(contours, hierarchy[0]) if h[3] >= 0 and cv2.contourArea(c) >= MIN_HOLE]
    if len(outer) != 1 or len(holes) != 1:
        return False
    x, y, w, h = cv2.boundingRect(outer[0])
    return RING_ASPECT[0] <= w / h <= RING_ASPECT[1] and cv2.contourArea(holes[0]) >= RING_HOLE * w * h


def has_loop(image: np.ndarray) -> bool:
    """Whether the ink closes a loop: a loop alone reads as a 0, with a tail as a 6 or a 9."""
    binary = (image >= 128).astype(np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    return any(h[3] >= 0 and cv2.contourArea(c) >= MIN_HOLE for c, h in zip(contours, hierarchy[0]))


# ------------------------------------------------------------------------------------- kinds


def _digit_piece(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray | None:
    """A part of a digit: the ink on one side of a straight cut, or near one point of its stroke,
    the largest connected part kept, with a share of the ink in ``PIECE_SHARE``."""
    ink = _digit_ink(digits, rng, int(rng.integers(*BLOB_HEIGHT)))
    weights = ink.astype(np.float64)
    ys, xs = np.nonzero(ink)
    w = weights[ys, xs]
    share = rng.uniform(PIECE_SHARE[0], PIECE_SHARE[1])
    if rng.random() < 0.6:  # a straight cut at any angle
        theta = rng.uniform(0, 2 * np.pi)
        key = xs * np.cos(theta) + ys * np.sin(theta)
    else:  # the ink nearest one point of the stroke
        i = rng.choice(len(xs), p=w / w.sum())
        key = np.hypot(xs - xs[i], ys - ys[i])
    order = np.argsort(key, kind="stable")
    cut = key[order[np.searchsorted(np.cumsum(w[order]), share * w.sum())]]
    piece = np.zeros_like(ink)
    inside = key <= cut
    piece[ys[inside], xs[inside]] = ink[ys[inside], xs[inside]]
    # The segmenter sees the largest connected part on its own.
    count, labels, stats, _ = cv2.connectedComponentsWithStats((piece >= 64).astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    keep = cv2.dilate((labels == largest).astype(np.uint8), np.ones((3, 3), np.uint8))
    piece = np.where(keep > 0, piece, 0).astype(np.uint8)
    kept = piece.sum() / max(1.0, float(w.sum()))
    if not PIECE_SHARE[0] <= kept <= PIECE_SHARE[1]:
        return None
    return segmenter_view(piece, rng, pick="largest")


def _digit_pair(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray | None:
    """Two digits side by side, touching or overlapping a little, at similar heights."""
    height = int(rng.integers(*BLOB_HEIGHT))
    a = _digit_ink(digits, rng, max(8, int(height * rng.uniform(0.85, 1.15))))
    b = _digit_ink(digits, rng, max(8, int(height * rng.uniform(0.85, 1.15))))
    gap = int(round(height * rng.uniform(-0.25, 0.2)))  # negative: the second overlaps the first
    dy = int(round(height * rng.uniform(-0.12, 0.12)))
    top = max(0, -dy)
    width = max(a.shape[1], a.shape[1] + gap + b.shape[1])
    x_b = max(0, a.shape[1] + gap)
    canvas = np.zeros((max(a.shape[0], b.shape[0] + abs(dy)) + abs(dy) + 2, width + 2), np.uint8)
    canvas[top : top + a.shape[0], : a.shape[1]] = a
    region = canvas[top + dy : top + dy + b.shape[0], x_b : x_b + b.shape[1]]
    np.maximum(region, b[: region.shape[0], : region.shape[1]], out=region)
    return segmenter_view(canvas, rng, pick="all")


def _glyph(text: str, rng: np.random.Generator) -> np.ndarray:
    """A printed glyph (or for ASCII, 30% of the time, a Hershey one), tilted, sheared and bent a little like a hand's."""
    size = int(rng.integers(*BLOB_HEIGHT))
    hershey = text.isascii() and rng.random() < 0.3  # OpenCV's Hershey fonts are ASCII only
    ink = marks.hershey_glyph(text, size, rng) if hershey else marks.printed_glyph(text, size, rng)
    if ink.size == 0:
        return ink
    ink = marks.affine(ink, rng, max_rotation=10, max_shear=0.25)
    return marks.wobble(ink, rng, max(ink.shape) * 0.02)


def _letter(rng: np.random.Generator, _digits) -> np.ndarray | None:
    ink = _glyph(LETTERS[int(rng.integers(len(LETTERS)))], rng)
    return segmenter_view(ink, rng, pick="all") if ink.size else None


def _symbol(rng: np.random.Generator, _digits) -> np.ndarray | None:
    ink = _glyph(SYMBOLS[int(rng.integers(len(SYMBOLS)))], rng)
    return segmenter_view(ink, rng, pick="all") if ink.size else None


def _script_piece(rng: np.random.Generator, _digits) -> np.ndarray | None:
    """A piece of a joined-up word of random letters, cut where the edge's splitter would cut it.

    The letters are random, not words from the forms the benchmark writes, and the hand is the
    trainer's own cursive model (``documents.script_word``), never a handwriting font.
    """
    count = int(rng.integers(SCRIPT_LETTERS[0], SCRIPT_LETTERS[1] + 1))
    text = "".join(CURSIVE_LETTERS[i] for i in rng.integers(len(CURSIVE_LETTERS), size=count))
    if rng.random() < SCRIPT_CAPITAL_SHARE:
        text = text[0].upper() + text[1:]
    height = int(rng.integers(*BLOB_HEIGHT) * rng.uniform(*SCRIPT_HEIGHT))
    jitter, squeeze = rng.uniform(0.03, 0.12), rng.uniform(0.6, 1.1)
    word = script_word(text, height, rng, jitter=jitter, squeeze=squeeze)
    cuts = cut_positions(word, word.shape[0])
    span = int(rng.integers(SCRIPT_SPAN[0], SCRIPT_SPAN[1] + 1))
    if len(cuts) < 2:
        return None
    first = int(rng.integers(max(1, len(cuts) - span)))
    xs = [cuts[first], cuts[min(len(cuts) - 1, first + span)]]
    if not SCRIPT_WIDTH[0] <= (xs[1] - xs[0]) / word.shape[0] <= SCRIPT_WIDTH[1]:
        return None
    left, right = cut_paths(word, xs, max(1, int(SCRIPT_CUT_RADIUS * word.shape[0])))
    # The whole word's width, cleared outside the paths: the segmenter's view adds its noise to it.
    piece = np.where(between_paths(left, right, 0, word.shape[1]), word, 0).astype(np.uint8)
    if piece.max() == 0:
        return None
    return segmenter_view(piece, rng, pick="largest" if rng.random() < 0.5 else "all")


def _pen_mark(rng: np.random.Generator, _digits) -> np.ndarray | None:
    size = int(rng.integers(*BLOB_HEIGHT))
    draw = (marks.tick, marks.cross, marks.scribble, marks.underline)[int(rng.integers(4))]
    if draw is marks.underline:
        size = int(size * rng.uniform(1.5, 4))
    return segmenter_view(marks.affine(draw(rng, size), rng, 15, 0.2), rng, pick="all")


def _box_line(rng: np.random.Generator, _digits) -> np.ndarray | None:
    size = int(rng.integers(*BLOB_HEIGHT))
    draw = (marks.box_corner, marks.box_border, marks.comb_boxes, marks.ruled_line_piece)[int(rng.integers(4))]
    if draw is marks.ruled_line_piece:
        size = int(size * rng.uniform(1.5, 5))
    return segmenter_view(draw(rng, size), rng, pick="largest")


def _paper_edge(rng: np.random.Generator, _digits) -> np.ndarray | None:
    if rng.random() < 0.7:
        # Steep edges are left out: cut to their box they are a 1 (the edge must tell them by size).
        angle = float(rng.uniform(-PAPER_EDGE_MAX_ANGLE, PAPER_EDGE_MAX_ANGLE))
        ink = marks.paper_edge(rng, int(rng.integers(60, 400)), angle)
    else:
        side = int(rng.integers(40, 200))
        ink = marks.shadow_strip(rng, (side, side))
    return segmenter_view(ink, rng, pick="largest")


def _texture(rng: np.random.Generator, _digits) -> np.ndarray | None:
    side = int(rng.integers(40, 200))
    names = sorted(marks.TEXTURES)
    field = marks.TEXTURES[names[int(rng.integers(len(names)))]](rng, (side, side))
    pick = "random" if rng.random() < 0.7 else "largest"
    return segmenter_view(field, rng, pick=pick, min_height=BLOB_HEIGHT[0] // 2, threshold=TEXTURE_THRESHOLD)


_MAKERS = {
    "digit-piece": _digit_piece,
    "digit-pair": _digit_pair,
    "letter": _letter,
    "symbol": _symbol,
    "pen-mark": _pen_mark,
    "box-line": _box_line,
    "paper-edge": _paper_edge,
    "texture": _texture,
    "script-piece": _script_piece,
}
# Kinds whose examples are cut from digits: any loop of theirs may read as a 0, 6 or 9.
_CHECK_LOOPS = ("digit-piece",)
# Kinds that can draw a lone ring by chance (box borders are square, with corners no 0 has).
_CHECK_RINGS = ("letter", "symbol", "pen-mark", "texture", "script-piece")
# Attempts allowed per example before giving up (a kind whose checks refuse nearly everything is a bug).
MAX_ATTEMPTS = 50


def negative(kind: str, rng: np.random.Generator, spec: InputSpec, digits: np.ndarray | None = None) -> np.ndarray:
    """One model input of ``kind``, drawn from ``rng``; ``digits`` (MNIST images, N x 28 x 28) are
    needed by the digit-piece and digit-pair kinds."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown negative kind {kind!r} (expected one of {', '.join(NEGATIVE_KINDS)})")
    if kind.startswith("digit-") and (digits is None or len(digits) == 0):
        raise ValueError(f"negative kind {kind!r} needs digit images")
    for _ in range(MAX_ATTEMPTS):
        crop = _MAKERS[kind](rng, digits)
        if crop is None or crop.size == 0 or max(crop.shape) < SPECK:
            continue
        image = normalise(crop, spec)
        if looks_like_one(image, spec.digit_box) or (kind in _CHECK_LOOPS and has_loop(image)) or (
                kind in _CHECK_RINGS and looks_like_zero(image)):
            continue
        return image
    raise RuntimeError(f"negative kind {kind!r}: no acceptable example in {MAX_ATTEMPTS} attempts")


@dataclass(frozen=True)
class DigitReference:
    """Real digits to keep negatives away from: a negative closer to one of ``images`` than
    ``distance`` (the median distance of edge-viewed test digits to them) lies inside the digits,
    where no shape rule can call it "not a digit", and is drawn again."""

    images: np.ndarray  # MNIST training digits, (N, height, width) uint8
    distance: float

    @classmethod
    def build(cls, train: np.ndarray, test: np.ndarray, spec: InputSpec, seed: int = 0) -> "DigitReference":
        """From training digits and a few hundred test digits (seen through ``edge_digits``)."""
        distance = float(np.median(nearest_distances(edge_digits(test, seed, spec), train)[0]))
        return cls(images=train, distance=distance)

    def inside(self, images: np.ndarray) -> np.ndarray:
        return nearest_distances(images, self.images)[0] < self.distance


def negatives(kind: str, count: int, seed: int, spec: InputSpec, digits: np.ndarray | None = None,
              reference: DigitReference | None = None) -> np.ndarray:
    """``count`` model inputs of one kind: (count, height, width) uint8, the same for the same seed.

    With a ``reference``, examples inside the digits are replaced by further draws (in order, so the
    result stays a function of the seed).
    """
    rng = kind_rng(kind, seed)
    out = np.empty((count, spec.height, spec.width), np.uint8)
    todo = np.arange(count)
    for _ in range(MAX_ATTEMPTS):
        for i in todo:
            out[i] = negative(kind, rng, spec, digits)
        if reference is None:
            return out
        todo = todo[reference.inside(out[todo])]
        if not len(todo):
            return out
    raise RuntimeError(f"negative kind {kind!r}: examples keep landing inside the digits")


def negative_set(count_per_kind: int, seed: int, spec: InputSpec, digits: np.ndarray | None = None,
                 kinds: tuple[str, ...] = NEGATIVE_KINDS, reference: DigitReference | None = None) -> NegativeSet:
    """``count_per_kind`` examples of every kind, kind by kind."""
    images = [negatives(kind, count_per_kind, seed, spec, digits, reference) for kind in kinds]
    labels = np.repeat(np.arange(len(kinds)), count_per_kind)
    return NegativeSet(images=np.concatenate(images), kinds=labels, names=tuple(kinds))


# --------------------------------------------------------------------------------- evidence


def nearest_distances(queries: np.ndarray, reference: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Pixel distance (Euclidean, pixels scaled to 0..1) from each query image to its nearest
    reference image, and that image's index."""
    ref = reference.reshape(len(reference), -1).astype(np.float32) / 255.0
    ref_sq = (ref * ref).sum(axis=1)
    best = np.empty(len(queries), np.float32)
    index = np.empty(len(queries), np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk].reshape(-1, ref.shape[1]).astype(np.float32) / 255.0
        d2 = (q * q).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * q @ ref.T
        index[start : start + len(q)] = d2.argmin(axis=1)
        best[start : start + len(q)] = np.sqrt(np.maximum(d2.min(axis=1), 0))
    return best, index


def glyph_evidence(chars: str, spec: InputSpec, train: np.ndarray, train_labels: np.ndarray,
                   test: np.ndarray, seed: int = 0, renders: int = 60) -> dict[str, dict]:
    """How digit-like each glyph is, judged against real digits rather than by eye.

    Each glyph is drawn ``renders`` times as the edge would see it; so are MNIST test digits. A
    render is "inside the digits" when it lies closer to its nearest MNIST training digit than the
    median test digit does (so half of all real digits are farther from the training set than it
    is). Returns per glyph the share of renders inside the digits and the digit class they fall
    nearest to most often.
    """
    rng = np.random.default_rng(seed)
    digits = edge_digits(test, seed, spec)
    threshold = float(np.median(nearest_distances(digits, train)[0]))
    result = {}
    for char in chars:
        images = []
        while len(images) < renders:
            ink = _glyph(char, rng)
            crop = segmenter_view(ink, rng, pick="all") if ink.size else None
            if crop is not None:
                images.append(normalise(crop, spec))
        dist, index = nearest_distances(np.stack(images), train)
        inside = dist < threshold
        nearest = np.bincount(train_labels[index], minlength=10)
        result[char] = {"inside": float(inside.mean()), "nearest_digit": int(nearest.argmax()),
                        "median_distance": float(np.median(dist))}
    result["_threshold"] = {"median_test_digit_distance": threshold}
    return result
