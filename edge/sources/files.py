"""Expand command-line sources (files, folders, globs) into a stream of inputs, lazily.

Folders are walked one at a time, so a folder of a million scans costs a directory listing of
names, never their pixels. Unreadable folders and symlink loops become error entries, not crashes.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

IMAGE_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .jpe .bmp .dib .tif .tiff .gif .webp .pbm .pgm .ppm .pnm .jp2 .ico".split()
)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Source:
    """One input: a path to read, or an error found while listing (``path`` is then None)."""

    name: str  # printable name used in every output
    path: Path | None = None
    error: str | None = None


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


def _walk(folder: Path, recursive: bool, seen: set[tuple[int, int]]) -> Iterator[Source]:
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
                yield from _walk(path, recursive, seen)
        elif is_image_name(name):
            yield Source(display_name(path), path=path)


def expand_sources(arguments: Iterable[str], recursive: bool = False) -> Iterator[Source]:
    """Images named by the arguments, in a stable order: as given, folders and globs sorted.

    A file named explicitly is read whatever its extension; inside folders only image extensions are.
    """
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            yield from _walk(path, recursive, set())
        elif os.path.lexists(path):
            yield Source(display_name(path), path=path)
        elif _GLOB_CHARS & set(argument):
            matches = sorted(glob.iglob(argument, recursive=recursive))
            if not matches:
                yield Source(display_name(argument), error="no files match this pattern")
            for match in matches:
                if os.path.isdir(match):
                    if recursive:
                        yield from _walk(Path(match), recursive, set())
                elif is_image_name(match):
                    yield Source(display_name(match), path=Path(match))
        else:
            yield Source(display_name(argument), error="no such file or folder")
