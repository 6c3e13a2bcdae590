"""Pictures of streams: the annotated recording (``--record``, and ``--out`` for videos and cameras)
and the window's snapshots."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from edge.sources.capture import Frame

# Codecs that OpenCV's bundled FFmpeg can write, by file extension (H.264 encoders are often missing).
RECORD_CODECS = {".avi": "MJPG", ".mkv": "MJPG", ".mp4": "mp4v", ".mov": "mp4v"}


class Recorder:
    """The annotated stream to a video file, at the source's frame rate and in real time: when the
    loop is slower than the camera, a frame is repeated for as long as it was on screen."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps if fps and fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.written = 0

    def write(self, image: np.ndarray, t: float) -> None:
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*RECORD_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, size)
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: cannot write this video file")
            self._size = size
        if size != self._size:
            image = cv2.resize(image, self._size)
        due = round(t * self.fps) + 1 - self.written  # frames the video should hold by time t
        for _ in range(max(1 if self.written == 0 else 0, min(due, int(self.fps)))):
            self._writer.write(image)
            self.written += 1
        if due > self.fps:  # a long pause: skip ahead instead of freezing the video for its length
            self.written += due - int(self.fps)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def save_snapshot(folder: Path, frame: Frame, annotated: np.ndarray) -> Path:
    """The raw and the annotated frame as PNGs; returns the annotated one's path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-frame{frame.index}"
    for path, image in ((Path(f"{stem}.png"), annotated), (Path(f"{stem}-raw.png"), frame.image)):
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write {path}")
    return Path(f"{stem}.png")
