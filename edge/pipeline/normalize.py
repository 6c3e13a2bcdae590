"""Turn a cropped digit into what the model was trained on: an MNIST-style 28x28 image."""

from __future__ import annotations

import cv2
import numpy as np

# Crops are shrunk to at most this multiple of the digit box before stroke matching (cheap, and
# at 40 px a stroke is still several pixels wide).
WORK_SCALE = 2.0


def stroke_width(mask: np.ndarray) -> float:
    """Mean pen width of a binary ink mask, in pixels: twice the area over the outline length.

    For a stroke of length L and width w, area is about L*w and the outline about 2L, so the
    estimate holds for any digit shape without skeletonising it.
    """
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    area = float(mask.sum())
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / perimeter if perimeter > 0 else float(min(mask.shape))


def _percentile(crop: np.ndarray, q: float) -> float:
    """The q-th percentile of a uint8 crop's non-zero pixels, from its histogram (np.percentile is
    a sort, and this runs for every digit)."""
    hist = cv2.calcHist([crop], [0], None, [256], [0, 256]).ravel()
    hist[0] = 0
    total = hist.sum()
    if total == 0:
        return 0.0
    return float(np.searchsorted(np.cumsum(hist), q / 100.0 * total))


def to_model_input(crop: np.ndarray, box: int = 20, size: tuple[int, int] = (28, 28),
                   target_stroke: float | None = None, light_on_dark: bool = True) -> np.ndarray:
    """MNIST's recipe for a cropped digit (ink bright, paper 0, any size) -> uint8 ``size`` image.

    Contrast stretched so the ink saturates; pen width brought near ``target_stroke`` (what training
    digits have, measured at 28x28); fitted into a ``box`` square keeping its aspect ratio with
    anti-aliasing; centred by centre of mass.
    """
    out_h, out_w = size
    x, y, w, h = cv2.boundingRect(crop)
    if w == 0 or h == 0:
        return np.zeros(size, np.uint8)
    crop = crop[y : y + h, x : x + w]
    # Work at no more than twice the final size: morphology stays cheap and strokes stay smooth.
    if max(h, w) > WORK_SCALE * box:
        shrink = WORK_SCALE * box / max(h, w)
        crop = cv2.resize(crop, (max(1, round(w * shrink)), max(1, round(h * shrink))),
                          interpolation=cv2.INTER_AREA)
        h, w = crop.shape
    # Contrast: faint pencil and bold marker both end up with saturated stroke cores, like MNIST.
    peak = _percentile(crop, 90)
    if peak > 0:
        crop = cv2.convertScaleAbs(crop, alpha=255.0 / peak)
    scale = box / max(h, w)
    if target_stroke:
        crop = _match_stroke(crop, scale, target_stroke)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    m = cv2.moments(small)
    if m["m00"] > 0:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    else:
        cx, cy = new_w / 2, new_h / 2
    # Shift so the centre of mass lands on the centre, but never push ink off the canvas.
    dx = min(max(out_w / 2 - cx, 0.0), out_w - new_w)
    dy = min(max(out_h / 2 - cy, 0.0), out_h - new_h)
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    digit = cv2.warpAffine(small, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    return digit if light_on_dark else cv2.bitwise_not(digit)


def _match_stroke(crop: np.ndarray, scale: float, target: float) -> np.ndarray:
    """Dilate or erode so the pen width after scaling by ``scale`` is near ``target``."""
    width = stroke_width(crop >= 128)
    if width <= 0:
        return crop
    # Pixels to add (or remove) across the stroke at crop resolution.
    change = target / scale - width
    radius = int(round(abs(change) / 2))
    # Never change the pen by more than a tenth of the digit: holes in 8s and 0s must survive.
    radius = min(radius, max(crop.shape) // 10)
    if radius < 1 or abs(change) < 0.3 * target / scale:
        return crop
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(crop, kernel) if change > 0 else cv2.erode(crop, kernel)
