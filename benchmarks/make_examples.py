"""Make the bundled example images in edge/examples (deterministic; the outputs are committed).

    python -m benchmarks.make_examples

No MNIST digit is used: the handwriting is OpenCV's Hershey fonts, slanted and bent by hand-like
distortions, so the examples can ship with the project. ``expected.json`` holds what each reads as.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from trainer.synth.pages import hershey_digit

OUT = Path(__file__).resolve().parent.parent / "edge" / "examples"


def write_numbers(ink: np.ndarray, lines: list[list[str]], origin: tuple[int, int], height: int,
                  rng: np.random.Generator, pen: int, line_gap: float = 1.8) -> None:
    """Draw numbers as ink coverage (0..1) onto ``ink``, one list of numbers per line."""
    x0, y = origin
    for numbers in lines:
        x = x0
        for number in numbers:
            for char in number:
                glyph = hershey_digit(int(char), height, pen, rng).astype(np.float32) / 255.0
                gy = y + int(rng.integers(-height // 12, height // 12 + 1))
                gh, gw = glyph.shape
                region = ink[gy : gy + gh, x : x + gw]
                np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
                x += gw + int(height * rng.uniform(0.1, 0.2))
            x += int(height * 1.4)
        y += int(height * line_gap)


def paint(paper: np.ndarray, ink: np.ndarray, pen_colour) -> np.ndarray:
    alpha = ink[..., None]
    return paper * (1 - alpha) + np.float32(pen_colour) * alpha


def sticky_note(rng):
    h, w = 480, 640
    desk = np.full((h, w, 3), (95, 120, 150), np.float32) + rng.normal(0, 6, (h, w, 3))
    note = np.full((340, 400, 3), (140, 235, 250), np.float32)
    ink = np.zeros(note.shape[:2], np.float32)
    lines = [["42", "17"], ["2026"]]
    write_numbers(ink, lines, (45, 70), 62, rng, pen=3)
    note = paint(note, ink, (150, 60, 25))  # blue ballpoint
    matrix = cv2.getRotationMatrix2D((190, 180), 4.0, 1.0)
    matrix[:, 2] += (130, 60)
    mask = cv2.warpAffine(np.ones(note.shape[:2], np.float32), matrix, (w, h))
    placed = cv2.warpAffine(note, matrix, (w, h))
    photo = desk * (1 - mask[..., None]) + placed * mask[..., None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    photo *= (0.7 + 0.3 * xx / w)[..., None]  # window light from the right
    return np.clip(photo, 0, 255).astype(np.uint8), lines


def form_scan(rng):
    h, w = 700, 1000
    paper = np.full((h, w, 3), 246, np.float32)
    ink = np.zeros((h, w), np.float32)
    lines = [["0711", "1984"], ["1250"], ["88", "406"]]
    write_numbers(ink, lines[:1], (120, 95), 56, rng, pen=2)
    write_numbers(ink, lines[1:2], (140, 300), 60, rng, pen=2)
    write_numbers(ink, lines[2:], (120, 500), 56, rng, pen=2)
    scan = paint(paper, ink, (35, 35, 40))
    printed = (90, 90, 90)
    cv2.line(scan, (80, 170), (900, 170), printed, 2)  # a ruled answer line under the date
    cv2.rectangle(scan, (100, 260), (820, 390), printed, 2)  # a box around the amount
    cv2.line(scan, (80, 580), (900, 580), printed, 2)
    scan += rng.normal(0, 3, scan.shape)
    grey = cv2.cvtColor(np.clip(scan, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return grey, lines


def chalkboard(rng):
    h, w = 420, 640
    board = np.full((h, w, 3), (50, 70, 45), np.float32) + rng.normal(0, 5, (h, w, 3))
    ink = np.zeros((h, w), np.float32)
    lines = [["365"], ["24", "7"]]
    write_numbers(ink, lines, (120, 60), 90, rng, pen=5)
    ink *= rng.uniform(0.75, 1.0, ink.shape).astype(np.float32)  # chalk is patchy
    photo = paint(board, ink, (225, 230, 230))
    return np.clip(photo, 0, 255).astype(np.uint8), lines


def sideways_phone_photo(rng):
    h, w = 600, 800
    paper = np.full((h, w, 3), (225, 228, 232), np.float32)
    ink = np.zeros((h, w), np.float32)
    lines = [["555", "0199"], ["31"]]
    write_numbers(ink, lines, (90, 150), 80, rng, pen=4)
    photo = paint(paper, ink, (30, 30, 30))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    photo *= (1.0 - 0.35 * np.exp(-((xx - 600) ** 2 + (yy - 450) ** 2) / 60000.0))[..., None]  # hand shadow
    photo += rng.normal(0, 4, photo.shape)
    upright = np.clip(photo, 0, 255).astype(np.uint8)
    # The camera stores it turned 90 degrees and records the turn in EXIF (orientation 6).
    return np.ascontiguousarray(np.rot90(upright, k=1)), lines


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    expected = {}

    image, lines = sticky_note(rng)
    Image.fromarray(image[..., ::-1]).save(OUT / "sticky-note.jpg", quality=88)
    expected["sticky-note.jpg"] = lines

    image, lines = form_scan(rng)
    Image.fromarray(image).save(OUT / "form-scan.png", optimize=True)
    expected["form-scan.png"] = lines

    image, lines = chalkboard(rng)
    Image.fromarray(image[..., ::-1]).save(OUT / "chalkboard.jpg", quality=85)
    expected["chalkboard.jpg"] = lines

    image, lines = sideways_phone_photo(rng)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(image[..., ::-1]).save(OUT / "phone-photo-exif-rotated.jpg", quality=85, exif=exif)
    expected["phone-photo-exif-rotated.jpg"] = lines

    (OUT / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(f"wrote {len(expected)} examples to {OUT}")


if __name__ == "__main__":
    main()
