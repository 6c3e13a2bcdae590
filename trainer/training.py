"""Train a Keras digit model from a recipe: reproducible, with a held-out validation split.

Digits come from MNIST's training images. A recipe with negatives adds an eleventh class, "not a
digit": a fixed pool of generated negatives (``trainer.synth.negatives``) is drawn once from the
seed, and every epoch shows all training digits plus a fresh sample of the pool, all through the
same augmentation. So that the model cannot tell negatives from digits by the edge normaliser's
traces (every negative went through it, raw MNIST digits did not), a share of the digits is shown
as the edge would see them too. The whole stream of batches is fixed by the seed.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from edge.runtime.metadata import LABELS, REJECT_LABEL, InputSpec

from .architectures import RECIPES, Recipe
from .augment import augment_batch
from .data import MNIST_INPUT, Mnist, split_validation, training_stroke_width
from .synth.negatives import NEGATIVE_KINDS, DigitReference, edge_digits, negative_set

log = logging.getLogger(__name__)

# Share of digit presentations that are the digit as the edge sees it (drawn 20-120 px tall,
# thresholded, normalised by the edge's normaliser) rather than MNIST's own image: enough that the
# normaliser's traces never mark a negative, few enough that MNIST's own digits still dominate.
EDGE_DIGIT_SHARE = 0.3
# Negatives drawn once per run, per kind; each epoch samples from them (with augmentation on top).
NEGATIVE_POOL_PER_KIND = 8000
# Held-out negatives per kind in the validation data (drawn from the validation digits).
VALIDATION_NEGATIVES_PER_KIND = 250
# MNIST training digits that negatives are kept away from (``DigitReference``), and how many
# held-out digits set the distance.
REFERENCE_DIGITS, REFERENCE_QUERIES = 20000, 1000
# Independent random streams of one run's seed.
_TRAIN_STREAM, _VALIDATION_STREAM, _EPOCH_STREAM, _EDGE_STREAM = 1, 2, 3, 4


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    seconds: float
    arch: str
    epochs: int
    seed: int
    train_size: int
    val_size: int
    labels: tuple[str, ...] = LABELS
    reject_label: str | None = None
    spec: InputSpec = MNIST_INPUT  # the input the model was trained on, stroke width measured
    negatives: dict = field(default_factory=dict)  # how the reject class was taught


def keras_input(images: np.ndarray, spec: InputSpec = MNIST_INPUT) -> np.ndarray:
    """uint8 images (N, height, width) -> the Keras model's float32 input (N, height, width, 1)."""
    return (images.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset))[..., None]


def class_labels(reject: bool) -> tuple[str, ...]:
    """The model's output labels: the ten digits, then the reject class when there is one."""
    return LABELS + ((REJECT_LABEL,) if reject else ())


@dataclass(frozen=True)
class Examples:
    """Everything one epoch can draw from: ``digits`` MNIST digits, then the same digits as the
    edge sees them (when ``edge_view``), then ``pool`` negatives, in one uint8 array."""

    images: np.ndarray
    labels: np.ndarray  # class index per image
    digits: int
    edge_view: bool
    pool: int


def make_examples(x: np.ndarray, y: np.ndarray, spec: InputSpec, seed: int, reject_index: int | None,
                  pool_per_kind: int, reference: DigitReference | None) -> Examples:
    """The run's digits and, with a reject class, their edge views and the negative pool."""
    if reject_index is None:
        return Examples(images=x, labels=y.astype(np.int32), digits=len(x), edge_view=False, pool=0)
    started = time.process_time()
    viewed = edge_digits(x, seed * 16 + _EDGE_STREAM, spec)
    negatives = negative_set(pool_per_kind, seed * 16 + _TRAIN_STREAM, spec, x, reference=reference)
    log.info("drew %d edge views of digits and %d negatives in %.0f s CPU", len(viewed), len(negatives.images),
             time.process_time() - started)
    images = np.concatenate([x, viewed, negatives.images])
    labels = np.concatenate([y, y, np.full(len(negatives.images), reject_index)]).astype(np.int32)
    return Examples(images=images, labels=labels, digits=len(x), edge_view=True, pool=len(negatives.images))


def epoch_order(examples: Examples, per_epoch_negatives: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """One epoch's example indices, shuffled, cut to whole batches: every digit once (its edge
    view with ``EDGE_DIGIT_SHARE`` probability) and ``per_epoch_negatives`` of the pool."""
    order = np.arange(examples.digits)
    if examples.edge_view:
        order = order + examples.digits * (rng.random(examples.digits) < EDGE_DIGIT_SHARE)
    if examples.pool:
        start = examples.digits * (2 if examples.edge_view else 1)
        order = np.concatenate([order, start + rng.choice(examples.pool, per_epoch_negatives, replace=False)])
    order = rng.permutation(order)
    return order[: max(batch, len(order) // batch * batch)]


def _dataset(examples: Examples, orders: np.ndarray, batch: int, classes: int, spec: InputSpec, seed: int,
             augment: bool) -> tf.data.Dataset:
    images = tf.constant(examples.images)
    labels = tf.constant(examples.labels)
    scale, offset = float(spec.scale), float(spec.offset)

    def gather(index):
        x = tf.cast(tf.gather(images, index), tf.float32)[..., None] * scale + offset
        return x, tf.one_hot(tf.gather(labels, index), classes)

    ds = tf.data.Dataset.from_tensor_slices(orders.reshape(-1, batch)).map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                                                                             deterministic=True)
    if augment:
        # One stateless seed per batch, drawn from a seeded stream: same seed, same augmentations.
        seeds = tf.data.Dataset.random(seed=seed).batch(2).map(lambda s: tf.cast(s, tf.int32))
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment_batch(xy[0], s, spec), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def train(
    data: Mnist,
    arch: str,
    *,
    epochs: int | None = None,
    seed: int = 1,
    val_size: int = 5000,
    limit: int | None = None,
    batch_size: int | None = None,
    negatives: float | None = None,
    pool_per_kind: int = NEGATIVE_POOL_PER_KIND,
    spec: InputSpec = MNIST_INPUT,
    verbose: bool = True,
) -> TrainResult:
    """Train ``arch`` on the training split (minus ``val_size`` held-out images).

    ``negatives``: reject-class examples per digit each epoch (default: the recipe's; 0 trains the
    ten digit classes only).
    """
    recipe: Recipe = RECIPES[arch]
    keras.utils.set_random_seed(seed)
    x, y = data.x_train, data.y_train
    if limit:
        x, y = x[:limit], y[:limit]
    x_fit, y_fit, x_val, y_val = split_validation(x, y, val_size, seed)
    epochs = epochs or recipe.epochs
    batch = batch_size or recipe.batch_size
    per_digit = recipe.negatives if negatives is None else negatives
    labels = class_labels(per_digit > 0)
    reject_index = labels.index(REJECT_LABEL) if per_digit > 0 else None
    spec = dataclasses.replace(spec, stroke_width=training_stroke_width(x_fit))

    reference = None
    if reject_index is not None:
        queries = x_val[:REFERENCE_QUERIES] if len(x_val) else x_fit[-REFERENCE_QUERIES:]
        reference = DigitReference.build(x_fit[:REFERENCE_DIGITS], queries, spec, seed)
    examples = make_examples(x_fit, y_fit, spec, seed, reject_index, pool_per_kind, reference)
    per_epoch_negatives = min(examples.pool, int(round(per_digit * len(x_fit))))
    rng = np.random.default_rng([seed, _EPOCH_STREAM])
    orders = np.stack([epoch_order(examples, per_epoch_negatives, batch, rng) for _ in range(epochs)])
    steps_per_epoch = orders.shape[1] // batch
    steps = epochs * steps_per_epoch

    model = recipe.build((spec.height, spec.width, 1), len(labels))
    # Batch-norm statistics must settle within the run: a smoke run of a few dozen steps needs a
    # short memory; a full run keeps Keras' usual 0.99.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(0.99, max(0.5, 1.0 - 20.0 / steps))
    model.compile(
        optimizer=recipe.optimizer(steps),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    log.info(
        "training %s: %d parameters, %d classes, %d digits (%d held out for validation)%s, %d epochs, seed %d",
        arch, model.count_params(), len(labels), len(x_fit), len(x_val),
        f" and {per_epoch_negatives} of {examples.pool} negatives an epoch" if reject_index is not None else "",
        epochs, seed,
    )
    train_ds = _dataset(examples, orders, batch, len(labels), spec, seed, recipe.augment)
    val = None
    if len(x_val):
        vx, vy = x_val, y_val.astype(np.int32)
        if reject_index is not None:
            held = negative_set(VALIDATION_NEGATIVES_PER_KIND, seed * 16 + _VALIDATION_STREAM, spec, x_val,
                                reference=reference)
            vx = np.concatenate([vx, held.images])
            vy = np.concatenate([vy, np.full(len(held.images), reject_index, np.int32)])
        val = (keras_input(vx, spec), keras.utils.to_categorical(vy, len(labels)))
    started = time.perf_counter()
    # A live progress bar on a terminal; one line per epoch in logs and CI.
    progress = (1 if sys.stderr.isatty() else 2) if verbose else 0
    # The batches are already shuffled (seeded); Keras must not try to shuffle a tf.data pipeline.
    history = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=val,
                        verbose=progress, shuffle=False)
    seconds = time.perf_counter() - started
    taught = {}
    if reject_index is not None:
        taught = {
            "per_digit": per_digit,
            "per_epoch": per_epoch_negatives,
            "pool": examples.pool,
            "kinds": list(NEGATIVE_KINDS),
            "edge_digit_share": EDGE_DIGIT_SHARE,
            "reference_distance": round(reference.distance, 4),
            "validation_per_kind": VALIDATION_NEGATIVES_PER_KIND if len(x_val) else 0,
        }
    return TrainResult(
        model=model,
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
        seconds=seconds,
        arch=arch,
        epochs=epochs,
        seed=seed,
        train_size=len(x_fit),
        val_size=len(x_val),
        labels=labels,
        reject_label=REJECT_LABEL if reject_index is not None else None,
        spec=spec,
        negatives=taught,
    )
