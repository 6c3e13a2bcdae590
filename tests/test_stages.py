"""Each pipeline stage on its own, on small real images drawn here with OpenCV and NumPy.

ink -> segment (and paper) -> split -> normalise -> classify -> layout (-> stabilise, for streams).
Where a stage needs the classifier, the shipped model runs through the real interpreter; where a
test is about a stage's decision rules (splitting, merging), a stand-in ``Judge`` returns fixed
probabilities so the rule is checked exactly, whatever the model would say.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import cv2
import numpy as np
import pytest

from edge.pipeline.classify import (Classes, LoneOptions, MarkerOptions, PrintedOptions, WordOptions, drop_in_words,
                                    drop_list_markers, drop_lone_unsure,
                                    drop_printed, to_digits)
from edge.pipeline.ink import MASK_TO_STRETCHED_WIDTH, components, cut_paths, measure, stroke_width, working_copy
from edge.pipeline.layout import (ScaleOptions, StackOptions, WallOptions, arrange, drop_out_of_scale, drop_stacked,
                                  drop_tall_ones, drop_walls, group_lines, layout, mark_uncertain, split_numbers)
from edge.pipeline.links import groups
from edge.pipeline.normalize import to_model_input
from edge.pipeline.paper import Paper, PaperOptions, PaperTracker, find_paper
from edge.pipeline.results import Box, Detections, Digit
from edge.pipeline.segment import SegmentOptions, _long_runs, joined_fields, lines_lean, segment
from edge.pipeline.split import (Judge, Piece, SplitOptions, cut_positions, merge_split_strokes,
                                 split_touching)
from edge.pipeline.stabilize import StabilizeOptions, TrackerState, stable_digits, step
from edge.runtime.metadata import REJECT_LABEL, ModelMetadata

PAPER = 235
INK = 30


# --- drawing --------------------------------------------------------------------------------------

def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 16):
    return [(cx + rx * math.cos(math.radians(start + (stop - start) * i / n)),
             cy + ry * math.sin(math.radians(start + (stop - start) * i / n))) for i in range(n + 1)]


# Digits as strokes in a unit box (x right, y down), 0.55 as wide as tall; the shipped model reads
# each above 0.9 drawn 40-100 px tall with a pen of 3-8 px.
STROKES = {
    "0": [_arc(0.5, 0.5, 0.45, 0.5, -90, 270, 24)],
    "1": [[(0.5, 0.0), (0.5, 1.0)]],
    "2": [_arc(0.5, 0.28, 0.42, 0.28, 200, 400, 10) + [(0.0, 1.0), (1.0, 1.0)]],
    "3": [_arc(0.45, 0.26, 0.42, 0.26, 210, 450, 10) + _arc(0.45, 0.74, 0.47, 0.26, -90, 150, 10)],
    "4": [[(0.7, 1.0), (0.7, 0.0), (0.0, 0.65), (1.0, 0.65)]],
    "5": [[(0.9, 0.0), (0.15, 0.0), (0.1, 0.45)] + _arc(0.45, 0.7, 0.45, 0.3, -120, 150, 10)],
    "7": [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]],
}


def draw_text(image: np.ndarray, text: str, x: float, y: float, height: float, pen: int, ink=INK,
              pitch: float = 0.8) -> list[Box]:
    """Draw digits left to right (anti-aliased polylines), each ``pitch`` heights after the last;
    returns each digit's box as drawn (its strokes' extent plus half the pen)."""
    boxes = []
    for char in text:
        points = np.concatenate([np.float64(s) for s in STROKES[char]]) * (0.55 * height, height) + (x, y)
        for stroke in STROKES[char]:
            pts = np.float64(stroke) * (0.55 * height, height) + (x, y)
            cv2.polylines(image, [np.round(pts * 16).astype(np.int32)], False, ink, pen, cv2.LINE_AA, shift=4)
        (x0, y0), (x1, y1) = points.min(axis=0) - pen / 2, points.max(axis=0) + pen / 2
        boxes.append(Box(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))))
        x += pitch * height
    return boxes


def page(height: int = 240, width: int = 480) -> np.ndarray:
    return np.full((height, width), PAPER, np.uint8)


def near(found: Box, truth: Box, tolerance: int = 4) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip((found.x, found.y, found.x2, found.y2),
                                                        (truth.x, truth.y, truth.x2, truth.y2)))


# --- ink ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [2, 3, 5, 9])
def test_stroke_width_of_bars_and_rings_of_known_width(width):
    bar = np.zeros((60, 300), np.uint8)
    bar[20 : 20 + width, 30:270] = 1
    assert stroke_width(bar) == pytest.approx(width, rel=0.05)
    assert stroke_width(bar.astype(bool)) == stroke_width(bar)
    # A ring: its true mean width is its area over its centre line's length.
    ring = np.zeros((200, 200), np.uint8)
    cv2.circle(ring, (100, 100), 60, 1, width)
    assert stroke_width(ring) == pytest.approx(ring.sum() / (2 * math.pi * 60), rel=0.12)
    # ... however the stroke turns: the same pen in a drawn digit.
    digit = np.zeros((200, 160), np.uint8)
    draw_text(digit, "2", 20, 20, 150, width, ink=1, pitch=0)
    assert 0.8 * width <= stroke_width(digit > 0) <= 1.6 * width + 1


def test_stroke_width_of_nothing_is_zero():
    assert stroke_width(np.zeros((20, 20), np.uint8)) == 0.0


def test_measure_trims_shrinks_stretches_and_keeps_the_pen():
    crop = np.zeros((120, 90), np.uint8)
    cv2.circle(crop, (45, 60), 30, 100, 6)  # faint ink (100 of 255) with margins around it
    inked = measure(crop)
    assert max(inked.pixels.shape) == 40 and inked.pixels.shape[0] == inked.pixels.shape[1]  # trimmed, shrunk
    assert inked.scale == pytest.approx(40 / 67, abs=0.02)
    assert inked.pixels.max() == 255  # stretched: faint pencil reaches full strength
    assert inked.stroke_original == pytest.approx(stroke_width(crop > 0), rel=0.25)
    # A width segmentation measured on its mask is taken as given (in the stretched copy's terms).
    given = measure(crop, mask_width=7.0)
    assert given.stroke == pytest.approx(7.0 * MASK_TO_STRETCHED_WIDTH * given.scale)
    assert np.array_equal(given.pixels, inked.pixels)
    empty = measure(np.zeros((30, 30), np.uint8))
    assert empty.stroke == 0.0 and not empty.pixels.any()


def test_working_copy_shrinks_by_a_whole_factor():
    big = np.zeros((3000, 5000), np.uint8)
    small, scale = working_copy(big, 2000)
    assert small.shape == (1000, 1666) and scale == pytest.approx(1666 / 5000)
    image = np.zeros((300, 500, 3), np.uint8)
    same, scale = working_copy(image, 2000)
    assert same is image and scale == 1.0  # small enough: no copy at all
    halved, scale = working_copy(image, 2000, at_least=2)
    assert halved.shape == (150, 250, 3) and scale == 0.5


def _strokes(shape: tuple[int, int], seed: int, reach: tuple[int, int]) -> np.ndarray:
    """A mask of random pen strokes (0/1), kept to the part of ``shape`` from ``reach`` on."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(reach[0], shape[1])), int(rng.integers(reach[1], shape[0]))
        end = (int(x + rng.integers(-60, 60)), int(y + rng.integers(-8, 8)))
        cv2.line(mask, (x, y), end, 1, int(rng.integers(1, 4)))
    mask[: reach[1]], mask[:, : reach[0]] = 0, 0
    return mask


@pytest.mark.parametrize("shape, reach", [((241, 317), (101, 57)), ((240, 318), (100, 56)), ((99, 133), (0, 0)),
                                          ((481, 640), (333, 401)), ((1, 7), (0, 0))])
def test_components_are_numbered_as_on_the_whole_mask(shape, reach):
    # Only the ink's box (grown to even sides) is labelled: labels and stats must be OpenCV's own.
    for seed in range(5):
        mask = _strokes(shape, seed, reach)
        n, labels, stats = components(mask)
        want_n, want_labels, want_stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S,
                                                                                            cv2.CCL_GRANA)
        assert n == want_n and labels.dtype == np.int32 and labels.shape == shape
        assert np.array_equal(labels, want_labels) and np.array_equal(stats[1:], want_stats[1:])
        assert stats[0, 4] == mask.size - cv2.countNonZero(mask)
    n, labels, stats = components(np.zeros(shape, np.uint8))
    assert n == 1 and not labels.any() and stats.tolist() == [[0, 0, shape[1], shape[0], shape[0] * shape[1]]]


@pytest.mark.parametrize("slack", [0, 1])
def test_long_runs_on_the_inks_box_are_the_runs_of_the_whole_mask(slack):
    # Straight runs are looked for on the ink's box and a run's length around it: a run ending at
    # the box's side or at the image's edge must come out as an opening of the whole mask gives it.
    for seed in range(4):
        mask = _strokes((300, 420), seed, (150, 120))
        mask[130, 150:419] = 1  # a rule running into the image's right edge
        mask[200:299, 400] = 1  # an upright running into its bottom edge
        horizontal, vertical = _long_runs(mask, 40, slack)
        for runs, shape, across in ((horizontal, (40, 1), (1, 2 * slack + 1)), (vertical, (1, 40), (2 * slack + 1, 1))):
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
            thick = cv2.dilate(mask, np.ones(across[::-1], np.uint8)) if slack else mask
            want = cv2.morphologyEx(thick, cv2.MORPH_OPEN, kernel)
            assert np.array_equal(runs, want & mask if slack else want)
        assert horizontal[130, 160:419].all() and vertical[210:299, 400].all()


# --- segment --------------------------------------------------------------------------------------

def test_segment_finds_each_drawn_digit_with_its_pen():
    image = page()
    truth = draw_text(image, "107", 60, 60, 90, 5, pitch=0.9)
    seg = segment(image)
    assert seg.polarity == "dark-on-light" and seg.scale == 1.0 and seg.origin == (0, 0)
    found = sorted(seg.candidates, key=lambda c: c.box.x)
    assert len(found) == 3
    for cand, box in zip(found, truth):
        assert near(cand.box, box), (cand.box, box)
        assert cand.crop.shape == (cand.box.h, cand.box.w) and cand.crop.max() > 200
        assert 4 <= cand.stroke <= 8  # its own pen, measured once
        assert max(cand.measured.pixels.shape) == 40
    assert seg.digit_height == pytest.approx(truth[0].h, abs=4)  # the typical digit's height
    # Light ink on a dark board is found the same.
    inverted = segment(cv2.bitwise_not(image))
    assert inverted.polarity == "light-on-dark"
    assert [c.box for c in sorted(inverted.candidates, key=lambda c: c.box.x)] == [c.box for c in found]


def test_hairlines_beside_handwriting_are_no_candidates():
    """The broken sides of a faint printed box (1 px) beside digits drawn with a 5 px pen are print,
    not handwriting; a second, finer pen (2 px) on the same page still counts."""
    image = page(240, 640)
    digits = draw_text(image, "2345", 40, 60, 80, 5, pitch=0.9)
    fine = draw_text(image, "7", 360, 60, 80, 2)
    for x in (440, 480, 520):
        cv2.line(image, (x, 95), (x, 130), 90, 1)  # uprights of a box whose other sides did not print
    found = sorted((c.box for c in segment(image).candidates), key=lambda b: b.x)
    assert len(found) == 5, found
    assert all(any(near(f, b) for f in found) for b in digits + fine)
    assert all(f.x2 < 430 for f in found)


def test_blank_and_noise_pages_give_no_candidates():
    assert segment(page()).candidates == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
    assert segment(noise).candidates == []


def ruled(width: int = 600) -> np.ndarray:
    image = page(300, width)
    for y in (90, 190, 290):
        cv2.line(image, (0, y), (width - 1, y), 120, 2)
    return image


def test_ruled_lines_are_removed_and_the_digits_stay():
    image = ruled()
    truth = draw_text(image, "0", 140, 100, 80, 5) + draw_text(image, "7", 300, 112, 80, 5)  # the 7 crosses a line
    seg = segment(image)
    assert "removed ruled lines or borders" in seg.notes
    found = sorted(seg.candidates, key=lambda c: c.box.x)
    assert len(found) == 2 and near(found[0].box, truth[0])
    assert found[1].box.y2 >= 190  # the 7's foot below the line was given back
    assert not seg.mask[189:193, 400:].any()  # the line itself is gone
    kept = segment(image, SegmentOptions(remove_lines=False))
    assert any(c.box.w > 500 for c in kept.candidates)  # ... which it is not without line removal


def test_lines_lean_is_none_without_a_long_row_of_ink():
    """A sheet of digits and no ruled line: no lean, quietly (no NaN, no empty-slice warning)."""
    mask = np.zeros((480, 640), np.uint8)
    mask[100:140, 100:104] = 1  # a 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lines_lean(mask, 3.0) is None
    mask[300:303, 40:600] = 1  # a level ruled line
    assert abs(lines_lean(mask, 3.0)) <= 1.0


def test_an_upright_one_standing_on_a_ruled_line_is_kept():
    image = ruled()
    cv2.line(image, (80, 110), (80, 195), INK, 5)  # a 1 whose foot crosses the line at y=190
    draw_text(image, "0", 140, 100, 80, 5)
    boxes = sorted((c.box for c in segment(image).candidates), key=lambda b: b.x)
    assert len(boxes) == 2 and near(boxes[0], Box(77, 107, 7, 91)), boxes  # the whole 1, foot and all


def test_a_thin_upright_well_over_the_digits_height_is_a_wall_but_a_tall_one_is_kept():
    """A box's side 1.7 digit heights tall is no 1; a 1 written a fifth taller than its neighbours is."""
    image = page(260, 700)
    digits = draw_text(image, "4073", 40, 80, 60, 5)
    cv2.line(image, (400, 38), (400, 150), INK, 3)  # 115 px: 1.7 times the digits (67 px, pen included)
    tall_one = draw_text(image, "1", 500, 74, 72, 5)[0]
    boxes = sorted((c.box for c in segment(image).candidates), key=lambda b: b.x)
    assert len(boxes) == 5, boxes
    assert all(near(b, t) for b, t in zip(boxes, digits + [tall_one])), boxes


def test_after_line_removal_the_labels_are_the_cleaned_masks_components():
    """Segmentation keeps the labelling that removing the lines made (leftovers cleared) instead of
    labelling the cleaned mask again: it must be that labelling, up to the numbers."""
    image, _, _ = comb_page()
    crossed = ruled()
    draw_text(crossed, "7", 300, 112, 80, 5)
    for picture in (image, crossed):
        seg = segment(picture)
        assert "removed ruled lines or borders" in seg.notes
        inside = seg.mask > 0
        assert not seg.labels[~inside].any()
        _, fresh = cv2.connectedComponents(seg.mask, connectivity=8)
        pairs = np.unique(np.stack([seg.labels[inside], fresh[inside]]), axis=1)
        assert len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1] == fresh.max()


def comb_page(height: int = 28, digits: str = "317", box: int = 44,
              boxes: int = 5) -> tuple[np.ndarray, Box, list[Box]]:
    """A printed comb field (a row of ``boxes`` boxes, 2 px rules) with digits ``height`` px tall (plus
    the pen) in boxes 0, 1 and 3, each centred in its box."""
    image = page(240, 500)
    x0, y0 = 100, 90
    cv2.rectangle(image, (x0, y0), (x0 + boxes * box, y0 + box), 90, 2)
    for i in range(1, boxes):
        cv2.line(image, (x0 + i * box, y0), (x0 + i * box, y0 + box), 90, 2)
    drawn = []
    for i, char in zip((0, 1, 3), digits):
        drawn += draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * height, y0 + (box - height) / 2, height, 4)
    return image, Box(x0, y0, boxes * box + 2, box + 2), drawn


def test_comb_walls_are_removed_and_the_comb_is_one_field():
    image, comb, truth = comb_page()
    seg = segment(image)
    found = sorted(seg.candidates, key=lambda c: c.box.x)
    assert len(found) == 3, [c.box for c in found]  # the digits; no wall or border is a candidate
    for cand, box in zip(found, truth):
        assert near(cand.box, box, 5), (cand.box, box)
    assert len(seg.fields) == 1
    assert near(seg.fields[0], comb, 3), seg.fields
    # Walls and borders are gone from the mask; the digits' ink is not.
    assert not seg.mask[comb.y + 20, comb.x + 2 * 44 - 2 : comb.x + 2 * 44 + 3].any()
    assert all(seg.mask[b.y : b.y2, b.x : b.x2].any() for b in truth)


def test_a_tables_cells_lose_their_walls_but_make_no_comb_field():
    """A row of a ruled table (item, quantity, price): its walls between the rules stand almost evenly,
    like a comb's, but each cell is several digits wide. Taken for a comb field, a row's quantity and
    price were one number ("82" and "118" read as "82118" on forms 9, 11, 24...)."""
    image = page(200, 760)
    cols, top, bottom = (20, 340, 500, 740), 60, 118  # walls too short for lines, as in a table's row
    for x in cols:
        cv2.line(image, (x, top), (x, bottom), 90, 2)
    for y in (top, bottom):
        cv2.line(image, (cols[0], y), (cols[-1], y), 90, 2)
    drawn = draw_text(image, "72", cols[1] + 14, top + 13, 32, 4) + draw_text(image, "135", cols[2] + 14, top + 13, 32, 4)
    seg = segment(image)
    assert "removed ruled lines or borders" in seg.notes
    assert seg.fields == []
    found = sorted(seg.candidates, key=lambda c: c.box.x)
    assert len(found) == len(drawn), [c.box for c in found]  # the digits, and no wall read as a 1
    for cand, box in zip(found, drawn):
        assert near(cand.box, box, 5), (cand.box, box)


@pytest.mark.parametrize("blur, drop", [(0.0, 2), (1.5, 0), (1.5, 1)])
def test_digits_touching_a_photographed_comb_keep_their_own_boxes(blur, drop):
    """A comb whose rules fall ``drop`` px along its length, blurred as in a photo: removing the
    rules leaves a pixel's rim of them, and where a digit touches the top rule the rim joined digit
    and box into one blob as wide as the box."""
    image = page(240, 500)
    x0, y0, box = 100, 90, 44

    def at(x: float, y: float) -> tuple[int, int]:
        return int(x), int(y + drop * (x - x0) / (5 * box))

    for y in (y0, y0 + box):
        cv2.line(image, at(x0, y), at(x0 + 5 * box, y), 90, 2)
    for i in range(6):
        cv2.line(image, at(x0 + i * box, y0), at(x0 + i * box, y0 + box), 90, 2)
    drawn = []
    for i, char in zip((0, 1, 3), "357"):  # 34 px tall from 2 px under the top rule: they touch it
        drawn += draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * 34, y0 + 2, 34, 5)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 3 and all(near(f, t, 5) for f, t in zip(found, drawn)), found


@pytest.mark.parametrize("turn", [-6.0, 5.0])
def test_a_single_box_left_standing_in_a_tilted_photo_loses_its_frame(turn):
    """A box on its own (a date's day), turned by ``turn`` degrees: its rules are no lines, and it is
    no row of boxes, so the line passes keep it, and the 5 touching its wall was one blob with it
    (read as no digit). Its straight, thin sides go; the digit stays, in a box of its own."""
    image = page(240, 640)
    cv2.line(image, (20, 200), (620, 200), 90, 2)  # a ruled line: the page has lines
    centre, size = (150.0, 110.0), (56.0, 46.0)
    corners = cv2.boxPoints((centre, size, turn)).astype(np.int32)
    cv2.polylines(image, [corners], True, 90, 2)
    drawn = draw_text(image, "5", centre[0] - 9, centre[1] - size[1] / 2 + 2, 32, 3)  # its top on the rule
    drawn += draw_text(image, "27727", 300, 90, 32, 3)  # the page's other handwriting
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 6 and all(near(f, t, 5) for f, t in zip(found, drawn)), (found, drawn)


def test_a_big_zero_is_no_box():
    """A 0 as tall as a box has a side on each of its four sides, but they are curved."""
    image = page(240, 640)
    cv2.line(image, (20, 200), (620, 200), 90, 2)
    cv2.ellipse(image, (150, 110), (25, 26), 0, 0, 360, 90, 4)
    draw_text(image, "27727", 300, 96, 32, 3)
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 6 and near(found[0], Box(123, 82, 55, 57), 3), found


def test_a_two_box_comb_too_short_for_a_line_is_still_removed():
    """A date's two boxes: rules 90 px long, under three digit heights, so no line on their own; a
    box's top and bottom of one length, a box's height apart, are. The walls go, the digits stay."""
    image = page(240, 500)
    x0, y0, box = 100, 90, 44
    cv2.rectangle(image, (x0, y0), (x0 + 2 * box, y0 + box), 90, 2)
    cv2.line(image, (x0 + box, y0), (x0 + box, y0 + box), 90, 2)
    drawn = []
    for i, char in enumerate("37"):
        drawn += draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * 30, y0 + 7, 30, 4)
    drawn += draw_text(image, "52", 300, 97, 30, 4)  # the page's other handwriting
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 4 and all(near(f, t, 5) for f, t in zip(found, drawn)), found
    assert len(seg.fields) == 1 and near(seg.fields[0], Box(x0, y0, 2 * box + 2, box + 2), 3), seg.fields


@pytest.mark.parametrize("turn", [-4.0, 3.0])
def test_a_short_comb_leaning_its_own_way_under_a_thick_pen_is_removed(turn):
    """A date's two boxes turned by ``turn`` degrees, written with a 7 px pen: the rules (88 px) are
    shorter than a ruled line under that pen, and lean too far for straight runs; the comb is found
    as one piece of ink shaped like a box row and its rules looked for along its own lean."""
    image = page(240, 500)
    x0, y0, box = 100, 90, 44
    cv2.rectangle(image, (x0, y0), (x0 + 2 * box, y0 + box), 90, 2)
    cv2.line(image, (x0 + box, y0), (x0 + box, y0 + box), 90, 2)
    for i, char in enumerate("37"):
        draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * 30, y0 + 7, 30, 7)
    draw_text(image, "52", 300, 97, 30, 7)  # the page's other handwriting
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((250, 120), turn, 1.0), (500, 240),
                            flags=cv2.INTER_LINEAR, borderValue=PAPER)
    seg = segment(turned)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 4 and all(30 <= b.h <= 42 and b.w <= 30 for b in found), found
    assert len(seg.fields) == 1 and 80 <= seg.fields[0].w <= 100, seg.fields


def test_a_comb_whose_walls_are_broken_is_still_one_field():
    """A comb turned 3 degrees whose walls each have a gap (faded in a photo): no row of walls is
    found, but rules at its top and bottom make it a box row, one field for the layout. (The walls'
    halves stay, and join the 5 and the 7 here: the reading still loses them.)"""
    image = page(240, 500)
    x0, y0, box = 100, 90, 44
    cv2.rectangle(image, (x0, y0), (x0 + 4 * box, y0 + box), 90, 2)
    for i in range(5):
        cv2.line(image, (x0 + i * box, y0), (x0 + i * box, y0 + box), PAPER, 3)  # the printed wall...
        cv2.line(image, (x0 + i * box, y0), (x0 + i * box, y0 + 18), 90, 2)  # ... in two parts
        cv2.line(image, (x0 + i * box, y0 + 24), (x0 + i * box, y0 + box), 90, 2)
    for i, char in enumerate("357"):
        draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * 30, y0 + 7, 30, 7)
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((250, 120), 3.0, 1.0), (500, 240),
                            flags=cv2.INTER_LINEAR, borderValue=PAPER)
    seg = segment(turned)
    assert len(seg.fields) == 1 and 170 <= seg.fields[0].w <= 195, seg.fields


def test_a_faint_comb_that_the_threshold_breaks_is_still_removed():
    """A comb printed faint (1 px rules at 30 levels below the paper, darker walls), on a form with an
    underline printed dark: the rules are too faint to be ink and the walls alone would be read as 1s;
    the rules are looked for again on fainter ink, and the comb goes, one field."""
    image = page(240, 560)
    cv2.line(image, (20, 200), (540, 200), 90, 2)
    x0, y0, box = 100, 70, 44
    cv2.rectangle(image, (x0, y0), (x0 + 5 * box, y0 + box), 205, 1)
    for i in range(1, 5):
        cv2.line(image, (x0 + i * box, y0), (x0 + i * box, y0 + box), 150, 2)
    drawn = []
    for i, char in enumerate("35712"):
        drawn += draw_text(image, char, x0 + (i + 0.5) * box - 0.275 * 30, y0 + 7, 30, 4)
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 5 and all(near(f, t, 5) for f, t in zip(found, drawn)), found
    assert len(seg.fields) == 1 and near(seg.fields[0], Box(x0, y0, 5 * box + 1, box + 1), 3), seg.fields


def test_a_digit_filling_most_of_its_comb_box_leaves_the_comb_intact():
    # 36 of the box's 44 px with the pen: the 3's back reaches near both rules, like a wall.
    image, comb, truth = comb_page(height=32)
    seg = segment(image)
    found = sorted((c.box for c in seg.candidates), key=lambda b: b.x)
    assert len(found) == 3 and all(near(f, t, 5) for f, t in zip(found, truth)), found
    assert len(seg.fields) == 1 and near(seg.fields[0], comb, 3)


def desk_photo(corners, size=(640, 480), seed: int = 0, digits: str = "") -> np.ndarray:
    """A BGR photo of a bright sheet (the convex polygon ``corners``) on a grained wooden desk."""
    rng = np.random.default_rng(seed)
    w, h = size
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), sigmaX=9, sigmaY=2)
    grain = (grain / grain.std())[..., None]
    desk = np.float32([70, 95, 125]) + 18 * grain + rng.normal(0, 4, (h, w, 3))
    sheet = np.float32([228, 232, 235]) + rng.normal(0, 3, (h, w, 3))
    inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, np.round(np.float32(corners)).astype(np.int32), 1)
    image = np.clip(np.where(inside[..., None] > 0, sheet, desk), 0, 255).astype(np.uint8)
    if digits:
        draw_text(image, digits, 220, 200, 80, 5, ink=(40, 30, 30))
    return image


SHEETS = [
    [[170, 90], [470, 120], [440, 400], [140, 370]],
    [[100, 60], [520, 40], [560, 420], [80, 440]],
    [[250, 30], [600, 200], [400, 470], [60, 300]],
]


def corner_error(found: np.ndarray, truth) -> float:
    """The largest distance from a true corner to the nearest found one (the order may differ)."""
    truth = np.float32(truth)
    return float(max(np.linalg.norm(found - corner, axis=1).min() for corner in truth))


@pytest.mark.parametrize("corners", SHEETS)
def test_find_paper_outlines_a_sheet_on_a_desk(corners):
    photo = desk_photo(corners, seed=len(corners) + corners[0][0])
    paper = find_paper(photo)
    assert paper is not None and len(paper.corners) == 4
    assert corner_error(paper.corners, corners) <= 5, paper.corners
    assert paper.contrast > 60 and paper.brightness > 200
    grey = find_paper(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    assert grey is not None and corner_error(grey.corners, corners) <= 5
    assert find_paper(photo, hint=paper) is paper  # last frame's sheet, still there, is kept as it is
    assert find_paper(photo, PaperOptions(enabled=False)) is None


def test_no_sheet_in_a_plain_page_or_a_page_under_a_soft_shadow():
    plain = cv2.cvtColor(page(480, 640), cv2.COLOR_GRAY2BGR)
    draw_text(plain, "107", 220, 200, 80, 5)
    assert find_paper(plain) is None
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    across = 1.0 - 0.45 * np.clip((xx + yy - 500) / 600.0, 0, 1)  # darker towards a corner
    blob = np.zeros((480, 640), np.float32)
    cv2.circle(blob, (150, 380), 160, 1.0, -1)
    round_shadow = 1.0 - 0.5 * cv2.GaussianBlur(blob, (0, 0), 60)
    for shade in (across, round_shadow):
        shadowed = np.clip(plain.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8)
        assert find_paper(shadowed) is None


def test_a_sliver_on_the_step_between_paper_and_desk_is_marked():
    """A thin upright with paper on its left and a darker desk on its right is a piece of the
    paper's edge; the same 1 written on even paper is not, nor is a chalk 1 on a board whose two
    halves differ a little in light (dark levels, compared as paper brightness)."""
    image = page(240, 480)
    draw_text(image, "107", 60, 60, 90, 5, pitch=0.9)
    edge = image.copy()
    edge[:, 402:] = 140
    edge[60:140, 398:402] = 60  # the edge's shadow
    steps = segment(edge).steps
    assert len(steps) == 1 and abs(steps[0].x - 398) <= 2, steps
    even = image.copy()
    even[60:140, 398:402] = 60
    assert segment(even).steps == []
    assert segment(edge, SegmentOptions(edge_steps=False)).steps == []
    board = np.full((240, 480), 28, np.uint8)
    board[:, 402:] = 42
    draw_text(board, "107", 60, 60, 90, 5, ink=220, pitch=0.9)
    board[60:140, 398:402] = 200
    seg = segment(board)
    assert seg.polarity == "light-on-dark" and seg.steps == []


def test_segment_reads_inside_the_sheet_only():
    corners = SHEETS[0]
    photo = desk_photo(corners, digits="107")
    seg = segment(photo)
    assert seg.paper is not None and "read inside the sheet found in the photo" in seg.notes
    height, width = seg.gray.shape  # the sheet's bounding box, cut out of the working image
    assert seg.origin == (140, 90) and near(Box(*seg.origin, width, height), Box(140, 90, 330, 310), 3)
    truth = draw_text(np.zeros((480, 640), np.uint8), "107", 220, 200, 80, 5)
    found = sorted((Box(c.box.x + seg.origin[0], c.box.y + seg.origin[1], c.box.w, c.box.h) for c in seg.candidates),
                   key=lambda b: b.x)
    assert len(found) == 3 and all(near(f, t) for f, t in zip(found, truth)), found
    # Without the sheet, the desk's grain is read as ink.
    blind = segment(photo, SegmentOptions(paper=PaperOptions(enabled=False)))
    assert blind.paper is None and len(blind.candidates) > 10


def test_paper_tracker_keeps_smooths_and_lets_go():
    sheet = Paper(corners=np.float32(SHEETS[0]), brightness=230.0, contrast=130.0)
    tracker = PaperTracker(hold_frames=2, smoothing=0.5)
    assert tracker.update(sheet) is sheet
    nudged = Paper(corners=sheet.corners + 4, brightness=230.0, contrast=130.0)
    assert np.allclose(tracker.update(nudged).corners, sheet.corners + 2)  # half way: jitter is smoothed
    moved = Paper(corners=sheet.corners + 60, brightness=230.0, contrast=130.0)
    assert tracker.update(moved) is moved  # a sheet that really moved is taken as it is
    assert tracker.update(None) is moved and tracker.update(None) is moved  # a blurred frame or two
    assert tracker.update(None) is None  # ... then it is gone


# --- split ----------------------------------------------------------------------------------------

def probs(digit: int | None, p: float) -> np.ndarray:
    """A row over ten digits and the reject class: ``p`` on ``digit`` (None: the reject class), the
    rest spread evenly."""
    row = np.full(11, (1.0 - p) / 10, np.float32)
    row[10 if digit is None else digit] = p
    return row


CLASSES = Classes(tuple(range(10)), tuple(range(10)), reject=10)


def stub_judge(read, calls: list | None = None) -> Judge:
    """A Judge whose model is ``read(piece) -> probability row``; every batch it is asked is logged."""
    def predict(pieces):
        if calls is not None:
            calls.append([p.box for p in pieces])
        return np.array([read(p) for p in pieces], np.float32).reshape(len(pieces), 11)

    return Judge(make_piece=lambda crop, box: Piece(box, crop, crop), predict=predict,
                 confidence=CLASSES.confidence, rejected=CLASSES.rejected)


def ink_piece(box: Box) -> Piece:
    crop = np.zeros((box.h, box.w), np.uint8)
    cv2.rectangle(crop, (1, 1), (box.w - 2, box.h - 2), 255, 2)
    return Piece(box, crop, crop)


def two_strokes(right_h: int = 40) -> list[Piece]:
    """A digit drawn in two strokes: pieces side by side with a 2 px gap (a 4's bar and upright)."""
    return [ink_piece(Box(100, 50, 24, 60)), ink_piece(Box(126, 50 + (60 - right_h) // 2, 24, right_h))]


def test_merge_joins_two_unsure_strokes_the_model_reads_surely_as_one():
    pieces = two_strokes()
    calls: list = []
    judge = stub_judge(lambda p: probs(4, 0.97), calls)
    merged, rows = merge_split_strokes(pieces, np.stack([probs(1, 0.6), probs(7, 0.6)]), judge)
    assert [p.box for p in merged] == [Box(100, 50, 50, 60)]
    assert calls == [[Box(100, 50, 50, 60)]]
    assert int(rows[0].argmax()) == 4
    union = merged[0].crop
    assert union.shape == (60, 50)
    assert np.array_equal(union[:, :24], pieces[0].crop)  # both pieces' ink, each in its place
    assert np.array_equal(union[10:50, 26:], pieces[1].crop)


@pytest.mark.parametrize("whole, separate, uneven, joined", [
    (0.85, 0.6, False, False),  # the union must reach merge_min_confidence (0.9)
    (0.95, 0.97, False, False),  # two sure pieces of one height stay apart (11 stays 11): never tried
    (0.99, 0.97, True, True),  # ... but uneven ones are tried, and joined when the union wins
    (0.95, 0.97, True, False),  # the union must beat the two pieces' joint likelihood by the margin
])
def test_merge_decision_rules(whole, separate, uneven, joined):
    pieces = two_strokes(40 if uneven else 60)
    calls: list = []
    merged, rows = merge_split_strokes(pieces, np.stack([probs(1, separate)] * 2),
                                       stub_judge(lambda p: probs(4, whole), calls))
    assert len(merged) == (1 if joined else 2)
    if not joined:
        assert merged is pieces
    assert bool(calls) == (uneven or separate < 0.9)


def test_merge_leaves_pieces_apart_beyond_the_gap():
    pieces = [ink_piece(Box(100, 50, 24, 60)), ink_piece(Box(130, 60, 24, 40))]  # 6 px apart: > 0.06 x 60
    calls: list = []
    merged, _ = merge_split_strokes(pieces, np.stack([probs(1, 0.5)] * 2), stub_judge(lambda p: probs(4, 1.0), calls))
    assert merged is pieces and calls == []


@pytest.mark.parametrize("flag, tried", [
    (Box(118, 47, 32, 12), True),  # a 5's hook drawn apart: flat, at the top, from over its right half on
    (Box(118, 66, 32, 12), False),  # a dash at mid-height ("5-4") is no hook
    (Box(104, 47, 32, 12), False),  # starting over the left half: a 7's bar or a T's, not a 5's hook
    (Box(118, 47, 60, 12), False),  # the two far wider than a digit
])
def test_merge_joins_a_5_and_its_hook_drawn_apart(flag, tried):
    body = ink_piece(Box(100, 50, 30, 45))
    calls: list = []
    merged, rows = merge_split_strokes([body, ink_piece(flag)], np.stack([probs(5, 0.95), probs(None, 0.96)]),
                                       stub_judge(lambda p: probs(5, 0.97), calls))
    assert bool(calls) == tried
    assert [p.box for p in merged] == ([body.box.union(flag)] if tried else [body.box, flag])


def touching_pair(text: str, height: int = 60, pitch: float = 0.58) -> tuple[np.ndarray, Box, list[Box]]:
    """The ink (bright on 0) of two drawn digits that touch, cropped to their box; and where each was
    drawn, in the crop's pixels."""
    canvas = np.zeros((height + 40, 200), np.uint8)
    drawn = draw_text(canvas, text, 20, 20, height, 4, ink=255, pitch=pitch)
    x, y, w, h = cv2.boundingRect(canvas)
    assert cv2.connectedComponents((canvas > 0).view(np.uint8))[0] == 2  # one blob
    return canvas[y : y + h, x : x + w], Box(x, y, w, h), [Box(b.x - x, b.y - y, b.w, b.h) for b in drawn]


def test_cut_positions_and_paths_find_where_two_digits_touch():
    crop, box, (first, second) = touching_pair("23", pitch=0.55)
    width = crop.shape[1]
    cuts = cut_positions(crop, box.h)
    assert cuts[0] == 0 and cuts[-1] == width and cuts == sorted(cuts)
    meeting = min(cuts, key=lambda c: abs(c - second.x))
    assert abs(meeting - second.x) <= 3, (cuts, second)  # a cut where the 3 begins
    (path,) = cut_paths(crop, [meeting], radius=9)
    assert len(path) == crop.shape[0] and np.abs(np.diff(path)).max() <= 1
    assert np.abs(path - meeting).max() <= 9
    straight = crop[:, meeting].astype(int).sum()  # the 2's base runs under the 3: a straight cut slices it
    crossed = crop[np.arange(crop.shape[0]), path].astype(int).sum()
    assert straight > 4 * 255 and crossed < 0.1 * straight
    # Each path may have its own radius: one held to a column stays on it, the other finds the gap.
    held, free = cut_paths(crop, [meeting, meeting], radius=[0, 9])
    assert (held == meeting).all() and (free == path).all()


def test_cut_positions_fill_long_stretches_without_a_valley():
    bar = np.full((20, 100), 255, np.uint8)
    cuts = cut_positions(bar, 20)
    assert cuts[0] == 0 and cuts[-1] == 100
    assert max(np.diff(cuts)) <= 0.25 * 20 + 1 and len(cuts) >= 20


# The decision rules' thresholds, named here so that retuning the defaults does not change what
# these tests check (only that the rules hold).
RULES = SplitOptions(margin=0.0, aspect_prior=0.2, min_confidence=0.6, min_confidence_rejected=0.25,
                     min_aspect=0.7, wide_aspect=1.25, unsure_below=0.9, max_overlap=0.25,
                     min_height_share=0.5, max_height_share=2.0, sure_digit=0.9, sure_digits=5,
                     wide_sure_below=0.95)


def blob_pieces(whole: np.ndarray):
    """Two touching 0s (72 x 67 px) as one piece read as ``whole``."""
    crop, box, drawn = touching_pair("00", 60)
    return [Piece(box, crop, crop)], np.stack([whole]), [Box(b.x + box.x, b.y + box.y, b.w, b.h) for b in drawn]


def halves(sure: float, digit: int | None = 0):
    """A model that reads a slice about one 0 wide as ``digit`` (None: no digit) with ``sure``, and
    anything else as an 8 with 0.1."""
    def read(piece):
        return probs(digit, sure) if 28 <= piece.box.w <= 46 else probs(8, 0.1)
    return read


def test_split_cuts_a_blob_the_slices_explain_better():
    pieces, rows, drawn = blob_pieces(probs(8, 0.5))
    out, out_rows = split_touching(pieces, rows, 60, stub_judge(halves(0.97)), RULES)
    assert len(out) == 2 and [int(r.argmax()) for r in out_rows] == [0, 0]
    for part, zero in zip(sorted((p.box for p in out), key=lambda b: b.x), drawn):
        assert near(part, zero, 7), (part, zero)  # each slice is one of the 0s (the cut follows their seam)
    # A square-ish blob is only tried when the model is unsure of it.
    calls: list = []
    kept, _ = split_touching(pieces, np.stack([probs(8, 0.95)]), 60, stub_judge(halves(0.97), calls), RULES)
    assert kept is pieces and calls == []


@pytest.mark.parametrize("whole, slices, digit, split", [
    (probs(8, 0.85), 0.9, 0, False),  # one digit read about as surely as two is kept whole (log-likelihoods)
    (probs(8, 0.2), 0.55, 0, False),  # every slice must reach min_confidence (0.6) ...
    (probs(None, 0.8), 0.55, 0, True),  # ... or only min_confidence_rejected (0.25) when the blob is no digit
    (probs(None, 0.8), 0.2, 0, False),  # ... but at least that
    (probs(8, 0.2), 0.97, None, False),  # slices the model rejects are no digits: never a split
])
def test_split_decision_rules(whole, slices, digit, split):
    pieces, rows, _ = blob_pieces(whole)
    out, _ = split_touching(pieces, rows, 60, stub_judge(halves(slices, digit)), RULES)
    assert len(out) == (2 if split else 1)


def test_split_leaves_blobs_far_taller_than_the_digits_alone():
    """A signature or a ticked box, more than twice the page's digit height, is not cut into digits."""
    pieces, rows, _ = blob_pieces(probs(None, 0.8))  # 67 px tall
    calls: list = []
    kept, _ = split_touching(pieces, rows, 30, stub_judge(halves(0.97), calls), RULES)  # 2.2 digit heights
    assert kept is pieces and calls == []
    assert len(split_touching(pieces, rows, 40, stub_judge(halves(0.97)), RULES)[0]) == 2  # 1.7


def test_split_leaves_blobs_under_half_the_sure_digits_height_alone():
    """Printed lowercase pulls a form's typical height down; the least height worth cutting comes from
    the digits read surely (five or more), so a blob half their height is not tried."""
    blob, rows, _ = blob_pieces(probs(None, 0.8))  # 67 px tall, tried at a page digit height of 60
    tall = [ink_piece(Box(200 + 80 * i, 0, 60, 150)) for i in range(5)]  # read surely, 150 px tall
    sure = np.stack([probs(3, 0.99)] * 5)
    calls: list = []
    kept, _ = split_touching(blob + tall, np.concatenate([rows, sure]), 60, stub_judge(halves(0.97), calls), RULES)
    assert len(kept) == 6 and calls == []
    four = split_touching(blob + tall[:4], np.concatenate([rows, sure[:4]]), 60, stub_judge(halves(0.97)), RULES)
    assert len(four[0]) == 6  # four sure digits are too few to judge by: the blob is cut in two


def test_split_leaves_a_wide_blob_read_surely_as_one_digit_alone():
    """A 7 or a 5 with a long bar is wide; read at 0.95 or more it is one digit, and is not cut."""
    crop, box, _ = touching_pair("000")  # wide: about 1.6 times as wide as tall
    assert crop.shape[1] >= RULES.wide_aspect * crop.shape[0]
    pieces = [Piece(box, crop, crop)]
    calls: list = []
    kept, _ = split_touching(pieces, np.stack([probs(7, 0.96)]), 60, stub_judge(halves(0.99), calls), RULES)
    assert kept is pieces and calls == []
    assert len(split_touching(pieces, np.stack([probs(7, 0.9)]), 60, stub_judge(halves(0.99)), RULES)[0]) > 1


@pytest.mark.parametrize("text, cut", [("0000", False), ("000", True)])
def test_a_rejected_blob_cut_mostly_into_1s_is_a_letter_s_stems(text, cut):
    """Bold serif capitals touching (RM in a form's title) are one blob the model rejects; cut, their
    stems read as 1s and a bowl unsurely as another digit. Four parts or more like that are left
    whole; three (touching digits: a 1, an unsure 2, a 4 read as 1) are still cut."""
    crop, box, drawn = touching_pair(text)
    bowl = drawn[1].x + box.x

    def read(piece):
        if not 28 <= piece.box.w <= 46:
            return probs(8, 0.1)
        return probs(3, 0.3) if abs(piece.box.x - bowl) <= 8 else probs(1, 0.9)

    judge = dataclasses.replace(stub_judge(read), digits=CLASSES.best)
    pieces = [Piece(box, crop, crop)]
    out, rows = split_touching(pieces, np.stack([probs(None, 0.9)]), 60, judge, RULES)
    assert len(out) == (len(text) if cut else 1), [p.box for p in out]
    if cut:
        assert [int(r[:10].argmax()) for r in rows] == [1, 3, 1]


def test_split_leaves_narrow_digits_alone():
    crop = np.zeros((60, 30), np.uint8)
    draw_text(crop, "0", 3, 3, 54, 4, ink=255)
    calls: list = []
    out, _ = split_touching([Piece(Box(0, 0, 30, 60), crop, crop)], np.stack([probs(0, 0.3)]), 60,
                            stub_judge(halves(0.99), calls), RULES)
    assert len(out) == 1 and calls == []


def real_judge(classifier) -> Judge:
    """The recogniser's judge, built from the public stages: normalise, then the real interpreter."""
    spec = classifier.metadata.input
    classes = Classes.of(classifier.metadata)

    def make_piece(crop, box):
        return Piece(box, crop, to_model_input(crop, spec.digit_box, (spec.height, spec.width), spec.stroke_width))

    return Judge(make_piece=make_piece, predict=lambda ps: classifier.predict(np.stack([p.model_input for p in ps])),
                 confidence=classes.confidence, rejected=classes.rejected)


def test_split_with_the_shipped_model_reads_two_touching_digits(classifier):
    image = page(200, 400)
    draw_text(image, "35", 60, 50, 80, 6, pitch=0.5)
    seg = segment(image)
    assert len(seg.candidates) == 1  # one blob
    judge = real_judge(classifier)
    (cand,) = seg.candidates
    pieces = [judge.make_piece(cand.crop, cand.box)]
    out, rows = split_touching(pieces, judge.predict(pieces), seg.digit_height, judge)
    assert len(out) == 2
    ordered = [int(r[:10].argmax()) for _, r in sorted(zip([p.box.x for p in out], rows))]
    assert ordered == [3, 5]


# --- normalise ------------------------------------------------------------------------------------

def ink_of(char: str, size=(150, 120), at=(30, 20), height=100, pen=6) -> np.ndarray:
    crop = np.zeros(size, np.uint8)
    draw_text(crop, char, at[0], at[1], height, pen, ink=255)
    return crop


def test_model_input_is_mnist_shaped_and_centred_by_mass():
    for char in "0147":
        out = to_model_input(ink_of(char))
        assert out.shape == (28, 28) and out.dtype == np.uint8
        ys, xs = np.nonzero(out > 40)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (20, 21, 22)  # fitted to the 20 px box
        m = cv2.moments(out)
        assert abs(m["m10"] / m["m00"] - 14) <= 1 and abs(m["m01"] / m["m00"] - 14) <= 1, char
    assert (to_model_input(np.zeros((30, 30), np.uint8)) == 0).all()


def test_model_input_polarity_size_and_pen():
    crop = ink_of("0", pen=3)
    light = to_model_input(crop)
    assert light[0, 0] == 0 and light.max() > 100
    assert np.array_equal(to_model_input(crop, light_on_dark=False), cv2.bitwise_not(light))
    assert to_model_input(crop, box=26, size=(32, 32)).shape == (32, 32)
    for pen in (2, 22):  # a fine pen fades at 28 px, a marker blots: both brought near the training pen
        crop = ink_of("0", pen=pen)
        plain = stroke_width(to_model_input(crop) >= 128)
        matched = stroke_width(to_model_input(crop, target_stroke=2.4) >= 128)
        assert abs(matched - 2.4) < abs(plain - 2.4) - 0.5, (pen, plain, matched)


def test_drawn_digits_read_through_normalise_and_the_shipped_model(classifier):
    spec = classifier.metadata.input
    inputs = np.stack([to_model_input(ink_of(c), spec.digit_box, (spec.height, spec.width), spec.stroke_width)
                       for c in "0123457"])
    rows = classifier.predict(inputs)
    classes = Classes.of(classifier.metadata)
    assert rows.shape == (7, 11)
    best = rows[:, list(classes.digit_outputs)].argmax(axis=1)
    assert [classes.digit_values[i] for i in best] == [0, 1, 2, 3, 4, 5, 7]
    assert (classes.confidence(rows) > 0.8).all() and not classes.rejected(rows).any()


# --- classify -------------------------------------------------------------------------------------

def metadata(labels, reject: str | None = None) -> ModelMetadata:
    return ModelMetadata(model_file="m.tflite", model_sha256="0", labels=tuple(labels), reject_label=reject)


def test_classes_of_ten_and_eleven_labels(classifier):
    ten = Classes.of(metadata("0123456789"))
    assert ten.digit_outputs == tuple(range(10)) and ten.digit_values == tuple(range(10)) and ten.reject is None
    eleven = Classes.of(metadata([*"0123456789", REJECT_LABEL], REJECT_LABEL))
    assert eleven.digit_outputs == tuple(range(10)) and eleven.reject == 10
    assert Classes.of(classifier.metadata) == eleven  # the shipped model's contract
    # Any order of outputs: the metadata says which is which.
    shuffled = Classes.of(metadata([REJECT_LABEL, *"9876543210"], REJECT_LABEL))
    assert shuffled.reject == 0 and shuffled.digit_outputs == tuple(range(1, 11))
    assert shuffled.digit_values == (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)


def test_confidence_and_rejected_leave_the_reject_class_out():
    rows = np.stack([probs(3, 0.9), probs(None, 0.6), probs(None, 0.8), np.full(11, 1 / 11, np.float32)])
    eleven = Classes.of(metadata([*"0123456789", REJECT_LABEL], REJECT_LABEL))
    assert eleven.confidence(rows) == pytest.approx([0.9, 0.04, 0.02, 1 / 11])
    assert eleven.rejected(rows).tolist() == [False, True, True, False]  # a tie is no rejection
    strict = Classes.of(metadata([*"0123456789", REJECT_LABEL], REJECT_LABEL), reject_min=0.75)
    assert strict.rejected(rows).tolist() == [False, False, True, False]  # 0.6 is not enough
    ten = Classes.of(metadata("0123456789"))
    assert ten.confidence(rows[:, :10]).tolist() == pytest.approx(rows[:, :10].max(axis=1).tolist())
    assert not ten.rejected(rows[:, :10]).any()
    assert eleven.confidence(np.zeros((0, 11))).shape == (0,) and eleven.rejected(np.zeros((0, 11))).shape == (0,)


def test_to_digits_scales_and_clips_boxes_into_the_image():
    eleven = Classes.of(metadata([*"0123456789", REJECT_LABEL], REJECT_LABEL))
    boxes = [Box(10, 20, 15, 30), Box(290, 5, 30, 30), Box(50, 50, 10, 10)]
    rows = np.stack([probs(7, 0.9), probs(2, 0.8), probs(None, 0.9)])
    digits, rejected = to_digits(boxes, rows, eleven, scale=0.5, width=600, height=200)
    assert [d.digit for d in digits] == [7, 2]
    assert digits[0].box == Box(20, 40, 30, 60)  # working pixels at half size -> image pixels
    assert digits[1].box == Box(580, 10, 20, 60)  # clipped at the image's right edge
    assert digits[0].confidence == pytest.approx(0.9) and digits[0].reject == pytest.approx(0.01)
    assert digits[0].probabilities == tuple(pytest.approx(v) for v in rows[0].tolist())
    assert [r.box for r in rejected] == [Box(100, 100, 20, 20)] and rejected[0].reject == pytest.approx(0.9)
    shuffled = Classes.of(metadata([REJECT_LABEL, *"9876543210"], REJECT_LABEL))
    row = np.zeros(11, np.float32)
    row[3] = 1.0  # output 3 is the digit 7 in this model
    assert [d.digit for d in to_digits([Box(0, 0, 5, 5)], row[None], shuffled, 1.0, 10, 10)[0]] == [7]
    assert to_digits([], np.zeros((0, 11)), eleven, 1.0, 10, 10) == ([], [])


def glyph(x: int, bottom: int, w: int, h: int, digit: int = 0, confidence: float = 0.9) -> Digit:
    return Digit(digit, confidence, Box(x, bottom - h, w, h))


def test_a_printed_digit_among_letters_is_dropped():
    digit = glyph(100, 70, 12, 20, 1)
    letters = [glyph(x, 70, 12, h) for x, h in ((60, 14), (76, 20), (118, 14), (134, 15))]
    kept, printed = drop_printed([digit], letters)
    assert kept == [] and printed == [digit]
    assert drop_printed([digit], letters, PrintedOptions(enabled=False)) == ([digit], [])
    assert drop_printed([digit], letters[:1]) == ([digit], [])  # one letter beside it is not text
    off_line = [glyph(l.box.x, 82, l.box.w, l.box.h) for l in letters]  # below its baseline
    assert drop_printed([digit], off_line) == ([digit], [])
    far = [glyph(l.box.x + 200, 70, l.box.w, l.box.h) for l in letters]
    assert drop_printed([digit], far) == ([digit], [])


def test_a_letter_in_a_row_of_print_is_dropped_however_far_the_row_runs():
    """A heading's "O" read as 0: its neighbour is the rest of the word printed as one blob (no single
    glyph), and the row's letters run on beyond it, each within reach of the next."""
    o = glyph(60, 90, 30, 30, 0)
    heading = [glyph(93, 90, 70, 30), glyph(200, 90, 30, 30), glyph(236, 90, 28, 30), glyph(300, 90, 24, 30)]
    assert drop_printed([o], heading) == ([], [o])
    assert drop_printed([o], heading[:2]) == ([o], [])  # one letter along the row is not a row of print
    # A small label ("1. Amount") beside big handwriting: its word is one blob, and counts as letters.
    label = glyph(70, 224, 10, 17, 1)
    handwriting = [glyph(360 + 40 * i, 240, 30, 42, 8) for i in range(4)]
    amount = [glyph(94, 223, 37, 16), glyph(145, 223, 13, 12), glyph(159, 223, 13, 12), glyph(173, 223, 8, 16)]
    kept, printed = drop_printed([label, *handwriting], amount)
    assert printed == [label] and kept == handwriting


def test_print_found_in_one_round_links_its_row_for_the_next():
    """A bold title's "...ation form": its "o"s and "f" read as digits break the row of rejected
    letters, so the "m" cut into three strokes (read as 1s) has one letter beside it; once those are
    found printed, the row runs on through them."""
    letters = [glyph(237, 88, 23, 24), glyph(263, 87, 19, 29), glyph(326, 88, 23, 24), glyph(414, 88, 17, 24)]
    word = [glyph(285, 87, 8, 30, 1), glyph(297, 88, 25, 24, 0), glyph(366, 88, 18, 31, 4, 0.11),
            glyph(384, 88, 25, 24, 0)]
    m = [glyph(433, 88, 9, 23, 1), glyph(441, 88, 16, 24, 1), glyph(458, 88, 11, 24, 1)]
    handwriting = [glyph(300 + 40 * i, 400, 30, 40, 8) for i in range(6)]
    kept, printed = drop_printed([*word, *m, *handwriting], letters)
    assert kept == handwriting and sorted(printed, key=lambda d: d.box.x) == [*word, *m]
    kept, printed = drop_printed([*word, *m, *handwriting], letters, PrintedOptions(rounds=1))
    assert kept == [*m, *handwriting]


def test_small_print_with_a_wandering_baseline_is_print():
    """A blurred photo's "1. Customer": the small 1 and the letters beside it are centred on one line,
    but their bottoms differ by more than a sharp scan's would; one letter beside a small digit will do."""
    handwriting = [glyph(300 + 32 * i, 240, 28, 40, 7) for i in range(4)]
    one = glyph(100, 102, 8, 15, 1)
    letter = glyph(124, 108, 16, 15)  # 6 px lower: blur and tilt
    kept, printed = drop_printed([one, *handwriting], [letter, glyph(600, 240, 30, 40)])
    assert printed == [one] and kept == handwriting
    # Handwriting at the page's size still needs two letters right beside it, on its baseline.
    big = glyph(100, 140, 26, 40, 1)
    assert drop_printed([big, *handwriting], [glyph(130, 146, 30, 38)])[1] == []
    # A small digit's neighbour must stand on its line.
    assert drop_printed([one, *handwriting], [glyph(124, 122, 16, 15), glyph(600, 240, 30, 40)])[1] == []


def test_a_handwritten_number_a_word_space_from_handwritten_words_is_no_print():
    """Print-style handwriting ("apples 352" in separate letters, all on one baseline): the number
    stands a word space from the word, at the page's handwriting size, and is kept; an l of the word
    read as 1, and a number written right against the word, stay print."""
    word = [glyph(x, 140, 22, h) for x, h in ((40, 22), (66, 30), (92, 30), (144, 22), (170, 22))]
    one = glyph(120, 140, 10, 40, 1)  # the word's l
    number = [glyph(230 + 30 * i, 140, 26, 40, d) for i, d in enumerate((3, 5, 2))]  # 38 px from the word
    kept, printed = drop_printed([one, *number], word)
    assert kept == number and printed == [one]
    # Its digits are one run: the last one, far from the word on its own, goes with the first (read
    # unsurely: sure digits at the page's size are handwriting wherever they stand).
    close = [glyph(x, 140, 26, 40, d.digit, 0.8) for x, d in zip((200, 230, 260), number)]
    assert drop_printed([one, *close], word)[0] == []
    # Small beside the page's handwriting, a word space is no sign of a hand: a form's printed label.
    small = [glyph(212 + 14 * i, 140, 12, 18, d) for i, d in enumerate((3, 5))]  # 20 px: a word space
    assert drop_printed([*small, *(glyph(500 + 30 * i, 300, 26, 40, 7) for i in range(4))], word)[1] == small
    assert drop_printed([one, *number], word, PrintedOptions(word_space=99.0, hand_sure=1.0))[0] == []


def test_sure_handwritten_digits_among_touching_pairs_are_no_print():
    """Touching page 230: "9889", the 88 a rejected blob, and more touching pairs rejected after it,
    all on one baseline at one size, as print stands. A 9 read surely at the page's size is
    handwriting; a 1 or a 0 (print's l, I, o and O) or an unsure digit there is still print."""
    pairs = [glyph(103, 370, 54, 52), glyph(193, 370, 60, 52), glyph(256, 370, 58, 52)]
    nines = [glyph(70, 370, 31, 52, 9, 0.98), glyph(160, 370, 31, 52, 9, 0.97)]
    page = [glyph(100 + 40 * i, 600, 30, 52, 4, 0.99) for i in range(4)]
    assert drop_printed([*nines, *page], pairs) == ([*nines, *page], [])
    assert drop_printed([*nines, *page], pairs, PrintedOptions(hand_sure=1.0))[1] == nines
    ones = [glyph(70, 370, 31, 52, 1, 0.98), glyph(160, 370, 31, 52, 9, 0.6)]
    assert drop_printed([*ones, *page], pairs)[1] == ones
    small = [glyph(70, 370, 20, 32, 9, 0.98)]  # small print at 0.6 of the page's height
    assert drop_printed([*small, *page], pairs)[1] == small


def test_an_unsure_digit_in_a_handwritten_word_is_dropped():
    letter = Digit(1, 0.45, Box(100, 100, 14, 40))
    word = [Digit(0, 0.1, Box(118, 102, 60, 38), reject=0.95)]  # the rest of the word, joined up
    kept, dropped = drop_in_words([letter], word)
    assert kept == [] and dropped == [letter]
    sure = Digit(4, 0.97, letter.box)  # a digit the model is sure of stays beside one letter
    assert drop_in_words([sure], word) == ([sure], [])
    apart = [Digit(0, 0.1, Box(140, 102, 60, 38), reject=0.95)]  # 26 px off: beyond half its height
    assert drop_in_words([letter], apart) == ([letter], [])
    below = [Digit(0, 0.1, Box(118, 150, 60, 38), reject=0.95)]
    assert drop_in_words([letter], below) == ([letter], [])
    assert drop_in_words([letter], word, WordOptions(enabled=False)) == ([letter], [])


def test_a_sure_digit_between_two_letters_of_a_word_is_dropped():
    """An a read surely as a 4, inside a word whose letters left and right of it were rejected."""
    el = Digit(4, 0.97, Box(100, 100, 10, 40))
    left = Digit(0, 0.1, Box(70, 110, 26, 30), reject=0.9)  # 4 px off: a tenth of its height
    right = Digit(0, 0.1, Box(116, 110, 30, 30), reject=0.9)
    assert drop_in_words([el], [left, right]) == ([], [el])
    assert drop_in_words([el], [left]) == ([el], [])  # one side only: a digit after a word
    far = Digit(0, 0.1, Box(124, 110, 30, 30), reject=0.9)  # 14 px off: over 0.3 of its height
    assert drop_in_words([el], [left, far]) == ([el], [])
    assert drop_in_words([el], [left, right], WordOptions(flanked=0.0)) == ([el], [])


def test_a_lone_1_right_beside_a_letter_is_dropped():
    """A signature's tall first stroke, or the l of "lamps" cut off the rest of the word: read surely
    as a 1, a rejected letter right after it, no digit on its line."""
    el = Digit(1, 0.98, Box(100, 100, 10, 40))
    rest = Digit(0, 0.1, Box(114, 112, 60, 28), reject=0.9)  # 4 px off: a tenth of its height
    assert drop_in_words([el], [rest]) == ([], [el])
    seven = Digit(7, 0.98, el.box)  # only a 1 is one stroke, like a letter's stem
    assert drop_in_words([seven], [rest]) == ([seven], [])
    number = [Digit(4, 0.95, Box(64, 100, 28, 40)), el]  # a number ending in 1, a letter after it
    assert drop_in_words(number, [rest]) == (number, [])
    spaced = Digit(0, 0.1, Box(134, 112, 60, 28), reject=0.9)  # a word's space off: a 1 after a word
    assert drop_in_words([el], [spaced]) == ([el], [])
    assert drop_in_words([el], [rest], WordOptions(one_reach=0.0)) == ([el], [])


def test_a_1_standing_on_a_signature_is_its_capital_s_stem():
    """"Lena Lind" signed in one go but for the L's stem, drawn apart: a sure 1 whose foot rests on
    the rejected word under it (forms 46 and 109 of the tuning pages)."""
    stem = Digit(1, 0.95, Box(440, 674, 18, 60))
    word = Digit(0, 0.1, Box(427, 737, 93, 46), reject=0.9)
    assert drop_in_words([stem], [word]) == ([], [stem])
    assert drop_in_words([stem], [word], WordOptions(stem_word=9.0)) == ([stem], [])
    # Not a number written just above the next line's words: its 1 has digits beside it ...
    number = [stem, Digit(9, 0.95, Box(462, 672, 26, 60)), Digit(9, 0.95, Box(492, 674, 26, 60))]
    assert drop_in_words(number, [word]) == (number, [])
    # ... nor another digit, nor a 1 standing on an underline (too thin) or off the word's end.
    four = Digit(4, 0.95, stem.box)
    assert drop_in_words([four], [word]) == ([four], [])
    underline = Digit(0, 0.1, Box(380, 734, 200, 6), reject=0.9)
    assert drop_in_words([stem], [underline]) == ([stem], [])
    beside = Digit(0, 0.1, Box(470, 737, 93, 46), reject=0.9)
    assert drop_in_words([stem], [beside]) == ([stem], [])


def test_two_stems_on_one_signature_do_not_vouch_for_each_other():
    """A signature's two tall strokes standing on its joined-up body (form 275 of the tuning pages):
    each 1 has the other beside it, but the other is no digit of a number either."""
    word = Digit(0, 0.01, Box(406, 1144, 133, 22), reject=0.9)
    stems = [Digit(1, 0.79, Box(420, 1091, 22, 51)), Digit(1, 0.96, Box(482, 1085, 22, 54))]
    assert drop_in_words(stems, [word]) == ([], stems)
    # A digit that is no such 1 beside them still makes them a number's.
    number = [*stems, Digit(7, 0.97, Box(540, 1088, 26, 52))]
    assert drop_in_words(number, [word]) == (number, [])


def test_a_lone_1_beside_a_scribble_is_one_of_its_strokes():
    """A short upright stroke of a signature beside its body, a blob far taller than it (form 58)."""
    stroke = Digit(1, 0.96, Box(442, 930, 10, 19))
    body = Digit(0, 0.06, Box(456, 900, 72, 71), reject=0.9)
    assert drop_in_words([stroke], [body]) == ([], [stroke])
    assert drop_in_words([stroke], [body], WordOptions(scribble=9.0)) == ([stroke], [])
    lower = Digit(0, 0.06, Box(456, 945, 72, 71), reject=0.9)  # level with the stroke's foot only
    assert drop_in_words([stroke], [lower]) == ([stroke], [])
    number = [stroke, Digit(5, 0.97, Box(420, 930, 14, 19))]
    assert drop_in_words(number, [body]) == (number, [])


def test_a_tall_lone_1_through_a_signature_line_is_its_capital():
    """Form 178: a signature's capital drawn as one stroke twice the page's digits' height through
    the signature line, the rest of the name small beside it (too small to count as its letters)."""
    stroke = Digit(1, 0.94, Box(449, 1327, 32, 73))
    rest = Digit(0, 0.03, Box(424, 1373, 19, 27), reject=0.9)
    page = [Digit(d, 0.97, Box(470 + 30 * i, 1265, 22, 37)) for i, d in enumerate((6, 3, 0, 4, 2))]
    kept, letters = drop_in_words([stroke, *page], [rest])
    assert letters == [stroke] and kept == page
    # Not on a page of digits as tall as it, nor with its neighbour further off than 0.75 its height.
    assert drop_in_words([stroke], [rest])[1] == []
    far = Digit(0, 0.03, Box(360, 1373, 19, 27), reject=0.9)
    assert drop_in_words([stroke, *page], [far])[1] == []
    assert drop_in_words([stroke, *page], [rest], WordOptions(tall_one=2.5))[1] == []
    # Form 74: a t's stroke through the signature line; the rest of the name, broken off at the
    # line, stands 0.6 of its height away and shares under half its rows.
    t = Digit(1, 0.92, Box(349, 930, 28, 64))
    name = Digit(2, 0.01, Box(416, 965, 70, 63), reject=0.95)
    assert drop_in_words([t, *page], [name]) == (page, [t])
    assert drop_in_words([t, *page], [name], WordOptions(tall_reach=0.5, tall_span=0.5))[1] == []


def test_digits_run_on_from_a_handwritten_capital_are_its_word():
    """Form 697: "Moss", the M rejected, "oss" read surely as 1, 1, 6, 4, 0, each touching the next on
    the M's baseline; a number a word's space after a capital, after a comb's wall, or off its
    baseline stays."""
    m = Digit(6, 0.01, Box(328, 155, 76, 73), reject=0.98)
    oss = [Digit(d, c, Box(*box)) for d, c, box in (
        (1, 0.93, (413, 194, 15, 33)), (1, 0.98, (425, 191, 10, 29)), (6, 0.99, (433, 195, 26, 32)),
        (4, 0.97, (455, 204, 13, 22)), (0, 0.82, (466, 204, 20, 21)))]
    number = [Digit(d, 0.99, Box(600 + 30 * i, 190, 26, 36)) for i, d in enumerate((3, 5, 2))]
    kept, letters = drop_in_words([*oss, *number], [m])
    assert kept == number and letters == oss
    spaced = [Digit(d.digit, d.confidence, Box(d.box.x + 15, d.box.y, d.box.w, d.box.h)) for d in oss]
    assert drop_in_words(spaced, [m])[1] == []  # 24 px: 0.7 of the first digit's height
    wall = Digit(1, 0.01, Box(380, 155, 20, 73), reject=0.98)  # thin
    assert drop_in_words(oss, [wall])[1] == []
    above = Digit(6, 0.01, Box(328, 120, 76, 73), reject=0.98)  # its bottom 34 px above theirs
    assert drop_in_words(oss, [above])[1] == []
    assert drop_in_words(oss, [m], WordOptions(capital_gap=0.1))[1] == []


def test_the_unsure_letters_of_a_word_go_one_after_another():
    """"Mill": the M rejected, the i and both ls read unsurely as 1s, each beside the one before."""
    m = Digit(0, 0.1, Box(100, 100, 40, 40), reject=0.95)
    ill = [Digit(1, 0.5, Box(142 + 24 * i, 100, 10, 40)) for i in range(3)]
    number = [Digit(4, 0.55, Box(260, 100, 26, 40))]  # a word's space away: stays, however unsure
    kept, dropped = drop_in_words(ill + number, [m])
    assert dropped == ill and kept == number
    sure = Digit(1, 0.95, ill[1].box)  # a sure digit breaks the chain
    assert drop_in_words([ill[0], sure, ill[2]], [m]) == ([sure, ill[2]], [ill[0]])


def test_an_unsure_digit_alone_among_print_is_dropped():
    """A label's letter left alone by the reading, read as a 1 at 0.4: print around it, nothing on its
    line within a height of it."""
    letter = Digit(1, 0.4, Box(200, 200, 12, 30))
    labels = [Digit(0, 0.1, Box(80, 160, 90, 20), reject=0.9), Digit(0, 0.1, Box(80, 260, 70, 20), reject=0.9)]
    kept, dropped = drop_lone_unsure([letter], labels)
    assert kept == [] and dropped == [letter]
    sure = Digit(1, 0.9, letter.box)
    assert drop_lone_unsure([sure], labels) == ([sure], [])
    # A neighbour on its line, digit or not, is company: a number's digit, a word's other letters.
    neighbour = Digit(7, 0.95, Box(230, 202, 20, 30))
    assert drop_lone_unsure([letter, neighbour], labels) == ([letter, neighbour], [])
    assert drop_lone_unsure([letter], labels + [Digit(0, 0.1, Box(222, 198, 40, 32), reject=0.9)])[1] == []
    # On a sheet of handwriting (no print around it) an unsure digit alone stays: it is mostly real.
    assert drop_lone_unsure([letter], labels[:1]) == ([letter], [])
    far = [Digit(0, 0.1, Box(600, 160 + 40 * i, 90, 20), reject=0.9) for i in range(3)]
    assert drop_lone_unsure([letter], far) == ([letter], [])
    assert drop_lone_unsure([letter], labels, LoneOptions(enabled=False)) == ([letter], [])


def test_a_small_numeral_with_print_after_it_numbers_a_printed_label():
    """A photo's "5. Quantity": the label's letters blurred into one blob, its top level with the 5."""
    handwriting = [glyph(300 + 32 * i, 240, 28, 40, 7) for i in range(4)]
    five = glyph(100, 100, 12, 16, 5)
    label = glyph(122, 104, 80, 20)  # "Quantity": top level with the 5, its y's tail below the line
    kept, markers = drop_list_markers([five, *handwriting], [label])
    assert markers == [five] and kept == handwriting
    capital = glyph(120, 100, 14, 20)  # "Name": its N a little taller than the numeral, alone
    assert drop_list_markers([five, *handwriting], [capital])[1] == [five]
    # On a blurred photo the numeral's box (its period's blur) reaches below the label's letters.
    assert drop_list_markers([five, *handwriting], [glyph(122, 97, 80, 13)])[1] == [five]
    # The print must come after the digit, close, level with it, and be more than a sliver.
    for other in (glyph(10, 104, 80, 20), glyph(150, 104, 80, 20), glyph(122, 110, 80, 20),
                  glyph(122, 100, 6, 16), glyph(122, 90, 80, 20)):
        assert drop_list_markers([five, *handwriting], [other])[1] == [], other
    # A digit of the handwriting's size beside a rejected blob (touching digits, a word) stays.
    big = glyph(100, 240, 28, 40, 5)
    assert drop_list_markers([big, *handwriting], [glyph(134, 240, 80, 42)])[1] == []
    assert drop_list_markers([five, *handwriting], [label], MarkerOptions(enabled=False))[1] == []
    # Form 581, a photo: "2." 17 px tall (its period joined) beside handwriting 28 px tall.
    two = glyph(179, 268, 17, 17, 2)
    customer = glyph(203, 272, 35, 18)
    digits = [glyph(300 + 32 * i, 240, 24, 28, 7) for i in range(4)]
    assert drop_list_markers([two, *digits], [customer]) == (digits, [two])
    assert drop_list_markers([two, *digits], [customer], MarkerOptions(small=0.6))[1] == []


def test_a_list_number_goes_with_a_label_letter_read_as_a_digit():
    """A photo's "5. Options" whose O was read as a 0: the 0 has print after it, the 5 has the 0."""
    handwriting = [glyph(300 + 32 * i, 240, 28, 40, 7) for i in range(4)]
    five, o = glyph(100, 100, 12, 16, 5), glyph(116, 100, 13, 16, 0)
    rest = glyph(132, 103, 60, 14)  # "ptions": lowercase, its top at the letters' middle height
    kept, markers = drop_list_markers([five, o, *handwriting], [rest])
    assert set(map(id, markers)) == {id(five), id(o)} and kept == handwriting
    # Without print after the chain nothing goes, however small the digits.
    assert drop_list_markers([five, o, *handwriting], [glyph(10, 100, 60, 15)])[1] == []


def test_a_handwritten_number_beside_a_joined_up_word_is_kept():
    number = [glyph(300, 100, 26, 40, 4), glyph(330, 100, 26, 40, 2)]
    word = [glyph(160, 100, 120, 38), glyph(200, 100, 90, 40)]  # cursive words: one wide blob each
    assert drop_printed(number, word) == (number, [])


# --- layout ---------------------------------------------------------------------------------------

def row_of(values: str, x: float, y: float, slope: float = 0.0, w: int = 30, h: int = 50,
           gap: int = 10) -> list[Digit]:
    """Digits side by side, ``gap`` px apart, each ``slope`` px lower per px to the right."""
    return [Digit(int(v), 0.9, Box(int(x + i * (w + gap)), int(round(y + slope * i * (w + gap))), w, h))
            for i, v in enumerate(values)]


def test_group_lines_follows_tilted_lines():
    """Two lines tilting down by 0.1: the first line's end sits lower than the second line's start,
    so sorting by height alone would interleave them."""
    top = row_of("123456789012345", 20, 100, slope=0.1, h=40)
    bottom = row_of("987654321098765", 20, 155, slope=0.1, h=40)
    assert top[-1].box.y > bottom[0].box.y
    shuffled = list(np.random.default_rng(0).permutation(np.array(top + bottom, dtype=object)))
    lines = group_lines(shuffled)
    assert [[d.digit for d in line] for line in lines] == [[d.digit for d in top], [d.digit for d in bottom]]


def test_split_numbers_at_gaps_and_by_comb_fields():
    digits = row_of("12", 0, 0) + row_of("345", 120, 0)  # a 50 px gap: wider than a digit
    assert [[d.digit for d in n] for n in split_numbers(digits)] == [[1, 2], [3, 4, 5]]
    ones = row_of("111", 0, 0, w=8, gap=18)  # narrow 1s: the gap is judged against 0.45 of their height
    assert len(split_numbers(ones)) == 1
    spaced = row_of("2024", 0, 0, gap=40)  # a comb: one box per digit, wide gaps between them
    assert len(split_numbers(spaced)) == 4
    comb = Box(-5, -5, 200, 60)  # around the first three
    # The next digit a pitch on (70 px, centre to centre) is in the comb's next box, whose wall was
    # not found; two pitches on, it is a number of its own.
    assert [[d.digit for d in n] for n in split_numbers(spaced, [comb])] == [[2, 0, 2, 4]]
    apart = spaced[:3] + row_of("4", 280, 0)
    assert [[d.digit for d in n] for n in split_numbers(apart, [comb])] == [[2, 0, 2], [4]]
    before = row_of("9", -70, 0) + spaced[:3]  # the comb's first box, before the field found
    assert [[d.digit for d in n] for n in split_numbers(before, [comb])] == [[9, 2, 0, 2]]
    # Right after the field, outside it but as close as its digits are to each other: the rest of a
    # comb whose walls the segmenter found only in part (photos of forms 1-120: 32 numbers split so).
    beside = spaced[:3] + row_of("7", 200, 0)
    assert len(split_numbers(beside)) == 3
    assert [[d.digit for d in n] for n in split_numbers(beside, [comb])] == [[2, 0, 2, 7]]
    # Two fields side by side (a date's DD MM) are two numbers, however close.
    date = row_of("0312", 0, 0)
    assert [[d.digit for d in n] for n in split_numbers(date, [Box(-5, -5, 75, 60), Box(75, -5, 80, 60)])] == \
        [[0, 3], [1, 2]]
    assert split_numbers([]) == []


def test_parts_of_one_comb_are_joined_into_one_field():
    """Passes over a photographed comb find some of its walls each: overlapping or meeting parts on
    one row are one field; a date's combs a gap apart, or combs on other rows, stay apart."""
    parts = [Box(342, 460, 239, 60), Box(400, 463, 475, 60), Box(875, 462, 60, 58)]
    assert joined_fields(parts) == [Box(342, 460, 593, 63)]
    date = [Box(100, 100, 90, 44), Box(220, 100, 90, 44)]  # 30 px apart: two combs
    assert joined_fields(date) == date
    rows = [Box(100, 100, 200, 44), Box(150, 150, 200, 44)]  # one under the other
    assert joined_fields(rows) == rows
    assert joined_fields([]) == []


def test_marks_far_from_the_handwriting_size_are_dropped():
    line = row_of("4812", 20, 100, h=40)
    stub = Digit(1, 0.95, Box(int(line[1].box.x2 + 2), 125, 2, 15))  # a box wall's stub in the line
    label = Digit(1, 0.8, Box(20, 30, 6, 14))  # a label's letter, on a line of its own
    signature = Digit(6, 0.95, Box(40, 200, 90, 110))  # a scrawl on the signature line
    fragment = Digit(1, 0.95, Box(500, 600, 4, 19))  # under half the page's digits: a line's stub
    more = row_of("5067", 300, 100, h=42)
    kept, dropped = drop_out_of_scale([*line, stub, label, signature, fragment, *more])
    assert sorted(d.box.x for d in kept) == sorted(d.box.x for d in line + more)
    assert {d.box for d in dropped} == {stub.box, label.box, signature.box, fragment.box}
    # With few digits the page's median means nothing: only the line's own scale is judged.
    kept, dropped = drop_out_of_scale([line[0], line[1], stub, signature])
    assert dropped == [stub] and signature in kept
    everything = [*line, stub, label, signature, *more]
    assert drop_out_of_scale(everything, ScaleOptions(enabled=False)) == (everything, [])
    assert drop_out_of_scale([]) == ([], [])


def test_a_1_far_taller_than_its_number_or_the_page_is_a_wall_or_a_stroke():
    """Form 41: a comb's wall 1.7 times its number's digits, read as a 1 among them; form 404: a
    signature's two strokes, 1.7 and 1.9 times the page's digits, each read as a 1 on its own."""
    number = row_of("532", 100, 100, h=34)
    wall = Digit(1, 0.96, Box(number[-1].box.x2 + 8, 90, 6, 58))
    tail = row_of("64", wall.box.x2 + 8, 100, h=34)
    more = row_of("7350", 100, 300, h=36)
    kept, dropped = drop_tall_ones([*number, wall, *tail, *more])
    assert dropped == [wall] and len(kept) == 9
    one = Digit(1, 0.96, Box(wall.box.x, 96, 10, 44))  # 1.3 times them: a handwritten 1
    assert drop_tall_ones([*number, one, *tail, *more])[1] == []
    strokes = [Digit(1, 0.94, Box(378, 600, 26, 61)), Digit(1, 0.93, Box(450, 589, 20, 66))]
    kept, dropped = drop_tall_ones([*number, *tail, *more, *strokes])
    assert sorted(d.box.x for d in dropped) == [378, 450]
    # 1s as tall as a number of their own size are handwriting, and so are tall 1s on a page of
    # too few digits to judge by.
    big = row_of("2511", 600, 600, h=60)
    assert drop_tall_ones([*number, *tail, *more, *big])[1] == []
    assert drop_tall_ones([*number[:2], *strokes])[1] == []
    assert drop_tall_ones([*number, wall, *tail, *more], ScaleOptions(enabled=False))[1] == []


def test_groups_follow_links_through_other_members():
    assert groups(6, [(4, 2), (0, 5), (2, 1)]) == [[0, 5], [1, 2, 4], [3]]
    assert groups(3, iter([])) == [[0], [1], [2]]
    assert groups(0, []) == []


def test_a_comb_wall_read_as_1_between_two_boxed_digits_is_dropped():
    """A comb of 36 px boxes in a field 50 px tall: digits in the boxes' middles, a wall left standing
    between two of them (form 66 of the tuning pages); a 1 written in a box stands a whole box from
    its neighbours."""
    field = Box(100, 100, 180, 50)
    four, seven, nine = (Digit(v, 0.95, Box(107 + 36 * i, 108, 22, 34)) for v, i in ((4, 0), (7, 1), (9, 3)))
    wall = Digit(1, 0.99, Box(134, 102, 5, 46))
    one = Digit(1, 0.95, Box(187, 108, 7, 34))  # box 2, between the 7 and the 9
    kept, dropped = drop_walls([four, wall, seven, one, nine], [field])
    assert dropped == [wall] and kept == [four, seven, one, nine]
    assert drop_walls([four, wall, seven], []) == ([four, wall, seven], [])  # no field found
    # A digit on one side only: a wall as thin as a printed rule (after a field's last digit, form 26)
    # goes; a 1 as thick as a pen's, written right beside the digit (form 55), stays.
    assert drop_walls([four, wall], [field]) == ([four], [wall])
    beside = Digit(1, 0.95, Box(134, 108, 9, 34))
    assert drop_walls([four, beside], [field]) == ([four, beside], [])
    assert drop_walls([four, wall], [field], WallOptions(one_side_aspect=0.1)) == ([four, wall], [])
    assert drop_walls([four, wall, seven], [field], WallOptions(enabled=False)) == ([four, wall, seven], [])
    assert drop_walls([four, wall, seven], [field], WallOptions(half_box=0.2))[1] == []
    # A photo's field a little taller than its boxes: the 7's centre 0.41 field heights off (form 85).
    seven_off = Digit(7, 0.95, Box(146, 108, 22, 34))
    assert drop_walls([four, wall, seven_off], [field])[1] == [wall]


def test_pieces_of_a_broken_edge_are_dropped():
    """A sheet's edge the ink detector broke into dashes: thin, one just below the next, leaning a
    little; some of them the model reads as 1s, the others it rejects."""
    line = row_of("4812", 20, 100, h=40)
    dashes = [Digit(1, 0.95, Box(500 + i // 2, 40 + 36 * i, 4, 30)) for i in range(0, 12, 2)]
    rejected = [Digit(0, 0.1, Box(500 + i // 2, 40 + 36 * i, 3, 28), reject=0.9) for i in range(1, 12, 2)]
    kept, dropped = drop_stacked([*line, *dashes], rejected)
    assert kept == line and dropped == dashes
    assert drop_stacked([*line, *dashes], rejected, StackOptions(enabled=False)) == ([*line, *dashes], [])
    # Handwritten 1s in a table's column: rows of writing are further apart, and they do not line up.
    column = [Digit(1, 0.95, Box(x, 40 + 70 * i, 8, 40)) for i, x in enumerate((300, 309, 296, 304, 312))]
    assert drop_stacked([*line, *column], [])[1] == []
    # Nor is a short stack an edge (a 1 above a 1 in two lines close together).
    assert drop_stacked([*line, *dashes[:2]], [])[1] == []
    assert drop_stacked([], rejected) == ([], [])
    # A blurred shadow strip's pieces are wider: up to 0.4 of their height.
    wide = [Digit(1, 0.9, Box(900 - 3 * i, 700 + 50 * i, 19 if i % 2 else 8, 48)) for i in range(4)]
    assert drop_stacked([*line, *wide], [])[1] == wide


def test_pieces_of_an_edge_far_apart_on_one_leaning_line_are_no_digits():
    """A sheet's edge in shadow, broken into short pieces with long gaps (the sheet not found): thin
    1s standing alone, whose centres lie on one straight line leaning 3 degrees, down the page."""
    line = row_of("4812", 20, 100, h=40)
    ys = (60, 190, 330, 420, 700)
    edge = [Digit(1, 0.95, Box(round(600 + 0.05 * y), y, 5, 30)) for y in ys]
    rejected = [Digit(0, 0.1, Box(round(600 + 0.05 * y), y, 4, 20), reject=0.9) for y in (520, 880)]
    kept, dropped = drop_stacked([*line, *edge], rejected)
    assert kept == line and dropped == edge
    # The same 1s, each the first digit of a number: a column of numbers that start with 1.
    numbers = [Digit(7, 0.95, Box(d.box.x2 + 6, d.box.y, 22, 30)) for d in edge]
    assert drop_stacked([*line, *edge, *numbers], rejected)[1] == []
    # Too few on the line, or too short a stretch of the page, is no edge.
    assert drop_stacked([*line, *edge[:2]], rejected[:1])[1] == []
    assert drop_stacked([*line, *edge[:3]], [])[1] == []


def test_mark_uncertain_and_arrange():
    digits = [Digit(4, 0.95, Box(100, 10, 30, 50)), Digit(2, 0.4, Box(140, 10, 30, 50)),
              Digit(7, 0.9, Box(10, 100, 30, 50))]
    assert mark_uncertain(digits, 0.0) is digits
    marked = mark_uncertain(digits, 0.5)
    assert [d.uncertain for d in marked] == [False, True, False] and marked[1].char == "?"
    assert [d.digit for d in mark_uncertain(digits, 0.5, drop=True)] == [4, 7]
    detections = Detections(width=300, height=200, digits=digits[::-1], timings={"segment": 1.5},
                            notes=["a note"])
    reading = arrange(detections, min_confidence=0.5)
    assert reading.text == "4?\n7" and reading.numbers == ["4?", "7"]
    assert [d.line for d in reading.digits] == [0, 0, 1]
    assert (reading.width, reading.height, reading.notes, reading.timings) == (300, 200, ["a note"], {"segment": 1.5})
    assert reading.timings is not detections.timings and reading.notes is not detections.notes
    assert arrange(detections, 0.5, drop_uncertain=True).text == "4\n7"
    assert [line.text for line in layout(digits)] == ["42", "7"]


# --- stabilise (the rest is in test_live.py) -------------------------------------------------------

def test_step_is_pure():
    options = StabilizeOptions(min_frames=2)
    first = step(TrackerState(), row_of("12", 100, 100), options)
    snapshot = (first.tracks, first.next_id, first.shift)
    again = step(first, row_of("12", 103, 101), options)
    assert (first.tracks, first.next_id, first.shift) == snapshot  # the old state is untouched
    assert step(first, row_of("12", 103, 101), options) == again  # same input, same state
    assert [d.digit for d in stable_digits(again, options)] == [1, 2]


def test_one_detection_continues_one_track():
    """Two detections over one track: the better overlap continues it, the other starts its own."""
    options = StabilizeOptions(min_frames=1)
    state = step(TrackerState(), [Digit(5, 0.9, Box(100, 100, 30, 50))], options)
    state = step(state, [Digit(5, 0.9, Box(120, 100, 30, 50)), Digit(5, 0.9, Box(102, 100, 30, 50))], options)
    ids = sorted((t.box[0], t.id, t.seen) for t in state.tracks)
    assert [(i, seen) for _, i, seen in ids] == [(0, 2), (1, 1)] and state.next_id == 2
