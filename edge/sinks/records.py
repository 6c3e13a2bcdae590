"""What a reading looks like to people and programs: text lines, JSON records, CSV rows, pictures."""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np

from edge.pipeline.results import Reading

CSV_HEADER = ["source", "line", "number", "digit", "confidence", "x", "y", "w", "h", "error"]

# Drawing style for annotated images.
BOX_COLOUR = (40, 170, 40)  # BGR green
UNCERTAIN_COLOUR = (0, 140, 255)  # orange
TEXT_COLOUR = (255, 255, 255)


def text_line(source: str, reading: Reading) -> str:
    """``path: 12 345 6`` — the numbers in reading order."""
    numbers = " ".join(reading.numbers)
    return f"{source}: {numbers}" if numbers else f"{source}:"


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


def csv_rows(source: str, reading: Reading) -> list[list[Any]]:
    """One row per digit; an image without digits still gets a row, so every input is accounted for."""
    rows: list[list[Any]] = []
    for line_index, line in enumerate(reading.lines):
        for number in line.numbers:
            text = "".join(d.char for d in number)
            for d in number:
                rows.append([source, line_index, text, d.char, f"{d.confidence:.4f}", *d.box.as_list(), ""])
    return rows or [[source, "", "", "", "", "", "", "", "", ""]]


def csv_error_row(source: str, message: str) -> list[Any]:
    return [source, "", "", "", "", "", "", "", "", message]


def safe_filename(name: str, default: str = "image") -> str:
    """A file name derived from an input name that cannot escape its folder or hide itself."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return cleaned[:150] or default


def annotate(image: np.ndarray, reading: Reading) -> np.ndarray:
    """A BGR copy of the image with each digit boxed and labelled with its value and confidence."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    placed: list[tuple[int, int, int, int]] = []  # label rectangles drawn so far
    for d in reading.digits:
        # Labels scale with the digit, so they stay legible on small frames and large scans alike.
        scale = min(2.0, max(0.5, d.box.h / 60))
        thickness = max(1, int(round(2 * scale)))
        colour = UNCERTAIN_COLOUR if d.uncertain else BOX_COLOUR
        b = d.box
        cv2.rectangle(canvas, (b.x, b.y), (b.x2, b.y2), colour, thickness)
        label = f"{d.char} {d.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness)
        height = th + base + 2
        top = max(0, b.y - height)
        if any(x0 < b.x + tw + 2 and b.x < x1 and y0 < top + height and top < y1 for x0, y0, x1, y1 in placed):
            top = min(canvas.shape[0] - height, b.y2)  # a narrow neighbour's label is above: go below
        placed.append((b.x, top, b.x + tw + 2, top + height))
        cv2.rectangle(canvas, (b.x, top), (b.x + tw + 2, top + height), colour, -1)
        cv2.putText(canvas, label, (b.x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    TEXT_COLOUR, thickness, cv2.LINE_AA)
    return canvas


def crops_sheet(crops: list[np.ndarray], labels: list[str], columns: int = 16, zoom: int = 3) -> np.ndarray:
    """The 28x28 model inputs side by side, zoomed, each captioned with what it was read as."""
    if not crops:
        return np.zeros((32, 32, 3), np.uint8)
    h, w = crops[0].shape
    cell_h, cell_w = h * zoom + 14, w * zoom + 4
    rows = (len(crops) + columns - 1) // columns
    sheet = np.full((rows * cell_h, min(columns, len(crops)) * cell_w, 3), 40, np.uint8)
    for i, (crop, label) in enumerate(zip(crops, labels)):
        r, c = divmod(i, columns)
        y, x = r * cell_h, c * cell_w + 2
        big = cv2.resize(crop, (w * zoom, h * zoom), interpolation=cv2.INTER_NEAREST)
        sheet[y : y + h * zoom, x : x + w * zoom] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
        cv2.putText(sheet, label, (x, y + h * zoom + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1,
                    cv2.LINE_AA)
    return sheet
