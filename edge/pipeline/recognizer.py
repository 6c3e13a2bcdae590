"""The recogniser: image -> segment -> normalise -> classify -> layout -> Reading."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from edge.runtime.classifier import DigitClassifier
from edge.pipeline.layout import layout
from edge.pipeline.normalize import to_model_input
from edge.pipeline.results import Box, Digit, Reading
from edge.pipeline.segment import Candidate, Segmentation, SegmentOptions, candidate_ink, cut_paths, cut_positions, segment


@dataclass(frozen=True)
class RecognizeOptions:
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    # Digits below this confidence are marked uncertain ('?' in text) or dropped.
    min_confidence: float = 0.0
    drop_uncertain: bool = False
    split_touching: bool = True
    # A split must beat reading the blob as one digit by this much log-likelihood (for square blobs;
    # less for wider ones), and every part must reach ``split_min_confidence``. Tuned on generated
    # pages with seeds apart from the benchmark's.
    split_margin: float = 0.0
    split_min_confidence: float = 0.6
    # Blobs narrower than this (width / height) are never split (two touching 1s are about 0.7).
    split_min_aspect: float = 0.7
    # A blob less than 1.25 times as wide as tall is split only into parts side by side: boxes of
    # neighbouring parts may overlap by at most this share of the narrower one.
    split_max_overlap: float = 0.25
    # Blobs narrower than 1.25 times their height are tried only when read less surely than this
    # (the shipped model, trained with label smoothing, gives 0.95-0.97 to digits it is sure of).
    split_unsure_below: float = 0.9
    # A blob with more candidate cuts than this is not a few touching digits but a long stroke (a
    # ruled line, a shadow strip along a paper edge): it is read as it is, never cut. Ten touching
    # digits give about 40 cuts, and the cost of trying grows with the square of the count.
    split_max_cuts: int = 48


@dataclass
class Trace:
    """What the pipeline saw, for ``--debug``: the segmentation and every crop it classified."""

    segmentation: Segmentation | None = None
    crops: list[np.ndarray] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)  # working-image boxes of the crops
    probs: np.ndarray | None = None  # the classifier's output for each crop


@dataclass
class _Piece:
    box: Box  # working-image pixels
    crop: np.ndarray  # the piece's ink
    model_input: np.ndarray


class Recognizer:
    """Reads digits, numbers and lines from images with one classifier; reusable across images."""

    def __init__(self, classifier: DigitClassifier, options: RecognizeOptions = RecognizeOptions()) -> None:
        self.classifier = classifier
        self.options = options
        spec = classifier.metadata.input
        self._to_input = dict(
            box=spec.digit_box,
            size=(spec.height, spec.width),
            target_stroke=spec.stroke_width,
            light_on_dark=spec.polarity == "light-on-dark",
        )

    def _piece(self, crop: np.ndarray, box: Box) -> _Piece:
        return _Piece(box=box, crop=crop, model_input=to_model_input(crop, **self._to_input))

    def read(self, image: np.ndarray, trace: Trace | None = None, shrink: int = 1) -> Reading:
        """Read one decoded image (grey, BGR or BGRA uint8); ``shrink`` as in ``segment``."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        seg = segment(image, self.options.segment, shrink)
        timings["segment"] = _ms_since(start)

        start = time.perf_counter()
        pieces = [self._piece(candidate_ink(seg, c), c.box) for c in seg.candidates]
        timings["normalise"] = _ms_since(start)

        start = time.perf_counter()
        probs = self._predict([p.model_input for p in pieces])
        timings["classify"] = _ms_since(start)

        if self.options.split_touching and pieces:
            start = time.perf_counter()
            pieces, probs = self._merge_split_strokes(seg, pieces, probs)
            pieces, probs = self._split_touching(seg, pieces, probs)
            timings["split"] = _ms_since(start)

        limit = self.options.segment.max_candidates
        if len(pieces) > limit:  # splitting may have made more: the cap is on what one image can give
            keep = np.sort(np.argsort(-probs.max(axis=1), kind="stable")[:limit])
            pieces, probs = [pieces[i] for i in keep], probs[keep]
            seg.notes.append(f"kept the {limit} most confident digits")

        if trace is not None:
            trace.segmentation = seg
            trace.crops = [p.model_input for p in pieces]
            trace.boxes = [p.box for p in pieces]
            trace.probs = probs

        start = time.perf_counter()
        digits = self._digits(pieces, probs, seg.scale, image.shape[1], image.shape[0])
        lines = layout(digits)
        timings["layout"] = _ms_since(start)
        return Reading(width=image.shape[1], height=image.shape[0], lines=lines, timings=timings,
                       notes=list(seg.notes))

    def _predict(self, inputs: list[np.ndarray]) -> np.ndarray:
        if not inputs:
            return np.zeros((0, len(self.classifier.metadata.labels)), np.float32)
        return self.classifier.predict(np.stack(inputs))

    def _merge_split_strokes(self, seg: Segmentation, pieces: list[_Piece], probs: np.ndarray):
        """Join two side-by-side pieces that are one digit drawn in two strokes (a 4 whose bar stops
        short of its upright, a 5's detached hook).

        Only for nearly touching pieces of a digit-shaped union that the model reads confidently,
        and only when the pieces themselves do not both read as sure digits of equal height, so
        that 11 written close stays 11.
        """
        pairs = []
        for a, left_piece in enumerate(pieces):
            left = left_piece.box
            # The nearest piece starting just right of this one, on the same line.
            right_of = [
                (pieces[b].box.x - left.x2, b) for b in range(len(pieces))
                if b != a and 0 <= pieces[b].box.x - left.x2 <= 0.06 * max(left.h, pieces[b].box.h)
                and min(left.y2, pieces[b].box.y2) - max(left.y, pieces[b].box.y) >= 0.5 * min(left.h, pieces[b].box.h)
            ]
            if not right_of:
                continue
            b = min(right_of)[1]
            right = pieces[b].box
            union = left.union(right)
            if union.w > 0.9 * union.h:
                continue
            unsure = min(probs[a].max(), probs[b].max()) < 0.9
            uneven = min(left.h, right.h) < 0.85 * max(left.h, right.h)
            if unsure or uneven:
                pairs.append((a, b))
        if not pairs:
            return pieces, probs
        merged = []
        for a, b in pairs:
            box = pieces[a].box.union(pieces[b].box)
            candidate = Candidate(box=box, labels=())
            crop = np.zeros((box.h, box.w), np.uint8)
            for piece in (pieces[a], pieces[b]):
                pb = piece.box
                region = crop[pb.y - box.y : pb.y2 - box.y, pb.x - box.x : pb.x2 - box.x]
                np.maximum(region, piece.crop[: region.shape[0], : region.shape[1]], out=region)
            merged.append((a, b, self._piece(crop, candidate.box)))
        merged_probs = self._predict([m.model_input for _, _, m in merged])
        drop, add = set(), []
        for (a, b, piece), p in zip(merged, merged_probs):
            separate = np.log(max(probs[a].max(), 1e-6)) + np.log(max(probs[b].max(), 1e-6))
            if a in drop or b in drop or p.max() < 0.9 or np.log(p.max()) < separate + 0.05:
                continue
            drop |= {a, b}
            add.append((piece, p))
        if not add:
            return pieces, probs
        keep = [i for i in range(len(pieces)) if i not in drop]
        return [pieces[i] for i in keep] + [m for m, _ in add], np.array([probs[i] for i in keep] + [p for _, p in add])

    def _split_touching(self, seg: Segmentation, pieces: list[_Piece], probs: np.ndarray):
        """Read blobs wider than a digit as several touching digits when the classifier agrees.

        Cuts go at valleys of the ink profile; every plausible slice between two cuts is classified
        in one batch, and dynamic programming picks, for each digit count, the cuts whose slices the
        classifier is most sure of. The best count wins if it beats reading the blob as one digit.
        """
        typical = seg.digit_height or max((p.box.h for p in pieces), default=0)
        widths = sorted(p.box.w for p in pieces)
        usual = widths[len(widths) // 2]
        # Worth trying: a blob clearly wider than tall and wider than a usual digit (the page's
        # median piece, but on a page of touching digits most pieces are blobs, and a digit is rarely
        # wider than three quarters of its height), or any blob not much narrower than a digit that
        # the model does not read confidently (two touching 1s read as a 4).
        digit_width = min(usual, 0.75 * typical) if typical else usual
        blobs = [
            i for i, p in enumerate(pieces)
            if p.box.h >= 0.5 * typical
            and ((p.box.w >= 1.25 * p.box.h and p.box.w >= 1.2 * digit_width)
                 or (p.box.w >= self.options.split_min_aspect * p.box.h and probs[i].max() < self.options.split_unsure_below))
        ]
        slices: dict[tuple[int, int, int], _Piece] = {}
        positions: dict[int, list[int]] = {}
        for index in blobs:
            piece = pieces[index]
            height, width = piece.crop.shape
            cuts = cut_positions(piece.crop, piece.box.h)
            if len(cuts) > self.options.split_max_cuts:
                continue
            positions[index] = cuts
            radius = max(2, int(0.15 * piece.box.h))
            inner = cuts[1:-1]
            paths = dict(zip(inner, cut_paths(piece.crop, inner, radius))) if inner else {}
            paths[0], paths[width] = np.zeros(height, np.int64), np.full(height, width, np.int64)
            # A blob about as wide as tall holds two digits at most: only slices from either end.
            pair_only = width < 1.25 * height
            for a_i, a in enumerate(cuts):
                for b in cuts[a_i + 1 :]:
                    if b - a > 1.15 * piece.box.h:
                        break
                    if pair_only and a != 0 and b != width:
                        continue
                    if (a, b) != (0, width) and b - a >= 0.12 * piece.box.h:
                        part = self._slice(piece, paths[a], paths[b])
                        if part is not None:
                            slices[(index, a, b)] = part
        if not slices:
            return pieces, probs
        keys = list(slices)
        slice_probs = dict(zip(keys, self._predict([slices[k].model_input for k in keys])))
        replaced: dict[int, list[tuple[_Piece, np.ndarray]]] = {}
        for index in positions:
            best = self._best_cuts(index, positions[index], slices, slice_probs)
            if best is None:
                continue
            parts = best
            confidences = np.array([p.max() for _, p in parts])
            split = float(np.log(np.maximum(confidences, 1e-6)).sum())
            whole = float(np.log(max(probs[index].max(), 1e-6)))
            # Compare likelihoods (products of confidences), with a prior from the blob's shape:
            # the wider it is, the less a single digit explains it.
            aspect = pieces[index].box.w / max(1, pieces[index].box.h)
            margin = self.options.split_margin - 0.2 * (aspect - 1.0)
            if split < whole + margin or confidences.min() < self.options.split_min_confidence:
                continue
            # One digit cut in two gives overlapping parts (a 6's top stroke above its loop reads as
            # a 5); touching digits stand side by side.
            if aspect < 1.25 and _max_overlap([part.box for part, _ in parts]) > self.options.split_max_overlap:
                continue
            replaced[index] = parts
        if not replaced:
            return pieces, probs
        new_pieces, new_probs = [], []
        for index, piece in enumerate(pieces):
            for part, p in replaced.get(index, [(piece, probs[index])]):
                new_pieces.append(part)
                new_probs.append(p)
        return new_pieces, np.array(new_probs)

    @staticmethod
    def _best_cuts(index, cuts, slices, slice_probs):
        """Most confident way (mean log-probability) to cut the blob into two or more slices."""
        n = len(cuts)
        # best[j][k]: best total log-confidence covering cuts[0]..cuts[j] with k slices.
        best: list[dict[int, tuple[float, list]]] = [dict() for _ in range(n)]
        best[0][0] = (0.0, [])
        for j in range(1, n):
            for i in range(j):
                key = (index, cuts[i], cuts[j])
                if key not in slice_probs:
                    continue
                gain = float(np.log(max(slice_probs[key].max(), 1e-6)))
                for k, (score, path) in best[i].items():
                    if k + 1 not in best[j] or best[j][k + 1][0] < score + gain:
                        best[j][k + 1] = (score + gain, path + [key])
        options = [(score / k, path) for k, (score, path) in best[n - 1].items() if k >= 2]
        if not options:
            return None
        _, path = max(options, key=lambda item: item[0])
        return [(slices[key], slice_probs[key]) for key in path]

    def _slice(self, piece: _Piece, left: np.ndarray, right: np.ndarray) -> _Piece | None:
        """The blob's ink between two cut paths (each a column per row)."""
        columns = np.arange(piece.crop.shape[1])
        between = (columns[None, :] >= left[:, None]) & (columns[None, :] < right[:, None])
        sub = np.where(between, piece.crop, 0).astype(np.uint8)
        ys, xs = np.nonzero(sub)
        if len(ys) == 0 or ys.max() - ys.min() + 1 < 0.4 * piece.box.h:
            return None
        box = Box(piece.box.x + int(xs.min()), piece.box.y + int(ys.min()),
                  int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        return self._piece(sub[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], box)

    def _digits(self, pieces: list[_Piece], probs: np.ndarray, scale: float, width: int, height: int):
        labels = self.classifier.metadata.labels
        digits = []
        for piece, p in zip(pieces, probs):
            best = int(np.argmax(p))
            confidence = float(p[best])
            uncertain = confidence < self.options.min_confidence
            if uncertain and self.options.drop_uncertain:
                continue
            box = _clip(piece.box.scaled(1.0 / scale), width, height)
            digits.append(Digit(digit=int(labels[best]), confidence=confidence, box=box, uncertain=uncertain,
                                probabilities=tuple(float(v) for v in p)))
        return digits


def build_recognizer(model_path=None, backend: str | None = None, threads: int = 1,
                     options: RecognizeOptions = RecognizeOptions()) -> Recognizer:
    """A recogniser from picklable settings (worker processes build their own with this)."""
    return Recognizer(DigitClassifier(model_path, backend=backend, threads=threads), options)


def _max_overlap(boxes: list[Box]) -> float:
    """Largest horizontal overlap of neighbouring boxes, as a share of the narrower one."""
    return max((min(a.x2, b.x2) - max(a.x, b.x)) / max(1, min(a.w, b.w)) for a, b in zip(boxes, boxes[1:]))


def _clip(box: Box, width: int, height: int) -> Box:
    x, y = max(0, box.x), max(0, box.y)
    return replace(box, x=x, y=y, w=max(1, min(box.x2, width) - x), h=max(1, min(box.y2, height) - y))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


__all__ = ["Recognizer", "RecognizeOptions", "Trace", "Candidate", "build_recognizer"]
