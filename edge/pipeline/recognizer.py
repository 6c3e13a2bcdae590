"""The recogniser: image -> segment -> split -> normalise -> classify -> detections.

Layout runs after it (``edge.pipeline.layout.arrange``), once, on whatever the caller makes of the
detections: a page's as they are, a video's after stabilising them over frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from edge.pipeline.classify import (Classes, LoneOptions, MarkerOptions, PrintedOptions, WordOptions, drop_in_words,
                                    drop_list_markers, drop_lone_unsure, drop_printed, to_digits)
from edge.pipeline.confidence import CONTEXT, Context
from edge.pipeline.ink import InkCrop, measure
from edge.pipeline.layout import (ScaleOptions, StackOptions, WallOptions, arrange, drop_out_of_scale, drop_stacked,
                                  drop_tall_ones, drop_walls)
from edge.pipeline.normalize import to_model_input
from edge.pipeline.numbers import NumberOptions, drop_word_ends, reread, rescue
from edge.pipeline.paper import Paper
from edge.pipeline.results import Box, Detections, Reading
from edge.pipeline.segment import Segmentation, SegmentOptions, segment, with_bar, with_line
from edge.pipeline.split import Judge, Piece, SplitOptions, merge_split_strokes, split_touching
from edge.runtime.classifier import DigitClassifier
from edge.runtime.settings import RuntimeSettings, load_classifier, load_string_reader
from edge.runtime.strings import StringReader


@dataclass(frozen=True)
class RecognizeOptions:
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    split: SplitOptions = field(default_factory=SplitOptions)
    # Digits below this confidence are marked uncertain ('?' in text) or dropped.
    min_confidence: float = 0.0
    drop_uncertain: bool = False
    # A digit's confidence is at most its score in context (``edge.pipeline.confidence``: against its
    # number's other digits, or for a lone mark the page's); None reports the classifier's alone (the
    # draw app's canvas, where every mark is meant as a digit).
    context: Context | None = CONTEXT
    # Models with a "not a digit" class: a candidate is dropped when that class wins with at least
    # this probability (between 0.5 and 0.75 are mostly blurred or broken real digits; tuned on the
    # tuning seeds of sheets and documents, not the benchmark's).
    reject_min: float = 0.75
    printed: PrintedOptions = field(default_factory=PrintedOptions)
    scale: ScaleOptions = field(default_factory=ScaleOptions)
    stacked: StackOptions = field(default_factory=StackOptions)
    words: WordOptions = field(default_factory=WordOptions)
    markers: MarkerOptions = field(default_factory=MarkerOptions)
    lone: LoneOptions = field(default_factory=LoneOptions)
    walls: WallOptions = field(default_factory=WallOptions)
    numbers: NumberOptions = field(default_factory=NumberOptions)


# A candidate on a ruled line read again with the line given back replaces the model's rejection only
# when a digit other than 1 wins at least this surely: a line under a letter or a stub also makes a
# shape, and a stub with its piece of line reads as a 1 (on the tuning pages every such 1 was false;
# a 1 crossing a line loses nothing to it, its crossing is given back when the line is removed).
LINE_REREAD_MIN = 0.8
# Live mode reads a number again with the string reader only when the classifier reads one of its
# digits less surely than this (a confident number costs nothing more; a doubtful one about 1 ms).
FRAME_DOUBT = 0.9
# What the recogniser is pointed at, and the options that suit it.
MODES = ("pages", "frames", "canvas")


def preset(mode: str, options: RecognizeOptions = RecognizeOptions()) -> RecognizeOptions:
    """``options`` adjusted for a kind of input:

    - ``pages``: scans, photos and PDF pages, as they are;
    - ``frames``: camera and video frames, read dozens of times a second: cut only blobs clearly
      wider than tall into touching digits (trying every near-square blob the model is unsure of
      costs about 3 ms a frame, half a frame's budget, and is mostly one badly written digit), and
      read only doubtful numbers again with the string reader, and those once;
    - ``canvas``: the draw app's canvas, always dark ink on white, and every mark on it meant as a
      digit (its confidence is the classifier's).
    """
    if mode == "pages":
        return options
    if mode == "frames":
        return replace(options, split=replace(options.split, unsure_below=0.0),
                       numbers=replace(options.numbers, doubt_below=FRAME_DOUBT, second_looks=False))
    if mode == "canvas":
        return replace(options, segment=replace(options.segment, polarity="dark-on-light"), context=None)
    raise ValueError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")


@dataclass
class Trace:
    """What the pipeline saw, for ``--debug``: the segmentation and every crop it classified."""

    segmentation: Segmentation | None = None
    crops: list[np.ndarray] = field(default_factory=list)  # model inputs
    boxes: list[Box] = field(default_factory=list)  # working-image boxes of the crops
    probs: np.ndarray | None = None  # the classifier's output for each crop
    rejected: np.ndarray | None = None  # which crops the reject class won


class Recognizer:
    """Finds and reads the digits of images with one classifier; reusable across images."""

    def __init__(self, classifier: DigitClassifier, options: RecognizeOptions = RecognizeOptions(),
                 strings: StringReader | None = None) -> None:
        self.classifier = classifier
        self.options = options
        self.strings = strings  # the string reader, when there is one: numbers read whole
        self.classes = Classes.of(classifier.metadata, options.reject_min)
        spec = classifier.metadata.input
        self._to_input = dict(
            box=spec.digit_box,
            size=(spec.height, spec.width),
            target_stroke=spec.stroke_width,
            light_on_dark=spec.polarity == "light-on-dark",
        )
        self._judge = Judge(make_piece=self._piece, predict=self._predict, confidence=self.classes.confidence,
                            rejected=self.classes.rejected, digits=self.classes.best)

    def _piece(self, crop: np.ndarray, box: Box, ink: InkCrop | None = None) -> Piece:
        """A candidate from its ink crop (``ink``: the crop already measured, when it was)."""
        return Piece(box=box, crop=crop, model_input=to_model_input(ink or crop, **self._to_input))

    def _predict(self, pieces: list[Piece]) -> np.ndarray:
        if not pieces:
            return np.zeros((0, len(self.classifier.metadata.labels)), np.float32)
        return self.classifier.predict(np.stack([p.model_input for p in pieces]))

    def detect(self, image: np.ndarray, *, shrink: int = 1, trace: Trace | None = None,
               paper_hint: Paper | None = None) -> Detections:
        """The digits of one decoded image (grey, BGR or BGRA uint8), boxes in its pixels.

        ``shrink`` segments a copy that much smaller (see ``segment``): live mode's saving when the
        digits are known to be large; ``paper_hint``: the sheet in the previous frame.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        seg = segment(image, self.options.segment, shrink, paper_hint)
        timings["segment"] = _ms_since(start)

        start = time.perf_counter()
        pieces = [self._piece(c.crop, c.box, c.measured) for c in seg.candidates]
        timings["normalise"] = _ms_since(start)

        start = time.perf_counter()
        probs = self._predict(pieces)
        pieces, probs = self._read_with_lines(seg, pieces, probs)
        timings["classify"] = _ms_since(start)

        if self.options.split.enabled and pieces:
            start = time.perf_counter()
            pieces, probs = merge_split_strokes(pieces, probs, self._judge, self.options.split)
            pieces, probs = split_touching(pieces, probs, seg.digit_height, self._judge, self.options.split)
            timings["split"] = _ms_since(start)

        limit = self.options.segment.max_candidates
        if len(pieces) > limit:  # splitting may have made more: the cap is on what one image can give
            keep = np.sort(np.argsort(-self.classes.confidence(probs), kind="stable")[:limit])
            pieces, probs = [pieces[i] for i in keep], probs[keep]
            seg.notes.append(f"kept the {limit} most confident digits")

        boxes = [p.box for p in pieces]
        height, width = image.shape[:2]
        ox, oy = seg.origin
        # Pieces of a paper's edge are no digit, whatever the model says (a sliver merged with a
        # neighbour in the split stage has a new box and is judged by the model alone).
        steps = np.array([b in seg.steps for b in boxes], bool)
        boxes = self._with_bars(seg, boxes, probs)
        placed = [Box(b.x + ox, b.y + oy, b.w, b.h) for b in boxes] if ox or oy else boxes
        digits, rejected = to_digits(placed, probs, self.classes, seg.scale, width, height, steps)
        model_rejects = self.classes.rejected(probs)
        edges = int((steps & ~model_rejects).sum())
        if edges:
            seg.notes.append(f"left out {edges} sliver(s) on the edge of the paper or its shadow")
        not_digits = list(rejected)  # the model's rejects and edge slivers (not the print and marks below)

        def leave_out(dropped: list, what: str) -> None:
            if dropped:
                rejected.extend(dropped)
                seg.notes.append(f"left out {len(dropped)} {what}")

        digits, printed = drop_printed(digits, rejected, self.options.printed)
        leave_out(printed, "printed digit(s)")
        digits, edge = drop_stacked(digits, rejected, self.options.stacked)
        leave_out(edge, "piece(s) of a straight edge")
        digits, off_scale = drop_out_of_scale(digits, self.options.scale)
        leave_out(off_scale, "mark(s) far from the handwriting's size")
        if self.strings is not None and self.options.numbers.enabled and digits:
            start = time.perf_counter()
            read_region = self._read_region(seg)
            digits, word_ends = drop_word_ends(digits, not_digits, self.options.numbers, seg.scale, seg.origin,
                                               seg.ink.shape)
            leave_out(word_ends, "digit(s) that are pieces of a word's last letter")
            digits, _ = reread(digits, read_region, self.options.numbers, seg.scale, seg.origin,
                               seg.ink.shape, width, height)
            found, blobs, pieces_read = rescue(not_digits, digits, read_region, self.options.numbers, seg.scale,
                                               seg.origin, seg.ink.shape, width, height, self._classify_in(seg))
            if found:
                digits = [d for d in digits if all(d is not p for p in pieces_read)] + found
                rejected = [r for r in rejected if all(r is not blob for blob in blobs)]
                seg.notes.append(f"read {len(found)} digit(s) in {len(blobs)} blob(s) the classifier called no digit")
            timings["numbers"] = _ms_since(start)
            # The string reader fits boxes to what ink it finds: a sliver or a stub it read is as
            # far off the handwriting's size as the cutting's.
            digits, off_scale = drop_out_of_scale(digits, self.options.scale)
            leave_out(off_scale, "mark(s) far from the handwriting's size")
        # After the string reader: touching digits it found are no word's letters.
        digits, letters = drop_in_words(digits, rejected, self.options.words)
        leave_out(letters, "digit(s) that are letters of handwritten words")
        digits, markers = drop_list_markers(digits, rejected, self.options.markers)
        leave_out(markers, "printed list number(s)")
        digits, lone = drop_lone_unsure(digits, rejected, self.options.lone)
        leave_out(lone, "unsure digit(s) standing alone")
        fields = [_clip_box(Box(f.x + ox, f.y + oy, f.w, f.h).scaled(1.0 / seg.scale), width, height)
                  for f in seg.fields]
        digits, walls = drop_walls(digits, fields, self.options.walls)
        leave_out(walls, "comb box wall(s) read as 1")
        digits, tall = drop_tall_ones(digits, self.options.scale)
        leave_out(tall, "1(s) far taller than the digits around them")
        # A digit both readers read the same (the classifier alone, the string reader in its number)
        # is reported with the surer one's confidence; the rules above judge by the classifier's
        # alone, as they were tuned. Forms 1-290 (tuning): true digits under 0.5 sure 0.83 -> 0.11%,
        # false digits under 0.5 15.7 -> 9.8% (3 of 51 the reader reads as the classifier does).
        digits = [replace(d, confidence=d.agreement) if d.agreement > d.confidence else d for d in digits]
        # The rules have judged by the segmentation's boxes; a touching 1 is reported by its stroke.
        digits = [replace(d, box=d.stroke_box) if d.stroke_box is not None else d for d in digits]
        if trace is not None:
            trace.segmentation = seg
            trace.crops = [p.model_input for p in pieces]
            trace.boxes = boxes
            trace.probs = probs
            trace.rejected = model_rejects | steps
        return Detections(width=width, height=height, digits=digits, rejected=rejected, timings=timings,
                          notes=list(seg.notes), paper=seg.paper, fields=fields)

    def _read_with_lines(self, seg: Segmentation, pieces: list[Piece],
                         probs: np.ndarray) -> tuple[list[Piece], np.ndarray]:
        """Candidates the model rejects, read again with the ruled line along them given back
        (``with_line``): a digit on a line that lost a stroke to it. The new reading replaces the old
        one when the model reads a digit in it at least ``LINE_REREAD_MIN`` surely."""
        if seg.lines is None or not len(pieces):
            return pieces, probs
        tries = []
        for i in np.flatnonzero(self.classes.rejected(probs)):
            cand = seg.candidates[i]
            found = with_line(seg, cand)
            if found is not None:
                box, crop = found
                tries.append((i, self._piece(crop, box, measure(crop, cand.stroke))))
        if not tries:
            return pieces, probs
        again = self._predict([piece for _, piece in tries])
        better = (~self.classes.rejected(again) & (self.classes.confidence(again) >= LINE_REREAD_MIN)
                  & (self.classes.best(again) != 1))
        if not better.any():
            return pieces, probs
        pieces, probs = list(pieces), probs.copy()
        for (i, piece), row, take in zip(tries, again, better):
            if take:
                pieces[i], probs[i] = piece, row
        seg.notes.append(f"read {int(better.sum())} digit(s) again with the ruled line under them")
        return pieces, probs

    def _with_bars(self, seg: Segmentation, boxes: list[Box], probs: np.ndarray) -> list[Box]:
        """The boxes, a 5's grown over its detached bar (``with_bar``): the box reported, not the
        digit read."""
        fives = np.flatnonzero(self.classes.best(probs) == 5)
        fives = fives[~self.classes.rejected(probs[fives])] if len(fives) else fives
        if not len(fives):
            return boxes
        held = {label: cand.box.h for cand in seg.candidates for label in cand.labels}
        boxes = list(boxes)
        for i in fives.tolist():
            boxes[i] = with_bar(seg, boxes[i], held)
        return boxes

    def _classify_in(self, seg: Segmentation):
        """The digit classifier on boxes of this segmentation's ink (working pixels): each box's
        digit, or None where the reject class wins (or the box holds nothing)."""

        def classify(boxes: list[Box]) -> list[int | None]:
            crops = [seg.ink[max(0, b.y) : b.y2, max(0, b.x) : b.x2] for b in boxes]
            kept = [i for i, crop in enumerate(crops) if min(crop.shape) >= 2 and crop.any()]
            probs = self._predict([self._piece(crops[i], boxes[i]) for i in kept])
            seen: list[int | None] = [None] * len(boxes)
            for i, value, no in zip(kept, self.classes.best(probs), self.classes.rejected(probs)):
                seen[i] = None if no else int(value)
            return seen

        return classify

    def _read_region(self, seg: Segmentation):
        """The string reader on a region of this segmentation (working pixels): its text, confidences
        and a function giving its boxes. Most readings only confirm the classifier's and are thrown
        away, so boxes are fitted to the ink only for those that are used."""
        fit = self.options.numbers.fit_boxes
        looks = self.options.numbers.second_looks

        def read(box: Box):
            reading = self.strings.read(seg.ink, box, seg.mask, fit_boxes=False, second_looks=looks)
            if not fit or not reading.text:
                return reading.text, reading.confidences, lambda: reading.boxes
            return reading.text, reading.confidences, lambda: self.strings.fitted_boxes(reading, seg.ink, box, seg.mask)

        return read

    def read(self, image: np.ndarray, *, shrink: int = 1, trace: Trace | None = None) -> Reading:
        """Detect and lay out in one go, for a single image."""
        detections = self.detect(image, shrink=shrink, trace=trace)
        start = time.perf_counter()
        options = self.options
        reading = arrange(detections, options.min_confidence, options.drop_uncertain, options.context)
        reading.timings["layout"] = _ms_since(start)
        return reading


def _clip_box(box: Box, width: int, height: int) -> Box:
    x, y = max(0, box.x), max(0, box.y)
    return Box(x, y, max(1, min(box.x2, width) - x), max(1, min(box.y2, height) - y))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def build_recognizer(runtime: RuntimeSettings = RuntimeSettings(), options: RecognizeOptions = RecognizeOptions(),
                     mode: str = "pages") -> Recognizer:
    """A recogniser from picklable settings (worker processes build their own with this)."""
    return Recognizer(load_classifier(runtime), preset(mode, options), load_string_reader(runtime))
