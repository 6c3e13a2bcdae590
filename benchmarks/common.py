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


def recognizer(threads: int = 1):
    """Our recogniser as the benchmarks use it: the shipped models, one thread, default options."""
    from edge.pipeline.recognizer import build_recognizer
    from edge.runtime.settings import RuntimeSettings

    return build_recognizer(RuntimeSettings(threads=threads))


# CPU features that decide how fast int8 and float inference run (VNNI makes int8 about three times
# faster than float; without it float can win), reported with every result.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm")


def cpu_flags() -> list[str]:
    """The CPU features in ``CPU_FLAGS`` this machine has (from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in CPU_FLAGS if flag in present]
    except OSError:
        pass
    return []


def machine() -> str:
    """The CPU model, its inference-relevant features, cores, OS and Python: said with every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ", ".join(cpu_flags()) or "no AVX2/AVX-512/VNNI/NEON dot-product flags"
    return (f"{cpu} ({flags}), {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")
