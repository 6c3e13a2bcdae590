"""Accuracy on generated pages, per kind of page, for any reader.

Two families of pages, both with exact ground truth from MNIST *test* digits:
- sheets (``trainer.synth.pages.KINDS``): clean paper with one kind of trouble each;
- documents (``trainer.synth.documents.KINDS``): desk photos, sticky notes, forms and webcam frames of
  a card, with paper edges, desks, shadows, printed text, boxes, words and ticks beside the digits.

Seeds: the benchmark reads seeds ``BENCHMARK_FIRST_SEED`` (1000) on and chooses a competitor's
settings on ``SETTINGS_FIRST_SEED`` (5000) on; tuning uses ``TUNING_SEEDS`` (100-199), which
``python -m benchmarks.pages_dump`` writes out as PNG + JSON.

    python -m benchmarks.accuracy                          # documents, 5 pages each, every reader installed
    python -m benchmarks.accuracy --kind all --pages 2 --readers ours
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Mapping

from edge.pipeline.results import Box
from trainer.synth import documents
from trainer.synth.documents import BENCHMARK_FIRST_SEED, SETTINGS_FIRST_SEED, TUNING_SEEDS  # noqa: F401
from trainer.synth.pages import KINDS, DigitBank, Page, make_page
from trainer.synth.scoring import Found, Score, iou, match, score_page

SHEET_KINDS = KINDS
DOCUMENT_KINDS = documents.KINDS
ALL_KINDS = SHEET_KINDS + DOCUMENT_KINDS
GROUPS = {"sheets": SHEET_KINDS, "documents": DOCUMENT_KINDS}


def make_any(kind: str, bank: DigitBank, seed: int) -> Page:
    """A page of any kind: a sheet from ``pages`` or a document from ``documents``."""
    if kind in DOCUMENT_KINDS:
        return documents.make_document(kind, bank, seed)
    return make_page(kind, bank, seed)


@dataclass
class KindResult:
    kind: str
    score: Score = field(default_factory=Score)
    seconds: float = 0.0
    pages: int = 0
    # For readers that give a confidence per digit: (on a true digit?, confidence) for every digit reported.
    confidences: list[tuple[bool, float]] = field(default_factory=list)
    # ... and the confidences of the false digits that are a true digit read right but boxed
    # otherwise (see ``boxed_otherwise``).
    boxed_otherwise: list[float] = field(default_factory=list)


def evaluate_pages(reader, bank: DigitBank | None, kinds=KINDS, pages_per_kind: int | Mapping[str, int] = 5,
                   first_seed: int = BENCHMARK_FIRST_SEED, make=make_any):
    """Score ``reader`` on ``pages_per_kind`` pages of each kind (or as many as it maps the kind to;
    same seeds for every reader), made by ``make(kind, bank, seed)``.

    A reader has ``read(image) -> list[Found]``; one that also has ``read_with_confidence(image) ->
    (list[Found], list[float])`` has its confidences kept, for the ``--min-confidence`` curve.
    """
    results = {}
    for kind in kinds:
        result = KindResult(kind)
        pages = pages_per_kind if isinstance(pages_per_kind, int) else pages_per_kind[kind]
        for seed in range(first_seed, first_seed + pages):
            page = make(kind, bank, seed)
            start = time.perf_counter()
            if hasattr(reader, "read_with_confidence"):
                found, confidence = reader.read_with_confidence(page.image)
            else:
                found, confidence = reader.read(page.image), None
            result.seconds += time.perf_counter() - start
            result.score.add(score_page(page, found))
            result.pages += 1
            if confidence is not None:
                matched = match([box for _, box in page.digits], [f.box for f in found])
                true = set(matched.values())
                result.confidences.extend((j in true, c) for j, c in enumerate(confidence))
                off = boxed_otherwise(page.digits, found, matched)
                result.boxed_otherwise.extend(c for j, c in enumerate(confidence) if j in off)
        results[kind] = result
    return results


# A false digit whose box overlaps a true digit of its value that nothing matched by at least this
# IoU (under the 0.5 that matches) is that digit, boxed otherwise: a tail along an underline left
# out, a touching 1's box taking in its neighbour's edge. Below it a box holds too little of a digit
# to call it that digit's.
BOXED_OTHERWISE_IOU = 0.2


def boxed_otherwise(truth: list[tuple[int, Box]], found: list[Found], matched: dict[int, int]) -> set[int]:
    """Indices of the false digits in ``found`` that are a true digit read right, boxed otherwise."""
    taken = set(matched.values())
    missed = [(value, box) for i, (value, box) in enumerate(truth) if i not in matched]
    return {j for j, f in enumerate(found) if j not in taken
            and any(int(value) == f.digit and iou(box, f.box) >= BOXED_OTHERWISE_IOU for value, box in missed)}


def total(results: dict, kinds=None) -> Score:
    overall = Score()
    for kind, result in results.items():
        if kinds is None or kind in kinds:
            overall.add(result.score)
    return overall


def _row(name: str, s: Score, pages: int, seconds: float) -> str:
    false = (s.found - s.matched) / max(1, pages)
    return (f"| {name} | {pages} | {s.truth} | {100 * s.recall:.1f}% | {100 * s.precision:.1f}% | "
            f"{100 * s.digit_accuracy:.1f}% | {100 * s.number_accuracy:.1f}% | {false:.1f} | "
            f"{1000 * seconds / max(1, pages):.0f} |")


def table(results: dict, title: str) -> str:
    """One row per kind, then a total per family of pages present and over everything."""
    lines = [
        f"| {title} | pages | digits | recall | precision | digit accuracy | number accuracy | false digits/page | ms/page |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, r in results.items():
        lines.append(_row(kind, r.score, r.pages, r.seconds))
    present = {name: [k for k in kinds if k in results] for name, kinds in GROUPS.items()}
    present = {name: kinds for name, kinds in present.items() if kinds}
    if len(present) > 1:
        for name, kinds in present.items():
            lines.append(_row(f"*all {name}*", total(results, kinds), sum(results[k].pages for k in kinds),
                              sum(results[k].seconds for k in kinds)))
    lines.append(_row("**all**", total(results), sum(r.pages for r in results.values()),
                      sum(r.seconds for r in results.values())))
    return "\n".join(lines)


THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)
# The aim for --min-confidence 0.5: at least this share of false digits removed, and at
# least this share of true digits kept.
CURVE_TARGET = {"threshold": 0.5, "false_removed": 0.90, "true_kept": 0.995}


def confidence_curve(results: dict, kinds=None, thresholds=THRESHOLDS) -> dict[float, dict[str, float]]:
    """For each threshold: the share of false digits (reported, on no true digit) it removes and of
    true digits it keeps, over the given kinds; and of the false digits, how many are a true digit
    boxed otherwise (``boxed_otherwise``), the share of those it removes and of the others."""
    chosen = [r for kind, r in results.items() if kinds is None or kind in kinds]
    pairs = [p for r in chosen for p in r.confidences]
    false = [c for on_truth, c in pairs if not on_truth]
    true = [c for on_truth, c in pairs if on_truth]
    off = [c for r in chosen for c in r.boxed_otherwise]
    rest = len(false) - len(off)

    def share(removed: int, count: int) -> float:
        return removed / count if count else 1.0

    return {t: {"false": len(false), "true": len(true),
                "false_removed": share(sum(c < t for c in false), len(false)),
                "true_kept": share(sum(c >= t for c in true), len(true)),
                "boxed_otherwise": len(off),
                "boxed_otherwise_removed": share(sum(c < t for c in off), len(off)),
                "no_digit_removed": share(sum(c < t for c in false) - sum(c < t for c in off), rest)}
            for t in thresholds}


def curve_table(results: dict, groups: dict[str, tuple[str, ...]]) -> tuple[str, dict]:
    """The --min-confidence curve as a Markdown table: one row per group of kinds."""
    head = ["| pages | false / true digits | " + " | ".join(f"{t:.1f}" for t in THRESHOLDS) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in THRESHOLDS) + " |"]
    data = {}
    for name, kinds in groups.items():
        curve = confidence_curve(results, kinds)
        data[name] = curve
        counts = curve[THRESHOLDS[0]]
        cells = [f"{100 * c['false_removed']:.0f}% / {100 * c['true_kept']:.1f}%" for c in curve.values()]
        head.append(f"| {name} | {counts['false']} / {counts['true']} | " + " | ".join(cells) + " |")
    return "\n".join(head), data


def best_tesseract_psm(bank: DigitBank, kinds) -> tuple[int, dict[int, float]]:
    """Tesseract's best page-segmentation mode for these kinds, by digit accuracy on one page of each
    kind from ``SETTINGS_FIRST_SEED`` on: pages the benchmark does not score."""
    from .readers import TesseractReader

    choice = {}
    for psm in (6, 11, 12):
        trial = evaluate_pages(TesseractReader(psm), bank, kinds, 1, first_seed=SETTINGS_FIRST_SEED)
        choice[psm] = total(trial).digit_accuracy
    return max(choice, key=choice.get), choice


def _kinds(text: str) -> tuple[str, ...]:
    named = {"sheets": SHEET_KINDS, "documents": DOCUMENT_KINDS, "all": ALL_KINDS}
    kinds: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part not in named and part not in ALL_KINDS:
            raise argparse.ArgumentTypeError(f"--kind {part!r}: choose sheets, documents, all or kinds from "
                                             + ", ".join(ALL_KINDS))
        kinds.extend(k for k in named.get(part, (part,)) if k not in kinds)
    return tuple(kinds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score readers on generated pages (tables in Markdown).")
    parser.add_argument("--kind", type=_kinds, default=DOCUMENT_KINDS,
                        help="sheets, documents (default), all, or kinds separated by commas")
    parser.add_argument("--pages", type=int, default=5, help="pages per kind (default 5)")
    parser.add_argument("--first-seed", type=int, default=BENCHMARK_FIRST_SEED,
                        help=f"first page's seed (default {BENCHMARK_FIRST_SEED}; tune on {TUNING_SEEDS.start}-{TUNING_SEEDS.stop - 1})")
    parser.add_argument("--readers", default="ours,tesseract,rapidocr",
                        help="readers separated by commas: ours, tesseract, rapidocr (default all; missing ones are skipped)")
    parser.add_argument("--data", help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--json", type=argparse.FileType("w"), help="also write the scores here as JSON")
    args = parser.parse_args(argv)
    wanted = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = sorted(set(wanted) - {"ours", "tesseract", "rapidocr"})
    if unknown:
        parser.error(f"--readers: unknown reader {unknown[0]!r} (ours, tesseract, rapidocr)")

    from .common import load_test_digits, machine, recognizer
    from .readers import OurReader, RapidOCRReader, TesseractReader, rapidocr_version, tesseract_version

    bank = DigitBank(*load_test_digits(args.data))
    print(f"{args.pages} pages of each kind from seed {args.first_seed}, on {machine()}.\n")
    scores = {}
    for name in wanted:
        if name == "ours":
            results = evaluate_pages(OurReader(recognizer()), bank, args.kind, args.pages, args.first_seed)
            title = "edge-digits"
        elif name == "tesseract":
            version = tesseract_version()
            if version is None:
                print("Tesseract skipped: not installed (Debian: apt-get install tesseract-ocr).\n")
                continue
            psm, _ = best_tesseract_psm(bank, args.kind)
            results = evaluate_pages(TesseractReader(psm), bank, args.kind, args.pages, args.first_seed)
            title = f"{version}, --psm {psm}, digits only"
        else:
            if rapidocr_version() is None:
                print("RapidOCR skipped: not installed (rapidocr-onnxruntime; `make bench` installs it).\n")
                continue
            reader = RapidOCRReader()
            results = evaluate_pages(reader, bank, args.kind, args.pages, args.first_seed)
            title = reader.name
        print(table(results, title) + "\n")
        scores[name] = {k: vars(r.score) for k, r in results.items()}
        if name == "ours":
            groups = {**{k: (k,) for k in args.kind}, "all": args.kind}
            text, scores["curve"] = curve_table(results, groups)
            print("Our digits by confidence: false digits removed / true digits kept, per threshold:\n")
            print(text + "\n")
    if args.json:
        json.dump(scores, args.json, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
