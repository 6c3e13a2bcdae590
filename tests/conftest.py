"""Shared fixtures: the offline MNIST copy, the shipped model, and generated test pages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# The checkout, for its example images and scripts; edge and trainer (with its page generator,
# trainer.synth) are imported from wherever they are installed, so CI tests the package as installed.
ROOT = Path(__file__).resolve().parent.parent

MNIST_CANDIDATES = [os.environ.get("MNIST_DATA"), str(ROOT.parent / "shared" / "mnist")]


def _mnist_location() -> str | None:
    for candidate in MNIST_CANDIDATES:
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> str:
    location = _mnist_location()
    if location is None:
        message = "MNIST not found: set MNIST_DATA or put the IDX files in ../shared/mnist"
        if os.environ.get("REQUIRE_MNIST"):
            pytest.fail(message)
        pytest.skip(message)
    return location


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from trainer.data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    from edge.runtime.resources import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def classifier(shipped_model_path):
    from edge.runtime.classifier import DigitClassifier

    return DigitClassifier(shipped_model_path)


@pytest.fixture(scope="session")
def recognizer(classifier):
    from edge.pipeline.recognizer import Recognizer

    return Recognizer(classifier)


@pytest.fixture(scope="session")
def mnist_bank(mnist):
    """Every MNIST test digit, as the benchmarks' pages and the generators' tuning pages draw them:
    tests that read a given page of those kinds (a seed the tuning looked at) need the same bank."""
    from trainer.synth.pages import DigitBank

    return DigitBank(mnist.x_test, mnist.y_test)


@pytest.fixture(scope="session")
def digit_bank(mnist, classifier):
    """MNIST test digits the shipped model reads confidently on their own.

    Page tests check the pipeline (finding, cropping, ordering), not the model's last 0.3%, so they
    are built from digits whose reading in isolation is not in doubt.
    """
    from trainer.synth.pages import DigitBank

    probs = classifier.predict(mnist.x_test[:3000])
    good = (probs.argmax(axis=1) == mnist.y_test[:3000]) & (probs.max(axis=1) > 0.9)
    return DigitBank(mnist.x_test[:3000][good], mnist.y_test[:3000][good])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
