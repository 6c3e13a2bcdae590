"""From the model's outputs to digits: which output is which digit, which is "not a digit", and how
sure the model is.

Models with a reject class (metadata ``reject_label``) have one more output than digits; a
candidate whose reject output beats every digit is no digit and is dropped from the reading (it
stays visible in ``--debug``). Models without one (format 1) read every candidate as some digit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from edge.pipeline.links import groups
from edge.pipeline.results import Box, Digit
from edge.runtime.metadata import ModelMetadata


@dataclass(frozen=True)
class Classes:
    """How to read one model's output rows."""

    digit_outputs: tuple[int, ...]  # output indices that stand for digits
    digit_values: tuple[int, ...]  # the digit each of those stands for
    reject: int | None = None  # output index of the reject class
    # A candidate is no digit when the reject output beats every digit and reaches this probability;
    # in-between candidates stay, with their low confidence, for --min-confidence to judge.
    reject_min: float = 0.0

    @classmethod
    def of(cls, meta: ModelMetadata, reject_min: float = 0.0) -> "Classes":
        outputs = [i for i, label in enumerate(meta.labels) if i != meta.reject_index]
        return cls(tuple(outputs), tuple(int(meta.labels[i]) for i in outputs), meta.reject_index, reject_min)

    def confidence(self, probs: np.ndarray) -> np.ndarray:
        """Each row's best digit probability (the reject class is not a digit)."""
        if len(probs) == 0:
            return np.zeros(0, np.float32)
        if self.reject is None:
            return probs.max(axis=1)
        return probs[:, list(self.digit_outputs)].max(axis=1)

    def best(self, probs: np.ndarray) -> np.ndarray:
        """Each row's best digit value (the reject class aside)."""
        if len(probs) == 0:
            return np.zeros(0, np.int64)
        columns = list(self.digit_outputs)
        return np.asarray(self.digit_values)[probs[:, columns].argmax(axis=1)]

    def rejected(self, probs: np.ndarray) -> np.ndarray:
        """Rows the reject class wins."""
        if self.reject is None or len(probs) == 0:
            return np.zeros(len(probs), bool)
        no_digit = probs[:, self.reject]
        return (no_digit > self.confidence(probs)) & (no_digit >= self.reject_min)


def to_digits(boxes: list[Box], probs: np.ndarray, classes: Classes, scale: float, width: int,
              height: int, no_digit: np.ndarray | None = None) -> tuple[list[Digit], list[Digit]]:
    """Digits (and rejected candidates) with boxes moved from working pixels (``scale`` = working
    size / image size) into the image's, clipped to it. ``no_digit``: candidates rejected whatever
    the model says (pieces of a paper's edge)."""
    digits: list[Digit] = []
    rejected: list[Digit] = []
    if not boxes:
        return digits, rejected
    columns = np.asarray(classes.digit_outputs)
    best = columns[probs[:, columns].argmax(axis=1)]
    is_rejected = classes.rejected(probs)
    if no_digit is not None:
        is_rejected = is_rejected | no_digit
    for box, p, index, rejected_it in zip(boxes, probs, best.tolist(), is_rejected.tolist()):
        digit = Digit(
            digit=classes.digit_values[classes.digit_outputs.index(index)], confidence=float(p[index]),
            box=_clip(box.scaled(1.0 / scale), width, height), probabilities=tuple(float(v) for v in p),
            reject=float(p[classes.reject]) if classes.reject is not None else 0.0,
        )
        (rejected if rejected_it else digits).append(digit)
    return digits, rejected


def _clip(box: Box, width: int, height: int) -> Box:
    x, y = max(0, box.x), max(0, box.y)
    return replace(box, x=x, y=y, w=max(1, min(box.x2, width) - x), h=max(1, min(box.y2, height) - y))


@dataclass(frozen=True)
class PrintedOptions:
    """Printed text is not handwriting: a digit among printed letters (a form's "1. Amount", an "o"
    read as 0) sits exactly on their baseline, at their size, with single glyphs around it."""

    enabled: bool = True
    # Letters (candidates the model rejected) on the digit's baseline it takes to call it printed.
    neighbours: int = 2
    # ... or letters in its row, each within reach of the next: print runs on, handwriting stops.
    row_letters: int = 3
    # How far apart a row's glyphs may be: this many of the digit's heights, left or right.
    reach: float = 2.5
    # Baseline: bottoms within this share of the digit's height (and at least ``baseline_px``), plus
    # ``slope`` per pixel between them (a photographed form turns a few degrees: tan 6 degrees).
    baseline: float = 0.12
    baseline_px: int = 2
    slope: float = 0.1
    # Size: a letter is between these multiples of the digit's height (x-height to capitals).
    height_range: tuple[float, float] = (0.45, 1.7)
    # A single glyph, not a handwritten word joined up into one blob: at most this wide per height ...
    glyph_aspect: float = 1.5
    # ... unless the digit is small beside the page's handwriting (under this share of the median
    # digit height): small print runs its letters together, and handwriting that small is rare.
    small_print: float = 0.5
    # Small print on a photo is blurred and its baseline wanders: there a glyph centred on the
    # digit's line (within ``small_centre`` of its height) counts, and one such glyph right beside
    # it is enough (a list's "1." before its label).
    small_centre: float = 0.5
    small_neighbours: int = 1
    # Handwriting beside handwritten words is no print: a digit at least ``word_space`` of its
    # height from the nearest letter of its row (a word space of a hand; print keeps its label's
    # digits closer) and at least ``hand_size`` of the page's median digit height (a form's print is
    # smaller than the hand that fills it in) stays, whatever stands further along its row.
    word_space: float = 0.8
    hand_size: float = 0.8
    # A digit other than ``letter_digits`` (those that print's o, O, l and I are read as, surely)
    # read at least ``hand_sure`` surely, at least ``hand_size`` of the page's median digit height,
    # is handwriting whatever stands around it: a letter of print read as 2-9 is read unsurely or is
    # small print (forms 1-200: none of 3,063 print digits), while touching handwritten digits stand
    # on one baseline among rejected blobs of touching digits, as print does (touching pages
    # 200-335: 21 true digits were taken as print, 19 of them such). Touching 200-335: recall 98.73
    # -> 98.95%, numbers 96.29 -> 96.48%, false digits 70 -> 70; forms 1-799 11 digits more, none
    # false; desk photos 1-150 and 30 pages of every other kind the same.
    letter_digits: tuple[int, ...] = (0, 1)
    hand_sure: float = 0.9
    # Rounds of the search, each taking the print found so far as letters (a row rarely needs more
    # than two: its letters read as digits are found in the first).
    rounds: int = 2


def _digit_runs(digits: list[Digit], options: PrintedOptions) -> list[list[Box]]:
    """For each digit, the boxes of the run of digits it stands in: digits on one baseline, each
    closer than a word space to the next. A printed word read as digits is one run with its letters;
    a handwritten number is one run, a word space from the words beside it."""
    boxes = [d.box for d in digits]
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].x)
    # Sorted by left edge, nothing starting a word space of the tallest digit beyond a box links to it.
    reach = options.word_space * max(b.h for b in boxes)

    def links():
        for n, i in enumerate(order):
            a = boxes[i]
            for j in order[n + 1 :]:
                b = boxes[j]
                if b.x - a.x2 >= reach:
                    break
                tall = max(a.h, b.h)
                level = abs(a.y2 - b.y2) <= max(options.baseline_px, options.baseline * tall)
                if level and a.gap(b) < options.word_space * tall:
                    yield i, j

    runs: list[list[Box]] = [[] for _ in digits]
    for members in groups(len(boxes), links()):
        run = [boxes[i] for i in members]
        for i in members:
            runs[i] = run
    return runs


def drop_printed(digits: list[Digit], rejected: list[Digit],
                 options: PrintedOptions = PrintedOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that are handwriting, and those standing in printed text (boxes in one frame)."""
    if not options.enabled or not digits or len(rejected) < options.neighbours:
        return digits, []
    heights = sorted(d.box.h for d in digits)
    typical = heights[len(heights) // 2]
    kept, printed = _drop_printed_once(digits, rejected, typical, options)
    # A printed word's letters read as digits (an "o" as 0) break its row for the letters after
    # them; once found printed they link it, and the next round finds those (an "m" cut into 1s).
    for _ in range(options.rounds - 1):
        if not printed or not kept:
            break
        kept, more = _drop_printed_once(kept, rejected + printed, typical, options)
        if not more:
            break
        printed += more
    return kept, printed


def _drop_printed_once(digits: list[Digit], rejected: list[Digit], typical: int,
                       options: PrintedOptions) -> tuple[list[Digit], list[Digit]]:
    """One round of ``drop_printed``, the page's median digit height given."""
    kept, printed = [], []
    lo, hi = options.height_range
    # The rejected blobs' geometry as arrays: a form has hundreds of them for each digit to look at.
    x, y, w, h = np.array([q.box.as_list() for q in rejected], np.float64).T
    centre_x, centre_y, bottom = x + w / 2, y + h / 2, y + h
    runs = _digit_runs(digits, options)
    for digit, run in zip(digits, runs):
        b = digit.box
        if (digit.digit not in options.letter_digits and digit.confidence >= options.hand_sure
                and b.h >= options.hand_size * typical):
            kept.append(digit)
            continue
        tolerance = max(options.baseline_px, options.baseline * b.h)
        small = b.h < options.small_print * typical
        # The row of text the digit stands in: blobs on its baseline and at its size, each within
        # reach of the digit or of one already in the row. Single glyphs are letters; words printed
        # as one blob link the row, and count as letters in small print, where letters run together.
        # Small print is judged by centres, the rest by baselines.
        if small:
            offset, allowed = np.abs(centre_y - b.cy), options.small_centre * b.h
        else:
            offset, allowed = np.abs(bottom - b.y2), tolerance
        on_row = (offset <= allowed + options.slope * np.abs(centre_x - b.cx)) & (lo * b.h <= h) & (h <= hi * b.h)
        row = [rejected[i].box for i in np.flatnonzero(on_row)]
        if row and b.h >= options.hand_size * typical and min(
                r.gap(q) for r in row for q in run) >= options.word_space * b.h:
            kept.append(digit)
            continue
        reach = options.reach * b.h
        hops: dict[int, int] = {}  # row index -> links from the digit
        frontier = [(b, 0)]
        while frontier:
            last, depth = frontier.pop()
            for index, r in enumerate(row):
                if index not in hops and r.gap(last) <= reach:
                    hops[index] = depth + 1
                    frontier.append((r, depth + 1))
        letters = [depth for index, depth in hops.items() if small or row[index].w <= options.glyph_aspect * row[index].h]
        # Letters right beside the digit make it print; further along the row it takes more of them
        # (a handwritten number's own rejected pieces also line up, but in fewer).
        near = sum(1 for depth in letters if depth == 1)
        if len(letters) >= options.row_letters:
            near = max(near, options.neighbours)
        needed = options.small_neighbours if small else options.neighbours
        (printed if near >= needed else kept).append(digit)
    return kept, printed


@dataclass(frozen=True)
class WordOptions:
    """A letter of a handwritten word (or a signature) that the model takes for a digit: unsure, and
    right beside a blob it rejected (another letter of the word, or the rest of it joined up); or,
    however sure, between two such blobs, or a 1 alone on its line beside one."""

    enabled: bool = True
    # Less sure than this: letters read as digits mostly are (under 0.6 on the forms' tuning seeds),
    # digits of handwritten numbers almost never (1 in 1,400 there; none on the sheets').
    unsure: float = 0.6
    # The rejected blob: on the digit's line (centres within ``line`` of its height), between these
    # multiples of its height, and at most ``reach`` of its heights away (letters of a word touch or
    # nearly; a number's neighbours stand further off).
    line: float = 0.5
    height_range: tuple[float, float] = (0.5, 1.5)
    reach: float = 0.5
    # However sure: a digit with such a blob on each side, each at most ``flanked`` of its heights
    # away, is a letter inside a word (an l between two letters joined up, a signature's capital).
    # Forms 1-80: 3 of 145 false digits (81-120, untuned: none of 77); no true digit on the tuning
    # pages of any kind (forms, touching, sheets, desk photos, sticky notes, card frames).
    flanked: float = 0.3
    # ... and a 1 (one stroke: an l, an I, a capital's stem) with such a blob at most ``one_reach``
    # of its heights away and no digit on its line within ``one_alone`` of its heights: a letter of a
    # word or a signature (a 1 written after a word stands a word's space off; one in a number has
    # digits beside it). Forms 1-80: false digits 121 -> 115, 81-120 (untuned) 74 -> 70, no true
    # digit lost; touching 272-335 (untuned) lost 2 of 6,418; the other kinds read the same.
    one_reach: float = 0.5
    one_alone: float = 2.0
    # ... and a 1 standing on a word, alone on its line as above: the stem of a signature's or a
    # word's capital drawn apart from the rest (the L of "Lena", the T of "Tom"). The word: a rejected
    # blob at least ``stem_word`` of the 1's heights wide and ``stem_thick`` of them tall (a ruled line
    # or an underline is thinner), under the 1's centre; the 1's foot from ``stem_foot[0]`` of its
    # heights above the word's top to ``stem_foot[1]`` of the word's height into it, its top at least
    # ``stem_rise`` of its heights above the word's. (Any digit, or one with digits beside it, takes
    # numbers written just above the next line's words: forms 1-120 lost 20 digits for 3 stems.)
    stem_word: float = 1.0
    stem_thick: float = 0.3
    stem_foot: tuple[float, float] = (0.3, 0.6)
    stem_rise: float = 0.3
    # ... and a 1 alone as above, at most ``one_reach`` of its heights beside a rejected blob at
    # least ``scribble`` times its height that spans at least ``scribble_span`` of its rows: a stroke
    # of a signature (an l, a k's stem) beside the scribble's joined-up body. Such 1s, and 1s beside
    # a letter or on a word, no longer count as the digits beside each other that keep them (two
    # stems of one signature, the l and i of a bold "slip"): forms 1-290 false digits 117 -> 102,
    # none of their true digits lost; touching 208-271, desk photos 1-300 (one false digit fewer)
    # and 30 pages of each other kind tried read the same.
    scribble: float = 1.5
    scribble_span: float = 0.5
    # ... and a 1 alone as above, at least ``tall_one`` times the page's median digit height (of
    # ``page_digits`` or more), with any rejected blob within ``tall_reach`` of its heights beside it
    # sharing ``tall_span`` of the shorter's rows: a signature's capital (or a t's or an l's stroke)
    # drawn tall through the signature line, the small rest of the name beside it, set further off
    # and lower where removing the line broke the name at the stroke. With ``numbers.WORD_PIECES``:
    # forms 1-290 false digits 93 -> 81, 300-399 (untuned) 52 -> 44, no true digit lost; reach 0.5
    # and span 0.5 (as ``one_reach``, ``scribble_span``) -> 0.75 and 0.3: forms 1-290 58 -> 56, and
    # 300-399, touching 208-271, desk photos 1-150, 30 pages of every other kind read the same.
    tall_one: float = 1.4
    tall_reach: float = 0.75
    tall_span: float = 0.3
    page_digits: int = 6
    # However sure, digits run on from a handwritten word's capital: a blob the model rejects (its
    # reject score at least ``capital_reject``), ``capital_height`` times the first digit's height,
    # at least ``capital_width`` of its own height wide (a comb's wall is thinner), on the digit's
    # baseline (within ``capital_base`` of its height) and at most ``capital_gap`` of it before it
    # ("M" + "oss" read 11640); the digits after it within ``capital_run`` of their heights on the
    # same baseline are the word's other letters. Forms 1-799: 9 false digits, no true one (at a gap
    # of 0.5: 13 and one; a number written after a word stands a word's space off).
    capital_reject: float = 0.5
    capital_height: tuple[float, float] = (1.4, 3.5)
    capital_width: float = 0.5
    capital_base: float = 0.25
    capital_gap: float = 0.3
    capital_run: float = 0.3


def _beside(b: Box, other: Box, line: float, height_range: tuple[float, float], reach: float) -> bool:
    """``other`` stands beside ``b`` on its line: centres within ``line`` of ``b``'s height, its height
    within ``height_range`` of ``b``'s, at most ``reach`` of ``b``'s heights apart across."""
    return (abs(other.cy - b.cy) <= line * b.h and height_range[0] * b.h <= other.h <= height_range[1] * b.h
            and other.gap(b) <= reach * b.h)


def drop_in_words(digits: list[Digit], rejected: list[Digit],
                  options: WordOptions = WordOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that are no letter of a word (see ``WordOptions``), and those that are.

    A letter found counts as the word for the letters beside it: "Mill" whose M was rejected and
    whose i, l, l were read unsurely as 1s goes whole (forms 1-120: 3 more letters, no digit)."""
    if not options.enabled or not rejected:
        return digits, []
    kept, letters = [], []
    for digit in digits:
        (letters if _flanked(digit.box, rejected, options) else kept).append(digit)
    kept, unsure = _spread(kept, rejected + letters, options)
    letters += unsure
    # A 1 beside a letter or on a word is one too, unless a digit stands beside it that is no such 1
    # and no letter: a signature's strokes (two stems on one word) do not vouch for each other.
    heights = sorted(d.box.h for d in digits)
    tall = options.tall_one * heights[len(heights) // 2] if len(heights) >= options.page_digits else float("inf")
    ones = {id(d) for d in kept if _by_a_letter(d, rejected, options, tall)}
    lone = [d for d in kept if id(d) in ones and not any(
        id(o) not in ones and o is not d and _beside(d.box, o.box, options.line, options.height_range, options.one_alone)
        for o in kept)]
    if lone:
        kept = [d for d in kept if all(d is not o for o in lone)]
        kept, unsure = _spread(kept, lone, options)
        letters += lone + unsure
    after = _after_capitals(kept, rejected, options)
    if after:
        kept = [d for d in kept if id(d) not in after]
        letters += [d for d in digits if id(d) in after]
    return kept, letters


def _after_capitals(digits: list[Digit], rejected: list[Digit], options: WordOptions) -> set[int]:
    """The ids of digits that run on from a handwritten word's capital (``WordOptions.capital_reject``)."""
    lo, hi = options.capital_height
    capitals = [r.box for r in rejected if r.reject >= options.capital_reject and r.box.w >= options.capital_width * r.box.h]
    if not capitals:
        return set()
    order = sorted(digits, key=lambda d: d.box.x)
    found: set[int] = set()
    for n, digit in enumerate(order):
        b = digit.box
        if id(digit) in found or not any(
                lo * b.h <= c.h <= hi * b.h and abs(c.y2 - b.y2) <= options.capital_base * b.h
                and -options.capital_run * b.h <= b.x - c.x2 <= options.capital_gap * b.h for c in capitals):
            continue
        found.add(id(digit))
        last = b
        for other in order[n + 1 :]:
            o = other.box
            run = options.capital_run * last.h
            if o.x - last.x2 > run:
                break
            if o.x - last.x2 >= -run and abs(o.y2 - last.y2) <= run:
                found.add(id(other))
                last = o
    return found


def _spread(digits: list[Digit], found: list[Digit], options: WordOptions) -> tuple[list[Digit], list[Digit]]:
    """Unsure digits beside the letters ``found``, and beside those, and so on: letters too."""
    kept, letters = digits, []
    while found:
        still, new = [], []
        for digit in kept:
            in_word = digit.confidence < options.unsure and any(
                _beside(digit.box, r.box, options.line, options.height_range, options.reach) for r in found)
            (new if in_word else still).append(digit)
        kept, found = still, new
        letters += new
    return kept, letters


def _by_a_letter(digit: Digit, rejected: list[Digit], options: WordOptions, tall: float) -> bool:
    """A 1 with a letter-sized rejected blob right beside it, a word under it (a capital's stem), a
    scribble beside it, or, if it is ``tall`` or taller, anything rejected beside it."""
    b = digit.box
    return digit.digit == 1 and any(_beside(b, r.box, options.line, options.height_range, options.one_reach)
                                    or _stem_on(b, r.box, options) or _by_scribble(b, r.box, options)
                                    or (b.h >= tall and _level_beside(b, r.box, options, options.tall_reach,
                                                                      options.tall_span))
                                    for r in rejected)


def _level_beside(b: Box, other: Box, options: WordOptions, reach: float | None = None,
                  span: float | None = None) -> bool:
    """``other`` at most ``reach`` (``one_reach``) of ``b``'s heights beside it, sharing ``span``
    (``scribble_span``) of the rows of the shorter of the two."""
    reach = options.one_reach if reach is None else reach
    span = options.scribble_span if span is None else span
    rows = min(b.y2, other.y2) - max(b.y, other.y)
    return rows >= span * min(b.h, other.h) and other.gap(b) <= reach * b.h


def _by_scribble(b: Box, scribble: Box, options: WordOptions) -> bool:
    """``b`` stands right beside (or in) a rejected blob much taller than itself, level with it."""
    return scribble.h >= options.scribble * b.h and _level_beside(b, scribble, options)


def _stem_on(b: Box, word: Box, options: WordOptions) -> bool:
    """``b`` stands on ``word`` as a capital's stem does (see ``WordOptions.stem_word``)."""
    above, into = options.stem_foot
    return (word.w >= options.stem_word * b.h and word.h >= options.stem_thick * b.h and word.x <= b.cx <= word.x2
            and word.y - above * b.h <= b.y2 <= word.y + into * word.h and b.y <= word.y - options.stem_rise * b.h)


def _flanked(b: Box, rejected: list[Digit], options: WordOptions) -> bool:
    """Letter-sized rejected blobs stand right beside ``b`` on its line, one on each side."""
    near = [r.box for r in rejected if _beside(b, r.box, options.line, options.height_range, options.flanked)]
    return any(o.cx < b.cx for o in near) and any(o.cx > b.cx for o in near)


@dataclass(frozen=True)
class MarkerOptions:
    """A printed list's number ("5. Quantity"): a small digit with print right after it, level with
    it. On a photo the label's letters blur into one blob per word, or the numeral is read only by
    the string reader, so ``drop_printed`` (single glyphs on one baseline, before the string reader)
    does not see it."""

    enabled: bool = True
    # Small print: at most this share of the page's median digit height. The few handwritten digits
    # that such a rule took on the tuning pages (beside a rejected run of touching digits or junk)
    # were all the size of the handwriting. 0.6 -> 0.65: a photo's "2." and "3." at 0.61 of the
    # page's digits, forms 400-599 3 false digits fewer; forms 1-399, desk photos 1-150, touching
    # 208-271, 30 pages of every other kind the same.
    small: float = 0.65
    # The print: a rejected blob starting at most ``reach`` digit heights after the digit, at least
    # ``min_width`` of its height wide (a letter or a word, not a sliver), its top from ``top[0]``
    # above (a capital or an ascender may stand taller than the numeral) to ``top[1]`` below the
    # digit's (a word of lowercase letters, blurred apart from its capital: forms 1-120, 0.15 -> 0.35
    # left out 15 more list numbers and no handwriting), its bottom from ``bottom[0]`` above to
    # ``bottom[1]`` below (descenders), in digit heights (on a blurred photo the numeral's box reaches
    # 0.15-0.19 of its height below its label's: forms 1-120, 0.15 -> 0.25 left out 4 more list
    # numbers, forms 121-170 (untuned) 1 more, and no handwriting; every other kind read the same).
    reach: float = 1.2
    min_width: float = 0.6
    top: tuple[float, float] = (0.4, 0.35)
    bottom: tuple[float, float] = (0.25, 0.5)


def drop_list_markers(digits: list[Digit], rejected: list[Digit],
                      options: MarkerOptions = MarkerOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that number no printed label, and those that do (boxes in one frame).

    A marker found counts as print for the digits before it: "5. Options" whose "O" was read as a 0
    goes whole, the 0 first (print after it), then the 5 (the 0 after it)."""
    if not options.enabled or not digits or not rejected:
        return digits, []
    heights = sorted(d.box.h for d in digits)
    typical = heights[len(heights) // 2]
    kept, markers = list(digits), []
    found = rejected
    while found:
        x, y, w, h = np.array([q.box.as_list() for q in found], np.float64).T
        still, found = [], []
        for digit in kept:
            b = digit.box
            if b.h > options.small * typical:
                still.append(digit)
                continue
            gap, top, bottom = (x - b.x2) / b.h, (y - b.y) / b.h, (y + h - b.y2) / b.h
            after = (gap >= 0) & (gap <= options.reach) & (w >= options.min_width * b.h) \
                & (-options.top[0] <= top) & (top <= options.top[1]) \
                & (-options.bottom[0] <= bottom) & (bottom <= options.bottom[1])
            (found if after.any() else still).append(digit)
        kept = still
        markers += found
    return kept, markers


@dataclass(frozen=True)
class LoneOptions:
    """A mark standing alone among print that the model is unsure of: a letter of a label or of a
    handwritten word left alone by the rest of the reading, a tick's stroke, a box's corner. On a
    sheet of handwriting an unsure digit standing alone is mostly a real one, badly written; among a
    form's print it mostly is not. Forms 1-80: 23 of 195 false digits go, and 1 of 2,914 true ones;
    81-120 (untuned): 7 of 85, and 1 of 1,453; desk photos 100-139: 2 of 18, none true; every other
    kind's tuning pages read as before."""

    enabled: bool = True
    # Less sure than this (as ``WordOptions.unsure``).
    unsure: float = 0.6
    # Alone: no other candidate, digit or not, on its line (centres within ``line`` of its height),
    # between these multiples of its height, within ``reach`` of its heights.
    line: float = 0.5
    height_range: tuple[float, float] = (0.5, 1.5)
    reach: float = 1.0
    # Among print: at least ``company`` rejected candidates with centres within ``around`` of its
    # heights across and down. Unsure lone digits on the sheets' tuning seeds have at most one
    # rejected candidate on the whole page; taking them there cost recall on every kind.
    company: int = 2
    around: float = 5.0


def drop_lone_unsure(digits: list[Digit], rejected: list[Digit],
                     options: LoneOptions = LoneOptions()) -> tuple[list[Digit], list[Digit]]:
    """The digits that are sure, have company on their line or stand away from print, and the unsure
    ones standing alone among print (boxes in one frame)."""
    if not options.enabled or not digits or len(rejected) < options.company:
        return digits, []
    others = digits + rejected
    centres = np.array([(r.box.cx, r.box.cy) for r in rejected], np.float64)
    kept, lone = [], []
    for digit in digits:
        b = digit.box
        among_print = digit.confidence < options.unsure and int(
            (np.abs(centres - (b.cx, b.cy)).max(axis=1) <= options.around * b.h).sum()) >= options.company
        alone = among_print and not any(
            o is not digit and _beside(b, o.box, options.line, options.height_range, options.reach) for o in others)
        (lone if alone else kept).append(digit)
    return kept, lone
