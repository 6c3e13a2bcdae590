"""Every input as a stream of frames, behind one interface.

An image file is a stream of one frame, a PDF or a multi-page TIFF a stream of its pages, a video
file or a camera a stream of its frames. The driver reads them all the same way: ``read()`` gives
the next ``Frame`` or None at the end, and a failure raises ``SourceError`` with one line naming the
input. A page that cannot be read arrives as a frame with an ``error`` and no image: the pages
around it are still read.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from edge.sources import formats
from edge.sources.capture import CaptureError, Frame, FrameSource, open_camera, open_video, parse_camera
from edge.sources.files import Source, display_name, iter_inputs
from edge.sources.images import ImageError, PageError, PageOptions, read_pages

STDIN = "-"
# Video files are read as streams when named explicitly (never picked up from folders of scans).
VIDEO_EXTENSIONS = frozenset(".mp4 .m4v .avi .mkv .mov .webm .mpg .mpeg .wmv .flv .ts .mts .3gp".split())
KINDS = ("document", "video", "camera")


class SourceError(RuntimeError):
    """The input cannot be read (any more); the message says why, in one line."""


@dataclass(frozen=True)
class Input:
    """One thing to read, as listed from the command line (nothing is opened yet)."""

    name: str  # printable name used in every output
    kind: str  # "document" (image, PDF, TIFF; from a path or stdin), "video" or "camera"
    path: Path | None = None  # documents and videos; None for stdin and cameras
    data: bytes | None = None  # a document's bytes when they come from elsewhere (stdin read, object storage)
    camera: str | None = None  # the --camera argument
    error: str | None = None  # found broken while listing: reported, never opened
    skipped: str | None = None  # found in a folder but not an image or PDF: counted, never opened


def list_inputs(arguments: list[str] | tuple[str, ...], recursive: bool = False, camera: str | None = None,
                videos: tuple[Path, ...] = ()) -> Iterator[Input]:
    """The inputs the command line names, lazily, in order: arguments (``-`` is standard input;
    files with a video extension are videos), then ``--video`` files, then the camera."""
    for argument in arguments:
        if argument == STDIN:
            yield Input(STDIN, "document")
        elif Path(argument).suffix.lower() in VIDEO_EXTENSIONS and os.path.isfile(argument):  # False on any OSError
            yield Input(display_name(argument), "video", path=Path(argument))
        else:
            yield from (_from_source(s) for s in iter_inputs([argument], recursive))
    for video in videos:
        yield Input(display_name(video), "video", path=Path(video))
    if camera is not None:
        yield Input(parse_camera(camera).name, "camera", camera=camera)


def _from_source(source: Source) -> Input:
    return Input(source.name, "document", path=source.path, error=source.error, skipped=source.skipped)


class Stream:
    """A source of frames; use as a context manager so that devices are released."""

    name: str = ""
    kind: str = "document"
    live: bool = False  # a camera: frames are dropped when the reader is slower than the device
    fps: float = 0.0  # nominal frame rate, 0 when unknown (or not a video)

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DocumentStream(Stream):
    """The pages of an image or PDF file (or of standard input's bytes), one at a time."""

    kind = "document"

    def __init__(self, name: str, source: Path | bytes, options: PageOptions) -> None:
        self.name = name
        try:
            self._pages = read_pages(source, options)
        except ImageError as exc:
            raise SourceError(str(exc)) from None
        # Pages are numbered in the records of PDFs and of files that hold several pages.
        self.paged = _is_pdf(source)

    def read(self) -> Frame | None:
        try:
            page = next(self._pages, None)
        except ImageError as exc:
            raise SourceError(str(exc)) from None
        if page is None:
            return None
        self.paged = self.paged or page.pages > 1
        number = page.page if self.paged else None
        if isinstance(page, PageError):
            return Frame(page.page - 1, 0.0, np.zeros((0, 0), np.uint8), page=number, error=page.message)
        return Frame(page.page - 1, 0.0, page.pixels, page=number, notes=tuple(page.notes))

    def close(self) -> None:
        close = getattr(self._pages, "close", None)
        if close is not None:
            close()


def _is_pdf(source: Path | bytes) -> bool:
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[: formats.HEAD_BYTES])
    else:
        try:
            with open(source, "rb") as handle:
                head = handle.read(formats.HEAD_BYTES)
        except OSError:
            return False
    return formats.sniff(head) is formats.PDF


class CaptureStream(Stream):
    """A video file or a camera, read by its own thread (``edge.sources.capture``)."""

    def __init__(self, source: FrameSource, kind: str) -> None:
        self._source = source
        self.name = source.name
        self.kind = kind
        self.live = source.live
        self.fps = source.fps

    @property
    def stats(self):
        return self._source.stats

    @property
    def size(self) -> tuple[int, int] | None:
        return getattr(self._source, "size", None)

    def read(self) -> Frame | None:
        try:
            return self._source.read()
        except CaptureError as exc:
            raise SourceError(str(exc)) from None

    def close(self) -> None:
        self._source.close()


@dataclass(frozen=True)
class OpenOptions:
    pages: PageOptions = PageOptions()
    # Cameras: requested capture size and rate (the device picks its nearest mode).
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    # Video files: decode the pixels of every Nth frame only (others are demuxed and skipped).
    step: int = 1


def open_stream(item: Input, options: OpenOptions = OpenOptions()) -> Stream:
    """Open one input; SourceError with one line when it cannot be."""
    if item.error is not None:
        raise SourceError(item.error)
    if item.kind == "document":
        if item.data is not None:
            return DocumentStream(item.name, item.data, options.pages)
        if item.path is None:  # standard input: the whole file, then decoded like any other
            return DocumentStream(item.name, sys.stdin.buffer.read(), options.pages)
        return DocumentStream(item.name, item.path, options.pages)
    try:
        if item.kind == "video":
            return CaptureStream(open_video(item.path, options.step), "video")
        return CaptureStream(open_camera(parse_camera(item.camera or "0"), options.width, options.height,
                                         options.fps), "camera")
    except CaptureError as exc:
        raise SourceError(str(exc)) from None
