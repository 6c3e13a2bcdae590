"""Accuracy, loss, per-class accuracy, confusion matrix and reject rates from predicted probabilities.

A model may have a reject class ("not a digit") besides the digits. On digits, a reject counts as
an error; the digit-only accuracy (argmax over the digit outputs alone) and the share rejected are
reported beside it. On negatives, what counts is the share rejected, per kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.runtime.metadata import LABELS, REJECT_LABEL


def labels_for_outputs(outputs: int) -> tuple[tuple[str, ...], int | None]:
    """Labels and reject index of a model known only by its output count (a bare .keras file):
    ten outputs are the digits, eleven the digits then the reject class."""
    if outputs == len(LABELS):
        return LABELS, None
    if outputs == len(LABELS) + 1:
        return LABELS + (REJECT_LABEL,), len(LABELS)
    raise ValueError(f"a model with {outputs} outputs is no digit classifier")


def short_label(label: str) -> str:
    return "rej" if label == REJECT_LABEL else label


@dataclass
class Evaluation:
    name: str
    labels: tuple[str, ...]  # the model's outputs
    reject_index: int | None
    accuracy: float  # argmax over every output: a rejected digit is an error
    digit_accuracy: float  # argmax over the digit outputs only
    rejected: float  # share of the digits the reject class won
    loss: float
    per_class: list[float]  # accuracy per true digit
    confusion: np.ndarray  # [true digit, predicted output] counts
    predictions: np.ndarray = field(repr=False)

    @property
    def errors(self) -> int:
        return int(self.confusion.sum() - np.trace(self.confusion[:, : self.confusion.shape[0]]))

    def summary(self) -> dict:
        return {
            "name": self.name,
            "labels": list(self.labels),
            "accuracy": round(self.accuracy, 6),
            "digit_only_accuracy": round(self.digit_accuracy, 6),
            "rejected": round(self.rejected, 6),
            "loss": round(self.loss, 6),
            "errors": self.errors,
            "images": int(self.confusion.sum()),
            "per_class_accuracy": [round(a, 6) for a in self.per_class],
            "confusion_matrix": self.confusion.tolist(),
        }


def evaluate_probabilities(name: str, probs: np.ndarray, labels: np.ndarray,
                           output_labels: tuple[str, ...] | None = None) -> Evaluation:
    """Score probabilities (N, outputs) against true digits (N,) in 0..9."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    output_labels = tuple(output_labels) if output_labels else labels_for_outputs(probs.shape[1])[0]
    reject = output_labels.index(REJECT_LABEL) if REJECT_LABEL in output_labels else None
    digits = [i for i in range(len(output_labels)) if i != reject]
    predicted = probs.argmax(axis=1)
    digit_predicted = np.asarray(digits)[probs[:, digits].argmax(axis=1)]
    n_true = len(digits)
    confusion = np.zeros((n_true, len(output_labels)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_p = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion[:, :n_true]), totals, out=np.zeros(n_true), where=totals > 0)
    return Evaluation(
        name=name,
        labels=output_labels,
        reject_index=reject,
        accuracy=float((predicted == labels).mean()),
        digit_accuracy=float((digit_predicted == labels).mean()),
        rejected=float((predicted == reject).mean()) if reject is not None else 0.0,
        loss=float(-np.log(true_p).mean()),
        per_class=[float(a) for a in per_class],
        confusion=confusion,
        predictions=predicted,
    )


@dataclass
class RejectEvaluation:
    """How a model reads ink that is no digit, kind by kind."""

    name: str
    kinds: tuple[str, ...]
    rejected: list[float]  # share rejected, per kind
    counts: list[int]
    read_as: np.ndarray  # [kind, predicted output] counts

    @property
    def overall(self) -> float:
        return float(np.dot(self.rejected, self.counts) / max(1, sum(self.counts)))

    def summary(self) -> dict:
        return {
            "name": self.name,
            "rejected_overall": round(self.overall, 6),
            "rejected_per_kind": {k: round(r, 6) for k, r in zip(self.kinds, self.rejected)},
            "examples_per_kind": dict(zip(self.kinds, self.counts)),
            "read_as": {k: row.tolist() for k, row in zip(self.kinds, self.read_as)},
        }


def evaluate_negatives(name: str, probs: np.ndarray, kinds: np.ndarray, kind_names: tuple[str, ...],
                       reject_index: int) -> RejectEvaluation:
    """Reject rate per kind of negatives (``kinds`` indexes ``kind_names``)."""
    predicted = np.asarray(probs).argmax(axis=1)
    read_as = np.zeros((len(kind_names), np.asarray(probs).shape[1]), np.int64)
    np.add.at(read_as, (np.asarray(kinds), predicted), 1)
    counts = read_as.sum(axis=1)
    rejected = np.divide(read_as[:, reject_index], counts, out=np.zeros(len(kind_names)), where=counts > 0)
    return RejectEvaluation(name=name, kinds=tuple(kind_names), rejected=[float(r) for r in rejected],
                            counts=[int(c) for c in counts], read_as=read_as)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of inputs on which two models predict the same class."""
    return float((np.asarray(a) == np.asarray(b)).mean())


def confusion_text(ev: Evaluation) -> str:
    """The confusion matrix as an aligned text table, rows true digits, columns predicted outputs."""
    n_true, n_out = ev.confusion.shape
    width = max(5, len(str(ev.confusion.max())) + 1)
    head = f"{ev.name}: accuracy {100 * ev.accuracy:.2f}% ({ev.errors} errors), loss {ev.loss:.4f}"
    if ev.reject_index is not None:
        head += f"; {100 * ev.rejected:.2f}% rejected, digit-only accuracy {100 * ev.digit_accuracy:.2f}%"
    lines = [
        head,
        "true \\ pred" + "".join(f"{short_label(c):>{width}}" for c in ev.labels) + f"{'acc %':>9}",
    ]
    for t in range(n_true):
        row = "".join(f"{ev.confusion[t, p]:>{width}}" for p in range(n_out))
        lines.append(f"{ev.labels[t]:>11}{row}{100 * ev.per_class[t]:>9.2f}")
    return "\n".join(lines) + "\n"


# Held-out negatives come from a seed that no training stream uses (those are seed * 16 + 1..5) and
# their digit pieces and pairs from MNIST *test* digits, so no held-out example was ever trained on.
EVALUATION_SEED = 1_000_000_000
# Targets for a shipped model with a reject class (issue 11), all through the TFLite interpreter.
TARGET_ACCURACY = 0.996  # MNIST test, int8, a rejected digit counted as an error
TARGET_MAX_REJECTED = 0.002  # share of MNIST test digits rejected
TARGET_MIN_NEGATIVES_REJECTED = 0.98  # held-out negatives rejected, in every kind


@dataclass(frozen=True)
class HeldOut:
    """What a model is measured on besides MNIST's test images as they are."""

    negatives: object | None  # trainer.synth.negatives.NegativeSet, or None for a ten-class model
    edge_digits: np.ndarray  # MNIST test digits as the edge sees them (same order as y_test)


def held_out(x_train: np.ndarray, x_test: np.ndarray, spec, per_kind: int, with_negatives: bool) -> HeldOut:
    """Held-out negatives (``per_kind`` of each kind) and the edge's view of the test digits."""
    from .synth.negatives import DigitReference, edge_digits, negative_set

    negatives = None
    if with_negatives and per_kind > 0:
        reference = DigitReference.build(x_train[:20000], x_test[:1000], spec, EVALUATION_SEED)
        negatives = negative_set(per_kind, EVALUATION_SEED, spec, x_test, reference=reference)
    return HeldOut(negatives=negatives, edge_digits=edge_digits(x_test, EVALUATION_SEED, spec))


def targets_met(int8: Evaluation, negatives: RejectEvaluation | None) -> dict[str, bool]:
    """Each target of a shipped reject-class model, met or not."""
    met = {
        f"MNIST test accuracy >= {100 * TARGET_ACCURACY:.1f}%": int8.accuracy >= TARGET_ACCURACY,
        f"test digits rejected <= {100 * TARGET_MAX_REJECTED:.1f}%": int8.rejected <= TARGET_MAX_REJECTED,
    }
    if negatives is not None:
        for kind, rate in zip(negatives.kinds, negatives.rejected):
            met[f"{kind} rejected >= {100 * TARGET_MIN_NEGATIVES_REJECTED:.0f}%"] = rate >= TARGET_MIN_NEGATIVES_REJECTED
    return met
