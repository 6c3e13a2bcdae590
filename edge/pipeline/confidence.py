"""How sure a reported digit is: the classifier's confidence, and what its context says.

A reported digit is right when it is the digit *and* its box is the digit's (a box off its digit is a
miss and a false digit at once); the classifier sees only its crop and is as sure of either. So a
digit's reported confidence is at most a score of cues from its context, each a logistic model fitted
on generated tuning pages with ``python -m benchmarks.calibrate`` (never on the benchmark's seeds):

- a digit in a number of several (*member score*): against its number's other digits, a box much
  shorter or taller than theirs (a 5 without its bar, a 1 boxed over half its stroke), one that
  overlaps a neighbour's or is pressed against it (touching digits cut in the wrong place), one with
  a rejected piece of the number's height right beside it (a name, or bold print, read in part);
- a mark that makes a number by itself (*lone score*), where junk hides: a comb box's wall, a tick, a
  sliver of a paper's edge, a signature's capital, which the classifier reads as surely as digits:
  whether it stands alone on its line, its height against the page's handwriting, its shape,
  whether it touches something the model rejected.

A score only ever lowers a confidence, and asked for sure digits a user loses junk and misplaced boxes
first. A lone mark scored under ``DROP_BELOW`` is left out even at the default ``--min-confidence 0``;
a member is only ever marked, never left out (its number would change).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, fields, replace

import numpy as np

from edge.pipeline.results import Box, Digit, Line

# A rejected candidate this close (in the mark's heights) stands beside it: a comb box's wall beside
# the box or label it closes, a tick in its box, a stroke of the signature it belongs to. A real lone
# digit keeps about a word's gap from its label (0.5-1.2 heights on the tuning forms).
BESIDE_REACH = 0.4
# ... and for a digit of a number, only a rejected candidate at least this share of its number's
# median height: a piece of the handwritten word or name a number was read in, or of bold print
# (tuning forms 1-399 fitted, 400-799 checked: false digits removed at 0.5 53.1 -> 59.3%); a
# printed label beside a number is smaller than the hand, and counting it put a true digit beside
# its label under 0.5 (form 345) for 1.2 points more.
BESIDE_TALL = 0.75
# A lone mark is judged in context only on a reading of at least this many numbers: with fewer there
# are no lines or handwriting to judge it against (a sticky note's one big 1 stands alone by design).
CONTEXT_NUMBERS = 4
# A lone mark scored below this is left out altogether, whatever --min-confidence asks: the context
# says no digit so plainly that reporting it only invents one. Tuning forms 1-799: 17 false marks below
# it and no true digit (the first true one at 0.03-0.05; 0 of about 5,500 lone true marks on all the
# fitting and checking pages).
DROP_BELOW = 0.02
# The classifier's probabilities are clipped this far from 0 and 1 before taking log-odds, so that
# one saturated output cannot decide a score.
PROB_CLIP = 1e-4


class _Weights:
    """Weights of a logistic score, one per cue, in the order of the dataclass's fields."""

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], np.float64)


@dataclass(frozen=True)
class LoneWeights(_Weights):
    """A lone mark's score: sigmoid(bias + sum(weight * cue)). One weight per cue of ``lone_cues``."""

    bias: float
    model: float  # the classifier's log-odds for the digit it read
    margin: float  # its top probability less its second (the reject class included)
    reject: float  # its probability of the reject class
    one: float  # 1 where the mark is read as a 1 (walls, edges and strokes are)
    alone: float  # 1 where its number is the only one on its line
    off_height: float  # |log(its height / the median height of the page's digits)|
    aspect: float  # log(width / height)
    beside: float  # 1 where a rejected candidate lies within BESIDE_REACH of it


# Fitted by ``python -m benchmarks.calibrate`` (see benchmarks/calibration.json for the pages, the
# fit's settings and what it removes and keeps on held-out tuning pages).
LONE = LoneWeights(bias=2.78, model=0.795, margin=2.143, reject=-0.885, one=-2.249, alone=-3.189, off_height=-4.218,
                   aspect=2.208, beside=-3.562)


@dataclass(frozen=True)
class MemberWeights(_Weights):
    """A digit's score in its number of several: sigmoid(bias + sum(weight * cue)), in ``member_cues``' order."""

    bias: float
    model: float  # the classifier's log-odds for the digit it read (the string reader's, for its digits)
    margin: float  # its top probability less its second
    one: float  # 1 where it is read as a 1
    aspect: float  # log(width / height)
    off_height: float  # |log(its height / the median height of its number's digits)|
    overlap: float  # the largest share of its width a neighbour's box in the number covers
    gap: float  # the space to its nearest neighbour in the number, in the number's median heights
    beside: float  # 1 where a rejected candidate BESIDE_TALL of that height or more lies within BESIDE_REACH


# Fitted by ``python -m benchmarks.calibrate`` with LONE (see there).
MEMBER = MemberWeights(bias=-0.22, model=0.602, margin=2.556, one=-1.708, aspect=0.705, off_height=-15.266,
                       overlap=-1.638, gap=5.928, beside=-0.985)


@dataclass(frozen=True)
class Context:
    """The weights that judge a reading's digits in their context (``calibrate``)."""

    lone: LoneWeights = LONE
    member: MemberWeights = MEMBER


CONTEXT = Context()


def _model_cues(digit: Digit) -> tuple[float, float]:
    """The classifier's log-odds for the digit it read, and its margin over the runner-up."""
    confidence = min(max(digit.confidence, PROB_CLIP), 1.0 - PROB_CLIP)
    probs = sorted(digit.probabilities or (digit.confidence, 0.0), reverse=True)
    return math.log(confidence / (1.0 - confidence)), probs[0] - probs[1]


def _beside(digits: list[Digit], rejected: list[Box], least_height: float | np.ndarray = 0.0) -> np.ndarray:
    """For each digit, whether a rejected candidate at least ``least_height`` tall (one for all, or
    one per digit) lies within ``BESIDE_REACH`` of the digit's height: the straight-line space
    between their boxes, as ``Box.distance`` measures it. All pairs in one array."""
    if not rejected or not digits:
        return np.zeros(len(digits), bool)
    x, y, x2, y2 = np.array([(d.box.x, d.box.y, d.box.x2, d.box.y2) for d in digits], np.float64).T
    rx, ry, rx2, ry2 = np.array([(r.x, r.y, r.x2, r.y2) for r in rejected], np.float64).T
    across = np.maximum(np.maximum(x[:, None] - rx2[None], rx[None] - x2[:, None]), 0.0)
    down = np.maximum(np.maximum(y[:, None] - ry2[None], ry[None] - y2[:, None]), 0.0)
    tall = (ry2 - ry)[None] >= np.reshape(least_height, (-1, 1))
    return (tall & (np.hypot(across, down) < BESIDE_REACH * (y2 - y)[:, None])).any(axis=1)


def lone_cues(digit: Digit, alone: bool, page_height: float, beside: bool) -> np.ndarray:
    """The cues of a mark that makes a number by itself, in ``LoneWeights``' order (bias first, as 1);
    ``beside``: a rejected candidate lies within ``BESIDE_REACH`` of it (``_beside``)."""
    box = digit.box
    return np.array([
        1.0,
        *_model_cues(digit),
        digit.reject,
        float(digit.digit == 1),
        float(alone),
        abs(math.log(box.h / page_height)),
        math.log(box.w / box.h),
        float(beside),
    ])


def member_cues(numbers: list[tuple[Digit, ...]], rejected: list[Box]) -> np.ndarray:
    """The cues of every digit of ``numbers`` (each of two digits or more), one row per digit in
    order, in ``MemberWeights``' order (bias first, as 1); ``rejected``: the boxes of the candidates
    the reading left out. One array for the whole reading: a sheet has dozens of numbers, and
    scoring them one by one cost more than laying the sheet out."""
    digits = [d for number in numbers for d in number]
    if not digits:
        return np.zeros((0, len(fields(MemberWeights))))
    x, x2, w, h = np.array([(d.box.x, d.box.x2, d.box.w, d.box.h) for d in digits], np.float64).T
    sizes = [len(number) for number in numbers]
    height = np.repeat([statistics.median(d.box.h for d in number) for number in numbers], sizes)
    # Each two digits side by side: the space between them and the columns they share, none across
    # the end of a number; a digit's are those with the neighbour before it or after it.
    together = np.ones(len(digits) - 1, bool)  # the two are of one number
    together[np.cumsum(sizes[:-1], dtype=np.int64) - 1] = False
    space = np.where(together, np.maximum(x[1:] - x2[:-1], x[:-1] - x2[1:]), np.inf)
    shared = np.where(together, np.clip(np.minimum(x2[1:], x2[:-1]) - np.maximum(x[1:], x[:-1]), 0.0, None), 0.0)
    gap = np.minimum(np.append(np.inf, space), np.append(space, np.inf))
    cover = np.maximum(np.append(0.0, shared), np.append(shared, 0.0))
    beside = _beside(digits, rejected, BESIDE_TALL * height)
    return np.column_stack([
        np.ones(len(digits)),
        np.array([_model_cues(d) for d in digits]),
        [float(d.digit == 1) for d in digits],
        np.log(w / h),
        np.abs(np.log(h / height)),
        cover / w,
        gap / height,
        beside.astype(np.float64),
    ])


def context_scores(cues: np.ndarray, weights: LoneWeights | MemberWeights) -> np.ndarray:
    """The chance-like scores (0-1) of rows of cues under ``weights``."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(cues, np.float64) @ weights.as_array())))


def context_score(cues: np.ndarray, weights: LoneWeights | MemberWeights) -> float:
    """The chance-like score (0-1) of one row of cues under ``weights``."""
    return float(context_scores(np.asarray(cues)[None], weights)[0])


def several(lines: list[Line]) -> list[tuple[int, int]]:
    """(line index, number index) of every number of two digits or more, in reading order."""
    return [(li, ni) for li, line in enumerate(lines) for ni, number in enumerate(line.numbers) if len(number) > 1]


def lone_marks(lines: list[Line], rejected: list[Digit]) -> list[tuple[int, int, np.ndarray]]:
    """(line index, number index, cues) for every number of one digit in ``lines`` (none where the
    reading has fewer than ``CONTEXT_NUMBERS`` numbers)."""
    if sum(len(line.numbers) for line in lines) < CONTEXT_NUMBERS:
        return []
    heights = [d.box.h for line in lines for number in line.numbers for d in number]
    page_height = float(np.median(heights))
    marks = [(li, ni) for li, line in enumerate(lines) for ni, number in enumerate(line.numbers) if len(number) == 1]
    marked = [lines[li].numbers[ni][0] for li, ni in marks]
    beside = _beside(marked, [r.box for r in rejected])
    return [(li, ni, lone_cues(digit, len(lines[li].numbers) == 1, page_height, bool(near)))
            for (li, ni), digit, near in zip(marks, marked, beside)]


def calibrate(lines: list[Line], rejected: list[Digit],
              context: Context = CONTEXT) -> tuple[list[Line], list[Digit]]:
    """``lines`` with every digit's confidence lowered to its score in context where that is lower
    (the member score in a number of several, the lone score alone), less the lone marks scored under
    ``DROP_BELOW``; and those marks."""
    numbers = [list(line.numbers) for line in lines]
    members = several(lines)
    boxes = [r.box for r in rejected]
    scores = iter(context_scores(member_cues([lines[li].numbers[ni] for li, ni in members], boxes), context.member))
    for li, ni in members:
        numbers[li][ni] = tuple(replace(d, confidence=float(s)) if s < d.confidence else d
                                for d, s in zip(numbers[li][ni], scores))
    dropped = []
    for li, ni, cues in lone_marks(lines, rejected):
        digit = numbers[li][ni][0]
        score = context_score(cues, context.lone)
        if score < DROP_BELOW:
            dropped.append(replace(digit, confidence=score))
            numbers[li][ni] = ()
        elif score < digit.confidence:
            numbers[li][ni] = (replace(digit, confidence=score),)
    kept = [Line(numbers=tuple(n for n in line if n)) for line in numbers]
    return [line for line in kept if line.numbers], dropped

