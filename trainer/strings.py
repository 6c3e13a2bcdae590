"""The string reader: read a whole number region at once, trained with CTC on generated numbers.

    digits-train strings --data ../shared/mnist --out runs/strings --install models

Setup, data, model, training, evaluation, conversion, in that order. The model is convolutional
only: a feature extractor over a ``INPUT_HEIGHT``-row crop of the region's ink, three poolings that
leave one column per ``STRIDE`` input pixels, a few wide 1-D convolutions along the row for context,
and a per-column softmax over the ten digits plus CTC's blank. Recurrent layers were measured and
left out: Keras 3's (Bi)LSTM does not convert to built-in TFLite ops at all (it needs TensorFlow's
own ops, which tflite-runtime lacks), and unrolled over a fixed width it converts but runs 1.5x
(tflite-runtime 2.14) to 1.7x (LiteRT) slower than this model in int8, without a variable width.

More depth was measured too and left out: the shipped reader grown by three residual blocks
(``--arch ctc-reader-res --init models/strings_float.tflite``, 36% more multiply-accumulates) and
trained 4 more epochs on 200,000 new strings read 91.56% of the test strings exactly in int8 (the
shipped one 91.42%), and regions of MNIST test digits on seeds 91,000,000 and 92,000,000 as the edge
reads them (unsure ones looked at again) 94.1 and 93.0% against 93.8 and 92.9%: not worth the time.

Training strings come from MNIST *training* digits (``trainer.synth.strings``) with the validation
digits held out; the test strings from other seeds and MNIST *test* digits. The int8 model is
refused when its exact-string accuracy on the test strings falls more than ``--max-drop`` points
below the float model's (the digit model's rule, on strings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge import __version__
from edge.pipeline.results import Box
from edge.pipeline.strings import REGION_MARGIN
from edge.runtime.metadata import (
    BLANK_LABEL,
    InputSpec,
    ModelMetadata,
    OutputSpec,
    StringSpec,
    sha256_file,
    write_metadata,
)

log = logging.getLogger("trainer.strings")

INPUT_HEIGHT = 32
STRIDE = 4  # input pixels per output column (two 2x2 poolings across the width)
ALPHABET = "0123456789"
BLANK = len(ALPHABET)  # the last label, as TensorFlow's CTC ops expect
WIDTH_STEP = 16  # the edge rounds widths up to this, so nearby widths share one interpreter
MIN_WIDTH = 16
MAX_WIDTH = 512  # 10 widely spaced digits fit in 12 digit heights at 32 rows
MAX_LABEL = 10
DEFAULT_NAME = "strings"


# --- data -------------------------------------------------------------------------------------

@dataclass
class StringSet:
    """Generated regions as the model sees them, with their labels."""

    images: list[np.ndarray]  # uint8 (INPUT_HEIGHT, width), width a multiple of STRIDE
    texts: list[str]
    tags: list[tuple[str, ...]] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)  # the ink crops (kept for the test set)
    boxes: list[list[Box]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


_BANK = None  # per worker process: the digit bank, sent once instead of with every task


def _init_worker(images: np.ndarray, labels: np.ndarray) -> None:
    global _BANK
    from trainer.synth.strings import GlyphBank

    _BANK = GlyphBank(images, labels)


def _make(task: tuple[int, int, bool]) -> list[tuple]:
    from trainer.synth.strings import make_string

    start, stop, keep = task
    out = []
    for seed in range(start, stop):
        s = make_string(_BANK, seed)
        out.append((s.model_input(INPUT_HEIGHT, STRIDE), s.text, s.tags,
                    s.ink if keep else None, s.boxes if keep else None))
    return out


def generate_set(images: np.ndarray, labels: np.ndarray, first_seed: int, count: int,
                 keep_crops: bool = False, workers: int | None = None) -> StringSet:
    """``count`` generated regions from seeds ``first_seed`` on, drawing digits from ``images``."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    chunk = 500
    tasks = [(s, min(s + chunk, first_seed + count), keep_crops) for s in range(first_seed, first_seed + count, chunk)]
    result = StringSet([], [], [], [], [])
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(images, labels)) as pool:
        for part in pool.map(_make, tasks):
            for image, text, tags, crop, boxes in part:
                result.images.append(image)
                result.texts.append(text)
                result.tags.append(tags)
                if keep_crops:
                    result.crops.append(crop)
                    result.boxes.append(boxes)
    return result


def batches(data: StringSet, batch_size: int, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, ...]]:
    """Batches of similar widths (little padding), in random order: images float32 (B, H, W, 1) in
    [0, 1] padded with paper on the right, labels int32 (B, MAX_LABEL) padded with -1, lengths."""
    widths = np.array([img.shape[1] for img in data.images])
    order = np.argsort(widths + rng.uniform(0, 24, len(widths)), kind="stable")  # jitter mixes neighbours
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for g in rng.permutation(len(groups)):
        yield _batch(data, groups[g])


def _batch(data: StringSet, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max(data.images[i].shape[1] for i in index)
    width = -(-width // WIDTH_STEP) * WIDTH_STEP
    x = np.zeros((len(index), INPUT_HEIGHT, width, 1), np.float32)
    y = np.full((len(index), MAX_LABEL), -1, np.int32)
    lengths = np.zeros(len(index), np.int32)
    for row, i in enumerate(index):
        img = data.images[i]
        x[row, :, : img.shape[1], 0] = img / np.float32(255)
        text = data.texts[i]
        y[row, : len(text)] = [int(c) for c in text]
        lengths[row] = len(text)
    return x, y, lengths


# --- model ------------------------------------------------------------------------------------

PLAIN = "ctc-reader"  # the shipped reader's layers
RESIDUAL = "ctc-reader-res"  # the same with three residual blocks (see the module's docstring)
ARCHITECTURES = (PLAIN, RESIDUAL)
_DESCRIPTION = ("convolutional CTC string reader: 32-row region crop, 4-pixel columns, 10 digits + blank, "
                "conv only (no recurrent layers)")
DESCRIPTIONS = {PLAIN: _DESCRIPTION, RESIDUAL: _DESCRIPTION + ", with three residual blocks"}
# Layers whose names start with this are the residual blocks; a model grown from an earlier reader
# without them (``load_float_tflite``) takes its other layers' weights and starts these as identities.
RESIDUAL_PREFIX = "res"
# Largest difference of posteriors (0-1) allowed between a float .tflite and the model recovered
# from it: float32 rounding gives about 1e-5; a wrong mapping gives tenths.
GROWN_TOLERANCE = 1e-3


def build_reader(width: float = 1.0, architecture: str = PLAIN):
    """The CTC reader as a Keras model from (B, 32, W, 1) ink to (B, 1, W/4, 11) logits;
    ``architecture`` one of ``ARCHITECTURES`` (the plain one lacks the residual blocks)."""
    import keras
    from keras import layers

    def conv(x, filters: int, kernel=3, padding: str = "same"):
        # No bias: batch normalisation's shift replaces it and the converter folds it into the conv.
        x = layers.Conv2D(int(filters * width), kernel, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    def residual(x, kernel, name: str):
        if architecture == PLAIN:
            return x
        # The block's last scale starts at zero, so the block starts as the identity: a reader grown
        # from one without these blocks reads as that one did until training moves it.
        y = layers.Conv2D(x.shape[-1], kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
        y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_norm")(y)
        return layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([x, y]))

    inputs = keras.Input((INPUT_HEIGHT, None, 1), name="region")
    x = conv(inputs, 16)
    x = layers.MaxPooling2D(2)(x)  # 16 x W/2
    x = conv(x, 32)
    x = layers.MaxPooling2D(2)(x)  # 8 x W/4
    x = conv(x, 48)
    x = conv(x, 48)
    x = layers.MaxPooling2D((2, 1))(x)  # 4 x W/4: keep the columns, fold the rows
    x = conv(x, 64)
    x = residual(x, 3, f"{RESIDUAL_PREFIX}1")  # more shape features before the rows are folded
    x = conv(x, 96, (4, 1), "valid")  # 1 x W/4: one feature vector per column
    # Context along the row (a digit spans 4-6 columns; its neighbours decide where it ends).
    x = conv(x, 96, (1, 5))
    x = conv(x, 96, (1, 5))
    x = residual(x, (1, 5), f"{RESIDUAL_PREFIX}2")
    x = residual(x, (1, 5), f"{RESIDUAL_PREFIX}3")
    x = layers.Dropout(0.2)(x)
    logits = layers.Conv2D(len(ALPHABET) + 1, 1, name="logits")(x)
    return keras.Model(inputs, logits, name="ctc-reader")


def load_float_tflite(model, path: Path, calibration: list[np.ndarray]) -> float:
    """Put the weights of a float32 ``.tflite`` reader this trainer wrote into ``model``: a
    ``build_reader`` model with the same layers, or with residual blocks the file lacks (they start
    as identities).

    The converter folded each batch normalisation into its convolution; it is unfolded so that the
    model computes what the file does both in inference and, on data like ``calibration``, in
    training mode: its statistics become the conv outputs' mean and variance on those images and its
    scale and shift undo them. Returns the largest difference between the file's posteriors and the
    model's on a calibration batch (a check that the mapping was right)."""
    import keras
    import tensorflow as tf

    from .data import DataError

    interpreter = tf.lite.Interpreter(
        str(path), experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter.allocate_tensors()
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] == "CONV_2D"]
    saved = [(interpreter.get_tensor(op["inputs"][1]), interpreter.get_tensor(op["inputs"][2])) for op in ops]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(convs) != len(saved):  # a file without the residual blocks: they start as identities
        convs = [layer for layer in convs if not layer.name.startswith(RESIDUAL_PREFIX)]
    if len(convs) != len(saved):
        raise DataError(f"{path}: {len(saved)} convolutions, the reader has {len(convs)}")
    pairs = []  # (conv, its batch normalisation, the shift folded into the file's conv or None)
    for layer, (kernel, bias) in zip(convs, saved):
        kernel = np.transpose(kernel, (1, 2, 3, 0))  # TFLite O,H,W,I -> Keras H,W,I,O
        if tuple(layer.kernel.shape) != kernel.shape:
            raise DataError(f"{path}: a {kernel.shape} kernel where {layer.name} has {tuple(layer.kernel.shape)}")
        if layer.use_bias:
            layer.set_weights([kernel, bias])
            continue
        layer.set_weights([kernel])
        norm = model.layers[model.layers.index(layer) + 1]
        if not isinstance(norm, keras.layers.BatchNormalization):
            raise DataError(f"{layer.name} is not followed by its batch normalisation")
        pairs.append((layer, norm, bias))
    loaded = {id(layer) for layer in convs}
    for layer in model.layers:
        if layer.name.startswith(RESIDUAL_PREFIX) and isinstance(layer, keras.layers.Conv2D) and id(layer) not in loaded:
            pairs.append((layer, model.layers[model.layers.index(layer) + 1], None))

    batch = _batch(StringSet(list(calibration), ["0"] * len(calibration)), np.arange(len(calibration)))[0]
    for layer, norm, bias in pairs:  # in order: each conv's input is already the file's
        if bias is not None:
            norm.set_weights([np.ones_like(bias), bias, np.zeros_like(bias), np.ones_like(bias) - norm.epsilon])
    probe = keras.Model(model.input, [layer.output for layer, _, _ in pairs])
    outputs = probe(batch, training=False)
    for (layer, norm, bias), z in zip(pairs, outputs):
        z = np.asarray(z).reshape(-1, z.shape[-1])
        mean, var = z.mean(0), z.var(0)
        gamma, beta = norm.get_weights()[:2]
        if bias is not None:
            gamma, beta = np.sqrt(var + norm.epsilon), bias + mean
        norm.set_weights([gamma, beta, mean, var])

    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    got = np.asarray(keras.activations.softmax(model(batch, training=False), axis=-1))
    return float(np.max(np.abs(expected - got)))


def with_softmax(model):
    """The shipped form: posteriors instead of logits."""
    import keras

    outputs = keras.layers.Softmax(axis=-1, name="posteriors")(model.output)
    return keras.Model(model.input, outputs, name=model.name)


def count_macs(model, width: int = 128) -> int:
    """Multiply-accumulates for one region ``width`` pixels wide."""
    from keras import layers

    total, w = 0, width
    for layer in model.layers:
        if isinstance(layer, layers.MaxPooling2D):
            w //= layer.pool_size[1]
        if isinstance(layer, layers.Conv2D):
            _, h, _, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += h * w * c_out * kh * kw * c_in
    return int(total)


# --- training ---------------------------------------------------------------------------------

@dataclass
class TrainResult:
    model: object  # keras.Model with logits
    history: dict[str, list[float]]
    seconds: float


def train_reader(train: StringSet, val: StringSet, *, epochs: int, batch_size: int, seed: int,
                 learning_rate: float = 3e-3, log_every: int = 200, init=None) -> TrainResult:
    """Train a new reader, or go on training ``init`` (a logits model) on more strings."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = init if init is not None else build_reader()
    steps = epochs * int(np.ceil(len(train) / batch_size))
    warmup = max(1, steps // 30)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 30, decay_steps=max(1, steps - warmup),
        warmup_target=learning_rate, warmup_steps=warmup, alpha=1e-2,
    )
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-4, clipnorm=5.0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(0.99, max(0.5, 1.0 - 20.0 / steps))

    spec = (
        tf.TensorSpec((None, INPUT_HEIGHT, None, 1), tf.float32),
        tf.TensorSpec((None, MAX_LABEL), tf.int32),
        tf.TensorSpec((None,), tf.int32),
    )

    def ctc(logits, labels, lengths):
        logits = tf.squeeze(logits, 1)
        columns = tf.fill([tf.shape(logits)[0]], tf.shape(logits)[1])
        # Sparse labels from the true lengths (the digit 0 is a label, not padding).
        mask = tf.sequence_mask(lengths, MAX_LABEL)
        indices = tf.cast(tf.where(mask), tf.int64)
        sparse = tf.SparseTensor(indices, tf.gather_nd(labels, indices), tf.cast(tf.shape(labels), tf.int64))
        # blank_index -1: the last class, TensorFlow's native (fast) CTC kernel on the CPU.
        return tf.nn.ctc_loss(sparse, logits, None, columns, logits_time_major=False, blank_index=-1)

    @tf.function(input_signature=spec, reduce_retracing=True)
    def step(x, labels, lengths):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(ctc(model(x, training=True), labels, lengths))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "val_exact": [], "val_cer": []}
    started = time.perf_counter()
    done = 0
    for epoch in range(epochs):
        losses = []
        for x, y, n in batches(train, batch_size, rng):
            losses.append(float(step(x, y, n)))
            done += 1
            if log_every and done % log_every == 0:
                log.info("step %d/%d: loss %.3f (%.0f s)", done, steps, np.mean(losses[-log_every:]),
                         time.perf_counter() - started)
        scores = score(predict_keras(model, val), val.texts)
        history["loss"].append(float(np.mean(losses)))
        history["val_exact"].append(scores["exact"])
        history["val_cer"].append(scores["cer"])
        log.info("epoch %d/%d: loss %.4f, validation exact %.2f%%, CER %.2f%% (%.0f s)", epoch + 1, epochs,
                 history["loss"][-1], 100 * scores["exact"], 100 * scores["cer"], time.perf_counter() - started)
    return TrainResult(model=model, history=history, seconds=time.perf_counter() - started)


# --- decoding and scores ----------------------------------------------------------------------

def greedy_texts(probs: np.ndarray) -> list[str]:
    """Best-path decoding of (B, columns, labels) scores (logits or posteriors)."""
    texts = []
    for row in np.asarray(probs).argmax(axis=-1):
        chars, last = [], -1
        for label in row:
            if label != last and label != BLANK:
                chars.append(ALPHABET[label])
            last = label
        texts.append("".join(chars))
    return texts


def predict_keras(model, data: StringSet, batch_size: int = 128) -> list[str]:
    out = [""] * len(data)
    for start in range(0, len(data), batch_size):
        index = np.arange(start, min(len(data), start + batch_size))
        # Same-width batches would pad less; padding is paper, which the model reads as blank.
        x, _, _ = _batch(data, index)
        logits = model(x, training=False).numpy()[:, 0]
        for i, text in zip(index, greedy_texts(logits)):
            out[i] = text
    return out


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score(predicted: list[str], truth: list[str]) -> dict:
    """Exact-string accuracy and character error rate (edit distance over true characters)."""
    errors = sum(edit_distance(p, t) for p, t in zip(predicted, truth))
    chars = sum(len(t) for t in truth)
    exact = sum(p == t for p, t in zip(predicted, truth))
    return {"strings": len(truth), "exact": exact / max(1, len(truth)), "cer": errors / max(1, chars),
            "characters": chars, "edit_errors": errors}


def score_by_tag(predicted: list[str], data: StringSet) -> dict[str, dict]:
    """Exact accuracy on the strings with each style or distractor, and on the plain ones."""
    tags = sorted({t for ts in data.tags for t in ts}) + ["(none)"]
    result = {}
    for tag in tags:
        idx = [i for i, ts in enumerate(data.tags) if (tag in ts if tag != "(none)" else not ts)]
        if idx:
            result[tag] = score([predicted[i] for i in idx], [data.texts[i] for i in idx])
    return result


def mnist_digit_regions(images: np.ndarray) -> list[tuple[np.ndarray, Box]]:
    """Each MNIST image as a one-digit region: the image with paper around it, and its ink box."""
    regions = []
    for img in images:
        page = np.pad(img, 12)
        ys, xs = np.nonzero(page > 30)
        regions.append((page, Box(int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)))
    return regions


def read_with(reader, data: StringSet) -> list[str]:
    """Texts read by an edge ``StringReader`` from the test set's ink crops (the whole edge path)."""
    return [reader.read_crop(crop).text for crop in data.crops]


def measure_peak_lead(reader, data: StringSet) -> float:
    """How far right of its columns' middle a character's centre lies, in the character's heights
    (the median over the test strings the edge ``reader`` reads exactly; 0.0 when it reads none):
    the metadata's ``StringSpec.peak_lead``."""
    offsets = []
    for crop, boxes, text in zip(data.crops, data.boxes, data.texts):
        reading = reader.read_crop(crop, fit_boxes=False)
        if reading.text != text:
            continue
        columns_px = reader.stride / reader.prepare(crop).scale  # crop pixels per output column
        offsets += [(box.cx - (first + last + 1) / 2 * columns_px) / box.h
                    for (first, last), box in zip(reading.spans, boxes)]
    return round(float(np.median(offsets)), 3) if offsets else 0.0


def mnist_single_digit_accuracy(reader, images: np.ndarray, labels: np.ndarray) -> float:
    """The reader's accuracy on MNIST test digits read as one-digit strings (exactly that digit),
    one look at each (the model's own figure, as the other figures of the report are)."""
    right = 0
    for (page, box), label in zip(mnist_digit_regions(images), labels):
        right += reader.read(page, box, second_looks=False).text == str(int(label))
    return right / max(1, len(labels))


def cpu_microseconds(fn: Callable[[], object], repeat: int) -> float:
    """CPU time per call (process time, all threads), microseconds."""
    fn()
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat * 1e6


# --- conversion -------------------------------------------------------------------------------

def to_tflite(model, calibration: list[np.ndarray] | None) -> bytes:
    """Float (``calibration`` None) or full-integer int8 TFLite with a variable input width."""
    import tensorflow as tf

    from .conversion import _quiet

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            for image in calibration:
                width = -(-image.shape[1] // WIDTH_STEP) * WIDTH_STEP
                x = np.zeros((1, INPUT_HEIGHT, width, 1), np.float32)
                x[0, :, : image.shape[1], 0] = image / np.float32(255)
                yield [x]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with _quiet():
        return converter.convert()


def build_metadata(model_path: Path, provenance: dict, peak_lead: float = 0.0) -> ModelMetadata:
    """Metadata for a written string model, quantisation read back from the file; ``peak_lead`` as
    ``measure_peak_lead`` measured it."""
    from .conversion import _io_details, _quant

    inp, out = _io_details(model_path)
    return ModelMetadata(
        model_file=model_path.name,
        model_sha256=sha256_file(model_path),
        input=InputSpec(
            height=INPUT_HEIGHT,
            width=MAX_WIDTH,
            polarity="light-on-dark",
            # The digits' height in the input when the crop has the edge's margin.
            digit_box=int(round(INPUT_HEIGHT / (1 + 2 * REGION_MARGIN))),
            centering="region-with-margin",
            stroke_width=None,
            dtype=np.dtype(inp["dtype"]).name,
            quantization=_quant(inp),
        ),
        output=OutputSpec(dtype=np.dtype(out["dtype"]).name, activation="softmax", quantization=_quant(out)),
        labels=tuple(ALPHABET) + (BLANK_LABEL,),
        kind="string-reader",
        strings=StringSpec(
            alphabet=ALPHABET, blank_index=BLANK, width_policy="variable", width_step=WIDTH_STEP,
            min_width=MIN_WIDTH, max_width=MAX_WIDTH, column_stride=STRIDE, region_margin=REGION_MARGIN,
            peak_lead=peak_lead,
        ),
        provenance=provenance,
    )


# --- the command ------------------------------------------------------------------------------

def add_parser(sub, data_flag: Callable) -> None:
    """Register ``digits-train strings`` on the trainer's subcommands."""
    p = sub.add_parser("strings", help="train, evaluate and convert the string reader (whole numbers, CTC)")
    data_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output folder for the run")
    p.add_argument("--epochs", type=int, default=12, help="epochs over the generated strings (default 12)")
    p.add_argument("--train-size", type=int, default=120_000, help="generated training strings (default 120000)")
    p.add_argument("--val-size", type=int, default=2000, help="validation strings (held-out digits, other seeds)")
    p.add_argument("--test-size", type=int, default=5000, help="test strings (MNIST test digits, other seeds)")
    p.add_argument("--digit-tests", type=int, default=10000,
                   help="MNIST test digits read as one-digit strings (default all 10000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1, help="random seed of the training run (default 1)")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"file name stem (default {DEFAULT_NAME})")
    p.add_argument("--max-drop", type=float, default=0.1,
                   help="fail if int8 exact-string accuracy is more than this many points below float (default 0.1)")
    p.add_argument("--backend", help="interpreter used to verify the .tflite files (default: auto)")
    p.add_argument("--model", type=Path, metavar="MODEL.keras", help="convert this trained model instead of training")
    p.add_argument("--arch", choices=ARCHITECTURES, default=PLAIN,
                   help=f"layers of a new reader (default {PLAIN}); with --init, the given model's own, "
                        "except that a .tflite grows into this one")
    p.add_argument("--init", type=Path, metavar="MODEL",
                   help="go on training this model (use --first-seed for strings it has not seen): a .keras file, "
                        "or a float32 .tflite reader this trainer wrote (its weights are recovered, and residual "
                        "blocks it lacks start as identities)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="first training string seed, from trainer.synth.strings.TRAIN_SEEDS (default 0)")
    p.add_argument("--install", type=Path, metavar="DIR", help="also copy the models, metadata and report here")


def run(args: argparse.Namespace, data) -> int:
    """Train (unless ``--model``), evaluate, convert, verify, report and optionally install."""
    import keras
    import tensorflow as tf

    from .conversion import ConversionError, write_model
    from .data import DataError, split_validation

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    x_fit, y_fit, x_val, y_val = split_validation(data.x_train, data.y_train, 5000, seed=args.seed)
    from trainer.synth.strings import TEST_SEEDS, TRAIN_SEEDS, VALIDATION_SEEDS

    started = time.perf_counter()
    val = generate_set(x_val, y_val, VALIDATION_SEEDS, args.val_size)
    test = generate_set(data.x_test, data.y_test, TEST_SEEDS, args.test_size, keep_crops=True)
    log.info("generated %d validation and %d test strings in %.0f s", len(val), len(test), time.perf_counter() - started)

    if args.model:
        model = keras.models.load_model(args.model)
        record_path = args.model.with_name("training.json")
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    else:
        started = time.perf_counter()
        first = TRAIN_SEEDS + args.first_seed
        if not 0 <= args.first_seed < VALIDATION_SEEDS - TRAIN_SEEDS - args.train_size:
            raise DataError(f"--first-seed {args.first_seed} would reach the validation seeds")
        train = generate_set(x_fit, y_fit, first, args.train_size)
        generation = time.perf_counter() - started
        log.info("generated %d training strings in %.0f s", len(train), generation)
        init, previous = None, None
        architecture = args.arch
        if args.init and args.init.suffix == ".tflite":
            init = build_reader(architecture=architecture)
            gap = load_float_tflite(init, args.init, val.images[:256])
            log.info("grown from %s: posteriors within %.2g of the file's", args.init, gap)
            if gap > GROWN_TOLERANCE:
                raise ConversionError(f"{args.init}: the recovered model's posteriors differ from the file's by "
                                      f"{gap:.3f} (limit {GROWN_TOLERANCE}); is it a float reader from this trainer?")
            meta_path = args.init.with_suffix(".json")
            previous = json.loads(meta_path.read_text()).get("provenance", {}) if meta_path.is_file() else {}
            previous = dict(previous, model=str(args.init))
        elif args.init:
            init = keras.models.load_model(args.init)
            architecture = RESIDUAL if any(layer.name.startswith(RESIDUAL_PREFIX) for layer in init.layers) else PLAIN
            record_path = args.init.with_name("training.json")
            previous = json.loads(record_path.read_text()) if record_path.is_file() else {"model": str(args.init)}
            previous.pop("history", None)
        if init is None:
            init = build_reader(architecture=architecture)
        result = train_reader(train, val, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                              learning_rate=args.learning_rate, init=init)
        model = result.model
        model.save(out / "model.keras")
        record = {
            "architecture": architecture,
            "description": DESCRIPTIONS[architecture],
            "parameters": int(model.count_params()),
            "macs_per_region_128px": count_macs(model, 128),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
            "train_strings": len(train),
            "train_seeds": [first, first + len(train)],
            "continued_from": previous,
            "validation_strings": len(val),
            "validation_seeds": [VALIDATION_SEEDS, VALIDATION_SEEDS + len(val)],
            "digits": "MNIST training images (5000 held out for validation strings)",
            "data_source": data.source,
            "data_sha256": data.sha256,
            "generation_seconds": round(generation, 1),
            "training_seconds": round(result.seconds, 1),
            "cpu_count": os.cpu_count(),
            "trainer_version": __version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "python_version": platform.python_version(),
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "history": result.history,
        }
        (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
        from .plots import save_history_png

        try:
            save_history_png({"loss": result.history["loss"], "accuracy": result.history["val_exact"]},
                             out / "training.png")
        except Exception as exc:  # a figure is a nicety; the run's numbers are in training.json
            log.warning("no training figure: %s", exc)

    summary = convert_and_verify(args, model, record, data, val, test, out)
    drop = 100 * (summary["float"]["exact"] - summary["int8"]["exact"])
    if drop > args.max_drop:
        raise ConversionError(
            f"int8 exact-string accuracy {100 * summary['int8']['exact']:.2f}% is {drop:.2f} points below "
            f"float {100 * summary['float']['exact']:.2f}% (limit {args.max_drop}); the quantised model was not accepted"
        )
    if args.install:
        install(out, args.name, args.install)
    return 0


def convert_and_verify(args, model, record: dict, data, val: StringSet, test: StringSet, out: Path) -> dict:
    from edge.runtime.strings import StringReader

    from .conversion import write_model

    keras_texts = predict_keras(model, test)
    summary: dict = {"keras": score(keras_texts, test.texts)}
    shipped = with_softmax(model)
    calibration = val.images[:400]
    provenance = {k: v for k, v in record.items() if k != "history"}
    readers, texts = {}, {"keras": keras_texts}
    for kind, calib in (("float", None), ("int8", calibration)):
        path = out / f"{args.name}_{kind}.tflite"
        write_model(to_tflite(shipped, calib), path)
        write_metadata(build_metadata(path, provenance), path.with_suffix(".json"))
        reader = StringReader(path, backend=args.backend)
        texts[kind] = read_with(reader, test)
        summary[kind] = score(texts[kind], test.texts)
        summary[kind]["by_tag"] = score_by_tag(texts[kind], test)
        n = args.digit_tests
        summary[kind]["mnist_single_digit"] = mnist_single_digit_accuracy(reader, data.x_test[:n], data.y_test[:n])
        summary[kind]["mnist_single_digit_images"] = len(data.y_test[:n])
        summary[kind]["bytes"] = path.stat().st_size
        summary[kind]["verified_with"] = str(reader.backend)
        summary[kind]["us_per_region"] = speed(reader, test)
        summary[kind]["peak_lead"] = measure_peak_lead(reader, test)
        readers[kind] = reader
        log.info("%s: exact %.2f%%, CER %.2f%%, MNIST single digits %.2f%%, %d bytes", kind,
                 100 * summary[kind]["exact"], 100 * summary[kind]["cer"],
                 100 * summary[kind]["mnist_single_digit"], summary[kind]["bytes"])
    summary["int8_float_agreement"] = float(np.mean([a == b for a, b in zip(texts["int8"], texts["float"])]))
    summary["test_strings"] = len(test)
    summary["test_seeds"] = "trainer.synth.strings.TEST_SEEDS onwards, MNIST test digits"
    accuracy = {kind: {"exact": round(summary[kind]["exact"], 6), "cer": round(summary[kind]["cer"], 6)}
                for kind in ("keras", "float", "int8")}
    for kind in ("float", "int8"):
        path = out / f"{args.name}_{kind}.tflite"
        meta_provenance = dict(
            provenance, converted_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            quantization="full-integer int8" if kind == "int8" else "none (float32)",
            accuracy=accuracy, mnist_single_digit=round(summary[kind]["mnist_single_digit"], 6),
            model_bytes=path.stat().st_size,
        )
        write_metadata(build_metadata(path, meta_provenance, summary[kind]["peak_lead"]), path.with_suffix(".json"))
    (out / "conversion.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "REPORT.md").write_text(report_markdown(record, summary))
    return summary


def speed(reader, data: StringSet, regions: int = 300) -> dict:
    """CPU microseconds per region, over the first ``regions`` test strings and for 5-digit ones."""
    crops = data.crops[:regions]
    five = [c for c, t in zip(data.crops, data.texts) if len(t) == 5][:100]
    for crop in crops:
        reader.read_crop(crop)  # warm: one interpreter per width
    per = lambda cs: cpu_microseconds(lambda: [reader.read_crop(c) for c in cs], 3) / max(1, len(cs))  # noqa: E731
    return {"mixed": round(per(crops)), "five_digits": round(per(five)), "threads": reader.threads,
            "cpu": _cpu_model()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _lineage(record: dict) -> list[str]:
    """One report line per earlier run this one went on from, the latest first."""
    lines = []
    previous = record.get("continued_from")
    while previous:
        seeds = previous.get("train_seeds") or ["?", "?"]
        lines.append(f"- continued from a run of {previous.get('epochs', '?')} epochs on "
                     f"{previous.get('train_strings', '?')} other strings (seeds {seeds[0]}-{seeds[1]}, learning "
                     f"rate {previous.get('learning_rate', '?')}, {previous.get('training_seconds', '?')} s)")
        previous = previous.get("continued_from")
    return lines


def report_markdown(record: dict, summary: dict) -> str:
    lines = [
        "# String reader report",
        "",
        record.get("description", ""),
        "",
        f"- parameters: {record.get('parameters', '?')}, multiply-accumulates per 128-pixel-wide region "
        f"(about 5 digits): {record.get('macs_per_region_128px', '?')}",
        f"- trained {record.get('epochs', '?')} epochs on {record.get('train_strings', '?')} generated strings "
        f"(MNIST training digits, seeds {'-'.join(map(str, record.get('train_seeds') or ['?', '?']))}, learning "
        f"rate {record.get('learning_rate', '?')}), seed {record.get('seed', '?')}, in "
        f"{record.get('training_seconds', '?')} s on {record.get('cpu_count', '?')} CPU cores",
        *_lineage(record),
        f"- tested on {summary['test_strings']} held-out generated strings of MNIST *test* digits "
        "(other seeds), with touching digits, underlines, boxes, security backgrounds and punctuation",
        "",
        "| model | exact strings | character error rate | MNIST test digits as 1-digit strings | size | CPU µs per region (5 digits) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| Keras (float32) | {100 * summary['keras']['exact']:.2f}% | {100 * summary['keras']['cer']:.2f}% | - | - | - |",
    ]
    for kind, label in (("float", "TFLite float32"), ("int8", "TFLite full-integer int8")):
        s = summary[kind]
        lines.append(
            f"| {label} | {100 * s['exact']:.2f}% | {100 * s['cer']:.2f}% | {100 * s['mnist_single_digit']:.2f}% | "
            f"{s['bytes'] / 1024:.1f} KB | {s['us_per_region']['five_digits']} ({s['verified_with']}) |"
        )
    lines += [
        "",
        f"int8 readings agree with float on {100 * summary['int8_float_agreement']:.2f}% of test strings. "
        f"CPU: {summary['int8']['us_per_region']['cpu']}, 1 thread. A character's centre lies "
        f"{summary['int8'].get('peak_lead', '?')} digit heights right of its columns' middle (int8; the "
        "metadata's peak_lead, which places the digit boxes).",
        "",
        "Exact strings of the int8 model by style and distractor:",
        "",
        "| strings with | count | exact | CER |",
        "| --- | ---: | ---: | ---: |",
    ]
    for tag, s in summary["int8"]["by_tag"].items():
        lines.append(f"| {tag} | {s['strings']} | {100 * s['exact']:.2f}% | {100 * s['cer']:.2f}% |")
    lines.append("")
    return "\n".join(lines)


def install(run_dir: Path, name: str, dest: Path) -> None:
    """Copy both models, their metadata and the report (to ``dest/report/strings``)."""
    from edge.runtime.strings import StringReader

    for kind in ("int8", "float"):
        StringReader(run_dir / f"{name}_{kind}.tflite")  # refuse a half-written or mismatched run
    report = dest / "report" / "strings"
    report.mkdir(parents=True, exist_ok=True)
    for kind in ("int8", "float"):
        for suffix in (".tflite", ".json"):
            shutil.copy2(run_dir / f"{name}_{kind}{suffix}", dest / f"{name}_{kind}{suffix}")
    for item in ("REPORT.md", "training.json", "conversion.json", "training.png"):
        if (run_dir / item).is_file():
            shutil.copy2(run_dir / item, report / item)
    log.info("installed %s_int8.tflite and %s_float.tflite into %s", name, name, dest)
