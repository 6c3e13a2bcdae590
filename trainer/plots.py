"""PNG figures of an evaluation: confusion matrix, misclassified digits, training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; a trainer must run on a machine without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .evaluation import Evaluation, short_label  # noqa: E402


def save_confusion_png(ev: Evaluation, path: Path) -> None:
    n_true, n_out = ev.confusion.shape
    fig, ax = plt.subplots(figsize=(6.4 + 0.4 * (n_out - n_true), 5.6), dpi=100)
    # Log colour scale: the diagonal holds ~1000 per class, the errors a handful.
    im = ax.imshow(np.log1p(ev.confusion), cmap="Blues")
    for t in range(n_true):
        for p in range(n_out):
            count = ev.confusion[t, p]
            if count:
                ax.text(p, t, str(count), ha="center", va="center", fontsize=7,
                        color="white" if t == p else "black")
    ax.set_xticks(range(n_out), [short_label(label) for label in ev.labels])
    ax.set_yticks(range(n_true), list(ev.labels[:n_true]))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{ev.name}: {100 * ev.accuracy:.2f}% ({ev.errors} errors)")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_misclassified_png(ev: Evaluation, images: np.ndarray, labels: np.ndarray, path: Path,
                           limit: int = 100) -> None:
    wrong = np.flatnonzero(ev.predictions != labels)[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"{labels[i]}\u2192{short_label(ev.labels[ev.predictions[i]])}", fontsize=9, color="crimson")
    fig.suptitle(f"{ev.name}: {len(wrong)} misclassified test digits (true\u2192predicted)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_history_png(history: dict[str, list[float]], path: Path) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_negatives_png(images: np.ndarray, kinds: np.ndarray, kind_names: tuple[str, ...], predictions: np.ndarray,
                       labels: tuple[str, ...], reject_index: int, path: Path, per_kind: int = 12) -> None:
    """Per kind, the held-out negatives the model did not reject (what it read), then, when fewer,
    rejected ones for comparison: one row per kind."""
    fig, axes = plt.subplots(len(kind_names), per_kind, figsize=(per_kind * 0.9, len(kind_names) * 1.1),
                             dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, kind in enumerate(kind_names):
        of_kind = np.flatnonzero(kinds == row)
        missed = of_kind[predictions[of_kind] != reject_index]
        shown = np.concatenate([missed, of_kind[predictions[of_kind] == reject_index]])[:per_kind]
        for col, i in enumerate(shown):
            ax = axes[row, col]
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
            accepted = predictions[i] != reject_index
            ax.set_title(short_label(labels[predictions[i]]), fontsize=8, color="crimson" if accepted else "grey")
        axes[row, 0].text(-0.3, 0.5, f"{kind}\n{len(missed)}/{len(of_kind)} read", transform=axes[row, 0].transAxes,
                          ha="right", va="center", fontsize=8)
    fig.suptitle("held-out negatives: read as a digit (red) first, then rejected (grey)", fontsize=10)
    fig.tight_layout(rect=(0.08, 0, 1, 1))
    fig.savefig(path)
    plt.close(fig)
