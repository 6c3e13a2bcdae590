"""Turn a candidate's ink into what the model was trained on: an MNIST-style image.

MNIST's recipe, driven by the model's metadata: contrast stretched so the ink saturates, pen width
brought near the training digits', fitted into a box keeping the aspect ratio, centred by centre of
mass. The trimming, shrinking, stretching and pen-width measurement are ``edge.pipeline.ink.measure``,
shared with segmentation so each candidate is measured once.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.pipeline.ink import InkCrop, measure, stroke_width

# The trainer measures its training digits' pen width with the same function.
__all__ = ["to_model_input", "stroke_width"]

# Never change the pen by more than a tenth of the digit's size: holes in 8s and 0s must survive.
STROKE_CHANGE_DIVISOR = 10
# Pen widths within this share of the target (at the model's scale) are left alone.
STROKE_TOLERANCE = 0.3


def to_model_input(crop: np.ndarray | InkCrop, box: int = 20, size: tuple[int, int] = (28, 28),
                   target_stroke: float | None = None, light_on_dark: bool = True) -> np.ndarray:
    """A candidate's ink (bright on 0, any size; or its ``InkCrop``) -> uint8 model input of ``size``.

    ``box``: the side the digit is fitted into; ``target_stroke``: the training digits' pen width at
    the model's size; ``light_on_dark``: the model's polarity (MNIST's is light ink on dark).
    """
    ink = crop if isinstance(crop, InkCrop) else measure(crop)
    out_h, out_w = size
    pixels = ink.pixels
    h, w = pixels.shape
    if not pixels.any():
        return np.zeros(size, np.uint8)
    scale = box / max(h, w)
    if target_stroke:
        pixels = _match_stroke(pixels, ink.stroke, scale, target_stroke)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)
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


def _match_stroke(pixels: np.ndarray, width: float, scale: float, target: float) -> np.ndarray:
    """Dilate or erode so the pen width ``width`` after scaling by ``scale`` is near ``target``."""
    if width <= 0:
        return pixels
    # Pixels to add (or remove) across the stroke at this resolution.
    change = target / scale - width
    radius = min(int(round(abs(change) / 2)), max(pixels.shape) // STROKE_CHANGE_DIVISOR)
    if radius < 1 or abs(change) < STROKE_TOLERANCE * target / scale:
        return pixels
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(pixels, kernel) if change > 0 else cv2.erode(pixels, kernel)
