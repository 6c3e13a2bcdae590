"""The document generators (trainer.synth.documents): deterministic, and their ground truth is true.

Checked on the images themselves: every true digit's box holds ink, numbers on a line are parted by
clear paper, a comb field's digits sit in its boxes as one number, and a card in a clip never leaves
the frame. NumPy, OpenCV and Pillow only, so these run in the edge environments too. How well the
recogniser reads these pages is the benchmark's business (benchmarks/run.py), not these tests'.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.synth.documents import KINDS, TUNING_SEEDS, card_video, make_document, write_card_video
from edge.pipeline.results import Box
from trainer.synth.pages import ink_box

SEEDS = list(TUNING_SEEDS)[:3]
# Generating the documents these tests share takes seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def documents(mnist_bank) -> dict[str, list]:
    return {kind: [make_document(kind, mnist_bank, seed) for seed in SEEDS] for kind in KINDS}


def _depth(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Paper brightness and how much darker than it each pixel is, in the rectangle [x0, x1) x [y0, y1).

    The paper is found by closing over the strokes (a grey-level closing wider than a stroke), with
    ``height`` pixels of context around the rectangle, so shadows and uneven light are paper too.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    cx0, cy0, cx1, cy1 = max(0, x0 - height), max(0, y0 - height), min(w, x1 + height), min(h, y1 + height)
    crop = grey[cy0:cy1, cx0:cx1]
    size = max(3, int(0.6 * height) | 1)
    paper = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    depth = paper.astype(np.int32) - crop
    inside = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
    return paper[inside].astype(np.int32), depth[inside]


def test_same_seed_same_document_and_seeds_differ(mnist_bank, documents):
    for kind in KINDS:
        again = make_document(kind, mnist_bank, SEEDS[0])
        first = documents[kind][0]
        assert np.array_equal(again.image, first.image), kind
        assert again.digits == first.digits and again.numbers == first.numbers and again.lines == first.lines
        assert not np.array_equal(documents[kind][1].image, first.image), kind


def test_truth_is_consistent_and_inside_the_image(documents):
    for kind, pages in documents.items():
        for page in pages:
            h, w = page.image.shape[:2]
            assert page.digits, kind
            assert sorted(i for number in page.numbers for i in number) == list(range(len(page.digits)))
            assert " ".join(" ".join(line) for line in page.lines).split() == \
                ["".join(str(page.digits[i][0]) for i in n) for n in page.numbers]
            for value, box in page.digits:
                assert 0 <= value <= 9
                assert 0 <= box.x and 0 <= box.y and box.x2 <= w and box.y2 <= h, (kind, box)


def test_every_true_digit_box_holds_its_ink(documents):
    for kind, pages in documents.items():
        for page in pages:
            for value, box in page.digits:
                _, depth = _depth(page.image, box.x, box.y, box.x2, box.y2, box.h)
                assert depth.max() >= 40, (kind, value, box)  # a real stroke, not paper noise
                ink = depth >= max(12, 0.35 * depth.max())  # faint MNIST strokes count as ink too
                assert ink.mean() > 0.04, (kind, value, box)
                rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
                # The ink fills the box: not a box beside its digit or around empty paper.
                assert rows[-1] - rows[0] + 1 >= 0.7 * box.h, (kind, value, box)
                assert cols[-1] - cols[0] + 1 >= 0.4 * box.w, (kind, value, box)


def test_a_true_box_is_the_pen_stroke_not_its_faint_fringe():
    """A thin 1 with a faint anti-aliased fringe (as a scaled-up MNIST 1 has): its box is the stroke."""
    glyph = np.zeros((30, 20), np.uint8)
    glyph[2:28, 9:12] = 255
    glyph[2:28, 3:9] = 60
    glyph[0:2, 9:12] = 100
    assert ink_box(glyph, 100, 50) == Box(109, 52, 3, 26)
    faint = np.full((10, 6), 90, np.uint8)  # nothing half covered: the glyph as it is
    assert ink_box(faint, 5, 7) == Box(5, 7, 6, 10)


def test_clear_paper_between_numbers_on_a_line(documents):
    for kind, pages in documents.items():
        for page in pages:
            numbers = iter(page.numbers)
            for line in page.lines:
                members = [next(numbers) for _ in line]
                for left, right in zip(members, members[1:]):
                    a, b = page.digits[left[-1]][1], page.digits[right[0]][1]
                    top, bottom = max(a.y, b.y), min(a.y2, b.y2)
                    height = max(a.h, b.h)
                    assert b.x > a.x2 and bottom > top, (kind, a, b)
                    inset = int(0.2 * (bottom - top))
                    paper, depth = _depth(page.image, a.x2, top + inset, b.x, bottom - inset, height)
                    ink = depth > np.maximum(25, paper // 4)
                    clear = np.concatenate([[False], ~ink.any(axis=0), [False]]).astype(np.int8)
                    edges = np.flatnonzero(np.diff(clear))
                    widest = (edges[1::2] - edges[::2]).max(initial=0)
                    assert widest >= max(2, 0.15 * height), (kind, a, b, widest)


def test_a_comb_field_is_one_number_with_a_digit_in_each_box(documents, mnist_bank):
    pages = documents["form"] + [make_document("form", mnist_bank, SEEDS[-1] + k) for k in (1, 2)]
    combs = 0
    for page in pages:
        assert page.details["combs"], "every form has a comb field"
        for comb in page.details["combs"]:
            combs += 1
            digits = [page.digits[i][1] for i in page.numbers[comb["number"]]]
            assert 1 <= len(digits) <= len(comb["boxes"])
            for digit, (x, y, w, h) in zip(digits, comb["boxes"]):
                assert x <= digit.cx <= x + w and y <= digit.cy <= y + h
            # No digit of any other number sits in this comb's boxes.
            others = [box for i, (_, box) in enumerate(page.digits) if i not in page.numbers[comb["number"]]]
            for x, y, w, h in comb["boxes"]:
                assert not any(x <= o.cx <= x + w and y <= o.cy <= y + h for o in others)
    assert combs >= len(pages)


def test_printed_digits_are_kept_apart_from_the_truth(mnist_bank):
    numbered = make_document("form", mnist_bank, SEEDS[0], printed_digits=True)
    plain = make_document("form", mnist_bank, SEEDS[0], printed_digits=False)
    assert numbered.printed_digits and not plain.printed_digits
    assert numbered.digits == plain.digits and numbered.numbers == plain.numbers
    truth = [box for _, box in numbered.digits]
    for _, p in numbered.printed_digits:  # printed enumerations are nowhere near a true digit
        assert not any(t.x <= p.cx <= t.x2 and t.y <= p.cy <= t.y2 for t in truth)
    # ... and they are ink in the image: a reader can see them, and must not report them.
    value, box = numbered.printed_digits[0]
    assert _depth(numbered.image, box.x, box.y, box.x2, box.y2, max(box.h, 12))[1].max() >= 60


def test_card_video_keeps_the_card_in_the_frame_while_it_moves(mnist_bank, tmp_path: Path):
    for seed in SEEDS[:2]:
        frames = card_video(mnist_bank, seed, 30)
        h, w = frames[0].image.shape[:2]
        assert (h, w) == (480, 640)
        corners = np.array([f.paper for f in frames])
        assert corners[..., 0].min() >= 0 and corners[..., 0].max() <= w - 1
        assert corners[..., 1].min() >= 0 and corners[..., 1].max() <= h - 1
        assert np.abs(corners - corners[0]).max() > 5  # it moves
        assert all(f.lines == frames[0].lines for f in frames)  # the same numbers in every frame
        for frame in frames:
            for _, box in frame.digits:
                assert 0 <= box.x and 0 <= box.y and box.x2 <= w and box.y2 <= h
    assert make_document("card-video", mnist_bank, SEEDS[0]).digits == card_video(mnist_bank, SEEDS[0], 1)[0].digits
    path = tmp_path / "card.avi"
    write_card_video(path, frames[:10])
    capture = cv2.VideoCapture(str(path))
    read = 0
    while capture.read()[0]:
        read += 1
    capture.release()
    assert read == 10
