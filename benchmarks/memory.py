"""Peak memory of a large batch: does it stay flat as the folder grows? (It must: inputs are streamed.)

    python -m benchmarks.memory --pages 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from .common import ROOT, load_test_digits

UNIQUE_PAGES = 40  # distinct pages, repeated under different names (memory does not care)

_MEASURE = """
import json, resource, sys
from edge.apps.recognize import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _make_folder(folder: Path, pages: int) -> tuple[int, int]:
    from trainer.synth.pages import DigitBank, make_page

    digits, labels = load_test_digits()
    bank = DigitBank(digits, labels)
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for seed in range(UNIQUE_PAGES):
        page = make_page("clean", bank, seed=9000 + seed)
        path = folder / f"page-{seed:05d}.png"
        cv2.imwrite(str(path), page.image)
        originals.append(path)
    for i in range(UNIQUE_PAGES, pages):
        os.link(originals[i % UNIQUE_PAGES], folder / f"page-{i:05d}.png")
    height, width = page.image.shape[:2]
    return width, height


def _run(folder: Path, output: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(folder), "--output", str(output), "--no-progress", "-q"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-1000:])
    return json.loads(result.stdout.strip().splitlines()[-1]), seconds


def measure_memory(pages: int = 2000, small: int = 100) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        width, height = _make_folder(tmp / "big", pages)
        (tmp / "small").mkdir()
        for path in sorted((tmp / "big").iterdir())[:small]:
            os.link(path, tmp / "small" / path.name)
        small_run, _ = _run(tmp / "small", tmp / "small.jsonl")
        big_run, seconds = _run(tmp / "big", tmp / "big.jsonl")
        records = [json.loads(line) for line in (tmp / "big.jsonl").read_text().splitlines()]
        shutil.rmtree(tmp / "big")
    return {
        "pages": pages, "small_pages": small, "width": width, "height": height,
        "peak_mb": big_run["peak_kb"] / 1024, "small_peak_mb": small_run["peak_kb"] / 1024,
        "seconds": seconds, "records": len(records),
        "digits": sum(len(r.get("digits", [])) for r in records),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(measure_memory(args.pages), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
