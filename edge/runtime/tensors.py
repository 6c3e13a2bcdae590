"""What the digit model and the string reader share before and around their interpreters.

Both are checked the same way when loaded (the file, its metadata, the checksum between them, the
flatbuffer), and both move quantised tensors through tables computed once per model: every pixel
value's model input, and every quantised output byte's real value. A table lookup replaces a float
conversion per call and gives the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.runtime.flatbuffer import check_flatbuffer
from edge.runtime.metadata import MetadataError, ModelMetadata, metadata_path, read_metadata, sha256_file

# Integer tensor types a full-integer model may use, with their value ranges.
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


class ModelError(RuntimeError):
    """The model cannot be used: missing, corrupt, or disagreeing with its metadata."""


def checked_metadata(path: Path, what: str) -> ModelMetadata:
    """The metadata of the model file ``path``, after checking the file exists, its metadata reads,
    the metadata's checksum is the file's and the file is a sound flatbuffer. ``what`` names the
    model in the one-line ``ModelError`` ("model", "string model")."""
    if not path.is_file():
        raise ModelError(f"{path}: {what} file not found")
    try:
        meta = read_metadata(metadata_path(path))
    except MetadataError as exc:
        raise ModelError(str(exc)) from None
    if meta.model_sha256 != sha256_file(path):
        raise ModelError(
            f"{path}: the model does not match its metadata {metadata_path(path).name} "
            "(checksum differs: the JSON belongs to another model)"
        )
    return meta


def check_flatbuffer_file(path: Path, usable: str) -> None:
    """Refuse a file no interpreter should see (tflite-runtime crashes on some truncated models)."""
    problem = check_flatbuffer(path.read_bytes())
    if problem:
        raise ModelError(f"{path}: not a usable {usable} ({problem})")


def check_types(path: Path, meta: ModelMetadata, inp: dict, out: dict) -> None:
    """The interpreter's input and output types and quantisation are the ones the metadata declares."""
    for role, detail, declared in (("input", inp, meta.input), ("output", out, meta.output)):
        dtype = np.dtype(detail["dtype"]).name
        if dtype != declared.dtype:
            raise ModelError(f"{path}: model {role} type is {dtype}, metadata says {declared.dtype}")
        if dtype in INT_RANGES:
            scale, zero = detail["quantization"]
            q = declared.quantization
            if q is None or not np.isclose(q.scale, scale, rtol=1e-5) or q.zero_point != zero:
                raise ModelError(f"{path}: {role} quantisation ({scale:.6g}, {zero}) disagrees with the metadata ({q})")


def input_table(meta: ModelMetadata, detail: dict) -> np.ndarray:
    """Every uint8 pixel value's model input (scaled, offset and quantised as the metadata says)."""
    real = np.arange(256, dtype=np.float64) * meta.input.scale + meta.input.offset
    dtype = np.dtype(detail["dtype"])
    if dtype.name in INT_RANGES:
        scale, zero = detail["quantization"]
        lo, hi = INT_RANGES[dtype.name]
        return np.clip(np.round(real / scale + zero), lo, hi).astype(dtype)
    return real.astype(dtype)


def output_table(detail: dict) -> np.ndarray | None:
    """Every quantised output value's real value, indexed by its byte; None for a float output."""
    dtype = np.dtype(detail["dtype"])
    if dtype.name not in INT_RANGES:
        return None
    scale, zero = detail["quantization"]
    return (np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32) - zero) * scale


def to_probabilities(raw: np.ndarray, table: np.ndarray | None, activation: str) -> np.ndarray:
    """An output tensor as probabilities over its last axis: dequantised through ``table`` (from
    ``output_table``), then a softmax unless the model ends in one."""
    if table is not None:
        raw = table[raw.view(np.uint8)]
    if activation != "softmax":
        raw = np.exp(raw - raw.max(axis=-1, keepdims=True))
        raw /= raw.sum(axis=-1, keepdims=True)
    return raw
