"""The shipped int8 model through the edge runtime, and clear errors for models that cannot be used."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge.runtime.backends import BackendError, installed_backends, load_backend
from edge.runtime.classifier import DigitClassifier, ModelError
from edge.runtime.metadata import metadata_path, read_metadata, sha256_file
from edge.runtime.tensors import output_table


def test_shipped_model_reads_mnist_test_set(classifier, mnist):
    """A real assertion on real data: the committed int8 file, 10,000 test digits, >= 99.5%."""
    probs = classifier.predict(mnist.x_test)
    predicted = probs.argmax(axis=1)  # a test digit the reject class wins counts as an error
    accuracy = float((predicted == mnist.y_test).mean())
    assert accuracy >= 0.995, f"shipped model scores {100 * accuracy:.2f}% on MNIST test"
    assert float((predicted == classifier.metadata.reject_index).mean()) <= 0.002


def test_shipped_model_is_full_integer_and_small(shipped_model_path, classifier):
    assert shipped_model_path.stat().st_size <= 200 * 1024
    meta = classifier.metadata
    assert meta.input.dtype == "int8" and meta.output.dtype == "int8"
    assert meta.model_sha256 == sha256_file(shipped_model_path)
    acc = meta.provenance["accuracy"]
    assert acc["int8_tflite_accuracy"] >= 0.996
    assert acc["float_tflite_accuracy"] - acc["int8_tflite_accuracy"] <= 0.001
    assert classifier.dynamic_batch


def test_batched_and_single_predictions_agree(classifier, mnist):
    x = mnist.x_test[:64]
    batched = classifier.predict(x)
    single = np.concatenate([classifier.predict(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    assert np.allclose(batched.sum(axis=1), 1.0, atol=0.02)


# Loading TensorFlow's interpreter means importing TensorFlow: seconds.
@pytest.mark.parametrize("backend", [pytest.param(name, marks=pytest.mark.slow) if name == "tensorflow" else name
                                     for name in installed_backends()])
def test_every_installed_backend_gives_the_same_answers(backend, shipped_model_path, classifier, mnist):
    other = DigitClassifier(shipped_model_path, backend=backend)
    assert other.backend.name == backend
    x = mnist.x_test[:500]
    assert (other.predict(x).argmax(axis=1) == classifier.predict(x).argmax(axis=1)).mean() >= 0.998


def test_quantised_outputs_are_dequantised_by_the_models_own_scale(classifier):
    """The table the runtime reads outputs through gives the quantisation formula's value for every
    byte, with int8's sign (byte 255 is -1, not 255); float outputs need no table."""
    detail = dict(classifier._output)
    table = output_table(detail)
    scale, zero = detail["quantization"]
    q = np.arange(-128, 128, dtype=np.int8)
    np.testing.assert_array_equal(table[q.view(np.uint8)], (q.astype(np.float32) - zero) * scale)
    assert output_table({**detail, "dtype": np.float32}) is None


def test_unknown_and_missing_backends():
    with pytest.raises(BackendError, match="unknown backend 'onnx'"):
        load_backend("onnx")
    missing = [b for b in ("litert", "tflite-runtime", "tensorflow") if b not in installed_backends()]
    for name in missing:
        with pytest.raises(BackendError, match=f"backend '{name}' is not installed"):
            load_backend(name)


@pytest.fixture
def model_copy(tmp_path, shipped_model_path):
    target = tmp_path / "model.tflite"
    shutil.copy(shipped_model_path, target)
    shutil.copy(metadata_path(shipped_model_path), tmp_path / "model.json")
    return target


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match=r"nothing\.tflite: model file not found"):
        DigitClassifier(tmp_path / "nothing.tflite")


def test_missing_metadata(model_copy):
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="metadata file not found"):
        DigitClassifier(model_copy)


def test_metadata_of_another_model(model_copy):
    model_copy.write_bytes(model_copy.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match its metadata"):
        DigitClassifier(model_copy)


def test_not_a_flatbuffer(model_copy):
    model_copy.write_bytes(b"this is not a model" * 10)
    meta = json.loads(model_copy.with_suffix(".json").read_text())
    meta["model_sha256"] = sha256_file(model_copy)
    model_copy.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a usable TFLite model"):
        DigitClassifier(model_copy)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_model_with_matching_checksum_is_refused(model_copy, keep):
    """tflite-runtime crashes the process on a cut-off flatbuffer; the loader must refuse it first."""
    data = model_copy.read_bytes()
    model_copy.write_bytes(data[: int(len(data) * keep)])
    meta = json.loads(model_copy.with_suffix(".json").read_text())
    meta["model_sha256"] = sha256_file(model_copy)
    model_copy.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"model\.tflite: not a usable TFLite model \(.+\)$"):
        DigitClassifier(model_copy)


def test_metadata_disagreeing_with_model(model_copy):
    path = model_copy.with_suffix(".json")
    meta = json.loads(path.read_text())
    meta["input"]["quantization"]["zero_point"] = 0
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="input quantisation .* disagrees with the metadata"):
        DigitClassifier(model_copy)
    meta["input"]["height"] = 32
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"input shape \[1, 28, 28, 1\] does not match"):
        DigitClassifier(model_copy)


def test_corrupt_metadata(model_copy):
    model_copy.with_suffix(".json").write_text("{ not json")
    with pytest.raises(ModelError, match="cannot read metadata"):
        DigitClassifier(model_copy)
    model_copy.with_suffix(".json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match="not an edge-digits-model metadata file"):
        DigitClassifier(model_copy)


def test_metadata_round_trip(shipped_model_path):
    meta = read_metadata(metadata_path(shipped_model_path))
    # Ten digits and a "not a digit" class, declared as such (format 2).
    assert meta.labels == (*"0123456789", "not-a-digit") and meta.reject_label == "not-a-digit"
    assert meta.reject_index == 10 and meta.kind == "digit-classifier"
    assert meta.input.quantization is not None and meta.input.quantization.zero_point == -128
