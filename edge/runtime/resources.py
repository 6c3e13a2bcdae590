"""Where the shipped model lives, in a source checkout and in an installed package."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_NAME = "digits_int8.tflite"


def models_dir() -> Path:
    """The folder of shipped models: ``models/`` beside ``edge/`` in a checkout, else ``edge.models``."""
    checkout = Path(__file__).resolve().parents[2] / "models"
    if (checkout / DEFAULT_MODEL_NAME).is_file():
        return checkout
    # An installed package maps the top-level models/ folder to the edge.models package.
    from importlib import resources

    try:
        return Path(str(resources.files("edge.models")))
    except ModuleNotFoundError:
        return checkout


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL_NAME
