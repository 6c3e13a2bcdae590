"""Read each number whole, as a second opinion on the digit-by-digit reading.

Segmentation cuts ink into digits, and the digit classifier reads them one at a time; digits that
touch, overlap or run into a line defeat the cutting. The string reader (``edge.runtime.strings``)
reads a whole number region at once, without cutting. Here every number the classifier found (a
run of digits on a line, grouped as layout groups them) is read again by the string reader, and a
documented rule picks one reading per number:

- the readings agree: the classifier's stands (its boxes are the segmentation's own);
- they disagree: the string reader's wins when it is confident (its least sure digit at least
  ``min_confidence``) and surer than the classifier's least sure digit by ``margin``. More digits
  than the classifier found is the string reader's strength (touching digits), so its reading only
  has to be confident then. Fewer digits wins only when it is that confident and the classifier
  doubts a digit of its own (below ``fewer_doubt``): touching digits cut into too many pieces leave
  slivers read unsurely, while against a number the classifier reads surely, a shorter reading
  more often drops a digit than mends one;
- the string reader reads nothing: the classifier's stands (the reject class already judged junk).

Touching digits that the cutting could not part are often rejected whole by the classifier ("no one
digit"). ``rescue`` reads such blobs whole when they are the size of the page's digits and stand
beside digits of the same line, and takes the reading only when it has two digits or more, each
read surely. Never taught what is no digit, the string reader reads print, words and box walls as
digits just as surely, so blobs among other rejected letters (a word), or around digits already
read (a comb box's frame), are not asked: on the forms' tuning seeds (1-30) that took its readings
from 21 right and 45 wrong to 11 right and 4 wrong, and changed nothing on the sheets' (200-207).
A row of such blobs beside a digit found is read whole, and taken only when the digit classifier
sees the same digits in the reading's boxes: touching digits cut into blobs that each look like a
letter.
A whole number standing apart, with no digit found beside it, is taken only when the digit
classifier sees the same digits in the reading's boxes (``rescue_lone_digits``).

Confidences of both are probabilities of a digit (the classifier's softmax, the string reader's
posterior of a character over its columns), so they are compared as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Callable

from edge.pipeline.layout import group_lines, split_numbers
from edge.pipeline.results import Box, Digit


@dataclass(frozen=True)
class NumberOptions:
    enabled: bool = True
    # Numbers of fewer digits than this are left to the digit classifier (an isolated digit has
    # nothing to touch); a single digit wider than ``wide_aspect`` (width / height) is read again.
    min_digits: int = 2
    wide_aspect: float = 1.0
    # The string reader's reading replaces a different one when its least sure digit reaches
    # ``min_confidence`` and beats the classifier's least sure digit by ``margin`` (same count of
    # digits), or reaches ``min_confidence_count`` alone (more digits). A reading with fewer digits
    # (at least ``min_confidence_count`` sure) replaces one with a digit the classifier reads less
    # surely than ``fewer_doubt``. Tuned for the shipped string reader on every number region of
    # the tuning pages (5,763 from touching 208-271, forms 1-80, desk photos, sticky notes and card
    # frames 100-139, sheets 200-207), the best of 480 settings tried: 197 wrong numbers made right
    # and 24 right ones made wrong, against 177 and 21 with the values tuned for the reader before
    # it (0.8, 0.1, 0.9, 0.9). Touching pages no tuning used (272-399) read as well or better.
    min_confidence: float = 0.7
    margin: float = 0.05
    min_confidence_count: float = 0.9
    fewer_doubt: float = 0.95
    # Blobs the classifier calls no digit are read whole too when they are the size of their line's
    # digits (this share of the typical digit height, low and high; see ``_line_height``) and at
    # least ``rescue_aspect`` as wide as tall: touching digits the cutting could not part, which the
    # reject class then rejects. The string reader's reading is taken when it has two digits or
    # more, each at least ``rescue_min_confidence`` sure (against 0.9: 9 more digits found on the
    # touching tuning pages 208-271, forms 1-80 unchanged; 0.7 let 4 more false digits in there).
    rescue: bool = True
    rescue_height: tuple[float, float] = (0.75, 1.35)
    rescue_aspect: float = 0.75
    rescue_min_confidence: float = 0.8
    # ... and only beside a digit found on the same line (centres within half the typical digit
    # height), at most ``rescue_reach`` typical heights away: touching digits stand among the other
    # digits of their number; print and words that the string reader, never taught what is no digit,
    # reads as digits all too surely, mostly stand apart. Against 2: 26 more digits found and 1 more
    # false on touching pages 208-271, 69 and 12 on 272-399 (no tuning); forms 1-80 no more false
    # digits, sheets and desk photos unchanged; 4 or 6 found only 3 more.
    rescue_reach: float = 3.0
    # ... a digit read at least this surely and no taller than ``letter_height[1]`` typical heights:
    # a capital of a handwritten name, read as a digit half-surely and twice the digits' size, vouched
    # for the rest of the name.
    rescue_sure: float = 0.9
    # ... and not with another rejected blob of letter size (this share of the typical digit height,
    # low and high) on the line within ``letter_reach`` typical heights: words and print are rows of
    # rejected letters, touching digits stand among digits (on the forms' tuning seeds every reading
    # with such a neighbour was wrong; on the sheets' no rescued blob had one). Such a row beside a
    # sure digit (``beside``) is read whole instead, and taken when the digit classifier vouches for
    # the reading as for a lone number (``_vouched``): one number's touching digits cut into two
    # blobs, each like a letter ("91" + "612"). Touching pages 200-380 (tuning): recall 99.01 ->
    # 99.10%, 17 digits found, none lost, false digits 90 -> 90; forms 1-550, desk photos 1-150,
    # broken 1-60 and card frames 2001-2100 page for page the same. Rows with no digit beside them
    # were bold titles ("ORDER FORM" read "180518501814", vouched for by its O's and 8-like R's).
    letter_height: tuple[float, float] = (0.5, 1.5)
    letter_reach: float = 1.0
    # ... nor with a rejected blob up to ``capital_height`` typical heights tall joined to it (at
    # most ``capital_reach`` of them apart): a handwritten word's capital, the rest of the word run
    # together after it ("R" + "oad").
    capital_height: float = 3.0
    capital_reach: float = 0.25
    # A number whose digits the classifier reads less surely than ``word_unsure`` (all of them, or
    # all but one of ``WORD_PIECES`` or more), with a rejected blob of letter size (``letter_height``)
    # on its line at most ``word_gap`` of its height off its end, is a word's last letter cut into
    # pieces (a bold printed m cut 1-7-1 after the rejected "for", which the string reader reads
    # "111", surely): it goes before being read again (``drop_word_ends``). Forms 1-290: false
    # digits 102 -> 93 with all digits unsure (titles' "m" and "E", "Qty"); all but one of three or
    # more, with ``classify.WordOptions.tall_one``: 93 -> 81 on 1-290 and 52 -> 44 on 300-399 (untuned),
    # no true digit lost; touching 208-271 the same. The mean confidence under 0.75 instead lost 3
    # true digits there and 2 on touching pages; any digit under 0.75 that close to a letter going as
    # one (``classify.drop_in_words``) lost 4.
    word_unsure: float = 0.75
    word_gap: float = 0.25
    # A single rejected digit: the reject class wins some true digits that look like a letter (an
    # open 0 like a C, a 2 like a Z, a 7 like a hook; 48 of the 91 digits missed on desk photos 1-300).
    # One of digit size with a sure digit beside it on its line (at most ``rescue_one_gap`` typical
    # heights away: inside a number), read by the string reader as one digit at least
    # ``rescue_one_min`` sure, is that digit; not a 1 (a stroke, a comb box's wall, a stub read with
    # the string reader's margin). Desk photos 1-300 (tuning): recall 99.63 -> 99.74%, numbers
    # 98.13 -> 98.40%, false 34 -> 34; forms 1-120 (tuning): 98.63 -> 98.85%, 94.16 -> 94.80%, false
    # 43 -> 44; untuned: desk photos 601-900 99.59 -> 99.72%, numbers 97.93 -> 98.27%, false 37 -> 37;
    # forms 121-170 98.47 -> 98.78%, numbers 94.12 -> 94.93%, false 23 -> 23; card frames 1-170 99.64 ->
    # 99.88%; sheets 1-8: one digit more. Only sure digits on both sides found a tenth as many; 0.8 or
    # a gap of 1.5 found one or two more on 1-300. A narrow blob (under ``rescue_aspect``) read as two
    # digits, one of them a 1 (a 1 touching its neighbour), each at least this sure, is those two:
    # inside a number, touching pages 208-271 recall 96.88 -> 97.05%, numbers 92.17 -> 92.40%, false
    # 109 -> 109, forms 1-120 the same page by page; and as a number of its own (a lone "14", "16"
    # or "11" beside a sure digit within ``rescue_reach``, as wider blobs): touching 208-271 recall
    # 98.35 -> 98.48%, numbers 95.39 -> 95.57%, false 41 -> 41; 272-335 98.55 -> 98.60%, 95.96 ->
    # 96.01%, false 41 -> 42; forms 1-290, desk photos 1-150 and 30 pages each of sticky notes, card
    # frames, ruled, noisy, broken and hershey the same.
    rescue_one_min: float = 0.9
    rescue_one_gap: float = 1.0
    # A whole number of touching digits standing apart (no sure digit within ``rescue_reach``: a
    # "6860" alone on its line), read as at least this many digits, each ``rescue_min_confidence``
    # sure, and not among letters: the string reader reads handwritten words and names just as
    # surely, so the digit classifier must see the same digit in at least RESCUE_LONE_AGREE of the
    # reading's boxes, RESCUE_LONE_OTHERS of them no 1 (a letter's stroke is a 1 to both). On forms
    # 1-145 (tuning) 113 such readings of words had at most two agreements, all on 1s; touching
    # numbers on 208-335 three to five, on other digits. Touching pages 208-335 (tuning): recall
    # 98.72 -> 98.92%, digits 98.24 -> 98.44%, numbers 96.18 -> 96.32%, false digits 70 -> 70; forms
    # 1-290 and 300-399, touching 200-207, desk photos 1-150, 30 pages each of ruled, noisy, broken,
    # hershey, shadow, sticky notes and card frames read the same.
    rescue_lone_digits: int = 3
    # Fit the digits' boxes to the ink (exact) or take them from the model's columns (half the CPU).
    fit_boxes: bool = True
    # Read a region the string reader is unsure of again with other margins (``StringReader.read``):
    # four readings of a third of the regions; live mode looks once.
    second_looks: bool = True
    # Only numbers with a digit the classifier reads less surely than this are read again (1.01:
    # every number). Live mode, reading dozens of frames a second, asks only about doubtful ones.
    doubt_below: float = 1.01


@dataclass(frozen=True)
class Region:
    """Where a number lies: in the input image's pixels and in the segmentation's working pixels."""

    digits: tuple[Digit, ...]
    box: Box  # input pixels
    working: Box  # segmentation's arrays (origin removed, scaled)


def regions(digits: list[Digit], options: NumberOptions, scale: float, origin: tuple[int, int],
            shape: tuple[int, int]) -> list[Region]:
    """The numbers worth reading again, with their boxes in both frames."""
    found = []
    for line in group_lines(digits):
        for number in split_numbers(line):
            if len(number) < options.min_digits and not any(d.box.w >= options.wide_aspect * d.box.h for d in number):
                continue
            box = Box.around(d.box for d in number)
            working = _working(box, scale, origin, shape)
            if working is not None:
                found.append(Region(tuple(number), box, working))
    return found


def choose(region: Region, text: str, confidences: tuple[float, ...], options: NumberOptions) -> bool:
    """Whether the string reader's reading of a region replaces the classifier's."""
    if not text:
        return False
    classified = "".join(str(d.digit) for d in region.digits)
    if text == classified:
        return False
    surest_doubt = min(confidences)
    if len(text) < len(classified):
        return surest_doubt >= options.min_confidence_count and \
            min(d.confidence for d in region.digits) < options.fewer_doubt
    if len(text) > len(classified):
        return surest_doubt >= options.min_confidence_count
    return surest_doubt >= options.min_confidence and surest_doubt >= min(d.confidence for d in region.digits) + options.margin


def reread(digits: list[Digit], read_region, options: NumberOptions, scale: float, origin: tuple[int, int],
           shape: tuple[int, int], width: int, height: int) -> tuple[list[Digit], int]:
    """``digits`` with the numbers the string reader reads better replaced by its digits, and those of
    the numbers it reads the same holding its confidence in them (``Digit.agreement``); touching 1s
    it boxed by their strokes, where the segmentation's boxes also hold a neighbour's edge, carry
    that box (``Digit.stroke_box``, see ``ONE_SEGMENTED_WIDER``).

    ``read_region(working_box) -> (text, confidences, boxes)``, ``boxes()`` giving the digits' boxes in
    working pixels (made only for readings that are used); returns the digits
    and how many numbers were replaced."""
    if not options.enabled or not digits:
        return digits, 0
    replaced = 0
    out: list[Digit] = []
    kept = {id(d) for d in digits}
    agreed: dict[int, float] = {}  # digit -> the reader's confidence in it, where it read the same
    strokes: dict[int, Box] = {}  # a touching 1 -> its stroke's box, where the reader read the same
    for region in regions(digits, options, scale, origin, shape):
        if min(d.confidence for d in region.digits) >= options.doubt_below:
            continue
        text, confidences, boxes = read_region(region.working)
        if text == "".join(str(d.digit) for d in region.digits):  # the classifier's reading, confirmed
            agreed.update((id(d), float(c)) for d, c in zip(region.digits, confidences))
            if options.fit_boxes and any(d.digit == 1 and _wide_one(d.box) for d in region.digits):
                placed = _placed(text, confidences, boxes(), scale, origin, width, height)
                strokes.update((id(d), p.box) for d, p in zip(region.digits, placed) if _one_reboxed(d.box, p.box))
            continue
        if not choose(region, text, confidences, options):
            continue
        placed = _placed(text, confidences, boxes(), scale, origin, width, height)
        # A digit placed beside the number (its centre in the reader's margin) is a neighbour's edge.
        placed = [d for d in placed if region.box.x <= d.box.cx <= region.box.x2]
        if "".join(str(d.digit) for d in placed) == "".join(str(d.digit) for d in region.digits):
            continue
        replaced += 1
        for d in region.digits:
            kept.discard(id(d))
        out += _segmented_boxes(placed, region.digits, options.fit_boxes)
    # A digit of another number lying mostly inside a digit the string reader placed is the same ink
    # read twice (a comb row that layout split into two numbers, one of them read whole).
    rest = [replace(d, agreement=agreed[id(d)], stroke_box=strokes.get(id(d))) if id(d) in agreed else d
            for d in digits if id(d) in kept and not _read_twice(d, out)]
    return rest + out, replaced


def rescue(rejected: list[Digit], digits: list[Digit], read_region, options: NumberOptions, scale: float,
           origin: tuple[int, int], shape: tuple[int, int], width: int, height: int,
           classify: Callable[[list[Box]], list[int | None]] | None = None
           ) -> tuple[list[Digit], list[Digit], list[Digit]]:
    """Digits the string reader finds in rejected blobs of digit size (see ``NumberOptions.rescue``
    and ``rescue_one_min``: touching digits, and single digits inside a number),
    the blobs it found them in (a row of them read whole: ``letter_height``), and the slivers of those
    blobs that the cutting had read as digits and the digits whose boxes run into them (the whole
    reading replaces them).

    ``classify(boxes)``, when given, reads the ink in each box (the segmentation's working pixels)
    with the digit classifier: a digit, or None where it sees no digit. It vouches for whole
    numbers standing apart from any digit found (``rescue_lone_digits``)."""
    if not options.enabled or not options.rescue or not digits or not rejected:
        return [], [], []
    heights = sorted(d.box.h for d in digits)
    page_typical = heights[len(heights) // 2]
    lo, hi = options.rescue_height
    found: list[Digit] = []
    read: list[Digit] = []
    pieces: list[Digit] = []
    rows_read: list[Digit] = []
    for blob in rejected:
        b = blob.box
        narrow = b.w < options.rescue_aspect * b.h
        typical = _line_height(b, digits, page_typical)
        if not lo * typical <= b.h <= hi * typical:
            continue
        shared = [d for d in digits if b.overlap(d.box) > RESCUE_MAX_SHARED * d.box.w * d.box.h]
        if any(d.box.w >= RESCUE_SLIVER * typical and b.overlap(d.box) > RESCUE_ENCLOSED * d.box.w * d.box.h
               for d in shared):
            continue  # a frame or stroke around digits already read: a comb box's walls
        reach = options.rescue_reach * typical
        tall = options.letter_height[1] * typical
        beside = any(_same_line(d.box, b, typical) and d.box.gap(b) <= reach and d.confidence >= options.rescue_sure
                     and d.box.h <= tall for d in digits)
        if not beside and (classify is None or narrow or shared):
            continue
        if any(other is not blob and _letter_beside(other.box, b, typical, options) for other in rejected):
            # One of a row of things that are no digit: letters of a word, or touching digits cut
            # into blobs that each look like a letter. Beside a digit, the row is read whole, and
            # taken when the digit classifier vouches for the reading.
            if beside and classify is not None and all(blob is not r for r in rows_read):
                row = _row_of_blobs(blob, rejected, typical, options)
                rows_read += row
                new = _read_row(row, digits, read_region, classify, options, scale, origin, shape, width, height)
                if new:
                    found += new
                    read += row
            continue
        if any(other is not blob and tall < other.box.h <= options.capital_height * typical
               and other.box.gap(b) <= options.capital_reach * typical and b.y <= other.box.cy <= b.y2
               for other in rejected):
            continue  # the rest of a word after its capital
        region = _working(b, scale, origin, shape)
        if region is None:
            continue
        text, confidences, boxes = read_region(region)
        boxes = cache(boxes)  # fitted once, for the classifier's look and for the digits placed
        if not beside and not _vouched(text, confidences, boxes, classify, options):
            continue
        placed: list[Digit] = []
        if len(text) > 1:
            # The reader's margin takes in a neighbour's edge, read as a digit beside the blob (a
            # narrow "19" read as "191", the 0 after it in the margin): what it places off the blob
            # is not the blob's, unless on a digit the reading replaces (``shared``), before the
            # blob's digits are counted against its width.
            placed = [d for d in _placed(text, confidences, boxes(), scale, origin, width, height)
                      if any(s.x <= d.box.cx <= s.x2 for s in [b, *(p.box for p in shared)])]
            text, confidences = "".join(str(d.digit) for d in placed), [d.confidence for d in placed]
        if len(text) == 1:
            # One digit only inside a number (few blobs get this far); a blob holding a sliver already
            # read as a digit is that digit's other piece.
            if _in_a_number(b, digits, page_typical, options) and not shared \
                    and b.w <= RESCUE_ONE_WIDTH * typical and text != "1" and confidences[0] >= options.rescue_one_min:
                found.append(Digit(digit=int(text), confidence=float(confidences[0]), box=b))
                read.append(blob)
            continue
        if len(text) < 2 or min(confidences) < options.rescue_min_confidence:
            continue
        if narrow and (len(text) > 2 or "1" not in text or min(confidences) < options.rescue_one_min):
            continue  # a narrow blob holds two digits only when one is a 1
        # Slivers the cutting broke off the blob and read as digits give way to the whole reading; a
        # digit placed on a neighbour's edge that runs into the blob is that neighbour's.
        others = [d for d in digits if all(d is not piece for piece in shared)]
        new = [d for d in placed if not _read_twice(d, others)]
        if len(new) < 2:
            continue
        found += new
        read.append(blob)
        pieces += shared
    return found, read, pieces


# A blob sharing more than RESCUE_MAX_SHARED of a found digit's box holds that digit: a sliver the
# cutting broke off (narrower than RESCUE_SLIVER typical digit heights: a stroke of a touching pair),
# or else a whole digit, and the blob is a frame around it (comb-box walls joined into one) that the
# string reader reads as digits beside it. Touching digits beside a number only graze its boxes.
RESCUE_MAX_SHARED = 0.2
RESCUE_SLIVER = 0.35
# ... when the blob holds more than this share of that whole digit's box: a frame encloses what it
# holds, while a neighbour's box overlaps touching digits beside it only at its edge (a 5 whose box
# ran a third into the touching "342" after it kept that blob from being read); the reading, whose
# margin takes that neighbour in, replaces it as it replaces slivers. Touching pages 208-271: 3
# digits more found, 272-335 (untuned) 2; forms 1-290 and desk photos 1-300 the same; 0.9 the same
# as 0.6; keeping such a neighbour instead of replacing it read the 5 twice.
RESCUE_ENCLOSED = 0.6
# A digit beside a rejected blob may overlap its columns by this share of the typical digit height
# (slanted neighbours share columns) and still stand beside it.
RESCUE_ONE_OVERLAP = 0.25
# See ``NumberOptions.rescue_lone_digits``.
RESCUE_LONE_AGREE = 0.5
RESCUE_LONE_OTHERS = 2
# A blob read as one digit is no wider than this many typical digit heights: wider, it holds two
# digits or more, one of them lost (true single digits up to 1.6 wide, with a stroke of a line or a
# box beside them, were read so on forms 1-120; a limit of 1.2 found 8 fewer there).
RESCUE_ONE_WIDTH = 1.75
# Pieces of one over-cut digit touch or nearly; a comb box's walls stand at least this many of their
# heights from the digit inside (a box is about 1.3 digit heights wide).
APART = 0.2
# ... but a 1 the segmentation boxed this many times wider than the reader did is a slice of touching
# ink holding a neighbour's edge beside the 1's stroke, which the reader fitted alone (``stroke_box``).
ONE_SEGMENTED_WIDER = 1.4
# ... and boxed at most this share of its height wide: a 1 boxed wider holds its own flag or foot, or
# leans, and its box is its whole ink, which the stroke's box would cut off. Touching pages 200-335
# (tuning): recall 98.95 -> 99.00%, digits 98.49 -> 98.53%, numbers 96.48 -> 96.59%, false digits
# 70 -> 64 (without this limit: 12 boxes gained, 8 of flagged 1s lost); forms 1-799 and desk photos
# 1-150 the same. The box is reported only after the rules that judge by the segmentation's boxes
# (a word's "oss" read 1164 after its capital lies further from it by the 1's stroke).
ONE_SEGMENTED_ASPECT = 0.5
# ... and at least this share of its height wide: a narrower one is a 1's stroke alone, and fitting the
# reader's boxes for every number with a 1 cost a sheet of handwriting 5% more CPU.
ONE_SEGMENTED_LEAST = 0.3
# A digit with at least this share of its box inside another digit's is that digit's ink read again.
READ_TWICE = 0.5
# A line with at least this many digits found on it sets its own digit height: people write each
# line at its own size (on the touching tuning pages a line's digits were up to 1.4 times the
# page's typical height, and the blobs of its touching digits failed the page's size test).
LINE_DIGITS = 3


def _working(box: Box, scale: float, origin: tuple[int, int], shape: tuple[int, int]) -> Box | None:
    """An image box in the segmentation's working pixels (``shape``: its height and width), clipped;
    None when under two pixels wide or tall there."""
    scaled = box.scaled(scale)
    h, w = shape
    x0, y0 = max(0, scaled.x - origin[0]), max(0, scaled.y - origin[1])
    x1, y1 = min(w, scaled.x2 - origin[0]), min(h, scaled.y2 - origin[1])
    return None if x1 - x0 < 2 or y1 - y0 < 2 else Box(x0, y0, x1 - x0, y1 - y0)


def _letter_beside(other: Box, box: Box, typical: int, options: NumberOptions) -> bool:
    """Whether ``other`` is of letter size (``letter_height``) on ``box``'s line, at most
    ``letter_reach`` typical heights from it: a word's next letter."""
    low, high = options.letter_height
    return (low * typical <= other.h <= high * typical and _same_line(other, box, typical)
            and other.gap(box) <= options.letter_reach * typical)


def _row_of_blobs(blob: Digit, rejected: list[Digit], typical: int, options: NumberOptions) -> list[Digit]:
    """``blob`` and the rejected blobs of letter size (``letter_height``) chained to it along its line,
    each at most ``letter_reach`` typical heights from the next, left to right."""
    row, grown = [blob], True
    while grown:
        grown = False
        for other in rejected:
            if all(other is not r for r in row) and any(_letter_beside(other.box, r.box, typical, options)
                                                        for r in row):
                row.append(other)
                grown = True
    return sorted(row, key=lambda r: r.box.x)


def _read_row(row: list[Digit], digits: list[Digit], read_region, classify: Callable[[list[Box]], list[int | None]],
              options: NumberOptions, scale: float, origin: tuple[int, int], shape: tuple[int, int], width: int,
              height: int) -> list[Digit]:
    """The digits of a row of rejected blobs read whole (``_row_of_blobs``), when the digit classifier
    vouches for the reading (``_vouched``); none otherwise."""
    region = _working(Box.around(r.box for r in row), scale, origin, shape)
    if region is None:
        return []
    text, confidences, boxes = read_region(region)
    boxes = cache(boxes)
    if not _vouched(text, confidences, boxes, classify, options):
        return []
    placed = [d for d in _placed(text, confidences, boxes(), scale, origin, width, height)
              if any(r.box.x <= d.box.cx <= r.box.x2 for r in row)]
    return [d for d in placed if not _read_twice(d, digits)]


def _vouched(text: str, confidences: list[float], boxes: Callable[[], list[Box]],
             classify: Callable[[list[Box]], list[int | None]], options: NumberOptions) -> bool:
    """Whether a reading of a blob standing apart is a whole number (see ``rescue_lone_digits``)."""
    if len(text) < options.rescue_lone_digits or min(confidences) < options.rescue_min_confidence:
        return False
    seen = classify(boxes())
    agree = [int(c) == d for c, d in zip(text, seen)]
    others = sum(a and c != "1" for a, c in zip(agree, text))
    return sum(agree) >= RESCUE_LONE_AGREE * len(text) and others >= RESCUE_LONE_OTHERS


def _in_a_number(box: Box, digits: list[Digit], typical: int, options: NumberOptions) -> bool:
    """Whether a sure digit stands on ``box``'s line right beside it (see ``NumberOptions.rescue_one_gap``)."""
    return any(_same_line(d.box, box, typical) and d.confidence >= options.rescue_sure
               and -RESCUE_ONE_OVERLAP * typical <= d.box.gap(box) <= options.rescue_one_gap * typical
               for d in digits)


def _line_height(box: Box, digits: list[Digit], page_typical: int) -> int:
    """The median height of the digits on ``box``'s line (centres within half its height), when the
    line has ``LINE_DIGITS`` or more; else the page's ``page_typical``."""
    line = sorted(d.box.h for d in digits if abs(d.box.cy - box.cy) <= 0.5 * box.h)
    return line[len(line) // 2] if len(line) >= LINE_DIGITS else page_typical


def _read_twice(digit: Digit, others: list[Digit]) -> bool:
    """Whether ``digit`` lies mostly inside one of ``others`` (see ``READ_TWICE``)."""
    box = digit.box
    return any(box.overlap(o.box) >= READ_TWICE * box.w * box.h for o in others)


# A letter cut into this many pieces or more (a bold m: three strokes) may have one read surely (its
# first stem, beside the letter before it); a number right after a word with one digit unsure is
# still a number (forms 214 and 228, touching 227: letting the mean confidence decide lost them).
WORD_PIECES = 3


def drop_word_ends(digits: list[Digit], rejected: list[Digit], options: NumberOptions, scale: float,
                   origin: tuple[int, int], shape: tuple[int, int]) -> tuple[list[Digit], list[Digit]]:
    """The digits, and those of the numbers that are a word's last letter cut into pieces (see
    ``NumberOptions.word_unsure``), before the string reader can read them as a number."""
    if not options.enabled or not digits or not rejected:
        return digits, []
    letters = [d for region in regions(digits, options, scale, origin, shape)
               if _end_of_a_word(region, rejected, options) for d in region.digits]
    return [d for d in digits if all(d is not o for o in letters)], letters


def _end_of_a_word(region: Region, rejected: list[Digit], options: NumberOptions) -> bool:
    """Pieces of a letter cut apart and all read unsurely, right beside a rejected letter of their
    line (see ``NumberOptions.word_unsure``)."""
    count = len(region.digits)
    unsure = sum(d.confidence < options.word_unsure for d in region.digits)
    if not (unsure == count or (count >= WORD_PIECES and unsure == count - 1)):
        return False
    b = region.box
    short, tall = options.letter_height[0] * b.h, options.letter_height[1] * b.h
    return any(_same_line(r.box, b, b.h) and short <= r.box.h <= tall and r.box.gap(b) <= options.word_gap * b.h
               for r in rejected)


def _same_line(a: Box, b: Box, typical: int) -> bool:
    return abs(a.cy - b.cy) <= 0.5 * typical


def _segmented_boxes(placed: list[Digit], classified: tuple[Digit, ...], fitted: bool) -> list[Digit]:
    """``placed`` with the segmentation's box wherever the classifier read the same digit there, once
    (one classified digit of that value with its centre inside the placed box): the string reader's
    boxes take in whatever ink lies in its columns, a comb box's wall stub or a sliver the cutting
    left, while the segmentation's is the digit's own. Two or more of the same value there are pieces
    of one over-cut digit, and the reader's box is the whole digit; unless they stand apart (see
    ``APART``): then they are a digit between its comb box's walls, read as 1s too, and the digit is
    the one nearest the middle of the reader's box. A touching 1 carries the reader's box where it
    is its stroke's (``_one_reboxed``; ``fitted``: the reader's boxes were fitted to the ink)."""
    out = []
    for digit in placed:
        b = digit.box
        same = sorted((d for d in classified if d.digit == digit.digit
                       and b.x <= d.box.cx <= b.x2 and b.y <= d.box.cy <= b.y2), key=lambda d: d.box.x)
        if len(same) > 1 and all(q.box.x - p.box.x2 >= APART * max(p.box.h, q.box.h) for p, q in zip(same, same[1:])):
            same = [min(same, key=lambda d: abs(d.box.cx - b.cx))]
        if len(same) == 1 and digit.digit == 1 and fitted and _one_reboxed(same[0].box, b):
            digit = replace(digit, stroke_box=b)  # a touching 1's stroke, which the reader boxed alone
        out.append(replace(digit, box=same[0].box) if len(same) == 1 else digit)
    return out


def _wide_one(box: Box) -> bool:
    """Whether a 1's box is wide enough to hold a neighbour's edge beside its stroke, and not so wide
    that it holds its flag or foot (``ONE_SEGMENTED_LEAST``, ``ONE_SEGMENTED_ASPECT``)."""
    return ONE_SEGMENTED_LEAST * box.h <= box.w <= ONE_SEGMENTED_ASPECT * box.h


def _one_reboxed(segmented: Box, reader: Box) -> bool:
    """Whether a 1 the segmentation boxed as ``segmented`` is better boxed as the reader's stroke."""
    return (_wide_one(segmented) and segmented.w > ONE_SEGMENTED_WIDER * reader.w
            and segmented.x <= reader.cx <= segmented.x2)


def _placed(text: str, confidences, boxes, scale: float, origin: tuple[int, int], width: int,
            height: int) -> list[Digit]:
    """The string reader's digits with their boxes moved from working pixels into the image's."""
    out = []
    for char, confidence, box in zip(text, confidences, boxes):
        placed = Box(box.x + origin[0], box.y + origin[1], box.w, box.h).scaled(1.0 / scale)
        x, y = max(0, placed.x), max(0, placed.y)
        placed = Box(x, y, max(1, min(placed.x2, width) - x), max(1, min(placed.y2, height) - y))
        out.append(Digit(digit=int(char), confidence=float(confidence), box=placed))
    return out

