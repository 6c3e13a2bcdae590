"""Decode image files (or their bytes) into pixels the pipeline can read, or fail with a one-line reason.

Pillow does the decoding because it knows the odd formats (16-bit and float TIFF, CMYK JPEG,
palette transparency, animated GIF) and reads a file's size before its pixels, so a decompression
bomb is refused before it costs any memory. The commonest file, a plain upright JPEG, is decoded by
OpenCV once Pillow has read its header: straight into OpenCV's channel order, at half Pillow's CPU
time (user + system: a 1600x1200 photo 8 against 16 ms, an A4 scan at 300 dpi 38 against 73 ms).

``load_image`` gives the first picture of a file. ``read_pages`` gives every page of a document,
lazily: each page of a multi-page TIFF, each page of a PDF (rendered by ``edge.sources.pdf``), the
first frame of an animation; a damaged page costs that page only.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge.runtime.backends import silence_native_stderr
from edge.sources import formats

DEFAULT_MAX_PIXELS = 80_000_000  # an A3 page scanned at 600 dpi is about 70 million pixels
# Pages read from one file before it is refused as a whole: a thick binder of scans is a few hundred
# pages. A PDF page costs about 0.1 s of CPU to render and read here (benchmarks/inputs.py), up to
# 2 s on a Raspberry Pi, so the cap is minutes to half an hour of reading, and a 10,000-page file
# is refused at once instead of running for hours.
DEFAULT_MAX_PAGES = 1000
EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how a photo was held
# We check the size ourselves (with a clearer message and a user-set limit), so Pillow's own bomb
# check must not fire first at its smaller default.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """The file cannot be read as an image; the message says why, in one line."""


@dataclass
class LoadedImage:
    pixels: np.ndarray  # uint8, grey (H, W) or BGR (H, W, 3), EXIF orientation applied
    notes: list[str] = field(default_factory=list)
    page: int = 1  # 1-based page of its file (PDF and multi-page TIFF; 1 for everything else)
    pages: int = 1  # pages in its file

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


@dataclass(frozen=True)
class PageError:
    """One page of a document that cannot be read; the pages around it still are."""

    page: int  # 1-based
    pages: int
    message: str  # one line, like ImageError's


Page = Union[LoadedImage, PageError]


@dataclass(frozen=True)
class PageOptions:
    max_pixels: int = DEFAULT_MAX_PIXELS  # per page; 0 for no limit
    max_pages: int = DEFAULT_MAX_PAGES  # per file; 0 for no limit
    pdf_dpi: float | None = None  # None: edge.sources.pdf.DEFAULT_DPI


# Pillow formats whose frames are the pages of a document; the frames of any other format (GIF,
# WebP, APNG) are an animation, of which the first frame is read.
PAGED_FORMATS = frozenset({"TIFF"})

_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP",
                 "pnm": "PNM", "jp2": "JPEG 2000", "ico": "icon", "psd": "Photoshop", "heif": "HEIC/HEIF"}


def _header_size(kind: formats.FileKind, head: bytes) -> tuple[int, int] | None:
    """Width and height straight from a PNG or GIF header (Pillow refuses zero sizes unread)."""
    if kind is formats.PNG and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if kind is formats.GIF and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    return None


def _describe_unidentified(head: bytes) -> str:
    """Why Pillow could not open a file, from its first bytes.

    A file that starts like an image Pillow knows but cannot be identified is a damaged image, not
    "some other format".
    """
    kind = formats.sniff(head)
    if kind.role == "image" and kind.name in _FORMAT_NAMES:
        size = _header_size(kind, head)
        if size is not None and 0 in size:
            return f"image has zero size ({size[0]}x{size[1]})"
        return f"damaged {_FORMAT_NAMES[kind.name]} file: its header cannot be read (truncated?)"
    return kind.refused()


def _head(path: Path) -> bytes:
    try:
        return formats.read_head(path)
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror or exc})") from None


def _check_file(path: Path) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot open ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL byte in the name, which no file can have
        raise ImageError(f"not a valid path ({exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError("is a folder, not an image")
    if not stat.S_ISREG(info.st_mode):
        raise ImageError("not a regular file")
    if info.st_size == 0:
        raise ImageError("empty file")


def _to_uint8(array: np.ndarray, mode: str, notes: list[str]) -> np.ndarray:
    """16-bit, 32-bit and float greys down to 8 bits, keeping their full range visible."""
    if array.dtype == np.uint8:
        return array
    data = array.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.all():
        data[~finite] = 0
    if array.dtype.kind == "f":
        lo, hi = (0.0, 1.0) if data.min() >= 0 and data.max() <= 1 else (data.min(), data.max())
        notes.append(f"{mode} float image scaled to 8 bits")
    else:
        # Pillow opens 16-bit PGM/PNG/TIFF as 32-bit integers: judge the depth by the values.
        top = float(data.max())
        bits = 8 if top <= 255 else 16 if top <= 65535 else 32
        lo, hi = 0.0, float(2**bits - 1)
        if bits > 8:
            notes.append(f"{bits}-bit image reduced to 8 bits")
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip((data - lo) * scale, 0, 255).astype(np.uint8)


def _flatten_alpha(image: Image.Image, notes: list[str]) -> Image.Image:
    """Transparent areas are paper: compose on white, or on black if the visible ink is light."""
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    if alpha.min() == 255:
        return rgba.convert("RGB")
    opaque = np.asarray(rgba.convert("L"))[alpha > 127]
    light_ink = opaque.size > 0 and float(opaque.mean()) > 160
    background = (0, 0, 0, 255) if light_ink else (255, 255, 255, 255)
    notes.append("transparent areas read as paper")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, background), rgba).convert("RGB")


def too_many_pixels(width: int, height: int, max_pixels: int, setting: str = "--max-pixels") -> str | None:
    """Why an image of this size is refused, or None; ``setting``: what raises the limit."""
    if max_pixels and width * height > max_pixels:
        return (f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                f"(raise it with {setting})")
    return None


def _check_size(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"image has zero size ({width}x{height})")
    problem = too_many_pixels(width, height, max_pixels)
    if problem:
        raise ImageError(problem)


def _image_error(exc: BaseException, head: bytes) -> ImageError:
    """The one-line ImageError for anything Pillow (or its plug-ins) raised while decoding."""
    if isinstance(exc, ImageError):
        return exc
    if isinstance(exc, PermissionError):
        return ImageError("permission denied")
    if isinstance(exc, UnidentifiedImageError):
        return ImageError(_describe_unidentified(head))
    if isinstance(exc, Image.DecompressionBombError):
        return ImageError(f"refused as a decompression bomb ({exc})")
    if isinstance(exc, MemoryError):
        return ImageError("not enough memory to decode this image")
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ImageError(f"truncated or corrupt image data ({reason})")


# What Pillow and its plug-ins raise on damaged data (found by tests/test_fuzz.py).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, struct.error,
                 MemoryError, RuntimeError)


# The JPEGs that OpenCV decodes to the same pixels as Pillow: Pillow's mode for them, and the
# OpenCV flag that gives that mode (EXIF orientation stays Pillow's to apply, so it is ignored).
_OPENCV_JPEG_MODES = {"L": cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION,
                      "RGB": cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION}
JPEG_END = b"\xff\xd9"  # the end-of-image marker: a file without it is truncated


def _turned(image: Image.Image) -> bool:
    """Whether the photo's EXIF says it was held other than upright."""
    return image.getexif().get(EXIF_ORIENTATION, 1) not in (1, None)


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (the same image when it needs no turn: then
    ``exif_transpose`` would only copy it)."""
    return (ImageOps.exif_transpose(image) or image) if _turned(image) else image


def _opencv_jpeg(image: Image.Image, source: Path | bytes) -> np.ndarray | None:
    """A plain, complete, upright JPEG decoded by OpenCV, or None to leave it to Pillow.

    A truncated file (no end marker) goes to Pillow, whose error says so; a damaged one that OpenCV
    still decodes gets the same pixels Pillow would give, and libjpeg's warning on stderr is hidden.
    """
    flag = _OPENCV_JPEG_MODES.get(image.mode)
    if image.format != "JPEG" or flag is None or _turned(image):
        return None
    data = np.frombuffer(source, np.uint8) if isinstance(source, bytes) else np.fromfile(source, np.uint8)
    if data[-2:].tobytes() != JPEG_END:
        return None
    with silence_native_stderr():
        pixels = cv2.imdecode(data, flag)
    expected = (image.height, image.width) if image.mode == "L" else (image.height, image.width, 3)
    return pixels if pixels is not None and pixels.shape == expected else None


def _decode_frame(image: Image.Image, notes: list[str], source: Path | bytes | None = None) -> np.ndarray:
    """The current frame as uint8 grey or BGR, upright (EXIF orientation applied).

    ``source``: the file (path or bytes) of a single-frame image, for OpenCV's faster JPEG decoder.
    """
    if source is not None:
        pixels = _opencv_jpeg(image, source)
        if pixels is not None:
            return pixels
    image.load()
    image = upright(image)
    pixels = _decode_pixels(image, notes)
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageError("image has zero size")
    return np.ascontiguousarray(pixels)


def _frame_count(image: Image.Image) -> tuple[int, bool]:
    """Frames in the file, and whether the chain of frames is damaged after the last one counted."""
    try:
        return max(1, int(getattr(image, "n_frames", 1))), False
    except Exception:  # a damaged later page (TIFF): count the pages that can be reached
        count = 1
        try:
            while True:
                image.seek(count)
                count += 1
        except Exception:
            pass
        try:
            image.seek(0)
        except Exception:
            return 1, True
        return count, True


def _first_frame_note(image: Image.Image, frames: int) -> str:
    if image.format in PAGED_FORMATS:
        return f"multi-page {image.format}: read page 1 of {frames}"
    if image.format == "MPO":
        return f"multi-picture JPEG: read the first of {frames} pictures"
    if image.format == "HEIF":  # a burst, or a photo with its depth map: the first is the primary picture
        return f"{frames} pictures in one HEIF file: read the first"
    return f"animated image: read the first of {frames} frames"


def _open(source: Path | bytes, head: bytes) -> Image.Image:
    hint = formats.prepare_decoder(formats.sniff(head))
    if hint:
        raise ImageError(hint)
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read the first picture of ``path`` into grey or BGR uint8 pixels, or raise ImageError."""
    path = Path(path)
    _check_file(path)
    head = _head(path)
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF and palettes; we report instead
            with _open(path, head) as image:
                _check_size(image, max_pixels)
                frames, _ = _frame_count(image)
                if frames > 1:
                    image.seek(0)
                    notes.append(_first_frame_note(image, frames))
                pixels = _decode_frame(image, notes, path if frames == 1 else None)
    except (ImageError, UnidentifiedImageError, Image.DecompressionBombError, *DECODE_ERRORS) as exc:
        raise _image_error(exc, head) from None
    return LoadedImage(pixels=pixels, notes=notes)


def read_pages(source: str | os.PathLike | bytes, options: PageOptions = PageOptions()) -> Iterator[Page]:
    """Every page of an image or PDF file, given by path or as the file's bytes, one at a time.

    Problems with the file as a whole (not found, not an image, damaged header, encrypted PDF,
    over ``max_pages``; a single-page image over ``max_pixels``) raise ImageError here, before any
    page is read. The iterator then yields a ``LoadedImage`` per page (``page`` counts from 1), or a
    ``PageError`` for a page that cannot be read, and goes on with the next. Only the page being
    read is held in memory.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data: Path | bytes = bytes(source)
        if not data:
            raise ImageError("empty input")
        head = data[: formats.HEAD_BYTES]
    else:
        data = Path(source)
        _check_file(data)
        head = _head(data)
    if formats.sniff(head) is formats.PDF:
        from edge.sources import pdf  # pypdfium2 is loaded only when a PDF is met

        dpi = pdf.DEFAULT_DPI if options.pdf_dpi is None else options.pdf_dpi
        return pdf.render_pages(data, dpi=dpi, max_pixels=options.max_pixels, max_pages=options.max_pages)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = _open(data, head)
            try:
                frames, damaged = _frame_count(image)
                paged = image.format in PAGED_FORMATS and frames > 1
                if paged and options.max_pages and frames > options.max_pages:
                    raise ImageError(f"{frames:,} pages, over the limit of {options.max_pages:,} "
                                     "(raise it with --max-pages)")
                if not paged:
                    _check_size(image, options.max_pixels)
            except BaseException:
                image.close()
                raise
    except (ImageError, UnidentifiedImageError, Image.DecompressionBombError, *DECODE_ERRORS) as exc:
        raise _image_error(exc, head) from None
    if paged:
        return _paged(image, frames, damaged, options.max_pixels, head)
    return _single(image, frames, head, data)


def _single(image: Image.Image, frames: int, head: bytes, source: Path | bytes) -> Iterator[Page]:
    """The one picture of a single-image file (an animation's first frame, with a note)."""
    notes = [_first_frame_note(image, frames)] if frames > 1 else []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.seek(0)
            pixels = _decode_frame(image, notes, source if frames == 1 else None)
    except (ImageError, *DECODE_ERRORS) as exc:
        yield PageError(1, 1, str(_image_error(exc, head)))
        return
    finally:
        image.close()
    yield LoadedImage(pixels=pixels, notes=notes)


def _paged(image: Image.Image, pages: int, damaged: bool, max_pixels: int, head: bytes) -> Iterator[Page]:
    """Each page of a multi-page file (TIFF), decoded only when asked for."""
    try:
        for index in range(pages):
            notes: list[str] = []
            if damaged and index == 0:
                notes.append(f"the file is damaged after page {pages}: later pages, if any, cannot be read")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image.seek(index)
                    _check_size(image, max_pixels)
                    pixels = _decode_frame(image, notes)
            except (ImageError, *DECODE_ERRORS) as exc:
                yield PageError(index + 1, pages, str(_image_error(exc, head)))
                continue
            yield LoadedImage(pixels=pixels, notes=notes, page=index + 1, pages=pages)
    finally:
        image.close()


def _decode_pixels(image: Image.Image, notes: list[str]) -> np.ndarray:
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_uint8(np.asarray(image), mode, notes)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode in ("L",):
        return np.asarray(image)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgb = np.asarray(_flatten_alpha(image, notes))
    elif mode == "CMYK":
        notes.append("CMYK image converted to RGB")
        rgb = np.asarray(image.convert("RGB"))
    else:
        rgb = np.asarray(image if mode == "RGB" else image.convert("RGB"))
    if rgb.ndim == 2:
        return rgb
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # OpenCV's channel order, in one pass
