"""What a live frame looks like on screen and in recordings: the annotated frame plus a status strip.

Pure drawing (OpenCV, no window), shared by the window, ``--record`` and snapshots.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.sinks.records import annotate
from edge.pipeline.results import Box, Reading

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
