"""Decode one image file into pixels the pipeline can read, or fail with a one-line reason.

Pillow does the decoding because it knows the odd formats (16-bit and float TIFF, CMYK JPEG,
palette transparency, animated GIF) and reads a file's size before its pixels, so a decompression
bomb is refused before it costs any memory.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 80_000_000  # an A3 page scanned at 600 dpi is about 70 million pixels
# We check the size ourselves (with a clearer message and a user-set limit), so Pillow's own bomb
# check must not fire first at its smaller default.
Image.MAX_IMAGE_PIXELS = None

_SIGNATURES = {
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"\x7fELF": "a program",
    b"<svg": "an SVG drawing (vector images are not supported)",
    b"<?xml": "an XML file",
}


class ImageError(ValueError):
    """The file cannot be read as an image; the message says why, in one line."""


@dataclass
class LoadedImage:
    pixels: np.ndarray  # uint8, grey (H, W) or BGR (H, W, 3), EXIF orientation applied
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


# Image signatures Pillow would recognise if the header were whole: a file that starts like an image
# but cannot be identified is a damaged image, not "some other format".
_IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _header_size(kind: str, head: bytes) -> tuple[int, int] | None:
    """Width and height straight from a PNG or GIF header (Pillow refuses zero sizes unread)."""
    if kind == "PNG" and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if kind == "GIF" and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    return None


def _describe_non_image(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    for magic, kind in _IMAGE_SIGNATURES.items():
        if head.startswith(magic):
            size = _header_size(kind, head)
            if size is not None and 0 in size:
                return f"image has zero size ({size[0]}x{size[1]})"
            return f"damaged {kind} file: its header cannot be read (truncated?)"
    for magic, what in _SIGNATURES.items():
        if head.lstrip().startswith(magic):
            return f"{what}, not an image"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "a text file, not an image"
    return "not a recognised image format"


def _check_file(path: Path) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot open ({exc.strerror or exc})") from None
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


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read ``path`` into grey or BGR uint8 pixels, or raise ImageError with the reason."""
    path = Path(path)
    _check_file(path)
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF and palettes; we report instead
            with Image.open(path) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ImageError(f"image has zero size ({width}x{height})")
                if max_pixels and width * height > max_pixels:
                    raise ImageError(
                        f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                        "(raise it with --max-pixels)"
                    )
                try:
                    frames = getattr(image, "n_frames", 1)
                except Exception:  # a damaged later page (TIFF) must not cost the first one
                    frames = 1
                if frames > 1:
                    image.seek(0)
                    notes.append(f"animated image: read the first of {frames} frames")
                image.load()
                image = ImageOps.exif_transpose(image) or image
                pixels = _decode_pixels(image, notes)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError("permission denied") from None
    except UnidentifiedImageError:
        raise ImageError(_describe_non_image(path)) from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, struct.error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImageError(f"truncated or corrupt image data ({reason})") from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageError("image has zero size")
    return LoadedImage(pixels=np.ascontiguousarray(pixels), notes=notes)


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
        rgb = np.asarray(image.convert("RGB"))
    if rgb.ndim == 2:
        return rgb
    return np.ascontiguousarray(rgb[..., ::-1])  # OpenCV's channel order
