"""The edge runtime must run where TensorFlow is absent, and never load it when it need not."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import cv2
import pytest

from edge.runtime.backends import installed_backends

from conftest import ROOT


@pytest.mark.slow
def test_recognizer_run_imports_no_tensorflow(tmp_path, digit_bank):
    """Run the real script on a real page with -X importtime: no tensorflow module may appear."""
    if installed_backends()[:1] == ["tensorflow"]:
        pytest.skip("only TensorFlow's interpreter is installed here, so using it is correct")
    from trainer.synth.pages import make_page

    page = make_page("clean", digit_bank, seed=3)
    image = tmp_path / "page.png"
    cv2.imwrite(str(image), page.image)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "edge" / "recognize.py"), str(image)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"{image}: ")
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "import time:" in line]
    assert len(imported) > 50  # the import log really was captured
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]


@pytest.mark.skipif(os.environ.get("EDGE_ENV") is None, reason="set EDGE_ENV=1 in an edge-only environment")
def test_edge_environment_has_no_tensorflow():
    """CI's edge environments are built like a Pi: TensorFlow must not even be installed."""
    assert importlib.util.find_spec("tensorflow") is None
    assert installed_backends()[0] in ("litert", "tflite-runtime")
