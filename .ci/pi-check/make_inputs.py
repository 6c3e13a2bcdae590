"""Write the generated inputs of the Raspberry Pi check: a few test pages and camera frames, as PNG.

Run on the x86 side, once per check, with the project installed (trainer.synth draws the pages) and
MNIST at hand; the emulated Pi environments then read the same files and need neither. Pages and
frames are composed from MNIST *test* digits and are the same for the same seeds.

    python make_inputs.py --mnist ../shared/mnist --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from trainer.data import load_mnist
from trainer.synth.pages import DigitBank, camera_frame, make_page

# One page of each kind that exercises a different part of the reader on the Pi's own kernels:
# plain digits, a tilted page (line fitting), digits that touch (cuts, many interpreter calls),
# coloured ink on a yellow note (colour to grey) and ruled paper (line removal).
PAGES = (("clean", 11), ("rotated", 12), ("touching", 13), ("colour", 14), ("ruled", 15))
# Webcam-like 640x480 frames, as live mode reads them.
FRAME_SEEDS = (21, 22)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="MNIST IDX folder (or .npz)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the PNG files")
    args = parser.parse_args(argv)

    mnist = load_mnist(args.mnist)
    bank = DigitBank(mnist.x_test, mnist.y_test)
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, seed in PAGES:
        page = make_page(kind, bank, seed=seed)
        _write(args.out / f"page-{kind}-{seed}.png", page.image)
    for seed in FRAME_SEEDS:
        frame, _ = camera_frame(bank, np.random.default_rng(seed))
        _write(args.out / f"frame-{seed}.png", frame)
    return 0


def _write(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):
        raise SystemExit(f"{path}: could not write the image")


if __name__ == "__main__":
    raise SystemExit(main())
