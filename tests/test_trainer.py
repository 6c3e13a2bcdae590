"""The trainer end to end on a tiny run: train, convert, verify, and refuse a bad quantisation.

Needs TensorFlow: these run in the training environment only (marker ``train``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]


@pytest.fixture(scope="module")
def smoke_run(mnist_dir, tmp_path_factory):
    """One epoch on 4,000 images: the whole build command, as a user runs it."""
    from trainer.cli import main

    out = tmp_path_factory.mktemp("smoke")
    code = main([
        "-q", "build", "--data", mnist_dir, "--limit", "4000", "--val-size", "500", "--epochs", "1",
        "--calibration-size", "200", "--max-drop", "100", "--out", str(out),
    ])
    assert code == 0
    return out


def test_build_writes_models_metadata_and_reports(smoke_run):
    for name in ("model.keras", "training.json", "training.png", "digits_float.tflite", "digits_int8.tflite",
                 "digits_int8.json", "digits_float.json", "conversion.json", "REPORT.md"):
        assert (smoke_run / name).is_file(), name
    for stem in ("keras", "float", "int8"):
        for suffix in (".json", ".confusion.txt", ".confusion.png", ".misclassified.png"):
            assert (smoke_run / "evaluation" / f"{stem}{suffix}").is_file()
    meta = json.loads((smoke_run / "digits_int8.json").read_text())
    assert meta["input"]["dtype"] == "int8" and meta["output"]["dtype"] == "int8"
    assert meta["input"]["polarity"] == "light-on-dark" and meta["input"]["digit_box"] == 20
    assert 1.5 < meta["input"]["stroke_width"] < 3.5
    prov = meta["provenance"]
    assert prov["architecture"] == "edge-deep" and prov["epochs"] == 1 and prov["seed"] == 1
    assert prov["train_images"] == 3500 and prov["validation_images"] == 500
    assert len(prov["data_sha256"]) == 64
    assert 0 < prov["accuracy"]["int8_tflite_accuracy"] <= 1


def test_int8_agrees_with_float_on_held_out_digits(smoke_run, mnist):
    """Through the edge runtime's own interpreter wrapper, on test digits the model never saw."""
    from edge.runtime.classifier import DigitClassifier

    int8 = DigitClassifier(smoke_run / "digits_int8.tflite")
    flt = DigitClassifier(smoke_run / "digits_float.tflite")
    x = mnist.x_test[:2000]
    a, b = int8.predict(x).argmax(axis=1), flt.predict(x).argmax(axis=1)
    assert (a == b).mean() >= 0.97
    # One epoch on 3,500 images already reads most digits.
    assert (a == mnist.y_test[:2000]).mean() >= 0.8


def test_conversion_fails_loudly_when_int8_loses_too_much(smoke_run, mnist_dir, tmp_path, capsys):
    from trainer.cli import main

    code = main(["-q", "convert", str(smoke_run / "model.keras"), "--data", mnist_dir,
                 "--calibration-size", "100", "--max-drop", "-100", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "the quantised model was not accepted" in err and err.count("\n") == 1


def test_evaluate_command_reports_tflite_and_keras(smoke_run, mnist_dir, tmp_path):
    from trainer.cli import main

    code = main(["-q", "evaluate", str(smoke_run / "digits_int8.tflite"), str(smoke_run / "model.keras"),
                 "--data", mnist_dir, "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "digits_int8.json").read_text())
    assert report["images"] == 10000 and len(report["per_class_accuracy"]) == 10
    assert np.array(report["confusion_matrix"]).sum() == 10000
    assert (tmp_path / "model.confusion.png").is_file()


def test_seed_architecture_is_the_tutorials():
    import keras

    from trainer.architectures import RECIPES

    model = RECIPES["seed"].build()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"]
    assert model.count_params() == 2_380_938
    optimizer = RECIPES["seed"].optimizer(100)
    assert isinstance(optimizer, keras.optimizers.Adadelta)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(1.0)
    assert RECIPES["seed"].epochs == 10 and RECIPES["seed"].batch_size == 128


def test_default_architecture_is_small():
    from trainer.architectures import DEFAULT_ARCH, RECIPES, count_macs

    model = RECIPES[DEFAULT_ARCH].build()
    seed = RECIPES["seed"].build()
    assert model.count_params() < seed.count_params() / 20
    assert count_macs(model) < count_macs(seed) / 2.5


def test_augmentation_is_reproducible_and_keeps_range():
    import tensorflow as tf

    from trainer.augment import augment_batch

    images = tf.random.stateless_uniform([16, 28, 28, 1], seed=[1, 2])
    seed = tf.constant([5, 6], tf.int32)
    a, b = augment_batch(images, seed).numpy(), augment_batch(images, seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert not np.allclose(a, images.numpy())
    other = augment_batch(images, tf.constant([7, 8], tf.int32)).numpy()
    assert not np.allclose(a, other)
