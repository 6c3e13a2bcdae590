"""The readers compared on the same pages: our recogniser, Tesseract and RapidOCR (digits only)."""

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

    def read_with_confidence(self, image: np.ndarray) -> tuple[list[Found], list[float]]:
        """The digits found and the model's confidence in each, in the same order."""
        reading = self.recognizer.read(image)
        confidence = [d.confidence for line in reading.lines for number in line.numbers for d in number]
        return found_from_reading(reading), confidence


def _is_digit(char: str) -> bool:
    """One of 0-9: ``str.isdigit`` also takes superscripts and circled digits ("①", which RapidOCR reads
    on touching digits), which ``int`` refuses."""
    return len(char) == 1 and "0" <= char <= "9"


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
            if len(cols) >= 5 and _is_digit(cols[0]):
                left, bottom, right, top = (int(v) for v in cols[1:5])
                # makebox counts y from the bottom of the image.
                chars.append((int(cols[0]), Box(left, height - top, right - left, top - bottom)))
        return chars


RAPIDOCR_PACKAGE = "rapidocr-onnxruntime"


def rapidocr_version() -> str | None:
    """``RapidOCR <version>`` when the package and ONNX Runtime are installed, else None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import onnxruntime  # noqa: F401 - the package's wheel does not pull it in on every platform
        return f"RapidOCR {version(RAPIDOCR_PACKAGE)}"
    except (PackageNotFoundError, ImportError):
        return None


class RapidOCRReader:
    """RapidOCR: PaddleOCR's PP-OCRv4 detector and recogniser through ONNX Runtime, digits only.

    The models ship inside the ``rapidocr-onnxruntime`` wheel, so it runs offline. Its recogniser
    reads any character; we keep the digits, and each run of digits in one of its text lines is a
    number (so "No. 12-34" gives 12 and 34). Per-digit boxes: with ``return_word_box`` RapidOCR puts
    each character at its column in the recogniser's output (CTC), as wide as the line's average
    character and as tall as the detected line, which its detector pads (unclip ratio 1.6). Each such
    box is tightened to the ink inside it (Otsu's threshold on the crop, the minority class as ink, so
    chalk on a board works too), so that, as with Tesseract's ``makebox`` boxes, a digit is judged by
    where it was read, not by the padding around it. One ONNX Runtime thread, like our recogniser.
    """

    def __init__(self, threads: int = 1):
        version = rapidocr_version()
        if version is None:
            raise RuntimeError(f"{RAPIDOCR_PACKAGE} is not installed (pip install '.[bench]'; see the Makefile's bench target)")
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=threads)
        self.name = f"{version} (PP-OCRv4), digits only"

    def read(self, image: np.ndarray) -> list[Found]:
        result, _ = self.engine(image, return_word_box=True)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        found: list[Found] = []
        number = 0
        for _line_box, text, _score, char_boxes, chars, *_ in result or []:
            if len(char_boxes) != len(chars):  # never seen; keep the reader honest rather than guess
                continue
            run = False
            for char, points in zip(chars, char_boxes):
                if _is_digit(char):
                    if not run:
                        number += 1
                    found.append(Found(int(char), _tight_box(grey, points), number))
                    run = True
                else:
                    run = False
        return found


def _tight_box(grey: np.ndarray, points) -> Box:
    """The box around the ink inside a character's quadrilateral (the quadrilateral's box when blank)."""
    pts = np.asarray(points, np.float32)
    h, w = grey.shape
    x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(int), 1, [w, h])
    loose = Box(int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0)))
    crop = grey[loose.y : loose.y2, loose.x : loose.x2]
    if crop.size < 4 or int(crop.max()) - int(crop.min()) < 20:
        return loose
    _, mask = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)  # dark = 255
    ink = mask > 0
    if ink.mean() > 0.5:  # the dark class is the background: light ink on a dark board
        ink = ~ink
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return loose
    return Box(loose.x + int(xs.min()), loose.y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
