"""What a reading looks like in pictures: annotated copies, the live frame with its status strip,
and the debug sheet of model inputs.

Pure drawing (OpenCV, no window), shared by ``--out``, ``--debug``, the window, ``--record`` and
snapshots.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.pipeline.results import Box, Reading

# Annotated images.
BOX_COLOUR = (40, 170, 40)  # BGR green
UNCERTAIN_COLOUR = (0, 140, 255)  # orange
TEXT_COLOUR = (255, 255, 255)
# Labels scale with the digit (its height over this many pixels), between these bounds, so they stay
# legible on small frames and large scans alike.
LABEL_HEIGHT_PX = 60
LABEL_SCALE = (0.5, 2.0)

def annotate(image: np.ndarray, reading: Reading) -> np.ndarray:
    """A BGR copy of the image with each digit boxed and labelled with its value and confidence."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    placed: list[tuple[int, int, int, int]] = []  # label rectangles drawn so far
    for d in reading.digits:
        scale = min(LABEL_SCALE[1], max(LABEL_SCALE[0], d.box.h / LABEL_HEIGHT_PX))
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


# The live frame's status strip.
STRIP_COLOUR = (30, 30, 30)  # BGR
STRIP_ALPHA = 0.65  # the frame shows through the strip a little
NUMBERS_COLOUR = (120, 255, 120)
STATUS_COLOUR = (255, 255, 255)
ROI_COLOUR = (255, 170, 0)  # light blue
FONT = cv2.FONT_HERSHEY_SIMPLEX


def render(frame: np.ndarray, reading: Reading, *, fps: float | None = None, roi: Box | None = None,
           paused: bool = False) -> np.ndarray:
    """A BGR copy of the frame with the digits boxed, the numbers read and the frames per second on top."""
    canvas = annotate(frame, reading)
    if roi is not None:
        cv2.rectangle(canvas, (roi.x, roi.y), (roi.x2 - 1, roi.y2 - 1), ROI_COLOUR, 1)
    height, width = canvas.shape[:2]
    scale = max(0.4, min(1.0, width / 900))
    strip = int(30 * scale) + 6
    top = canvas[:strip]
    cv2.addWeighted(top, 1 - STRIP_ALPHA, np.full_like(top, STRIP_COLOUR), STRIP_ALPHA, 0, dst=top)
    status = []
    if fps is not None:
        status.append(f"{fps:4.1f} FPS")
    if paused:
        status.append("PAUSED")
    status_text = "  ".join(status)
    (status_w, _), _ = cv2.getTextSize(status_text, FONT, 0.6 * scale, 1)
    baseline = strip - int(9 * scale) - 2
    numbers = " | ".join(line.text for line in reading.lines) or "-"
    cv2.putText(canvas, numbers, (6, baseline), FONT, 0.8 * scale, NUMBERS_COLOUR, max(1, int(2 * scale)),
                cv2.LINE_AA)
    if status_text:
        cv2.putText(canvas, status_text, (max(6, width - status_w - 8), baseline), FONT, 0.6 * scale,
                    STATUS_COLOUR, 1, cv2.LINE_AA)
    return canvas
