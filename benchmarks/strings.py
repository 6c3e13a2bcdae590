"""The ``strings`` benchmark: held-out generated number regions read whole by the string reader,
and the same regions read by the digit-only path, side by side.

    python -m benchmarks.strings                       # 1000 regions, the first installed backend
    python -m benchmarks.strings --strings 300 --backend tflite-runtime --json strings.json

Regions come from ``trainer.synth.strings`` with MNIST *test* digits and seeds of their own
(``BENCHMARK_SEEDS``), with every distractor the generator has (touching and overlapping digits,
underlines, boxes, security backgrounds, punctuation, neighbours' ink, JPEG). Reported: exact-string
accuracy, character error rate, per-digit boxes found (IoU >= 0.5), calibration of the reading's
confidence, and CPU microseconds per region:

- string reader: crop the region from the ink image, prepare, run the model, decode, fit boxes
  (``StringReader.read``), given the region's box as the edge's layout would give it; warm (each
  region is read once untimed: the first region of a new width builds that width's interpreter);
  an unsure reading is read again with other margins (second looks), as pages are read; beside it
  the same reader with one look, as live mode reads;
- digit-only path: ``Recognizer.read`` on the region's grey crop (segmentation, normalisation,
  classification, splitting of touching blobs, layout), its numbers joined.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks.common import load_test_digits, machine

# The confidence thresholds reported for calibration (a reading at or above is "sure").
CONFIDENCE_LEVELS = (0.5, 0.8, 0.9, 0.95)


@dataclass
class Tally:
    strings: int = 0
    exact: int = 0
    characters: int = 0
    edit_errors: int = 0
    cpu_seconds: float = 0.0
    boxes_true: int = 0
    boxes_found: int = 0
    by_tag: dict = field(default_factory=dict)

    def add(self, predicted: str, truth: str, tags: tuple[str, ...], seconds: float) -> None:
        from trainer.strings import edit_distance

        self.strings += 1
        self.exact += predicted == truth
        self.characters += len(truth)
        self.edit_errors += edit_distance(predicted, truth)
        self.cpu_seconds += seconds
        for tag in tags or ("(none)",):
            right, total = self.by_tag.get(tag, (0, 0))
            self.by_tag[tag] = (right + (predicted == truth), total + 1)

    def summary(self) -> dict:
        n = max(1, self.strings)
        out = {
            "strings": self.strings,
            "exact": self.exact / n,
            "cer": self.edit_errors / max(1, self.characters),
            "us_per_region": 1e6 * self.cpu_seconds / n,
            "by_tag": {k: {"exact": r / t, "strings": t} for k, (r, t) in sorted(self.by_tag.items())},
        }
        if self.boxes_true:
            out["boxes_iou50"] = self.boxes_found / self.boxes_true
        return out


def iou(a, b) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x2, b.x2), min(a.y2, b.y2)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / max(1, a.w * a.h + b.w * b.h - inter)


def run(strings: int, backend: str | None, seed: int | None = None, model: str | None = None) -> dict:
    from edge.pipeline.recognizer import Recognizer
    from edge.runtime.classifier import DigitClassifier
    from edge.runtime.strings import StringReader
    from trainer.synth.strings import BENCHMARK_SEEDS, GlyphBank, make_string

    import cv2

    cv2.setNumThreads(1)  # as the edge runs it (RuntimeSettings.threads = 1)
    images, labels = load_test_digits()
    bank = GlyphBank(images, labels)
    reader = StringReader(model, backend=backend, threads=1)
    digit_path = Recognizer(DigitClassifier(backend=backend, threads=1))
    first = BENCHMARK_SEEDS if seed is None else seed
    ours, once, theirs = Tally(), Tally(), Tally()
    calibration = {level: [0, 0] for level in CONFIDENCE_LEVELS}  # readings at or above: [right, total]
    five = []
    for s in range(first, first + strings):
        sample = make_string(bank, s)
        reader.read(sample.ink, sample.region)  # warm: the first region of a width makes its interpreter
        start = time.process_time()
        reading = reader.read(sample.ink, sample.region)
        ours.add(reading.text, sample.text, sample.tags, time.process_time() - start)
        if reading.text == sample.text:
            ours.boxes_true += len(sample.boxes)
            ours.boxes_found += sum(iou(a, b) >= 0.5 for a, b in zip(reading.boxes, sample.boxes))
        start = time.process_time()
        single = reader.read(sample.ink, sample.region, second_looks=False)
        once.add(single.text, sample.text, sample.tags, time.process_time() - start)
        for level in CONFIDENCE_LEVELS:
            if reading.confidence >= level:
                calibration[level][0] += reading.text == sample.text
                calibration[level][1] += 1
        digit_path.read(sample.gray)  # warm likewise (the classifier's batch shapes)
        start = time.process_time()
        numbers = digit_path.read(sample.gray).numbers
        theirs.add("".join(numbers), sample.text, sample.tags, time.process_time() - start)
        if len(sample.text) == 5:
            five.append(sample)
    # Five-digit regions on their own, the model alone (prepared input, invoke, decode), warm.
    prepared = [reader.prepare(sample.ink).image for sample in five[:50]]
    model_us = _warm_cpu_us(reader.posteriors, prepared)
    # The digit model alone on five 28x28 digits (one batched call), the digit path's cheapest part.
    digit_model_us = _warm_cpu_us(digit_path.classifier.predict, list(images[:250].reshape(50, 5, 28, 28)))
    return {
        "machine": machine(),
        "backend": str(reader.backend),
        "string_model": reader.path.name,
        "first_seed": first,
        "string_reader": ours.summary(),
        "string_reader_one_look": once.summary(),
        "digit_path": theirs.summary(),
        "string_model_us_per_5_digit_region": round(model_us, 1),
        "digit_model_us_per_5_digits": round(digit_model_us, 1),
        "calibration": {str(level): {"share": t / max(1, strings), "exact": r / max(1, t)}
                        for level, (r, t) in calibration.items()},
    }


def _warm_cpu_us(call, items: list, rounds: int = 5) -> float:
    """CPU microseconds per ``call(item)``, after one warming pass over the items."""
    for item in items:
        call(item)
    start = time.process_time()
    for _ in range(rounds):
        for item in items:
            call(item)
    return 1e6 * (time.process_time() - start) / max(1, rounds * len(items))


def markdown(result: dict) -> str:
    ours, theirs = result["string_reader"], result["digit_path"]
    once = result.get("string_reader_one_look")
    lines = [
        f"Held-out generated number regions (MNIST test digits, seeds from {result['first_seed']}), "
        f"{ours['strings']} regions, {result['backend']}, 1 thread, CPU time; {result['machine']}.",
        "",
        "| reader | exact strings | character error rate | CPU µs per region |",
        "| --- | ---: | ---: | ---: |",
        f"| string reader ({result['string_model']}) | {100 * ours['exact']:.2f}% | {100 * ours['cer']:.2f}% | "
        f"{ours['us_per_region']:.0f} |",
    ]
    if once:
        lines.append(f"| string reader, one look (live mode) | {100 * once['exact']:.2f}% | {100 * once['cer']:.2f}% | "
                     f"{once['us_per_region']:.0f} |")
    lines += [
        f"| digit-only path (segment, classify, split) | {100 * theirs['exact']:.2f}% | {100 * theirs['cer']:.2f}% | "
        f"{theirs['us_per_region']:.0f} |",
        "",
        f"The models alone: the string model on a 5-digit region {result['string_model_us_per_5_digit_region']:.0f} µs, "
        f"the digit model on 5 digits (one batch) {result['digit_model_us_per_5_digits']:.0f} µs. "
        f"Per-digit boxes of exact readings within IoU 0.5 of the truth: {100 * ours.get('boxes_iou50', 0):.1f}%.",
        "",
        "| regions with | count | string reader exact | digit-only exact |",
        "| --- | ---: | ---: | ---: |",
    ]
    for tag, s in ours["by_tag"].items():
        other = theirs["by_tag"].get(tag, {"exact": 0})
        lines.append(f"| {tag} | {s['strings']} | {100 * s['exact']:.1f}% | {100 * other['exact']:.1f}% |")
    lines += ["", "| string confidence at least | share of regions | exact among them |", "| ---: | ---: | ---: |"]
    for level, c in result["calibration"].items():
        lines.append(f"| {level} | {100 * c['share']:.1f}% | {100 * c['exact']:.2f}% |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.strings", description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=1000, help="regions to read (default 1000)")
    parser.add_argument("--backend", help="litert, tflite-runtime or tensorflow (default: the first installed)")
    parser.add_argument("--seed", type=int, help="first seed (default: trainer.synth.strings.BENCHMARK_SEEDS)")
    parser.add_argument("--model", help="string model (default: the shipped models/strings_int8.tflite)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    from edge.runtime.classifier import ModelError

    try:
        result = run(args.strings, args.backend, args.seed, args.model)
    except ModelError as exc:
        print(f"benchmarks.strings: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(markdown(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
