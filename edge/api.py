"""The Python API: read handwritten digits from files, bytes, arrays and PIL images.

    import edge

    reader = edge.Reader()                      # the shipped model, LiteRT or tflite-runtime
    reading = reader.read("form.jpg")           # a path, bytes, a NumPy array or a PIL image
    print(reading.text, reading.numbers)
    for digit in reading.digits:
        print(digit.digit, digit.confidence, digit.box)
    pages = reader.read("scan.pdf")             # a PDF or multi-page TIFF: one Reading per page
    for result in reader.read_many(["a.png", "b.pdf", "missing.png"]):
        print(result.source, result.page, result.reading.text if result.ok else result.error)

The command line is built on the same object: ``digits-recognize`` makes a ``Reader`` from its flags
and reads every input through ``Reader.steps``, so the API and the command give the same readings.
"""

from __future__ import annotations

import io
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Union

import numpy as np

from edge.apps.driver import InputSettings, RunSettings, Step, read_input
from edge.pipeline.recognizer import RecognizeOptions, Recognizer, build_recognizer
from edge.pipeline.results import Reading
from edge.pipeline.segment import POLARITIES, SegmentOptions
from edge.pipeline.split import SplitOptions
from edge.runtime.settings import RuntimeSettings
from edge.sources.images import DEFAULT_MAX_PAGES, DEFAULT_MAX_PIXELS, PageOptions, too_many_pixels
from edge.sources.streams import Input, list_inputs

if TYPE_CHECKING:
    from PIL import Image

Readable = Union[str, os.PathLike, bytes, np.ndarray, "Image.Image", io.BufferedIOBase]


class ReadError(ValueError):
    """The input cannot be read (missing, not an image or PDF, damaged, too large); one line says why."""


@dataclass(frozen=True)
class Result:
    """One page's (or image's) outcome in ``read_many``: a reading, or the error that stopped it."""

    source: str
    reading: Reading | None = None
    error: str | None = None
    page: int | None = None  # 1-based, for the pages of PDFs and multi-page files

    @property
    def ok(self) -> bool:
        return self.error is None


class Reader:
    """Reads digits, numbers and lines; build it once (it loads the model) and reuse it.

    ``model``: a ``.tflite`` with its ``.json`` beside it (default: the shipped model); ``backend``:
    ``litert``, ``tflite-runtime`` or ``tensorflow`` (default: the first installed); ``threads``:
    interpreter and OpenCV threads; ``min_confidence``: digits below it are marked uncertain
    (``'?'`` in text), or dropped with ``drop_uncertain``. Raises ``edge.ModelError`` when the model
    cannot be used, and ValueError or TypeError naming the argument for a setting out of range.
    """

    def __init__(self, model: str | Path | None = None, backend: str | None = None, threads: int = 1,
                 min_confidence: float = 0.0, *, drop_uncertain: bool = False, polarity: str = "auto",
                 split: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS, max_pages: int = DEFAULT_MAX_PAGES,
                 pdf_dpi: float | None = None) -> None:
        _check_settings(model=model, threads=threads, min_confidence=min_confidence, polarity=polarity,
                        max_pixels=max_pixels, max_pages=max_pages, pdf_dpi=pdf_dpi)
        threads, max_pixels, max_pages = int(threads), int(max_pixels), int(max_pages)  # 1e8 is a count too
        options = RecognizeOptions(segment=SegmentOptions(polarity=polarity), split=SplitOptions(enabled=split),
                                   min_confidence=min_confidence, drop_uncertain=drop_uncertain)
        settings = RunSettings(
            inputs=InputSettings(pages=PageOptions(max_pixels=max_pixels, max_pages=max_pages, pdf_dpi=pdf_dpi)),
            options=options,
            runtime=RuntimeSettings(Path(model) if model is not None else None, backend, threads),
        )
        self._init(settings, build_recognizer(settings.runtime, settings.options))

    @classmethod
    def from_settings(cls, settings: RunSettings, recognizer: Recognizer | None = None) -> "Reader":
        """A reader for a whole run's settings (what the command line makes from its flags)."""
        reader = cls.__new__(cls)
        reader._init(settings, recognizer or build_recognizer(settings.runtime, settings.options))
        return reader

    def _init(self, settings: RunSettings, recognizer: Recognizer) -> None:
        self.settings = settings
        self.recognizer = recognizer

    # --- one input ----------------------------------------------------------------------------------
    def read(self, source: Readable) -> Reading | list[Reading]:
        """The reading of one image; for a PDF or a multi-page TIFF, a list with one per page.

        ``source``: a path, the bytes of an image or PDF file, a binary file object, a NumPy array
        (grey, BGR or BGRA, uint8) or a PIL image. Raises ReadError for bad input.
        """
        if isinstance(source, np.ndarray) or _is_pil(source):
            return self.recognizer.read(self._pixels(source))
        results = list(self._results(_as_input(source)))
        for result in results:
            if not result.ok:
                where = f"page {result.page}: " if result.page is not None else ""
                raise ReadError(f"{result.source}: {where}{result.error}")
        if len(results) == 1 and results[0].page is None:
            return results[0].reading
        return [result.reading for result in results]

    def pages(self, source: str | os.PathLike | bytes) -> Iterator[Result]:
        """The pages of a document one at a time (a long PDF never sits in memory whole); a page that
        cannot be read is a Result with its error, and the next page is still read."""
        return self._results(_as_input(source))

    def read_many(self, sources: Iterable[Readable]) -> Iterator[Result]:
        """Results one by one (one per image or page), in order; a bad input is a Result with its
        error, never an exception. Paths may be folders and globs, as on the command line; one path,
        bytes object, file object, array or PIL image given alone is one input (not iterated)."""
        if isinstance(sources, (str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, io.IOBase)) or \
                _is_pil(sources):
            sources = [sources]
        for index, source in enumerate(sources):
            if isinstance(source, np.ndarray) or _is_pil(source):
                name = f"<{type(source).__name__} {index}>"
                try:
                    yield Result(name, self.recognizer.read(self._pixels(source)))
                except ReadError as exc:
                    yield Result(name, error=str(exc))
            else:
                try:
                    item = _as_input(source)
                except (TypeError, ReadError) as exc:
                    yield Result(f"<{type(source).__name__} {index}>", error=str(exc))
                    continue
                if item.path is None:
                    yield from self._results(item)
                    continue
                for found in list_inputs([item.name]):  # a path: folders and globs, as on the command line
                    if found.skipped is None:
                        yield from self._results(found)

    def _pixels(self, source: np.ndarray | "Image.Image") -> np.ndarray:
        """An array or PIL image as the recogniser's input, held to the same size limit as files
        (checked before any pixel is copied)."""
        if isinstance(source, np.ndarray):
            height, width = source.shape[:2] if source.ndim >= 2 else (0, 0)  # a bad shape: _check_array says
        else:
            width, height = source.size
        problem = too_many_pixels(width, height, self.settings.inputs.pages.max_pixels, "max_pixels=")
        if problem is not None:
            raise ReadError(problem)
        return _check_array(source) if isinstance(source, np.ndarray) else _from_pil(source)

    # --- what the command line uses -----------------------------------------------------------------
    def steps(self, item: Input, **loop: Any) -> Iterator[Step]:
        """Every frame of one input as the reading loop sees it (``edge.apps.driver.read_input``)."""
        return read_input(item, self.recognizer, self.settings, **loop)

    def _results(self, item: Input) -> Iterator[Result]:
        for step in self.steps(item):
            result = step.result
            if result is None:
                continue
            error = result.record.get("error")
            yield Result(result.source, result.reading, error, result.page)


def _as_input(source: str | os.PathLike | bytes | io.BufferedIOBase) -> Input:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Input("<bytes>", "document", data=bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise TypeError(f"cannot read the path {source!r}: give a str or an os.PathLike of one")
        if not path:
            raise ReadError("empty path")
        return Input(path, "document", path=Path(path))
    if callable(getattr(source, "read", None)):  # an open file, io.BytesIO, a network stream
        name = str(getattr(source, "name", f"<{type(source).__name__}>"))
        text_mode = TypeError(f"{name}: a text file object; open the file in binary mode ('rb')")
        if isinstance(source, io.TextIOBase):  # reading it would fail to decode the image as text
            raise text_mode
        try:
            data = source.read()
        except (OSError, ValueError) as exc:  # a closed file raises ValueError
            raise ReadError(f"{name}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise text_mode
        return Input(name, "document", data=bytes(data))
    raise TypeError(f"cannot read {type(source).__name__} objects: give a path, bytes, a binary file object, "
                    "a NumPy array or a PIL image")


def _check_settings(*, model, threads, min_confidence, polarity, max_pixels, max_pages, pdf_dpi) -> None:
    """Reader's arguments checked where they are given, not blamed on every input read later."""
    # The rule: a value of the wrong type is a TypeError, a number out of range a ValueError.
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a path (str or os.PathLike), got {type(model).__name__}")
    if not isinstance(polarity, str):
        raise TypeError(f"polarity must be a str, got {type(polarity).__name__}")
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    numbers_given = (("threads", threads, True), ("max_pixels", max_pixels, True), ("max_pages", max_pages, True),
                     ("min_confidence", min_confidence, False)) + ((("pdf_dpi", pdf_dpi, False),) if pdf_dpi is not None else ())
    for name, value, whole in numbers_given:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if whole and not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    for name, value, least in (("threads", threads, 1), ("max_pixels", max_pixels, 0), ("max_pages", max_pages, 0)):
        if value < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be from 0 to 1, got {min_confidence!r}")
    if pdf_dpi is not None and not 0 < pdf_dpi < math.inf:
        raise ValueError(f"pdf_dpi must be a finite number above 0 (or None), got {pdf_dpi!r}")


def _check_array(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ReadError(f"expected a uint8 image array, got {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        if min(array.shape[:2]) == 0:
            raise ReadError(f"the image is empty ({array.shape[1]}x{array.shape[0]})")
        return np.ascontiguousarray(array)
    raise ReadError(f"expected a grey (H, W), BGR (H, W, 3) or BGRA (H, W, 4) array, got shape {array.shape}")


def _is_pil(source: Any) -> bool:
    return type(source).__module__.startswith("PIL.")


# PIL modes that a PNG holds as they are, and modes the file decoder reads from a TIFF (integer and
# float pixels, CMYK); any other mode (YCbCr, HSV, LAB, premultiplied alpha, ...) is converted first.
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
_TIFF_MODES = frozenset({"I", "F", "CMYK"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})  # ("LAB"'s A is a colour axis)


def _from_pil(image: "Image.Image") -> np.ndarray:
    """A PIL image through the same decoder as files (modes, transparency), turned upright by its
    EXIF orientation as a file would be."""
    from edge.sources.images import DECODE_ERRORS, ImageError, read_pages, upright

    buffer = io.BytesIO()
    try:
        image = upright(image)
        if image.mode not in _PNG_MODES | _TIFF_MODES:
            alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
            image = image.convert("I" if image.mode.startswith("I;") else "RGBA" if alpha else "RGB")
        image.save(buffer, format="TIFF" if image.mode in _TIFF_MODES else "PNG")
        page = next(read_pages(buffer.getvalue(), PageOptions(max_pixels=0)))
    except (ImageError, *DECODE_ERRORS) as exc:
        raise ReadError(f"cannot read this PIL image ({exc})") from None
    if not hasattr(page, "pixels"):  # a PageError
        raise ReadError(f"cannot read this PIL image ({page.message})")
    return page.pixels
