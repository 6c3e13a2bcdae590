"""Accuracy, loss, per-class accuracy and confusion matrix from predicted probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Evaluation:
    name: str
    accuracy: float
    loss: float
    per_class: list[float]
    confusion: np.ndarray  # [true, predicted] counts
    predictions: np.ndarray = field(repr=False)

    @property
    def errors(self) -> int:
        return int(self.confusion.sum() - np.trace(self.confusion))

    def summary(self) -> dict:
        return {
            "name": self.name,
            "accuracy": round(self.accuracy, 6),
            "loss": round(self.loss, 6),
            "errors": self.errors,
            "images": int(self.confusion.sum()),
            "per_class_accuracy": [round(a, 6) for a in self.per_class],
            "confusion_matrix": self.confusion.tolist(),
        }


def evaluate_probabilities(name: str, probs: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score probabilities (N, C) against integer labels (N,)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_p = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(n_classes), where=totals > 0)
    return Evaluation(
        name=name,
        accuracy=float((predicted == labels).mean()),
        loss=float(-np.log(true_p).mean()),
        per_class=[float(a) for a in per_class],
        confusion=confusion,
        predictions=predicted,
    )


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of inputs on which two models predict the same class."""
    return float((np.asarray(a) == np.asarray(b)).mean())


def confusion_text(ev: Evaluation) -> str:
    """The confusion matrix as an aligned text table, rows true, columns predicted."""
    n = ev.confusion.shape[0]
    width = max(5, len(str(ev.confusion.max())) + 1)
    lines = [
        f"{ev.name}: accuracy {100 * ev.accuracy:.2f}% ({ev.errors} errors), loss {ev.loss:.4f}",
        "true \\ pred" + "".join(f"{c:>{width}}" for c in range(n)) + f"{'acc %':>9}",
    ]
    for t in range(n):
        row = "".join(f"{ev.confusion[t, p]:>{width}}" for p in range(n))
        lines.append(f"{t:>11}{row}{100 * ev.per_class[t]:>9.2f}")
    return "\n".join(lines) + "\n"
