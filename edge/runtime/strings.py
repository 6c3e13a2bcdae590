"""Run the string reader: a whole number region in, per-column digit posteriors out.

The model is a convolutional CTC reader (``trainer.strings``): its input is ``height`` rows of a
region's ink, as wide as the region (resized per region, ``width_policy`` "variable"), its output one
posterior per ``column_stride`` input pixels over the alphabet and the blank. Decoding and boxes are
pure functions in ``edge.pipeline.strings``; this class owns the interpreter.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.pipeline.results import Box
from edge.pipeline.strings import (
    SECOND_LOOK_BELOW,
    SECOND_LOOK_MARGINS,
    DecodedChar,
    PreparedCrop,
    StringReading,
    agreed,
    crop_region,
    digit_boxes,
    prepare_crop,
    reading_from_probs,
)
from edge.runtime.backends import Backend, BackendError, load_backend, silence_native_stderr
from edge.runtime.metadata import ModelMetadata
from edge.runtime.resources import models_dir
from edge.runtime.tensors import (
    ModelError,
    check_flatbuffer_file,
    check_types,
    checked_metadata,
    input_table,
    output_table,
    to_probabilities,
)

DEFAULT_STRING_MODEL_NAME = "strings_int8.tflite"
# Interpreters kept ready, one per input width (512 / 16 = 32 widths at most): resizing one costs
# about as much as running it, making one ten times more.
MAX_INTERPRETERS = 32


def default_string_model_path() -> Path:
    return models_dir() / DEFAULT_STRING_MODEL_NAME


class StringReader:
    """A TFLite string-reader model with its metadata, checked against each other when loaded.

    Raises ``ModelError`` with one line naming the file and the problem when the model is missing,
    corrupt, not a string reader, or disagrees with its metadata.
    """

    def __init__(self, model_path: str | Path | None = None, *, backend: str | None = None, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else default_string_model_path()
        meta = checked_metadata(path, "string model")
        if meta.kind != "string-reader" or meta.strings is None:
            raise ModelError(f"{path}: the metadata describes a {meta.kind}, not a string reader")
        check_flatbuffer_file(path, "string model")
        try:
            self.backend: Backend = load_backend(backend)
        except BackendError as exc:
            raise ModelError(str(exc)) from None
        self.path = path
        self.metadata: ModelMetadata = meta
        self.threads = max(1, threads)
        self._interpreters: OrderedDict[int, tuple] = OrderedDict()
        spec = meta.strings
        self.height = meta.input.height
        self.alphabet = spec.alphabet
        self.blank = spec.blank_index
        self.stride = spec.column_stride
        self.width_step = spec.width_step
        self.width_limits = (spec.min_width, spec.max_width)
        self.margin = spec.region_margin
        self.peak_lead = spec.peak_lead
        self.fixed_width = meta.input.width if spec.width_policy == "fixed" else None
        # Load and run once at the smallest width: a corrupt file or a model whose shapes disagree
        # with the metadata is refused now, not at the first region.
        width = self.fixed_width or spec.min_width
        _, inp, out = self._interpreter(width)
        self._lut = input_table(meta, inp)
        self._output_lut = output_table(out)
        probs = self.posteriors(np.zeros((self.height, width), np.uint8))
        if probs.shape != (width // self.stride, len(meta.labels)):
            raise ModelError(
                f"{path}: a {width}-pixel-wide input gives {probs.shape[0]} columns of {probs.shape[1]} "
                f"labels; the metadata promises {width // self.stride} of {len(meta.labels)}"
            )

    # --- the interpreter ----------------------------------------------------------------------

    def _interpreter(self, width: int) -> tuple:
        """(interpreter, input detail, output detail) with its input sized to ``width``."""
        if width in self._interpreters:
            self._interpreters.move_to_end(width)
            return self._interpreters[width]
        try:
            interp = self.backend.interpreter_class(model_path=str(self.path), num_threads=self.threads)
            inp = interp.get_input_details()
            if len(inp) != 1 or len(interp.get_output_details()) != 1:
                raise ModelError(
                    f"{self.path}: expected one input and one output, found {len(inp)} and "
                    f"{len(interp.get_output_details())}"
                )
            shape = [int(v) for v in inp[0]["shape"]]
            if len(shape) != 4 or shape[1] != self.height or shape[3] != 1:
                raise ModelError(
                    f"{self.path}: model input shape {shape} does not match the metadata's "
                    f"[batch, {self.height}, width, 1]"
                )
            if shape[0] != 1 or shape[2] != width:
                interp.resize_tensor_input(inp[0]["index"], [1, self.height, width, 1])
            with silence_native_stderr():
                interp.allocate_tensors()
        except ModelError:
            raise
        except Exception as exc:  # each backend raises its own types for a bad flatbuffer or shape
            text = str(exc).strip().splitlines()
            raise ModelError(f"{self.path}: not a usable string model ({text[0] if text else type(exc).__name__})") from None
        entry = (interp, interp.get_input_details()[0], interp.get_output_details()[0])
        self._check_io(entry[1], entry[2])
        self._interpreters[width] = entry
        if len(self._interpreters) > MAX_INTERPRETERS:
            self._interpreters.popitem(last=False)
        return entry

    def _check_io(self, inp: dict, out: dict) -> None:
        meta = self.metadata
        check_types(self.path, meta, inp, out)
        if len(out["shape"]) != 4 or int(out["shape"][-1]) != len(meta.labels):
            raise ModelError(
                f"{self.path}: model output shape {[int(v) for v in out['shape']]} is not "
                f"[batch, 1, columns, {len(meta.labels)}] as the metadata's labels need"
            )

    # --- reading ------------------------------------------------------------------------------

    def posteriors(self, image: np.ndarray) -> np.ndarray:
        """Per-column posteriors ``(width // stride, labels)`` of a prepared uint8 ``(height, width)``
        input (``prepare`` makes one); the width must be a multiple of the column stride."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 2 or image.shape[0] != self.height or image.shape[1] % self.stride:
            raise ValueError(
                f"expected a uint8 image of {self.height} rows and a multiple of {self.stride} columns, "
                f"got {image.dtype} {image.shape}"
            )
        interp, inp, out = self._interpreter(image.shape[1])
        interp.set_tensor(inp["index"], self._lut[image][None, :, :, None])
        interp.invoke()
        return to_probabilities(interp.get_tensor(out["index"])[0, 0], self._output_lut,
                                self.metadata.output.activation)

    def prepare(self, crop: np.ndarray) -> PreparedCrop:
        """A region crop (ink bright on 0) as this model's input."""
        if self.fixed_width:
            return prepare_crop(crop, self.height, step=self.fixed_width, limits=(self.fixed_width, self.fixed_width))
        return prepare_crop(crop, self.height, step=self.width_step, limits=self.width_limits)

    def read_crop(self, crop: np.ndarray, origin: Box | None = None, mask: np.ndarray | None = None,
                  fit_boxes: bool = True, margin: float | None = None) -> StringReading:
        """Read a region crop already cut (ink bright on 0, ``margin`` region heights around it;
        default: the model's); boxes are relative to ``origin`` (the crop's place in its image;
        default: the crop itself)."""
        margin = self.margin if margin is None else margin
        origin = origin or Box(0, 0, crop.shape[1], crop.shape[0])
        prepared = self.prepare(crop)
        probs = self.posteriors(prepared.image)
        reading = reading_from_probs(probs, crop, prepared, origin, self.alphabet, self.blank, self.stride, mask,
                                     fit_boxes, self._lead(margin))
        return replace(reading, margin=margin)

    def read(self, ink: np.ndarray, box: Box, mask: np.ndarray | None = None, fit_boxes: bool = True,
             second_looks: bool = True) -> StringReading:
        """Read the number whose ink lies in ``box`` of ``ink`` (e.g. ``Segmentation.ink``: 0 paper ..
        255 ink); the reading's boxes are in ``ink``'s pixels. ``mask`` (same size as ``ink``, e.g.
        ``Segmentation.mask``) fits the digit boxes to the segmented ink, without ruled lines;
        ``fit_boxes`` False takes them from the model's columns (cheaper, coarser: live mode). A
        reading less sure than ``SECOND_LOOK_BELOW`` is read again with other margins and the looks
        agree on one (``agreed``), unless ``second_looks`` is False (one look: a quarter of the cost
        of an unsure region)."""
        reading = self._read_at(ink, box, mask, self.margin)
        if second_looks and reading.confidence < SECOND_LOOK_BELOW:
            reading = agreed([reading] + [self._read_at(ink, box, mask, m) for m in SECOND_LOOK_MARGINS])
        if fit_boxes and reading.text:  # only the look that is kept
            reading = replace(reading, boxes=self.fitted_boxes(reading, ink, box, mask))
        return reading

    def fitted_boxes(self, reading: StringReading, ink: np.ndarray, box: Box,
                     mask: np.ndarray | None = None) -> tuple[Box, ...]:
        """The digit boxes that ``read(ink, box, mask)`` fits to the ink, for a ``reading`` of the same
        region made with ``fit_boxes`` False: fitting costs about as much as reading, so a caller that
        uses few of its readings fits only those."""
        crop, origin, sub = self._region(ink, box, mask, reading.margin)
        chars = [DecodedChar(c, p, first, last) for c, p, (first, last) in
                 zip(reading.text, reading.confidences, reading.spans)]
        region = Box(box.x - origin.x, box.y - origin.y, box.w, box.h)  # the number, in the crop
        return tuple(digit_boxes(crop, chars, self.stride, self.prepare(crop).scale, origin, sub,
                                 self._lead(reading.margin), region))

    def _read_at(self, ink: np.ndarray, box: Box, mask: np.ndarray | None, margin: float) -> StringReading:
        """One look at a region, with ``margin`` region heights around it; boxes from the columns."""
        crop, origin, sub = self._region(ink, box, mask, margin)
        return self.read_crop(crop, origin, sub, False, margin)

    def _lead(self, margin: float) -> float:
        """The metadata's ``peak_lead`` (region heights) in heights of a crop with ``margin``, as
        ``digit_boxes`` takes it: the region (about a digit high) is the crop less its margins."""
        return self.peak_lead / (1 + 2 * margin)

    def _region(self, ink: np.ndarray, box: Box, mask: np.ndarray | None, margin: float):
        crop, origin = crop_region(ink, box, margin)
        return crop, origin, None if mask is None else mask[origin.y : origin.y2, origin.x : origin.x2]
