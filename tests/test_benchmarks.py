"""The benchmark suite still runs: every command imports, and the page scoring reads real generated
pages with our reader, as `python -m benchmarks...` from the checkout runs it. (What it measures is
the benchmark's business; that it runs at all is the tests'.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")


def run_in_checkout(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240)


def test_every_benchmark_module_imports():
    assert "run" in MODULES and "common" in MODULES
    imports = "; ".join(f"import benchmarks.{name}" for name in MODULES)
    result = run_in_checkout("-c", imports + "; from benchmarks.common import recognizer; "
                             "assert recognizer().strings is not None")
    assert result.returncode == 0, result.stderr[-2000:]


def test_page_scoring_reads_a_sheet_and_a_form_with_our_reader(tmp_path, mnist_dir):
    out = tmp_path / "scores.json"
    result = run_in_checkout("-m", "benchmarks.accuracy", "--kind", "clean,form", "--pages", "1",
                             "--first-seed", "7", "--readers", "ours", "--data", mnist_dir, "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "edge-digits" in result.stdout
    scores = json.loads(out.read_text())
    clean, form = scores["ours"]["clean"], scores["ours"]["form"]
    assert clean["truth"] > 20 and clean["correct"] >= 0.95 * clean["truth"]
    assert form["truth"] > 10 and form["matched"] > 0
    curve = scores["curve"]["all"]["0.5"]
    assert curve["true"] == clean["matched"] + form["matched"] and 0.0 <= curve["false_removed"] <= 1.0
