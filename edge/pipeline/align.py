"""Align a page to a reference image of the same form: features, matches, a RANSAC homography.

A scanned or photographed form is shifted, turned and scaled against the blank form its fields
were measured on. ORB features (fast, free, and plentiful on printed forms: box corners, letters)
are found on small grey copies of both, matched with Lowe's ratio test, and a homography is fitted
with RANSAC so that the handwriting, which the blank form lacks, is voted out as outliers.

Everything here is a pure function of arrays. The homography maps *page* pixels to *reference*
pixels, at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.pipeline.results import Box


@dataclass(frozen=True)
class AlignOptions:
    # Long side of the grey copies features are found on, px. A form's corners and lettering are
    # still sharp at 1000 px, and the cost of detection and matching grows with the pixels.
    work_side: int = 1000
    # ORB keypoints kept per image: enough that the printed form outnumbers the handwriting. Matching
    # costs the square of it: on an A4 page 3000 took 92 ms a page, 1500 took 40 ms with corners as
    # close (about 2 px at 300 dpi) and field readings as good on the test forms.
    features: int = 1500
    # Lowe's ratio test: a match counts when its best distance is under this share of the second
    # best (0.75 is the usual value; lower keeps fewer, surer matches).
    ratio: float = 0.75
    # RANSAC's tolerance for an inlier, in working pixels (1000 px across an A4 page: 0.3 mm a pixel).
    ransac_px: float = 3.0
    # A homography is trusted only with this many inliers ...
    min_inliers: int = 20
    # ... making up at least this share of the ratio-tested matches.
    min_inlier_ratio: float = 0.2
    # The page may be this many times larger or smaller than the reference in area, no more (a form
    # photographed from twice as far is 1/4 the area): beyond it the fit is a wrong one.
    max_area_change: float = 16.0


@dataclass(frozen=True)
class Reference:
    """A reference image's features, found once and matched against every page."""

    width: int
    height: int
    scale: float  # working copy / full size
    points: np.ndarray  # (N, 2) float32 keypoint positions in working pixels
    descriptors: np.ndarray | None  # (N, 32) uint8 ORB descriptors


@dataclass(frozen=True)
class Alignment:
    """How a page lies on the reference: ``homography`` maps page pixels to reference pixels."""

    homography: np.ndarray  # 3x3 float64; when not ``ok``, the plain scaling of page to reference size
    ok: bool
    inliers: int = 0
    matches: int = 0  # ratio-tested matches RANSAC chose from
    reason: str | None = None  # one line when not ``ok``

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0

    def to_reference(self, points: np.ndarray) -> np.ndarray:
        """Page pixels (N, 2) -> reference pixels."""
        return _apply(self.homography, points)

    def to_page(self, points: np.ndarray) -> np.ndarray:
        """Reference pixels (N, 2) -> page pixels."""
        return _apply(np.linalg.inv(self.homography), points)


def _apply(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(points, homography).reshape(-1, 2)


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _working(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    grey = _grey(image)
    scale = min(1.0, side / max(grey.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey, scale


def _features(image: np.ndarray, options: AlignOptions) -> tuple[np.ndarray, np.ndarray | None, float]:
    grey, scale = _working(image, options.work_side)
    orb = cv2.ORB_create(nfeatures=options.features)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    return points, descriptors, scale


def prepare_reference(reference: np.ndarray, options: AlignOptions = AlignOptions()) -> Reference:
    """Find the reference's features once (grey, BGR or BGRA uint8)."""
    points, descriptors, scale = _features(reference, options)
    return Reference(width=reference.shape[1], height=reference.shape[0], scale=scale, points=points,
                     descriptors=descriptors)


def scaling(page_size: tuple[int, int], reference: Reference) -> np.ndarray:
    """The homography that only stretches a page (width, height) to the reference's size."""
    return np.diag([reference.width / page_size[0], reference.height / page_size[1], 1.0])


def _plausible(homography: np.ndarray, reference: Reference, options: AlignOptions) -> str | None:
    """Why a fitted homography cannot be how a sheet of paper lies, or None when it can."""
    corners = np.array([[0, 0], [reference.width, 0], [reference.width, reference.height], [0, reference.height]],
                       np.float64)
    try:
        on_page = _apply(np.linalg.inv(homography), corners)
    except np.linalg.LinAlgError:
        return "the fitted transform is degenerate"
    if not np.isfinite(on_page).all():
        return "the fitted transform is degenerate"
    # The reference's outline must stay a convex quadrilateral with its corners in order.
    edges = np.roll(on_page, -1, axis=0) - on_page
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if not (np.all(turns > 0) or np.all(turns < 0)):
        return "the fitted transform folds the page"
    area = 0.5 * abs(float(np.sum(on_page[:, 0] * np.roll(on_page[:, 1], -1) - np.roll(on_page[:, 0], -1) * on_page[:, 1])))
    change = area / float(reference.width * reference.height)
    if not (1 / options.max_area_change <= change <= options.max_area_change):
        return f"the fitted transform changes the form's area {change:.2g} times"
    return None


def align(page: np.ndarray, reference: Reference, options: AlignOptions = AlignOptions()) -> Alignment:
    """Where ``page`` (grey, BGR or BGRA uint8) lies on the reference; never raises for a bad page.

    When no trustworthy fit is found, ``ok`` is False, ``reason`` says why in one line, and the
    homography only stretches the page to the reference's size (the page is used as it is).
    """
    page_size = (page.shape[1], page.shape[0])
    fallback = scaling(page_size, reference)

    def failed(reason: str, inliers: int = 0, matches: int = 0) -> Alignment:
        return Alignment(fallback, ok=False, inliers=inliers, matches=matches, reason=reason)

    if reference.descriptors is None or len(reference.points) < 4:
        return failed("the reference image has too few features to align to")
    points, descriptors, scale = _features(page, options)
    if descriptors is None or len(points) < 4:
        return failed("the page has too few features to align (blank or blurred?)")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(descriptors, reference.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < options.ratio * p[1].distance]
    if len(good) < options.min_inliers:
        return failed(f"only {len(good)} features match the reference (need {options.min_inliers})",
                      matches=len(good))
    source = np.float32([points[m.queryIdx] for m in good]).reshape(-1, 1, 2)
    target = np.float32([reference.points[m.trainIdx] for m in good]).reshape(-1, 1, 2)
    working, mask = cv2.findHomography(source, target, cv2.RANSAC, options.ransac_px)
    inliers = int(mask.sum()) if mask is not None else 0
    if working is None or inliers < options.min_inliers or inliers < options.min_inlier_ratio * len(good):
        return failed(f"only {inliers} of {len(good)} matching features agree on one position", inliers, len(good))
    # Working pixels on both sides -> full pixels: reference_full = S_ref^-1 . H . S_page . page_full
    homography = np.diag([1 / reference.scale, 1 / reference.scale, 1.0]) @ working @ np.diag([scale, scale, 1.0])
    homography /= homography[2, 2]
    problem = _plausible(homography, reference, options)
    if problem:
        return failed(problem, inliers, len(good))
    return Alignment(homography, ok=True, inliers=inliers, matches=len(good))


def paper_value(image: np.ndarray) -> float | tuple[float, ...]:
    """The paper's colour: the median of a sparse sample (ink is a small share of a page)."""
    sample = image[:: max(1, image.shape[0] // 64), :: max(1, image.shape[1] // 64)]
    if sample.ndim == 2:
        return float(np.median(sample))
    return tuple(float(v) for v in np.median(sample.reshape(-1, sample.shape[2]), axis=0))


def warp_to_reference(page: np.ndarray, alignment: Alignment, reference: Reference) -> np.ndarray:
    """The whole page resampled into the reference's frame (reference width x height)."""
    return warp_region(page, alignment, Box(0, 0, reference.width, reference.height))


def warp_region(page: np.ndarray, alignment: Alignment, region: Box, zoom: float = 1.0,
                fill: float | tuple[float, ...] | None = None) -> np.ndarray:
    """The part of the page that lies under ``region`` (reference pixels), upright.

    ``zoom`` samples it that many times finer than reference pixels (a page finer than its
    reference keeps its detail). Outside the page is filled with ``fill`` (default: the paper's
    colour), so the border is not mistaken for ink.
    """
    shift = np.array([[zoom, 0, -region.x * zoom], [0, zoom, -region.y * zoom], [0, 0, 1]], np.float64)
    size = (max(1, round(region.w * zoom)), max(1, round(region.h * zoom)))
    border = paper_value(page) if fill is None else fill
    return cv2.warpPerspective(page, shift @ alignment.homography, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def local_zoom(alignment: Alignment, region: Box) -> float:
    """Page pixels per reference pixel around ``region`` (the square root of the area ratio)."""
    corners = np.array([[region.x, region.y], [region.x2, region.y], [region.x2, region.y2], [region.x, region.y2]],
                       np.float64)
    on_page = alignment.to_page(corners)
    area = 0.5 * abs(float(np.sum(on_page[:, 0] * np.roll(on_page[:, 1], -1) - np.roll(on_page[:, 0], -1) * on_page[:, 1])))
    return float(np.sqrt(area / max(1.0, float(region.w * region.h))))


def region_on_page(alignment: Alignment, region: Box, width: int, height: int) -> tuple[Box, np.ndarray]:
    """A reference region's place on the page: its bounding box (clipped to the page) and its 4 corners."""
    corners = np.array([[region.x, region.y], [region.x2, region.y], [region.x2, region.y2], [region.x, region.y2]],
                       np.float64)
    on_page = alignment.to_page(corners)
    x0, y0 = np.floor(on_page.min(axis=0)).astype(int)
    x1, y1 = np.ceil(on_page.max(axis=0)).astype(int)
    x0, y0 = max(0, min(int(x0), width - 1)), max(0, min(int(y0), height - 1))
    x1, y1 = max(x0 + 1, min(int(x1), width)), max(y0 + 1, min(int(y1), height))
    return Box(x0, y0, x1 - x0, y1 - y0), on_page
