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
KINDS = ("digit-classifier", "string-reader")
# The string reader's label for "no character in this column" (CTC's blank).
BLANK_LABEL = "blank"
WIDTH_POLICIES = ("variable", "fixed")


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
class StringSpec:
    """What a string reader (kind "string-reader") needs beyond ``InputSpec``.

    Its input is a whole number region: ``InputSpec.height`` rows, as wide as the region scaled to
    that height; its output is one posterior per column and label (the alphabet, then the blank).
    """

    alphabet: str = "0123456789"
    blank_index: int = 10
    # "variable": the interpreter's input is resized to each region's width, rounded up to a
    # multiple of width_step and padded with paper on the right; "fixed": always InputSpec.width.
    width_policy: str = "variable"
    width_step: int = 16
    min_width: int = 16
    max_width: int = 512
    column_stride: int = 4  # input pixels per output column
    # The crop around the region's ink, in region heights (``edge.pipeline.strings.crop_region``).
    region_margin: float = 0.15
    # CTC fires a character's columns before its middle: how far right of its columns' middle a
    # character's centre lies, in the character's heights (the trainer's median on its test
    # strings). Digit boxes cut touching ink between the centres (``digit_boxes``). Files written
    # before the trainer measured it: 0.078, the most both string readers trained till then measured
    # (0.073-0.078), which the edge used as 0.06 crop heights.
    peak_lead: float = 0.078


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
    # Set for kind "string-reader" only.
    strings: StringSpec | None = None
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
        if self.strings is None:  # digit classifiers' files stay as they were
            data.pop("strings")
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
            strings=None if data.get("strings") is None else _string_spec(data["strings"]),
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
    if meta.kind == "digit-classifier" and meta.input.centering != "center-of-mass":
        raise MetadataError(f"unknown centering {meta.input.centering!r} (the edge centres digits by centre of mass)")
    if meta.kind not in KINDS:
        raise MetadataError(f"unknown model kind {meta.kind!r} (expected one of {', '.join(KINDS)})")
    if meta.kind == "string-reader":
        _check_strings(meta)
        return meta
    if meta.strings is not None:
        raise MetadataError(f"a {meta.kind} declares no 'strings' section")
    if meta.reject_label is not None and meta.reject_label not in meta.labels:
        raise MetadataError(f"reject_label {meta.reject_label!r} is not one of the labels")
    digits = [label for label in meta.labels if label != meta.reject_label]
    if not all(label.isdigit() for label in digits):
        raise MetadataError(f"labels must be digits (and the reject label), got {list(meta.labels)}")
    return meta


def _string_spec(raw: Any) -> StringSpec:
    """The 'strings' section with each field converted to its declared type (unknown keys refused)."""
    raw = dict(raw)
    types = {"alphabet": str, "width_policy": str, "region_margin": float, "peak_lead": float}
    return StringSpec(**{key: types.get(key, int)(value) for key, value in raw.items()})


def _check_strings(meta: ModelMetadata) -> None:
    """A string reader's alphabet, blank and width policy must agree with its labels and input."""
    spec = meta.strings
    if spec is None:
        raise MetadataError("a string-reader needs a 'strings' section (alphabet, blank index, width policy)")
    if not spec.alphabet or len(set(spec.alphabet)) != len(spec.alphabet):
        raise MetadataError(f"string alphabet {spec.alphabet!r} is empty or repeats a character")
    expected = list(spec.alphabet)
    expected.insert(spec.blank_index if 0 <= spec.blank_index <= len(expected) else len(expected), BLANK_LABEL)
    if not 0 <= spec.blank_index <= len(spec.alphabet):
        raise MetadataError(f"blank_index {spec.blank_index} is outside 0..{len(spec.alphabet)}")
    if list(meta.labels) != expected:
        raise MetadataError(f"labels {list(meta.labels)} do not match the alphabet and blank {expected}")
    if spec.width_policy not in WIDTH_POLICIES:
        raise MetadataError(f"unknown width policy {spec.width_policy!r} (expected one of {', '.join(WIDTH_POLICIES)})")
    if min(spec.width_step, spec.column_stride, spec.min_width) <= 0 or spec.max_width < spec.min_width:
        raise MetadataError(
            f"width step {spec.width_step}, column stride {spec.column_stride} and widths "
            f"{spec.min_width}..{spec.max_width} must be positive and in order"
        )
    if spec.width_step % spec.column_stride or spec.min_width % spec.column_stride:
        raise MetadataError(f"width step and min width must be multiples of the column stride {spec.column_stride}")
    if not 0 <= spec.region_margin <= 2:
        raise MetadataError(f"region_margin {spec.region_margin} is outside 0..2 region heights")
    if not -0.5 <= spec.peak_lead <= 0.5:
        raise MetadataError(f"peak_lead {spec.peak_lead} is outside -0.5..0.5 digit heights")
    if meta.input.height < 8:
        raise MetadataError(f"input height {meta.input.height} is too small for a string reader")


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
