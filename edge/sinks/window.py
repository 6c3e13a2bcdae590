"""The live-mode window (OpenCV HighGUI) and its keys.

Imported only when a window is wanted and a display exists: opencv-python-headless, the package the
edge side installs, has no HighGUI at all, and the headless path must never depend on it.
"""

from __future__ import annotations

import contextlib

import cv2
import numpy as np

TITLE = "digits-recognize"
# Keys and what they do.
KEYS = {ord("q"): "quit", 27: "quit", ord("s"): "snapshot", ord(" "): "pause", ord("p"): "pause"}
HELP = "q quit, s snapshot, space pause (images: any other key shows the next)"


class WindowUnavailable(RuntimeError):
    """This OpenCV build or session cannot show windows."""


def _reason(exc: cv2.error) -> str:
    """One short line from OpenCV's multi-line error."""
    text = str(exc)
    if "not implemented" in text:  # opencv-python-headless: built without any GUI backend
        return "this OpenCV build has no GUI support"
    return text.split("error:", 1)[-1].strip().splitlines()[0][:200] if text.strip() else "unknown error"


class Window:
    def __init__(self, title: str = TITLE) -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as exc:
            raise WindowUnavailable(_reason(exc)) from None
        self._sized = False

    def show(self, image: np.ndarray, wait_ms: int = 1) -> str | None:
        """Show a frame and poll the keyboard (as ``poll``)."""
        if not self._sized:
            cv2.resizeWindow(self.title, image.shape[1], image.shape[0])
            self._sized = True
        cv2.imshow(self.title, image)
        return self.poll(wait_ms)

    def poll(self, wait_ms: int = 1) -> str | None:
        """'quit', 'snapshot', 'pause', 'next' (any other key) or None."""
        key = cv2.waitKey(max(1, wait_ms))
        if key != -1:
            return KEYS.get(key & 0xFF, "next")
        # Closing the window with the mouse quits too.
        with contextlib.suppress(cv2.error):
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
                return "quit"
        return None

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
