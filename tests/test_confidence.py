"""A digit's confidence judged in its context (``edge.pipeline.confidence``): the rules on hand-made
readings, then ``--min-confidence 0.5`` on generated forms and touching digits read by the real models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.pipeline.confidence import (CONTEXT, CONTEXT_NUMBERS, DROP_BELOW, MEMBER, calibrate, context_scores,
                                      lone_marks, member_cues)
from edge.pipeline.layout import arrange, layout
from edge.pipeline.recognizer import Recognizer, build_recognizer, preset
from edge.pipeline.results import Box, Detections, Digit


def digit(value: int, confidence: float, x: int, y: int, w: int = 26, h: int = 40) -> Digit:
    probs = [0.0] * 11
    probs[value] = confidence
    probs[(value + 1) % 10] = 1.0 - confidence
    return Digit(value, confidence, Box(x, y, w, h), probabilities=tuple(probs))


def form_like(wall: Digit) -> tuple[list[Digit], list[Digit]]:
    """Four numbers on three lines, and ``wall`` alone on a fourth beside a rejected label."""
    numbers = [digit(4, 0.99, 100, 10), digit(2, 0.98, 130, 10), digit(7, 0.97, 300, 10),
               digit(5, 0.99, 100, 100), digit(8, 0.99, 130, 100), digit(3, 0.96, 100, 200), digit(6, 0.99, 130, 200)]
    label = Digit(1, 0.0, Box(wall.box.x - 60, wall.box.y, 58, wall.box.h), reject=0.95)
    return numbers + [wall], [label]


def test_a_thin_one_alone_on_its_line_is_unsure_and_beside_a_rejected_label_no_digit():
    wall = digit(1, 0.96, 400, 300, w=6, h=40)
    digits, rejected = form_like(wall)
    lines, dropped = calibrate(layout(digits), [])
    reported = {d.box: d.confidence for line in lines for number in line.numbers for d in number}
    assert DROP_BELOW < reported[wall.box] < 0.5 and dropped == []
    # The lone 7 on the first line keeps the classifier's confidence: well shaped, of the page's
    # height, beside nothing rejected; the digits of numbers of several, evenly boxed, stay sure.
    assert reported[digits[2].box] == digits[2].confidence
    assert all(reported[d.box] > 0.95 for d in digits[:-1])
    # Beside the label it closes, it is no digit at all.
    lines, dropped = calibrate(layout(digits), rejected)
    assert [d.box for d in dropped] == [wall.box] and dropped[0].confidence < DROP_BELOW
    assert sorted(d.box.y for line in lines for n in line.numbers for d in n) == sorted(d.box.y for d in digits[:-1])


def test_the_score_only_lowers_and_needs_context():
    # A lone 7 on a line with another number, beside nothing rejected: the score trusts it more than
    # the model does, and the model's 0.3 stands.
    doubtful = digit(7, 0.3, 450, 10)
    digits, _ = form_like(digit(9, 0.99, 400, 300))
    assert [d.confidence for line in calibrate(layout(digits + [doubtful]), [])[0] for n in line.numbers for d in n
            if d.box == doubtful.box] == [0.3]
    # Fewer numbers than CONTEXT_NUMBERS: nothing to judge a lone mark against (a sticky note's one 1).
    wall = digit(1, 0.96, 400, 300, w=6, h=40)
    few = [wall, digit(4, 0.99, 100, 10)]
    assert len(few) < CONTEXT_NUMBERS and lone_marks(layout(few), []) == []
    assert calibrate(layout(few), []) == (layout(few), [])


def test_a_digit_boxed_apart_from_its_number_s_is_unsure_and_the_rest_keep_theirs():
    def judged(digits: list[Digit]) -> list[float]:
        lines, dropped = calibrate(layout(digits), [])
        assert dropped == []  # a number's digits are only ever marked
        return [d.confidence for line in lines for n in line.numbers for d in n]

    # "4563" read surely and boxed evenly: sure in context too.
    number = [digit(4, 0.99, 100, 10), digit(5, 0.99, 130, 10), digit(6, 0.99, 160, 10), digit(3, 0.99, 190, 10)]
    even = judged(number)
    assert all(c > 0.95 for c in even)
    # The 5 boxed without its bar (two thirds of its number's height): unsure; the rest as before.
    short = judged(number[:1] + [digit(5, 0.99, 130, 24, h=26)] + number[2:])
    assert short[1] < 0.5 and short[:1] + short[2:] == even[:1] + even[2:]
    # The 6 boxed over most of the 5 (touching digits cut in the wrong place): both less sure.
    overlapping = judged(number[:2] + [digit(6, 0.99, 142, 10)] + number[3:])
    assert max(overlapping[1:3]) < min(even) - 0.1


def test_a_digit_beside_a_rejected_piece_of_its_number_s_height_is_less_sure():
    """A name read in part as a number: the rest of the name, rejected, stands right beside it at its
    height. A printed label (half its height) or a piece a word space away says nothing."""
    number = (digit(1, 0.9, 100, 10, w=12), digit(3, 0.9, 116, 10))

    def scores(rejected: list[Box]) -> list[float]:
        return context_scores(member_cues([number], rejected), MEMBER).tolist()

    alone = scores([])
    beside = scores([Box(145, 10, 30, 40)])  # 3 px after the 3, as tall
    assert beside[1] < alone[1] - 0.03 and beside[0] == alone[0]
    assert scores([Box(145, 30, 30, 20)]) == alone  # a label half as tall
    assert scores([Box(175, 10, 30, 40)]) == alone  # 33 px on: 0.8 of the 3's height


def test_arrange_judges_the_calibrated_confidence_and_can_leave_it_out():
    unsure = digit(1, 0.96, 400, 300, w=6, h=40)
    digits, rejected = form_like(unsure)
    detections = Detections(width=600, height=400, digits=digits, rejected=[])
    assert "?" in arrange(detections, 0.5).text and "?" not in arrange(detections).text
    assert len(arrange(detections, 0.5, drop_uncertain=True).digits) == len(digits) - 1
    # Beside a rejected label it is left out at any threshold, and said so.
    beside = arrange(Detections(width=600, height=400, digits=digits, rejected=rejected))
    assert len(beside.digits) == len(digits) - 1 and beside.text.splitlines() == ["42 7", "58", "36"]
    assert any("lone mark" in note for note in beside.notes)
    classifier_only = arrange(detections, 0.5, context=None)
    assert "?" not in classifier_only.text
    assert [d.confidence for d in classifier_only.digits if d.box == unsure.box] == [0.96]
    assert preset("canvas").context is None and preset("pages").context is CONTEXT


@pytest.fixture(scope="module")
def readers():
    """The benchmark's recogniser (both models) at --min-confidence 0.5 --drop-uncertain, with and
    without digits judged in context."""
    base = build_recognizer()
    options = replace(base.options, min_confidence=0.5, drop_uncertain=True)
    return (Recognizer(base.classifier, options, base.strings),
            Recognizer(base.classifier, replace(options, context=None), base.strings))


@pytest.mark.parametrize("seed", [224, 345])
def test_min_confidence_leaves_out_a_form_s_lone_junk_and_keeps_its_digits(readers, mnist_bank, seed):
    """Tuning forms of the benchmarks' bank: 224, a photo, has a comb box's wall read as a 1 (0.90)
    beside the box; 345's paper-edge slivers are read as 1s (0.84, 0.88) and a 5. The classifier is
    sure of them; in context they are junk."""
    from trainer.synth.documents import make_document
    from trainer.synth.scoring import found_from_reading, score_page

    page = make_document("form", mnist_bank, seed)
    with_context, without = (score_page(page, found_from_reading(r.read(page.image))) for r in readers)
    assert without.found > without.matched
    assert with_context.found == with_context.matched
    assert with_context.matched == without.matched


@pytest.mark.parametrize("seed", [220, 332])
def test_min_confidence_leaves_out_a_digit_boxed_off_its_number_and_keeps_the_rest(readers, mnist_bank, seed):
    """Tuning pages of touching digits: on 220 a 1 is boxed over the lower half of its stroke, on 332
    a 4 over its lower half (the rest went with a neighbour), each read rightly and surely (0.99, 1.00)
    but a miss and a false digit as boxed. Against its number's other digits it is unsure."""
    from trainer.synth.pages import make_page
    from trainer.synth.scoring import found_from_reading, score_page

    page = make_page("touching", mnist_bank, seed)
    with_context, without = (score_page(page, found_from_reading(r.read(page.image))) for r in readers)
    assert without.found > without.matched
    assert with_context.found == with_context.matched
    assert with_context.matched == without.matched
