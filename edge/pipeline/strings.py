"""Read a whole number region at once: crop -> string-reader input, posteriors -> digits and boxes.

Pure functions around the string reader (``edge.runtime.strings.StringReader`` runs the model):

1. ``crop_region``: the region's ink (``Segmentation.ink``: 0 paper .. 255 ink, light on dark, any
   polarity already resolved) with a margin of ``region_margin`` region heights around it.
2. ``prepare_crop``: contrast stretched, scaled to the model's input height keeping the aspect ratio,
   padded with paper on the right to a multiple of the model's width step.
3. ``greedy_decode``: the best label per output column, repeats collapsed, blanks dropped; each
   character keeps its run of columns and a confidence from the posteriors.
4. ``digit_boxes``: the columns of each character mapped back to the region and refined by the ink:
   a connected piece of ink holding one character's columns is that character; a piece holding
   several (touching digits) is cut at the faintest ink column between them.

The trainer builds its training inputs with ``prepare_crop`` too, so both sides share this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.pipeline.results import Box

# Margin the edge crops around a region's ink, in region heights: the trainer draws margins of
# 0.04-0.35, so any value in that range works; 0.15 keeps an underline just below the feet.
REGION_MARGIN = 0.15
# Ink contrast is stretched so that this percentile of the non-paper pixels becomes full ink:
# faint pencil and black marker look alike, and a few very dark pixels cannot dim the rest.
STRETCH_PERCENTILE = 95.0
# Never amplify by more than this (a crop of bare paper must not turn its grain into strokes).
MAX_GAIN = 8.0
# Ink below this (0-255, after stretching) is paper when boxes are fitted to the ink.
BOX_INK_LEVEL = 96
# Pieces of ink smaller than this share of the region's height are specks, not digit parts.
MIN_PIECE_HEIGHT = 0.2


@dataclass(frozen=True)
class PreparedCrop:
    """A region ready for the model, and how to map its columns back to the image."""

    image: np.ndarray  # uint8 (height, width), ink bright, padded to the width step
    scale: float  # model-input pixels per crop pixel
    content_width: int  # columns holding the crop; the rest is padding


@dataclass(frozen=True)
class DecodedChar:
    char: str
    confidence: float  # posterior of the character, best over its columns
    first: int  # first output column of its run
    last: int  # last output column of its run (inclusive)


@dataclass(frozen=True)
class StringReading:
    """What the string reader read in one region."""

    text: str  # the digits, left to right
    confidences: tuple[float, ...]  # per digit
    boxes: tuple[Box, ...]  # per digit, in the coordinates of the image the region was cut from
    confidence: float  # of the whole number: its least sure digit, or of a digit missed between two
    spans: tuple[tuple[int, int], ...] = ()  # per digit, first and last output column

    def __len__(self) -> int:
        return len(self.text)


def crop_region(ink: np.ndarray, box: Box, margin: float = REGION_MARGIN) -> tuple[np.ndarray, Box]:
    """The region's ink with ``margin`` region heights around it, and where that crop lies."""
    pad = int(round(margin * box.h))
    x0, y0 = max(0, box.x - pad), max(0, box.y - pad)
    x1, y1 = min(ink.shape[1], box.x2 + pad), min(ink.shape[0], box.y2 + pad)
    return ink[y0:y1, x0:x1], Box(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def input_width(width: int, height: int, crop_height: int, step: int, limits: tuple[int, int]) -> tuple[int, int]:
    """(content width, padded width) of a ``width x crop_height`` crop scaled to ``height`` rows."""
    content = max(1, int(round(width * height / max(1, crop_height))))
    content = min(content, limits[1])
    padded = max(limits[0], -(-content // step) * step)
    return content, min(padded, max(limits[1], step))


def prepare_crop(crop: np.ndarray, height: int, step: int = 16, limits: tuple[int, int] = (16, 512)) -> PreparedCrop:
    """A region crop (ink bright on 0, any size) as the string reader's uint8 input."""
    crop = np.asarray(crop)
    if crop.ndim != 2 or crop.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 ink crop, got {crop.dtype} {crop.shape}")
    h, w = crop.shape
    if h == 0 or w == 0:
        return PreparedCrop(np.zeros((height, limits[0]), np.uint8), 1.0, 0)
    content, padded = input_width(w, height, h, step, limits)
    interpolation = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    small = cv2.resize(crop, (content, height), interpolation=interpolation)
    hist = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel()
    hist[0] = 0
    if hist.sum() > 0:
        peak = float(np.searchsorted(np.cumsum(hist), STRETCH_PERCENTILE / 100.0 * hist.sum()))
        gain = min(MAX_GAIN, 255.0 / max(peak, 1.0))
        small = cv2.convertScaleAbs(small, alpha=gain)
    image = np.zeros((height, padded), np.uint8)
    image[:, :content] = small[:, : min(content, padded)]
    return PreparedCrop(image=image, scale=content / w, content_width=min(content, padded))


def greedy_decode(probs: np.ndarray, alphabet: str, blank: int) -> tuple[list[DecodedChar], float]:
    """Best path decoding of per-column posteriors ``(columns, labels)``.

    Returns the characters and the confidence of the whole string: the least sure of (a) each
    character's posterior and (b) each blank stretch's certainty that no character hides in it
    (one minus the best non-blank posterior there), so a digit the path skipped lowers it too.
    """
    probs = np.asarray(probs, np.float32)
    best = probs.argmax(axis=1)
    chars: list[DecodedChar] = []
    gap_doubt = 0.0  # highest non-blank posterior on a column the path read as blank
    t, n = 0, len(best)
    while t < n:
        label = int(best[t])
        end = t
        while end + 1 < n and best[end + 1] == label:
            end += 1
        if label == blank:
            rest = np.delete(probs[t : end + 1], blank, axis=1)
            gap_doubt = max(gap_doubt, float(rest.max()) if rest.size else 0.0)
        else:
            index = label if label < blank else label - 1
            chars.append(DecodedChar(alphabet[index], float(probs[t : end + 1, label].max()), t, end))
        t = end + 1
    confidence = min([c.confidence for c in chars] + [1.0 - gap_doubt])
    return chars, confidence


def _cut_between(profile: np.ndarray, a: int, b: int) -> int:
    """The faintest ink column between columns a and b (exclusive), nearest the middle on ties."""
    if b - a <= 1:
        return b
    inside = profile[a + 1 : b]
    middle = (b - a) / 2 - 1
    order = np.lexsort((np.abs(np.arange(len(inside)) - middle), inside))
    return a + 1 + int(order[0])


def digit_boxes(crop: np.ndarray, chars: list[DecodedChar], stride: int, scale: float, origin: Box,
                mask: np.ndarray | None = None) -> list[Box]:
    """One box per decoded character, in the coordinates of the image ``origin`` is in.

    ``crop`` is the ink the reader saw (before scaling); ``stride`` input pixels per output column;
    ``scale`` model-input pixels per crop pixel. ``mask`` (same shape as ``crop``), when given, is
    the ink to fit boxes to (the segmentation's mask, without ruled lines); otherwise the ink
    above ``BOX_INK_LEVEL`` after stretching is used. Characters whose columns hold no ink keep the
    box of their columns over the full height.
    """
    if not chars:
        return []
    h, w = crop.shape
    # The centre of each character's columns, in crop pixels.
    centres = [min(w - 1, max(0, int(((c.first + c.last + 1) / 2) * stride / scale))) for c in chars]
    if mask is None:
        peak = float(np.percentile(crop[crop > 0], STRETCH_PERCENTILE)) if (crop > 0).any() else 0.0
        ink = crop >= max(1.0, peak * BOX_INK_LEVEL / 255.0)
    else:
        ink = np.asarray(mask) > 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8) if ink.dtype == bool else ink.astype(np.uint8), connectivity=8)
    # Slots: the columns between neighbouring characters' cuts through the ink.
    profile = ink.sum(axis=0).astype(np.float64)
    cuts = [0] + [_cut_between(profile, a, b) for a, b in zip(centres, centres[1:])] + [w]
    owner = np.zeros(n, np.int64) - 1  # which character each piece belongs to (-1: none)
    split = np.zeros(n, bool)  # pieces shared by several characters: cut along the slots
    for i in range(1, n):
        x, y, pw, ph = stats[i, :4]
        if ph < MIN_PIECE_HEIGHT * h and pw < MIN_PIECE_HEIGHT * h:
            continue  # a speck or a dot of punctuation
        inside = [k for k, cx in enumerate(centres) if x <= cx < x + pw]
        if len(inside) == 1:
            owner[i] = inside[0]
        elif len(inside) > 1:
            split[i] = True
        else:  # a piece of a digit beside its columns (a 5's bar): the slot holding most of it
            counts = [max(0, min(x + pw, b) - max(x, a)) for a, b in zip(cuts, cuts[1:])]
            if max(counts) >= 0.5 * pw and ph >= 0.35 * h:
                owner[i] = int(np.argmax(counts))
    boxes = []
    for k, (a, b) in enumerate(zip(cuts, cuts[1:])):
        own = owner[labels] == k
        own[:, a:b] |= split[labels[:, a:b]]
        ys, xs = np.nonzero(own)
        if len(xs):
            x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        else:
            x0, x1, y0, y1 = a, b, 0, h
        boxes.append(Box(origin.x + x0, origin.y + y0, x1 - x0, y1 - y0))
    return boxes


def reading_from_probs(probs: np.ndarray, crop: np.ndarray, prepared: PreparedCrop, origin: Box,
                       alphabet: str, blank: int, stride: int, mask: np.ndarray | None = None) -> StringReading:
    """Decode one region's posteriors ``(columns, labels)`` into a ``StringReading``."""
    columns = -(-prepared.content_width // stride)  # padding columns hold nothing of the region
    chars, confidence = greedy_decode(probs[: max(1, columns)], alphabet, blank)
    boxes = digit_boxes(crop, chars, stride, prepared.scale, origin, mask)
    return StringReading(
        text="".join(c.char for c in chars),
        confidences=tuple(c.confidence for c in chars),
        boxes=tuple(boxes),
        confidence=confidence if chars else 0.0,
        spans=tuple((c.first, c.last) for c in chars),
    )
