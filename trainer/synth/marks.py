"""Seeded drawing primitives for ink that is not a handwritten digit.

Every function takes a ``np.random.Generator`` and returns an ink image: uint8, ink bright (255 at a
stroke's core, anti-aliased rims) on 0, like the edge segmenter's ink image. Marks (glyphs, ticks,
lines, boxes) come cropped to their ink; textures and shadows come as a field of a requested shape,
to be thresholded by whoever uses them. The same generator state always draws the same mark.

Used by the trainer for the "not a digit" class (``trainer.synth.negatives``) and by the benchmarks
for pages with letters, ticks and boxes beside the digits. NumPy, OpenCV and Pillow only.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Printed font families we render glyphs from (file-name prefixes). Handwriting fonts are left out
# on purpose: the project keeps them for evaluating digit reading.
PRINTED_FAMILIES = (
    "DejaVuSans", "DejaVuSerif", "STIXGeneral", "LiberationSans", "LiberationSerif", "LiberationMono",
    "FreeSans", "FreeSerif", "FreeMono", "NotoSans-", "NotoSerif-", "NotoSansMono-",
)
# Folders searched for them, besides matplotlib's own fonts (found without importing matplotlib).
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# OpenCV's vector fonts: the script faces look handwritten, the others like a plotter's lettering.
HERSHEY_FACES = (
    cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX, cv2.FONT_HERSHEY_PLAIN,
)
_SUBPIXEL = 4  # cv2 drawing with 4 fractional bits: smooth strokes at small sizes
_SCALE = 1 << _SUBPIXEL


class FontError(RuntimeError):
    """No printed font could be found to render glyphs with."""


# ----------------------------------------------------------------------------------------- helpers


def crop_to_ink(ink: np.ndarray, threshold: int = 0) -> np.ndarray:
    """The smallest box holding every pixel above ``threshold`` (an empty 0x0 array when none)."""
    ys, xs = np.nonzero(ink > threshold)
    if len(ys) == 0:
        return ink[:0, :0]
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def wobble(ink: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Bend an ink image smoothly by up to about ``amount`` pixels, as a hand does (a 3x3 coarse
    displacement field, so the whole mark bends without jitter)."""
    h, w = ink.shape
    if amount <= 0 or h < 2 or w < 2:
        return ink
    field = rng.normal(0, 1, (2, 3, 3)).astype(np.float32)
    dx = cv2.resize(field[0], (w, h), interpolation=cv2.INTER_CUBIC) * amount
    dy = cv2.resize(field[1], (w, h), interpolation=cv2.INTER_CUBIC) * amount
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(ink, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)


def affine(ink: np.ndarray, rng: np.random.Generator, max_rotation: float = 10.0,
           max_shear: float = 0.2) -> np.ndarray:
    """Rotate and shear an ink image by random amounts, on a canvas large enough to keep it all."""
    h, w = ink.shape
    pad = max(h, w) // 2 + 2
    canvas = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    ch, cw = canvas.shape
    matrix = cv2.getRotationMatrix2D((cw / 2, ch / 2), float(rng.uniform(-max_rotation, max_rotation)), 1.0)
    shear = float(rng.uniform(-max_shear, max_shear))
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * ch / 2
    return crop_to_ink(cv2.warpAffine(canvas, matrix, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0))


def rotate(ink: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate an ink image counter-clockwise by ``degrees`` on a canvas that keeps all of it."""
    h, w = ink.shape
    side = int(np.ceil(np.hypot(h, w))) + 2
    top, left = (side - h) // 2, (side - w) // 2
    canvas = cv2.copyMakeBorder(ink, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=0)
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return crop_to_ink(cv2.warpAffine(canvas, matrix, (side, side), flags=cv2.INTER_LINEAR, borderValue=0))


def smooth_path(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a polyline through control points becomes a smooth pen path."""
    path = np.asarray(points, np.float64)
    for _ in range(iterations):
        q = 0.75 * path[:-1] + 0.25 * path[1:]
        r = 0.25 * path[:-1] + 0.75 * path[1:]
        path = np.concatenate([path[:1], np.stack([q, r], axis=1).reshape(-1, 2), path[-1:]])
    return path


def draw_paths(paths: list[np.ndarray], thickness: int, size: tuple[int, int] | None = None,
               margin: int | None = None) -> np.ndarray:
    """Draw polylines (arrays of x, y points) as anti-aliased ink, cropped to the ink.

    ``size`` (height, width) fixes the canvas; by default it is fitted around the paths with a margin.
    """
    thickness = max(1, int(round(thickness)))
    if size is None:
        allpts = np.concatenate(paths)
        margin = thickness + 2 if margin is None else margin
        lo = allpts.min(axis=0) - margin
        paths = [p - lo for p in paths]
        hi = np.concatenate(paths).max(axis=0) + margin
        size = (int(np.ceil(hi[1])) + 1, int(np.ceil(hi[0])) + 1)
    canvas = np.zeros(size, np.uint8)
    for path in paths:
        pts = np.round(np.asarray(path) * _SCALE).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, 255, thickness, cv2.LINE_AA, _SUBPIXEL)
    return crop_to_ink(canvas)


def _jitter(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    return np.asarray(points, np.float64) + rng.normal(0, amount, np.shape(points))


def _pen(rng: np.random.Generator, size: float, lo: float = 1 / 18, hi: float = 1 / 6) -> int:
    """A handwriting pen width for a mark of ``size`` pixels: a sixth to an eighteenth of it."""
    return max(1, int(round(size * rng.uniform(lo, hi))))


# ------------------------------------------------------------------------------------------ glyphs


def _matplotlib_font_dir() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder if folder.is_dir() else None


@functools.lru_cache(maxsize=None)
def find_fonts(folders: tuple[Path, ...] | None = None) -> tuple[Path, ...]:
    """Printed fonts installed on this machine (matplotlib's DejaVu and STIX, Debian's font packages),
    or in ``folders``.

    One file per name (the same DejaVu file in two places counts once), sorted, so a seed picks the
    same font on every machine with the same fonts. Raises ``FontError`` when none is found.
    """
    if folders is None:
        folders = tuple(d for d in (_matplotlib_font_dir(),) if d) + SYSTEM_FONT_DIRS
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in (".ttf", ".otf") and path.name.startswith(PRINTED_FAMILIES):
                found.setdefault(path.name, path)
    if not found:
        searched = ", ".join(str(f) for f in folders)
        raise FontError(
            f"no printed font found (looked for {', '.join(PRINTED_FAMILIES[:3])}, ... in {searched}); "
            "install matplotlib or a Debian font package such as fonts-dejavu-core"
        )
    return tuple(found[name] for name in sorted(found))


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def has_glyph(font_path: Path, char: str) -> bool:
    """Whether a font draws ``char`` itself, rather than its "missing glyph" box."""
    font = _font(str(font_path), 32)
    return font.getmask(char).getbbox() != font.getmask("\U0010fffd").getbbox() or char.isspace()


@functools.lru_cache(maxsize=4096)
def _fonts_with(text: str, fonts: tuple[Path, ...]) -> tuple[Path, ...]:
    return tuple(f for f in fonts if all(has_glyph(f, c) for c in text))


def printed_glyph(text: str, height: int, rng: np.random.Generator,
                  fonts: tuple[Path, ...] | None = None) -> np.ndarray:
    """``text`` in a randomly chosen printed font at a font size of ``height`` pixels, cropped to ink.

    Only fonts that have every character of ``text`` are chosen from; lower-case letters come out
    smaller than capitals, as on paper. Empty (0x0) when no font has it.
    """
    candidates = _fonts_with(text, fonts or find_fonts())
    if not candidates:
        return np.zeros((0, 0), np.uint8)
    font = _font(str(candidates[int(rng.integers(len(candidates)))]), max(6, int(height)))
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, fill=255, font=font)
    return crop_to_ink(np.asarray(image))


def hershey_glyph(text: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """``text`` in one of OpenCV's Hershey faces (script faces look handwritten), cropped to ink."""
    face = HERSHEY_FACES[int(rng.integers(len(HERSHEY_FACES)))]
    if rng.random() < 0.3:
        face |= cv2.FONT_ITALIC
    scale = height / 30.0
    thickness = _pen(rng, height, 1 / 30, 1 / 10)
    (w, h), base = cv2.getTextSize(text, face, scale, thickness)
    canvas = np.zeros((h + base + 4 * thickness + 8, w + 4 * thickness + 8), np.uint8)
    cv2.putText(canvas, text, (2 * thickness + 4, h + 2 * thickness + 4), face, scale, 255, thickness, cv2.LINE_AA)
    return crop_to_ink(canvas)


# ------------------------------------------------------------------------------------ pen marks


def tick(rng: np.random.Generator, height: int) -> np.ndarray:
    """A check mark: a short stroke down, then a long one up and to the right."""
    w = height * rng.uniform(0.7, 1.4)
    knee = (w * rng.uniform(0.25, 0.45), height)
    start = (0.0, height * rng.uniform(0.35, 0.7))
    end = (w, 0.0)
    path = smooth_path(_jitter([start, knee, end], rng, height * 0.03), 1)
    ink = draw_paths([path], _pen(rng, height))
    return wobble(ink, rng, height * 0.03)


def cross(rng: np.random.Generator, height: int) -> np.ndarray:
    """An x (two diagonals) or a + (upright arms of similar length), as marked in a box."""
    w = height * rng.uniform(0.7, 1.3)
    if rng.random() < 0.6:
        paths = [np.array([(0, 0), (w, height)]), np.array([(w, 0), (0, height)])]
    else:
        paths = [np.array([(0, height / 2), (w, height / 2)]), np.array([(w / 2, 0), (w / 2, height)])]
    paths = [_jitter(p, rng, height * 0.04) for p in paths]
    return wobble(draw_paths(paths, _pen(rng, height)), rng, height * 0.03)


def scribble(rng: np.random.Generator, height: int) -> np.ndarray:
    """A crossing-out or a loopy doodle: at least four sweeps back and forth, or a row of loops."""
    if rng.random() < 0.5:  # zigzag sweeps with sharp turns, as when ink crosses something out
        turns = int(rng.integers(6, 12))
        w = height * rng.uniform(0.8, 2.5)
        ys = np.linspace(0, height, turns + 1) + rng.normal(0, height * 0.05, turns + 1)
        xs = np.where(np.arange(turns + 1) % 2 == 0, 0.0, w) + rng.normal(0, w * 0.08, turns + 1)
        if rng.random() < 0.5:
            xs, ys = ys * w / height, xs * height / w  # sweeps up and down instead
        points = np.stack([xs, ys], axis=1)
        path = smooth_path(points, 1)  # keep the turns sharp: rounded, few sweeps read as a 3
        return wobble(draw_paths([path], _pen(rng, height, 1 / 25, 1 / 10)), rng, height * 0.03)
    # a coil of loops, like a signature's flourish
    loops = int(rng.integers(3, 7))
    t = np.linspace(0, 2 * np.pi * loops, 40 * loops)
    r = height / 2 * rng.uniform(0.6, 1.0)
    advance = r * rng.uniform(0.4, 1.0)
    points = np.stack([advance * t / (2 * np.pi) + r * np.cos(t), r * np.sin(t) + height / 2], axis=1)
    path = smooth_path(_jitter(points, rng, height * 0.01), 2)
    return wobble(draw_paths([path], _pen(rng, height, 1 / 25, 1 / 10)), rng, height * 0.04)


def underline(rng: np.random.Generator, length: int) -> np.ndarray:
    """A hand-drawn underline: straight, wavy or doubled, tilted a few degrees."""
    n = 8
    xs = np.linspace(0, length, n)
    tilt = np.tan(np.radians(rng.uniform(-6, 6)))
    wave = length * rng.uniform(0, 0.04) * np.sin(np.linspace(0, rng.uniform(1, 6) * np.pi, n))
    ys = xs * tilt + wave + rng.normal(0, length * 0.005, n)
    pen = max(1, int(round(length * rng.uniform(0.01, 0.04))))
    paths = [smooth_path(np.stack([xs, ys], axis=1), 2)]
    if rng.random() < 0.25:
        paths.append(paths[0] + (rng.uniform(-0.05, 0.05) * length, pen * rng.uniform(2.5, 5)))
    return draw_paths(paths, pen)


# ------------------------------------------------------------------------------ lines and boxes


def _ruled_pen(rng: np.random.Generator) -> int:
    """Printed rules and box borders: 1 to 3 pixels, thinner than most pens."""
    return int(rng.integers(1, 4))


def box_corner(rng: np.random.Generator, size: int) -> np.ndarray:
    """One corner of a printed box: two straight arms at a right angle (any of the four corners),
    sometimes with the start of the next box (a T) or a broken arm."""
    a, b = size * rng.uniform(0.3, 1.0), size * rng.uniform(0.3, 1.0)
    paths = [np.array([(0, 0), (a, 0)]), np.array([(0, 0), (0, b)])]
    if rng.random() < 0.3:  # a T-junction: the border goes on past the corner
        paths.append(np.array([(0, 0), (-a * rng.uniform(0.3, 1.0), 0)]))
    ink = draw_paths(paths, _ruled_pen(rng))
    ink = np.rot90(ink, int(rng.integers(4))).copy()
    return affine(ink, rng, max_rotation=3, max_shear=0.02)


def box_border(rng: np.random.Generator, size: int) -> np.ndarray:
    """A printed box (a tick box or a field), whole or with a side missing."""
    w, h = size * rng.uniform(0.5, 2.5), size
    corners = np.array([(0, 0), (w, 0), (w, h), (0, h), (0, 0)])
    start = int(rng.integers(4)) if rng.random() < 0.35 else 0
    sides = 3 if rng.random() < 0.35 else 4
    path = np.concatenate([corners[start:], corners[1 : start + 1]])[: sides + 1]
    return affine(draw_paths([path], _ruled_pen(rng)), rng, max_rotation=3, max_shear=0.02)


def comb_boxes(rng: np.random.Generator, size: int) -> np.ndarray:
    """A row of character boxes as forms have (a comb: a base line with short uprights, or closed
    cells), whole or a piece of a few cells."""
    cells = int(rng.integers(2, 7))
    cell_w = size * rng.uniform(0.6, 1.1)
    tooth = size * (rng.uniform(0.25, 0.6) if rng.random() < 0.5 else 1.0)
    width = cells * cell_w
    paths = [np.array([(0, size), (width, size)])]
    if tooth >= size:  # closed cells: a top line too
        paths.append(np.array([(0, 0), (width, 0)]))
    for i in range(cells + 1):
        paths.append(np.array([(i * cell_w, size), (i * cell_w, size - tooth)]))
    ink = draw_paths(paths, _ruled_pen(rng))
    if rng.random() < 0.5:
        ink = np.flipud(ink).copy()  # teeth pointing down
    return affine(ink, rng, max_rotation=3, max_shear=0.02)


def ruled_line_piece(rng: np.random.Generator, length: int) -> np.ndarray:
    """A piece of a ruled line left behind by line removal: near horizontal, possibly broken, with
    stubs where strokes crossed it."""
    pen = _ruled_pen(rng)
    tilt = np.tan(np.radians(rng.uniform(-8, 8)))
    ys = np.array([0.0, length * tilt])
    paths = [np.array([(0.0, ys[0]), (float(length), ys[1])])]
    for _ in range(int(rng.integers(0, 4))):
        x = rng.uniform(0, length)
        reach = length * rng.uniform(0.03, 0.15)
        paths.append(np.array([(x, x * tilt - reach), (x + rng.uniform(-1, 1) * reach * 0.3, x * tilt + reach)]))
    ink = draw_paths(paths, pen + (1 if paths[1:] else 0))
    if rng.random() < 0.3:  # a gap, as a faint print leaves
        x = int(rng.integers(ink.shape[1] // 5, max(ink.shape[1] // 5 + 1, 4 * ink.shape[1] // 5)))
        ink[:, x : x + max(1, length // 20)] = 0
    return ink


# ------------------------------------------------------------------------------- paper, shadows


def paper_edge(rng: np.random.Generator, length: int, angle: float | None = None) -> np.ndarray:
    """The edge of a sheet seen by a camera: a long thin line 2-4 px wide with a soft shadow of
    lesser intensity beside it, slightly curved. ``angle`` in degrees from horizontal."""
    angle = float(rng.uniform(-60, 60)) if angle is None else angle
    width = float(rng.uniform(2, 4))
    shadow = float(rng.uniform(3, 12))  # shadow's reach in pixels
    strength = float(rng.uniform(0.15, 0.6))  # shadow ink relative to the edge line
    bend = length * rng.uniform(-0.03, 0.03)
    side = 1 if rng.random() < 0.5 else -1
    pad = int(width + 3 * shadow + abs(bend) + 4)
    h, w = 2 * pad + 1, length + 2 * pad
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xs - pad) / max(1, length)
    centre = pad + bend * 4 * u * (1 - u)  # a gentle bow, zero at both ends
    d = (ys - centre) * side  # signed distance across the edge, shadow on the positive side
    line = np.clip(width / 2 + 0.5 - np.abs(d), 0, 1)
    falloff = np.where(d > 0, strength * np.exp(-np.maximum(d - width / 2, 0) / shadow), 0)
    inside = ((u >= 0) & (u <= 1)).astype(np.float32)
    ink = np.maximum(line, falloff) * inside
    return rotate((ink * 255).astype(np.uint8), angle)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in about -1..1: a ``cells`` x ``cells`` random grid, resized smoothly."""
    h, w = shape
    grid = rng.normal(0, 1, (max(2, cells), max(2, cells))).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 1.5


def shadow_strip(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A band of shadow (a hand, a pen or a fold) with soft edges across a ``shape`` field."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    across = (xs - w / 2) * np.cos(theta) + (ys - h / 2) * np.sin(theta)
    across += _smooth_noise(rng, shape, 3) * min(h, w) * 0.1
    half = min(h, w) * rng.uniform(0.08, 0.3)
    soft = half * rng.uniform(0.2, 0.8)
    band = 1.0 / (1.0 + np.exp((np.abs(across) - half) / max(soft, 1.0)))
    grain = 1.0 + 0.15 * _smooth_noise(rng, shape, 8)
    return (np.clip(band * grain * rng.uniform(0.5, 1.0), 0, 1) * 255).astype(np.uint8)


# ----------------------------------------------------------------------------------- textures


def wood_grain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Wood: dark late-wood lines, roughly parallel, bent around knots, of uneven darkness."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(-0.3, 0.3) + (np.pi / 2 if rng.random() < 0.5 else 0.0)
    along = xs * np.cos(theta) + ys * np.sin(theta)
    across = -xs * np.sin(theta) + ys * np.cos(theta)
    period = rng.uniform(6, 20)
    warp = _smooth_noise(rng, shape, 4) * period * rng.uniform(1, 3)
    for _ in range(int(rng.integers(0, 3))):  # knots: rings pushed around a centre
        kx, ky = rng.uniform(0, w), rng.uniform(0, h)
        r = np.hypot(xs - kx, ys - ky)
        warp += period * 3 * np.exp(-r / rng.uniform(10, 40))
    phase = (across + warp + 0.02 * along) / period
    lines = np.clip((np.cos(2 * np.pi * phase) - 0.3) / 0.7, 0, 1) ** rng.uniform(1, 3)
    tone = 0.6 + 0.4 * _smooth_noise(rng, shape, 6)
    return (np.clip(lines * tone, 0, 1) * 255).astype(np.uint8)


def woven_fabric(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Woven cloth: over-under threads of warp and weft, each thread shaded across its width."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pitch = rng.uniform(4, 14)
    theta = rng.uniform(0, np.pi / 2)
    u = (xs * np.cos(theta) + ys * np.sin(theta)) / pitch
    v = (-xs * np.sin(theta) + ys * np.cos(theta)) / pitch
    u += 0.1 * _smooth_noise(rng, shape, 5)
    v += 0.1 * _smooth_noise(rng, shape, 5)
    warp_on_top = (np.floor(u) + np.floor(v)) % 2 == 0
    across_warp = np.abs(np.sin(np.pi * u))  # dark in the gaps between threads, light on them
    across_weft = np.abs(np.sin(np.pi * v))
    shade = np.where(warp_on_top, across_warp * (0.6 + 0.4 * across_weft), across_weft * (0.6 + 0.4 * across_warp))
    ink = 1.0 - shade
    return (np.clip(ink * rng.uniform(0.6, 1.0), 0, 1) * 255).astype(np.uint8)


def paper_fibres(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Paper seen closely: fine curved fibres over a mottled, grainy ground."""
    h, w = shape
    ground = 0.25 * (_smooth_noise(rng, shape, 12) + 1) + rng.normal(0, 0.08, shape).astype(np.float32)
    canvas = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(8, 40) * (h * w) / 10000 + 1)):
        length = rng.uniform(0.1, 0.5) * max(h, w)
        start = rng.uniform((0, 0), (w, h))
        heading = rng.uniform(0, 2 * np.pi)
        turns = np.cumsum(rng.normal(0, 0.25, 6))
        steps = length / 6 * np.stack([np.cos(heading + turns), np.sin(heading + turns)], axis=1)
        path = smooth_path(np.concatenate([start[None], start + np.cumsum(steps, axis=0)]), 2)
        pts = np.round(path * _SCALE).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, int(rng.integers(120, 256)), int(rng.integers(1, 3)), cv2.LINE_AA, _SUBPIXEL)
    ink = np.maximum(np.clip(ground, 0, 1), canvas / 255.0)
    return (np.clip(ink, 0, 1) * 255).astype(np.uint8)


TEXTURES = {"wood": wood_grain, "fabric": woven_fabric, "paper": paper_fibres}
