"""Expand command-line sources (files, folders, globs) into a stream of inputs, lazily.

Folders are walked one at a time, so a folder of a million scans costs a directory listing of
names, never their pixels. Unreadable folders and symlink loops become error entries, not crashes.

``iter_inputs`` is the walk for documents: images, PDFs and HEIC photos by extension, files without
an extension by their content, and every other file yielded as *skipped* so that the caller can say
what it left out. ``expand_sources`` is the older walk for images only, which leaves others out.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from edge.sources import formats

IMAGE_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .jpe .bmp .dib .tif .tiff .gif .webp .pbm .pgm .ppm .pnm .jp2 .ico".split()
)
# What ``iter_inputs`` reads from folders: images, PDF documents and phone photos (HEIC/HEIF/AVIF).
INPUT_EXTENSIONS = IMAGE_EXTENSIONS | frozenset(".pdf .heic .heif .hif .avif".split())
_GLOB_CHARS = set("*?[")
# Names shown in the one-line summary of skipped files; the rest are counted.
SUMMARY_NAMES = 3


@dataclass(frozen=True)
class Source:
    """One input: a path to read, or an error found while listing (``path`` is then None).

    ``skipped`` (from ``iter_inputs`` only) marks a file that was found but is not read, with the
    reason: it is not an image or PDF.
    """

    name: str  # printable name used in every output
    path: Path | None = None
    error: str | None = None
    skipped: str | None = None

    @property
    def readable(self) -> bool:
        return self.path is not None and self.error is None and self.skipped is None


# Control characters (newlines, escape sequences) would forge lines or drive the terminal.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def display_name(path: str | os.PathLike) -> str:
    """A printable, one-line form of any path that keeps distinct names distinct.

    Bytes that are not UTF-8 and control characters are written as ``\\xNN`` escapes (instead of
    one replacement character for all, which would make two files the same in every output).
    """
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace").translate(_CONTROL)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_input_name(name: str) -> bool:
    """An image, PDF or HEIC/HEIF name, judged by extension alone."""
    return os.path.splitext(name)[1].lower() in INPUT_EXTENSIONS


def has_no_extension(name: str) -> bool:
    """No extension, or only a number (``scan.0001``): the name says nothing about the content."""
    suffix = os.path.splitext(os.path.basename(name))[1]
    return not suffix or suffix[1:].isdigit()


# A classifier turns a listed file into a Source to yield, or None to leave it out.
Classify = Callable[[Path], "Source | None"]


def _image_by_name(path: Path) -> Source | None:
    return Source(display_name(path), path=path) if is_image_name(path.name) else None


def _input_by_name_or_content(path: Path) -> Source:
    """An input when its extension says image/PDF, or when it has none and its content does."""
    name = display_name(path)
    if is_input_name(path.name):
        return Source(name, path=path)
    suffix = os.path.splitext(path.name)[1].lower()
    if not has_no_extension(path.name):
        return Source(name, path=path, skipped=f"not an image or PDF ({suffix})")
    try:
        if not path.is_file():  # a FIFO would block the read below
            return Source(name, path=path, skipped="not a regular file")
        kind = formats.sniff_file(path)
    except OSError:
        return Source(name, path=path)  # the reader reports why it cannot be opened
    if kind.readable:
        return Source(name, path=path)
    return Source(name, path=path, skipped=kind.label)


def _walk(folder: Path, recursive: bool, seen: set[tuple[int, int]],
          classify: Classify = _image_by_name) -> Iterator[Source]:
    try:
        info = folder.stat()
    except OSError as exc:
        yield Source(display_name(folder), error=f"cannot open folder ({exc.strerror or exc})")
        return
    key = (info.st_dev, info.st_ino)
    if key in seen:
        yield Source(display_name(folder), error="symlink loop: folder already visited")
        return
    seen = seen | {key}
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries)
    except PermissionError:
        yield Source(display_name(folder), error="permission denied")
        return
    except OSError as exc:
        yield Source(display_name(folder), error=f"cannot list folder ({exc.strerror or exc})")
        return
    for name in names:
        path = folder / name
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # a link to itself, a vanished entry: costs this entry only
            yield Source(display_name(path), error=f"cannot open ({exc.strerror or exc})")
            continue
        if is_dir:
            if recursive:
                yield from _walk(path, recursive, seen, classify)
        else:
            source = classify(path)
            if source is not None:
                yield source


def _expand(arguments: Iterable[str], recursive: bool, classify: Classify) -> Iterator[Source]:
    for argument in arguments:
        path = Path(argument)
        if not argument:  # Path("") is the working folder: never read a folder nobody named
            yield Source("''", error="empty path")
            continue
        try:
            is_dir = path.is_dir()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte: costs this argument only
            yield Source(display_name(argument), error=f"cannot open ({getattr(exc, 'strerror', None) or exc})")
            continue
        if is_dir:
            yield from _walk(path, recursive, set(), classify)
        elif os.path.lexists(path):
            yield Source(display_name(path), path=path)
        elif _GLOB_CHARS & set(argument):
            matches = sorted(glob.iglob(argument, recursive=recursive))
            if not matches:
                yield Source(display_name(argument), error="no files match this pattern")
            for match in matches:
                if os.path.isdir(match):
                    if recursive:
                        yield from _walk(Path(match), recursive, set(), classify)
                else:
                    source = classify(Path(match))
                    if source is not None:
                        yield source
        else:
            yield Source(display_name(argument), error="no such file or folder")


def expand_sources(arguments: Iterable[str], recursive: bool = False) -> Iterator[Source]:
    """Images named by the arguments, in a stable order: as given, folders and globs sorted.

    A file named explicitly is read whatever its extension; inside folders only image extensions are.
    """
    return _expand(arguments, recursive, _image_by_name)


def iter_inputs(arguments: Iterable[str], recursive: bool = False) -> Iterator[Source]:
    """Every file the arguments name or hold, in the order of ``expand_sources``, each marked.

    A file named explicitly is read whatever it is (the reader says why when it cannot be). Inside
    folders and globs: images, PDFs and HEIC/HEIF photos by extension; a file with no extension
    (or only a number) by its content; every other file is yielded with ``skipped`` set, for the
    caller's one-line summary (``skipped_summary``). Listing errors are yielded with ``error`` set.
    The argument ``-`` (standard input) is the caller's to handle: it is not a path.
    """
    return _expand(arguments, recursive, _input_by_name_or_content)


def skipped_summary(skipped: Sequence[Source], names: int = SUMMARY_NAMES) -> str | None:
    """One line on the files left out, or None when there are none.

    ``skipped 3 files that are not images or PDFs: notes.txt (a text file), report.docx, scan.mp4``;
    beyond ``names`` files, ``... and 12 more``.
    """
    if not skipped:
        return None
    count = len(skipped)
    shown = []
    for source in skipped[:names]:
        reason = source.skipped or ""
        extension_only = reason.startswith("not an image or PDF")
        shown.append(source.name if extension_only or not reason else f"{source.name} ({reason})")
    more = f" and {count - names} more" if count > names else ""
    what = "file that is not an image or PDF" if count == 1 else "files that are not images or PDFs"
    return f"skipped {count} {what}: {', '.join(shown)}{more}"
