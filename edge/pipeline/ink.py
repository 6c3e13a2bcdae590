"""Measurements and cuts of ink that the stages share (below them all in the pipeline).

Ink images are uint8 with 0 for paper; masks are uint8 0/1 or booleans.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Connected-component stats columns, by name (OpenCV's own constants).
LEFT, TOP, WIDTH, HEIGHT, AREA = (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT,
                                  cv2.CC_STAT_AREA)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grey uint8 from grey, BGR or BGRA (already decoded and alpha-flattened by the loader)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image[:, :, 0]


def working_copy(image: np.ndarray, max_side: int, at_least: int = 1) -> tuple[np.ndarray, float]:
    """A copy (grey or colour) whose long side is at most ``max_side``, shrunk by a whole factor (a
    fast, clean path) of at least ``at_least``; and that copy's size over the original's."""
    h, w = image.shape[:2]
    factor = max(at_least, -(-max(h, w) // max_side))  # ceiling division
    if factor <= 1:
        return image, 1.0
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / w


def stroke_width(mask: np.ndarray) -> float:
    """Mean pen width of a binary ink mask, in pixels: twice the area over the outline length.

    For a stroke of length L and width w, area is about L*w and the outline about 2L, so the
    estimate holds for any digit shape without skeletonising it.
    """
    mask = mask.view(np.uint8) if mask.dtype == bool else (mask > 0).view(np.uint8)
    area = float(cv2.countNonZero(mask))
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / perimeter if perimeter > 0 else float(min(mask.shape))


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components with stats, numbered as OpenCV numbers them on the whole mask; row 0,
    the paper, has the whole mask as its box.

    Grana's algorithm is named explicitly: OpenCV 5's default takes three times as long when it also
    collects stats. It labels 2x2 blocks, and an image with an odd side takes it 40% longer (2.5x on
    a 481x640 frame), so what it labels is the ink's bounding box grown to even sides from even
    coordinates (the blocks, and the order of the labels, stay those of the whole mask): the masks
    segmentation labels are mostly paper (a form's rules, the runs of its comb walls), and a box
    half the page is labelled in half the time.
    """
    height, width = mask.shape
    x, y, w, h = cv2.boundingRect(mask)
    if not w:  # no ink: paper only
        return 1, np.zeros(mask.shape, np.int32), np.array([[0, 0, width, height, mask.size]], np.int32)
    x0, y0 = x & ~1, y & ~1
    x1, y1 = x + w + (x + w - x0) % 2, y + h + (y + h - y0) % 2
    box = mask[y0:y1, x0:x1]
    if x1 > width or y1 > height:  # the box runs a pixel past the mask: that pixel is paper
        box = cv2.copyMakeBorder(box, 0, y1 - y0 - box.shape[0], 0, x1 - x0 - box.shape[1], cv2.BORDER_CONSTANT, value=0)
    n, labelled, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(box, 8, cv2.CV_32S, cv2.CCL_GRANA)
    if labelled.shape == mask.shape:
        labels = labelled
    else:
        labels = np.zeros(mask.shape, np.int32)
        labels[y0:y1, x0:x1] = labelled[: height - y0, : width - x0]
        stats[1:, LEFT] += x0
        stats[1:, TOP] += y0
    stats[0] = (0, 0, width, height, mask.size - int(stats[1:, AREA].sum()))
    return n, labels, stats


# Pen widths are measured on a copy of a candidate at most this many pixels on its long side: cheap,
# and at 40 px a stroke is still several pixels wide. The normaliser works on the same copy.
MEASURE_SIDE = 40
# Contrast: the crop is stretched so this percentile of its ink becomes full strength, so faint
# pencil and bold marker both get saturated stroke cores; a stroke is where it is at least half that.
STRETCH_PERCENTILE = 90
STROKE_LEVEL = 128
# Segmentation measures a candidate's pen on its binary mask, which takes in the faint rim that the
# stretched copy's half-strength level leaves out: on handwritten digits the stretched copy's width
# is this share of the mask's (median over generated pages of every kind, 0.71-0.89 per kind), so
# one measurement serves both.
MASK_TO_STRETCHED_WIDTH = 0.78


@dataclass(frozen=True)
class InkCrop:
    """A candidate's ink, trimmed, shrunk to at most ``MEASURE_SIDE`` and contrast-stretched, with
    its pen width measured once (segmentation judges it, normalisation matches it)."""

    pixels: np.ndarray  # uint8, ink bright
    scale: float  # pixels' size / the original crop's
    stroke: float  # pen width in ``pixels``' pixels

    @property
    def stroke_original(self) -> float:
        """The pen width in the original crop's pixels."""
        return self.stroke / self.scale


def percentile(crop: np.ndarray, q: float) -> float:
    """The q-th percentile of a uint8 crop's non-zero pixels, from its histogram (np.percentile is
    a sort, and this runs for every digit)."""
    hist = cv2.calcHist([crop], [0], None, [256], [0, 256]).ravel()
    hist[0] = 0
    total = hist.sum()
    if total == 0:
        return 0.0
    return float(np.searchsorted(np.cumsum(hist), q / 100.0 * total))


def measure(crop: np.ndarray, mask_width: float | None = None) -> InkCrop:
    """Trim, shrink and stretch one candidate's ink (0 paper .. 255 ink, any size), with its pen width:
    from ``mask_width`` (the width segmentation measured on its mask, in the crop's pixels) when
    given, else measured on the stretched copy."""
    x, y, w, h = cv2.boundingRect(crop)
    if w == 0 or h == 0:
        return InkCrop(np.zeros((1, 1), np.uint8), 1.0, 0.0)
    crop = crop[y : y + h, x : x + w]
    scale = 1.0
    if max(h, w) > MEASURE_SIDE:
        scale = MEASURE_SIDE / max(h, w)
        crop = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    peak = percentile(crop, STRETCH_PERCENTILE)
    if peak > 0:
        crop = cv2.convertScaleAbs(crop, alpha=255.0 / peak)
    if mask_width:
        return InkCrop(crop, scale, mask_width * MASK_TO_STRETCHED_WIDTH * scale)
    return InkCrop(crop, scale, stroke_width(crop >= STROKE_LEVEL))


def between_paths(left: np.ndarray, right: np.ndarray, x0: int, x1: int) -> np.ndarray:
    """A mask of columns ``x0 .. x1 - 1`` per row: true from the ``left`` path (a column per row) up
    to, not including, the ``right`` one."""
    columns = np.arange(x0, x1)
    return (columns[None, :] >= left[:, None]) & (columns[None, :] < right[:, None])


def cut_paths(crop: np.ndarray, xs: list[int], radius: int | list[int]) -> np.ndarray:
    """The cheapest top-to-bottom path through a blob near each column in ``xs``: cuts between
    touching digits, as an array (len(xs), height) of each path's column in every row.

    Each row may step one column left or right; crossing ink costs its intensity, and straying from
    its column costs a little, so a path slips through the gap where two slanted digits meet instead
    of slicing a stroke as a straight cut would. All paths are found together, one image row at a
    time, in a window of ``radius`` columns either side of their start (one for all, or one each).
    """
    h, w = crop.shape
    radii = np.broadcast_to(np.asarray(radius, np.int64), (len(xs),))
    reach = int(radii.max()) if len(radii) else 0
    offsets = np.arange(-reach, reach + 1)
    columns = np.asarray(xs, np.int64)[:, None] + offsets[None, :]  # (paths, window)
    big = np.float32(1e9)
    cost = crop[:, np.clip(columns, 0, w - 1)].astype(np.float32) + 2.0 * np.abs(offsets).astype(np.float32)
    # The window may not leave the blob, nor a path its own radius.
    cost[:, (columns < 0) | (columns >= w) | (np.abs(offsets)[None, :] > radii[:, None])] = big
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


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D bool array."""
    return max((end - start for start, end in true_runs(flags)), default=0)
