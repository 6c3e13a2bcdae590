"""Train a Keras digit model from a recipe: reproducible, with a held-out validation split."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .architectures import RECIPES, Recipe
from .augment import augment_batch
from .data import Mnist, split_validation

log = logging.getLogger(__name__)


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


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the Keras model's input."""
    return (images.astype(np.float32) / 255.0)[..., None]


def _dataset(x: np.ndarray, y: np.ndarray, batch: int, seed: int, augment: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((to_model_input(x), keras.utils.to_categorical(y, 10)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch)
    if augment:
        # One stateless seed per batch, drawn from a seeded stream: same seed, same augmentations.
        seeds = tf.data.Dataset.random(seed=seed).batch(2).map(lambda s: tf.cast(s, tf.int32))
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment_batch(xy[0], s), xy[1]),
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
    verbose: bool = True,
) -> TrainResult:
    """Train ``arch`` on the training split (minus ``val_size`` held-out images)."""
    recipe: Recipe = RECIPES[arch]
    keras.utils.set_random_seed(seed)
    x, y = data.x_train, data.y_train
    if limit:
        x, y = x[:limit], y[:limit]
    x_fit, y_fit, x_val, y_val = split_validation(x, y, val_size, seed)
    epochs = epochs or recipe.epochs
    batch = batch_size or recipe.batch_size
    steps = epochs * int(np.ceil(len(x_fit) / batch))

    model = recipe.build()
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
        "training %s: %d parameters, %d images (%d held out for validation), %d epochs, seed %d",
        arch, model.count_params(), len(x_fit), len(x_val), epochs, seed,
    )
    train_ds = _dataset(x_fit, y_fit, batch, seed, recipe.augment)
    val = (to_model_input(x_val), keras.utils.to_categorical(y_val, 10)) if len(x_val) else None
    started = time.perf_counter()
    # A live progress bar on a terminal; one line per epoch in logs and CI.
    progress = (1 if sys.stderr.isatty() else 2) if verbose else 0
    # The dataset shuffles itself (seeded); Keras must not try to shuffle a tf.data pipeline.
    history = model.fit(train_ds, epochs=epochs, validation_data=val, verbose=progress, shuffle=False)
    seconds = time.perf_counter() - started
    return TrainResult(
        model=model,
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
        seconds=seconds,
        arch=arch,
        epochs=epochs,
        seed=seed,
        train_size=len(x_fit),
        val_size=len(x_val),
    )
