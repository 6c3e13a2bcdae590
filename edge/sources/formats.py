"""What a file is, from its first bytes: an image we can read, a PDF, or something to name and skip.

Extensions lie or are missing (scanner exports called ``scan_0001``, phone photos renamed by a sync
tool), so inputs are judged by content. ``sniff`` is pure (bytes in, a ``FileKind`` out); the
HEIC/HEIF decoder, a plug-in for Pillow, is registered only when such a file is actually met.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

# Enough for every signature below: ZIP member names (Office documents) sit in the first local
# headers, an ISO-BMFF 'ftyp' box lists its brands in its first few dozen bytes.
HEAD_BYTES = 4096
# The PDF specification lets a header start after some junk (mail gateways and some scanners add a
# line); readers look for it in the first kilobyte.
PDF_HEADER_WINDOW = 1024

HEIF_HINT = "HEIC/HEIF photos need pi-heif: pip install 'edge-digits[heif]' (or pip install pi-heif)"


@dataclass(frozen=True)
class FileKind:
    """One kind of file: ``role`` says what the reader does with it."""

    name: str  # short id: "png", "pdf", "heif", "text", "zip", ...
    label: str  # for messages: "a PNG image", "a text file"
    role: str  # "image" (decoded by Pillow), "pdf", "other" (a known non-image) or "unknown"
    refusal: str | None = None  # the whole message when this is refused as an image, if not the usual

    @property
    def readable(self) -> bool:
        """An input the reader turns into pages (an image or a PDF)."""
        return self.role in ("image", "pdf")

    def refused(self) -> str:
        """The one-line reason this is not read as an image."""
        if self.refusal:
            return self.refusal
        if self.role == "unknown":
            return "not a recognised image format"
        return f"{self.label}, not an image"


def _image(name: str, label: str) -> FileKind:
    return FileKind(name, label, "image")


def _other(name: str, label: str, refusal: str | None = None) -> FileKind:
    return FileKind(name, label, "other", refusal)


PNG = _image("png", "a PNG image")
JPEG = _image("jpeg", "a JPEG image")
TIFF = _image("tiff", "a TIFF image")
GIF = _image("gif", "a GIF image")
WEBP = _image("webp", "a WebP image")
BMP = _image("bmp", "a BMP image")
PNM = _image("pnm", "a PNM image")
JP2 = _image("jp2", "a JPEG 2000 image")
ICO = _image("ico", "an icon")
PSD = _image("psd", "a Photoshop image")
HEIF = _image("heif", "a HEIC/HEIF photo")
AVIF = FileKind("avif", "an AVIF image", "image", "AVIF images need Pillow 11.3 or later: pip install -U Pillow")
PDF = FileKind("pdf", "a PDF document", "pdf")
EMPTY = _other("empty", "an empty file", "empty file")
TEXT = _other("text", "a text file")
UNKNOWN = FileKind("unknown", "an unrecognised file", "unknown")

_PREFIXES: list[tuple[bytes, FileKind]] = [
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"II+\x00", TIFF),  # BigTIFF
    (b"MM\x00+", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", JP2),
    (b"\xffO\xffQ", JP2),  # a bare JPEG 2000 codestream (.j2k)
    (b"8BPS", PSD),
    (b"\x7fELF", _other("program", "a program")),
    (b"MZ", _other("program", "a Windows program")),
    (b"\x1a\x45\xdf\xa3", _other("video", "a video (Matroska/WebM)")),
    (b"\x1f\x8b", _other("archive", "a gzip archive")),
    (b"7z\xbc\xaf\x27\x1c", _other("archive", "a 7-Zip archive")),
    (b"Rar!\x1a\x07", _other("archive", "a RAR archive")),
    (b"%!PS", _other("postscript", "a PostScript document")),
    (b"OggS", _other("audio", "an Ogg audio or video file")),
    (b"fLaC", _other("audio", "a FLAC audio file")),
    (b"ID3", _other("audio", "an MP3 audio file")),
    (b"SQLite format 3\x00", _other("database", "an SQLite database")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _other("office", "an old-style Office document")),
]

# ISO base media files ('ftyp' box): HEIF stills, AVIF, and the video containers that share the box.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_GENERIC_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO = _other("video", "a video (MP4/QuickTime)")


def _ftyp(head: bytes) -> FileKind | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(max(size, 16), len(head)) - 3, 4)}
    if major in _AVIF_BRANDS or (major in _GENERIC_HEIF_BRANDS and brands & _AVIF_BRANDS and not brands & _HEIF_BRANDS):
        return AVIF
    if brands & _HEIF_BRANDS or major in _GENERIC_HEIF_BRANDS:
        return HEIF
    if major == b"crx ":
        return _other("raw", "a camera raw photo (Canon CR3)", "a camera raw photo (Canon CR3): export it as JPEG or PNG")
    if major in (b"M4A ", b"M4B "):
        return _other("audio", "an AAC audio file")
    return _VIDEO


def _riff(head: bytes) -> FileKind | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WEBP":
        return WEBP
    if form == b"AVI ":
        return _other("video", "a video (AVI)")
    if form == b"WAVE":
        return _other("audio", "a WAV audio file")
    return _other("riff", "a RIFF media file")


def _zip(head: bytes) -> FileKind | None:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    if head[30:38] == b"mimetype":
        mimetype = head[38:120]
        if b"opendocument" in mimetype:
            return _other("office", "an OpenDocument file")
        if b"epub" in mimetype:
            return _other("ebook", "an EPUB e-book")
    if b"[Content_Types].xml" in head or b"docProps/" in head:
        for marker, label in ((b"word/", "a Word document"), (b"xl/", "an Excel workbook"),
                              (b"ppt/", "a PowerPoint presentation")):
            if marker in head:
                return _other("office", label)
        return _other("office", "an Office document")
    return _other("zip", "a ZIP archive")


def _bmp(head: bytes) -> bool:
    # "BM" alone starts plenty of text; a real BMP has a DIB header of a known size at offset 14.
    return head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in (
        12, 16, 40, 52, 56, 64, 108, 124)


def _pnm(head: bytes) -> bool:
    return len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n#"


def _ico(head: bytes) -> bool:
    # Reserved 0, type 1 (icon) or 2 (cursor), at least one image, and a zero reserved byte per entry.
    return len(head) >= 22 and head[:2] == b"\x00\x00" and head[2:4] in (b"\x01\x00", b"\x02\x00") \
        and int.from_bytes(head[4:6], "little") > 0 and head[9] == 0


def _text_kind(head: bytes) -> FileKind | None:
    """Text (UTF-8, or UTF-16 with its byte-order mark), with markup named: SVG, XML, HTML."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return TEXT
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Cut inside a multi-byte character at the end of the sample: still text.
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return None
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return _other("svg", "an SVG drawing", "an SVG drawing (vector images are not supported)")
    if start.startswith(("<!doctype html", "<html")):
        return _other("html", "a web page (HTML)")
    if start.startswith("<?xml"):
        return _other("xml", "an XML file")
    return TEXT


def sniff(head: bytes) -> FileKind:
    """The kind of a file from its first bytes (``HEAD_BYTES`` of them are enough)."""
    if not head:
        return EMPTY
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    for check in (_ftyp, _riff, _zip):
        kind = check(head)
        if kind is not None:
            return kind
    if b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        return PDF
    if _bmp(head):
        return BMP
    if _pnm(head):
        return PNM
    if _ico(head):
        return ICO
    if len(head) > 262 and head[257:262] == b"ustar":
        return _other("archive", "a tar archive")
    return _text_kind(head) or UNKNOWN


def read_head(path: str | os.PathLike, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (OSError as the OS gives it)."""
    with open(path, "rb") as handle:
        return handle.read(size)


def sniff_file(path: str | os.PathLike) -> FileKind:
    """The kind of the file at ``path`` (OSError when it cannot be read)."""
    return sniff(read_head(path))


# --- HEIC/HEIF ------------------------------------------------------------------------------------

# Both register the same opener with Pillow. pi-heif is the decode-only build (the `heif` extra);
# pillow-heif, its full sibling with an encoder, is used when that is what a user has.
_HEIF_MODULES = ("pi_heif", "pillow_heif")
_heif_registered = False


def register_heif() -> str | None:
    """Teach Pillow to open HEIC/HEIF, once; None when it can, or the install hint when it cannot."""
    global _heif_registered
    if _heif_registered:
        return None
    for name in _HEIF_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        except Exception:  # a broken binary wheel (missing shared library): try the other, then hint
            continue
        module.register_heif_opener()
        _heif_registered = True
        return None
    return HEIF_HINT


def pillow_reads_avif() -> bool:
    """Pillow 11.3+ wheels read AVIF themselves; older ones need the HEIF plug-in (pillow-heif)."""
    try:
        from PIL import features

        return bool(features.check("avif"))
    except Exception:  # an old Pillow that does not know the feature name
        return False


def prepare_decoder(kind: FileKind) -> str | None:
    """Make Pillow ready to decode ``kind``; None when it is, or a one-line reason it cannot be."""
    if kind is HEIF:
        return register_heif()
    if kind is AVIF and not pillow_reads_avif():
        register_heif()  # pillow-heif reads AVIF too (pi-heif does not); if neither can, opening says so
    return None
