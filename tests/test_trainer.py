"""The trainer end to end on a tiny run: train with the reject class, convert, verify, and refuse a
bad quantisation or a float model that disagrees with Keras.

Needs TensorFlow: these run in the training environment only (marker ``train``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

# The smoke run trains a model: minutes on a busy 2-core machine, past setup.cfg's default timeout.
pytestmark = [pytest.mark.train, pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def smoke_run(mnist_dir, tmp_path_factory):
    """One epoch on 4,000 images and a small pool of negatives: the whole build command, as a user runs it."""
    from trainer.cli import main

    out = tmp_path_factory.mktemp("smoke")
    code = main([
        "-q", "build", "--data", mnist_dir, "--limit", "4000", "--val-size", "500", "--epochs", "1",
        "--calibration-size", "200", "--max-drop", "100", "--negatives-pool", "100",
        "--held-out-negatives", "40", "--out", str(out),
    ])
    assert code == 0
    return out


def test_build_writes_models_metadata_and_reports(smoke_run):
    for name in ("model.keras", "training.json", "training.png", "digits_float.tflite", "digits_int8.tflite",
                 "digits_int8.json", "digits_float.json", "conversion.json", "REPORT.md"):
        assert (smoke_run / name).is_file(), name
    for stem in ("keras", "float", "int8"):
        for suffix in (".json", ".confusion.txt", ".confusion.png", ".misclassified.png", ".negatives.json",
                       ".edge-view.json"):
            assert (smoke_run / "evaluation" / f"{stem}{suffix}").is_file()
    assert (smoke_run / "evaluation" / "int8.negatives.png").is_file()
    meta = json.loads((smoke_run / "digits_int8.json").read_text())
    assert meta["format_version"] == 2 and meta["kind"] == "digit-classifier"
    assert meta["labels"] == [str(d) for d in range(10)] + ["not-a-digit"]
    assert meta["reject_label"] == "not-a-digit"
    assert meta["input"]["dtype"] == "int8" and meta["output"]["dtype"] == "int8"
    assert meta["input"]["polarity"] == "light-on-dark" and meta["input"]["digit_box"] == 20
    assert meta["input"]["centering"] == "center-of-mass"
    assert 1.5 < meta["input"]["stroke_width"] < 3.5
    # What training did, recorded by the trainer (the stroke width is measured on its own digits).
    training = json.loads((smoke_run / "training.json").read_text())
    assert training["input"]["stroke_width"] == meta["input"]["stroke_width"]
    # 100 negatives of each of 9 kinds; an epoch shows the recipe's share per digit, at most the pool.
    from trainer.architectures import RECIPES

    assert training["negatives"]["pool"] == 900
    assert training["negatives"]["per_epoch"] == min(900, round(RECIPES["edge-deep"].negatives * 3500))
    prov = meta["provenance"]
    assert prov["architecture"] == "edge-deep" and prov["epochs"] == 1 and prov["seed"] == 1
    assert prov["train_images"] == 3500 and prov["validation_images"] == 500
    assert len(prov["data_sha256"]) == 64
    assert 0 < prov["accuracy"]["int8_tflite_accuracy"] <= 1
    conversion = json.loads((smoke_run / "conversion.json").read_text())
    assert set(conversion["negatives_rejected"]["int8"]) == {
        "digit-piece", "digit-pair", "letter", "symbol", "pen-mark", "box-line", "paper-edge", "texture",
        "script-piece"}
    assert max(conversion["keras_float_max_difference"].values()) <= conversion["float_tolerance"]
    report = (smoke_run / "REPORT.md").read_text()
    assert "Held-out negatives" in report and "test digits rejected" in report


def test_int8_agrees_with_float_on_held_out_digits(smoke_run, mnist):
    """Through the edge runtime's own interpreter wrapper, on test digits the model never saw."""
    from edge.runtime.classifier import DigitClassifier

    int8 = DigitClassifier(smoke_run / "digits_int8.tflite")
    flt = DigitClassifier(smoke_run / "digits_float.tflite")
    assert int8.metadata.reject_index == 10 and flt.metadata.reject_index == 10
    x = mnist.x_test[:2000]
    pa, pb = int8.predict(x), flt.predict(x)
    assert pa.shape == (2000, 11) and pb.shape == (2000, 11)
    a, b = pa.argmax(axis=1), pb.argmax(axis=1)
    assert (a == b).mean() >= 0.97
    # One epoch on 3,500 images already reads most digits.
    assert (a == mnist.y_test[:2000]).mean() >= 0.8


def test_float_check_catches_a_preprocessing_mismatch(smoke_run, mnist):
    """Keras against the float .tflite through the edge's classifier: equal inputs agree within the
    tolerance; an input scaled differently on one side (a wrong /255, say) fails the build."""
    import keras

    from edge.runtime.classifier import DigitClassifier
    from trainer.conversion import ConversionError, check_float_agreement
    from trainer.data import MNIST_INPUT
    from trainer.training import keras_input

    model = keras.models.load_model(smoke_run / "model.keras")
    flt = DigitClassifier(smoke_run / "digits_float.tflite")
    x = mnist.x_test[:500]
    expected = model.predict(keras_input(x, MNIST_INPUT), verbose=0)
    assert check_float_agreement(expected, flt.predict(x), "test digits") < 1e-3
    with pytest.raises(ConversionError, match="disagrees with the Keras model on test digits"):
        check_float_agreement(expected, flt.predict((x // 2).astype(np.uint8)), "test digits")


def test_conversion_fails_loudly_when_int8_loses_too_much(smoke_run, mnist_dir, tmp_path, capsys):
    from trainer.cli import main

    code = main(["-q", "convert", str(smoke_run / "model.keras"), "--data", mnist_dir, "--held-out-negatives", "10",
                 "--calibration-size", "100", "--max-drop", "-100", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "the quantised model was not accepted" in err and err.count("\n") == 1


def test_evaluate_command_reports_tflite_and_keras(smoke_run, mnist_dir, tmp_path):
    from trainer.cli import main

    code = main(["-q", "evaluate", str(smoke_run / "digits_int8.tflite"), str(smoke_run / "model.keras"),
                 "--data", mnist_dir, "--held-out-negatives", "10", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "digits_int8.json").read_text())
    assert report["images"] == 10000 and len(report["per_class_accuracy"]) == 10
    assert np.array(report["confusion_matrix"]).shape == (10, 11)
    assert np.array(report["confusion_matrix"]).sum() == 10000
    assert 0 <= report["rejected"] <= 1 and report["digit_only_accuracy"] >= report["accuracy"]
    negatives = json.loads((tmp_path / "model.negatives.json").read_text())
    assert sum(negatives["examples_per_kind"].values()) == 90  # 10 of each of 9 kinds
    assert (tmp_path / "model.confusion.png").is_file()


def test_seed_architecture_is_the_tutorials():
    import keras

    from trainer.architectures import RECIPES

    assert RECIPES["seed"].negatives == 0  # the tutorial's ten classes
    model = RECIPES["seed"].build((28, 28, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"]
    assert model.count_params() == 2_380_938
    optimizer = RECIPES["seed"].optimizer(100)
    assert isinstance(optimizer, keras.optimizers.Adadelta)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(1.0)
    assert RECIPES["seed"].epochs == 10 and RECIPES["seed"].batch_size == 128


def test_default_architecture_is_small():
    from trainer.architectures import DEFAULT_ARCH, RECIPES, count_macs

    assert RECIPES[DEFAULT_ARCH].negatives > 0
    model = RECIPES[DEFAULT_ARCH].build((28, 28, 1), 11)
    assert model.output_shape == (None, 11)
    seed = RECIPES["seed"].build((28, 28, 1), 10)
    assert model.count_params() < seed.count_params() / 20
    assert count_macs(model) < count_macs(seed) / 2.5


def test_augmentation_is_reproducible_and_keeps_range():
    import tensorflow as tf

    from trainer.augment import augment_batch
    from trainer.data import MNIST_INPUT

    images = tf.random.stateless_uniform([16, 28, 28, 1], seed=[1, 2])
    seed = tf.constant([5, 6], tf.int32)
    a, b = augment_batch(images, seed, MNIST_INPUT).numpy(), augment_batch(images, seed, MNIST_INPUT).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert not np.allclose(a, images.numpy())
    other = augment_batch(images, tf.constant([7, 8], tf.int32), MNIST_INPUT).numpy()
    assert not np.allclose(a, other)


def test_epoch_order_shows_every_digit_once_and_a_sample_of_negatives():
    from trainer.training import EDGE_DIGIT_SHARE, Examples, epoch_order

    examples = Examples(images=np.zeros((3000 + 5000, 28, 28), np.uint8), labels=np.zeros(8000, np.int32),
                        digits=1500, edge_view=True, pool=5000)
    first = epoch_order(examples, 300, 100, np.random.default_rng(3))
    again = epoch_order(examples, 300, 100, np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    assert len(first) == 1800 and len(set(first.tolist())) == 1800
    digits = first[first < 3000]
    assert len(digits) == 1500 and sorted(digits % 1500) == list(range(1500))
    assert abs((digits >= 1500).mean() - EDGE_DIGIT_SHARE) < 0.05  # shown as the edge sees them
    assert ((first >= 3000) & (first < 8000)).sum() == 300


def test_labels_come_from_the_reject_choice():
    from trainer.training import class_labels

    assert class_labels(False) == tuple("0123456789")
    assert class_labels(True) == tuple("0123456789") + ("not-a-digit",)
