"""The readers compared on the same pages: our recogniser, and Tesseract (digits only)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edge.pipeline.recognizer import Recognizer
from edge.pipeline.results import Box

from trainer.synth.scoring import Found, found_from_reading


class OurReader:
    name = "edge-digits"

    def __init__(self, recognizer: Recognizer):
        self.recognizer = recognizer

    def read(self, image: np.ndarray) -> list[Found]:
        return found_from_reading(self.recognizer.read(image))


def tesseract_version() -> str | None:
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).splitlines()
    return first[0] if first else "tesseract"


class TesseractReader:
    """Tesseract restricted to digits: word boxes give numbers, ``makebox`` gives each digit's box.

    Arguments are passed as a list (never through a shell), and images go through a temp file.
    """

    def __init__(self, psm: int = 11):
        self.exe = shutil.which("tesseract")
        if self.exe is None:
            raise RuntimeError("tesseract is not installed (Debian: apt-get install tesseract-ocr)")
        self.psm = psm
        self.name = f"tesseract --psm {psm}"

    def _run(self, path: Path, config: str) -> str:
        command = [self.exe, str(path), "stdout", "--psm", str(self.psm),
                   "-c", "tessedit_char_whitelist=0123456789", config]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return result.stdout

    def read(self, image: np.ndarray) -> list[Found]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "page.png"
            cv2.imwrite(str(path), image)
            words = self._words(self._run(path, "tsv"))
            chars = self._chars(self._run(path, "makebox"), image.shape[0])
        found = []
        for value, box in chars:
            # A digit belongs to the word whose box holds its centre.
            number = next((i for i, w in enumerate(words) if w.x <= box.cx <= w.x2 and w.y <= box.cy <= w.y2), -1)
            found.append(Found(value, box, number if number >= 0 else 10_000 + len(found)))
        return found

    @staticmethod
    def _words(tsv: str) -> list[Box]:
        words = []
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
                left, top, width, height = (int(v) for v in cols[6:10])
                words.append(Box(left, top, width, height))
        return words

    @staticmethod
    def _chars(boxes: str, height: int) -> list[tuple[int, Box]]:
        chars = []
        for row in boxes.splitlines():
            cols = row.split()
            if len(cols) >= 5 and cols[0].isdigit() and len(cols[0]) == 1:
                left, bottom, right, top = (int(v) for v in cols[1:5])
                # makebox counts y from the bottom of the image.
                chars.append((int(cols[0]), Box(left, height - top, right - left, top - bottom)))
        return chars
