"""Accuracy on generated pages, per kind of page, for any reader."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from trainer.synth.pages import KINDS, DigitBank, make_page
from trainer.synth.scoring import Score, score_page


@dataclass
class KindResult:
    kind: str
    score: Score = field(default_factory=Score)
    seconds: float = 0.0
    pages: int = 0


def evaluate_pages(reader, bank: DigitBank, kinds=KINDS, pages_per_kind: int = 5, first_seed: int = 1000):
    """Score ``reader`` on ``pages_per_kind`` pages of each kind (same seeds for every reader)."""
    results = {}
    for kind in kinds:
        result = KindResult(kind)
        for seed in range(first_seed, first_seed + pages_per_kind):
            page = make_page(kind, bank, seed)
            start = time.perf_counter()
            found = reader.read(page.image)
            result.seconds += time.perf_counter() - start
            result.score.add(score_page(page, found))
            result.pages += 1
        results[kind] = result
    return results


def total(results: dict) -> Score:
    overall = Score()
    for result in results.values():
        overall.add(result.score)
    return overall


def table(results: dict, title: str) -> str:
    lines = [
        f"| {title} | pages | digits | recall | precision | digit accuracy | number accuracy | ms/page |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, r in results.items():
        s = r.score
        lines.append(
            f"| {kind} | {r.pages} | {s.truth} | {100 * s.recall:.1f}% | {100 * s.precision:.1f}% | "
            f"{100 * s.digit_accuracy:.1f}% | {100 * s.number_accuracy:.1f}% | {1000 * r.seconds / max(1, r.pages):.0f} |"
        )
    s = total(results)
    pages = sum(r.pages for r in results.values())
    seconds = sum(r.seconds for r in results.values())
    lines.append(
        f"| **all** | {pages} | {s.truth} | {100 * s.recall:.1f}% | {100 * s.precision:.1f}% | "
        f"{100 * s.digit_accuracy:.1f}% | {100 * s.number_accuracy:.1f}% | {1000 * seconds / max(1, pages):.0f} |"
    )
    return "\n".join(lines)
