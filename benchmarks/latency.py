"""Microseconds per digit for each model through each interpreter installed in this environment.

    python -m benchmarks.latency MODEL.tflite... [--json]

Run by ``benchmarks.run`` once per virtual environment (each holds different backends), so all
backends are measured in the same run on the same machine. Medians over repetitions; one thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from edge.runtime.backends import installed_backends
from edge.runtime.classifier import DigitClassifier


def time_per_digit(classifier: DigitClassifier, digits: np.ndarray, batch: int, repeats: int,
                   budget_s: float) -> float:
    """Median microseconds per digit over ``repeats`` timed runs of about ``budget_s`` each."""
    sample = digits[:batch]
    classifier.predict(sample)  # warm up (and allocate tensors for this batch size)
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        classifier.predict(sample)
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    n = max(1, int(budget_s / per_call))
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            classifier.predict(sample)
        results.append((time.perf_counter() - start) / (n * len(sample)) * 1e6)
    return statistics.median(results)


def measure(models: list[Path], digits: np.ndarray, labels: np.ndarray, repeats: int, budget_s: float,
            accuracy: bool) -> list[dict]:
    rows = []
    for backend in installed_backends():
        for model in models:
            try:
                classifier = DigitClassifier(model, backend=backend, threads=1)
            except Exception as exc:  # a backend that cannot load here is reported, not fatal
                rows.append({"model": model.name, "backend": backend, "error": str(exc)})
                continue
            row = {
                "model": model.name,
                "backend": str(classifier.backend),
                "batch1_us": round(time_per_digit(classifier, digits, 1, repeats, budget_s), 2),
                "batch64_us": round(time_per_digit(classifier, digits, 64, repeats, budget_s), 2),
            }
            if accuracy:
                predicted = classifier.predict(digits).argmax(axis=1)
                row["accuracy"] = round(float((predicted == labels).mean()), 6)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", default=None, help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per timed repetition")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from .common import load_test_digits

    digits, labels = load_test_digits(args.data)
    rows = measure(args.models, digits, labels, args.repeats, args.budget, not args.no_accuracy)
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "rows": rows}))
    else:
        for row in rows:
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
