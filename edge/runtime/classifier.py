"""Run the digit model: MNIST-style 28x28 crops in, class probabilities out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.runtime.backends import Backend, BackendError, load_backend, silence_native_stderr
from edge.runtime.flatbuffer import check_flatbuffer
from edge.runtime.metadata import MetadataError, ModelMetadata, metadata_path, read_metadata, sha256_file
from edge.runtime.resources import default_model_path

_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


class ModelError(RuntimeError):
    """The model cannot be used: missing, corrupt, or disagreeing with its metadata."""


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
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
        try:
            meta = read_metadata(metadata_path(path))
        except MetadataError as exc:
            raise ModelError(str(exc)) from None
        if meta.model_sha256 != sha256_file(path):
            raise ModelError(
                f"{path}: the model does not match its metadata {metadata_path(path).name} "
                "(checksum differs: the JSON belongs to another model)"
            )
        problem = check_flatbuffer(path.read_bytes())
        if problem:
            raise ModelError(f"{path}: not a usable TFLite model ({problem})")
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
        self._lut = self._input_lut(meta, self._input)

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
        for role, detail, declared in (("input", inp, spec), ("output", out, meta.output)):
            dtype = np.dtype(detail["dtype"]).name
            if dtype != declared.dtype:
                raise ModelError(f"{path}: model {role} type is {dtype}, metadata says {declared.dtype}")
            if dtype in _INT_RANGES:
                scale, zero = detail["quantization"]
                q = declared.quantization
                if q is None or not np.isclose(q.scale, scale, rtol=1e-5) or q.zero_point != zero:
                    raise ModelError(
                        f"{path}: {role} quantisation ({scale:.6g}, {zero}) disagrees with the metadata ({q})"
                    )
        n_out = int(out["shape"][-1])
        if n_out != len(meta.labels):
            raise ModelError(f"{path}: model has {n_out} outputs but the metadata lists {len(meta.labels)} labels")
        return inp, out

    @staticmethod
    def _input_lut(meta: ModelMetadata, detail: dict) -> np.ndarray:
        """Map every possible pixel value to the model's input value once, instead of per call."""
        spec = meta.input
        real = np.arange(256, dtype=np.float64) * spec.scale + spec.offset
        dtype = np.dtype(detail["dtype"])
        if dtype.name in _INT_RANGES:
            scale, zero = detail["quantization"]
            lo, hi = _INT_RANGES[dtype.name]
            return np.clip(np.round(real / scale + zero), lo, hi).astype(dtype)
        return real.astype(dtype)

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
        raw = interp.get_tensor(self._output["index"])
        if np.dtype(self._output["dtype"]).name in _INT_RANGES:
            scale, zero = self._output["quantization"]
            raw = (raw.astype(np.float32) - zero) * scale
        if self.metadata.output.activation != "softmax":
            raw = np.exp(raw - raw.max(axis=1, keepdims=True))
            raw /= raw.sum(axis=1, keepdims=True)
        return raw

    def classify(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best label index and its probability for each crop."""
        probs = self.predict(crops)
        best = probs.argmax(axis=1)
        return best, probs[np.arange(len(best)), best]
