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



FONT_PAGE_CHECK = """
import cv2, numpy as np
from benchmarks.fonts import INK, PAPER, font_page
from trainer.synth import marks
font = next(p for p in marks.find_fonts() if p.name == "DejaVuSans.ttf")
page = font_page(font, 3)
assert np.array_equal(page.image, font_page(font, 3).image), "not seeded"
assert len(page.numbers) >= 3 and sum(map(len, page.numbers)) == len(page.digits), page.numbers
assert ["".join(str(page.digits[i][0]) for i in n) for n in page.numbers] == [n for l in page.lines for n in l]
ink = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY) < (PAPER + INK) // 2
for _, b in page.digits:
    inside = ink[b.y : b.y2, b.x : b.x2]
    assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any(), b
boxes = [b for _, b in page.digits]
assert all(a.gap(b) > 0 for a, b in zip(boxes, boxes[1:]) if abs(a.cy - b.cy) < a.h), boxes
print(len(page.digits))
"""


def test_font_pages_box_every_digit_they_write():
    """The handwriting-font pages' truth: each digit's box is tight on its ink and apart from its
    neighbours, numbers are runs of those digits, and a seed always writes the same page. Any font
    serves to check that (the benchmark's own are Debian handwriting fonts)."""
    result = run_in_checkout("-c", FONT_PAGE_CHECK)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 10


def test_the_context_fit_recovers_known_weights(monkeypatch):
    """``benchmarks.calibrate.fit`` on digits drawn from a known logistic model gives that model back."""
    import numpy as np

    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.calibrate import fit

    rng = np.random.default_rng(7)
    x = np.column_stack([np.ones(20000), rng.normal(size=(20000, 3))])
    truth = np.array([1.5, 2.0, -1.0, 0.0])
    y = (rng.random(20000) < 1 / (1 + np.exp(-x @ truth))).astype(float)
    beta = fit(x, y, np.ones(len(y)), l2=1.0)
    assert np.allclose(beta, truth, atol=0.1), beta
    # False marks weighted up move the bias down (0.5 then sits where false marks are rarer).
    assert fit(x, y, np.where(y == 0, 10.0, 1.0), l2=1.0)[0] < beta[0] - 1.5


def test_competitors_digits_are_0_to_9_only(monkeypatch):
    """RapidOCR reads touching digits as a circled "①" at times: a digit to ``str.isdigit``, not to ``int``."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.readers import _is_digit

    assert [c for c in "7①²x0٣" if _is_digit(c)] == ["7", "0"]
    assert not _is_digit("") and not _is_digit("12")


def test_a_false_digit_on_a_missed_digit_of_its_value_is_that_digit_boxed_otherwise(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.accuracy import boxed_otherwise
    from edge.pipeline.results import Box
    from trainer.synth.scoring import Found, match

    truth = [(1, Box(100, 100, 6, 40)), (4, Box(110, 100, 26, 40)), (7, Box(300, 100, 26, 40))]
    found = [
        Found(1, Box(98, 100, 14, 40), 0),  # the 1 with its neighbour's edge: IoU 0.43, unmatched
        Found(4, Box(110, 100, 26, 40), 0),  # the 4, matched
        Found(2, Box(300, 100, 10, 40), 1),  # part of the 7, read as another digit
        Found(3, Box(500, 100, 26, 40), 2),  # where there is no digit
    ]
    matched = match([box for _, box in truth], [f.box for f in found])
    assert set(matched.values()) == {1}
    assert boxed_otherwise(truth, found, matched) == {0}
    # A box over a digit some other box matched is a second reading of it, not that digit boxed otherwise.
    again = found + [Found(4, Box(104, 100, 26, 40), 0)]
    assert boxed_otherwise(truth, again, match([box for _, box in truth], [f.box for f in again])) == {0}
