"""The one place that decides which TFLite interpreter runs the model.

Preference order: LiteRT (``ai_edge_litert``, maintained and fastest), then ``tflite_runtime`` (what
Raspberry Pi OS Bookworm users have), then TensorFlow's ``tf.lite`` as a last resort. TensorFlow is
only imported when it is explicitly asked for or nothing lighter is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# name -> (module that holds Interpreter, distribution names to read a version from)
_BACKENDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "litert": ("ai_edge_litert.interpreter", ("ai-edge-litert",)),
    "tflite-runtime": ("tflite_runtime.interpreter", ("tflite-runtime",)),
    "tensorflow": ("tensorflow", ("tensorflow", "tensorflow-cpu")),
}
BACKEND_NAMES = tuple(_BACKENDS)


@contextlib.contextmanager
def silence_native_stderr() -> Iterator[None]:
    """Hide what native code prints straight to file descriptor 2 ("INFO: Created TensorFlow Lite
    XNNPACK delegate", the converter's progress, libjpeg's warnings); redirecting the descriptor is
    the only way. Descriptor 2 itself, whatever ``sys.stderr`` has been replaced by."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all (a daemon): nothing to hide
        yield
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class BackendError(RuntimeError):
    """No usable interpreter, or the one asked for cannot be loaded."""


@dataclass(frozen=True)
class Backend:
    name: str
    version: str
    interpreter_class: Callable[..., Any]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _top_module(name: str) -> str:
    return _BACKENDS[name][0].split(".")[0]


def installed_backends() -> list[str]:
    """Backends whose package is installed, in preference order (found without importing them)."""
    return [name for name in BACKEND_NAMES if importlib.util.find_spec(_top_module(name)) is not None]


def _version(name: str) -> str:
    """The backend's version: its package's ``__version__`` (all three have one), else its
    distribution's metadata (importlib.metadata costs a start-up 15-25 ms of CPU: only then)."""
    version = getattr(sys.modules.get(_top_module(name)), "__version__", None)
    if version:
        return str(version)
    import importlib.metadata

    for dist in _BACKENDS[name][1]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def _load(name: str) -> Backend:
    module_name = _BACKENDS[name][0]
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with warnings.catch_warnings():
        # tf.lite.Interpreter and tflite_runtime warn about their own deprecation on every load.
        warnings.simplefilter("ignore")
        module = importlib.import_module(module_name)
        interpreter = module.lite.Interpreter if name == "tensorflow" else module.Interpreter
    return Backend(name=name, version=_version(name), interpreter_class=interpreter)


def load_backend(name: str | None = None) -> Backend:
    """Load the named backend, or the first installed one that imports cleanly."""
    if name is not None:
        if name not in _BACKENDS:
            raise BackendError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_NAMES)})")
        if importlib.util.find_spec(_top_module(name)) is None:
            raise BackendError(f"backend {name!r} is not installed")
        try:
            return _load(name)
        except Exception as exc:  # a broken wheel raises anything from ImportError to AttributeError
            raise BackendError(f"backend {name!r} is installed but failed to load: {_one_line(exc)}") from None
    problems = []
    for candidate in installed_backends():
        try:
            return _load(candidate)
        except Exception as exc:
            problems.append(f"{candidate}: {_one_line(exc)}")
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise BackendError(
        "no TFLite interpreter is usable: install ai-edge-litert, tflite-runtime or tensorflow" + detail
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
