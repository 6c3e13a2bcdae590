"""Reading order: digits into lines (top to bottom), lines into numbers (left to right)."""

from __future__ import annotations

from dataclasses import replace
from statistics import median

from edge.pipeline.results import Digit, Line


def _predict_y(members: list[Digit], x: float) -> float:
    """Where the line's centre is expected at ``x``: a straight fit through its digits (pages tilt).

    The slope is only trusted once the line spans several digit heights; from two neighbouring
    digits it would be noise, and extrapolated across the page it would pull in other lines.
    """
    xs = [d.box.cx for d in members]
    ys = [d.box.cy for d in members]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    if max(xs) - min(xs) < 4 * median(d.box.h for d in members):
        return my
    sxx = sum((v - mx) ** 2 for v in xs)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sxx
    slope = max(-0.12, min(0.12, slope))  # at most ~7 degrees of tilt
    return my + slope * (x - mx)


def group_lines(digits: list[Digit]) -> list[list[Digit]]:
    """Chain digits left to right into lines that may tilt a little; lines sorted top to bottom."""
    lines: list[list[Digit]] = []
    for digit in sorted(digits, key=lambda d: (d.box.x, d.box.y)):
        best, best_offset = None, None
        for members in lines:
            last = members[-1]
            if digit.box.cx <= last.box.cx:
                continue
            height = median(d.box.h for d in members)
            offset = abs(_predict_y(members, digit.box.cx) - digit.box.cy)
            if offset <= 0.5 * max(height, digit.box.h) and (best_offset is None or offset < best_offset):
                best, best_offset = members, offset
        if best is None:
            lines.append([digit])
        else:
            best.append(digit)
    # Compare lines where they are all measured: at the middle of the digits, not at the page edge.
    middle = median(d.box.cx for d in digits) if digits else 0.0
    lines.sort(key=lambda members: _predict_y(members, middle))
    return lines


def split_numbers(members: list[Digit]) -> list[list[Digit]]:
    """A gap wider than a typical digit of the line starts a new number."""
    if not members:
        return []
    typical = max(median(d.box.w for d in members), 0.45 * median(d.box.h for d in members))
    numbers = [[members[0]]]
    for prev, digit in zip(members, members[1:]):
        if digit.box.x - prev.box.x2 > typical:
            numbers.append([digit])
        else:
            numbers[-1].append(digit)
    return numbers


def layout(digits: list[Digit]) -> list[Line]:
    """Lines of numbers in reading order, each digit tagged with its line index."""
    result = []
    for index, members in enumerate(group_lines(digits)):
        tagged = [replace(d, line=index) for d in members]
        result.append(Line(numbers=tuple(tuple(n) for n in split_numbers(tagged))))
    return result
