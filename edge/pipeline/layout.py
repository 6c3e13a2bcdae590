"""Reading order: digits into lines (top to bottom), lines into numbers (left to right).

The last stage before the outputs: it also decides, once, which digits are too uncertain to show.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np

from edge.pipeline.confidence import CONTEXT, Context, calibrate
from edge.pipeline.links import groups
from edge.pipeline.results import Box, Detections, Digit, Line, Reading


def median(values: Iterable[float]) -> float:
    """The median of a few numbers, by statistics.median's rule (that module's import costs every
    start-up 4-10 ms of CPU, and this runs on a page's few dozen boxes)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# A line's slope is trusted once it spans this many digit heights; from two neighbouring digits it
# would be noise, and extrapolated across the page it would pull in other lines.
SLOPE_AFTER_HEIGHTS = 4.0
# At most this slope (about 7 degrees): pages and photos tilt a little, lines do not cross.
MAX_SLOPE = 0.12
# A digit joins a line when its centre is within this share of a digit height of the line's.
LINE_REACH = 0.5
# A gap wider than a typical digit of the line starts a new number; the typical width is at least
# this share of the digits' height (a number of 1s is narrow but its gaps are not).
MIN_TYPICAL_WIDTH = 0.45
# A digit beside a comb field, in none, whose centre is within this many of the field's pitches (the
# distance between its digits' centres) of the field's digit next to it is in the comb's next box: in
# a photo the segmenter often finds only part of a comb's walls, and its field ends short. Forms 1-120
# (tuning): numbers 94.02 -> 94.16%; forms 121-170 and every other kind read the same.
FIELD_PITCH_REACH = 1.2


@dataclass
class _Chain:
    """A line being built, with running sums for its straight fit (so adding a digit is O(log n))."""

    members: list[Digit] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)  # sorted, for the median
    n: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0
    x_min: float = float("inf")
    x_max: float = float("-inf")

    def add(self, digit: Digit) -> None:
        x, y = digit.box.cx, digit.box.cy
        self.members.append(digit)
        bisect.insort(self.heights, digit.box.h)
        self.n += 1
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.sxy += x * y
        self.x_min, self.x_max = min(self.x_min, x), max(self.x_max, x)

    @property
    def height(self) -> float:
        h, n = self.heights, len(self.heights)
        return float(h[n // 2]) if n % 2 else (h[n // 2 - 1] + h[n // 2]) / 2

    def predict_y(self, x: float) -> float:
        """Where the line's centre is expected at ``x``: a straight fit through its digits."""
        mx, my = self.sx / self.n, self.sy / self.n
        if self.x_max - self.x_min < SLOPE_AFTER_HEIGHTS * self.height:
            return my
        slope = (self.sxy - self.n * mx * my) / (self.sxx - self.n * mx * mx)
        return my + max(-MAX_SLOPE, min(MAX_SLOPE, slope)) * (x - mx)


def group_lines(digits: list[Digit]) -> list[list[Digit]]:
    """Chain digits left to right into lines that may tilt a little; lines sorted top to bottom."""
    chains: list[_Chain] = []
    for digit in sorted(digits, key=lambda d: (d.box.x, d.box.y)):
        best, best_offset = None, None
        for chain in chains:
            if digit.box.cx <= chain.members[-1].box.cx:
                continue
            offset = abs(chain.predict_y(digit.box.cx) - digit.box.cy)
            if offset <= LINE_REACH * max(chain.height, digit.box.h) and (best_offset is None or offset < best_offset):
                best, best_offset = chain, offset
        if best is None:
            best = _Chain()
            chains.append(best)
        best.add(digit)
    # Compare lines where they are all measured: at the middle of the digits, not at the page edge.
    middle = median(d.box.cx for d in digits) if digits else 0.0
    chains.sort(key=lambda chain: chain.predict_y(middle))
    return [chain.members for chain in chains]


@dataclass(frozen=True)
class ScaleOptions:
    """Handwriting keeps its size along a line and across a page; what does not is something else."""

    enabled: bool = True
    # Under this share of its line's median digit height: a stroke fragment (a box wall's stub below
    # a comb, a label's full stop, a letter's tail), not a digit; digits in one line vary far less.
    small_in_line: float = 0.5
    # Under this share of the page's median digit height: a printed label's letter, a dot on a line
    # of its own, a stub of a removed line (handwriting on one page varies by less than 2x on the
    # tuning pages). Against 0.4, with the check made again on the string reader's digits: forms
    # 1-80 false digits 142 -> 121, 81-120 (untuned) 77 -> 74, touching 208-239 55 -> 46, broken
    # sheets 3 -> 2; no true digit lost on any kind's tuning pages ...
    small_on_page: float = 0.5
    # ... and over this multiple: a signature or a scribble;
    large_on_page: float = 2.0
    # both judged only when the page has this many digits, so that its median means something.
    page_digits: int = 6
    # A 1 is one straight stroke, and what else is (a box's wall, a signature's stroke) is read as
    # one. A 1 at least ``tall_one_in_number`` times as tall as the median of the other digits of its
    # number (of two or more): a wall standing among the digits of a comb, or a stroke through them
    # (handwritten 1s on the tuning pages: at most 1.32 of their number's digits); ...
    tall_one_in_number: float = 1.4
    # ... and a number of 1s alone, each at least ``tall_ones_on_page`` times the page's median digit
    # height: a signature's or a name's strokes drawn through their line (handwritten ones on the
    # tuning pages: at most 1.58). Judged last, on what the string reader left. Both rules, tuning
    # pages: false digits on forms 1-290 49 -> 46, 300-399 29 -> 27, 400-599 51 -> 44, desk photos
    # 1-150 9 -> 8, touching 272-335 37 -> 36; no true digit lost there, on touching 208-271 or on 30
    # pages of every other kind.
    tall_ones_on_page: float = 1.65


def drop_out_of_scale(digits: list[Digit], options: ScaleOptions = ScaleOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits at their line's and page's scale, and those far off it."""
    if not options.enabled or len(digits) < 2:
        return digits, []
    page = _page_height(digits, options)
    kept, dropped = [], []
    for members in group_lines(digits):
        line = median(d.box.h for d in members)
        for digit in members:
            small = len(members) >= 2 and digit.box.h < options.small_in_line * line
            if page is not None:
                small = small or digit.box.h < options.small_on_page * page
            large = page is not None and digit.box.h > options.large_on_page * page
            (dropped if small or large else kept).append(digit)
    return kept, dropped


def _page_height(digits: list[Digit], options: ScaleOptions) -> float | None:
    """The page's median digit height, or None with under ``page_digits`` digits to judge by."""
    return median(d.box.h for d in digits) if len(digits) >= options.page_digits else None


def drop_tall_ones(digits: list[Digit], options: ScaleOptions = ScaleOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits but 1s far taller than the digits of their number or the page (see
    ``ScaleOptions.tall_one_in_number``), and those 1s."""
    if not options.enabled or len(digits) < 2:
        return digits, []
    page = _page_height(digits, options)
    tall = {id(d) for members in group_lines(digits) for number in split_numbers(members)
            for d in _tall_ones(number, page, options)}
    return [d for d in digits if id(d) not in tall], [d for d in digits if id(d) in tall]


def _tall_ones(number: list[Digit], page: float | None, options: ScaleOptions) -> list[Digit]:
    """The 1s of ``number`` too tall to be handwritten 1s there (see ``ScaleOptions.tall_one_in_number``)."""
    ones = [d for d in number if d.digit == 1]
    if not ones:
        return []
    if len(ones) == len(number):
        return ones if page is not None and all(d.box.h >= options.tall_ones_on_page * page for d in ones) else []
    tall = []
    for one in ones:
        others = [d.box.h for d in number if d is not one]
        if len(others) >= 2 and one.box.h >= options.tall_one_in_number * median(others):
            tall.append(one)
    return tall


@dataclass(frozen=True)
class StackOptions:
    """A straight edge that the ink detector broke into pieces (a sheet's edge against the desk where
    the sheet was not found, a table's rule under uneven light) is a column of thin strokes, one just
    below the next and in line; the 1s of handwriting stand on lines of their own, far apart."""

    enabled: bool = True
    # A piece: at most this wide per height (an edge's pieces are 2-12 px wide and 15-60 px tall; a
    # blurred shadow strip's up to 25 px wide and 70 tall: 0.35 -> 0.4 took 5 more of them on forms
    # 1-80 and 3 on forms 81-120, nothing true, and left the sheets' and documents' tuning pages as
    # they were).
    thin_aspect: float = 0.4
    # Pieces of one edge follow each other with at most this many of the taller one's heights between
    # them (the dashes of a broken edge; lines of writing are further apart) ...
    gap: float = 0.6
    # ... and with centres at most this far sideways: a share of their vertical distance (an edge
    # leans under perspective, about 10 degrees at most), plus ``drift_px`` and half the wider piece.
    lean: float = 0.15
    drift_px: int = 3
    # A column of at least ``pieces`` pieces, spanning at least ``span`` typical digit heights, is an
    # edge (on the forms' tuning seeds: 62 false digits, no true one; none at all on the sheets').
    pieces: int = 3
    span: float = 3.0
    # An edge in a shadow or under uneven light may also break into pieces far apart: at least
    # ``line_pieces`` thin pieces whose centres lie within ``line_tolerance`` typical digit heights
    # (and ``line_px``) of one straight line, leaning at most ``lean``, over at least ``line_span``
    # typical digit heights. A column of handwritten 1s wanders more than that.
    line_pieces: int = 4
    line_tolerance: float = 0.06
    line_px: float = 3.0
    line_span: float = 5.0
    # ... each standing alone: no other digit within this many typical digit heights on its line.
    alone: float = 1.0


def drop_stacked(digits: list[Digit], rejected: list[Digit],
                 options: StackOptions = StackOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that are not pieces of a broken straight edge, and those that are (rejected blobs
    count as pieces too: the edge's other pieces are often no digit)."""
    if not options.enabled or not digits:
        return digits, []
    thin = sorted((d for d in [*digits, *rejected] if d.box.w <= options.thin_aspect * d.box.h),
                  key=lambda d: d.box.y)
    if len(thin) < options.pieces:
        return digits, []
    reach = options.gap * max(d.box.h for d in thin)  # sorted by top: nothing further down links

    def links():
        for i, a in enumerate(thin):
            for j in range(i + 1, len(thin)):
                b = thin[j]
                if b.box.y - a.box.y2 > reach:
                    break
                if b.box.y - a.box.y2 > options.gap * max(a.box.h, b.box.h):
                    continue
                sideways = abs(b.box.cx - a.box.cx)
                if sideways <= options.lean * abs(b.box.cy - a.box.cy) + options.drift_px + 0.5 * max(a.box.w, b.box.w):
                    yield i, j

    columns = [[thin[i] for i in members] for members in groups(len(thin), links())]
    typical = median(d.box.h for d in digits)
    edge: set[int] = set()
    for column in columns:
        top, bottom = min(d.box.y for d in column), max(d.box.y2 for d in column)
        if len(column) >= options.pieces and bottom - top >= options.span * typical:
            edge.update(id(d) for d in column)
    lined = _on_one_line([d for d in thin if id(d) not in edge], typical, options)
    if lined:  # ... of pieces standing alone: a column of numbers that start with 1 is no edge
        alone = [d for d in thin if id(d) in lined and _alone(d, digits, options.alone * typical)]
        edge |= _on_one_line(alone, typical, options)
    if not edge:
        return digits, []
    return [d for d in digits if id(d) not in edge], [d for d in digits if id(d) in edge]


@dataclass(frozen=True)
class WallOptions:
    """A wall of a comb box left standing, read as a 1: thin, in a comb field, with a digit on each
    side in the field half a box away (or, thinner still, on one side). A 1 written in a box stands a
    whole box from its neighbours."""

    enabled: bool = True
    # Thin: at most this wide per height (walls on forms 1-120: 0.15-0.26; 1s in boxes are mostly
    # wider, being slanted).
    thin_aspect: float = 0.3
    # The neighbours' centres at most this many field heights from the 1's (walls: 0.18-0.39 on
    # forms 1-120, and 0.41 on a photo whose field came out a little tall; a box is about a field's
    # height wide, so a 1 in one stands 0.8-1.1 away; 0.4 took 4 walls, no digit; 0.45 one more wall
    # on forms 1-170, no digit; 0.5 took 2 digits written off their box's middle).
    half_box: float = 0.45
    # ... or on one side only (a wall after a field's last digit, or before its first) for a 1 at most
    # this wide per height: walls 0.10-0.22 on forms 1-799, the 1s written beside a field's digit that
    # this would take 0.26-0.28 (at 0.3: 6 walls and 3 such 1s).
    one_side_aspect: float = 0.23


def drop_walls(digits: list[Digit], fields: list[Box],
               options: WallOptions = WallOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that are no comb wall (see ``WallOptions``), and those that are (boxes and fields
    in one frame)."""
    if not options.enabled or not fields:
        return digits, []
    kept, walls = [], []
    for digit in digits:
        b = digit.box
        field = next((f for f in fields if _inside(b, f)), None)
        wall = False
        if digit.digit == 1 and field is not None and b.w <= options.thin_aspect * b.h:
            reach = options.half_box * field.h
            near = [d.box.cx - b.cx for d in digits
                    if d is not digit and _inside(d.box, field) and abs(d.box.cx - b.cx) <= reach]
            wall = (any(x < 0 for x in near) and any(x > 0 for x in near)) or (
                bool(near) and b.w <= options.one_side_aspect * b.h)
        (walls if wall else kept).append(digit)
    return kept, walls


def _alone(piece: Digit, digits: list[Digit], reach: float) -> bool:
    """No other digit beside ``piece`` on its line within ``reach`` pixels."""
    box = piece.box
    return not any(d is not piece and d.box.gap(box) <= reach and min(d.box.y2, box.y2) - max(d.box.y, box.y) > 0
                   for d in digits)


def _on_one_line(pieces: list[Digit], typical: float, options: StackOptions) -> set[int]:
    """The ids of the pieces that lie, with others, along one long straight near-upright line.

    Each line is ``x = x0 + slope * y``: for every slope in steps small enough that the line's ends
    stray less than the tolerance, the pieces' intercepts ``x0`` are sorted, and a window of twice
    the tolerance holding enough pieces over enough height is a line."""
    if len(pieces) < options.line_pieces:
        return set()
    cx = np.array([d.box.cx for d in pieces], np.float64)
    cy = np.array([d.box.cy for d in pieces], np.float64)
    height = float(np.ptp(cy))
    if height < options.line_span * typical:
        return set()
    tolerance = max(options.line_px, options.line_tolerance * typical)
    slopes = np.arange(-options.lean, options.lean + 1e-9, tolerance / height)
    intercepts = cx[None, :] - slopes[:, None] * cy[None, :]
    order = np.argsort(intercepts, axis=1)
    ranked = np.take_along_axis(intercepts, order, axis=1)
    found: set[int] = set()
    for row in range(len(slopes)):
        ends = np.searchsorted(ranked[row], ranked[row] + 2 * tolerance, side="right")
        for start in np.flatnonzero(ends - np.arange(len(pieces)) >= options.line_pieces):
            members = order[row, start : ends[start]]
            if np.ptp(cy[members]) >= options.line_span * typical:
                found.update(id(pieces[i]) for i in members)
    return found


def split_numbers(members: list[Digit], fields: list[Box] = ()) -> list[list[Digit]]:
    """A gap wider than a typical digit of the line starts a new number; the digits in one comb field
    (a row of boxes) are one number, whatever the gaps, and end where the field does when another
    field follows (a date's DD MM YYYY). A digit beside a field but in none is judged by its gap, or
    joins the field a pitch of its boxes on (``FIELD_PITCH_REACH``): in a photo, the segmenter often
    finds only part of a comb's walls, and so part of the comb."""
    if not members:
        return []
    typical = max(median(d.box.w for d in members), MIN_TYPICAL_WIDTH * median(d.box.h for d in members))
    where = [_field_of(d, fields) for d in members]
    pitch = _field_pitches(members, where)
    numbers = [[members[0]]]
    for (prev, prev_field), (digit, field_index) in zip(zip(members, where), zip(members[1:], where[1:])):
        if field_index != prev_field and field_index is not None and prev_field is not None:
            together = False
        elif field_index is not None and field_index == prev_field:
            together = True
        else:
            together = digit.box.x - prev.box.x2 <= typical
            field = field_index if field_index is not None else prev_field
            if field in pitch:  # the comb's next box, whose wall was not found
                together = together or digit.box.cx - prev.box.cx <= FIELD_PITCH_REACH * pitch[field]
        if together:
            numbers[-1].append(digit)
        else:
            numbers.append([digit])
    return numbers


def _field_pitches(members: list[Digit], where: list[int | None]) -> dict[int, float]:
    """Each comb field's pitch: the median distance between the centres of neighbouring digits in it
    (fields holding at least two)."""
    centres: dict[int, list[float]] = {}
    for digit, field_index in zip(members, where):
        if field_index is not None:
            centres.setdefault(field_index, []).append(digit.box.cx)
    return {f: median(np.diff(sorted(xs))) for f, xs in centres.items() if len(xs) >= 2}


def _field_of(digit: Digit, fields: list[Box]) -> int | None:
    return next((index for index, f in enumerate(fields) if _inside(digit.box, f)), None)


def _inside(box: Box, field: Box) -> bool:
    """``box``'s centre lies in ``field``: a digit is in the comb box it is mostly written in."""
    return field.x <= box.cx <= field.x2 and field.y <= box.cy <= field.y2


def layout(digits: list[Digit], fields: list[Box] = ()) -> list[Line]:
    """Lines of numbers in reading order, each digit tagged with its line index."""
    result = []
    for index, members in enumerate(group_lines(digits)):
        tagged = [replace(d, line=index) for d in members]
        result.append(Line(numbers=tuple(tuple(n) for n in split_numbers(tagged, fields))))
    return result


def mark_uncertain(digits: list[Digit], min_confidence: float, drop: bool = False) -> list[Digit]:
    """Digits below ``min_confidence`` marked uncertain ('?' in text), or dropped."""
    if min_confidence <= 0:
        return digits
    if drop:
        return [d for d in digits if d.confidence >= min_confidence]
    return [replace(d, uncertain=True) if d.confidence < min_confidence else d for d in digits]


def arrange(detections: Detections, min_confidence: float = 0.0, drop_uncertain: bool = False,
            context: Context | None = CONTEXT) -> Reading:
    """The reading of one image: its digits laid out, their confidence judged in their context
    (``confidence.calibrate`` with ``context``; None keeps the classifier's), then against ``min_confidence``."""
    lines = layout(detections.digits, detections.fields)
    notes = list(detections.notes)
    dropped: list[Digit] = []
    if context is not None:
        lines, dropped = calibrate(lines, detections.rejected, context)
        if dropped:
            notes.append(f"left out {len(dropped)} lone mark(s) that their context says are no digit")
    if min_confidence > 0 or dropped:  # lay out again: what is left may make other lines
        digits = [d for line in lines for number in line.numbers for d in number]
        lines = layout(mark_uncertain(digits, min_confidence, drop_uncertain), detections.fields)
    return Reading(width=detections.width, height=detections.height, lines=lines,
                   timings=dict(detections.timings), notes=notes)
