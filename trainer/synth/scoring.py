"""Compare a reading with a page's ground truth: detection, digit and whole-number accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from edge.pipeline.results import Box, Reading

from trainer.synth.pages import Page


def iou(a: Box, b: Box) -> float:
    inter = a.overlap(b)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Found:
    """A digit some reader reported: value, box, and which of its numbers it belongs to."""

    digit: int
    box: Box
    number: int


@dataclass
class Score:
    truth: int = 0  # ground-truth digits
    found: int = 0  # reported digits
    matched: int = 0  # reported digits on a true digit
    correct: int = 0  # ... with the right value
    numbers: int = 0  # ground-truth numbers
    numbers_correct: int = 0  # read whole: every digit right, nothing added, not split or merged

    def add(self, other: "Score") -> "Score":
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def digit_accuracy(self) -> float:
        return self.correct / self.truth if self.truth else (1.0 if not self.found else 0.0)

    @property
    def number_accuracy(self) -> float:
        return self.numbers_correct / self.numbers if self.numbers else 1.0


def found_from_reading(reading: Reading) -> list[Found]:
    found, index = [], 0
    for line in reading.lines:
        for number in line.numbers:
            found.extend(Found(d.digit, d.box, index) for d in number)
            index += 1
    return found


def match(truth: list[Box], found: list[Box], threshold: float = 0.5) -> dict[int, int]:
    """Greedy one-to-one matching by overlap: ground-truth index -> found index."""
    pairs = []
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            overlap = iou(t, f)
            if overlap >= threshold:
                pairs.append((overlap, i, j))
    pairs.sort(reverse=True)
    used_t, used_f, result = set(), set(), {}
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            result[i] = j
            used_t.add(i)
            used_f.add(j)
    return result


def score_page(page: Page, found: list[Found]) -> Score:
    pairs = match([box for _, box in page.digits], [f.box for f in found])
    score = Score(truth=len(page.digits), found=len(found), matched=len(pairs), numbers=len(page.numbers))
    score.correct = sum(found[j].digit == page.digits[i][0] for i, j in pairs.items())
    members: dict[int, int] = {}
    for f in found:
        members[f.number] = members.get(f.number, 0) + 1
    for indices in page.numbers:
        hits = [pairs.get(i) for i in indices]
        if any(h is None for h in hits):
            continue
        groups = {found[j].number for j in hits}
        right = all(found[pairs[i]].digit == page.digits[i][0] for i in indices)
        if right and len(groups) == 1 and members[groups.pop()] == len(indices):
            score.numbers_correct += 1
    return score
