"""Write generated pages with their ground truth to a folder, to look at and to tune on.

    python -m benchmarks.pages_dump --kind form --seeds 100-107 --out /tmp/form
    python -m benchmarks.pages_dump --kind desk-photo,sticky-note --seeds 100-103,150 --out /tmp/docs --boxes

For each page: ``<kind>-<seed>.png`` and ``<kind>-<seed>.json`` (the digits with their boxes
[x, y, w, h] in the image's pixels, the numbers as lists of digit indices, the lines' text, printed
digits that are not truth, the paper's corners and what the page was made of); with ``--boxes`` also
``<kind>-<seed>-truth.png`` with true digits in green and printed digits in red.

Tune on seeds 100-199 (``TUNING_SEEDS``); the benchmark scores seeds from 1000 on and picks its
competitors' settings on seeds from 5000 on, so a seed in those ranges draws a warning.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from .accuracy import ALL_KINDS, BENCHMARK_FIRST_SEED, TUNING_SEEDS, make_any
from .common import load_test_digits


def parse_seeds(text: str) -> list[int]:
    """``100-107,150`` -> [100, ..., 107, 150]."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--seeds {text!r}: expected numbers and ranges like 100-107,150") from None
        if high < low:
            raise argparse.ArgumentTypeError(f"--seeds {text!r}: range {part} runs backwards")
        seeds.extend(range(low, high + 1))
    return seeds


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"--kind {text!r}: choose from {', '.join(ALL_KINDS)}")
    return kinds


def truth_record(page, kind: str, seed: int) -> dict:
    """A page's ground truth as plain JSON."""
    record = {
        "kind": kind, "seed": seed, "width": int(page.image.shape[1]), "height": int(page.image.shape[0]),
        "lines": page.lines,
        "digits": [{"digit": int(value), "box": box.as_list()} for value, box in page.digits],
        "numbers": page.numbers,
    }
    for name in ("printed_digits", "paper", "details"):
        if hasattr(page, name):
            record[name] = getattr(page, name)
    if "printed_digits" in record:
        record["printed_digits"] = [{"digit": int(v), "box": b.as_list()} for v, b in record["printed_digits"]]
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", type=parse_kinds, required=True, help=f"one or more of: {', '.join(ALL_KINDS)}")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("100-107"),
                        help="seeds and ranges, e.g. 100-107,150 (default 100-107; tune on 100-199)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write to (made if missing)")
    parser.add_argument("--boxes", action="store_true", help="also write a copy with the truth drawn on it")
    parser.add_argument("--data", help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    args = parser.parse_args(argv)
    outside = [s for s in args.seeds if s not in TUNING_SEEDS]
    if any(s >= BENCHMARK_FIRST_SEED for s in outside):
        print(f"warning: seeds from {BENCHMARK_FIRST_SEED} on are the benchmark's; tune on "
              f"{TUNING_SEEDS.start}-{TUNING_SEEDS.stop - 1}", file=sys.stderr)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"--out {args.out}: cannot make the folder ({error.strerror})")

    from trainer.synth.pages import DigitBank

    bank = DigitBank(*load_test_digits(args.data))
    for kind in args.kind:
        for seed in args.seeds:
            page = make_any(kind, bank, seed)
            stem = args.out / f"{kind}-{seed}"
            cv2.imwrite(str(stem.with_suffix(".png")), page.image)
            record = truth_record(page, kind, seed)
            # One field a line: readable, and a page's boxes stay on one line each field.
            fields = (f" {json.dumps(k)}: {json.dumps(v, default=float)}" for k, v in record.items())
            stem.with_suffix(".json").write_text("{\n" + ",\n".join(fields) + "\n}\n")
            if args.boxes:
                drawn = page.image.copy()
                for colour, marks in (((0, 190, 0), page.digits), ((0, 0, 230), getattr(page, "printed_digits", []))):
                    for _, box in marks:
                        cv2.rectangle(drawn, (box.x, box.y), (box.x2 - 1, box.y2 - 1), colour, 1)
                cv2.imwrite(str(args.out / f"{kind}-{seed}-truth.png"), drawn)
            print(f"{stem}.png: {len(page.digits)} digits in {len(page.numbers)} numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
