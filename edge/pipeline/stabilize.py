"""Steady readings from a shaky camera: digits tracked across frames, reported once they persist.

Each processed frame's digits are matched to the tracks of earlier frames by box overlap, after
moving the tracks by the frame's overall shift (the median motion of the page, so a shaking camera
does not break the tracks). A track is

- reported only once it has been seen in ``min_frames`` frames (a speck of noise seen once never is),
- kept for ``hold_frames`` frames in which it is not found (one blurred frame does not blank it),
- given the value with the most votes over recent frames, each vote weighted by its confidence and
  fading by ``memory`` per frame (one misread frame does not flip a digit), and
- drawn at a box that follows the page's shift at once but smooths the segmentation's own jitter.

The core is pure: ``step(state, digits, options) -> state``; ``Stabilizer`` keeps the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from edge.pipeline.results import Box, Digit

Boxf = tuple[float, float, float, float]  # x, y, w, h in pixels, unrounded
# Votes are kept per digit value, whatever else the model's outputs hold (a reject class).
DIGIT_VALUES = 10


@dataclass(frozen=True)
class StabilizeOptions:
    # Frames a digit must be seen in before it is reported.
    min_frames: int = 3
    # Frames a reported digit survives without being seen.
    hold_frames: int = 2
    # Weight of the newest box against the track's (1: no smoothing).
    box_smoothing: float = 0.5
    # How much of the past votes for a digit's value carries over per frame (0: newest frame only).
    memory: float = 0.7
    # Overlap (intersection over union) a detection needs to continue a track.
    min_overlap: float = 0.3


@dataclass(frozen=True)
class Track:
    id: int
    box: Boxf
    votes: tuple[float, ...]  # confidence-weighted, fading votes per digit value 0-9
    weight: float  # the same fading sum of observations, to turn votes into a confidence
    seen: int = 1  # frames the track was found in
    missed: int = 0  # frames since it was last found
    reported: bool = False  # has reached min_frames (then stays reported until dropped)

    @property
    def digit(self) -> int:
        return max(range(len(self.votes)), key=self.votes.__getitem__)

    @property
    def confidence(self) -> float:
        return min(1.0, max(self.votes) / self.weight) if self.weight > 0 else 0.0


@dataclass(frozen=True)
class TrackerState:
    tracks: tuple[Track, ...] = ()
    next_id: int = 0
    shift: tuple[float, float] = (0.0, 0.0)  # the page's motion estimated in the last step


def _as_boxf(box: Box) -> Boxf:
    return (float(box.x), float(box.y), float(box.w), float(box.h))


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4): (n, m)."""
    a_x2, b_x2 = (a[:, 0] + a[:, 2])[:, None], (b[:, 0] + b[:, 2])[None, :]
    a_y2, b_y2 = (a[:, 1] + a[:, 3])[:, None], (b[:, 1] + b[:, 3])[None, :]
    ix = np.minimum(a_x2, b_x2) - np.maximum(a[:, 0, None], b[None, :, 0])
    iy = np.minimum(a_y2, b_y2) - np.maximum(a[:, 1, None], b[None, :, 1])
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def estimate_shift(previous: Sequence[Boxf], current: Sequence[Boxf]) -> tuple[float, float]:
    """How far the page moved between two frames: the offset that lines up the most box centres.

    Candidate offsets are the ones between each current box and the previous boxes near it (within a
    digit height); each is scored by how many current boxes then land on a previous one (within a
    quarter of a digit height), and the winner is refined as the median offset of those that agree.
    Ties go to the smaller motion. It takes two boxes that agree: one digit alone cannot tell the page's
    motion from its own jitter. Capped at a few dozen boxes, so a full page stays cheap.
    """
    if not previous or not current:
        return (0.0, 0.0)
    prev = _centres(previous, 32)
    cur = _centres(current, 32)
    size = _median([b[3] for b in current])
    if size <= 0:
        return (0.0, 0.0)
    offsets = cur[:, None, :] - prev[None, :, :]  # (n, m, 2)
    near = np.einsum("nmk,nmk->nm", offsets, offsets) < size * size
    if not near.any():
        return (0.0, 0.0)
    candidates = offsets[near]
    if len(candidates) > 64:
        candidates = candidates[np.argsort(np.einsum("kd,kd->k", candidates, candidates))[:64]]
    # residual[k, i, j]: where current box i lands relative to previous box j under candidate k.
    residual = offsets[None, :, :, :] - candidates[:, None, None, :]
    squared = np.einsum("knmd,knmd->knm", residual, residual)
    closest = squared.min(axis=2)  # (k, n)
    tolerance = (0.25 * size) ** 2
    support = (closest < tolerance).sum(axis=1)
    motion = np.einsum("kd,kd->k", candidates, candidates)
    best = int(np.lexsort((motion, -support))[0])
    if support[best] < 2:
        return (0.0, 0.0)
    agree = closest[best] < tolerance
    # Each agreeing box's offset to its nearest previous box under the winning shift.
    j = squared[best].argmin(axis=1)
    chosen = offsets[np.arange(len(cur)), j][agree]
    return (_median(chosen[:, 0].tolist()), _median(chosen[:, 1].tolist()))


def _median(values: Sequence[float]) -> float:
    """Median of a short list (numpy's costs more than the sort, at this size)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)


def _centres(boxes: Sequence[Boxf], limit: int) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if len(array) > limit:  # evenly spaced subset: the page moves as a whole
        array = array[np.linspace(0, len(array) - 1, limit).astype(int)]
    return array[:, :2] + array[:, 2:] / 2


def _match(predicted: Sequence[Boxf], detected: Sequence[Boxf], min_overlap: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, best overlaps first (digits rarely overlap, so greedy is exact enough)."""
    if not predicted or not detected:
        return []
    overlap = _iou_matrix(np.asarray(predicted, np.float64), np.asarray(detected, np.float64))
    t_idx, d_idx = np.nonzero(overlap >= min_overlap)
    order = np.argsort(-overlap[t_idx, d_idx], kind="stable")
    used_t: set[int] = set()
    used_d: set[int] = set()
    matches = []
    for t, d in zip(t_idx[order].tolist(), d_idx[order].tolist()):
        if t not in used_t and d not in used_d:
            used_t.add(t)
            used_d.add(d)
            matches.append((t, d))
    return matches


def _vote(digit: Digit) -> list[float]:
    votes = [0.0] * DIGIT_VALUES
    votes[digit.digit] = digit.confidence
    return votes


def step(state: TrackerState, digits: Sequence[Digit], options: StabilizeOptions = StabilizeOptions()) -> TrackerState:
    """The tracks after one more frame's digits (pure: returns a new state)."""
    detected = [_as_boxf(d.box) for d in digits]
    dx, dy = estimate_shift([t.box for t in state.tracks], detected)
    predicted = [(t.box[0] + dx, t.box[1] + dy, t.box[2], t.box[3]) for t in state.tracks]
    matches = dict(_match(predicted, detected, options.min_overlap))
    a = options.box_smoothing
    tracks: list[Track] = []
    for t_index, track in enumerate(state.tracks):
        p = predicted[t_index]
        d_index = matches.get(t_index)
        if d_index is None:
            if track.missed + 1 <= options.hold_frames:
                tracks.append(replace(track, box=p, missed=track.missed + 1))
            continue
        b = detected[d_index]
        box = tuple((1 - a) * pv + a * bv for pv, bv in zip(p, b))
        memory = options.memory
        votes = tuple(v * memory + n for v, n in zip(track.votes, _vote(digits[d_index])))
        seen = track.seen + 1
        tracks.append(replace(
            track, box=box, votes=votes, weight=track.weight * options.memory + 1.0,
            seen=seen, missed=0, reported=track.reported or seen >= options.min_frames,
        ))
    next_id = state.next_id
    matched = set(matches.values())
    for d_index, digit in enumerate(digits):
        if d_index not in matched:
            tracks.append(Track(id=next_id, box=detected[d_index], votes=tuple(_vote(digit)), weight=1.0,
                                reported=options.min_frames <= 1))
            next_id += 1
    return TrackerState(tracks=tuple(tracks), next_id=next_id, shift=(dx, dy))


def stable_digits(state: TrackerState, options: StabilizeOptions = StabilizeOptions()) -> list[Digit]:
    """The digits to report: tracks that have persisted, with their voted value and smoothed box."""
    digits = []
    for track in state.tracks:
        if not track.reported:
            continue
        x, y, w, h = track.box
        box = Box(int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h))))
        confidence = track.confidence
        digits.append(Digit(digit=track.digit, confidence=confidence, box=box))
    return digits


@dataclass
class Stabilizer:
    """Feeds each processed frame's digits through ``step`` and returns the digits to report."""

    options: StabilizeOptions = field(default_factory=StabilizeOptions)
    state: TrackerState = field(default_factory=TrackerState)

    def update(self, digits: Sequence[Digit]) -> list[Digit]:
        self.state = step(self.state, digits, self.options)
        return stable_digits(self.state, self.options)
