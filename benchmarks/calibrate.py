"""Fit the scores in context (``edge.pipeline.confidence``) on generated tuning pages.

    python -m benchmarks.calibrate [--data ../shared/mnist] [--out benchmarks/calibration.json]

Reads tuning pages of every kind (seeds apart from the benchmark's) with the shipped models, labels
every reported digit true where it matches a true digit's box (the benchmark's rule), and fits two
logistic models of their cues: one for the marks that make a number by themselves (lone score), one
for the digits of numbers of several (member score). False digits weigh ``--false-weight`` times a
true one: they are rare (about 1 in 20 lone marks on forms, 1 in 200 digits in numbers on touching
pages, 1 in 1000 elsewhere) and the point of a score is to put them under 0.5. The weights are
checked on other tuning pages and written, with that check, to ``--out``; paste the printed ``LONE``
and ``MEMBER`` into ``edge/pipeline/confidence.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields

import numpy as np

# (kind, first seed, last seed): tuning seeds only (the benchmark reads seeds from 1000 on; card-video
# frames from 2000 on are tuning frames).
SHEETS = ("clean", "noisy", "blurred", "rotated", "shadow", "jpeg", "colour", "inverted", "hershey", "ruled",
          "broken", "blank")
FIT_PAGES = [("form", 1, 399), ("touching", 200, 335), ("desk-photo", 1, 100), ("sticky-note", 1, 30),
             ("card-video", 2001, 2060)] + [(kind, 1, 15) for kind in SHEETS]
CHECK_PAGES = [("form", 400, 799), ("touching", 336, 380), ("desk-photo", 101, 250), ("sticky-note", 31, 80),
               ("card-video", 2061, 2160), ("clean", 16, 30), ("ruled", 16, 30), ("broken", 16, 30)]
THRESHOLDS = (0.3, 0.5, 0.7)
# Newton's method converges in a few steps on this convex problem; 50 leaves it settled.
NEWTON_STEPS = 50

_worker = {}


def _start(data: str) -> None:
    from benchmarks.common import load_test_digits, recognizer
    from trainer.synth.pages import DigitBank

    _worker["bank"] = DigitBank(*load_test_digits(data))
    _worker["recognizer"] = recognizer()


def _read(job: tuple[str, int]) -> tuple[str, list, list, list]:
    """One page: (kind, [(cues, is true)] for its lone marks, the same for the digits of its numbers of
    several, [(is true, confidence, which score judges it: "lone", "member" or None)] for every digit in
    reading order)."""
    from benchmarks.accuracy import make_any
    from edge.pipeline.confidence import lone_marks, member_cues, several
    from edge.pipeline.layout import layout
    from trainer.synth.scoring import match

    kind, seed = job
    page = make_any(kind, _worker["bank"], seed)
    detections = _worker["recognizer"].detect(page.image)
    lines = layout(detections.digits, detections.fields)
    order = [(li, ni, k) for li, line in enumerate(lines) for ni, number in enumerate(line.numbers)
             for k in range(len(number))]
    digits = [lines[li].numbers[ni][k] for li, ni, k in order]
    true = set(match([box for _, box in page.digits], [d.box for d in digits]).values())
    where = {(li, ni): j for j, (li, ni, k) in enumerate(order) if k == 0}
    found = lone_marks(lines, detections.rejected)
    marks = [(cues.tolist(), where[li, ni] in true) for li, ni, cues in found]
    lone = {where[li, ni] for li, ni, _ in found}
    numbers = several(lines)
    at = [where[li, ni] + k for li, ni in numbers for k in range(len(lines[li].numbers[ni]))]
    cues = member_cues([lines[li].numbers[ni] for li, ni in numbers], [r.box for r in detections.rejected])
    members = [(row.tolist(), j in true) for j, row in zip(at, cues)]
    role = {**{j: "lone" for j in lone}, **{j: "member" for j in at}}
    everything = [(j in true, d.confidence, role.get(j)) for j, d in enumerate(digits)]
    return kind, marks, members, everything


def read_pages(pages, data: str, workers: int):
    jobs = [(kind, seed) for kind, first, last in pages for seed in range(first, last + 1)]
    with ProcessPoolExecutor(workers, initializer=_start, initargs=(data,)) as pool:
        return list(pool.map(_read, jobs, chunksize=8))


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float) -> np.ndarray:
    """Weighted logistic regression by Newton's method; ``l2`` shrinks every weight but the bias."""
    beta = np.zeros(x.shape[1])
    shrink = np.full(x.shape[1], l2)
    shrink[0] = 1e-6  # barely: keeps the step defined when a small sample is all one class
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-x @ beta))
        gradient = x.T @ (weight * (p - y)) + shrink * beta
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(shrink)
        beta -= np.linalg.solve(hessian, gradient)
    return beta


def _scores(rows: list, weights) -> list[float]:
    """Each row of cues' score under ``weights`` (none for no rows)."""
    from edge.pipeline.confidence import context_scores

    return context_scores(np.array(rows), weights).tolist() if rows else []


def check(read, context) -> dict:
    """What each threshold removes and keeps on ``read`` pages under ``context`` (``Context``): lone
    marks, and every digit as the benchmark's --min-confidence curve counts them (with and without the
    scores)."""
    report = {}
    for kind in sorted({r[0] for r in read}) + ["all"]:
        pages = [r for r in read if kind in ("all", r[0])]
        marks = [(c, t) for _, m, _, _ in pages for c, t in m]
        scores = _scores([c for c, _ in marks], context.lone)
        lone_true = [s for s, (_, t) in zip(scores, marks) if t]
        lone_false = [s for s, (_, t) in zip(scores, marks) if not t]
        members = _scores([c for _, _, m, _ in pages for c, _ in m], context.member)
        # Every digit, in page order; a lone one's confidence is lowered to its lone score, a member's
        # to its member score (both lists are in page order too).
        confidences, scored = [], {"lone": iter(scores), "member": iter(members)}
        for _, _, _, everything in pages:
            for true, confidence, role in everything:
                score = next(scored[role]) if role else 1.0
                confidences.append((true, min(confidence, score), confidence))
        row = {"lone marks true / false": [len(lone_true), len(lone_false)],
               "digits true / false": [sum(t for t, _, _ in confidences), sum(not t for t, _, _ in confidences)]}
        for threshold in THRESHOLDS:
            def removed(which: int) -> float:
                false = [c[which] for c in confidences if not c[0]]
                return sum(c < threshold for c in false) / max(1, len(false))

            def kept(which: int) -> float:
                true = [c[which] for c in confidences if c[0]]
                return sum(c >= threshold for c in true) / max(1, len(true))

            row[str(threshold)] = {
                "lone true dropped": sum(s < threshold for s in lone_true),
                "lone false removed": sum(s < threshold for s in lone_false),
                "false removed (before -> with the score)": [round(removed(2), 4), round(removed(1), 4)],
                "true kept (before -> with the score)": [round(kept(2), 4), round(kept(1), 4)],
            }
        report[kind] = row
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--out", default="benchmarks/calibration.json")
    parser.add_argument("--false-weight", type=float, default=10.0, help="weight of a false mark against a true one")
    parser.add_argument("--l2", type=float, default=1.0, help="ridge penalty on the weights (not the bias)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    from benchmarks.common import machine, mnist_location
    from edge.pipeline.confidence import Context, LoneWeights, MemberWeights

    data = mnist_location(args.data)
    fitted = read_pages(FIT_PAGES, data, args.workers)
    weights, counts = {}, {}
    for name, kind, at in (("lone", LoneWeights, 1), ("member", MemberWeights, 2)):
        x = np.array([c for page in fitted for c, _ in page[at]])
        y = np.array([t for page in fitted for _, t in page[at]], float)
        beta = fit(x, y, np.where(y == 0, args.false_weight, 1.0), args.l2)
        weights[name] = {f.name: round(float(b), 3) for f, b in zip(fields(kind), beta)}
        counts[name] = [int(y.sum()), int((1 - y).sum())]
    context = Context(lone=LoneWeights(**weights["lone"]), member=MemberWeights(**weights["member"]))
    checked = read_pages(CHECK_PAGES, data, args.workers)
    result = {
        "command": "python -m benchmarks.calibrate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "fit pages": FIT_PAGES, "check pages": CHECK_PAGES,
        "false weight": args.false_weight, "l2": args.l2,
        "lone marks fitted (true / false)": counts["lone"],
        "digits of numbers of several fitted (true / false)": counts["member"],
        "weights": weights,
        "check": check(checked, context),
        "fit pages, for comparison": check(fitted, context)["all"],
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps(result["check"]["all"], indent=1))
    print(json.dumps(result["check"].get("form", {}), indent=1))
    for name, kind in (("lone", "LoneWeights"), ("member", "MemberWeights")):
        print(f"{name.upper()} = {kind}(" + ", ".join(f"{k}={v}" for k, v in weights[name].items()) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
