"""Find handwritten digit candidates in an image (OpenCV).

Steps, each a pure function: grey -> polarity -> ink image (background normalised, so shadows and
uneven light vanish) -> binary mask (hysteresis threshold with a contrast floor, so a blank page stays
blank) -> ruled lines and borders removed -> connected components -> broken strokes joined, specks
dropped -> candidates. Splitting touching digits needs the classifier, so ``split_columns`` only
proposes cuts and the pipeline chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.pipeline.normalize import stroke_width
from edge.pipeline.results import Box

POLARITIES = ("auto", "dark-on-light", "light-on-dark")
# Above this share of ink pixels an image is not handwriting on paper (noise, texture, a photo).
MAX_INK_COVERAGE = 0.35
# Above this share of the ink in specks of at most 3x3 pixels, the image is speckle noise: dust and
# JPEG crumbs on a real page are a tiny share of its ink.
MAX_SPECK_SHARE = 0.25


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


@dataclass
class Candidate:
    box: Box  # in working-image pixels
    labels: tuple[int, ...]  # component ids in Segmentation.labels that make up this digit


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


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grey uint8 from grey, BGR or BGRA (already decoded and alpha-flattened by the loader)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image[:, :, 0]


def working_copy(gray: np.ndarray, max_side: int, at_least: int = 1) -> tuple[np.ndarray, float]:
    """A copy whose long side is at most ``max_side``, shrunk by a whole factor (a fast, clean path)
    of at least ``at_least``."""
    factor = max(at_least, -(-max(gray.shape) // max_side))  # ceiling division
    if factor <= 1:
        return gray, 1.0
    h, w = gray.shape
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), size[0] / w


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
    _, rough = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    pen = stroke_width(rough) if 0 < rough.mean() < 0.5 else 0.0
    k = min(255, max(small.shape) | 1, max(3, (max(small.shape) // 8) | 1, int(5 * pen) | 1))
    paper = cv2.medianBlur(small, k)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    # Ink is how much darker than its paper a pixel is, relative to that paper's brightness; a paper
    # estimate near black (an unlit or uniform dark frame) has no ink to show.
    return cv2.divide(cv2.subtract(paper, paper_bright), np.maximum(paper, 48), scale=255)


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components with stats. Grana's algorithm is named explicitly: OpenCV 5's default
    takes three times as long when it also collects stats."""
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return n, labels, stats


def _thresholds(ink: np.ndarray, min_contrast: int) -> tuple[float, float]:
    """Strong and weak ink levels for the hysteresis threshold."""
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper grain, sensor noise and JPEG ringing: strong ink must stand well clear of the paper's
    # own spread. Ink is clipped at zero where the paper is brighter than its estimate, so the noise
    # is read off the positive half: for symmetric noise the lower quartile of |x| is 0.3186 sigma,
    # and real ink, in the upper tail, barely moves it. Noise makes about half of the paper
    # positive; a clean (synthetic) page has only its ink there, so below 35% there is no noise to
    # estimate. When the noise is as strong as any ink can be, nothing stands out and nothing is read.
    step = max(1, round((ink.size / 20000) ** 0.5))  # about 20,000 pixels are plenty for a quantile
    sample = ink[::step, ::step]
    positive = sample[sample > 0]
    noise = 0.0
    if positive.size > 0.35 * sample.size:
        quartile = np.partition(positive, positive.size // 4)[positive.size // 4]
        noise = float(quartile) / 0.3186
    high = max(float(otsu), float(min_contrast), 5 * noise)
    return high, max(high * 0.5, min_contrast * 0.6)


def _hysteresis(ink: np.ndarray, min_contrast: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask, labels and stats of the weak-ink components that hold strong ink.

    Components without strong ink keep their label but get zeroed stats, so the labels can be used
    as they are (no second labelling pass) when nothing else changes the mask.
    """
    high, low = _thresholds(ink, min_contrast)
    weak = (ink > low).view(np.uint8)
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
    return _hysteresis(ink, min_contrast)[0]


def _long_runs(mask: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels on straight horizontal / vertical runs of at least ``length`` (morphological opening).

    The erosion half of each opening finds out cheaply whether there is any such run at all.
    """
    runs = []
    for shape in ((length, 1), (1, length)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
        eroded = cv2.erode(mask, kernel)
        runs.append(cv2.dilate(eroded, kernel) if cv2.countNonZero(eroded) else eroded)
    return runs[0], runs[1]


def line_length(stroke: float) -> int:
    """Shortest straight run that may be a ruled line: 15 pen widths (no digit stroke is that long)."""
    return max(20, int(round(15 * stroke)))


def remove_lines(mask: np.ndarray, stroke: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove ruled lines and box borders: straight runs far longer than any digit stroke.

    A run is a line when it is at least 15 pen widths long and also either spans most of the image
    or is several times the typical digit height; strokes that a line cut through are restored.
    Returns the cleaned mask and the removed lines.
    """
    length = line_length(stroke)
    if length >= max(mask.shape):
        return mask, np.zeros_like(mask)
    horizontal, vertical = _long_runs(mask, length)
    runs = horizontal | vertical
    if not runs.any():
        return mask, runs
    rest = mask & ~runs & 1
    typical = _typical_height(rest, stroke)
    n, labels, stats = components(runs)
    lines = np.zeros(n, np.uint8)
    h_img, w_img = mask.shape
    for i in range(1, n):
        w, h = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        span = max(w / w_img, h / h_img)
        long_side = max(w, h)
        if not (span >= 0.6 or (typical and long_side >= 3 * typical)):
            continue
        # Thin: pen width (of each line, even when ruled lines and a margin form one grid) at most
        # a 25th of its length; a big bold 1 alone on a small image is no ruled line.
        x, y = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
        width = stroke_width(labels[y : y + h, x : x + w] == i)
        if width <= long_side / 25:
            lines[i] = 1
    line_mask = lines[labels]
    if not line_mask.any():
        return mask, line_mask
    # Give back line pixels where a stroke crosses the line: ink on both sides within reach.
    confirmed = np.flatnonzero(lines)
    thickness = max(stats[i, cv2.CC_STAT_AREA] / max(stats[i, 2], stats[i, 3]) for i in confirmed)
    reach = int(round(thickness)) + 1
    rest = mask & ~line_mask & 1
    restored = np.zeros_like(mask)
    for runs_of, shape in ((horizontal, (1, reach)), (vertical, (reach, 1))):
        kernel = np.ones(shape[::-1], np.uint8)
        before = cv2.dilate(rest, kernel, anchor=(kernel.shape[1] - 1, kernel.shape[0] - 1))
        after = cv2.dilate(rest, kernel, anchor=(0, 0))
        restored |= line_mask & runs_of & before & after
    return rest | restored, line_mask & ~restored & 1


def _typical_height(mask: np.ndarray, stroke: float, min_height: int = 8) -> float:
    """Median digit height; pieces of broken digits are bridged first so they count as one.

    Measured on a half-size copy of the mask when digits are big enough, which is four times cheaper.
    """
    half = stroke >= 3 and max(mask.shape) >= 400 and min(mask.shape) >= 8
    # Any ink in a 2x2 cell keeps the cell (thin strokes must survive the halving).
    small = (cv2.resize(mask * 255, (mask.shape[1] // 2, mask.shape[0] // 2), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8) if half else mask
    factor = 2 if half else 1
    bridge = max(3, int(round(3 * stroke / factor)) | 1)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge)))
    _, _, stats = components(closed)
    heights = stats[1:, cv2.CC_STAT_HEIGHT] * factor
    heights = heights[heights >= min_height]
    return float(np.median(heights)) if len(heights) else 0.0


def _box(stats_row: np.ndarray) -> Box:
    return Box(int(stats_row[0]), int(stats_row[1]), int(stats_row[2]), int(stats_row[3]))


def _candidate_components(stats: np.ndarray, options: SegmentOptions) -> np.ndarray:
    """Component stats without specks too small to be even a piece of a digit, largest first, capped.

    Index 0 stays the background so that row numbers keep matching the label image.
    """
    speck = max(3, options.min_height // 3)
    keep = [i for i in range(1, len(stats)) if max(stats[i, 2], stats[i, 3]) >= speck]
    keep.sort(key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    rows = np.zeros_like(stats)
    rows[np.array(keep[: 4 * options.max_candidates], dtype=np.int64)] = stats[keep[: 4 * options.max_candidates]]
    return rows


def group_components(stats: np.ndarray, min_height: int, typical: float) -> list[Candidate]:
    """Join the pieces of broken digits, then drop specks that belong to nothing.

    A piece joins a bigger one when it overlaps it horizontally and sits close above or below it,
    as long as the result stays no taller than a digit (so two lines never fuse).
    """
    order = [i for i in np.argsort(-stats[:, cv2.CC_STAT_AREA], kind="stable") if i > 0 and stats[i, 4] > 0]
    # Group boxes as rows x0, y0, x1, y1, vectorised so a page of specks stays fast.
    boxes = np.zeros((len(order), 4), np.int64)
    areas = np.zeros(len(order), np.int64)
    members: list[list[int]] = []
    limit = 1.7 * typical if typical else np.inf  # digit sizes vary across a page; two lines do not fit
    gap_limit = 0.3 * typical if typical else 0
    for i in order:
        x, y, w, h, area = (int(v) for v in stats[i, :5])
        g = boxes[: len(members)]
        overlap = np.minimum(g[:, 2], x + w) - np.maximum(g[:, 0], x)
        gap = np.maximum(np.maximum(g[:, 1] - (y + h), y - g[:, 3]), 0)
        ux0, uy0 = np.minimum(g[:, 0], x), np.minimum(g[:, 1], y)
        ux1, uy1 = np.maximum(g[:, 2], x + w), np.maximum(g[:, 3], y + h)
        narrower = np.minimum(w, g[:, 2] - g[:, 0])
        fits = (gap <= gap_limit) & (uy1 - uy0 <= limit) & (ux1 - ux0 <= 1.6 * np.maximum(uy1 - uy0, 1))
        # A piece above or below its digit (the two halves of a skipping pen stroke).
        stacked = overlap >= 0.5 * narrower
        # A piece beside the top or bottom of a bigger stroke (a 5's detached bar, a 2's tail):
        # neighbouring digits sit side by side at the same height, pieces of one digit do not.
        gh = np.maximum(g[:, 3] - g[:, 1], 1)
        off_centre = (y + h <= g[:, 1] + 0.45 * gh) | (y >= g[:, 3] - 0.45 * gh)
        beside = (
            off_centre
            & (overlap >= -0.15 * max(typical, 1))
            & (ux1 - ux0 <= 1.2 * max(typical, h))
        )
        # A piece straight above or below a group belongs to it before any group beside it (the
        # halves of a broken 1 next to a wide digit); among equals, join the biggest fitting group.
        hits = np.flatnonzero(fits & stacked)
        if not len(hits):
            hits = np.flatnonzero(fits & beside)
        if len(hits):
            j = int(hits[0])
            boxes[j] = (ux0[j], uy0[j], ux1[j], uy1[j])
            areas[j] += area
            members[j].append(int(i))
        else:
            boxes[len(members)] = (x, y, x + w, y + h)
            areas[len(members)] = area
            members.append([int(i)])
    # Every digit is at least moderately tall (a 1 is narrow, but none is flat): dashes are not digits.
    floor = max(min_height, 0.35 * typical) if typical else min_height
    result = []
    for (x0, y0, x1, y1), labels in zip(boxes, members):
        box = Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
        if box.h >= floor:
            result.append(Candidate(box=box, labels=tuple(labels)))
    return result


def _looks_like_writing(labels: np.ndarray, stats: np.ndarray, cand: Candidate) -> bool:
    """Pen strokes, not a solid blob or a ragged speckle: fill and stroke width must fit a digit."""
    b = cand.box
    if len(cand.labels) > 6:  # a digit breaks into a few pieces at most; a cloud of specks is noise
        return False
    area = int(stats[list(cand.labels), cv2.CC_STAT_AREA].sum())
    if b.w > 0.4 * b.h and area > 0.88 * b.w * b.h:  # a 1 may fill its narrow box; bold 8s fill 80%
        return False
    region = labels[b.y : b.y2, b.x : b.x2]
    own = region == cand.labels[0] if len(cand.labels) == 1 else np.isin(region, cand.labels)
    width = stroke_width(own)
    # A handwritten digit is between about 3 and 30 pen widths tall; noise clumps are far thinner.
    return width > 0 and b.h / width <= 40


def segment(image: np.ndarray, options: SegmentOptions = SegmentOptions(), shrink: int = 1) -> Segmentation:
    """Candidates for single digits in a grey or colour image.

    ``shrink`` works on a copy that much smaller: when the digits are known to be large (the last
    frames of a video), a quarter of the pixels finds them just as well, four times faster.
    """
    gray, scale = working_copy(to_gray(image), options.max_side, shrink)
    polarity = detect_polarity(gray) if options.polarity == "auto" else options.polarity
    ink = ink_image(gray, polarity)
    mask, labels, stats = _hysteresis(ink, options.min_contrast)
    notes: list[str] = []
    stroke = stroke_width(mask) if mask.any() else 0.0
    # A line needs a component at least a line long: most frames have none, and skip the search.
    if options.remove_lines and stroke > 0 and stats[1:, 2:4].max(initial=0) >= line_length(stroke):
        mask, lines = remove_lines(mask, stroke)
        if lines.any():
            notes.append("removed ruled lines or borders")
            _, labels, stats = components(mask)
    coverage = float(mask.mean())
    areas = stats[1:, cv2.CC_STAT_AREA]
    specks = float(areas[np.maximum(stats[1:, 2], stats[1:, 3]) <= 3].sum()) / max(1.0, float(areas.sum()))
    reason = None
    if coverage > MAX_INK_COVERAGE:
        # Handwriting leaves most of the paper bare; this is noise, texture or a photo of something else.
        reason = f"ink covers {100 * coverage:.0f}% of the image, too much for handwriting"
    elif specks > MAX_SPECK_SHARE:
        reason = f"{100 * specks:.0f}% of the ink is specks of a few pixels: the image is covered in noise"
    if reason is not None:
        notes.append(reason + ": nothing read")
        return Segmentation(scale=scale, gray=gray, ink=ink, mask=mask, labels=labels, candidates=[],
                            polarity=polarity, stroke=stroke, digit_height=0.0, notes=notes)
    typical = _typical_height(mask, stroke, options.min_height)
    candidates = group_components(_candidate_components(stats, options), options.min_height, typical)
    candidates = [c for c in candidates if _looks_like_writing(labels, stats, c)]
    if len(candidates) > options.max_candidates:
        notes.append(f"{len(candidates)} candidates, kept the {options.max_candidates} largest")
        candidates = sorted(candidates, key=lambda c: -c.box.w * c.box.h)[: options.max_candidates]
    return Segmentation(
        scale=scale, gray=gray, ink=ink, mask=mask, labels=labels, candidates=candidates,
        polarity=polarity, stroke=stroke, digit_height=typical, notes=notes,
    )


def candidate_ink(seg: Segmentation, cand: Candidate, pad: int = 0) -> np.ndarray:
    """The candidate's own ink (neighbours' strokes inside its box blanked), cropped to its box."""
    b = cand.box
    y0, y1 = max(0, b.y - pad), min(seg.ink.shape[0], b.y2 + pad)
    x0, x1 = max(0, b.x - pad), min(seg.ink.shape[1], b.x2 + pad)
    labels = seg.labels[y0:y1, x0:x1]
    own = labels == cand.labels[0] if len(cand.labels) == 1 else np.isin(labels, cand.labels)
    others = (labels > 0) & ~own
    # Grow the component mask by a pixel so the anti-aliased rim of each stroke comes along.
    keep = cv2.dilate(own.view(np.uint8), np.ones((3, 3), np.uint8))
    keep[others] = 0
    crop = cv2.bitwise_and(seg.ink[y0:y1, x0:x1], seg.ink[y0:y1, x0:x1], mask=keep)
    return crop


def cut_positions(crop: np.ndarray, digit_height: float) -> list[int]:
    """Columns where a blob of touching digits may be cut: the valleys of its ink profile.

    Always includes both ends; valleys closer than a tenth of a digit height are merged, and long
    stretches without a valley (digits that overlap rather than touch) get evenly spaced cuts.
    """
    w = crop.shape[1]
    solid = crop > max(1, int(crop.max()) // 3)
    profile = np.convolve(solid.sum(axis=0).astype(np.float64), np.ones(3) / 3, mode="same")
    valleys = [
        x for x in range(1, w - 1)
        if profile[x] <= profile[x - 1] and profile[x] <= profile[x + 1] and profile[x] < profile.max()
    ]
    spacing = max(2.0, 0.1 * digit_height)
    cuts: list[int] = [0]
    for x in valleys:
        if x - cuts[-1] < spacing:
            if profile[x] < profile[cuts[-1]] and cuts[-1] != 0:
                cuts[-1] = x
            continue
        cuts.append(x)
    if w - cuts[-1] < spacing and len(cuts) > 1:
        cuts.pop()
    cuts.append(w)
    step = 0.25 * digit_height
    filled = [cuts[0]]
    for a, b in zip(cuts, cuts[1:]):
        extra = int((b - a) // step) - 1 if b - a > 2 * step else 0
        filled.extend(int(round(a + (b - a) * k / (extra + 1))) for k in range(1, extra + 1))
        filled.append(b)
    return filled


def cut_paths(crop: np.ndarray, xs: list[int], radius: int) -> np.ndarray:
    """The cheapest top-to-bottom path through a blob near each column in ``xs``: cuts between
    touching digits, as an array (len(xs), height) of each path's column in every row.

    Each row may step one column left or right; crossing ink costs its intensity, and straying from
    its column costs a little, so a path slips through the gap where two slanted digits meet instead
    of slicing a stroke as a straight cut would. All paths are found together, one image row at a
    time, in a window of ``radius`` columns either side of their start.
    """
    h, w = crop.shape
    offsets = np.arange(-radius, radius + 1)
    columns = np.asarray(xs, np.int64)[:, None] + offsets[None, :]  # (paths, window)
    big = np.float32(1e9)
    cost = crop[:, np.clip(columns, 0, w - 1)].astype(np.float32) + 2.0 * np.abs(offsets).astype(np.float32)
    cost[:, (columns < 0) | (columns >= w)] = big  # the window may not leave the blob
    # Running costs per row, between two walls so that the three ways into a cell are views.
    n, k = columns.shape
    totals = np.full((h, n, k + 2), big, np.float32)
    totals[0, :, 1:-1] = cost[0]
    for y in range(1, h):
        prev = totals[y - 1]
        np.add(np.minimum(np.minimum(prev[:, :-2], prev[:, 1:-1]), prev[:, 2:]), cost[y], out=totals[y, :, 1:-1])
    # The way into each cell (-1, 0, +1 columns; ties go left, then straight on), all rows at once,
    # then back up from the cheapest bottom cell: a short walk in plain Python.
    above = totals[:-1]
    steps = (np.argmin(np.stack((above[..., :-2], above[..., 1:-1], above[..., 2:])), axis=0) - 1).tolist()
    paths = np.empty((n, h), np.int64)
    for i, j in enumerate(np.argmin(totals[-1, :, 1:-1], axis=1).tolist()):
        path = paths[i]
        for y in range(h - 1, 0, -1):
            path[y] = j
            j += steps[y - 1][i][j]
        path[0] = j
    return np.take_along_axis(columns, paths, axis=1)

