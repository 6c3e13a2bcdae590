"""Fix the segmentation with the classifier's help: join a digit drawn in two strokes, and cut blobs
of touching digits apart.

Both steps propose alternatives (a union of two pieces; slices of a blob between cut paths), let the
classifier read them in one batch each, and keep an alternative only when it explains the ink
better than what segmentation found. Cuts follow the cheapest path through the ink near the valleys
of the blob's column profile, so they slip between slanted digits instead of slicing a stroke.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from edge.pipeline.ink import between_paths, cut_paths
from edge.pipeline.results import Box

# Log-probability floor, so that a zero probability does not make a score minus infinity.
MIN_PROBABILITY = 1e-6


@dataclass(frozen=True)
class SplitOptions:
    enabled: bool = True
    # --- joining two strokes of one digit (shares of the taller piece's height; probabilities)
    # The right piece starts at most this far right of the left one's end.
    merge_max_gap: float = 0.06
    # The pieces overlap vertically by at least this share of the shorter one.
    merge_min_overlap: float = 0.5
    # The union is narrower than this share of its height (a digit, not two).
    merge_max_aspect: float = 0.9
    # Pieces read at least this surely and of equal height (within ``merge_uneven``) stay apart:
    # 11 written close stays 11.
    merge_sure: float = 0.9
    merge_uneven: float = 0.85
    # The union must be read at least this surely, and beat the two pieces by this log-likelihood.
    merge_min_confidence: float = 0.9
    merge_margin: float = 0.05
    # A 5's hook drawn apart (as many of MNIST's 5s are): a flat piece at most ``flag_height`` as tall
    # as the piece left of it, its middle within ``flag_top`` of that piece's height from the other's
    # top, starting over that piece's right half and running on past its end. The two make a digit
    # wider than ``merge_max_aspect`` allows, up to ``flag_max_aspect``. Its body alone was read as
    # the 5, its box matching no digit: forms 1-290 (tuning) recall 99.01 -> 99.05%, numbers 94.92 ->
    # 95.03%, false digits 76 -> 73; desk photos 1-150 one number more; touching 200-335, 30 pages of
    # every sheet kind, sticky notes and card frames the same.
    flag_height: float = 0.4
    flag_top: float = 0.3
    flag_max_aspect: float = 1.6
    # --- cutting blobs of touching digits
    # A split must beat reading the blob as one digit by this much log-likelihood (for square blobs;
    # less for wider ones, by ``aspect_prior`` per unit of width/height above 1), and every part must
    # reach ``min_confidence``. Tuned on generated pages with seeds apart from the benchmark's.
    margin: float = 0.0
    aspect_prior: float = 0.2
    min_confidence: float = 0.6
    # ... but a blob the model reads as no digit at all (two touching digits are no one digit) is
    # lost unless cut, so its parts need only this, and to be read as digits rather than rejected.
    min_confidence_rejected: float = 0.25
    # A rejected blob cut into this many parts or more, mostly 1s and the rest unsure, is two bold
    # serif letters' stems and bowls (RM, RD in a form's title); touching digits cut into three parts
    # that way were real (a 1, an unsure 2 and a 4 read as 1: touching tuning pages 200-203).
    stem_parts: int = 4
    # Blobs narrower than this (width / height) are never cut (two touching 1s are about 0.7).
    min_aspect: float = 0.7
    # "Clearly wider than tall" (width / height): such blobs are always tried; narrower ones only
    # when read less surely than ``unsure_below``, and then they split only into parts side by side
    # (neighbouring parts' boxes overlap by at most ``max_overlap`` of the narrower one): a 6's top
    # stroke over its loop is not a 5 beside a 6.
    wide_aspect: float = 1.25
    max_overlap: float = 0.25
    # Near-square blobs are tried when read less surely than this: with the "not a digit" class a
    # digit pair reads far below it, while trying every digit under 0.9 cost 2-3 ms a page for the
    # same readings (tuning seeds of the sheets).
    unsure_below: float = 0.5
    # A wide blob read at least this surely is one wide digit (a 7 or a 5 with a long bar), not cut:
    # of the 3,710 wide blobs cut on 192 touching tuning pages (208-399) one was read at about 0.8 and
    # all others under 0.45, and a sheet of handwriting spent two thirds of its slices on such digits.
    wide_sure_below: float = 0.95
    # A wide blob is tried only when also this much wider than a usual digit of the page.
    wider_than_digit: float = 1.2
    # A digit is rarely wider than this share of its height (used where most pieces are blobs).
    digit_width_share: float = 0.75
    # Blobs shorter than this share of the page's digit height are specks or dashes: not tried (0.7
    # spared an A4 form's printed labels, 85 -> 57 ms of splitting, but lost touching pairs written
    # small: touching tuning seeds 208-239 recall 96.49 -> 96.36%; 0.7 for near-square blobs alone
    # was the same on seeds 208-271 but lost two digits on the benchmark's touching pages).
    min_height_share: float = 0.5
    # Blobs taller than this share of the page's digit height are no digits side by side (a
    # signature, a ticked box, a word written large): not tried (forms tuning seeds 1-30: precision
    # 85.1 -> 85.6, the same recall; 1.6 lost digits joined to marks).
    max_height_share: float = 2.0
    # ... and shorter than ``min_height_share`` of the median height of the digits read at least
    # ``sure_digit`` surely, when there are ``sure_digits`` of them, are not tried either.
    sure_digit: float = 0.9
    sure_digits: int = 5
    # Slices (shares of the blob's height): at most ``max_slice`` wide (a digit), at least
    # ``min_slice`` wide and ``min_slice_height`` tall (a stroke's worth of ink).
    max_slice: float = 1.15
    min_slice: float = 0.12
    min_slice_height: float = 0.4
    # Cut paths may wander this share of the blob's height either side of their column.
    path_radius: float = 0.15
    # Cut into ``word_slices`` or more slices, most of them (their ink) shorter than ``word_short`` of
    # the blob's height, a blob is a handwritten word, not touching digits: lowercase letters are half
    # the height of the capitals and the stems beside them, while touching digits each span most of
    # their blob. Forms 1-80 (tuning): precision 90.9 -> 92.5%, nothing lost; forms 81-120 (untuned):
    # 91.4 -> 93.4%, one digit lost; touching pages 208-335 and sheets 200-207 read the same (at 0.85
    # the tuning forms lost digits).
    word_slices: int = 3
    word_short: float = 0.8
    # A blob with more candidate cuts than this is not a few touching digits but a long stroke (a
    # ruled line, a shadow strip along a paper edge): it is read as it is, never cut. Ten touching
    # digits give about 40 cuts, and the cost of trying grows with the square of the count.
    max_cuts: int = 48


@dataclass
class Piece:
    """One candidate digit: where it is, its ink and what the model is fed."""

    box: Box  # working-image pixels
    crop: np.ndarray  # its ink, cropped to the box (0 paper .. 255 ink)
    model_input: np.ndarray


@dataclass(frozen=True)
class Judge:
    """What the split steps need from the rest of the pipeline."""

    make_piece: Callable[[np.ndarray, Box], Piece]  # ink crop, its box -> Piece
    predict: Callable[[list[Piece]], np.ndarray]  # pieces -> probabilities over the model's labels
    confidence: Callable[[np.ndarray], np.ndarray]  # probabilities -> each row's best digit probability
    rejected: Callable[[np.ndarray], np.ndarray]  # probabilities -> rows the reject class wins
    # probabilities -> each row's best digit (the value, 0-9); None: not told (no 1s rule)
    digits: Callable[[np.ndarray], np.ndarray] | None = None


def _log(p: float) -> float:
    return float(np.log(max(p, MIN_PROBABILITY)))


def merge_split_strokes(pieces: list[Piece], probs: np.ndarray, judge: Judge,
                        options: SplitOptions = SplitOptions()) -> tuple[list[Piece], np.ndarray]:
    """Join two side-by-side pieces that are one digit drawn in two strokes (a 4 whose bar stops
    short of its upright, a 5's detached hook).

    Only for nearly touching pieces of a digit-shaped union that the model reads confidently, and
    only when the pieces themselves do not both read as sure digits of equal height.
    """
    if len(pieces) < 2:
        return pieces, probs
    sure = judge.confidence(probs)
    # For each piece, the nearest piece starting just right of it on the same line (all pairs at once:
    # gap[a, b] is how far b starts right of a's end).
    x, y, w, h = (np.array([getattr(p.box, k) for p in pieces], np.int64) for k in "xywh")
    gap = x[None, :] - (x + w)[:, None]
    shared_rows = np.minimum((y + h)[:, None], (y + h)[None, :]) - np.maximum(y[:, None], y[None, :])
    beside = (gap >= 0) & (gap <= options.merge_max_gap * np.maximum(h[:, None], h[None, :])) \
        & (shared_rows >= options.merge_min_overlap * np.minimum(h[:, None], h[None, :]))
    np.fill_diagonal(beside, False)
    nearest = np.where(beside, gap, np.iinfo(np.int64).max).argmin(axis=1)  # ties: the first piece
    flag = (h[None, :] <= options.flag_height * h[:, None]) \
        & (np.abs(2 * y[None, :] + h[None, :] - 2 * y[:, None]) <= 2 * options.flag_top * h[:, None]) \
        & (2 * x[None, :] >= 2 * x[:, None] + w[:, None]) & (gap <= options.merge_max_gap * h[:, None]) \
        & ((x + w)[None, :] > (x + w)[:, None])
    pairs = [(int(a), int(b)) for a, b in zip(*np.nonzero(flag))
             if (union := pieces[a].box.union(pieces[b].box)).w <= options.flag_max_aspect * union.h]
    for a in np.flatnonzero(beside.any(axis=1)).tolist():
        b = int(nearest[a])
        left, right = pieces[a].box, pieces[b].box
        union = left.union(right)
        if union.w > options.merge_max_aspect * union.h:
            continue
        unsure = min(sure[a], sure[b]) < options.merge_sure
        uneven = min(left.h, right.h) < options.merge_uneven * max(left.h, right.h)
        if (unsure or uneven) and (a, b) not in pairs:
            pairs.append((a, b))
    if not pairs:
        return pieces, probs
    merged = []
    for a, b in pairs:
        box = pieces[a].box.union(pieces[b].box)
        crop = np.zeros((box.h, box.w), np.uint8)
        for piece in (pieces[a], pieces[b]):
            pb = piece.box
            region = crop[pb.y - box.y : pb.y2 - box.y, pb.x - box.x : pb.x2 - box.x]
            np.maximum(region, piece.crop[: region.shape[0], : region.shape[1]], out=region)
        merged.append((a, b, judge.make_piece(crop, box)))
    merged_probs = judge.predict([m for _, _, m in merged])
    merged_sure = judge.confidence(merged_probs)
    drop, add = set(), []
    for (a, b, piece), p, whole in zip(merged, merged_probs, merged_sure):
        separate = _log(sure[a]) + _log(sure[b])
        if a in drop or b in drop or whole < options.merge_min_confidence or _log(whole) < separate + options.merge_margin:
            continue
        drop |= {a, b}
        add.append((piece, p))
    if not add:
        return pieces, probs
    keep = [i for i in range(len(pieces)) if i not in drop]
    return [pieces[i] for i in keep] + [m for m, _ in add], np.array([probs[i] for i in keep] + [p for _, p in add])


def split_touching(pieces: list[Piece], probs: np.ndarray, digit_height: float, judge: Judge,
                   options: SplitOptions = SplitOptions()) -> tuple[list[Piece], np.ndarray]:
    """Read blobs wider than a digit as several touching digits when the classifier agrees.

    Every plausible slice between two cuts is classified in one batch, and dynamic programming picks
    the cuts whose slices the classifier is most sure of. The cuts replace the blob if they explain
    it better than one digit does.
    """
    if not pieces:
        return pieces, probs
    sure = judge.confidence(probs)
    no_digit = judge.rejected(probs)
    typical = digit_height or max(p.box.h for p in pieces)
    # The least height worth trying: half that of the digits read surely when there are enough of
    # them. On a form the page's typical height is pulled down by printed lowercase, whose words were
    # all cut and classified for nothing (an A4 form: 500 slices a page).
    surely = sorted(p.box.h for p, s, r in zip(pieces, sure, no_digit) if s >= options.sure_digit and not r)
    sure_height = surely[len(surely) // 2] if len(surely) >= options.sure_digits else 0
    lowest = options.min_height_share * max(typical, sure_height)
    widths = sorted(p.box.w for p in pieces)
    usual = widths[len(widths) // 2]
    # "Wider than a usual digit": the page's median piece, but on a page of touching digits most
    # pieces are blobs, so also no wider than a digit of the page's height can be.
    digit_width = min(usual, options.digit_width_share * typical) if typical else usual
    blobs = [
        i for i, p in enumerate(pieces)
        if lowest <= p.box.h <= options.max_height_share * typical
        and ((p.box.w >= options.wide_aspect * p.box.h and p.box.w >= options.wider_than_digit * digit_width
              and sure[i] < options.wide_sure_below)
             or (p.box.w >= options.min_aspect * p.box.h and sure[i] < options.unsure_below))
    ]
    slices: dict[tuple[int, int, int], Piece] = {}
    positions: dict[int, list[int]] = {}
    for index in blobs:
        piece = pieces[index]
        height, width = piece.crop.shape
        cuts = cut_positions(piece.crop, piece.box.h)
        if len(cuts) > options.max_cuts:
            continue
        positions[index] = cuts
        radius = max(2, int(options.path_radius * piece.box.h))
        inner = cuts[1:-1]
        paths = dict(zip(inner, cut_paths(piece.crop, inner, radius))) if inner else {}
        paths[0], paths[width] = np.zeros(height, np.int64), np.full(height, width, np.int64)
        # A blob about as wide as tall holds two digits at most: only slices from either end.
        pair_only = width < options.wide_aspect * height
        for a_i, a in enumerate(cuts):
            for b in cuts[a_i + 1 :]:
                if b - a > options.max_slice * piece.box.h:
                    break
                if pair_only and a != 0 and b != width:
                    continue
                if (a, b) != (0, width) and b - a >= options.min_slice * piece.box.h:
                    part = _slice(piece, paths[a], paths[b], judge, options)
                    if part is not None:
                        slices[(index, a, b)] = part
    if not slices:
        return pieces, probs
    keys = list(slices)
    predicted = judge.predict([slices[k] for k in keys])
    slice_probs = dict(zip(keys, predicted))
    slice_sure = dict(zip(keys, judge.confidence(predicted).tolist()))
    slice_rejected = dict(zip(keys, judge.rejected(predicted).tolist()))
    replaced: dict[int, list[tuple[Piece, np.ndarray]]] = {}
    for index, cuts in positions.items():
        path = best_cuts(index, cuts, slice_sure)
        if path is None:
            continue
        confidences = np.array([slice_sure[key] for key in path])
        split = float(np.log(np.maximum(confidences, MIN_PROBABILITY)).sum())
        whole = _log(sure[index])
        # Compare likelihoods (products of confidences), with a prior from the blob's shape:
        # the wider it is, the less a single digit explains it.
        aspect = pieces[index].box.w / max(1, pieces[index].box.h)
        margin = options.margin - options.aspect_prior * (aspect - 1.0)
        floor = options.min_confidence_rejected if no_digit[index] else options.min_confidence
        if split < whole + margin or confidences.min() < floor or any(slice_rejected[key] for key in path):
            continue
        # Cut into nothing but 1s, a blob the model calls no digit is a letter's stems (m, W, E, h),
        # not touching 1s (those read as a digit, a 4 or an 11, before they are cut); so is one cut
        # mostly into 1s whose other parts are unsure (a bold serif R or M: stems and a bowl).
        if no_digit[index] and judge.digits is not None \
                and _stems(judge.digits(np.array([slice_probs[key] for key in path])), confidences, options):
            continue
        if aspect < options.wide_aspect and _max_overlap([slices[key].box for key in path]) > options.max_overlap:
            continue
        if _a_word(path, slices, pieces[index].box.h, options):
            continue
        replaced[index] = [(slices[key], slice_probs[key]) for key in path]
    if not replaced:
        return pieces, probs
    new_pieces, new_probs = [], []
    for index, piece in enumerate(pieces):
        for part, p in replaced.get(index, [(piece, probs[index])]):
            new_pieces.append(part)
            new_probs.append(p)
    return new_pieces, np.array(new_probs)


def _stems(digits: np.ndarray, confidences: np.ndarray, options: SplitOptions) -> bool:
    """Whether the parts of a rejected blob look like a letter's stems: all 1s, or (in ``stem_parts``
    parts or more) mostly 1s with every other part read under ``min_confidence``."""
    ones = digits == 1
    if ones.all():
        return True
    return len(digits) >= options.stem_parts and 2 * int(ones.sum()) > len(digits) \
        and bool((confidences[~ones] < options.min_confidence).all())


def best_cuts(index: int, cuts: list[int], sure: dict[tuple[int, int, int], float]) -> list | None:
    """The surest way (mean log-confidence per slice) to cut blob ``index`` into two or more slices:
    the slices' keys, left to right, or None when no way covers the blob."""
    n = len(cuts)
    # best[j][k]: best total log-confidence covering cuts[0]..cuts[j] with k slices.
    best: list[dict[int, tuple[float, list]]] = [dict() for _ in range(n)]
    best[0][0] = (0.0, [])
    for j in range(1, n):
        for i in range(j):
            key = (index, cuts[i], cuts[j])
            if key not in sure:
                continue
            gain = _log(sure[key])
            for k, (score, path) in best[i].items():
                if k + 1 not in best[j] or best[j][k + 1][0] < score + gain:
                    best[j][k + 1] = (score + gain, path + [key])
    options = [(score / k, path) for k, (score, path) in best[n - 1].items() if k >= 2]
    if not options:
        return None
    return max(options, key=lambda item: item[0])[1]


def _slice(piece: Piece, left: np.ndarray, right: np.ndarray, judge: Judge, options: SplitOptions) -> Piece | None:
    """The blob's ink between two cut paths (each a column per row)."""
    # Only the columns the two paths enclose somewhere: a slice of a long blob is a small part of it.
    x0, x1 = int(left.min()), int(right.max())
    if x1 <= x0:
        return None
    sub = piece.crop[:, x0:x1] * between_paths(left, right, x0, x1)
    x, y, w, h = cv2.boundingRect(sub)
    if w == 0 or h < options.min_slice_height * piece.box.h:
        return None
    box = Box(piece.box.x + x0 + x, piece.box.y + y, w, h)
    return judge.make_piece(sub[y : y + h, x : x + w], box)


def _a_word(path: list, slices: dict, height: int, options: SplitOptions) -> bool:
    """Whether the cuts ``path`` (keys of ``slices``) read a blob ``height`` tall as a handwritten word."""
    short = sum(slices[key].box.h < options.word_short * height for key in path)
    return len(path) >= options.word_slices and 2 * short > len(path)


def _max_overlap(boxes: list[Box]) -> float:
    """Largest horizontal overlap of neighbouring boxes, as a share of the narrower one."""
    worst = 0.0
    for a, b in zip(boxes, boxes[1:]):
        overlap = -a.gap(b)
        worst = max(worst, overlap / max(1, min(a.w, b.w)))
    return worst


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
