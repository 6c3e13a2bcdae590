"""Run the digit model: MNIST-style 28x28 crops in, class probabilities out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.runtime.backends import Backend, BackendError, load_backend, silence_native_stderr
from edge.runtime.metadata import ModelMetadata
from edge.runtime.resources import default_model_path
from edge.runtime.tensors import (
    ModelError,
    check_flatbuffer_file,
    check_types,
    checked_metadata,
    input_table,
    output_table,
    to_probabilities,
)

__all__ = ["DigitClassifier", "ModelError"]


class DigitClassifier:
    """A TFLite digit model with its metadata, checked against each other when loaded.

    ``predict`` takes crops already in the model's format (as ``edge.pipeline.normalize`` makes them:
    uint8, ``input.height x input.width``, in the model's polarity) and returns probabilities.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        backend: str | None = None,
        threads: int = 1,
        max_batch: int = 256,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        meta = checked_metadata(path, "model")
        check_flatbuffer_file(path, "TFLite model")
        try:
            self.backend: Backend = load_backend(backend)
        except BackendError as exc:
            raise ModelError(str(exc)) from None
        try:
            interpreter = self.backend.interpreter_class(model_path=str(path), num_threads=max(1, threads))
            with silence_native_stderr():
                interpreter.allocate_tensors()
        except Exception as exc:  # each backend raises its own types for a bad flatbuffer
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a usable TFLite model ({first})") from None
        self.path = path
        self.metadata: ModelMetadata = meta
        self.threads = threads
        self.max_batch = max(1, max_batch)
        self._interpreter = interpreter
        self._input, self._output = self._check_io(interpreter, meta, path)
        self.dynamic_batch = int(self._input.get("shape_signature", self._input["shape"])[0]) == -1
        self._batch = int(self._input["shape"][0])
        self._lut = input_table(meta, self._input)
        self._output_lut = output_table(self._output)

    @staticmethod
    def _check_io(interpreter, meta: ModelMetadata, path: Path) -> tuple[dict, dict]:
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        inp, out = inputs[0], outputs[0]
        spec = meta.input
        shape = [int(v) for v in inp["shape"]]
        if len(shape) != 4 or shape[1:] != [spec.height, spec.width, 1]:
            raise ModelError(
                f"{path}: model input shape {shape} does not match the metadata's "
                f"[batch, {spec.height}, {spec.width}, 1]"
            )
        check_types(path, meta, inp, out)
        n_out = int(out["shape"][-1])
        if n_out != len(meta.labels):
            raise ModelError(f"{path}: model has {n_out} outputs but the metadata lists {len(meta.labels)} labels")
        return inp, out

    @property
    def input_size(self) -> tuple[int, int]:
        return self.metadata.input.height, self.metadata.input.width

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities, shape (N, labels), for uint8 crops of shape (N, height, width)."""
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        height, width = self.input_size
        if crops.dtype != np.uint8 or crops.shape[1:] != (height, width):
            raise ValueError(f"expected uint8 crops of shape (N, {height}, {width}), got {crops.dtype} {crops.shape}")
        n = len(crops)
        probs = np.empty((n, len(self.metadata.labels)), dtype=np.float32)
        step = self.max_batch if self.dynamic_batch else self._batch
        for start in range(0, n, step):
            chunk = self._lut[crops[start : start + step]][..., None]
            probs[start : start + len(chunk)] = self._invoke(chunk)
        return probs

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        interp = self._interpreter
        if len(batch) != self._batch:
            if not self.dynamic_batch:  # fixed batch model: pad, then drop the padding
                padded = np.zeros((self._batch,) + batch.shape[1:], batch.dtype)
                padded[: len(batch)] = batch
                return self._invoke(padded)[: len(batch)]
            interp.resize_tensor_input(self._input["index"], [len(batch), *batch.shape[1:]])
            with silence_native_stderr():  # re-allocating re-creates the delegate, which says so again
                interp.allocate_tensors()
            self._batch = len(batch)
        interp.set_tensor(self._input["index"], batch)
        interp.invoke()
        return to_probabilities(interp.get_tensor(self._output["index"]), self._output_lut,
                                self.metadata.output.activation)

    def classify(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best label index and its probability for each crop."""
        probs = self.predict(crops)
        best = probs.argmax(axis=1)
        return best, probs[np.arange(len(best)), best]
