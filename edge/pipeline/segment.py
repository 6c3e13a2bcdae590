"""Find handwritten digit candidates in an image (OpenCV).

Steps, each a pure function: grey -> polarity -> ink image (background normalised, so shadows and
uneven light vanish) -> binary mask (hysteresis threshold with a contrast floor, so a blank page stays
blank) -> ruled lines and borders removed -> connected components -> broken strokes joined, specks
dropped -> candidates, each with its pen width measured once (normalisation reuses it). Splitting
touching digits needs the classifier, so it is a later stage (``edge.pipeline.split``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from edge.pipeline.ink import (AREA, HEIGHT, LEFT, TOP, WIDTH, InkCrop, components, longest_run, measure,
                              stroke_width, to_gray, working_copy)
from edge.pipeline.links import groups
from edge.pipeline.paper import Paper, PaperOptions, fill_outside, find_paper
from edge.pipeline.results import Box

POLARITIES = ("auto", "dark-on-light", "light-on-dark")
# Above this share of ink pixels an image is not handwriting on paper (noise, texture, a photo).
MAX_INK_COVERAGE = 0.35
# Above this share of the ink in specks of at most 3x3 pixels, the image is speckle noise: dust and
# JPEG crumbs on a real page are a tiny share of its ink.
MAX_SPECK_SHARE = 0.25
# Specks: components at most this many pixels on their longer side count towards the speck share.
SPECK_SIDE = 3

# Ruled lines (pen widths and shares of the image): a straight run at least LINE_PEN_WIDTHS long
# (no digit stroke is that long), spanning LINE_SPAN of the image or LINE_DIGIT_HEIGHTS digit heights,
# and thin (its own width at most 1/LINE_MAX_THICKNESS of its length: a big bold 1 is no ruled line).
LINE_PEN_WIDTHS = 15
LINE_MIN_PX = 20
LINE_SPAN = 0.6
LINE_DIGIT_HEIGHTS = 3
LINE_MAX_THICKNESS = 25
# Ink lying wholly within this many pixels of a removed line, and no thicker on average than
# LINE_RESIDUE_THICKNESS_PX (a sliver along it, not a digit's stroke along the line), is its leftover.
LINE_RESIDUE_PX = 3
LINE_RESIDUE_THICKNESS_PX = 2
# Such a sliver may touch a digit (a comb box's line left a pixel's rim where the digit meets it, and
# the two became one blob, as wide as the box): ink near a removed line that holds no square of
# LINE_RESIDUE_THICKNESS_PX + 1 pixels is cut off first. Only under a pen at least SLIVER_MIN_PEN_PX
# wide, whose strokes hold such squares everywhere: a thin pen's strokes would lose their ends.
SLIVER_MIN_PEN_PX = 4.0
# Parts of one comb found apart: on one row (sharing this share of the shorter part's rows) and at
# most FIELD_JOIN_GAP of their height apart (overlapping, mostly: each pass finds some walls).
FIELD_SHARED_ROWS = 0.6
FIELD_JOIN_GAP = 0.1
# Walls of comb boxes and table cells, between two lines: straight runs at least WALL_PEN_WIDTHS pen
# widths (and WALL_MIN_PX) long, at most WALL_THICKER_PX thicker than the lines (printed rules are
# all one width; a pen stroke that happens to run from line to line is rarely that thin) plus the
# pixels a run may step aside (``slack``: a wall leaning a little on a sheet made level), whose ends
# reach a line (within the line's thickness plus WALL_REACH_PX).
# A run near a line at its middle as well as at its ends lies along the line, no wall: a 5's bar
# drawn apart just under a table's rule was taken, the 5 read from its body alone (its box matching
# no digit), and strokes of other digits in the tables' cells too. Forms 1-290 (tuning): recall
# 99.25 -> 99.34%, numbers 95.64 -> 95.87%, false digits 51 -> 49; 300-399: 98.81 -> 98.87%, 93.84 ->
# 94.02%, 30 -> 29; 400-599: 99.15 -> 99.18%, 54 -> 51; every other kind reads the same.
WALL_PEN_WIDTHS = 4
WALL_MIN_PX = 10
WALL_THICKER_PX = 1
WALL_REACH_PX = 2
WALL_ROW = 3
WALL_EVEN = 1.35  # the widest gap between neighbouring walls of a row, over the narrowest
# A comb's boxes are about as wide as tall: a row's walls stand at least this share of their length
# apart. On photos, perspective sorts a comb's walls into rows by where they end, and a 4's or 7's
# stem standing halfway between two walls made an evenly spaced row of three "walls" with them (the
# stem went, and the rest was no digit); the walls themselves, a box apart, are kept. Forms 1-290
# (tuning): recall 98.60 -> 98.77%, digits 98.16 -> 98.35%, numbers 94.07 -> 94.45%, false digits
# 79 -> 80; forms 300-399: 98.35 -> 98.41%, 97.95 -> 98.03%, false 42 -> 42; ruled, desk photos,
# card frames and sticky notes the same. Emptying such rows instead found 4 digits fewer.
WALL_MIN_PITCH = 0.7
# A comb box holds one digit: about as wide as tall. A row of walls further apart than this many
# wall lengths (the median gap) is a table's cells (an item, its quantity, its price): walls, but
# no comb field, so a row's quantity and price are two numbers. Forms 1-120 (tuning): numbers
# 92.5 -> 93.9%, false digits 48 -> 45; forms 121-170 (untuned): numbers 92.0 -> 94.3%.
COMB_MAX_PITCH = 2.5
# A short comb (a date's two boxes) has rules too short for lines; two straight runs of one length
# (ends within WALL_REACH_PX plus two pen widths), one above the other, between these multiples of
# the typical digit height apart, are a box's top and bottom (a comb box is about one and a half
# digit heights, a table's row up to three). Forms 1-80 (tuning): numbers 73.4 -> 76.9%, recall
# 92.7 -> 93.6%, precision 89.6 -> 89.7%; forms 81-120 (untuned): numbers 77.0 -> 79.0%, recall
# 93.8 -> 94.4%, precision 90.4 -> 90.6%.
BOX_HEIGHTS = (0.8, 3.0)

# Joining the pieces of broken digits (shares of the typical digit height, or of a group's height).
GROUP_MAX_HEIGHT = 1.7  # digit sizes vary across a page; two lines on top of each other do not fit
GROUP_MAX_GAP = 0.3  # a pen skip leaves a gap of a few pen widths, not a line's spacing
GROUP_MAX_ASPECT = 1.6  # a joined group stays no wider than this times its height
GROUP_STACKED_OVERLAP = 0.5  # share of the narrower piece's width that must overlap to count as stacked
GROUP_OFF_CENTRE = 0.45  # a piece beside a group sits in its top or bottom part (a 5's bar, a 2's tail)
GROUP_BESIDE_REACH = 0.15  # how far beside a group such a piece may start (digit heights)
GROUP_BESIDE_WIDTH = 1.2  # ... without making the group wider than this many digit heights
# A piece beside two groups joins the one it reaches over by at least this share of its width more
# than the biggest: a 5's bar drawn apart over the right of its body, just short of the next digit's
# top, had joined that digit (a bigger 6), and the 5 was found without it; a bar over neither (a
# few columns each way) stays with the biggest. Sheets 1-40 of every kind (tuning): false digits
# 42 -> 29, broken pages 15 -> 9 (41-120, with BAR_FLAT: 19 -> 13); desk photos 1-150 two digits
# more; touching 200-380, forms 1-340 and card frames 2001-2100 page for page the same.
GROUP_BESIDE_OVER = 0.3
# Bridging pen skips when measuring the typical digit height: up to this many pen widths, and at
# most this share of the pieces' median height (thick writing on narrow lines must not join lines).
BRIDGE_PEN_WIDTHS = 3
BRIDGE_SHARE = 0.2
# Every digit is at least this share of the typical height (a 1 is narrow, but none is flat).
MIN_HEIGHT_SHARE = 0.35

# An upright taller than this many typical digit heights and narrower than RULE_ASPECT of its height
# is a rule or a box's side (a 1 is as tall as the digits around it, give or take a fifth). 1.6, not
# 1.8: on forms 1-80 (tuning) 8 walls fewer read as 1s, on forms 81-120 3; sheets and desk photos
# read the same; at 1.4 a desk photo's tall 1s went too.
RULE_HEIGHT_SHARE = 1.6
RULE_ASPECT = 0.2
# A comb's wall in a photo leans by the camera's tilt: its box is this share of its height wider
# than the bar itself (0.2: about 11 degrees, as CELL_MAX_LEAN).
WALL_MAX_LEAN = 0.2
# ... and is drawn thinner than the digits: a leaning 1 touching a comb's rules, thin as they are,
# has at least 0.84 of the page's pen (forms 1-290), the walls left standing 0.4-0.75.
WALL_LEAN_PEN = 0.8
# ... and the comb's rules run on both of its sides along at least this share of half its height
# (at both ends). Without it, pieces of a paper's edge at the end of a form's lines went, and the
# rest of the edge, no longer a column of pieces, was read as 1s. Forms 1-290 (tuning): false digits
# 87 -> 85, nothing else changed; forms 300-399, ruled, desk, card, sticky: the same.
WALL_LINE_BESIDE = 0.5
# What pen strokes look like (and noise does not).
MAX_PIECES = 6  # a digit breaks into a few pieces at most; a cloud of specks is noise
SOLID_FILL = 0.88  # share of its box a blob may fill: a 1 fills its narrow box, bold 8s fill 80%
SOLID_MIN_ASPECT = 0.4  # ... checked for blobs at least this wide (width / height)
# A candidate drawn with under this share of the page's median pen width (over its candidates) is a
# hairline: a faint printed box's broken side, a rule's stub, not handwriting. Two pens on one page
# differ by up to 2.4x on the tuning pages (a fine pen beside a marker); printed rules by 3-7x.
HAIRLINE_SHARE = 0.35
HAIRLINE_MIN_CANDIDATES = 5  # the median means something from this many candidates on
# An upright sliver (narrower than EDGE_SLIVER_ASPECT of its height) with background on its left and
# right this different is the step between two surfaces: a paper's edge on a desk, its shadow, a
# card's corner. The darker side's paper is at most EDGE_STEP_RATIO of the brighter's; a digit's paper
# is the same on both sides, and a shadow's soft edge changes little across one digit (above and below
# a tall digit the light may change as much: not looked at). Each side is measured on a strip
# EDGE_STRIP_SHARE of the sliver's height wide (at least EDGE_STRIP_PX), a pen width off it, as the
# EDGE_PAPER_PERCENTILE of its pixels a pen width or more from any ink (the paper, not a blurred
# neighbour's rim: a sticky note's 1 beside a bold 8). Forms 1-80 (tuning): 172 -> 161 false digits,
# 81-120 (untuned) 78 -> 77, desk photos 100-139 16 -> 12, none true lost, every other kind the same;
# at 0.65, edges in a desk's shade (0.68) stayed. A sliver on the frame's left or right border has
# its outer side beyond the frame, and is an edge too (a desk's or a sheet's, cut by the frame; a
# handwritten 1 there is rarely whole): forms 1-290 false digits 83 -> 80, 300-399 38 -> 37, desk
# photos 1-150 11 -> 10, no true digit lost; desk photos 151-300, card frames 2001-2150 the same.
EDGE_SLIVER_ASPECT = 0.5
EDGE_STEP_RATIO = 0.75
EDGE_STRIP_SHARE = 0.33
EDGE_STRIP_PX = 3
EDGE_PAPER_PERCENTILE = 90
EDGE_BARE_SHARE = 0.5  # a strip with less of its area this far from ink is not judged
EDGE_MIN_BARE_LINES = 2  # ... nor one with fewer bare pixels than this many of its lines (a sliver's end)
# A handwritten digit is 3 to 30 pen widths tall; 40 leaves room for fine pens on big digits, while
# noise clumps are far thinner than their height suggests.
MAX_HEIGHT_IN_PEN_WIDTHS = 40


@dataclass(frozen=True)
class SegmentOptions:
    polarity: str = "auto"
    # Work on a copy whose long side is at most this (digits stay far above 20 px on any page).
    max_side: int = 2000
    # Ink must differ from the paper by this much (0-255, after background normalisation).
    min_contrast: int = 50
    # Smallest digit height considered, in working pixels.
    min_height: int = 8
    # Never report more candidates than this from one image (a page of noise stays cheap).
    max_candidates: int = 500
    remove_lines: bool = True
    # Upright slivers on the step between paper and desk (or shadow) are read as no digit
    # (``EDGE_STEP_RATIO``).
    edge_steps: bool = True
    # Photos of a sheet on a desk: find the sheet and read only inside it.
    paper: PaperOptions = field(default_factory=PaperOptions)


@dataclass(frozen=True)
class Candidate:
    box: Box  # in working-image pixels
    labels: tuple[int, ...]  # component ids in Segmentation.labels that make up this digit
    stroke: float = 0.0  # its pen width on the mask, working pixels: measured once, here
    crop: np.ndarray | None = None  # its own ink cut to its box (neighbours' strokes blanked)
    measured: InkCrop | None = None  # that ink trimmed, shrunk and stretched for the normaliser


@dataclass
class Segmentation:
    scale: float  # working size / original size
    gray: np.ndarray  # working-size grey image
    ink: np.ndarray  # working-size ink intensity, 0 paper .. 255 ink
    mask: np.ndarray  # binary ink after line removal (uint8 0/1)
    labels: np.ndarray  # connected-component labels of mask
    candidates: list[Candidate]
    polarity: str
    stroke: float  # typical pen width, working pixels
    digit_height: float  # typical digit height, working pixels (0 when none)
    notes: list[str] = field(default_factory=list)
    # Where the arrays above start in the working image: a sheet found in a photo is read on its own.
    origin: tuple[int, int] = (0, 0)
    fields: list[Box] = field(default_factory=list)  # comb fields (rows of boxes), working pixels
    paper: Paper | None = None  # the sheet, in the input image's pixels
    # Boxes of candidates on the step between two surfaces (working pixels, from ``origin``, as
    # ``candidates``): read as no digit.
    steps: list[Box] = field(default_factory=list)
    # The ruled lines, box borders and grids removed (uint8 0/1, as ``mask``); None when none were.
    lines: np.ndarray | None = None


def detect_polarity(gray: np.ndarray) -> str:
    """Whether the ink is darker or lighter than the paper.

    First vote: are the thin features (strokes) darker or lighter than what surrounds them? Black-hat
    picks out thin dark features and top-hat thin light ones, and large areas (a desk around a note,
    a shadow) count for neither. When that vote is close (thick strokes make the gaps between them
    look thin too), the paper is the majority: the longer tail of the histogram is the ink. Without
    any ink (a blank page, plain noise) the answer is dark ink on light paper.
    """
    small, _ = working_copy(gray, 320)
    k = max(5, (max(small.shape) // 40) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    dark = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, kernel)
    light = cv2.morphologyEx(small, cv2.MORPH_TOPHAT, kernel)
    dark_energy = float(dark[dark > 40].sum())
    light_energy = float(light[light > 40].sum())
    if light_energy > 2 * dark_energy + 1000:
        return "light-on-dark"
    if dark_energy > 2 * light_energy + 1000:
        return "dark-on-light"
    lo, median, hi = np.percentile(small, (0.5, 50, 99.5))
    return "light-on-dark" if hi - median > 1.5 * (median - lo) + 20 else "dark-on-light"


def ink_image(gray: np.ndarray, polarity: str) -> np.ndarray:
    """Ink strength per pixel (0 = paper), after dividing out the paper's uneven brightness."""
    paper_bright = gray if polarity == "dark-on-light" else cv2.bitwise_not(gray)
    h, w = paper_bright.shape
    # Estimate the paper on a small copy with a median an eighth of the image wide, and at least five
    # pen widths (bold marker on a small image): strokes are a minority of any such window so they
    # vanish, while shadows and the edges of large areas (a note on a desk) keep their place
    # instead of bleeding into a halo.
    factor = max(1, max(h, w) // 160)
    small = cv2.resize(paper_bright, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    # The pen, roughly: what is darker than its wide surroundings (a shadow's slow change is not).
    wide = max(3, (max(small.shape) // 4) | 1)
    darker = cv2.subtract(cv2.blur(small, (wide, wide)), small)
    _, rough = cv2.threshold(darker, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    pen = stroke_width(rough) if 0 < rough.mean() < 0.5 else 0.0
    k = min(255, max(small.shape) | 1, max(3, (max(small.shape) // 8) | 1, int(5 * pen) | 1))
    paper = cv2.medianBlur(small, k)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    # Ink is how much darker than its paper a pixel is, relative to that paper's brightness; a paper
    # estimate near black (an unlit or uniform dark frame) has no ink to show.
    return cv2.divide(cv2.subtract(paper, paper_bright), cv2.max(paper, 48), scale=255)


def _paper_noise(ink: np.ndarray) -> float:
    """The spread of the paper's own ink level (grain, sensor noise, JPEG ringing), as a standard
    deviation; 0 on a clean page."""
    # Ink is clipped at zero where the paper is brighter than its estimate, so the noise is read off
    # the positive half: for symmetric noise the lower quartile of |x| is 0.3186 sigma, and real ink,
    # in the upper tail, barely moves it. Noise makes about half of the paper positive; a clean
    # (synthetic) page has only its ink there, so below 35% there is no noise to estimate.
    step = max(1, round((ink.size / 20000) ** 0.5))  # about 20,000 pixels are plenty for a quantile
    sample = ink[::step, ::step]
    positive = sample[sample > 0]
    if positive.size <= 0.35 * sample.size:
        return 0.0
    return float(np.partition(positive, positive.size // 4)[positive.size // 4]) / 0.3186


def _thresholds(ink: np.ndarray, min_contrast: int) -> tuple[float, float]:
    """Strong and weak ink levels for the hysteresis threshold."""
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Strong ink must stand well clear of the paper's own spread. When the noise is as strong as any
    # ink can be, nothing stands out and nothing is read.
    high = max(float(otsu), float(min_contrast), 5 * _paper_noise(ink))
    return high, max(high * 0.5, min_contrast * 0.6)


def _hysteresis(ink: np.ndarray, high: float, low: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask, labels and stats of the weak-ink components that hold strong ink.

    Components without strong ink keep their label but get zeroed stats, so the labels can be used
    as they are (no second labelling pass) when nothing else changes the mask.
    """
    weak = cv2.threshold(ink, low, 1, cv2.THRESH_BINARY)[1]  # ink > low (OpenCV floors it for uint8)
    n, labels, stats = components(weak)
    keep = np.zeros(n, bool)
    keep[labels[ink > high]] = True
    keep[0] = False
    if keep[1:].all():  # the usual case: every weak stroke holds strong ink; no relabelling needed
        return weak, labels, stats
    stats[~keep] = 0
    return keep.view(np.uint8)[labels], labels, stats


def binarize(ink: np.ndarray, min_contrast: int) -> np.ndarray:
    """Hysteresis threshold: keep weak ink only where it touches strong ink (keeps faint stroke ends)."""
    return _hysteresis(ink, *_thresholds(ink, min_contrast))[0]


def _long_runs(mask: np.ndarray, length: int, slack: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixels on straight horizontal / vertical runs of at least ``length`` (morphological opening).

    With ``slack`` a run may step that many pixels across its direction: the opening looks at the
    mask thickened across by that much, and keeps the mask's own pixels under it.
    The erosion half of each opening finds out cheaply whether there is any such run at all. Both
    halves cost in proportion to the pixels and the run's length, so they work on the ink's bounding
    box with a run's length of paper around it (no run can reach past that, so nothing changes).
    """
    runs = [np.zeros_like(mask), np.zeros_like(mask)]
    x, y, w, h = cv2.boundingRect(mask)
    if not w:
        return runs[0], runs[1]
    margin = length + slack
    box = (slice(max(0, y - margin), y + h + margin), slice(max(0, x - margin), x + w + margin))
    ink = mask[box]
    for k, shape in enumerate(((length, 1), (1, length))):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
        source = ink
        if slack:
            source = cv2.dilate(ink, np.ones((2 * slack + 1, 1) if shape[1] == 1 else (1, 2 * slack + 1), np.uint8))
        eroded = cv2.erode(source, kernel)
        if not cv2.countNonZero(eroded):
            continue
        opened = cv2.dilate(eroded, kernel)
        runs[k][box] = opened & ink if slack else opened
    return runs[0], runs[1]


def line_length(stroke: float) -> int:
    """Shortest straight run that may be a ruled line, in pixels."""
    return max(LINE_MIN_PX, int(round(LINE_PEN_WIDTHS * stroke)))


def remove_lines(mask: np.ndarray, stroke: float, leftover_thickness: float = LINE_RESIDUE_THICKNESS_PX,
                 slack: int = 0, length: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Box]]:
    """Remove ruled lines and box borders: straight runs far longer than any digit stroke.

    A run is a line when it is at least ``LINE_PEN_WIDTHS`` pen widths long and also either spans
    most of the image or is several times the typical digit height; strokes that a line cut through
    are restored; their leftovers no thicker than ``leftover_thickness`` go (``_without_leftovers``).
    ``length``: the shortest run that is a line, for a mask holding one comb found by its shape
    (``_comb_shaped``), whose short rules need not be thin for their length.
    Returns the cleaned mask, the removed lines, and the comb fields found among them.
    """
    return _remove_lines(mask, stroke, leftover_thickness, slack, length)[:3]


# The cleaned mask's components (labels, stats), when removing the lines labelled them anyway.
Labelling = tuple[np.ndarray, np.ndarray]


def _remove_lines(mask: np.ndarray, stroke: float, leftover_thickness: float = LINE_RESIDUE_THICKNESS_PX,
                  slack: int = 0, length: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Box], Labelling | None]:
    """``remove_lines``, and the cleaned mask's labelling when it made one (so the caller need not)."""
    by_shape = length is not None  # a comb found by its shape: its rules are short, however thin
    length = length or line_length(stroke)
    if length >= max(mask.shape):
        return mask, np.zeros_like(mask), [], None
    horizontal, vertical = _long_runs(mask, length, slack)
    runs = horizontal | vertical
    if not runs.any():
        return mask, runs, [], None
    rest = mask & ~runs & 1
    typical = _typical_height(rest, stroke)
    line_mask = np.zeros_like(mask)
    pen_widths = []  # of the lines
    thicknesses = []  # their area over their length
    h_img, w_img = mask.shape
    # Horizontal and vertical runs are judged apart: a 1 standing on a ruled line is one piece of
    # ink with the line, but its upright run is no line.
    for runs_of in (horizontal, vertical):
        if not runs_of.any():
            continue
        n, labels, stats = components(runs_of)
        boxed = _box_sides(stats, typical, stroke) if runs_of is horizontal and typical else set()
        for i in range(1, n):
            w, h = stats[i, WIDTH], stats[i, HEIGHT]
            span = max(w / w_img, h / h_img)
            long_side = max(w, h)
            if not (span >= LINE_SPAN or (typical and long_side >= LINE_DIGIT_HEIGHTS * typical) or i in boxed):
                continue
            box, own = _own_pixels(labels, stats, i)
            width = stroke_width(own)
            if by_shape or width <= long_side / LINE_MAX_THICKNESS:
                line_mask[box] |= own.view(np.uint8)
                pen_widths.append(width)
                thicknesses.append(stats[i, AREA] / long_side)
    if not line_mask.any():
        return mask, line_mask, [], None
    thickness = max(thicknesses)
    walls_h, walls_v, fields = _grid_walls(mask & ~line_mask & 1, line_mask, stroke, max(pen_widths), slack)
    if walls_h.any() or walls_v.any():
        line_mask |= walls_h | walls_v
        horizontal, vertical = horizontal | walls_h, vertical | walls_v
    # Give back line pixels where a stroke crosses the line: ink on both sides within reach.
    reach = int(round(thickness)) + 1
    rest = mask & ~line_mask & 1
    restored = np.zeros_like(mask)
    for runs_of, shape in ((horizontal, (1, reach)), (vertical, (reach, 1))):
        kernel = np.ones(shape[::-1], np.uint8)
        before = cv2.dilate(rest, kernel, anchor=(kernel.shape[1] - 1, kernel.shape[0] - 1))
        after = cv2.dilate(rest, kernel, anchor=(0, 0))
        restored |= line_mask & runs_of & before & after
    cleaned, removed = rest | restored, line_mask & ~restored & 1
    band = cv2.dilate(removed, np.ones((2 * LINE_RESIDUE_PX + 1, 2 * LINE_RESIDUE_PX + 1), np.uint8))
    if stroke >= SLIVER_MIN_PEN_PX and fields:
        cleaned = _without_slivers(cleaned, band, fields)
    cleaned, removed, labelling = _without_leftovers(cleaned, removed, band, leftover_thickness)
    return cleaned, removed, fields, labelling


def _box_sides(stats: np.ndarray, typical: float, stroke: float) -> set[int]:
    """Horizontal runs that are a printed box's top and bottom: two runs of one length, one above the
    other, a box's height apart (a short comb: too short for a line on its own)."""
    reach = WALL_REACH_PX + 2 * int(np.ceil(stroke))
    lo, hi = BOX_HEIGHTS[0] * typical, BOX_HEIGHTS[1] * typical
    x, y, x2 = stats[1:, LEFT], stats[1:, TOP], stats[1:, LEFT] + stats[1:, WIDTH]
    same = (np.abs(x[:, None] - x[None, :]) <= reach) & (np.abs(x2[:, None] - x2[None, :]) <= reach)
    apart = y[None, :] - y[:, None]
    pairs = np.argwhere(same & (apart >= lo) & (apart <= hi))
    return {int(k) + 1 for k in pairs.ravel()}


def _own_pixels(labels: np.ndarray, stats: np.ndarray, i: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """Component ``i``'s box (as slices) and its pixels within that box. Lines, walls and leftovers
    are thin: marking them inside their boxes is far cheaper than a lookup over the whole image."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    box = (slice(y, y + h), slice(x, x + w))
    return box, labels[box] == i


def joined_fields(fields: list[Box]) -> list[Box]:
    """Comb fields found in parts (each pass over a photographed comb may find some of its walls) as
    one field each: parts on one row (sharing at least FIELD_SHARED_ROWS of the shorter one's rows)
    that overlap or meet (at most FIELD_JOIN_GAP of their height apart) are one comb. Two combs side
    by side (a date's DD MM YYYY) stand further apart than that."""
    def links():
        for i, a in enumerate(fields):
            for j in range(i + 1, len(fields)):
                b = fields[j]
                rows = min(a.y2, b.y2) - max(a.y, b.y)
                if rows >= FIELD_SHARED_ROWS * min(a.h, b.h) and a.gap(b) <= FIELD_JOIN_GAP * min(a.h, b.h):
                    yield i, j

    return [Box.around(fields[i] for i in members) for members in groups(len(fields), links())]


def _without_slivers(cleaned: np.ndarray, band: np.ndarray, fields: list[Box]) -> np.ndarray:
    """``cleaned`` without the ink in ``band`` (within ``LINE_RESIDUE_PX`` of a removed line) of a
    comb field that is no more than ``LINE_RESIDUE_THICKNESS_PX`` thick (see ``SLIVER_MIN_PEN_PX``)."""
    inside = np.zeros_like(band)
    for f in fields:
        pad = LINE_RESIDUE_PX
        inside[max(0, f.y - pad) : f.y2 + pad, max(0, f.x - pad) : f.x2 + pad] = 1
    band = band & inside
    side = LINE_RESIDUE_THICKNESS_PX + 1
    solid = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    return cleaned & ~(band & ~solid & 1)


def _without_leftovers(cleaned: np.ndarray, lines: np.ndarray, band: np.ndarray,
                       thickness: float = LINE_RESIDUE_THICKNESS_PX) -> tuple[np.ndarray, np.ndarray, Labelling]:
    """Ink lying wholly within ``band`` (``LINE_RESIDUE_PX`` of a removed line), no thicker on average than
    ``thickness`` pixels, is its leftover and goes with it: the rows of a border's soft edge that no
    straight run covers (grouped with the digit in a comb box, they made its box the whole box), or
    the pixels at the steps of a line that leans. A stroke crossing the line reaches beyond, and
    stays; so does a digit's stroke lying along the line (a 2's foot), thicker than a sliver.

    Also returns the components of what is left: the leftovers' labels cleared and their stats zeroed
    (as ``_hysteresis`` does), the rest numbered as before, so they serve as a fresh labelling."""
    n, labels, stats = components(cleaned)
    outside = np.bincount(labels[(cleaned > 0) & (band == 0)], minlength=n)
    long_side = np.maximum(stats[:, WIDTH], stats[:, HEIGHT])
    thin = stats[:, AREA] <= thickness * long_side
    residue = ((outside == 0) & thin).astype(np.uint8)
    residue[0] = 0
    if not residue.any():
        return cleaned, lines, (labels, stats)
    cleaned, lines = cleaned.copy(), lines.copy()
    for i in np.flatnonzero(residue):
        box, own = _own_pixels(labels, stats, i)
        cleaned[box][own] = 0
        lines[box][own] = 1
        labels[box][own] = 0
    stats[residue.view(bool)] = 0
    return cleaned, lines, (labels, stats)


def _grid_walls(rest: np.ndarray, lines: np.ndarray, stroke: float, thickness: float,
                slack: int = 0) -> tuple[np.ndarray, np.ndarray, list[Box]]:
    """The walls of comb boxes and table cells: short straight runs, as thin as the lines, that run
    from one line to another, at least ``WALL_ROW`` of them between the same two lines (a handwritten 1
    is slanted, thicker, stops short of a line, and comes alone).

    Returns the horizontal and the vertical walls (uint8 0/1), and the comb fields: the boxes of the
    rows of upright walls (each such row is one field, whose digits make one number)."""
    shortest = max(WALL_MIN_PX, int(round(WALL_PEN_WIDTHS * stroke)))
    horizontal, vertical = _long_runs(rest, shortest, slack)
    reach = int(round(thickness)) + WALL_REACH_PX
    near = cv2.dilate(lines, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    # Which line each wall's ends touch: the walls of one comb run between its own two lines, so
    # combs side by side on one line of a form (a date's DD MM YYYY) are told apart.
    _, line_ids = cv2.connectedComponents(near, connectivity=8)
    found = []
    fields: list[Box] = []
    for runs, upright in ((horizontal, False), (vertical, True)):
        walls = np.zeros_like(rest)
        spans: list[tuple[int, int, int, int, int]] = []  # (start, end, component, line at start, at end)
        labels = None
        if runs.any():
            n, labels, stats = components(runs)
            for i in range(1, n):
                x, y, w, h = (int(v) for v in stats[i, :4])
                across, along = (w, h) if upright else (h, w)
                if across > np.ceil(thickness) + WALL_THICKER_PX + slack:
                    continue
                if upright:
                    first, last = line_ids[y, x : x + w].max(), line_ids[y + h - 1, x : x + w].max()
                    middle = line_ids[y + h // 2, x : x + w].max()
                else:
                    first, last = line_ids[y : y + h, x].max(), line_ids[y : y + h, x + w - 1].max()
                    middle = line_ids[y : y + h, x + w // 2].max()
                # A wall meets lines at its ends only; a run near a line at its middle too lies
                # along it (see the walls' constants).
                if first and last and not middle:
                    spans.append((y, y + h, i, int(first), int(last)) if upright
                                 else (x, x + w, i, int(first), int(last)))
        rows: dict[int, list[int]] = {}  # first wall of a row -> the row's walls
        position = LEFT if upright else TOP
        chosen: list[int] = []
        for start, end, i, first, last in spans:
            row = [j for s, e, j, a, b in spans
                   if abs(s - start) <= reach and abs(e - end) <= reach and (a, b) == (first, last)]
            # Printed boxes are evenly spaced; strokes that happen to run between two ruled lines (or
            # a digit's stroke standing in a box, beside its walls) are not.
            longest = max(int(stats[j, HEIGHT if upright else WIDTH]) for j in row)
            row = _evenly_spaced(row, {j: int(stats[j, position]) for j in row}, WALL_MIN_PITCH * longest)
            if i in row:
                chosen.append(i)
                rows.setdefault(min(row), row)
        for i in chosen:
            box, own = _own_pixels(labels, stats, i)
            walls[box] |= own.view(np.uint8)
        if upright:
            for row in rows.values():
                x0 = min(int(stats[j, LEFT]) for j in row)
                x1 = max(int(stats[j, LEFT] + stats[j, WIDTH]) for j in row)
                y0 = min(int(stats[j, TOP]) for j in row)
                y1 = max(int(stats[j, TOP] + stats[j, HEIGHT]) for j in row)
                pitch = float(np.median(np.diff(sorted(int(stats[j, LEFT]) for j in row))))
                if pitch <= COMB_MAX_PITCH * (y1 - y0):
                    fields.append(Box(x0, y0, x1 - x0, y1 - y0))
        found.append(walls)
    return found[0], found[1], fields


# A comb box or a table cell printed faint in a photo can survive the line passes whole: its rules
# are too short or too broken for runs, and a digit touching a wall joins it. A piece of ink
# CELL_HEIGHTS typical digit heights tall (a cell is about 1.3-1.5), at most CELL_MAX_ASPECT times
# as wide as tall (two or three boxes of a short comb), whose outline runs straight along at least
# CELL_SIDES of its four sides is a frame: ink along a side within CELL_SIDE_PX of a straight line on
# at least CELL_STRAIGHT of its length (a tilted photo leans the line; a digit's curve bends away)
# and no thicker there than the pen plus CELL_THICKER_PX. The sides go, and so do the walls inside
# (columns inked along CELL_WALL of the frame's height: a 1 in a box spans about 0.7 of it).
# Forms 1-290 (tuning): recall 98.77 -> 98.84%, numbers 94.45 -> 94.60%, false digits 80 -> 87 (a
# small photographed comb whose frames went in part: its digits found, their boxes their cells);
# forms 300-399: recall 98.41 -> 98.52%, numbers 93.04 -> 93.22%, false 42 -> 38; ruled pages, desk
# photos, card frames and sticky notes the same. Without the check-box rule, a ticked box's cross was
# read as an 8 (4 false digits on 1-290); frames down to 0.5 as wide as tall took bold 0s and 8s.
# A cell whose top and bottom rules went with the lines leaves its left and right walls joined to
# its digit: two straight opposite sides are a frame too. A side counts only near its edge (its line
# crosses the middle within CELL_SIDE_DEPTH of the piece's width or height): a straight run found
# deep inside (a digit's stroke, the top rule seen from below) made a frame's sides look too close
# together, and the frame stayed. With both, forms 1-290: recall 98.84 -> 98.90%, numbers 94.60 ->
# 94.74%, false digits 85 -> 83; forms 300-399: 98.52 -> 98.60%, 93.22 -> 93.40%, false 38 -> 38.
CELL_HEIGHTS = (1.15, 2.4)
CELL_MIN_ASPECT = 0.85  # a box is about as wide as tall or wider; a bold 0 or 8 is narrower
CELL_MAX_ASPECT = 3.5
# A check box is square, and its tick or cross fills a good share of it (forms 1-290: 0.30-0.72 of
# the box; a digit in its comb box, with the box, 0.09-0.32), and is left as it is.
CHECK_BOX_SQUARE = 0.05
CHECK_BOX_FILL = 0.3
CELL_SIDES = 3
CELL_SIDE_PX = 2
CELL_STRAIGHT = 0.7
CELL_THICKER_PX = 2
CELL_WALL = 0.9
CELL_SIDE_DEPTH = 0.25  # a side's line crosses the middle within this share of the width (height) of its edge
CELL_APART = 0.5  # opposite sides at least this share of the frame's width (height) apart
CELL_MIDDLE = (0.2, 0.8)  # the rows a side's line is fitted through (share of its length)
CELL_MAX_LEAN = 0.2  # pixels across per pixel along: a photo's tilt, up to about 11 degrees


def _without_cell_frames(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray, stroke: float,
                         typical: float) -> np.ndarray | None:
    """The mask without the frames of boxes and cells left standing (see ``CELL_HEIGHTS``), or None
    when there is none."""
    lo, hi = CELL_HEIGHTS[0] * typical, CELL_HEIGHTS[1] * typical
    h_all, w_all = stats[:, HEIGHT], stats[:, WIDTH]
    found = np.flatnonzero((h_all >= lo) & (h_all <= hi) & (w_all >= CELL_MIN_ASPECT * h_all)
                           & (w_all <= CELL_MAX_ASPECT * h_all))
    thick = stroke + CELL_THICKER_PX
    out = None
    for i in found[found > 0]:
        box, own = _own_pixels(labels, stats, i)
        square = abs(stats[i, WIDTH] - stats[i, HEIGHT]) <= CHECK_BOX_SQUARE * stats[i, HEIGHT]
        if square and own.mean() >= CHECK_BOX_FILL:
            continue  # a ticked check box: what is left of the tick or cross is no digit
        frame = _frame_of(own, thick)
        if frame is None:
            continue
        if out is None:
            out = mask.copy()
        out[box] &= ~frame.view(np.uint8) & 1
    return out


def _frame_of(own: np.ndarray, thick: float) -> np.ndarray | None:
    """The pixels of a box's frame in one piece's mask (its sides and the walls between its boxes),
    or None when fewer than ``CELL_SIDES`` of its sides, and not its left and right ones, are
    straight."""
    found = {}  # turn -> (the side's pixels, where its line crosses the middle, from that side's edge)
    for turn in range(4):  # left, top, right, bottom: each side as the left one of a turned copy
        side = _straight_side(np.rot90(own, turn), thick)
        # A side stands at its edge; a straight run deep inside is a stroke or the far side seen through.
        if side is not None and side[1] <= CELL_SIDE_DEPTH * own.shape[1 - turn % 2]:
            found[turn] = side
    # A frame's opposite sides stand apart; a 7's stem is its left and its right side at once.
    for a, b in ((0, 2), (1, 3)):
        if a in found and b in found and own.shape[1 - a] - found[a][1] - found[b][1] < CELL_APART * own.shape[1 - a]:
            return None
    # Three sides, or the left and right ones (a comb's cell whose rules went with the lines).
    if len(found) < CELL_SIDES and set(found) != {0, 2}:
        return None
    frame = np.zeros_like(own)
    for turn, (pixels, _) in found.items():
        np.rot90(frame, turn)[...] |= pixels
    columns = own.sum(axis=0)  # ink per column: a wall inside runs through the frame's height
    for x in np.flatnonzero(columns >= CELL_WALL * own.shape[0]):
        frame[:, x] |= own[:, x]
    return frame


def _straight_side(view: np.ndarray, thick: float) -> tuple[np.ndarray, float] | None:
    """The left side of a piece's mask as a straight, thin stroke: its pixels, and how far right of
    the mask's edge it crosses the middle row; or None."""
    h, w = view.shape
    present = view.any(axis=1)
    if present.mean() < CELL_STRAIGHT:
        return None
    rows = np.flatnonzero(present)
    first = view[rows].argmax(axis=1)  # each row's leftmost ink
    # The line through the side's middle rows: at the corners a tilted frame's other sides stick out.
    middle = (rows >= CELL_MIDDLE[0] * h) & (rows <= CELL_MIDDLE[1] * h)
    if middle.sum() < 2:
        return None
    slope, offset = np.polyfit(rows[middle], first[middle], 1)
    line = slope * rows + offset
    on = np.abs(first - line) <= CELL_SIDE_PX
    if on.sum() < CELL_STRAIGHT * h or abs(slope) > CELL_MAX_LEAN:
        return None
    # How far the ink runs from the line along each row: the side's thickness there.
    xs = np.arange(w)
    lefts = np.round(slope * np.arange(h) + offset).astype(int)
    inside = (xs[None, :] >= lefts[:, None] - CELL_SIDE_PX) & (xs[None, :] < lefts[:, None] + thick)
    band = view & inside
    widths = band.sum(axis=1)[rows[on]]
    if np.median(widths) > thick:
        return None
    return band, float(slope * h / 2 + offset)


def _evenly_spaced(row: list[int], place: dict[int, int], min_gap: float = 0.0) -> list[int]:
    """The walls of a row that stand evenly spaced (the widest gap at most ``WALL_EVEN`` times the
    narrowest) at least ``min_gap`` apart, dropping the fewest strays; empty when fewer than
    ``WALL_ROW`` remain."""
    members = sorted(set(row), key=place.__getitem__)

    def spread(items: list[int]) -> float:
        gaps = np.diff([place[j] for j in items])
        if not len(gaps) or gaps.min() <= 0 or gaps.min() < min_gap:
            return np.inf
        return float(gaps.max() / gaps.min())

    while len(members) >= WALL_ROW and spread(members) > WALL_EVEN:
        members = min((members[:k] + members[k + 1 :] for k in range(len(members))), key=spread)
    return members if len(members) >= WALL_ROW and spread(members) <= WALL_EVEN else []


def _typical_height(mask: np.ndarray, stroke: float, min_height: int = 8, pieces: np.ndarray | None = None) -> float:
    """Median digit height; pieces of broken digits are bridged first so they count as one.

    The bridge spans a pen skip (a few pen widths) but never the gap between two lines of thick
    writing: at most ``BRIDGE_SHARE`` of the median height of the ``pieces`` (component heights).
    Measured on a half-size copy of the mask when digits are big enough, which is four times cheaper.
    """
    half = stroke >= 3 and max(mask.shape) >= 400 and min(mask.shape) >= 8
    # Any ink in a 2x2 cell keeps the cell (thin strokes must survive the halving).
    small = (cv2.resize(mask * 255, (mask.shape[1] // 2, mask.shape[0] // 2), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8) if half else mask
    factor = 2 if half else 1
    reach = BRIDGE_PEN_WIDTHS * stroke
    tall = pieces[pieces >= min_height] if pieces is not None else np.zeros(0)
    if len(tall):
        reach = min(reach, BRIDGE_SHARE * float(np.median(tall)))
    bridge = max(3, int(round(reach / factor)) | 1)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge)))
    _, _, stats = components(closed)
    heights = stats[1:, HEIGHT] * factor
    heights = heights[heights >= min_height]
    return float(np.median(heights)) if len(heights) else 0.0


def _candidate_components(stats: np.ndarray, options: SegmentOptions) -> np.ndarray:
    """Component stats without specks too small to be even a piece of a digit, largest first, capped.

    Index 0 stays the background so that row numbers keep matching the label image.
    """
    speck = max(3, options.min_height // 3)
    keep = [i for i in range(1, len(stats)) if max(stats[i, WIDTH], stats[i, HEIGHT]) >= speck]
    keep.sort(key=lambda i: -stats[i, AREA])
    rows = np.zeros_like(stats)
    rows[np.array(keep[: 4 * options.max_candidates], dtype=np.int64)] = stats[keep[: 4 * options.max_candidates]]
    return rows


def group_components(stats: np.ndarray, min_height: int, typical: float) -> list[Candidate]:
    """Join the pieces of broken digits, then drop specks that belong to nothing.

    A piece joins a bigger one when it overlaps it horizontally and sits close above or below it,
    as long as the result stays no taller than a digit (so two lines never fuse).
    """
    order = [i for i in np.argsort(-stats[:, AREA], kind="stable") if i > 0 and stats[i, AREA] > 0]
    # Group boxes as rows x0, y0, x1, y1: a vectorised first look finds the few groups near enough to
    # matter (most pieces have none), which are then judged one by one.
    boxes = np.zeros((len(order), 4), np.int64)
    members: list[list[int]] = []
    limit = GROUP_MAX_HEIGHT * typical if typical else np.inf
    gap_limit = GROUP_MAX_GAP * typical if typical else 0
    reach = GROUP_BESIDE_REACH * max(typical, 1)
    for i in order:
        x, y, w, h = (int(v) for v in stats[i, :4])
        g = boxes[: len(members)]
        # Joining needs a vertical gap within the limit and, stacked or beside, columns within reach.
        near = np.flatnonzero((g[:, 1] - (y + h) <= gap_limit) & (y - g[:, 3] <= gap_limit)
                              & (g[:, 0] <= x + w + reach) & (g[:, 2] >= x - reach))
        stacked_hit = None
        beside: list[tuple[int, int]] = []  # (group, columns shared) of the groups the piece may join beside
        for j in near.tolist():
            gx0, gy0, gx1, gy1 = (int(v) for v in boxes[j])
            ux0, uy0, ux1, uy1 = min(gx0, x), min(gy0, y), max(gx1, x + w), max(gy1, y + h)
            if uy1 - uy0 > limit or ux1 - ux0 > GROUP_MAX_ASPECT * max(uy1 - uy0, 1):
                continue
            overlap = min(gx1, x + w) - max(gx0, x)
            # A piece above or below its digit (the two halves of a skipping pen stroke).
            if overlap >= GROUP_STACKED_OVERLAP * min(w, gx1 - gx0):
                stacked_hit = j
                break
            # A piece beside the top or bottom of a bigger stroke (a 5's detached bar, a 2's tail):
            # neighbouring digits sit side by side at the same height, pieces of one digit do not.
            gh = max(gy1 - gy0, 1)
            off_centre = y + h <= gy0 + GROUP_OFF_CENTRE * gh or y >= gy1 - GROUP_OFF_CENTRE * gh
            if off_centre and overlap >= -reach and ux1 - ux0 <= GROUP_BESIDE_WIDTH * max(typical, h):
                beside.append((j, overlap))
        # A piece straight above or below a group belongs to it before any group beside it (the
        # halves of a broken 1 next to a wide digit); beside several, the biggest, unless it reaches
        # over another one clearly further (GROUP_BESIDE_OVER).
        j = stacked_hit
        if j is None and beside:
            j, shared = beside[0]
            further = max(beside, key=lambda hit: hit[1])
            if further[1] - shared >= GROUP_BESIDE_OVER * w:
                j = further[0]
        if j is not None:
            gx0, gy0, gx1, gy1 = boxes[j]
            boxes[j] = (min(gx0, x), min(gy0, y), max(gx1, x + w), max(gy1, y + h))
            members[j].append(int(i))
        else:
            boxes[len(members)] = (x, y, x + w, y + h)
            members.append([int(i)])
    # Dashes are not digits.
    floor = max(min_height, MIN_HEIGHT_SHARE * typical) if typical else min_height
    result = []
    for (x0, y0, x1, y1), labels in zip(boxes, members):
        box = Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
        if box.h >= floor:
            result.append(Candidate(box=box, labels=tuple(labels)))
    return result


def _not_a_blob(stats: np.ndarray, cand: Candidate) -> bool:
    """Cheap first look: a few pieces, not a solid blob (before its ink is cut out and measured)."""
    b = cand.box
    if len(cand.labels) > MAX_PIECES:
        return False
    area = int(stats[list(cand.labels), AREA].sum())
    return not (b.w > SOLID_MIN_ASPECT * b.h and area > SOLID_FILL * b.w * b.h)


def _own_in_box(labels: np.ndarray, cand: Candidate) -> np.ndarray:
    """The candidate's own pixels (bool) in its box."""
    b = cand.box
    region = labels[b.y : b.y2, b.x : b.x2]
    return region == cand.labels[0] if len(cand.labels) == 1 else np.isin(region, cand.labels)


def _pen_width(labels: np.ndarray, cand: Candidate) -> float:
    return stroke_width(_own_in_box(labels, cand))


def _a_rule(cand: Candidate, typical: float) -> bool:
    """A straight thin upright far taller than the page's digits: a box's side or a margin rule cut
    short of being a line, never a 1 (the classifier would read it as one)."""
    b = cand.box
    return bool(typical) and b.h > RULE_HEIGHT_SHARE * typical and b.w < RULE_ASPECT * b.h


def _a_bar(labels: np.ndarray, cand: Candidate, stroke: float) -> str | None:
    """Whether the candidate's ink is one straight bar: "upright" (its box under RULE_ASPECT as wide
    as tall), "leaning" (up to WALL_MAX_LEAN, drawn thinner than WALL_LEAN_PEN of the page's pen
    ``stroke``, its smallest enclosing rectangle under RULE_ASPECT as wide as long), or None."""
    b = cand.box
    if b.w < RULE_ASPECT * b.h:
        return "upright"
    if b.w > (RULE_ASPECT + WALL_MAX_LEAN) * b.h or cand.stroke >= WALL_LEAN_PEN * stroke:
        return None
    (_, _), (w, h), _ = cv2.minAreaRect(cv2.findNonZero(_own_in_box(labels, cand).view(np.uint8)))
    return "leaning" if min(w, h) < RULE_ASPECT * max(w, h) else None


def _without_walls(candidates: list[Candidate], labels: np.ndarray, lines: np.ndarray, stroke: float) -> list[Candidate]:
    """The candidates that are no comb wall left standing between removed lines (``lines``).

    A wall the search in ``_grid_walls`` missed (it leans a little in a photo, so its straight runs
    break, or its lines were found in different passes) is a thin straight bar (``_a_bar``), no
    thicker than the removed lines plus WALL_THICKER_PX, whose top and bottom both end within
    WALL_REACH_PX plus a pen width of removed line pixels. A handwritten 1 in a comb box is drawn
    thicker than printed rules, and rarely reaches both. A leaning bar must also have those lines
    running on both sides of both ends (along WALL_LINE_BESIDE of half its height), as a comb's inner
    wall has: a paper edge's pieces end the form's lines (or stand beside a removed upright), and
    ``layout.drop_stacked`` needs all of them to know them as an edge."""
    bars = {id(c): _a_bar(labels, c, stroke) for c in candidates}
    thin = [c for c in candidates if bars[id(c)]]
    if not thin:
        return candidates
    line_pen = stroke_width(lines)
    thin = [c for c in thin if c.stroke <= line_pen + WALL_THICKER_PX]
    if not thin:
        return candidates
    reach = WALL_REACH_PX + int(np.ceil(stroke))
    near = cv2.dilate(lines, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))

    def a_wall(c: Candidate) -> bool:
        b = c.box
        ends = (b.y, b.y2 - 1)
        if not all(near[y, b.x : b.x2].any() for y in ends):
            return False
        if bars[id(c)] == "upright":
            return True
        side = b.h // 2
        for y in ends:
            band = lines[max(0, y - reach) : y + reach + 1]
            for columns in (band[:, max(0, b.x - side) : b.x], band[:, b.x2 : b.x2 + side]):
                if columns.shape[1] == 0 or columns.any(axis=0).mean() < WALL_LINE_BESIDE:
                    return False
        return True

    walls = {id(c) for c in thin if a_wall(c)}
    return [c for c in candidates if id(c) not in walls]


# A leftover's end joins the line's cut end, a pixel or two thicker than the leftover itself; a
# digit's stroke along the line is a pen width thick. (A 2's foot lying on a ruled line can lose all
# but such a strip to the line's removal: ruled sheets 1-30 lost one digit read at 0.17 that way.)
# 0.7, not 0.6: a leaning underline in a photo leaves steps 3 pixels thick under a pen of 4.5 (form
# 250's 3); forms 1-799 (tuning): 2 more digits matched, false digits 147 -> 144; touching 200-335,
# desk photos 1-150 and 30 pages of every sheet kind, sticky notes and card frames the same.
TAIL_PEN_SHARE = 0.7
# Only a leftover at least this share of the box's other side long is cut off: shorter ends are a
# stroke meeting the line or the line's soft rim a pixel or two wide, and cutting them moved boxes
# by a pixel on every page (and changed what the model read in a few).
TAIL_MIN_SHARE = 0.25
# A leftover along an underline may hold stretches of up to this many columns thicker than itself: the
# line's end, or a nick, a pixel or two thicker (a digit on an underline in a phone photo had its box
# run to the line's start). Forms 1-799 (tuning): recall 99.25 -> 99.30%, numbers 95.47 -> 95.60%,
# false digits 148 -> 147; touching 200-335 and desk photos 1-150 the same.
TAIL_CAP_PX = 3


def _without_line_tails(candidates: list[Candidate], labels: np.ndarray, lines: np.ndarray) -> list[Candidate]:
    """The candidates with their boxes cut back past a removed line's leftover at either end.

    Where a digit rests on an underline or meets a comb box's wall, the line's soft edge can stay
    joined to its stroke, a pixel or two thick, along the line beyond the digit: its box then runs
    along the line, often by the digit's own width. Columns (rows, for an upright line) at the box's
    ends whose ink of the candidate lies wholly within ``LINE_RESIDUE_PX`` of a removed line and is
    thinner than a stroke of its pen (``TAIL_PEN_SHARE``; ``LINE_RESIDUE_THICKNESS_PX`` at least) are
    such a leftover when they run on for ``TAIL_MIN_SHARE`` of the box; the box ends where the
    digit's own strokes begin. Only the box changes (the digit's crop leaves the leftover out); the
    mask keeps its pixels.

    Forms 1-290 (tuning): 6 more digits matched and 5 more numbers right (false digits the same:
    some signature strokes and walls read otherwise); touching 208-271 one false digit fewer; desk
    photos 1-300 one digit fewer; ruled sheets 1-30 one digit fewer (see ``TAIL_PEN_SHARE``)."""
    band = cv2.dilate(lines, np.ones((2 * LINE_RESIDUE_PX + 1, 2 * LINE_RESIDUE_PX + 1), np.uint8))
    out = []
    for c in candidates:
        b = c.box
        near = band[b.y : b.y2, b.x : b.x2]
        if not near.any():  # most candidates: no line anywhere near them
            out.append(c)
            continue
        own = np.isin(labels[b.y : b.y2, b.x : b.x2], c.labels)
        stray = own & (near == 0)
        thin = max(LINE_RESIDUE_THICKNESS_PX, TAIL_PEN_SHARE * c.stroke)
        x0, x1 = _core(own.sum(0), stray.any(0), thin, TAIL_MIN_SHARE * b.h, caps=True)
        y0, y1 = _core(own.sum(1), stray.any(1), thin, TAIL_MIN_SHARE * b.w)
        if (x0, y0, x1, y1) == (0, 0, b.w, b.h) or x1 <= x0 or y1 <= y0:
            out.append(c)
            continue
        own = own[y0:y1, x0:x1]
        ys, xs = np.nonzero(own)  # the ink left may not fill the cut box
        if not len(xs):
            out.append(c)
            continue
        box = Box(b.x + x0 + int(xs.min()), b.y + y0 + int(ys.min()), int(xs.max() - xs.min()) + 1,
                  int(ys.max() - ys.min()) + 1)
        out.append(replace(c, box=box))
    return out


def _core(counts: np.ndarray, stray: np.ndarray, thin: float, shortest: float, caps: bool = False) -> tuple[int, int]:
    """First and past-last index of ``counts`` (ink per column or row) outside the leftover at either
    end: ends no thicker than ``thin``, with no ink away from the lines (``stray``), and at least
    ``shortest`` long (a shorter one is a stroke's end meeting the line). With ``caps`` (columns, along
    an underline) the leftover may hold short stretches a little thicker (``TAIL_CAP_PX``); rows
    may not: a thin stem's end crossing the line below a 9 is such a stretch, and the stem above it
    a leftover (form 49: the 9 cut there was read as a 4)."""
    tail = (counts <= thin) & ~stray
    if tail.all():
        return 0, len(counts)
    cap = TAIL_CAP_PX if caps else 0
    return _core_start(counts, tail, shortest, cap), len(counts) - _core_start(counts[::-1], tail[::-1], shortest, cap)


def _core_start(counts: np.ndarray, tail: np.ndarray, shortest: float, cap: int) -> int:
    """Where the core starts from the front: past a leftover (``tail``) at least ``shortest`` long,
    else 0. A stretch of at most ``cap`` no leftover inside it (the line's end or a nick) counts with
    it, where the leftover is unbroken ink (a gap is a space between pieces)."""
    first = int(np.argmax(~tail))
    if first >= shortest:
        return first
    if not cap:
        return 0
    start, n = 0, len(tail)
    while start < n:
        end = start + 1
        while end < n and tail[end] == tail[start]:
            end += 1
        if not tail[start] and end - start > cap:
            break
        start = end
    return start if shortest <= start < n and counts[:start].all() else 0


def _on_a_step(cand: Candidate, whole: np.ndarray, mask: np.ndarray, origin: tuple[int, int],
               polarity: str) -> bool:
    """A sliver standing on the step between two surfaces (see ``EDGE_STEP_RATIO``). ``whole``: the
    working image as it is, of which ``mask`` covers the part from ``origin`` on (the sheet's cut: a
    sliver along its border has its outer side beyond it). Levels are compared as paper brightness:
    on light-on-dark pages (a board) the grey is turned round first."""
    b = cand.box
    if b.w >= EDGE_SLIVER_ASPECT * b.h:
        return False
    ox, oy = origin
    if b.x + ox <= 0 or b.x2 + ox >= whole.shape[1]:
        return True  # on the frame's left or right border: a desk's or a sheet's edge the frame cuts
    strip = max(EDGE_STRIP_PX, int(round(EDGE_STRIP_SHARE * b.h)))
    pad = max(1, int(np.ceil(cand.stroke)))
    # The ink a pen width wider, on the part of the mask that can grow into the strips.
    reach = 2 * pad + strip
    ry0, ry1 = max(0, b.y - reach), min(mask.shape[0], b.y2 + reach)
    rx0, rx1 = max(0, b.x - reach), min(mask.shape[1], b.x2 + reach)
    inked = cv2.dilate(mask[ry0:ry1, rx0:rx1], np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))

    def paper(y0: int, y1: int, x0: int, x1: int) -> float | None:
        """The paper's level in a strip (cut coordinates; beyond the cut, all of it is paper)."""
        y0, y1 = max(-oy, y0), min(whole.shape[0] - oy, y1)
        x0, x1 = max(-ox, x0), min(whole.shape[1] - ox, x1)
        if y1 <= y0 or x1 <= x0:
            return None
        bare = np.ones((y1 - y0, x1 - x0), bool)
        iy0, iy1, ix0, ix1 = max(ry0, y0), min(ry1, y1), max(rx0, x0), min(rx1, x1)
        if iy1 > iy0 and ix1 > ix0:
            bare[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = inked[iy0 - ry0 : iy1 - ry0, ix0 - rx0 : ix1 - rx0] == 0
        level = whole[y0 + oy : y1 + oy, x0 + ox : x1 + ox][bare]
        if level.size < max(EDGE_MIN_BARE_LINES * strip, EDGE_BARE_SHARE * bare.size):
            return None  # mostly ink: no paper to judge by
        if polarity == "light-on-dark":
            level = 255 - level
        return float(np.percentile(level, EDGE_PAPER_PERCENTILE))

    left = paper(b.y, b.y2, b.x - pad - strip, b.x - pad)
    right = paper(b.y, b.y2, b.x2 + pad, b.x2 + pad + strip)
    return left is not None and right is not None and min(left, right) < EDGE_STEP_RATIO * max(left, right)


def _pen_strokes(cand: Candidate) -> bool:
    """Tall for its pen width like a digit, not a ragged speckle far thinner than its height."""
    return cand.stroke > 0 and cand.box.h / cand.stroke <= MAX_HEIGHT_IN_PEN_WIDTHS


def _without_hairlines(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates drawn with a pen, not the hairlines of print (see ``HAIRLINE_SHARE``)."""
    if len(candidates) < HAIRLINE_MIN_CANDIDATES:
        return candidates
    pen = float(np.median([c.stroke for c in candidates]))
    return [c for c in candidates if c.stroke >= HAIRLINE_SHARE * pen]


def segment(image: np.ndarray, options: SegmentOptions = SegmentOptions(), shrink: int = 1,
            paper_hint: Paper | None = None) -> Segmentation:
    """Candidates for single digits in a grey or colour image.

    ``shrink`` works on a copy that much smaller: when the digits are known to be large (the last
    frames of a video), a quarter of the pixels finds them just as well, four times faster.
    ``paper_hint``: the sheet found in the previous frame (live mode), checked before a new search.
    """
    gray, scale = working_copy(to_gray(image), options.max_side, shrink)
    notes: list[str] = []
    paper = find_paper(image, options.paper, paper_hint, gray)
    fields: list[Box] = []
    origin = (0, 0)
    removed: np.ndarray | None = None
    whole = gray  # the working image as it is, desk and all
    polarity = options.polarity
    if paper is not None and paper.partial:
        # Where the sheet ends is not known: the whole image is read, as the sheet's paper (judged on
        # the frame, a desk darker than the paper around most of it would invert the polarity).
        notes.append("found only part of a sheet (a shadow's edge or the desk cuts it): read the whole photo as paper")
        polarity = "dark-on-light" if polarity == "auto" else polarity
        paper = None
    if paper is not None:
        gray, origin, inside = _on_the_sheet(gray, paper, scale, options.paper)
        notes.append("read inside the sheet found in the photo")
    polarity = detect_polarity(gray) if polarity == "auto" else polarity
    ink = ink_image(gray, polarity)
    if paper is not None:
        ink[inside == 0] = 0  # the sheet's edges, its shadow and the desk never hold digits
    high, low = _thresholds(ink, options.min_contrast)
    mask, labels, stats = _hysteresis(ink, high, low)
    stroke = stroke_width(mask) if mask.any() else 0.0
    if options.remove_lines and stroke > 0:
        cleaned, lines, found, labelling = _lines_removed(mask, labels, stats, stroke, paper, scale, origin)
        if lines.any():
            # Faint lines come with others: a form or a table prints all its lines alike.
            faint, more = _faint_lines(ink, mask, lines, stroke, low)
            if faint.any():
                cleaned, lines, found, labelling = cleaned & ~faint, lines | faint, joined_fields(found + more), None
            mask, removed, fields = cleaned, lines, found
            notes.append("removed ruled lines or borders")
            dropout = _dropout_ink(image, scale, origin, mask, removed) if image.ndim == 3 else None
            if dropout is not None:
                mask, removed, labelling = mask & ~dropout, removed | dropout, None
                notes.append("left out ink in the form's dropout colour (its boxes' red)")
            labels, stats = labelling if labelling is not None else components(mask)[1:]
    coverage = cv2.countNonZero(mask) / mask.size
    areas = stats[1:, AREA]
    sides = np.maximum(stats[1:, WIDTH], stats[1:, HEIGHT])
    specks = float(areas[sides <= SPECK_SIDE].sum()) / max(1.0, float(areas.sum()))
    reason = None
    if coverage > MAX_INK_COVERAGE:
        # Handwriting leaves most of the paper bare; this is noise, texture or a photo of something else.
        reason = f"ink covers {100 * coverage:.0f}% of the image, too much for handwriting"
    elif specks > MAX_SPECK_SHARE:
        reason = f"{100 * specks:.0f}% of the ink is specks of a few pixels: the image is covered in noise"
    if reason is not None:
        notes.append(reason + ": nothing read")
        return Segmentation(scale=scale, gray=gray, ink=ink, mask=mask, labels=labels, candidates=[],
                            polarity=polarity, stroke=stroke, digit_height=0.0, notes=notes, origin=origin,
                            paper=paper, fields=fields)
    typical = _typical_height(mask, stroke, options.min_height, stats[1:, HEIGHT])
    if removed is not None and typical:
        unframed = _without_cell_frames(mask, labels, stats, stroke, typical)
        if unframed is not None:
            removed = removed | (mask & ~unframed & 1)
            mask = unframed
            _, labels, stats = components(mask)
    candidates = group_components(_candidate_components(stats, options), options.min_height, typical)
    widths = ((c, _pen_width(labels, c)) for c in candidates if _not_a_blob(stats, c))
    candidates = [replace(c, stroke=width) for c, width in widths]
    candidates = [c for c in candidates if _pen_strokes(c) and not _a_rule(c, typical)]
    if removed is not None:
        candidates = _without_walls(candidates, labels, removed, stroke)
        candidates = _without_line_tails(candidates, labels, removed)
    # Kept as candidates, read as no digit: an edge's other pieces may be digits to the model, and its
    # pieces are found together (``layout.drop_stacked``).
    steps = [c.box for c in candidates if _on_a_step(c, whole, mask, origin, polarity)] if options.edge_steps else []
    candidates = _without_hairlines(candidates)
    crops = ((c, candidate_ink(ink, labels, c)) for c in candidates)
    candidates = [replace(c, crop=crop, measured=measure(crop, c.stroke)) for c, crop in crops]
    if len(candidates) > options.max_candidates:
        notes.append(f"{len(candidates)} candidates, kept the {options.max_candidates} largest")
        candidates = sorted(candidates, key=lambda c: -c.box.w * c.box.h)[: options.max_candidates]
    return Segmentation(
        scale=scale, gray=gray, ink=ink, mask=mask, labels=labels, candidates=candidates,
        polarity=polarity, stroke=stroke, digit_height=typical, notes=notes, origin=origin, paper=paper,
        fields=fields, steps=steps, lines=removed,
    )


# Forms print their boxes in a dropout colour (a pale red) so that a scanner can leave them out; what
# the line passes leave of such a comb (walls, stubs, pieces of its rules joined to a digit) is read
# as 1s or widens the digits' boxes. Ink is in that colour where its redness (red over the larger of
# green and blue, 0-255) is at least DROPOUT_REDNESS above a grey's of its brightness under the
# paper's colour cast: blue pens' are far below, black pens' and print's at most 5 above even in
# photos with a cast, and what the line passes leave of pale red boxes in photos 16-55 above (forms
# 1-40). It is left out when at least DROPOUT_LINES_SHARE of the lines removed are in it (the form
# prints in it) and at most DROPOUT_INK_SHARE of the ink left is (no red pen's writing). Forms 1-290
# (tuning): recall 99.05 -> 99.17%, digits 98.63 -> 98.76%, numbers 95.03 -> 95.50%, false digits 73
# -> 64; forms 300-399: 98.65 -> 98.81%, 98.25 -> 98.41%, 93.49 -> 93.93%, 39 -> 33; desk photos
# 1-150, touching 208-271, 30 pages of every sheet kind, sticky notes and card frames the same.
# A form printing only its comb in red among black rules and tables has 2-10% of its removed lines
# red (every other form of 1-290: under 1.3%): at 0.02 (0.1 before) 12 such forms of 1-290 read 8
# digits, 5 numbers more and 5 false digits fewer; 300-399 one number less (a comb half found).
DROPOUT_REDNESS = 12
DROPOUT_LINES_SHARE = 0.02
DROPOUT_INK_SHARE = 0.3
DROPOUT_PAPER_STEP = 8  # the paper's colour from every 8th pixel's row and column


def _dropout_ink(image: np.ndarray, scale: float, origin: tuple[int, int], mask: np.ndarray,
                 lines: np.ndarray) -> np.ndarray | None:
    """The pixels of ``mask`` (working pixels, from ``origin``, ``scale`` times the image's size) in
    the form's dropout colour; None when the form prints its lines in no such colour, or the writing
    is in it. Colours are read off the image at each pixel's place (no colour working copy made)."""
    factor = 1.0 / scale
    height, width = image.shape[:2]
    x0, y0 = origin

    def colours(where: np.ndarray, step: int = 1) -> np.ndarray:
        found = cv2.findNonZero(np.ascontiguousarray(where).view(np.uint8))
        if found is None:  # OpenCV 4 answers None for no pixel, 5 an empty array
            return np.zeros((0, 3), np.float32)
        found = found.reshape(-1, 2)  # (N, 1, 2) in OpenCV 4, (N, 2) in 5
        xs, ys = found[:, 0], found[:, 1]
        if step != 1 or factor != 1 or x0 or y0:
            ys = np.minimum(((ys * step + y0) * factor).astype(np.int64), height - 1)
            xs = np.minimum(((xs * step + x0) * factor).astype(np.int64), width - 1)
        return image[ys, xs, :3].astype(np.float32)

    def redness(pixels: np.ndarray) -> np.ndarray:
        return pixels[:, 2] - np.maximum(pixels[:, 0], pixels[:, 1])

    step = DROPOUT_PAPER_STEP
    paper = colours((mask[::step, ::step] == 0) & (lines[::step, ::step] == 0), step)
    if not len(paper):
        return None
    # A colour cast scales the channels: a grey pixel's redness is the paper's, scaled by its value.
    cast = float(np.median(redness(paper))) / max(1.0, float(np.median(paper.max(axis=1))))

    def red(where: np.ndarray) -> np.ndarray:
        pixels = colours(where)
        return redness(pixels) - cast * pixels.max(axis=1) >= DROPOUT_REDNESS

    on_lines = red(lines)
    if not len(on_lines) or on_lines.mean() < DROPOUT_LINES_SHARE:
        return None
    in_ink = red(mask)
    if not in_ink.any() or in_ink.mean() > DROPOUT_INK_SHARE:
        return None
    dropout = np.zeros_like(mask)
    dropout[mask > 0] = in_ink  # row by row, as findNonZero lists them
    return dropout


# Comb boxes and table rules printed faint (a light pink comb, a pale grey grid, in a photo) fall below
# the weak ink level where they step from row to row, and break into pieces without strong ink: the
# hysteresis drops the rules and keeps the darker pieces of the walls, which are read as 1s, and the
# comb's digits are no field. Lines are looked for again on ink above FAINT_SHARE of the weak level,
# away from the lines already found (FAINT_NEAR_PX), around each straight run there (steps of
# SHEET_SLACK_PX allowed) at least FAINT_RUN_SHARE shortest lines long: within FAINT_PAD_PENS pen
# widths of it, more than a box's height. Only lines holding such a run, and mostly new, are taken:
# on the fainter mask digits touch their rules, and their strokes pass for walls. Pages with no line
# found skip it. Forms 1-120 (tuning): recall 98.15 -> 98.50%, precision 98.84 -> 98.84%, digits
# 97.80 -> 98.15%, numbers 91.84 -> 92.41%; forms 121-170: 98.17 -> 98.42%, 98.92 -> 98.87%, 97.56 ->
# 97.81%, 91.67 -> 91.99%; every other kind read the same. 0.4 and 0.6 of the weak level read within
# 0.1 point of 0.5. It costs 5-6% of the segmentation's CPU time on ruled sheets and forms.
FAINT_SHARE = 0.5
FAINT_NEAR_PX = 3
FAINT_PAD_PENS = 12
FAINT_RUN_SHARE = 2.0  # of the shortest line: a digit's stroke may be as long as one line
FAINT_NOISE_SIGMAS = 3.0  # and well clear of the paper's noise (``_paper_noise``), or its grain joins up


def _faint_lines(ink: np.ndarray, mask: np.ndarray, lines: np.ndarray, stroke: float,
                 low: float) -> tuple[np.ndarray, list[Box]]:
    """Faint rules, combs and grids that the hysteresis broke (above): the pixels of ``mask`` on them,
    and the comb fields among them. ``lines``: the lines already found; ``low``: the weak ink level."""
    found = np.zeros_like(mask)
    fields: list[Box] = []
    level = max(FAINT_SHARE * low, FAINT_NOISE_SIGMAS * _paper_noise(ink))
    faint = cv2.threshold(ink, level, 1, cv2.THRESH_BINARY)[1]
    near = 2 * FAINT_NEAR_PX + 1
    known = cv2.dilate(lines, np.ones((near, near), np.uint8))
    length = line_length(stroke)
    horizontal, vertical = _long_runs(faint & ~known, length, SHEET_SLACK_PX)
    runs = horizontal | vertical
    if not cv2.countNonZero(runs):
        return found, fields
    h, w = mask.shape
    pad = int(round(FAINT_PAD_PENS * stroke))
    # With steps allowed, a leaning run is kept in pieces: a pixel's gap does not part them. (Outlines
    # find the few runs' boxes far faster than labelling the whole page.)
    outlines, _ = cv2.findContours(cv2.dilate(runs, np.ones((3, 3), np.uint8)), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    for x, y, bw, bh in map(cv2.boundingRect, outlines):
        if max(bw, bh) < FAINT_RUN_SHARE * length:
            continue  # a digit's stroke, or what is left of a line already found beside one
        x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
        around = (slice(y0, y1), slice(x0, x1))
        own = runs[around]
        _, more_lines, more_fields, _ = _remove_lines(faint[around], stroke, slack=SHEET_SLACK_PX)
        m, pieces, piece_stats = components(more_lines)
        for j in range(1, m):
            px, py, pw, ph, area = (int(v) for v in piece_stats[j])
            piece = (pieces[py:py + ph, px:px + pw] == j).view(np.uint8)
            if not cv2.countNonZero(piece & own[py:py + ph, px:px + pw]) \
                    or cv2.countNonZero(piece & known[y0 + py:y0 + py + ph, x0 + px:x0 + px + pw]) >= 0.5 * area:
                continue
            region = (slice(y0 + py, y0 + py + ph), slice(x0 + px, x0 + px + pw))
            found[region] |= piece & mask[region]
            fields += [Box(f.x + x0, f.y + y0, f.w, f.h) for f in more_fields
                       if f.x < px + pw and px < f.x2 and f.y < py + ph and py < f.y2]
    return found, fields


def _lines_removed(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray, stroke: float, paper: Paper | None,
                   scale: float, origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[Box], Labelling | None]:
    """The mask without its ruled lines, comb boxes and table grids (``remove_lines``), looked for on
    the page as it is, on the sheet made rectangular, along the lines' own lean, and then comb by comb;
    also the lines removed, the comb fields, and the cleaned mask's labelling when one was made."""
    cleaned, lines, fields, labelling = mask, np.zeros_like(mask), [], None
    # A line needs a component at least a line long: most frames have none, and skip the search.
    if stats[1:, WIDTH:HEIGHT + 1].max(initial=0) >= line_length(stroke):
        quad = _skewed_quad(paper, scale, origin) if paper is not None else None
        cleaned, lines, fields, labelling = _remove_lines(mask, stroke)
        passes = [(quad, 0)] if quad is not None else []
        # Without a sheet (a scan, or a photo whose sheet was not found) the lines may lean all the
        # same: a quick look first, since most scans are level.
        quick = lines_lean(mask, stroke, step=LEAN_QUICK_STEP) if paper is None else None
        level = quick is None or abs(quick) < SKEW_DEGREES - LEAN_QUICK_SLACK_DEGREES
        lean = None if paper is None and level else lines_lean(mask, stroke)
        if lean is not None and abs(lean) >= SKEW_DEGREES:
            turned = _turned_quad(mask.shape, lean)
            passes += [(turned, 0), (turned, SHEET_SLACK_PX)]
    else:
        passes = []

    # ... and the lines that lean with the sheet, looked for on the whole mask made level; then each
    # comb on itself made level; then each line still standing that leans its own way.
    taken = [_remove_lines_on_sheet(mask, stroke, corners, slack) for corners, slack in passes]
    left = cleaned
    for leaning, _ in taken:
        left = left & ~leaning
    shaped = _comb_shaped(left, labels, stats, stroke)
    combs = [comb for comb in (_comb_lines(mask, stroke, corners, length) for corners, length in shaped)
             if comb is not None]
    for leaning, _ in combs:
        left = left & ~leaning
    # (on what is left: looked at again, a line already taken would take the strokes resting on it;
    # only on a sheet in a photo: a scan's lines are parallel)
    leaning_lines = _leaning_lines(left, labels, stats, stroke) if paper is not None else []
    taken += combs + [_remove_lines_on_sheet(left, stroke, corners, SHEET_SLACK_PX) for corners in leaning_lines]
    for leaning, more in taken:
        cleaned = cleaned & ~leaning
        lines = lines | leaning
        fields.extend(more)
    if taken:
        labelling = None  # the cleaned mask has changed since it was labelled
    return cleaned, lines, joined_fields(fields), labelling


# A sheet's side more than this many degrees off the axes (turned, or in perspective) bends its ruled
# lines too far for straight runs to follow them (a 3 px line drifts off a 45 px run at 4 degrees):
# the lines are looked for on a copy of the sheet made rectangular.
SKEW_DEGREES = 1.0


# The ruled lines' own lean, measured with a Hough transform: within LEAN_RANGE_DEGREES of level, in
# steps of LEAN_STEP_DEGREES, from rows of ink at least LEAN_LINE_LENGTHS shortest ruled lines long
# (``line_length``); the median of the LEAN_LINES strongest. The sheet's outline is known to a few
# pixels, and where the frame cuts the sheet its sides are partly the frame's: on the copy made level
# by it a photographed comb's lines can still lean too far for straight runs. On the photos
# of forms 1-40 the measure is mostly within a degree of the sheet's turn (its tilt adds a little);
# 3-9 ms a page. Where the frame cuts the sheet's outline, this pass alone finds the lines, and it
# takes all of them: taking only the combs' lines left numbers written on underlines joined to their
# line, one blob read as no digit. Taking all frees words and signatures from their underlines too, which the
# word and scale rules mostly catch: forms 1-80 recall 94.97 -> 96.43%, digits 94.71 -> 96.17%,
# numbers 80.44 -> 83.37%, false digits 138 -> 145; forms 81-120 (untuned) 96.84 -> 98.42%, 96.25 ->
# 97.96%, 83.48 -> 85.41%, 71 -> 77; every other kind read the same.
LEAN_RANGE_DEGREES = 8.0
LEAN_STEP_DEGREES = 0.25
LEAN_LINE_LENGTHS = 3
LEAN_LINES = 20
# Where no sheet was found the lines were taken as level; a photo whose sheet was lost (a hand's
# shadow across its edge) left numbers joined to their leaning underlines, read as nothing. Their
# lean is now measured there too, first on every LEAN_QUICK_STEP-th row and column (ruled scans: 4
# ms a page instead of 14), and in full where that look is within LEAN_QUICK_SLACK_DEGREES of
# SKEW_DEGREES (0.5 measured a form scanned half a degree off level in full, 10 ms for nothing; forms
# 1-400 and desk photos 1-150 read the same with 0.25 and 0.5). Forms 1-290
# (tuning): recall 98.90 -> 98.98%, digits 98.47 -> 98.56%, numbers 94.74 -> 94.89%, false digits 80 ->
# 76; desk photos 1-150 10 -> 9 false digits; ruled, noisy, broken, hershey, shadow, sticky notes,
# card frames (30 each) and touching 208-271 the same.
LEAN_QUICK_STEP = 2
LEAN_QUICK_SLACK_DEGREES = 0.25


def lines_lean(mask: np.ndarray, stroke: float, votes: int | None = None, step: int = 1) -> float | None:
    """How far the longest rows of ink lean from level, in degrees (clockwise as seen, y down); None
    when no row is long enough (``votes`` pixels; by default ``LEAN_LINE_LENGTHS`` ruled lines).
    ``step`` > 1 looks at every ``step``-th row and column only: quicker, and rougher."""
    votes = (votes or LEAN_LINE_LENGTHS * line_length(stroke)) // step
    if step > 1:
        mask = np.ascontiguousarray(mask[::step, ::step])
    if votes >= max(mask.shape):
        return None
    off = np.radians(LEAN_RANGE_DEGREES)
    found = cv2.HoughLines(mask, 1, np.radians(LEAN_STEP_DEGREES), votes, min_theta=np.pi / 2 - off,
                           max_theta=np.pi / 2 + off)
    if found is None or not len(found):  # OpenCV 5 answers an empty array where 4 answered None
        return None
    return float(np.median(np.degrees(found[:LEAN_LINES, 0, 1]))) - 90.0


def _turned_quad(shape: tuple[int, int], lean: float) -> np.ndarray:
    """The corners (top left first, clockwise as seen) of the smallest rectangle turned by ``lean``
    degrees that holds a whole ``shape`` image: made upright, lines leaning by ``lean`` are level."""
    h, w = shape
    a = np.radians(lean)
    c, s = abs(np.cos(a)), abs(np.sin(a))
    half = np.float32([(w * c + h * s) / 2, (w * s + h * c) / 2])
    turn = np.float32([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    return corners @ turn.T + np.float32([(w - 1) / 2, (h - 1) / 2])


def _skewed_quad(paper: Paper, scale: float, origin: tuple[int, int]) -> np.ndarray | None:
    """The sheet's four corners in working pixels (top left first, clockwise as seen), when it is
    skewed enough to matter; None for an upright sheet or an outline cut by the frame."""
    if len(paper.corners) != 4:
        return None
    quad = paper.corners * scale - np.float32(origin)
    sides = np.roll(quad, -1, axis=0) - quad
    off_axis = (np.degrees(np.arctan2(sides[:, 1], sides[:, 0])) + 45.0) % 90.0 - 45.0
    if np.abs(off_axis).max() < SKEW_DEGREES:
        return None
    first = int(np.argmin(quad.sum(axis=1)))  # top left: smallest x + y
    quad = np.roll(quad, -first, axis=0)
    if quad[1, 0] - quad[0, 0] < quad[3, 0] - quad[0, 0]:  # counter-clockwise as seen: turn it round
        quad = quad[[0, 3, 2, 1]]
    return quad.astype(np.float32)


# On the page made level by the lines' measured lean, a photographed comb's lines may still step a
# pixel off one row (the lean varies across a sheet in perspective), breaking them into runs too short
# to pair as a box's top and bottom: the pass on the lean is done again with runs allowed to step this
# many pixels (px). Alone it missed combs whose digits touch the walls (the thickened strokes join
# them), so it comes second. Forms 1-80 (then taking only combs): recall 93.5 -> 94.6%, precision
# 92.5 -> 93.0%; forms 81-120 (untuned): 94.3 -> 95.7%, 93.4 -> 93.7%; on the sheet's own outline it
# freed handwritten words from their underlines (81-120: precision 93.4 -> 92.7%).
SHEET_SLACK_PX = 1


def _remove_lines_on_sheet(mask: np.ndarray, stroke: float, quad: np.ndarray, slack: int = 0,
                           length: int | None = None) -> tuple[np.ndarray, list[Box]]:
    """``remove_lines`` on a copy of the mask with the sheet (or one comb: ``quad``, its corners) warped
    to a rectangle. Returns the lines removed there, in ``mask``'s pixels (with a pixel's margin for
    the round trip), and the comb fields found there, as the boxes around their corners. Only the
    quad's bounding box is warped: a comb is a small part of a page."""
    h, w = mask.shape
    width = int(round(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))))
    height = int(round(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))))
    removed = np.zeros_like(mask)
    (x0, y0), (x1, y1) = np.floor(quad.min(axis=0)).astype(int) - 1, np.ceil(quad.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if width < 8 or height < 8 or x1 <= x0 or y1 <= y0:
        return removed, []
    local = mask[y0:y1, x0:x1]
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    to_sheet = cv2.getPerspectiveTransform((quad - np.float32([x0, y0])).astype(np.float32), target)
    flat = cv2.warpPerspective(local, to_sheet, (width, height), flags=cv2.INTER_NEAREST)
    # The corners are known to a pixel or two, so the warped lines still lean a little, and straight
    # runs miss the pixels at their steps, in pieces of any thickness: all the leftovers go.
    cleaned, lines, fields = remove_lines(flat, stroke, leftover_thickness=np.inf, slack=slack, length=length)
    if not lines.any():
        return removed, []
    back = np.linalg.inv(to_sheet)
    size = (x1 - x0, y1 - y0)
    kept = cv2.warpPerspective(cleaned, back, size, flags=cv2.INTER_NEAREST)
    lines = cv2.warpPerspective(lines, back, size, flags=cv2.INTER_NEAREST)
    removed[y0:y1, x0:x1] = cv2.dilate(lines, np.ones((3, 3), np.uint8)) & local & ~kept & 1
    placed = []
    for f in fields:
        corners = np.float32([[f.x, f.y], [f.x2, f.y], [f.x2, f.y2], [f.x, f.y2]]).reshape(-1, 1, 2)
        x, y, bw, bh = cv2.boundingRect(cv2.perspectiveTransform(corners, back))
        placed.append(Box(max(0, int(x + x0)), max(0, int(y + y0)), bw, bh))
    return removed, placed


def _depths(lines: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """How deep each pixel of ``lines`` lies in the turned rectangle ``corners`` (top left first,
    clockwise): 0 on its top side, 1 on its bottom."""
    x, y, w, h = cv2.boundingRect(np.round(corners).astype(np.int32))
    x0, y0 = max(0, x), max(0, y)
    ys, xs = np.nonzero(lines[y0 : y + h, x0 : x + w])
    down = corners[3] - corners[0]
    return ((xs + x0 - corners[0][0]) * down[0] + (ys + y0 - corners[0][1]) * down[1]) / float(down @ down)


def _comb_lines(mask: np.ndarray, stroke: float, corners: np.ndarray,
                length: int) -> tuple[np.ndarray, list[Box]] | None:
    """The rules and walls of one comb-shaped piece (``_comb_shaped``) and its field; None when they
    are no box: a string of digits may have one run along it. A comb whose walls are not found
    (broken in a photo) is a field as far as its rules reach; a box whose walls were found but make
    no comb (a table's row: cells several digits wide) is no field."""
    leaning, fields = _remove_lines_on_sheet(mask, stroke, corners, SHEET_SLACK_PX, length)
    if fields:
        return leaning, fields
    depth = _depths(leaning, corners)
    if not ((depth < 1 / 3).any() and (depth > 2 / 3).any()):  # no top and bottom rules: one stroke
        return None
    middle = np.count_nonzero((depth > 1 / 3) & (depth < 2 / 3))
    across = np.linalg.norm(corners[3] - corners[0]) / 3  # pixels a wall runs through the middle third
    return leaning, [] if middle >= WALL_ROW * across else [Box(*cv2.boundingRect(leaning))]


# The passes over the whole page miss combs whose rules are too short for a ruled line under a thick
# pen, or that lean their own way in a photo, or find their rules but not their walls. A comb is one
# piece of ink shaped like a row of boxes: BOX_HEIGHTS typical digit heights high and at least
# COMB_MIN_ASPECT times as wide. Each such piece is looked at again on a copy made level by its own
# lean, with runs along COMB_LINE_SHARE of its width as its rules; what that finds is taken only when
# it is a box (walls, or rules at its top and bottom, whose extent is then the field): a string of
# digits may have one such run. Forms 1-120 (tuning): recall 97.28 -> 98.15%, precision 98.52 ->
# 98.84%, numbers 89.38 -> 91.84%; aspect 1.3 or rule share 0.5, 0.6, 0.8 did worse.
COMB_MIN_ASPECT = 1.5
COMB_MIN_PENS = 5  # a box is taller than a digit, and digits are 8-12 pen widths tall
COMB_LINE_SHARE = 0.7
PIECE_PAD_PX = 3  # room around a piece for its rules' rims on its levelled copy


def _piece_quad(stats: np.ndarray, i: int, lean: float) -> np.ndarray:
    """The corners of a rectangle around piece ``i`` (its ``stats`` row, with ``PIECE_PAD_PX`` to
    spare) turned by ``lean`` degrees: made upright, the piece is level."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    pad = PIECE_PAD_PX
    corners = _turned_quad((h + 2 * pad, w + 2 * pad), lean) + np.float32([x - pad, y - pad])
    return corners.astype(np.float32)


def _comb_shaped(cleaned: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                 stroke: float) -> list[tuple[np.ndarray, int]]:
    """The pieces of ink (``labels``, ``stats``) shaped like a comb, each as the corners of a
    rectangle around it turned by its own lean, and the run length its rules must have; the digit
    height that judges their size is measured on ``cleaned``, the mask without the lines found."""
    w, h = stats[:, WIDTH], stats[:, HEIGHT]
    shaped = np.flatnonzero((w >= COMB_MIN_ASPECT * h) & (h >= COMB_MIN_PENS * stroke))
    shaped = shaped[shaped > 0]
    typical = _typical_height(cleaned, stroke) if len(shaped) else 0.0
    if not typical:
        return []
    lo, hi = BOX_HEIGHTS[0] * typical, BOX_HEIGHTS[1] * typical
    found = []
    for i in shaped:
        x, y, w, h = (int(v) for v in stats[i, :4])
        if not lo <= h <= hi:
            continue
        _, own = _own_pixels(labels, stats, i)
        length = int(COMB_LINE_SHARE * w)
        lean = lines_lean(own.view(np.uint8), stroke, length)
        if lean is None:
            continue
        found.append((_piece_quad(stats, i, lean), length))
    return found


# A sheet in perspective bends its lines apart: near its far edge an underline may lean 4 degrees
# while the page's lines lean 0.25, and neither pass over the page takes it; the number written on it
# stays one piece with it, read as nothing. A piece of ink whose ink still standing holds a straight
# run as long as a ruled line must be (``line_length``, and LINE_DIGIT_HEIGHTS digits) along its own
# lean, at least SKEW_DEGREES, is looked at again on a copy made level by that lean (as a comb is).
# The run is checked on the piece made level: the lean alone (a Hough transform) also finds rows of
# digits whose feet line up. Runs found more than LEANING_ONE_RULE digit heights apart are a box's or a
# comb's rules, left to the comb pass (taken here, the walls between them stayed and were read as 1s).
# Only on a photographed sheet (a scan's lines are parallel; 5 ms a ruled page spared). Forms 1-290
# (tuning): recall 98.98 -> 99.01%, numbers 94.89 -> 94.92%, false digits the same (76); desk photos
# 1-150, touching 208-271, 30 pages of every sheet kind, sticky notes and card frames the same.
LEANING_ONE_RULE = 0.5


def _leaning_lines(cleaned: np.ndarray, labels: np.ndarray, stats: np.ndarray, stroke: float) -> list[np.ndarray]:
    """The pieces of ink (``labels``, ``stats``) whose ink left in ``cleaned`` holds a line leaning
    its own way, each as the corners of a rectangle around the piece turned by that lean."""
    shortest = line_length(stroke)
    typical = length = None  # measured once a piece may hold a line
    found = []
    for i in np.flatnonzero(stats[1:, WIDTH] >= shortest) + 1:
        box, own = _own_pixels(labels, stats, i)
        left = (own & (cleaned[box] > 0)).view(np.uint8)
        if longest_run(left.any(axis=0)) < shortest:
            continue  # nothing left runs a line's length: the line was taken
        # A line still standing is one piece of what is left (digits on a line taken are many).
        _, parts, part_stats = components(left)
        long_parts = np.flatnonzero(part_stats[1:, WIDTH] >= shortest) + 1
        if len(long_parts) and typical is None:
            typical = _typical_height(cleaned, stroke)
            length = max(shortest, int(LINE_DIGIT_HEIGHTS * typical))
        long_parts = long_parts[part_stats[long_parts, WIDTH] >= (length or shortest)]
        if not len(long_parts):
            continue
        left = np.isin(parts, long_parts).view(np.uint8)
        lean = lines_lean(left, stroke, length)
        if lean is None or abs(lean) < SKEW_DEGREES:
            continue
        h, w = left.shape
        turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), lean, 1.0)
        level = cv2.warpAffine(left, turn, (w, h), flags=cv2.INTER_NEAREST)
        rows = np.flatnonzero(_long_runs(level, length, SHEET_SLACK_PX)[0].any(axis=1))
        if not len(rows) or rows[-1] - rows[0] > LEANING_ONE_RULE * typical:
            continue  # no line, or rules above and below: a box's or a comb's, for the comb pass
        found.append(_piece_quad(stats, i, lean))
    return found


def _on_the_sheet(gray: np.ndarray, paper: Paper, scale: float, options: PaperOptions):
    """The working image cut to the sheet's bounding box, everything outside the sheet replaced by a
    continuation of its own brightness; the cut's origin; and where reading may happen (the sheet,
    a little in from its edges)."""
    outline = paper.corners * scale
    h, w = gray.shape
    x0, y0 = (max(0, int(np.floor(v))) for v in outline.min(axis=0))
    x1, y1 = min(w, int(np.ceil(outline[:, 0].max())) + 1), min(h, int(np.ceil(outline[:, 1].max())) + 1)
    sub = gray[y0:y1, x0:x1]
    local = replace(paper, corners=(outline - np.float32([x0, y0])).astype(np.float32))
    sheet = local.mask(sub.shape)
    inset = max(options.inset_px, options.inset_share * local.short_side)
    return fill_outside(sub, sheet), (x0, y0), local.mask(sub.shape, inset)


# A digit written on a ruled line (a 0's or a 6's bottom, a 2's foot on an underline or a comb box's
# floor) loses the stroke lying in the line's rows with the line, and what is left may be no digit.
# Such a candidate can be read again with the line's pixels across its columns given back: those of
# rows that a line crosses for at least LINE_ACROSS of the box's width, within LINE_BESIDE pen widths
# (at least LINE_BESIDE_MIN_PX) above or below its box or inside it, when they touch its ink (a line
# a little below a digit took nothing from it). Forms 1-120 (tuning): recall 98.56 -> 98.63%, numbers
# 93.88 -> 94.02%, false digits 43 -> 43; forms 121-170: recall 98.37 -> 98.47%, false 22 -> 23 (a 2
# found with half its box); every other kind read the same.
LINE_ACROSS = 0.5
LINE_BESIDE = 1.5
LINE_BESIDE_MIN_PX = 2


def with_line(seg: Segmentation, cand: Candidate) -> tuple[Box, np.ndarray] | None:
    """The candidate's box grown over a removed line along it, and its ink with the line's pixels in
    its columns given back; None when no line runs along it."""
    if seg.lines is None:
        return None
    b = cand.box
    reach = max(LINE_BESIDE_MIN_PX, int(round(LINE_BESIDE * seg.stroke)))
    y0, y1 = max(0, b.y - reach), min(seg.lines.shape[0], b.y2 + reach)
    across = seg.lines[y0:y1, b.x:b.x2].sum(axis=1) >= LINE_ACROSS * b.w
    rows = np.flatnonzero(across)
    if not rows.size:
        return None
    top, bottom = min(b.y, y0 + int(rows[0])), max(b.y2, y0 + int(rows[-1]) + 1)
    keep, others = _own_mask(seg.labels[top:bottom, b.x:b.x2], cand)
    lines = seg.lines[top:bottom, b.x:b.x2]
    if not (keep & lines).any():
        return None  # a line below the digit, not under its pen: nothing of the digit went with it
    keep |= lines
    keep[others] = 0
    region = seg.ink[top:bottom, b.x:b.x2]
    return Box(b.x, top, b.w, bottom - top), cv2.bitwise_and(region, region, mask=keep)


def _own_mask(labels: np.ndarray, cand: Candidate) -> tuple[np.ndarray, np.ndarray]:
    """In a crop of the labels: the candidate's components grown by a pixel (so the anti-aliased rim
    of each stroke comes along; uint8 0/1) and its neighbours' pixels (bool), to be blanked."""
    own = labels == cand.labels[0] if len(cand.labels) == 1 else np.isin(labels, cand.labels)
    return cv2.dilate(own.view(np.uint8), np.ones((3, 3), np.uint8)), (labels > 0) & ~own


def candidate_ink(ink: np.ndarray, labels: np.ndarray, cand: Candidate, pad: int = 0) -> np.ndarray:
    """The candidate's own ink (neighbours' strokes inside its box blanked), cropped to its box."""
    b = cand.box
    y0, y1 = max(0, b.y - pad), min(ink.shape[0], b.y2 + pad)
    x0, x1 = max(0, b.x - pad), min(ink.shape[1], b.x2 + pad)
    keep, others = _own_mask(labels[y0:y1, x0:x1], cand)
    keep[others] = 0
    region = ink[y0:y1, x0:x1]
    return cv2.bitwise_and(region, region, mask=keep)


# A 5 whose pen lifted before its bar leaves the bar a dash of its own: too flat to be a candidate
# (``group_components`` drops it), left apart when bar and body together are wider than
# GROUP_BESIDE_WIDTH, or a candidate of its own, rejected or too small to be a digit. The 5 is read
# from its body alone, its box a third too narrow or short to match the digit. Its box takes in such
# a dash: at most BAR_THICK of the body's height thick and BAR_FLAT times as wide as thick, at least
# BAR_MIN_WIDTH of the body's height wide; starting over the right BAR_START share of the body or up
# to BAR_AFTER heights after it; its bottom from BAR_ABOVE of the body's height above its top to
# BAR_BELOW into it; the union at most BAR_UNION body heights wide (a 5 with a long bar: 1.63 on the
# tuning forms). A dash is no candidate's or a candidate by itself (no taller than a dash). Tuning
# pages: forms 1-399 recall 99.22 -> 99.27%, false digits 72 -> 66; 400-799 99.12 -> 99.16%, 93 ->
# 88; touching 200-335 98.70 -> 98.73%, 75 -> 70; desk photos 1-150 8 -> 7; ruled, noisy and shadow
# pages 1-30 one false digit fewer each; nothing lost on any page. BAR_FLAT 1.4, not 1.5: a thick bar
# slanting up is a box 1.47 times as wide as tall (clean sheet 39); sheets 1-40 of every kind
# (tuning) false digits 29 -> 21; touching 200-290, forms 1-200, desk photos 1-150 the same.
BAR_THICK = 0.5
BAR_FLAT = 1.4
BAR_MIN_WIDTH = 0.3
BAR_START = 0.7
BAR_AFTER = 0.2
BAR_ABOVE = 0.35
BAR_BELOW = 0.35
BAR_UNION = 1.7


def with_bar(seg: Segmentation, box: Box, held: dict[int, int]) -> Box:
    """``box`` (a 5, working pixels from the segmentation's origin) grown over its detached bar (see
    BAR_THICK); ``box`` itself when there is none. ``held``: the height of the candidate holding each
    component label that a candidate holds."""
    h = box.h
    thick = BAR_THICK * h
    rows, cols = seg.labels.shape
    y0, y1 = max(0, box.y - int(round(BAR_ABOVE * h + thick))), min(rows, box.y + int(round(BAR_BELOW * h)))
    x0 = max(0, box.x2 - int(round(BAR_START * box.w)))
    x1 = min(cols, box.x + int(round(BAR_UNION * h)))
    if y1 - y0 < 2 or x1 - x0 < 2:
        return box
    window = seg.labels[y0:y1, x0:x1]
    # Only ink above or right of the box can grow it: most 5s have none there (a live frame's).
    outside = np.concatenate((window[: max(0, box.y - y0)].ravel(), window[:, max(0, box.x2 - x0) :].ravel()))
    outside = outside[outside > 0]
    if not outside.size:
        return box
    found = box
    for label in np.unique(outside).tolist():
        if held.get(label, 0) > thick:
            continue
        ys, xs = np.nonzero(window == label)
        if not (0 < xs.min() and xs.max() < x1 - x0 - 1 and 0 < ys.min() and ys.max() < y1 - y0 - 1):
            continue  # it runs on out of view: no dash
        bx0, bx1, by0, by1 = x0 + int(xs.min()), x0 + int(xs.max()) + 1, y0 + int(ys.min()), y0 + int(ys.max()) + 1
        if (by1 - by0 <= thick and bx1 - bx0 >= max(BAR_MIN_WIDTH * h, BAR_FLAT * (by1 - by0))
                and bx0 <= box.x2 + BAR_AFTER * h and box.y - BAR_ABOVE * h <= by1 <= box.y + BAR_BELOW * h):
            grown = found.union(Box(bx0, by0, bx1 - bx0, by1 - by0))
            if grown.w <= BAR_UNION * h:
                found = grown
    return found
