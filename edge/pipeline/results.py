"""Small typed results passed between the pipeline's stages."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in image pixels: top-left corner, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def gap(self, other: "Box") -> int:
        """Horizontal space between the two boxes (negative where their columns overlap)."""
        return max(self.x - other.x2, other.x - self.x2)

    def distance(self, other: "Box") -> float:
        """Straight-line space between the two boxes' nearest points (0 where they touch or overlap)."""
        across = max(self.x - other.x2, other.x - self.x2, 0)
        down = max(self.y - other.y2, other.y - self.y2, 0)
        return math.hypot(across, down)

    def overlap(self, other: "Box") -> int:
        """Area the two boxes share, in pixels."""
        across = min(self.x2, other.x2) - max(self.x, other.x)
        down = min(self.y2, other.y2) - max(self.y, other.y)
        return max(0, across) * max(0, down)

    def union(self, other: "Box") -> "Box":
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.x2, other.x2) - x, max(self.y2, other.y2) - y)

    @staticmethod
    def around(boxes: "Iterable[Box]") -> "Box":
        """The box around one or more boxes."""
        return functools.reduce(Box.union, boxes)

    def scaled(self, factor: float) -> "Box":
        """The same box in an image ``factor`` times the size (rounded outwards)."""
        if factor == 1:
            return self
        x, y = math.floor(self.x * factor), math.floor(self.y * factor)
        return Box(x, y, max(1, math.ceil(self.x2 * factor) - x), max(1, math.ceil(self.y2 * factor) - y))

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Digit:
    digit: int
    confidence: float
    box: Box
    line: int = 0
    # Below --min-confidence: shown as '?' in text, or dropped, as the caller chooses.
    uncertain: bool = False
    # The classifier's probability for every label (the GUI's bar chart); not part of the JSON output.
    probabilities: tuple[float, ...] | None = field(default=None, repr=False, compare=False)
    # The model's probability that this is no digit at all (0 for models without a reject class).
    reject: float = field(default=0.0, compare=False)
    # The string reader's confidence in this digit where it read the same number (0 where it did not).
    agreement: float = field(default=0.0, compare=False)
    # A touching 1's stroke, as the string reader boxed it where the segmentation's box also holds a
    # neighbour's edge: reported in place of ``box`` once the rules that judge by the segmentation's
    # boxes have run (see ``numbers.reread``).
    stroke_box: Box | None = field(default=None, repr=False, compare=False)

    @property
    def char(self) -> str:
        return "?" if self.uncertain else str(self.digit)


@dataclass(frozen=True)
class Line:
    """One line of text: its numbers, each a run of digits, in reading order."""

    numbers: tuple[tuple[Digit, ...], ...]

    @property
    def text(self) -> str:
        return " ".join("".join(d.char for d in number) for number in self.numbers)


@dataclass
class Detections:
    """What the recogniser found in one image, before layout: digits in no particular order, with
    boxes in the image's pixels."""

    width: int
    height: int
    digits: list[Digit] = field(default_factory=list)
    # Candidates the model read as no digit (its reject class won): kept for --debug, never reported.
    rejected: list[Digit] = field(default_factory=list)
    # Stage timings in milliseconds.
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    paper: Any = None  # the sheet found in a photo (edge.pipeline.paper.Paper), or None
    # Comb fields (rows of boxes, one digit each): the digits inside one are one number.
    fields: list[Box] = field(default_factory=list)


@dataclass
class Reading:
    """Everything read from one image."""

    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    # Stage timings in milliseconds (segment, normalise, classify, layout).
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def digits(self) -> list[Digit]:
        return [d for line in self.lines for number in line.numbers for d in number]

    @property
    def numbers(self) -> list[str]:
        return ["".join(d.char for d in number) for line in self.lines for number in line.numbers]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)
