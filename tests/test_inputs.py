"""The inputs users have: PDF, multi-page TIFF, HEIC, files known by content, folders; and form fields.

Every file is made by a real library (Pillow writes PDF, TIFF, GIF and PNG; pypdf encrypts; pillow-heif
encodes HEIC; zipfile and OpenCV write the non-images) and read by the real decoders (PDFium, Pillow,
libheif). The form is drawn with OpenCV and filled with MNIST test digits, then read by the real
recogniser through a real interpreter.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edge.pipeline.align import AlignOptions, align, prepare_reference
from edge.pipeline.fields import (FieldSpecError, FieldOptions, load_field_spec, load_form, parse_field_json,
                                  read_fields, read_form)
from edge.sources import formats
from edge.sources.files import expand_sources, iter_inputs, skipped_summary
from edge.sources.images import ImageError, LoadedImage, PageError, PageOptions, load_image, read_pages
from edge.sources.pdf import DEFAULT_DPI, render_pages
from helpers import app_env
from trainer.synth.pages import _stamp, make_page

PAGE_SIZE = (300, 560)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message and "Traceback" not in message, repr(message)
    return message


def pages_of(source, **options) -> list:
    return list(read_pages(source, PageOptions(**options)))


@pytest.fixture(scope="module")
def digit_pages(digit_bank):
    return [make_page("clean", digit_bank, seed=seed, size=PAGE_SIZE, n_lines=2) for seed in (11, 12, 13)]


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def pdf_bytes(images: list[np.ndarray], dpi: float = DEFAULT_DPI) -> bytes:
    """A PDF written by Pillow, one page per grey image, ``dpi`` pixels per inch on the page."""
    buffer = io.BytesIO()
    first, *rest = [Image.fromarray(i) for i in images]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def encrypt(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def no_page_pdf() -> bytes:
    from pypdf import PdfWriter

    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------------


def test_two_page_pdf_renders_both_pages_like_the_source(digit_pages, recognizer, tmp_path):
    sources = [grey(p.image) for p in digit_pages[:2]]
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf_bytes(sources))
    pages = pages_of(path)
    assert [(p.page, p.pages) for p in pages] == [(1, 2), (2, 2)]
    for page, source, made in zip(pages, sources, digit_pages):
        assert isinstance(page, LoadedImage) and page.pixels.dtype == np.uint8
        assert page.pixels.shape == source.shape  # 150 dpi in, 150 dpi out
        difference = np.abs(page.pixels.astype(int) - source.astype(int))
        assert difference.mean() < 2.0 and np.percentile(difference, 99.9) < 60, difference.mean()
        assert recognizer.read(page.pixels).text == made.text
    # The same from the file's bytes (standard input), and at a finer dpi the page is larger.
    from_bytes = pages_of(path.read_bytes())
    assert [np.array_equal(a.pixels, b.pixels) for a, b in zip(pages, from_bytes)] == [True, True]
    [fine, _] = pages_of(path, pdf_dpi=300)
    assert abs(fine.pixels.shape[0] - 2 * sources[0].shape[0]) <= 1


def test_pdf_pages_are_rendered_one_at_a_time(digit_pages, tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf_bytes([grey(p.image) for p in digit_pages]))
    pages = read_pages(path)
    first = next(pages)
    assert first.page == 1 and first.pages == 3
    assert sum(1 for _ in pages) == 2  # the rest on demand


@pytest.mark.parametrize("kind,build,expected", [
    ("encrypted", lambda data: encrypt(data, "secret"),
     r"^encrypted PDF: it needs a password \(save a copy without one to read it\)$"),
    ("damaged", lambda data: data[: len(data) // 2], r"^damaged PDF: it cannot be read \(.+\)$"),
    ("damaged body", lambda data: b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", r"^damaged PDF: it cannot be read \(.+\)$"),
    ("no pages", lambda data: no_page_pdf(), r"^a PDF with no pages$"),
    ("empty file", lambda data: b"", r"^empty file$"),
])
def test_bad_pdf_gives_one_line(kind, build, expected, tmp_path):
    data = build(pdf_bytes([np.full((100, 80), 250, np.uint8)]))
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=expected) as exc:
        read_pages(path)
    one_line(exc)
    if data:
        with pytest.raises(ImageError, match=expected):
            read_pages(data)


def test_pdf_protected_only_against_editing_is_read(tmp_path):
    """An owner password with an empty user password (a 'no printing' PDF) opens without asking."""
    data = encrypt(pdf_bytes([np.full((100, 80), 250, np.uint8)] * 2), user_password="")
    assert b"/Encrypt" in data
    assert [p.page for p in pages_of(data)] == [1, 2]


def test_page_cap_refuses_a_long_document_before_reading(tmp_path):
    blank = np.full((60, 50), 250, np.uint8)
    for name, data in (("long.pdf", pdf_bytes([blank] * 5)), ("long.tif", tiff_bytes([blank] * 5))):
        with pytest.raises(ImageError) as exc:
            read_pages(data, PageOptions(max_pages=4))
        assert one_line(exc) == "5 pages, over the limit of 4 (raise it with --max-pages)", name
        assert len(pages_of(data, max_pages=5)) == 5


def test_huge_pdf_page_is_rendered_at_a_lower_dpi_with_a_note():
    # An A0 poster: 841x1189 mm is 22 million pixels at 150 dpi.
    buffer = io.BytesIO()
    Image.new("L", (330, 468), 250).save(buffer, "PDF", resolution=10)  # 33.0 x 46.8 in
    [page] = pages_of(buffer.getvalue(), max_pixels=4_000_000)
    assert page.pixels.shape[0] * page.pixels.shape[1] <= 4_000_000
    assert page.pixels.shape[0] > 1500
    assert page.notes == ["page is 838x1189 mm: rendered at 51 dpi instead of 150 to stay within --max-pixels"]


def test_bad_dpi_is_one_line():
    with pytest.raises(ImageError, match=r"^the PDF resolution must be a positive number of dpi, not 0$"):
        render_pages(pdf_bytes([np.full((60, 50), 250, np.uint8)]), dpi=0)


# --- multi-page and animated images ----------------------------------------------------------------


def tiff_bytes(images: list[np.ndarray], compression: str | None = "tiff_lzw") -> bytes:
    buffer = io.BytesIO()
    first, *rest = [Image.fromarray(i) for i in images]
    first.save(buffer, "TIFF", save_all=True, append_images=rest, compression=compression)
    return buffer.getvalue()


def test_three_page_tiff_gives_three_pages(digit_pages, tmp_path):
    sources = [grey(p.image) for p in digit_pages]
    path = tmp_path / "fax.tif"
    path.write_bytes(tiff_bytes(sources))
    pages = pages_of(path)
    assert [(p.page, p.pages) for p in pages] == [(1, 3), (2, 3), (3, 3)]
    assert all(np.array_equal(page.pixels, source) for page, source in zip(pages, sources))
    assert all(page.notes == [] for page in pages)
    # The single-image loader still reads page 1, and says what it left out.
    assert load_image(path).notes == ["multi-page TIFF: read page 1 of 3"]


def test_tiff_page_cut_short_costs_that_page_only(tmp_path):
    blank = [np.full((200, 300), v, np.uint8) for v in (60, 120, 200)]
    data = tiff_bytes(blank, compression=None)
    pages = pages_of(data[:-100])  # uncompressed, Pillow writes each page's data last: page 3 loses its end
    assert [type(p) for p in pages] == [LoadedImage, LoadedImage, PageError]
    assert [p.page for p in pages] == [1, 2, 3]
    assert pages[2].message.startswith("truncated or corrupt image data")
    assert np.array_equal(pages[1].pixels, blank[1])


def test_animated_gif_gives_its_first_frame_with_a_note(digit_pages):
    first, second = (Image.fromarray(grey(p.image)) for p in digit_pages[:2])
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=200, loop=0)
    [page] = pages_of(buffer.getvalue())
    assert page.page == 1 and page.pages == 1
    assert page.notes == ["animated image: read the first of 2 frames"]
    assert np.abs(grey(page.pixels).astype(int) - np.asarray(first).astype(int)).mean() < 1


def test_image_bytes_are_read_like_the_file(digit_pages, tmp_path):
    path = tmp_path / "page.png"
    Image.fromarray(digit_pages[0].image[..., ::-1]).save(path)
    [from_file] = pages_of(path)
    [from_bytes] = pages_of(path.read_bytes())
    assert np.array_equal(from_file.pixels, from_bytes.pixels)
    assert np.array_equal(from_file.pixels, load_image(path).pixels)
    with pytest.raises(ImageError, match=r"^empty input$"):
        read_pages(b"")
    with pytest.raises(ImageError, match=r"^a text file, not an image$"):
        read_pages(b"total: 12 + 30\n")


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_gives_pillows_pixels_and_a_damaged_one_reads_quietly(digit_pages, tmp_path, capfd, mode):
    """JPEGs are decoded by OpenCV: the pixels must be Pillow's own, in OpenCV's channel order;
    damaged data inside the file reads (as with Pillow) with nothing printed by libjpeg."""
    picture = Image.fromarray(digit_pages[1].image[..., ::-1]).convert(mode)
    path = tmp_path / "page.jpg"
    picture.save(path, quality=90)
    with Image.open(path) as image:
        image.load()
        expected = np.asarray(image if mode == "L" else image.convert("RGB"))
    expected = expected if mode == "L" else expected[..., ::-1]
    [page] = pages_of(path)
    [from_bytes] = pages_of(path.read_bytes())
    assert np.array_equal(page.pixels, expected) and np.array_equal(from_bytes.pixels, expected)
    damaged = bytearray(path.read_bytes())
    for at in range(len(damaged) // 3, len(damaged) - 16, 211):  # flips in the entropy-coded data
        damaged[at] ^= 0x5A
    capfd.readouterr()
    [page] = pages_of(bytes(damaged))
    assert isinstance(page, LoadedImage) and page.pixels.shape == expected.shape
    assert capfd.readouterr().err == ""


def test_single_image_over_the_pixel_limit_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (400, 300), 255).save(path)
    with pytest.raises(ImageError) as exc:
        read_pages(path, PageOptions(max_pixels=100_000))
    assert one_line(exc) == "400x300 is 120,000 pixels, over the limit of 100,000 (raise it with --max-pixels)"


# --- HEIC ------------------------------------------------------------------------------------------


def heic_bytes(image: np.ndarray) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif (the dev extra) writes the test HEIC")
    buffer = io.BytesIO()
    heif = pillow_heif.from_pillow(Image.fromarray(image[..., ::-1]))
    heif.save(buffer, quality=95)
    return buffer.getvalue()


def test_heic_photo_is_read(digit_pages, recognizer, tmp_path):
    pytest.importorskip("pi_heif", reason="the heif extra (pi-heif) decodes HEIC")
    page = digit_pages[0]
    data = heic_bytes(page.image)
    assert formats.sniff(data) is formats.HEIF
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(data)
    [loaded] = pages_of(path)
    assert loaded.pixels.shape == page.image.shape
    assert np.abs(loaded.pixels.astype(int) - page.image.astype(int)).mean() < 3
    assert recognizer.read(loaded.pixels).text == page.text
    assert np.array_equal(load_image(path).pixels, loaded.pixels)


@pytest.mark.slow
def test_heic_without_the_decoder_names_the_install(digit_pages, tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(heic_bytes(digit_pages[0].image))
    # A fresh interpreter in which neither decoder can be imported, as on an install without the extra.
    probe = textwrap.dedent(
        """
        import sys
        sys.modules["pi_heif"] = None
        sys.modules["pillow_heif"] = None
        from edge.sources.images import ImageError, load_image, read_pages
        for read in (load_image, read_pages):
            try:
                read(sys.argv[1])
            except ImageError as exc:
                print(exc)
        """
    )
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60,
                            env=app_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [formats.HEIF_HINT] * 2
    assert "pip install" in formats.HEIF_HINT


# --- recognising files by content --------------------------------------------------------------------


def _pillow(fmt: str, mode: str = "RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (32, 24), (200, 10, 10) if mode == "RGB" else 128).save(buffer, fmt, **options)
    return buffer.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _video(tmp_path: Path, suffix: str, fourcc: str) -> bytes:
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {suffix} here")
    for value in (0, 128, 255):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    return path.read_bytes()


KINDS = {
    "PNG": (lambda tmp: _pillow("PNG"), "png", True),
    "JPEG": (lambda tmp: _pillow("JPEG"), "jpeg", True),
    "TIFF": (lambda tmp: _pillow("TIFF"), "tiff", True),
    "GIF": (lambda tmp: _pillow("GIF"), "gif", True),
    "WebP": (lambda tmp: _pillow("WEBP"), "webp", True),
    "BMP": (lambda tmp: _pillow("BMP"), "bmp", True),
    "PGM": (lambda tmp: _pillow("PPM", "L"), "pnm", True),
    "ICO": (lambda tmp: _pillow("ICO"), "ico", True),
    "PDF": (lambda tmp: _pillow("PDF"), "pdf", True),
    "JPEG 2000": (lambda tmp: _pillow("JPEG2000"), "jp2", True),
    "AVIF": (lambda tmp: _pillow("AVIF"), "avif", True),
    "text": (lambda tmp: "Ergebnisse: 12 – 34 – 56\n".encode(), "text", False),
    "SVG": (lambda tmp: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "svg", False),
    "ZIP": (lambda tmp: _zip({"a.txt": "1"}), "zip", False),
    "Word": (lambda tmp: _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}), "office", False),
    "MP4": (lambda tmp: _video(tmp, ".mp4", "mp4v"), "video", False),
    "AVI": (lambda tmp: _video(tmp, ".avi", "MJPG"), "video", False),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_files_are_known_by_their_content(kind, tmp_path):
    build, name, readable = KINDS[kind]
    found = formats.sniff(build(tmp_path)[: formats.HEAD_BYTES])
    assert (found.name, found.readable) == (name, readable), found


def test_avif_and_jpeg2000_are_read_by_pillow_itself():
    for fmt in ("AVIF", "JPEG2000"):
        [page] = pages_of(_pillow(fmt))
        assert page.pixels.shape == (24, 32, 3) and abs(int(page.pixels[12, 16, 2]) - 200) < 12, fmt


def test_extensionless_image_and_pdf_are_read(digit_pages, tmp_path):
    png = tmp_path / "scan_0001"
    Image.fromarray(digit_pages[0].image[..., ::-1]).save(png, "PNG")
    pdf = tmp_path / "scan.0002"
    pdf.write_bytes(pdf_bytes([grey(digit_pages[1].image)]))
    names = [Path(s.name).name for s in iter_inputs([str(tmp_path)]) if s.readable]
    assert names == ["scan.0002", "scan_0001"]
    [image] = pages_of(png)
    assert np.array_equal(image.pixels, digit_pages[0].image)
    assert [p.page for p in pages_of(pdf)] == [1]


# --- folders -------------------------------------------------------------------------------------------


def test_folder_reads_pdf_and_heic_and_reports_what_it_skips(digit_pages, tmp_path):
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(grey(digit_pages[0].image)).save(folder / "a.png")
    (folder / "b.pdf").write_bytes(pdf_bytes([grey(digit_pages[1].image)]))
    (folder / "c.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")  # named by extension
    (folder / "notes.txt").write_text("scores: 12 34\n")
    (folder / "README").write_text("Scans from the front desk.\n")
    (folder / "report.docx").write_bytes(_zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}))
    Image.fromarray(grey(digit_pages[2].image)).save(folder / "sub" / "d.tif")
    (folder / "sub" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")

    found = list(iter_inputs([str(folder)], recursive=True))
    by_name = {Path(s.name).relative_to(folder).as_posix(): s for s in found}
    readable = [n for n, s in by_name.items() if s.readable]
    skipped = {n: s.skipped for n, s in by_name.items() if s.skipped}
    assert readable == ["a.png", "b.pdf", "c.heic", "sub/d.tif"]
    assert skipped == {"README": "a text file", "notes.txt": "not an image or PDF (.txt)",
                       "report.docx": "not an image or PDF (.docx)", "sub/clip.mp4": "not an image or PDF (.mp4)"}
    line = skipped_summary([s for s in found if s.skipped])
    assert line == (f"skipped 4 files that are not images or PDFs: {folder}/README (a text file), "
                    f"{folder}/notes.txt, {folder}/report.docx and 1 more")
    assert skipped_summary([]) is None
    # The older images-only walk is unchanged: it neither reads nor mentions the others.
    assert [Path(s.name).name for s in expand_sources([str(folder)], recursive=True)] == ["a.png", "d.tif"]


def test_one_skipped_file_and_an_explicit_odd_name(tmp_path):
    (tmp_path / "notes.txt").write_text("12\n")
    [source] = iter_inputs([str(tmp_path)])
    assert skipped_summary([source]) == f"skipped 1 file that is not an image or PDF: {tmp_path}/notes.txt"
    # Named on the command line it is read (and the reader says what it is).
    [named] = iter_inputs([str(tmp_path / "notes.txt")])
    assert named.readable
    with pytest.raises(ImageError, match=r"^a text file, not an image$"):
        read_pages(named.path)


def test_extensionless_fifo_is_skipped_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe")
    [source] = iter_inputs([str(tmp_path)])
    assert source.skipped == "not a regular file"


# --- form fields: a blank form, a filled one, and the filled one turned and shifted ---------------------

FORM_SIZE = (1240, 1754)  # A4 at 150 dpi
PRINT = (30, 30, 30)


def blank_form() -> tuple[np.ndarray, dict]:
    width, height = FORM_SIZE
    form = np.full((height, width, 3), 248, np.uint8)
    text = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(form, "ORDER FORM  No. 7B", (80, 110), text, 1.6, PRINT, 3, cv2.LINE_AA)
    cv2.putText(form, "Fill in with a dark pen. One digit per box.", (80, 160), text, 0.8, PRINT, 2, cv2.LINE_AA)
    fields: dict = {}
    for row, (label, name) in enumerate([("Amount", "amount"), ("Account", "account"), ("Quantity", "quantity"),
                                         ("Empty", "empty")]):
        y = 240 + 170 * row
        cv2.putText(form, label, (80, y + 55), text, 1.0, PRINT, 2, cv2.LINE_AA)
        if name == "account":
            for i in range(6):
                cv2.rectangle(form, (420 + 70 * i, y), (490 + 70 * i, y + 90), PRINT, 2)
            fields[name] = {"box": [420, y, 421, 91], "cells": 6}
        else:
            right = 900 if name == "amount" else 700
            cv2.rectangle(form, (420, y), (right, y + 90), PRINT, 2)
            fields[name] = [420, y, right - 419, 91]
    for k in range(8):
        cv2.putText(form, f"Section {k + 1}: conditions apply, see overleaf {k * 37 % 91}", (80, 1000 + 70 * k),
                    text, 0.9, PRINT, 2, cv2.LINE_AA)
    return form, fields


def handwrite(image: np.ndarray, bank, text: str, x: int, y: int, height: int, rng) -> None:
    for char in text:
        glyph = bank.sample(int(char), rng)
        glyph = cv2.resize(glyph, (max(1, round(glyph.shape[1] * height / glyph.shape[0])), height))
        _stamp(image, glyph, x, y)
        x += glyph.shape[1] + height // 4


FILLED = {"amount": "4071", "account": "305182", "quantity": "72", "empty": ""}


@pytest.fixture(scope="module")
def form_files(digit_bank, tmp_path_factory):
    folder = tmp_path_factory.mktemp("form")
    blank, fields = blank_form()
    cv2.imwrite(str(folder / "blank-form.png"), blank)
    (folder / "fields.json").write_text(json.dumps({"reference": "blank-form.png", "fields": fields}))
    rng = np.random.default_rng(5)
    filled = blank.copy()
    handwrite(filled, digit_bank, FILLED["amount"], 440, 248, 64, rng)
    for i, char in enumerate(FILLED["account"]):
        handwrite(filled, digit_bank, char, 438 + 70 * i, 424, 60, rng)
    handwrite(filled, digit_bank, FILLED["quantity"], 440, 555, 70, rng)  # a third out of the box, at the top
    return folder, filled


def turn(image: np.ndarray, degrees: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    matrix[:, 2] += shift
    turned = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(248, 248, 248))
    return turned, np.vstack([matrix, [0, 0, 1]])


def test_alignment_recovers_a_turned_and_shifted_page(form_files):
    folder, filled = form_files
    blank = cv2.imread(str(folder / "blank-form.png"))
    reference = prepare_reference(blank)
    page, truth = turn(filled, 2.0, 25)
    alignment = align(page, reference)
    assert alignment.ok and alignment.reason is None
    assert alignment.inliers >= 50 and alignment.inlier_ratio > 0.3
    width, height = FORM_SIZE
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    expected = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), truth).reshape(-1, 2)
    error = np.abs(alignment.to_page(corners) - expected).max()
    assert error < 4, f"corners off by {error:.1f} px"
    # At twice the resolution (a 300 dpi scan of the 150 dpi reference) the fit is as good, in its pixels.
    fine, truth = turn(cv2.resize(filled, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), 2.0, 50)
    alignment = align(fine, reference)
    expected = cv2.perspectiveTransform(2 * corners.reshape(-1, 1, 2), truth).reshape(-1, 2)
    assert alignment.ok and np.abs(alignment.to_page(corners) - expected).max() < 8


def test_alignment_fails_with_a_reason_on_a_blank_or_different_page(form_files):
    folder, _ = form_files
    reference = prepare_reference(cv2.imread(str(folder / "blank-form.png")))
    blank = np.full((FORM_SIZE[1], FORM_SIZE[0]), 248, np.uint8)
    alignment = align(blank, reference)
    assert not alignment.ok and alignment.reason == "the page has too few features to align (blank or blurred?)"
    assert np.allclose(alignment.homography, np.eye(3))  # the page is used as it is
    other = blank.copy()
    cv2.putText(other, "A different letter, 1234", (60, 300), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 20, 3)
    alignment = align(other, reference, AlignOptions())
    assert not alignment.ok and "\n" not in alignment.reason


def test_form_fields_read_the_same_on_the_reference_and_on_a_turned_copy(form_files, recognizer):
    folder, filled = form_files
    form = load_form(folder / "fields.json")
    assert form.spec.names == ["amount", "account", "quantity", "empty"]
    straight = read_form(recognizer, filled, form)
    assert straight.notes == [] and straight.values() == FILLED
    turned_page, truth = turn(filled, 2.0, 25)
    turned = read_form(recognizer, turned_page, form)
    assert turned.notes == [] and turned.values() == FILLED
    confidences = turned.confidences()
    assert confidences["empty"] is None
    assert all(0.5 < confidences[name] <= 1.0 for name in ("amount", "account", "quantity"))
    # Each field's box on the input is where the turn put it.
    x, y, w, h = 420, 240, 481, 91
    corners = cv2.perspectiveTransform(np.float64([[[x, y]], [[x + w, y + h]]]), truth).reshape(-1, 2)
    amount = turned.fields["amount"]
    assert np.abs(np.array(amount.corners)[[0, 2]] - corners).max() < 4
    assert len(amount.digits) == 4 and all(amount.box.x <= d.box.cx <= amount.box.x2 for d in amount.digits)


def test_form_page_that_does_not_align_is_read_as_it_is_with_a_note(form_files, recognizer):
    folder, filled = form_files
    form = load_form(folder / "fields.json")
    page = np.full_like(filled, 248)
    reading = read_form(recognizer, page, form)
    assert reading.notes == ["could not align the page to the form (the page has too few features to align "
                             "(blank or blurred?)): fields read from the page as it is"]
    assert set(reading.values()) == set(FILLED)


def test_field_crop_reaches_past_the_border_and_slanted_box_lines_are_not_read(form_files, recognizer):
    folder, filled = form_files
    form = load_form(folder / "fields.json")
    alignment = align(filled, form.features)
    # Without the margin the 7 standing out of its box loses its bar.
    tight = read_fields(recognizer, filled, form.spec, alignment, form.reference, FieldOptions(margin=0, min_margin_px=0))
    assert tight["quantity"].value != FILLED["quantity"]
    # Turned, the box lines are slanted in the crop: dropout erases them, and segmentation alone now
    # finds them too (each comb looked at on itself made level); either way every field reads right.
    turned_page, _ = turn(filled, 3.0, 25)
    turned = align(turned_page, form.features)
    plain = read_fields(recognizer, turned_page, form.spec, turned, form.reference, FieldOptions(dropout=False))
    assert {name: f.value for name, f in plain.items()} == FILLED
    dropped = read_fields(recognizer, turned_page, form.spec, turned, form.reference)
    assert {name: f.value for name, f in dropped.items()} == FILLED
    assert read_fields(recognizer, filled, form.spec, alignment, form.reference)["quantity"].value == FILLED["quantity"]


# --- field specs ---------------------------------------------------------------------------------------

BAD_SPECS = {
    "not an object": ("[1, 2]", r'^a field spec is a JSON object with "reference" and "fields"$'),
    "not JSON": ('{"reference": "a.png",', r"^not valid JSON \(line 1 column 23: .+\)$"),
    "no reference": ('{"fields": {"a": [0, 0, 5, 5]}}', r'^"reference" must name the blank form\'s image file$'),
    "no fields": ('{"reference": "a.png", "fields": {}}', r'^"fields" must be an object of field names and boxes'),
    "short box": ('{"reference": "a.png", "fields": {"total": [1, 2]}}',
                  r'^field "total": the box must be \[x, y, width, height\] in pixels, not \[1, 2\]$'),
    "text in box": ('{"reference": "a.png", "fields": {"total": [1, 2, "3", 4]}}', r'^field "total": the box must be'),
    "negative": ('{"reference": "a.png", "fields": {"total": [-5, 2, 30, 40]}}',
                 r'^field "total": the box starts outside the image \(x -5, y 2\)$'),
    "empty box": ('{"reference": "a.png", "fields": {"total": [5, 2, 0, 40]}}',
                  r'^field "total": the box is empty \(0x40 pixels\)$'),
    "typo": ('{"reference": "a.png", "fields": {"total": {"box": [1, 2, 3, 4], "cels": 4}}}',
             r'^field "total": unknown key "cels" \(known: box, comb, cells\)$'),
    "zero cells": ('{"reference": "a.png", "fields": {"id": {"box": [1, 2, 3, 4], "cells": 0}}}',
                   r'^field "id": "cells" must be a whole number from 1 to 200$'),
    "twice": ('{"reference": "a.png", "fields": {"a": [0, 0, 5, 5], "a": [1, 1, 5, 5]}}', r'^"a" is given twice$'),
    "top-level typo": ('{"refrence": "a.png", "fields": {}}', r'^unknown key "refrence" \(known: reference, fields, dpi\)$'),
    # These four were a traceback (a number of 5,000 digits, JSON nested 100,000 deep) or a CSV table
    # with two columns of one name.
    "huge number": ('{"reference": "a.png", "fields": {"a": [1, 2, ' + "9" * 5000 + ', 4]}}',
                    r"^not valid JSON \(a number too long to read\)$"),
    "nested deep": ("[" * 100_000 + "]" * 100_000, r"^not a field spec: JSON nested too deeply$"),
    "a column's name": ('{"reference": "a.png", "fields": {"error": [0, 0, 5, 5]}}',
                        r'^field "error": the name is taken by a column of the results \(source, page, error\)$'),
    "a confidence column's name": ('{"reference": "a.png", "fields": {"a": [0, 0, 5, 5], "a confidence": [9, 0, 5, 5]}}',
                                   r'^fields "a" and "a confidence": the second is the name of the first\'s confidence'),
}


@pytest.mark.parametrize("kind", list(BAD_SPECS))
def test_bad_field_spec_gives_one_line(kind):
    text, expected = BAD_SPECS[kind]
    with pytest.raises(FieldSpecError, match=expected) as exc:
        parse_field_json(text)
    one_line(exc)


def test_field_spec_files(form_files, tmp_path):
    folder, _ = form_files
    spec = load_field_spec(folder / "fields.json")
    assert spec.reference == folder / "blank-form.png"  # relative to the JSON file, not the working folder
    account = spec.fields[1]
    assert (account.name, account.comb, account.cells, account.box.as_list()) == ("account", True, 6, [420, 410, 421, 91])
    with pytest.raises(FieldSpecError, match=r"^file not found$"):
        load_field_spec(tmp_path / "missing.json")
    (tmp_path / "outside.json").write_text(json.dumps(
        {"reference": str(folder / "blank-form.png"), "fields": {"far": [1200, 10, 100, 50]}}))
    with pytest.raises(FieldSpecError, match=r'^field "far" \[1200, 10, 100, 50\] reaches outside the reference '
                                             r"image \(1240x1754\)$"):
        load_form(tmp_path / "outside.json")
    (tmp_path / "lost.json").write_text(json.dumps({"reference": "nowhere.png", "fields": {"a": [0, 0, 5, 5]}}))
    with pytest.raises(FieldSpecError, match=r"^reference image nowhere.png: file not found$"):
        load_form(tmp_path / "lost.json")


# --- damaged documents: a page, a PageError or one ImageError, never anything else ----------------------

def _document_seeds() -> dict[str, bytes]:
    scan = np.full((120, 90), 240, np.uint8)
    cv2.putText(scan, "42", (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 20, 3)
    return {"pdf": pdf_bytes([scan, 255 - scan], dpi=72), "tiff": tiff_bytes([scan, 255 - scan, scan]),
            "tiff-raw": tiff_bytes([scan, scan], compression=None)}


DOCUMENTS = _document_seeds()


def _fuzz_settings():
    import os
    from datetime import timedelta

    from hypothesis import HealthCheck, settings

    return settings(max_examples=int(os.environ.get("EDGE_FUZZ_EXAMPLES", "40")), deadline=timedelta(seconds=5),
                    derandomize=not os.environ.get("EDGE_FUZZ_EXAMPLES"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_damaged_documents_are_read_or_refused_in_one_line():
    from hypothesis import given, strategies as st

    @_fuzz_settings()
    @given(seed=st.sampled_from(sorted(DOCUMENTS)),
           flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
           cut=st.one_of(st.none(), st.floats(0, 1)))
    def check(seed, flips, cut):
        data = bytearray(DOCUMENTS[seed])
        for where, value in flips:
            data[int(where * len(data))] = value
        if cut is not None:
            data = data[: int(cut * len(data))]
        try:
            pages = list(read_pages(bytes(data), PageOptions(max_pixels=250_000, max_pages=10)))
        except ImageError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        for page in pages:
            if isinstance(page, PageError):
                assert page.message and "\n" not in page.message and 1 <= page.page <= page.pages
            else:
                assert page.pixels.dtype == np.uint8 and page.pixels.size <= 250_000 * 3
                assert 1 <= page.page <= page.pages <= 10

    check()


def test_fields_on_the_command_line_json_and_csv(form_files, tmp_path):
    """``--fields``: every page gets its fields by name (and their confidence), the CSV a column each."""
    from edge.apps.recognize import main as recognize

    folder, filled = form_files
    cv2.imwrite(str(tmp_path / "straight.png"), filled)
    cv2.imwrite(str(tmp_path / "turned.png"), turn(filled, 2.0, 25)[0])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = recognize([str(tmp_path / "straight.png"), str(tmp_path / "turned.png"), "--fields",
                          str(folder / "fields.json"), "--json", "--csv", str(tmp_path / "fields.csv")])
    assert code == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["fields"] for r in records] == [FILLED, FILLED]
    assert records[1]["field_confidence"]["empty"] is None and records[1]["field_confidence"]["amount"] > 0.5
    rows = list(csv.reader(io.StringIO((tmp_path / "fields.csv").read_text())))
    assert rows[0] == ["source", "page", "amount", "account", "quantity", "empty", "amount confidence",
                       "account confidence", "quantity confidence", "empty confidence", "error"]
    assert [row[2:6] for row in rows[1:]] == [list(FILLED.values())] * 2


def test_bad_fields_file_is_a_usage_error(tmp_path, caplog):
    from edge.apps.recognize import main as recognize

    (tmp_path / "fields.json").write_text('{"reference": "missing.png", "fields": {"a": [0, 0, 5, 5]}}')
    assert recognize([str(tmp_path / "x.png"), "--fields", str(tmp_path / "fields.json")]) == 2
    assert "--fields" in caplog.text and "missing.png" in caplog.text
