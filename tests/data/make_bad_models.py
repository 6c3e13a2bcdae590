"""Write the small TFLite models that tests/test_robustness.py feeds to the edge runtime.

Run once, in the training environment, to regenerate the committed fixtures:

    .venv/train/bin/python tests/data/make_bad_models.py

The tests only read the files (the edge environments have no TensorFlow). Every model is a few KB:
an average pool, then one dense layer. Each .json beside a model is written with edge.runtime.metadata's
own dataclasses and the model's real checksum, so the start-up checks get past the checksum and
fail (or pass) on the one thing each fixture is about:

    float_ok            28x28x1 float32 in, 10 softmax out, honest metadata: must load (the control)
    rgb_input           28x28x3 input, honest metadata: the runtime feeds one channel, must refuse
    input_32            32x32x1 input, metadata says 28x28: must refuse (shapes disagree)
    uint8_in_float_out  full-integer model, uint8 in and float32 out; metadata says int8 in and out
    five_classes        5 outputs, metadata lists the 10 digit labels
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for edge.runtime.metadata

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from edge.runtime.metadata import (  # noqa: E402
    InputSpec,
    ModelMetadata,
    OutputSpec,
    Quantization,
    sha256_file,
    write_metadata,
)

SEED = 7


def tiny_model(height: int, width: int, channels: int, classes: int = 10) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(SEED)
    inputs = tf.keras.Input((height, width, channels), batch_size=1)
    x = tf.keras.layers.AveragePooling2D(4)(inputs)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(classes, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs)


@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def to_float(model: tf.keras.Model) -> bytes:
    with quiet():
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def to_integer(model: tf.keras.Model, input_type, output_type) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    shape = (1, *model.input_shape[1:])
    rng = np.random.default_rng(SEED)

    def representative():
        for _ in range(20):
            yield [rng.random(shape, dtype=np.float32)]

    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = input_type
    converter.inference_output_type = output_type
    with quiet():
        return converter.convert()


def write(name: str, blob: bytes, input_spec: InputSpec, output_spec: OutputSpec, what: str) -> None:
    path = HERE / f"{name}.tflite"
    path.write_bytes(blob)
    meta = ModelMetadata(
        model_file=path.name,
        model_sha256=sha256_file(path),
        input=input_spec,
        output=output_spec,
        provenance={"architecture": "test-fixture", "description": what,
                    "made_by": "tests/data/make_bad_models.py", "tensorflow_version": tf.__version__},
    )
    write_metadata(meta, path.with_suffix(".json"))
    print(f"{path.name}: {len(blob)} bytes ({what})")


def main() -> None:
    write("float_ok", to_float(tiny_model(28, 28, 1)), InputSpec(), OutputSpec(),
          "28x28x1 float model with honest metadata")
    write("rgb_input", to_float(tiny_model(28, 28, 3)), InputSpec(), OutputSpec(),
          "28x28x3 (RGB) input; metadata cannot describe channels and says 28x28")
    write("input_32", to_float(tiny_model(32, 32, 1)), InputSpec(), OutputSpec(),
          "32x32x1 input; metadata says 28x28")
    write(
        "uint8_in_float_out",
        to_integer(tiny_model(28, 28, 1), tf.uint8, tf.float32),
        InputSpec(dtype="int8", quantization=Quantization(scale=1 / 255, zero_point=-128)),
        OutputSpec(dtype="int8", quantization=Quantization(scale=1 / 256, zero_point=-128)),
        "uint8 input and float32 output; metadata says int8 in and int8 out",
    )
    write("five_classes", to_float(tiny_model(28, 28, 1, classes=5)), InputSpec(), OutputSpec(),
          "five outputs; metadata lists ten labels")


if __name__ == "__main__":
    main()
