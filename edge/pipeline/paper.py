"""Find the sheet in a photo: the paper, note or card lying on a desk, so that only it is read.

A sheet is a large region brighter than what surrounds it, with straight edges: under perspective
a convex quadrilateral. When a photo shows one, segmentation judges polarity and paper brightness on
the sheet alone and reads only inside it, a little in from its edges, so the desk's grain, the
sheet's edges and its shadow never become digits. A scan, or a whiteboard filling the frame, has no
such region (the "sheet" is the whole image) and is read whole, as before.

Pure functions on grey images; ``PaperTracker`` keeps the sheet from frame to frame in live mode.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge.pipeline.ink import longest_run, to_gray, true_runs, working_copy


@dataclass(frozen=True)
class PaperOptions:
    enabled: bool = True
    # The sheet is looked for on a copy at most this many pixels on its long side (its edges need no
    # more, and the search then costs about a millisecond).
    work_side: int = 400
    # Share of the frame the sheet must cover: smaller bright things (a label, a lamp's reflection)
    # are not the sheet; a bright region covering nearly everything is the page itself (a scan).
    min_area: float = 0.04
    max_area: float = 0.99
    # Its outline must fill its quadrilateral (area share): a sheet is convex, a bright patch of desk
    # or a hand is not.
    min_fill: float = 0.8
    # It must be brighter than the ring of desk around it by this much (0-255, grey).
    min_contrast: float = 18.0
    # Closing gaps in the bright region (handwriting, thin shadows) with a kernel this share of the
    # copy's long side.
    close_share: float = 0.03
    # The reading stops this share of the sheet's shorter side in from its edges (and at least
    # ``inset_px`` working pixels): the edge's own line and its shadow stay outside.
    inset_share: float = 0.015
    inset_px: int = 3
    # Corners may move this share of the sheet's shorter side between frames and still be the same
    # sheet (live mode keeps the old one then, smoothed).
    track_share: float = 0.05


@dataclass(frozen=True)
class Paper:
    """A sheet found in an image: its outline's corners in that image's pixels."""

    corners: np.ndarray  # float32 (N, 2): its outline, a convex polygon (a quadrilateral, or more
    # corners where the sheet runs out of the picture)
    brightness: float  # its median grey level
    contrast: float  # how much brighter it is than the desk around it
    # Only part of a sheet was outlined (writing crosses a side, or its sides run on past its
    # corners: the lit part that a shadow's edge cuts off, a lit patch of desk taking in part of the
    # sheet): the outline does not bound the writing, but the sheet's polarity holds.
    partial: bool = False

    def scaled(self, factor: float) -> "Paper":
        return replace(self, corners=(self.corners * factor).astype(np.float32))

    @property
    def short_side(self) -> float:
        """The shorter side of the outline's tightest rectangle."""
        (_, _), (w, h), _ = cv2.minAreaRect(self.corners.astype(np.float32))
        return float(min(w, h))

    def mask(self, shape: tuple[int, int], inset: float = 0.0) -> np.ndarray:
        """uint8 0/1 of ``shape``: 1 inside the sheet, ``inset`` pixels in from its edges."""
        mask = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(mask, np.round(self.corners).astype(np.int32), 1)
        if inset >= 1:
            k = 2 * int(round(inset)) + 1
            mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        return mask


def _polygon(contour: np.ndarray) -> np.ndarray:
    """The contour's convex outline with its nearly straight runs merged into sides."""
    hull = cv2.convexHull(contour)
    approx = cv2.approxPolyDP(hull, OUTLINE_TOLERANCE * cv2.arcLength(hull, True), True)
    return approx.reshape(-1, 2).astype(np.float32)


# A shadow falling across a sheet's corner cuts it off the bright region, and its outline gets a fifth,
# short side (on the shadow's edge: no step). When no outline of a region is judged a sheet, its
# corner is restored by extending the two sides beside that short one until they meet, where that
# adds at most this share of the outline's area, and the result is judged with the outlines made of
# straight lines. (Judged with the regions' own outlines, a restored corner a little off the true one
# won on forms whose sheet was found well, and cut their edges.) Desk photos 1-120 (tuning): recall
# 99.20 -> 99.58%, numbers 97.59 -> 97.90%; 121-300 (untuned): recall 99.13 -> 99.57%, numbers
# 97.49 -> 98.00% (a photo each that had read nothing); forms, notes, card frames, sheets the same.
# (Without ``_snapped``, OpenCV 4.11 put a polygon's corner 5 px off where 5.1 did not, and the
# restored sheet failed its judging there.)
CORNER_RESTORE_AREA = 0.08


def _corners_restored(outlines: Iterable[np.ndarray], grey: np.ndarray) -> Iterator[np.ndarray]:
    """The quadrilaterals five-sided outlines make with a corner restored inside the frame: a corner
    cut by the frame's border is no corner to restore. Each side is then moved onto the step in
    ``grey`` that it stands for (``_snapped``): an outline's corners are only as exact as the
    tolerance of its polygon, and the extended sides carry their error to the restored corner."""
    for corners in outlines:
        if len(corners) == 5:
            quad = _restore_corner(corners, grey.shape)
            if quad is not None:
                yield _snapped(grey, quad)


# A restored outline's side is looked for this many search pixels either side of where it was drawn,
# at each of its points, as the largest step (paper brighter inside); a side whose outside lies mostly
# off the frame stays as it is.
SNAP_PX = 8


def _snapped(grey: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """``quad`` with each side fitted (robustly) to the largest steps near it."""
    offsets = np.arange(-SNAP_PX, SNAP_PX + 1, dtype=np.float64)
    lines = []
    for side in range(4):
        a, along, length, normal = _side_axes(quad, side)
        t = np.linspace(0.05, 0.95, max(8, int(length // 3)))
        points = (a + t[:, None] * along)[:, None, :] + offsets[None, :, None] * normal
        inner, outer, inside = _across(grey, points, normal)
        if inside[:, SNAP_PX].mean() < 0.5:
            lines.append((a, along))
            continue
        steps = np.where(inside, inner - outer, -np.inf)
        rows = np.flatnonzero(np.isfinite(steps).any(axis=1))
        best = points[rows, steps[rows].argmax(axis=1)].astype(np.float32)
        if len(best) < 4:
            lines.append((a, along))
            continue
        vx, vy, x0, y0 = cv2.fitLine(best, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    corners = []
    for (p, d), (q, e) in zip([lines[-1]] + lines[:-1], lines):
        st = _crossing(p, d, q, e)
        if st is None:
            return quad
        corners.append(p + st[0] * d)
    return np.array(corners, np.float32)


def _restore_corner(corners: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The convex quadrilateral from a pentagon by dropping the side whose loss adds the least area."""
    h, w = shape
    area = cv2.contourArea(corners)
    best, least = None, CORNER_RESTORE_AREA * area
    n = len(corners)
    for i in range(n):
        before, a, b, after = (corners[(i + k) % n].astype(np.float64) for k in (-1, 0, 1, 2))
        meet = _cross(before, a, b, after)
        if meet is None or not (0 <= meet[0] <= w - 1 and 0 <= meet[1] <= h - 1):
            continue
        quad = np.array([meet] + [corners[(i + k) % n] for k in (2, 3, 4)], np.float32)
        added = cv2.contourArea(quad) - area
        if 0 <= added <= least and cv2.isContourConvex(quad.reshape(-1, 1, 2)):
            best, least = quad, added
    return best


def _cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray | None:
    """Where the line through p1, p2 meets the line through q2, q1 beyond p2 and q1; None if it does not."""
    d = p2 - p1
    st = _crossing(p1, d, q2, q1 - q2)
    return None if st is None or st[0] < 1 or st[1] < 1 else p1 + st[0] * d


def _crossing(p: np.ndarray, d: np.ndarray, q: np.ndarray, e: np.ndarray) -> tuple[float, float] | None:
    """(s, t) where p + s d = q + t e; None for parallel lines."""
    system = np.array([d, -e]).T
    if abs(np.linalg.det(system)) < 1e-9:
        return None
    s, t = np.linalg.solve(system, q - p)
    return float(s), float(t)


# Outline corners: points of the convex hull closer than this share of its perimeter to a straight
# side are merged into it (a sheet's side is straight; a corner of the frame cuts it short).
OUTLINE_TOLERANCE = 0.01


def find_paper(image: np.ndarray, options: PaperOptions = PaperOptions(), hint: Paper | None = None,
               grey: np.ndarray | None = None) -> Paper | None:
    """The sheet in a grey or BGR image, or None when there is none to tell apart from its surroundings.

    Candidate outlines come from a few cuts of the image into bright and dark (grey levels and, for
    colour photos, colourfulness, each cut around Otsu's level: a shadow across the sheet darkens part
    of it) and from growing the brightest surface by small steps (which follows a shadow's soft edge
    but stops at the paper's). A candidate is the sheet when it fills a large convex quadrilateral
    brighter than the desk around it, and every side of it that lies inside the frame is a step in
    brightness, not a gradient; of those, the one with the sharpest weakest side wins, unless it is a
    darker surface beside a brighter candidate (``PAPER_BRIGHTEST``) or writing runs on across one of
    its sides (that side is a shadow's edge on the sheet, ``_writing_crosses``,
    looked for on ``grey``: the caller's grey copy of the image at its working size). When no region
    gives one (a shadow or uneven light cuts the sheet, a grey desk nearly as bright), outlines are
    built from straight edges instead (``_line_outlines``), and five-sided regions get back the
    corner a shadow cut off (``_restore_corner``); those are judged the same way, together. An
    outline whose sides run on past its corners is the lit part of a larger sheet (``_runs_on``):
    when no other holds, it (or one that writing crosses) is returned marked ``partial``. ``hint``
    (the sheet in the last frame) is checked first, and kept when it still holds.
    """
    if not options.enabled or min(image.shape[:2]) < 32:
        return None
    full = grey
    if hint is None and grey is not None:
        # A first look at a coarse sample of the grey copy the caller has anyway: most images (scans,
        # pages filling the frame) have nothing darker around them and cost nothing more.
        step = max(1, max(grey.shape) // PRECHECK_SIDE)
        if not _darker_around(grey[::step, ::step], options):
            return None
    small, scale = working_copy(image, options.work_side)
    if small.ndim == 3 and small.shape[2] != 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGRA2BGR) if small.shape[2] == 4 else small[..., 0]
    grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    if hint is None and not _darker_around(grey, options):
        return None
    small = cv2.GaussianBlur(small, (5, 5), 0)
    grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    if hint is not None:
        kept = _judge(grey, hint.corners * scale, options, HINT_EDGE_SHARE)
        if kept is not None:
            return hint
        if not _darker_around(grey, options):
            return None
    if full is None:
        full = to_gray(image)
    outlines = [c for c in (_outline(region, options) for region in _candidates(small, grey, options)) if c is not None]
    best, part, least, brightest = _best(grey, outlines, options, full)
    if best is None:
        more = itertools.chain(_corners_restored(outlines, grey), _line_outlines(grey, options))
        best, other_part, _, _ = _best(grey, more, options, full, least, brightest)
        if best is None and (part or other_part) is not None:
            best = replace(part or other_part, partial=True)
    return None if best is None else best.scaled(1.0 / scale)


def _best(grey: np.ndarray, outlines: Iterable[np.ndarray], options: PaperOptions, full: np.ndarray,
          least: float = 0.0, brightest: Paper | None = None
          ) -> tuple[Paper | None, Paper | None, float, Paper | None]:
    """Of the outlines judged a sheet, the one with the sharpest weakest side that no writing
    crosses (looked for on ``full``, a larger grey copy of the image), that is no darker surface
    beside a brighter one (``_beside_brighter``) and whose sides end at its corners (``_runs_on``);
    the best of those that writing crosses or whose sides run on (part of a sheet that a shadow's
    edge cuts: the answer, as a part, when no whole sheet is found); the area an outline must
    exceed (once one is crossed, a smaller one is no answer either: mostly another piece of the
    sheet that the same shadow cuts); and the brightest outline judged. ``least``, ``brightest``: those from an earlier search."""
    judged = sorted((j for j in (_judge(grey, corners, options) for corners in outlines) if j is not None),
                    key=lambda j: -j[0])
    for _, paper in judged:
        if brightest is None or paper.brightness > brightest.brightness:
            brightest = paper
    factor = full.shape[1] / grey.shape[1]
    part = None
    for _, paper in judged:
        area = cv2.contourArea(paper.corners)
        if area <= least or _beside_brighter(paper, brightest):
            continue
        crossed = _writing_crosses(full, paper.corners * factor)
        if crossed:
            least = area
        elif not _runs_on(grey, paper, options):
            for inner in _brighter_within(grey, paper, judged):
                if cv2.contourArea(inner.corners) > least and not _beside_brighter(inner, brightest) \
                        and not _writing_crosses(full, inner.corners * factor) and not _runs_on(grey, inner, options):
                    return inner, part, least, brightest
            return paper, part, least, brightest
        if part is None:
            part = paper
    return None, part, least, brightest


# An outline may take in the desk beside the sheet as well (a strip of it between the sheet and the
# frame, cut with the sheet at one grey level), with sharp sides all the same: the sheet's own sides
# and the frame. A brighter outline of higher contrast within it (corners at most WITHIN_SHARE of its
# short side outside it: outlines of one side found at two levels differ by a few pixels) is the
# sheet when what lies between the two is desk: its median grey nearer the inner one's desk than its
# paper (under BETWEEN_PAPER of the way up). Between a whole sheet and its lit part lies shadowed
# paper; and the lit part's sides run on (``_runs_on``). Found on forms 247 and 290 (desk grain read
# as 1s); the outline changed on 18 of forms 1-400: recall 96.99 -> 98.17%, numbers 89.87 -> 93.25%,
# false digits 39 -> 16 (one photo lost a number to a ruled line left on under the new outline); on
# 68 of desk photos 1-900: recall 99.66 -> 99.58%, false 23 -> 10, numbers the same; on 2 of card
# frames 1-170 the same readings, on no sticky note.
WITHIN_SHARE = 0.04
BETWEEN_PAPER = 0.5
# ... and only where it is at least this share of the outer outline's area, clear of both outlines'
# sides: a thinner wedge is two outlines of one sheet that disagree on a side (one of them cut by
# the frame), not desk (0.5%: on the frame-cut form 41 of the tests' digit bank under
# tflite-runtime such a wedge left 0.02% clear of the sides).
BETWEEN_AREA = 0.005


def _brighter_within(grey: np.ndarray, paper: Paper, judged: list[tuple[float, Paper]]) -> Iterator[Paper]:
    """Outlines judged a sheet that lie within ``paper``, brighter, standing out more and with desk
    between, sharpest first."""
    outline = paper.corners.reshape(-1, 1, 2)
    area = cv2.contourArea(paper.corners)
    reach = WITHIN_SHARE * paper.short_side
    for _, inner in judged:
        if inner is paper or inner.brightness <= paper.brightness or inner.contrast <= paper.contrast \
                or cv2.contourArea(inner.corners) >= area:
            continue
        if not all(cv2.pointPolygonTest(outline, (float(x), float(y)), True) >= -reach for x, y in inner.corners):
            continue
        between = np.zeros(grey.shape, np.uint8)
        cv2.fillPoly(between, [np.round(paper.corners).astype(np.int32)], 1)
        cv2.fillPoly(between, [np.round(inner.corners).astype(np.int32)], 0)
        between = cv2.erode(between, np.ones((2 * EDGE_OFFSET + 1, 2 * EDGE_OFFSET + 1), np.uint8))
        if cv2.countNonZero(between) < BETWEEN_AREA * area:
            continue
        desk = inner.brightness - inner.contrast
        if float(np.median(grey[between > 0])) - desk < BETWEEN_PAPER * inner.contrast:
            yield inner


# The sheet is the brightest surface that looks like one. An outline whose paper is darker than this
# share of the brightest outline judged a sheet, and which leaves that one's centre outside, is a
# surface beside the sheet (a pale plank, a lit patch of desk between a shadow's edges), however
# sharp its sides. (One that takes it in is the same sheet, part of it in a shadow.) Desk photos 1-60
# (tuning): recall 97.0 -> 99.7%, numbers 95.9 -> 98.3% (two photos had read nothing or a quarter of
# their digits); sticky notes 61-120 (untuned): recall 98.5 -> 99.6%; forms, card frames, sheets the same.
PAPER_BRIGHTEST = 0.85


# One that takes it in is a desk around the sheet (a plank the sheet lies on, whose seam is a step)
# when its own contrast is below this share of the brightest's: a sheet partly in shadow still stands
# well clear of the desk, a plank against the next one hardly (a photo read nothing: contrast 18
# against the sheet's 105). Figures with ``_runs_on``'s.
AROUND_CONTRAST = 0.35


def _beside_brighter(paper: Paper, brightest: Paper | None) -> bool:
    """Whether ``paper`` is a darker surface that leaves the brightest candidate outside it, or that
    takes it in and hardly stands out from its own surroundings."""
    if brightest is None or paper.brightness >= PAPER_BRIGHTEST * brightest.brightness:
        return False
    if paper.contrast < AROUND_CONTRAST * brightest.contrast:
        return True
    centre = brightest.corners.mean(axis=0)
    return cv2.pointPolygonTest(paper.corners.reshape(-1, 1, 2), (float(centre[0]), float(centre[1])), False) < 0


# A sheet's side ends at its corner: beyond it lies desk on both sides of the side's line. Where a
# shadow's edge cuts the lit part of a sheet off the rest, that part's sides run on past its corners
# as steps (shadowed paper against desk). Each side is followed this far past each of its ends
# (search pixels, clear of the corner's blur), for this share of its length; a side whose run-on
# is still a step of this share of the sheet's contrast makes the outline a part of a larger sheet.
# Parts are passed over for a whole sheet; when none is found, the photo is read whole with the
# sheet's polarity (``Paper.partial``). With ``AROUND_CONTRAST``: desk photos 301-600 (looked at to
# find both): recall 98.81 -> 99.63%, numbers 97.07 -> 97.95%; 601-900 (untuned): recall 98.09 ->
# 99.59%, numbers 96.52 -> 97.93%, false digits 35 -> 37 (eight photos had read a quarter or less);
# desk photos 1-300, forms, sticky notes and card frames 1-170, sheets 1-8: the same page by page,
# but for a note that lost two false digits and a photo read whole that gained one. Outlines that
# writing crosses are parts too: desk photos 2001-2300 (untuned) 99.40 -> 99.59% (a photo whose lit
# part writing crosses, and no whole outline, read nothing: its desk around the paper had turned the
# polarity), the other ranges and kinds the same.
RUN_ON_START = 8
RUN_ON_LENGTH = 0.15
RUN_ON_STEP = 0.3


def _runs_on(grey: np.ndarray, paper: Paper, options: PaperOptions) -> bool:
    """Whether a side of the outline runs on past one of its corners as a step."""
    corners = paper.corners
    for side in range(len(corners)):
        a, along, length, normal = _side_axes(corners, side)
        if length < 4:
            continue
        unit = along / length
        past = RUN_ON_START + np.linspace(0.0, RUN_ON_LENGTH * length, 8)[:, None]
        for points in (a + along + past * unit, a - past * unit):
            inner, outer, in_frame = _across(grey, points, normal)
            if in_frame.all() and np.median(inner - outer) >= max(RUN_ON_STEP * paper.contrast,
                                                                  options.min_contrast / 2):
                return True
    return False


# Cut each map at these multiples of its Otsu level: lower takes in a shadowed part of the sheet,
# higher keeps a bright desk out.
LEVELS = (1.0, 0.85, 0.7, 1.15)
# Growing a surface: neighbouring pixels (after a light blur) that differ by at most this much (per
# channel, 0-255) belong to it: a shadow's soft edge changes a level or two per pixel, a paper's edge
# against the desk tens.
GROW_STEPS = (3, 2)
# The sheet's sides, judged in bands this far either side of the outline (search-copy pixels): each
# must carry this share of the sheet-to-desk contrast as a step, and at least half the minimum
# contrast. Sides along the frame's border are not judged (the sheet runs out of the picture there).
EDGE_OFFSET = 3
EDGE_SHARE = 0.3
BORDER_PX = 3
# Last frame's sheet is kept when its every side is still this sharp a step where it was: the sheet
# has not moved by more than a pixel or two (else the search runs again).
HINT_EDGE_SHARE = 0.6
# Strips this share of the frame wide along its borders: when none of them is darker than the bright
# part of the frame (its 90th percentile), nothing surrounds a sheet and the search is skipped.
BORDER_STRIP = 0.04
# That first look samples the frame down to about this many pixels on its long side.
PRECHECK_SIDE = 96


def _darker_around(grey: np.ndarray, options: PaperOptions) -> bool:
    """Whether some border of the frame is darker than its bright part: a desk around a sheet."""
    h, w = grey.shape
    bright = float(np.percentile(grey, 90))
    sx, sy = max(2, int(BORDER_STRIP * w)), max(2, int(BORDER_STRIP * h))
    strips = (grey[:sy], grey[-sy:], grey[:, :sx], grey[:, -sx:])
    return any(float(np.median(strip)) < bright - options.min_contrast for strip in strips)


def _candidates(small: np.ndarray, grey: np.ndarray, options: PaperOptions):
    """Bright regions (uint8 0/1) that may be the sheet, cheapest first."""
    k = max(3, int(options.close_share * max(grey.shape)) | 1)
    close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    for level_map in _maps(small, grey):
        otsu, _ = cv2.threshold(level_map, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        for factor in LEVELS:
            _, bright = cv2.threshold(level_map, min(254.0, otsu * factor), 1, cv2.THRESH_BINARY)
            yield cv2.morphologyEx(bright, cv2.MORPH_CLOSE, close)
    seed = _brightest(grey)
    for step in GROW_STEPS:
        mask = np.zeros((grey.shape[0] + 2, grey.shape[1] + 2), np.uint8)
        difference = (step,) * (1 if small.ndim == 2 else 3)
        cv2.floodFill(small, mask, seed, 0, difference, difference, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
        yield cv2.morphologyEx(mask[1:-1, 1:-1], cv2.MORPH_CLOSE, close)


def _maps(small: np.ndarray, grey: np.ndarray) -> list[np.ndarray]:
    """Grey levels, and for colour photos the colourfulness (saturation times brightness)."""
    if small.ndim == 2:
        return [grey]
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    return [grey, cv2.multiply(hsv[..., 1], hsv[..., 2], scale=1.0 / 255)]


def _brightest(grey: np.ndarray) -> tuple[int, int]:
    """The centre of the brightest area of a coarse copy: where to grow the sheet from."""
    k = max(3, (max(grey.shape) // 10) | 1)
    _, _, _, (x, y) = cv2.minMaxLoc(cv2.blur(grey, (k, k)))
    return int(x), int(y)


def _outline(region: np.ndarray, options: PaperOptions) -> np.ndarray | None:
    """The largest part of a region as a quadrilateral, if it is large and fills it."""
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    frame_area = float(region.shape[0] * region.shape[1])
    contour = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(contour)
    if not options.min_area <= area / frame_area <= options.max_area:
        return None
    corners = _polygon(contour)
    quad_area = cv2.contourArea(corners)
    if len(corners) < 4 or quad_area <= 0 or area / quad_area < options.min_fill \
            or quad_area / frame_area > options.max_area:
        return None
    return corners


def _judge(grey: np.ndarray, corners: np.ndarray, options: PaperOptions,
           edge_share: float = EDGE_SHARE) -> tuple[float, Paper] | None:
    """(score, Paper) when the quadrilateral is a sheet on a darker desk with sharp sides, else None.

    The score is the weakest side's step as a share of the contrast (the sharper, the surer)."""
    h, w = grey.shape
    inside = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners).astype(np.int32), 1)
    k = max(3, int(0.03 * max(h, w)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    margin = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * EDGE_OFFSET + 1, 2 * EDGE_OFFSET + 1))
    ring = cv2.dilate(inside, kernel) & ~cv2.dilate(inside, margin) & 1
    core = cv2.erode(inside, kernel)
    if not ring.any() or not core.any():
        return None  # the sheet fills the frame: nothing to tell it from
    paper = float(np.median(grey[core > 0]))
    desk = float(np.median(grey[ring > 0]))
    contrast = paper - desk
    if contrast < options.min_contrast:
        return None
    steps = [step for step in (_side_step(grey, corners, i) for i in range(len(corners))) if step is not None]
    if not steps:
        return None
    weakest = min(steps)
    if weakest < max(edge_share * contrast, options.min_contrast / 2):
        return None
    return weakest / contrast, Paper(corners=corners.astype(np.float32), brightness=paper, contrast=contrast)


def _side_step(grey: np.ndarray, corners: np.ndarray, side: int) -> float | None:
    """Median brightness just inside side ``side`` minus just outside it; None for a side that runs
    along the frame's border or out of the frame."""
    levels = _side_levels(grey, corners, side)
    return None if levels is None else levels[1]


def _side_axes(corners: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Side ``side`` of an outline: its start, its vector, its length and its unit normal pointing
    into the outline."""
    a, b = corners[side].astype(np.float64), corners[(side + 1) % len(corners)].astype(np.float64)
    along = b - a
    length = float(np.hypot(*along))
    normal = np.array([-along[1], along[0]]) / max(length, 1e-9)
    if np.dot(corners.mean(axis=0) - a, normal) < 0:
        normal = -normal
    return a, along, length, normal


def _side_levels(grey: np.ndarray, corners: np.ndarray, side: int) -> tuple[float, float | None] | None:
    """(median brightness just inside side ``side``, its step: that minus the brightness just
    outside), the step None for a side along the frame's border; None for a side too short to judge."""
    a, along, length, normal = _side_axes(corners, side)
    if length < 4:
        return None
    t = np.linspace(0.1, 0.9, max(8, int(length // 4)))[:, None]
    inner, outer, in_frame = _across(grey, a + t * along, normal)
    if in_frame.mean() < 0.5:
        return float(np.median(inner)), None
    return float(np.median(inner[in_frame])), float(np.median(inner[in_frame] - outer[in_frame]))


def _across(grey: np.ndarray, points: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey levels ``EDGE_OFFSET`` pixels inside and outside of each of ``points`` (..., 2) across a
    side (``normal`` points in), and which of them have both in the frame, the outside ``BORDER_PX``
    clear of its border (a side there runs along the border: the sheet runs out of the picture)."""
    h, w = grey.shape
    inner, outer = points + EDGE_OFFSET * normal, points - EDGE_OFFSET * normal
    in_frame = ((outer[..., 0] >= BORDER_PX) & (outer[..., 0] < w - BORDER_PX)
                & (outer[..., 1] >= BORDER_PX) & (outer[..., 1] < h - BORDER_PX)
                & (inner[..., 0] >= 0) & (inner[..., 0] < w) & (inner[..., 1] >= 0) & (inner[..., 1] < h))
    levels = []
    for at in (inner, outer):
        x = np.clip(at[..., 0].round().astype(int), 0, w - 1)
        y = np.clip(at[..., 1].round().astype(int), 0, h - 1)
        levels.append(grey[y, x].astype(np.float32))
    return levels[0], levels[1], in_frame


# Handwriting never runs off a sheet's side, but it runs on across the edge of a shadow falling on
# the sheet (a hand's, a phone's), which is otherwise a step in brightness just like a side. Ink is
# a pixel this much darker (0-255) than the brightest within a pen's reach (a black-hat, with a
# square this share of the image's short side: wider than a stroke, narrower than a digit).
CROSS_INK = 30
CROSS_STROKE = 1 / 60
# A stroke crosses the side when ink runs unbroken this share of the short side on both sides of
# it (the side's own dark line and a texture at its edge stay on one side), along at most a pen's
# reach of it. A side is cut by writing when more than ``CROSS_MOST`` strokes cross it (a stray mark
# or a scratch in the desk may cross a real side once).
CROSS_REACH = 1 / 150
CROSS_MOST = 1
# Only a side whose far side keeps this share of the near side's brightness (beyond the strokes'
# reach) can be a shadow's edge: a shadow leaves paper lit by the room (the generated hand shadows
# take 25-50%), while a desk is mostly far darker than the sheet. Where a region's outline runs a
# few pixels inside a real side, writing near that side and the sheet's shadow on the desk would
# otherwise seem to cross it.
CROSS_SHADOW = 0.6


def _writing_crosses(grey: np.ndarray, corners: np.ndarray) -> bool:
    """Whether strokes of writing cross a side of the outline (in ``grey``'s pixels) that lies
    inside the frame into a shadow: that side is a shadow's edge on the sheet, not the sheet's own."""
    h, w = grey.shape
    short = min(h, w)
    reach = max(3, int(CROSS_REACH * short))
    k = max(5, int(CROSS_STROKE * short)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)  # from outside the sheet to inside
    for i in range(len(corners)):
        a, along, length, normal = _side_axes(corners, i)
        if length < 4 * k:
            continue
        points = a + np.arange(0.03 * length, 0.97 * length)[:, None] / length * along  # 1 px apart
        samples = np.round(points[:, None, :] + offsets[None, :, None] * normal).astype(np.int64)
        in_frame = ((samples >= 0) & (samples < (w, h))).all(axis=(1, 2))
        if in_frame.mean() < 0.5:
            continue  # a side along the frame's border: the sheet runs out of the picture there
        samples = samples[in_frame]
        beyond = np.round(points[in_frame] - (reach + k) * normal).astype(np.int64)
        within = np.round(points[in_frame] + (reach + k) * normal).astype(np.int64)
        keep = ((beyond >= 0) & (beyond < (w, h)) & (within >= 0) & (within < (w, h))).all(axis=1)
        if not keep.any():
            continue
        far = float(np.median(grey[beyond[keep, 1], beyond[keep, 0]]))
        near = float(np.median(grey[within[keep, 1], within[keep, 0]]))
        if far < CROSS_SHADOW * near:
            continue  # desk beyond: a side of the sheet, whatever seems to cross it
        x0, y0 = np.maximum(samples.min(axis=(0, 1)) - k, 0)
        x1, y1 = samples.max(axis=(0, 1)) + k + 1
        black_hat = cv2.morphologyEx(grey[y0:y1, x0:x1], cv2.MORPH_BLACKHAT, kernel)
        ink = black_hat[samples[..., 1] - y0, samples[..., 0] - x0] >= CROSS_INK
        crossed = sum(1 for start, end in true_runs(ink.all(axis=1)) if end - start <= k)
        if crossed > CROSS_MOST:
            return True
    return False


# Outlines from straight edges. Edges are found on the blurred search copy with these hysteresis
# levels (0-255): a paper edge of the least contrast (18) passes, paper grain does not.
LINE_EDGE_LEVELS = (10, 30)
# A straight line needs votes from edge pixels on this share of the copy's short side, and the
# strongest this many lines are looked at (print and table rules come first on a form; the sheet's
# sides are among them).
LINE_VOTES = 0.2
LINE_MOST = 150
# A line is a side of the sheet when, along an unbroken run of this share of the copy's short side,
# one side of it is brighter than the other by half the minimum contrast (a printed rule is dark on
# paper both sides, so it is no step).
SIDE_RUN = 0.25
# Lines within this many pixels and radians of a longer one are the same side.
SIDE_SAME_PX = 6
SIDE_SAME_ANGLE = 0.06
# The longest runs kept for each side of the sheet (top, bottom, left, right); with the frame's own
# border for each, at most (3 + 1) ** 4 outlines are tried.
SIDES_KEPT = 3
# A side facing into the sheet this close to straight down, up, right or left (the cosine) is its
# top, bottom, left or right side: sheets in photos lean by less than 45 degrees.
SIDE_FACING = 0.7
# A stretch of the frame's border taken for a side must have paper along it: at least this share of
# the sides' step above the desk (light falls off towards a photo's corners, so not all of it).
BORDER_PAPER_SHARE = 0.33


def _side_lines(grey: np.ndarray, options: PaperOptions) -> dict[str, list[tuple[float, float]]]:
    """Straight lines that may be the sheet's top, bottom, left and right sides, as (rho, theta) of
    ``x cos(theta) + y sin(theta) = rho``, the longest step first."""
    h, w = grey.shape
    sides: dict[str, list[tuple[int, float, float]]] = {role: [] for role in "tblr"}
    edges = cv2.Canny(grey, *LINE_EDGE_LEVELS)
    lines = cv2.HoughLines(edges, 1, np.pi / 180, max(8, int(LINE_VOTES * min(h, w))))
    if lines is None:
        return {role: [] for role in sides}
    reach = 2 * max(h, w)
    t = np.arange(-reach, reach, 2.0)[:, None]
    min_run = SIDE_RUN * min(h, w) / 2  # in samples, 2 px apart
    for rho, theta in lines[:LINE_MOST, 0]:
        normal = np.array([np.cos(theta), np.sin(theta)])
        points = normal * rho + t * np.array([-normal[1], normal[0]])
        keep = ((points[:, 0] >= BORDER_PX + EDGE_OFFSET) & (points[:, 0] < w - BORDER_PX - EDGE_OFFSET)
                & (points[:, 1] >= BORDER_PX + EDGE_OFFSET) & (points[:, 1] < h - BORDER_PX - EDGE_OFFSET))
        points = points[keep]
        if len(points) < min_run:
            continue
        ahead = np.round(points + EDGE_OFFSET * normal).astype(int)
        behind = np.round(points - EDGE_OFFSET * normal).astype(int)
        step = grey[ahead[:, 1], ahead[:, 0]].astype(np.int16) - grey[behind[:, 1], behind[:, 0]]
        for sign in (1, -1):
            run = longest_run(sign * step >= options.min_contrast / 2)
            if run < min_run:
                continue
            inward = sign * normal
            role = ("t" if inward[1] > SIDE_FACING else "b" if inward[1] < -SIDE_FACING
                    else "l" if inward[0] > SIDE_FACING else "r" if inward[0] < -SIDE_FACING else None)
            if role is None or any(abs(rho - r) < SIDE_SAME_PX and abs(theta - a) < SIDE_SAME_ANGLE
                                   for _, r, a in sides[role]):
                continue
            sides[role].append((run, float(rho), float(theta)))
    edge_points = np.argwhere(edges > 0)[:, ::-1].astype(np.float32)  # (x, y)
    return {role: [_refined(edge_points, r, a) for _, r, a in sorted(found, key=lambda s: -s[0])[:SIDES_KEPT]]
            for role, found in sides.items()}


# The Hough lines come in whole degrees, which over a sheet's side is pixels off at full size (and
# the sheet's outline steers the search for comb boxes): each kept line is fitted again to the edge
# pixels within this many pixels of it.
REFINE_PX = 2.0


def _refined(edge_points: np.ndarray, rho: float, theta: float) -> tuple[float, float]:
    """The (rho, theta) line fitted (robustly) to the edge pixels near a Hough line."""
    normal = np.array([np.cos(theta), np.sin(theta)], np.float32)
    near = edge_points[np.abs(edge_points @ normal - rho) <= REFINE_PX]
    if len(near) < 8:
        return rho, theta
    vx, vy, x0, y0 = cv2.fitLine(near, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    fitted = np.array([-vy, vx])
    if fitted @ normal < 0:
        fitted = -fitted  # the same side of the line stays its front
    return float(fitted @ np.array([x0, y0])), float(np.arctan2(fitted[1], fitted[0]))


def _meet(a: tuple[float, float], b: tuple[float, float]) -> np.ndarray | None:
    """Where two (rho, theta) lines cross; None for parallel ones."""
    system = np.array([[np.cos(a[1]), np.sin(a[1])], [np.cos(b[1]), np.sin(b[1])]])
    if abs(np.linalg.det(system)) < 1e-3:
        return None
    return np.linalg.solve(system, [a[0], b[0]])


def _line_outlines(grey: np.ndarray, options: PaperOptions):
    """Convex outlines made of four side lines, each a line found or the frame's own border (the
    sheet runs out of the picture there), cut to the frame; only those whose sides inside the frame
    are all steps and whose stretches of frame border have paper along them, not desk."""
    h, w = grey.shape
    border = {"t": (0.0, np.pi / 2), "b": (h - 1.0, np.pi / 2), "l": (0.0, 0.0), "r": (w - 1.0, 0.0)}
    found = _side_lines(grey, options)
    choices = [found[role] + [border[role]] for role in "tblr"]
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    known: dict[tuple, tuple[float, float | None] | None] = {}  # outlines share sides: each is judged once

    def levels(polygon: np.ndarray, i: int) -> tuple[float, float | None] | None:
        (ax, ay), (bx, by) = polygon[i].tolist(), polygon[(i + 1) % len(polygon)].tolist()
        cx, cy = polygon.mean(axis=0).tolist()
        inside = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) > 0
        key = (round(ax, 2), round(ay, 2), round(bx, 2), round(by, 2), inside)
        if key not in known:
            known[key] = _side_levels(grey, polygon, i)
        return known[key]

    meets = {(a, b): _meet(a, b) for a in choices[0] + choices[1] for b in choices[2] + choices[3]}
    for top, bottom, left, right in itertools.product(*choices):
        if sum(line is not border[role] for line, role in zip((top, bottom, left, right), "tblr")) < 2:
            continue  # two sides at least must be the sheet's own
        corners = [meets[top, left], meets[top, right], meets[bottom, right], meets[bottom, left]]
        if any(c is None for c in corners):
            continue
        quad = np.array(corners, np.float32)
        if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
            continue
        area, polygon = cv2.intersectConvexConvex(quad, frame)
        if polygon is None or not options.min_area <= area / (h * w) <= options.max_area:
            continue
        polygon = polygon.reshape(-1, 2)
        judged = []
        for i in range(len(polygon)):
            side = levels(polygon, i)
            if side is not None and side[1] is not None and side[1] < options.min_contrast / 2:
                break  # a side inside the frame that is no step
            if side is not None:
                judged.append(side)
        else:
            steps = [side for side in judged if side[1] is not None]
            if not steps:
                continue
            paper = float(np.median([inner for inner, _ in steps]))
            step = float(np.median([step for _, step in steps]))
            if all(inner >= paper - (1 - BORDER_PAPER_SHARE) * step for inner, s in judged if s is None):
                yield polygon  # else desk along a stretch of the frame's border taken for a side


def fill_outside(gray: np.ndarray, mask: np.ndarray, work_side: int = 160) -> np.ndarray:
    """``gray`` with everything outside ``mask`` replaced by a smooth continuation of the sheet's own
    brightness (a normalised blur on a small copy), so no edge is left for the ink detector to see."""
    h, w = gray.shape
    small, scale = working_copy(gray, work_side)
    small_mask = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    values = small.astype(np.float32) * small_mask
    k = max(3, (max(small.shape) // 4) | 1)
    weight = cv2.blur(small_mask, (k, k))
    spread = cv2.blur(values, (k, k)) / np.maximum(weight, 1e-3)
    # Where even the wide blur saw no paper, the sheet's median brightness.
    spread[weight < 1e-3] = float(np.median(small[small_mask > 0])) if small_mask.any() else 255.0
    fill = cv2.resize(np.clip(spread, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(mask > 0, gray, fill)


class PaperTracker:
    """The sheet from frame to frame: a sheet found again near where it was keeps a smoothed outline,
    and a frame where it is not found (blur, a hand across it) keeps the last one for a few frames."""

    def __init__(self, options: PaperOptions = PaperOptions(), hold_frames: int = 5, smoothing: float = 0.5) -> None:
        self.options = options
        self.hold_frames = hold_frames
        self.smoothing = smoothing
        self.paper: Paper | None = None
        self.missed = 0

    def update(self, found: Paper | None) -> Paper | None:
        if found is None:
            self.missed += 1
            if self.missed > self.hold_frames:
                self.paper = None
            return self.paper
        self.missed = 0
        last = self.paper
        if last is not None:
            same_shape = found.corners.shape == last.corners.shape
            shift = float(np.abs(found.corners - last.corners).max()) if same_shape else np.inf
            if shift <= self.options.track_share * max(1.0, found.short_side):
                a = self.smoothing
                found = replace(found, corners=((1 - a) * last.corners + a * found.corners).astype(np.float32))
        self.paper = found
        return found
