"""How sure a reported digit is: the classifier's confidence and, for a mark alone, its context.

A digit in a number of several is vouched for by its neighbours. A mark that makes a number by itself
is where junk hides: a comb box's wall, a tick, a sliver of a paper's edge, a signature's capital. The
classifier sees only the crop and reads many of those surely, so its confidence alone cannot tell
them from real lone digits. A lone mark's reported confidence is therefore at most its *lone score*:
a logistic model of cues the crop does not hold (whether it stands alone on its line, its height
against the page's handwriting, its shape, whether it touches something the model rejected), fitted
on generated tuning pages with ``python -m benchmarks.calibrate`` (never on the benchmark's seeds).

The score only ever lowers a confidence, and asked for sure digits a user loses lone junk first. A
mark it scores under ``DROP_BELOW`` is left out even at the default ``--min-confidence 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from edge.pipeline.results import Box, Digit, Line

# A rejected candidate this close (in the mark's heights) stands beside it: a comb box's wall beside
# the box or label it closes, a tick in its box, a stroke of the signature it belongs to. A real lone
# digit keeps about a word's gap from its label (0.5-1.2 heights on the tuning forms).
BESIDE_REACH = 0.4
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


@dataclass(frozen=True)
class LoneWeights:
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

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], np.float64)


# Fitted by ``python -m benchmarks.calibrate`` (see benchmarks/calibration.json for the pages, the
# fit's settings and what it removes and keeps on held-out tuning pages).
LONE = LoneWeights(bias=2.78, model=0.795, margin=2.143, reject=-0.885, one=-2.249, alone=-3.189, off_height=-4.218,
                   aspect=2.208, beside=-3.562)


def lone_cues(digit: Digit, alone: bool, page_height: float, rejected: list[Box]) -> np.ndarray:
    """The cues of a mark that makes a number by itself, in ``LoneWeights``' order (bias first, as 1)."""
    confidence = min(max(digit.confidence, PROB_CLIP), 1.0 - PROB_CLIP)
    probs = sorted(digit.probabilities or (digit.confidence, 0.0), reverse=True)
    box = digit.box
    beside = any(box.distance(other) < BESIDE_REACH * box.h for other in rejected)
    return np.array([
        1.0,
        math.log(confidence / (1.0 - confidence)),
        probs[0] - probs[1],
        digit.reject,
        float(digit.digit == 1),
        float(alone),
        abs(math.log(box.h / page_height)),
        math.log(box.w / box.h),
        float(beside),
    ])


def lone_score(cues: np.ndarray, weights: LoneWeights = LONE) -> float:
    """The chance-like score (0-1) of the cues under ``weights``."""
    return float(1.0 / (1.0 + math.exp(-float(cues @ weights.as_array()))))


def lone_marks(lines: list[Line], rejected: list[Digit]) -> list[tuple[int, int, np.ndarray]]:
    """(line index, number index, cues) for every number of one digit in ``lines`` (none where the
    reading has fewer than ``CONTEXT_NUMBERS`` numbers)."""
    if sum(len(line.numbers) for line in lines) < CONTEXT_NUMBERS:
        return []
    heights = [d.box.h for line in lines for number in line.numbers for d in number]
    page_height = float(np.median(heights))
    boxes = [r.box for r in rejected]
    found = []
    for li, line in enumerate(lines):
        for ni, number in enumerate(line.numbers):
            if len(number) == 1:
                found.append((li, ni, lone_cues(number[0], len(line.numbers) == 1, page_height, boxes)))
    return found


def calibrate(lines: list[Line], rejected: list[Digit],
              weights: LoneWeights = LONE) -> tuple[list[Line], list[Digit]]:
    """``lines`` with every lone mark's confidence lowered to its lone score where that is lower, less
    the marks scored under ``DROP_BELOW``; and those marks."""
    marks = lone_marks(lines, rejected)
    if not marks:
        return lines, []
    numbers = [list(line.numbers) for line in lines]
    dropped = []
    for li, ni, cues in marks:
        digit = numbers[li][ni][0]
        score = lone_score(cues, weights)
        if score < DROP_BELOW:
            dropped.append(replace(digit, confidence=score))
            numbers[li][ni] = ()
        elif score < digit.confidence:
            numbers[li][ni] = (replace(digit, confidence=score),)
    kept = [Line(numbers=tuple(n for n in line if n)) for line in numbers]
    return [line for line in kept if line.numbers], dropped
