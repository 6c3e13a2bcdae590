"""Shared by the benchmark commands: test digits, machine description, the project's environments."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VENVS = {"litert": ROOT / ".venv" / "litert", "tflite-runtime": ROOT / ".venv" / "edge", "tensorflow": ROOT / ".venv" / "train"}


def mnist_location(explicit: str | None = None) -> str:
    for candidate in (explicit, os.environ.get("MNIST_DATA"), str(ROOT.parent / "shared" / "mnist")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("MNIST not found: pass --data or set MNIST_DATA")


def load_test_digits(location: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    from trainer.data import load_mnist

    data = load_mnist(mnist_location(location))
    return data.x_test, data.y_test


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def recognizer(threads: int = 1):
    """Our recogniser as the benchmarks use it: the shipped model, one thread, default options."""
    from edge.pipeline.recognizer import build_recognizer
    from edge.runtime.settings import RuntimeSettings

    return build_recognizer(RuntimeSettings(threads=threads))
