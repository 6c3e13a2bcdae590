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
   several (touching digits) is cut along the cheapest paths through its ink between them.
5. ``agreed``: a region read unsurely is read again with other margins around it (the digits come
   out at another size and place in the model's columns); the reading the looks agree on most wins.

The trainer builds its training inputs with ``prepare_crop`` too, so both sides share this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.pipeline.ink import between_paths, components, cut_paths
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
# A vertical run of ink this share of the crop's height long is a box border, not a stroke (the
# digits fill 1 / (1 + 2 * REGION_MARGIN) = 0.77 of it).
LINE_SHARE = 0.92
# A digit box less than this share of the typical box height in its number is a sliver.
SHORT_BOX = 0.6
# A row of a touching 1's ink wider than this many times its pen (the ONE_PEN_PERCENTILE percentile
# of its rows' widths) holds a neighbour's stroke that the cut between them left on the 1's side (a
# 0's curl, a 5's bar, a 6's top); the other rows place the 1's stroke (``_stroke_box``). Touching
# pages 208-271 (tuning), after the path cuts (``_cut_piece``), with the median row for the pen:
# false digits 70 -> 41, recall 97.8 -> 98.4%, numbers 94.3 -> 95.4% (the box of the narrow rows,
# without the line: 48; of all but the 15% of rows furthest out each side, 51); 272-335 (untuned):
# 52 -> 41 against the narrow rows' box. The line through the middle half of the rows alone: 41 and
# 45. A 1 joined to its neighbours along most of its rows made the median row as wide as both.
ONE_ROW_SPREAD = 1.6
ONE_PEN_PERCENTILE = 25
# The line starts from the narrow rows within this many pens of the centre, and is fitted again
# through the narrow rows that near it; narrow rows further off hold no part of the 1. With the
# percentile, touching pages 208-335 (tuning): recall 98.67 -> 98.72%, digits 98.20 -> 98.24%,
# numbers 96.09 -> 96.18%, false digits 76 -> 70 (the 10th percentile: the same but one number);
# 200-207, forms 1-290 the same; boxes of exact readings on 500 generated regions (seed 91,000,000)
# 96.7 -> 96.6%.
ONE_OFF_LINE = 1.0
# Pieces of ink smaller than this share of the region's height are specks, not digit parts.
MIN_PIECE_HEIGHT = 0.2
# A reading less sure than this (its ``confidence``) is read again with each margin of
# ``SECOND_LOOK_MARGINS`` (region heights, inside the 0.04-0.35 the trainer draws), and ``agreed``
# picks one of the four. Held-out generated regions (seeds 91,000,000-91,000,999 and
# 92,000,000-92,001,999, MNIST test digits, not the benchmark's): exact 92.4 -> 93.8% and
# 91.7 -> 93.1%, reading a third of the regions four times. Sure readings are right 98.7% of the
# time, and looking again at all of them gained nothing; more margins (7) or shifting the columns
# by half a column gained 0.1-0.2 points more.
SECOND_LOOK_BELOW = 0.9
SECOND_LOOK_MARGINS = (0.08, 0.25, 0.04)
# A character's centre lies at least this many crop heights inside its region: about half a 1's
# width (the region is the number's ink, about 0.8 of the crop's height).
EDGE_CENTRE = 0.04


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
    margin: float = REGION_MARGIN  # region heights of ink around the region in the crop it was read from

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
    peak = _peak(small)
    if peak > 0:
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
    if not len(probs):
        return [], 0.0
    best = probs.argmax(axis=1)
    on_blank = best == blank
    gap_doubt = 0.0  # highest non-blank posterior on a column the path read as blank
    if on_blank.any():
        blanks = probs[on_blank]  # a copy: posteriors are never negative, so zeroing leaves the rest's max
        blanks[:, blank] = 0.0
        gap_doubt = float(blanks.max())
    # Runs of equal labels: starts where the label changes.
    change = np.empty(len(best), bool)
    change[0] = True
    np.not_equal(best[1:], best[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], len(best)) - 1
    chars = []
    for first, last in zip(starts.tolist(), ends.tolist()):
        label = int(best[first])
        if label == blank:
            continue
        index = label if label < blank else label - 1
        chars.append(DecodedChar(alphabet[index], float(probs[first : last + 1, label].max()), first, last))
    confidence = min([c.confidence for c in chars] + [1.0 - gap_doubt])
    return chars, confidence


def _cut_between(profile: np.ndarray, a: int, b: int) -> int:
    """The faintest ink column between columns a and b (exclusive), nearest the middle on ties."""
    if b - a <= 1:
        return b
    inside = profile[a + 1 : b].astype(np.float64)
    # Ties (a run of empty columns) go to the middle: distance from it counts a thousandth of a pixel.
    inside += 1e-3 * np.abs(np.arange(len(inside)) - ((b - a) / 2 - 1))
    return a + 1 + int(np.argmin(inside))


def _peak(image: np.ndarray) -> float:
    """The ``STRETCH_PERCENTILE`` of the non-paper pixels (0 for bare paper), from the histogram."""
    hist = np.bincount(image.ravel(), minlength=256)
    hist[0] = 0
    total = hist.sum()
    if total == 0:
        return 0.0
    return float(np.searchsorted(np.cumsum(hist), STRETCH_PERCENTILE / 100.0 * total))


def _ink_mask(crop: np.ndarray) -> np.ndarray:
    """The crop's clear ink, at least ``BOX_INK_LEVEL`` of the way up to its stretched peak, without
    printed lines: horizontal runs longer than the crop is high (no digit stroke is: the crop is
    the digits' height plus margins) and vertical runs nearly as long as the crop."""
    peak = _peak(crop)
    if peak == 0:
        return np.zeros(crop.shape, np.uint8)
    ink = (crop >= max(1.0, peak * BOX_INK_LEVEL / 255.0)).view(np.uint8)
    h = crop.shape[0]
    for shape in ((h, 1), (1, max(3, int(LINE_SHARE * h)))):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
        lines = cv2.erode(ink, kernel)
        if lines.any():
            ink = ink & ~cv2.dilate(lines, kernel)
    return ink


def digit_boxes(crop: np.ndarray, chars: list[DecodedChar], stride: int, scale: float, origin: Box,
                mask: np.ndarray | None = None, lead: float = 0.0, region: Box | None = None) -> list[Box]:
    """One box per decoded character, in the coordinates of the image ``origin`` is in.

    ``crop`` is the ink the reader saw (before scaling); ``stride`` input pixels per output column;
    ``scale`` model-input pixels per crop pixel; ``lead`` how far right of its columns' middle a
    character's centre lies, in crop heights (from the model's ``StringSpec.peak_lead``: CTC fires
    before the middle, and a cut at the columns' middles falls inside the left one of two touching
    digits). ``mask`` (same shape as ``crop``), when given, is the ink to fit boxes to (the
    segmentation's mask, without ruled lines); otherwise the crop's clear ink is used. A connected
    piece of ink holding one character's columns belongs to it whole; a piece holding several is
    cut along the cheapest top-to-bottom paths through its ink between their centres (``cut_paths``:
    past a 0's hollow, which a straight cut at the faintest column falls into, and between slanted
    digits whose columns overlap); a piece beside all columns (a 5's detached bar) joins the slot
    holding most of it; specks and dots are left out. Characters whose slot holds no ink keep the
    box of their slot over the crop's height. ``region`` (crop pixels), when given, is where the
    number lies: ink in the margin around it is a neighbour's (a piece of it beside every column
    joined the first digit's slot), and a centre that fell on bare paper beside it is moved in
    (``_into_region``). Touching pages 208-271 (tuning), with the region: recall 98.48 -> 98.62%,
    numbers 95.57 -> 95.90%, false digits 41 -> 38; 272-335: 98.60 -> 98.72%, 96.01 -> 96.28%, 42 ->
    38; 200-207: 97.84 -> 97.96%, 94.31 -> 95.73%; forms 1-290 one digit fewer (a 7 whose top bar
    stood above its classified box), desk photos 1-150 the same; boxes on their digits in 500
    generated regions (seeds 91,000,000 on) 96.45 -> 96.72%.
    """
    if not chars:
        return []
    h, w = crop.shape
    ink = _ink_mask(crop) if mask is None else (np.asarray(mask) > 0).view(np.uint8)
    # The centre of each character (its columns' middle, moved by the lead), in crop pixels, and
    # the straight cuts between neighbours (for the slots of characters the pieces leave empty).
    centres = [min(w - 1, max(0, int(((c.first + c.last + 1) / 2) * stride / scale + lead * h))) for c in chars]
    if region is not None:
        centres = _into_region(centres, ink, region, h)
        inside = np.zeros_like(ink)
        inside[max(0, region.y) : region.y2, max(0, region.x) : region.x2] = 1
        ink = ink & inside
    n, labels, stats = components(ink)
    profile = ink.sum(axis=0, dtype=np.int32)
    cuts = [0] + [_cut_between(profile, a, b) for a, b in zip(centres, centres[1:])] + [w]
    spans: list[list[tuple[int, int, int, int]]] = [[] for _ in chars]  # x0, y0, x1, y1 per char
    smallest = MIN_PIECE_HEIGHT * h
    centre_array = np.array(centres)
    for i in range(1, n):
        x, y, pw, ph = (int(v) for v in stats[i, :4])
        if ph < smallest and pw < smallest:
            continue  # a speck or a dot of punctuation
        inside = np.flatnonzero((centre_array >= x) & (centre_array < x + pw)).tolist()
        if len(inside) == 1:
            spans[inside[0]].append((x, y, x + pw, y + ph))
        elif len(inside) > 1:  # touching digits: each gets the piece's ink between its cut paths
            piece = labels[y : y + ph, x : x + pw] == i
            parts = _cut_piece(piece, crop[y : y + ph, x : x + pw], [centres[k] - x for k in inside])
            for k, own in zip(inside, parts):
                found = _stroke_box(own, centres[k] - x) if chars[k].char == "1" else _box_of(own)
                if found is not None:
                    x0, y0, x1, y1 = found
                    spans[k].append((x + x0, y + y0, x + x1, y + y1))
        elif ph >= 0.35 * h:  # a piece beside every character's columns: the slot holding most of it
            overlap = [max(0, min(x + pw, b) - max(x, a)) for a, b in zip(cuts, cuts[1:])]
            k = int(np.argmax(overlap))
            if overlap[k] >= 0.5 * pw:
                spans[k].append((x, y, x + pw, y + ph))
    found = [
        (min(p[0] for p in parts), min(p[1] for p in parts), max(p[2] for p in parts), max(p[3] for p in parts))
        if parts else None
        for parts in spans
    ]
    heights = [b[3] - b[1] for b in found if b is not None]
    typical = float(np.median(heights)) if heights else 0.0
    boxes = []
    for k, box in enumerate(found):
        if box is None or box[3] - box[1] < SHORT_BOX * typical:
            # Nothing, or only a sliver (a faint stroke broke up, an overlap took the rest): all
            # the ink in the character's slot.
            slot = _box_of(ink[:, cuts[k] : cuts[k + 1]])
            box = (cuts[k] + slot[0], slot[1], cuts[k] + slot[2], slot[3]) if slot else (cuts[k], 0, cuts[k + 1], h)
        x0, y0, x1, y1 = box
        boxes.append(Box(origin.x + x0, origin.y + y0, x1 - x0, y1 - y0))
    return boxes


def _into_region(centres: list[int], ink: np.ndarray, region: Box, height: int) -> list[int]:
    """Centres that fell in the margin beside ``region`` on a column without ink (CTC fired off the
    edge of the region's first or last digit) moved ``EDGE_CENTRE`` crop heights inside it; a centre
    on ink there is a neighbour's edge read, and stays (the caller drops what it reads there)."""
    inset = min(int(round(EDGE_CENTRE * height)), max(0, region.w // 2 - 1))
    left, right = max(0, region.x), min(ink.shape[1], region.x2) - 1
    moved = []
    for c in centres:
        if (c < left or c > right) and not ink[:, c].any():
            c = left + inset if c < left else right - inset
        moved.append(c)
    return moved


def _cut_piece(piece: np.ndarray, crop: np.ndarray, centres: list[int]) -> list[np.ndarray]:
    """A piece of touching digits (a boolean mask; ``crop`` its ink) cut into one mask per centre
    (columns, left to right) along the cheapest path between each two neighbours, kept between them.

    Against straight cuts at the faintest column, touching pages 208-271 (tuning): false digits 108
    -> 70, recall 97.1 -> 97.8%, numbers 92.4 -> 94.3% (the strings read were right; their boxes
    missed their digits)."""
    ph, pw = piece.shape
    weights = np.where(piece, crop, 0)
    pairs = list(zip(centres, centres[1:]))
    paths = cut_paths(weights, [(a + b) // 2 for a, b in pairs], [max(0, (b - a) // 2 - 1) for a, b in pairs])
    edges = [np.zeros(ph, np.int64), *paths, np.full(ph, pw, np.int64)]
    return [piece & between_paths(left, right, 0, pw) for left, right in zip(edges, edges[1:])]


def _box_of(own: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of a mask's ink, or None without ink."""
    x, y, w, h = cv2.boundingRect(own.view(np.uint8))
    return (x, y, x + w, y + h) if w else None


def _stroke_box(own: np.ndarray, centre: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the straight stroke of a 1 through column ``centre`` of a mask, or None.

    Each row's run of ink nearest the centre; the runs no wider than ``ONE_ROW_SPREAD`` times the
    1's pen (``ONE_PEN_PERCENTILE``) are narrow; a line fitted through the middles of the narrow runs
    near the centre, then again through those near that line (``ONE_OFF_LINE``); the box holds each
    run clipped to half the narrow runs' median width (plus a pixel) either side of the line, less
    the narrow runs off it. What a neighbour's stroke left on the 1's side of the cut (a 0's curl,
    a 5's bar) lies off the line."""
    rows = np.flatnonzero(own.any(axis=1))
    if not len(rows):
        return None
    ink = own[rows]
    w = ink.shape[1]
    columns = np.arange(w)
    # The run nearest the centre holds the ink pixel nearest it (ties: the left one); each pixel's
    # run starts at the last run start at or before it and ends after the first run end from it.
    nearest = np.where(ink, np.abs(columns - centre), w + 1).argmin(axis=1)
    before = np.zeros_like(ink)
    before[:, 1:] = ink[:, :-1]
    after = np.zeros_like(ink)
    after[:, :-1] = ink[:, 1:]
    starts = np.maximum.accumulate(np.where(ink & ~before, columns, 0), axis=1)
    ends = np.minimum.accumulate(np.where(ink & ~after, columns + 1, w)[:, ::-1], axis=1)[:, ::-1]
    pick = np.arange(len(rows))
    lefts, rights = starts[pick, nearest], ends[pick, nearest]
    widths = rights - lefts
    narrow = widths <= ONE_ROW_SPREAD * np.percentile(widths, ONE_PEN_PERCENTILE)
    middles = (lefts + rights) / 2.0
    typical = float(np.median(widths[narrow]))

    def fitted(chosen: np.ndarray) -> tuple[float, float] | None:
        """(slope, at) of the line through the chosen rows' middles; None for under 3 rows or one."""
        if chosen.sum() < 3 or np.ptp(rows[chosen]) == 0:
            return None
        slope, at = np.polyfit(rows[chosen], middles[chosen], 1)
        return float(slope), float(at)

    # Where the 1 is not (above or below it), a neighbour's thin stroke is the ink nearest the
    # centre: a line through every narrow row leaned over to it.
    line_fit = fitted(narrow & (np.abs(middles - centre) <= ONE_OFF_LINE * typical)) or fitted(narrow)
    if line_fit is not None:
        slope, at = line_fit
        slope, at = fitted(narrow & (np.abs(middles - (at + slope * rows)) <= ONE_OFF_LINE * typical)) or line_fit
    else:
        slope, at = 0.0, float(np.median(middles))
    half = typical / 2.0 + 1.0
    line = at + slope * rows
    lo, hi = np.maximum(lefts, line - half), np.minimum(rights, line + half)
    on = (hi > lo) & (~narrow | (np.abs(middles - line) <= ONE_OFF_LINE * typical))
    if not on.any():
        return None
    return int(round(lo[on].min())), int(rows[on].min()), int(round(hi[on].max())), int(rows[on].max()) + 1


def column_boxes(crop: np.ndarray, chars: list[DecodedChar], stride: int, scale: float, origin: Box) -> list[Box]:
    """Boxes from the characters' columns alone, over the crop's height: no look at the ink, so
    about ten times cheaper than ``digit_boxes`` and coarser (CTC's columns mark where a digit
    was recognised, often its left part, not its extent)."""
    h, w = crop.shape
    boxes = []
    for c in chars:
        x0 = min(w - 1, int(c.first * stride / scale))
        x1 = min(w, max(x0 + 1, int(np.ceil((c.last + 1) * stride / scale))))
        boxes.append(Box(origin.x + x0, origin.y, x1 - x0, h))
    return boxes


def reading_from_probs(probs: np.ndarray, crop: np.ndarray, prepared: PreparedCrop, origin: Box,
                       alphabet: str, blank: int, stride: int, mask: np.ndarray | None = None,
                       fit_boxes: bool = True, lead: float = 0.0) -> StringReading:
    """Decode one region's posteriors ``(columns, labels)`` into a ``StringReading``; boxes fitted to
    the ink (``digit_boxes``, ``lead`` as there) or, with ``fit_boxes`` False, from the columns
    (``column_boxes``)."""
    columns = -(-prepared.content_width // stride)  # padding columns hold nothing of the region
    chars, confidence = greedy_decode(probs[: max(1, columns)], alphabet, blank)
    if fit_boxes:
        boxes = digit_boxes(crop, chars, stride, prepared.scale, origin, mask, lead)
    else:
        boxes = column_boxes(crop, chars, stride, prepared.scale, origin)
    return StringReading(
        text="".join(c.char for c in chars),
        confidences=tuple(c.confidence for c in chars),
        boxes=tuple(boxes),
        confidence=confidence if chars else 0.0,
        spans=tuple((c.first, c.last) for c in chars),
    )


def agreed(readings: list[StringReading]) -> StringReading:
    """One reading of a region from several looks at it (other margins): the text whose looks'
    confidences add up highest, as its surest look read it.

    Touching pages 208-271 (tuning): recall 96.42 -> 96.88%, digits 95.98 -> 96.37%, numbers
    91.99 -> 92.17%, false digits 111 -> 109. Lowering the confidences where looks disagree (by the
    share of all the looks' confidence the text has) cost 0.8 points of recall against that (the
    number rules' rescues need sure digits) for 7 false digits fewer; to the mean of the agreeing
    looks, 8 false digits more."""
    support: dict[str, float] = {}
    for reading in readings:
        support[reading.text] = support.get(reading.text, 0.0) + reading.confidence
    text = max(support, key=support.get)  # ties: the first look's text (dicts keep insertion order)
    return max((r for r in readings if r.text == text), key=lambda r: r.confidence)
