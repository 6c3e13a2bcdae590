"""The one place runtime settings take effect: which model, which interpreter, how many threads.

Every entry point (the command line, its worker processes, the draw app, the Python API, the
benchmarks) loads its model through ``load_classifier``, so OpenCV's thread pool and the
interpreter's threads are always set together and the same way. The commands also call
``limit_blas_threads`` first thing, before numpy is loaded, so this module imports no numpy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.runtime.classifier import DigitClassifier

# Threads of numpy's BLAS (OpenBLAS) in the commands. The pipeline's only matrix products are 3x3
# homographies, so the pool gains nothing, but its idle threads spin for about 0.1 s after every
# BLAS call (importing cv2 makes one): start-up cost about 360 ms of CPU with the pool and 210 without
# (two cores), and every worker process would bring a pool of its own.
BLAS_THREADS = 1


@dataclass(frozen=True)
class RuntimeSettings:
    model: Path | None = None  # a .tflite with its .json beside it; None: the shipped model
    backend: str | None = None  # litert, tflite-runtime or tensorflow; None: the first installed
    # Interpreter and OpenCV threads. One is fastest for digits and frames this small: OpenCV's pool
    # costs more than it gains (a 640x480 frame takes 10% longer and twice the CPU with two threads).
    threads: int = 1
    # The string reader, which reads whole numbers as a second opinion: a .tflite with its .json;
    # None: the shipped one when it is there. ``strings`` False runs without it.
    string_model: Path | None = None
    strings: bool = True


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the OS reports one (``taskset``, a
    container's ``--cpuset-cpus``; a CPU quota such as Docker's ``--cpus`` does not show here), else
    every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def limit_blas_threads() -> None:
    """Give numpy's BLAS ``BLAS_THREADS`` threads, in this process and the ones it starts, unless the
    user chose a number. Only the commands call it, before anything imports numpy (OpenBLAS reads
    the variable when it loads); a library must not change its host program's threads."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(BLAS_THREADS))


def within_cpus(threads: int) -> int:
    """A thread count cut to 1..``usable_cpus()``: threads beyond the CPUs only wait their turn, and
    OpenCV asked for tens of thousands fails to start them and crashes."""
    return max(1, min(threads, usable_cpus()))


def apply_threads(threads: int) -> None:
    """OpenCV's thread count, for this process (worker processes call it again)."""
    import cv2

    cv2.setNumThreads(within_cpus(threads))


def load_string_reader(settings: RuntimeSettings = RuntimeSettings()):
    """The string reader, or None when switched off or (for the default) not installed; raises
    ``ModelError`` with one line for a model that is named but missing, corrupt or mismatched."""
    if not settings.strings:
        return None
    from edge.runtime.strings import StringReader, default_string_model_path

    if settings.string_model is None and not default_string_model_path().is_file():
        return None
    return StringReader(settings.string_model, backend=settings.backend, threads=within_cpus(settings.threads))


def load_classifier(settings: RuntimeSettings = RuntimeSettings()) -> DigitClassifier:
    """Apply the thread settings and load the model (raises ``ModelError`` with one line)."""
    from edge.runtime.classifier import DigitClassifier

    threads = within_cpus(settings.threads)
    apply_threads(threads)
    return DigitClassifier(settings.model, backend=settings.backend, threads=threads)
