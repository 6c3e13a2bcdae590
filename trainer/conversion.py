"""Convert a Keras model to float and full-integer TFLite, with the metadata the edge runtime reads."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

from edge.runtime.backends import silence_native_stderr
from edge.runtime.metadata import InputSpec, ModelMetadata, OutputSpec, Quantization, sha256_file

from .training import keras_input

# A float .tflite computes what Keras computes, up to the order of float operations: no probability
# may differ by more than this (measured through the edge's own DigitClassifier). A wrong input
# scale, a dropped layer or a mismatched preprocessing moves probabilities by tenths.
FLOAT_TOLERANCE = 1e-3


class ConversionError(RuntimeError):
    """The converted model is not good enough to ship."""


def calibration_sample(images: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A class-balanced random sample of training images for int8 calibration (every class present
    in ``labels``, the reject class too when its examples are passed)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = max(1, size // len(classes))
    picks = [rng.choice(np.flatnonzero(labels == c), min(per_class, int((labels == c).sum())), replace=False)
             for c in classes]
    return images[rng.permutation(np.concatenate(picks))]


@contextlib.contextmanager
def _quiet():
    """The converter prints its SavedModel export to stdout and warns about tf.lite's deprecation."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), silence_native_stderr():
        warnings.simplefilter("ignore")
        yield


def to_float_tflite(model) -> bytes:
    with _quiet():
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def to_int8_tflite(model, calibration: np.ndarray, spec: InputSpec, io_type: str = "int8") -> bytes:
    """Full-integer quantisation: int8 weights and activations, ``io_type`` input and output."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative() -> Iterator[list[np.ndarray]]:
        for image in keras_input(calibration, spec):
            yield [image[None]]

    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    dtype = {"int8": tf.int8, "uint8": tf.uint8}[io_type]
    converter.inference_input_type = dtype
    converter.inference_output_type = dtype
    with _quiet():
        return converter.convert()


def _io_details(model_path: Path) -> tuple[dict, dict]:
    with _quiet():
        interpreter = tf.lite.Interpreter(model_path=str(model_path))
    return interpreter.get_input_details()[0], interpreter.get_output_details()[0]


def _quant(detail: dict) -> Quantization | None:
    if np.dtype(detail["dtype"]).kind == "f":
        return None
    scale, zero = detail["quantization"]
    return Quantization(scale=float(scale), zero_point=int(zero))


def build_metadata(model_path: Path, provenance: dict, spec: InputSpec, labels: tuple[str, ...],
                   reject_label: str | None) -> ModelMetadata:
    """Metadata for a written .tflite: the input spec training used (``spec``, stroke width
    included), with the I/O types and quantisation read back from the file."""
    inp, out = _io_details(model_path)
    return ModelMetadata(
        model_file=model_path.name,
        model_sha256=sha256_file(model_path),
        input=dataclasses.replace(spec, dtype=np.dtype(inp["dtype"]).name, quantization=_quant(inp)),
        output=OutputSpec(dtype=np.dtype(out["dtype"]).name, quantization=_quant(out)),
        labels=tuple(labels),
        reject_label=reject_label,
        provenance=provenance,
    )


def check_float_agreement(keras_probs: np.ndarray, tflite_probs: np.ndarray, what: str,
                          tolerance: float = FLOAT_TOLERANCE) -> float:
    """The largest probability difference between Keras and the float .tflite; raises
    ``ConversionError`` above ``tolerance``."""
    worst = float(np.abs(np.asarray(keras_probs, np.float64) - np.asarray(tflite_probs, np.float64)).max())
    if worst > tolerance:
        raise ConversionError(
            f"the float .tflite disagrees with the Keras model on {what}: probabilities differ by up to "
            f"{worst:.3g} (tolerance {tolerance:g}); the conversion is broken"
        )
    return worst


def write_model(blob: bytes, path: Path) -> None:
    """Write atomically, so an interrupted run never leaves a half model beside good metadata."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
