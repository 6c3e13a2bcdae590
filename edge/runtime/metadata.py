"""The JSON that travels beside every model: what the edge needs to feed it, and where it came from.

The trainer writes it and the edge runtime reads it, so the two sides share one definition of the
input format (size, polarity, normalisation, quantisation) and can never silently disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "edge-digits-model"
# Version 2 adds "kind" and "reject_label"; version 1 files (10 digit classes) still load.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
LABELS = tuple(str(d) for d in range(10))
# The label of the "not a digit" class a digit classifier may declare (version 2).
REJECT_LABEL = "not-a-digit"
KINDS = ("digit-classifier",)


class MetadataError(ValueError):
    """The metadata file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Quantization:
    """Affine int mapping of a tensor: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class InputSpec:
    """How a digit must look when it reaches the model."""

    height: int = 28
    width: int = 28
    # MNIST polarity: ink is bright (255), paper is dark (0).
    polarity: str = "light-on-dark"
    # The digit is fitted into a box of this size, then centred by centre of mass (MNIST's recipe).
    digit_box: int = 20
    centering: str = "center-of-mass"
    # Typical stroke width of training digits at 28x28, in pixels, so the edge can match it.
    stroke_width: float | None = None
    # Pixel value p in 0..255 becomes p * scale + offset before quantisation.
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    dtype: str = "float32"
    quantization: Quantization | None = None


@dataclass(frozen=True)
class OutputSpec:
    dtype: str = "float32"
    activation: str = "softmax"
    quantization: Quantization | None = None


@dataclass(frozen=True)
class ModelMetadata:
    model_file: str
    model_sha256: str
    input: InputSpec = field(default_factory=InputSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    labels: tuple[str, ...] = LABELS
    kind: str = "digit-classifier"
    # A class for candidates that are no digit at all (letters, ticks, box borders, paper edges);
    # None for models without one. When set, it is one of ``labels``.
    reject_label: str | None = None
    # Architecture, epochs, seed, data checksum, accuracy figures, dates and versions.
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def reject_index(self) -> int | None:
        """Index of the reject class in the model's output, or None."""
        return None if self.reject_label is None else self.labels.index(self.reject_label)

    def to_dict(self) -> dict[str, Any]:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION}
        data.update(asdict(self))
        data["labels"] = list(self.labels)
        return data


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metadata_path(model_path: str | Path) -> Path:
    """The JSON lives beside the model, with the same stem."""
    return Path(model_path).with_suffix(".json")


def write_metadata(meta: ModelMetadata, path: str | Path) -> None:
    Path(path).write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=False) + "\n")


def _quantization(raw: Any, where: str) -> Quantization | None:
    if raw is None:
        return None
    try:
        return Quantization(scale=float(raw["scale"]), zero_point=int(raw["zero_point"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise MetadataError(f"{where}.quantization is malformed ({exc})") from None


def parse_metadata(data: Any) -> ModelMetadata:
    """Build metadata from decoded JSON, checking every field the edge relies on."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MetadataError(f"not an {FORMAT} metadata file")
    if data.get("format_version") not in SUPPORTED_VERSIONS:
        raise MetadataError(
            f"metadata format version {data.get('format_version')!r} is not supported "
            f"(this version of edge-digits reads {', '.join(map(str, SUPPORTED_VERSIONS))})"
        )
    try:
        raw_in = dict(data["input"])
        raw_out = dict(data["output"])
        raw_in["quantization"] = _quantization(raw_in.get("quantization"), "input")
        raw_out["quantization"] = _quantization(raw_out.get("quantization"), "output")
        meta = ModelMetadata(
            model_file=str(data["model_file"]),
            model_sha256=str(data["model_sha256"]),
            input=InputSpec(**raw_in),
            output=OutputSpec(**raw_out),
            labels=tuple(str(label) for label in data["labels"]),
            kind=str(data.get("kind", "digit-classifier")),
            reject_label=None if data.get("reject_label") is None else str(data["reject_label"]),
            provenance=dict(data.get("provenance") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(f"metadata is incomplete or malformed ({exc})") from None
    spec = meta.input
    if spec.polarity not in ("light-on-dark", "dark-on-light"):
        raise MetadataError(f"unknown input polarity {spec.polarity!r}")
    if not (0 < spec.digit_box <= min(spec.height, spec.width)):
        raise MetadataError(f"digit_box {spec.digit_box} does not fit a {spec.height}x{spec.width} input")
    if spec.scale == 0:
        raise MetadataError("input scale is zero")
    if len(meta.labels) < 2:
        raise MetadataError("metadata lists fewer than two labels")
    if meta.kind not in KINDS:
        raise MetadataError(f"unknown model kind {meta.kind!r} (expected one of {', '.join(KINDS)})")
    if meta.reject_label is not None and meta.reject_label not in meta.labels:
        raise MetadataError(f"reject_label {meta.reject_label!r} is not one of the labels")
    digits = [label for label in meta.labels if label != meta.reject_label]
    if not all(label.isdigit() for label in digits):
        raise MetadataError(f"labels must be digits (and the reject label), got {list(meta.labels)}")
    return meta


def read_metadata(path: str | Path) -> ModelMetadata:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetadataError(f"{path}: metadata file not found (the trainer writes it beside the model)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{path}: cannot read metadata ({exc})") from None
    try:
        return parse_metadata(data)
    except MetadataError as exc:
        raise MetadataError(f"{path}: {exc}") from None
