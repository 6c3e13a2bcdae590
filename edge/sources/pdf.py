"""Render the pages of a PDF to pixels, one page at a time, or fail with a one-line reason.

PDFium (through pypdfium2: permissive licence, self-contained wheels) renders what a PDF viewer
shows: scanned page images, vector pen strokes from tablets, form fields and annotations.

The default resolution is chosen for handwriting on A4 and Letter pages read by this pipeline: at
150 dpi a digit 5-10 mm tall is 30-59 px, well above the 20 px the model needs, and the whole page
(A4: 1240x1754 px) stays under the 2000 px that segmentation works at. Rendering finer costs time
for nothing, and past 171 dpi an A4 page is over 2000 px, so segmentation halves it to about 100 dpi,
where a 5 mm digit is under 20 px. Field reading (``--fields``) crops small regions and gains from
a finer rendering: raise ``--pdf-dpi`` there.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from edge.sources.images import DEFAULT_MAX_PAGES, DEFAULT_MAX_PIXELS, ImageError, LoadedImage, Page, PageError

DEFAULT_DPI = 150.0
POINTS_PER_INCH = 72.0  # PDF page sizes are in points
MM_PER_INCH = 25.4
# Where the trailer and the cross-reference data of a PDF are: its first and last bytes. Encryption
# is declared there (/Encrypt), and a file with no pages is tiny.
_ENDS_BYTES = 65536


def _pdfium():
    try:
        import pypdfium2
    except ImportError:  # a partial install: the package requires it
        raise ImageError("reading PDF needs pypdfium2: pip install pypdfium2") from None
    return pypdfium2


def _ends(source: Path | bytes) -> bytes:
    """The first and last bytes of the file (all of it when small)."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            with open(source, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size <= 2 * _ENDS_BYTES:
                    return handle.read()
                head = handle.read(_ENDS_BYTES)
                handle.seek(size - _ENDS_BYTES)
                return head + handle.read()
        except OSError:
            return b""
    return data if len(data) <= 2 * _ENDS_BYTES else data[:_ENDS_BYTES] + data[-_ENDS_BYTES:]


def _has_no_pages(ends: bytes) -> bool:
    """A page tree that says it holds no page (``/Count 0``) and no page object anywhere in sight."""
    return (re.search(rb"/Type\s*/Pages\b", ends) is not None and re.search(rb"/Count\s+0\b", ends) is not None
            and re.search(rb"/Type\s*/Page\b(?!s)", ends) is None)


def _load_error(exc: Exception, source: Path | bytes) -> ImageError:
    """One line for a document PDFium refused to open."""
    pdfium = _pdfium()
    code = getattr(exc, "err_code", None)
    raw = pdfium.raw
    ends = _ends(source)
    if code == raw.FPDF_ERR_PASSWORD and b"/Encrypt" in ends:
        return ImageError("encrypted PDF: it needs a password (save a copy without one to read it)")
    if code == raw.FPDF_ERR_SECURITY:
        return ImageError("encrypted PDF with an unsupported security handler")
    if code == raw.FPDF_ERR_FILE:
        return ImageError("cannot open the PDF file")
    # PDFium refuses a document without pages with a misleading code (password, or none at all).
    if _has_no_pages(ends):
        return ImageError("a PDF with no pages")
    detail = str(exc).split("(PDFium:", 1)[-1].strip(" ).") if "PDFium:" in str(exc) else str(exc)
    detail = (detail.splitlines() or ["unknown error"])[0].lower()
    return ImageError(f"damaged PDF: it cannot be read ({detail})")


def page_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> tuple[float, str | None]:
    """Render scale (pixels per point) for a page, and a note when ``max_pixels`` lowered the dpi."""
    scale = dpi / POINTS_PER_INCH
    pixels = (width_pt * scale) * (height_pt * scale)
    if not max_pixels or pixels <= max_pixels:
        return scale, None
    scale *= math.sqrt(max_pixels / pixels) * 0.999  # a hair under, so rounding cannot cross the limit
    mm = (width_pt / POINTS_PER_INCH * MM_PER_INCH, height_pt / POINTS_PER_INCH * MM_PER_INCH)
    note = (f"page is {mm[0]:.0f}x{mm[1]:.0f} mm: rendered at {scale * POINTS_PER_INCH:.0f} dpi instead of "
            f"{dpi:.0f} to stay within --max-pixels")
    return scale, note


def render_pages(source: str | os.PathLike | bytes, dpi: float = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_pages: int = DEFAULT_MAX_PAGES, grey: bool = True) -> Iterator[Page]:
    """The pages of a PDF (a path or the file's bytes) as uint8 pixels, rendered at ``dpi``.

    The document is opened, and refused as a whole (ImageError: encrypted, damaged, no pages, more
    than ``max_pages``) here; the iterator then renders one page per step, so only that page's
    pixels are in memory. A page over ``max_pixels`` at ``dpi`` is rendered at the dpi that fits,
    with a note; a page PDFium cannot render is a ``PageError`` and the next page is read.
    ``grey`` renders 8-bit grey (what the pipeline reads, a third of the memory); otherwise BGR.
    """
    if not dpi or dpi <= 0 or not math.isfinite(dpi):
        raise ImageError(f"the PDF resolution must be a positive number of dpi, not {dpi}")
    pdfium = _pdfium()
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source)
    if isinstance(data, bytes) and not data:
        raise ImageError("empty input")
    try:
        document = pdfium.PdfDocument(data if isinstance(data, bytes) else str(data))
    except pdfium.PdfiumError as exc:
        raise _load_error(exc, data) from None
    except OSError as exc:
        raise ImageError(f"cannot open ({exc.strerror or exc})") from None
    pages = len(document)
    if pages == 0:
        document.close()
        raise ImageError("a PDF with no pages")
    if max_pages and pages > max_pages:
        document.close()
        raise ImageError(f"{pages:,} pages, over the limit of {max_pages:,} (raise it with --max-pages)")
    return _render(pdfium, document, pages, dpi, max_pixels, grey)


def _render(pdfium, document, pages: int, dpi: float, max_pixels: int, grey: bool) -> Iterator[Page]:
    try:
        try:
            document.init_forms()  # fields of fillable forms drawn as a viewer shows them
        except pdfium.PdfiumError:
            pass
        for index in range(pages):
            try:
                pixels, notes = _render_page(pdfium, document, index, dpi, max_pixels, grey)
            except pdfium.PdfiumError as exc:
                detail = (str(exc).splitlines() or ["unknown error"])[0]
                yield PageError(index + 1, pages, f"page {index + 1} cannot be rendered ({detail})")
                continue
            except ImageError as exc:
                yield PageError(index + 1, pages, str(exc))
                continue
            except MemoryError:
                yield PageError(index + 1, pages, "not enough memory to render this page")
                continue
            yield LoadedImage(pixels=pixels, notes=notes, page=index + 1, pages=pages)
    finally:
        document.close()


def _render_page(pdfium, document, index: int, dpi: float, max_pixels: int, grey: bool):
    page = document[index]
    try:
        width_pt, height_pt = page.get_size()
        if not (width_pt > 0 and height_pt > 0) or not math.isfinite(width_pt * height_pt):
            raise ImageError(f"page has zero size ({width_pt:g}x{height_pt:g} points)")
        scale, note = page_scale(width_pt, height_pt, dpi, max_pixels)
        if round(width_pt * scale) < 1 or round(height_pt * scale) < 1:
            raise ImageError("page is too small to render at this resolution")
        bitmap = page.render(scale=scale, grayscale=grey, may_draw_forms=True)
        try:
            array = bitmap.to_numpy()
            if array.ndim == 3 and array.shape[2] == 4:  # BGRX when PDFium prefers it
                array = array[..., :3]
            pixels = np.ascontiguousarray(array, dtype=np.uint8).copy()  # own memory: the bitmap is freed
        finally:
            bitmap.close()
    finally:
        page.close()
    return pixels, [note] if note else []


def page_count(source: str | os.PathLike | bytes) -> int:
    """Pages in a PDF, without rendering any (ImageError as ``render_pages`` gives it)."""
    pdfium = _pdfium()
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source)
    try:
        document = pdfium.PdfDocument(data if isinstance(data, bytes) else str(data))
    except pdfium.PdfiumError as exc:
        raise _load_error(exc, data) from None
    try:
        return len(document)
    finally:
        document.close()
