"""What a reading looks like to people and programs: text lines, JSON records, CSV rows (pure).

Where in its input a record comes from is named the same way everywhere: ``source``, plus ``page``
(1-based) for the pages of PDFs and multi-page files, or ``frame`` (index) and ``t`` (seconds) for
video and camera frames.
"""

from __future__ import annotations

import re
from typing import Any

from edge.pipeline.results import Reading

CSV_HEADER = ["source", "page", "frame", "line", "number", "digit", "confidence", "x", "y", "w", "h", "error"]


def label(source: str, page: int | None = None, frame: int | None = None, t: float | None = None) -> str:
    """How a record is named in text: ``scan.png``, ``doc.pdf page 2``, ``clip.mp4 frame 12 at 0.41s``."""
    if page is not None:
        return f"{source} page {page}"
    if frame is not None:
        return f"{source} frame {frame} at {t or 0.0:.2f}s"
    return source


def text_line(name: str, reading: Reading) -> str:
    """``path: 12 345 6`` — the numbers in reading order (``name`` as ``label`` makes it)."""
    numbers = " ".join(reading.numbers)
    return f"{name}: {numbers}" if numbers else f"{name}:"


def json_record(source: str, reading: Reading, ms: float, **extra: Any) -> dict[str, Any]:
    """The JSON Lines contract: one object per image."""
    record: dict[str, Any] = {"source": source}
    record.update(extra)
    record.update(
        {
            "width": reading.width,
            "height": reading.height,
            "digits": [
                {
                    "digit": d.digit,
                    "confidence": round(d.confidence, 4),
                    "box": d.box.as_list(),
                    "line": d.line,
                    **({"uncertain": True} if d.uncertain else {}),
                }
                for d in reading.digits
            ],
            "numbers": reading.numbers,
            "text": reading.text,
            "ms": round(ms, 2),
        }
    )
    if reading.notes:
        record["notes"] = list(reading.notes)
    return record


def error_record(source: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, **extra, "error": message}


def _where(page: int | None, frame: int | None) -> list[Any]:
    return ["" if page is None else page, "" if frame is None else frame]


def csv_rows(source: str, reading: Reading, page: int | None = None, frame: int | None = None) -> list[list[Any]]:
    """One row per digit; an image without digits still gets a row, so every input is accounted for."""
    rows: list[list[Any]] = []
    where = _where(page, frame)
    for line_index, line in enumerate(reading.lines):
        for number in line.numbers:
            text = "".join(d.char for d in number)
            for d in number:
                rows.append([source, *where, line_index, text, d.char, f"{d.confidence:.4f}", *d.box.as_list(), ""])
    return rows or [[source, *where] + [""] * (len(CSV_HEADER) - 3)]


def csv_error_row(source: str, message: str, page: int | None = None, frame: int | None = None) -> list[Any]:
    return [source, *_where(page, frame)] + [""] * (len(CSV_HEADER) - 4) + [message]


def safe_filename(name: str, default: str = "image") -> str:
    """A file name derived from an input name that cannot escape its folder or hide itself."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return cleaned[:150] or default
