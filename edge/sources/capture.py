"""Frame sources for live mode: webcams (OpenCV), the Pi camera (Picamera2) and video files.

Every source reads its device in a thread of its own, so that decoding or waiting for the camera
overlaps with recognition, and offers the same ``read() -> Frame | None`` to the loop:

- a camera keeps only its newest frame: when recognition is slower than the camera, older frames are
  dropped (and counted) instead of piling up in buffers, so what is read is what the camera sees now;
- a video file is decoded a few frames ahead but nothing is ever dropped, so every run over the same
  file gives the same frames, indices and timestamps.

Failures (no such camera, busy, unreadable or truncated file, a camera that stops delivering) raise
``CaptureError`` with a one-line message naming the source.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

# A camera that delivers nothing for this long has stopped (unplugged, driver hung). The first frame
# gets longer: sensors take a moment to start and settle their exposure.
STALL_SECONDS = 5.0
FIRST_FRAME_SECONDS = 10.0
# Frames a video file is decoded ahead of the recogniser.
PREFETCH = 4
# Frames of a video file that may fail to decode in a row, inside the frame count its header gives,
# before the file is taken to end there: a damaged stretch (zeroed or garbled bytes) costs a few
# frames, after which OpenCV decodes on (at the next key frame; 10 s at 25 frames/s is well past
# any usual key-frame interval). Failed reads are cheap, so trying on costs little.
DAMAGED_RUN_FRAMES = 250
# Picamera2 gives the full sensor by default, far more than digits need; ask for VGA unless told.
PICAMERA_DEFAULT_SIZE = (640, 480)


class CaptureError(RuntimeError):
    """The source cannot be read (any more); the message names it and says why."""


@dataclass(frozen=True)
class Frame:
    """One picture from any source (``edge.sources.streams``): a video or camera frame, or a page."""

    index: int  # position in the source: for cameras, frames captured since opening (gaps are drops)
    t: float  # seconds since the start: the video's own clock for files, capture time for cameras
    image: np.ndarray  # BGR or grey uint8 (empty when ``error`` says why there is none)
    page: int | None = None  # 1-based page of a multi-page document; None for everything else
    notes: tuple[str, ...] = ()  # what the decoder noticed (EXIF rotation, a first frame of many)
    error: str | None = None  # a page that could not be read (one line)


@dataclass
class SourceStats:
    frames: int = 0  # frames captured or decoded
    dropped: int = 0  # camera frames replaced by a newer one before the loop took them
    failed_reads: int = 0  # reads that returned nothing and were retried
    capture_ms: float = 0.0  # time spent inside the device's read (in the source's thread)


@dataclass(frozen=True)
class CameraSpec:
    """What ``--camera`` names: an OpenCV device (index, /dev path or stream URL) or the Pi camera."""

    kind: str  # "opencv" or "picamera"
    device: int | str = 0

    @property
    def name(self) -> str:
        return f"{'picamera' if self.kind == 'picamera' else 'camera'}:{self.device}"


def parse_camera(text: str) -> CameraSpec:
    """``0``, ``/dev/video2``, ``rtsp://...``, ``picamera`` or ``picamera:1``; ValueError otherwise."""
    text = text.strip()
    if text.isdigit():
        return CameraSpec("opencv", int(text))
    lowered = text.lower()
    if lowered in ("picamera", "picamera2", "pi"):
        return CameraSpec("picamera", 0)
    for prefix in ("picamera:", "picamera2:"):
        if lowered.startswith(prefix) and lowered[len(prefix):].isdigit():
            return CameraSpec("picamera", int(lowered[len(prefix):]))
    if text.startswith("/dev/") or "://" in text:
        return CameraSpec("opencv", text)
    raise ValueError(f"expected a camera index (0, 1, ...), 'picamera', a /dev/video path or a stream URL, "
                     f"got {text!r}")


@contextlib.contextmanager
def opencv_logs_silenced() -> Iterator[None]:
    """Hide OpenCV's own warnings while probing devices (we report the failure ourselves, once)."""
    try:
        from cv2.utils import logging as cv_logging  # OpenCV 5

        get_level, set_level = cv_logging.getLogLevel, cv_logging.setLogLevel
    except ImportError:  # OpenCV 4
        get_level, set_level = getattr(cv2, "getLogLevel", None), getattr(cv2, "setLogLevel", None)
    if get_level is None or set_level is None:
        yield
        return
    previous = get_level()
    set_level(0)  # silent
    try:
        yield
    finally:
        set_level(previous)


def quiet_ffmpeg() -> None:
    """Keep FFmpeg's decoder chatter ("overread 8", "error count") off stderr; call before opening.

    OpenCV reads this once, when it first uses FFmpeg in the process; a value the user set wins.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class FrameSource:
    """A source read by a thread of its own. Subclasses open the device in ``__init__`` (so failures
    surface at once, in the caller's thread) and implement ``_grab`` and ``_release``."""

    name: str = "source"
    live: bool = False  # a camera (frames are dropped when the loop is slow), not a file
    fps: float = 0.0  # nominal frame rate, 0 when unknown
    stall_seconds: float = STALL_SECONDS
    first_frame_seconds: float = FIRST_FRAME_SECONDS

    def __init__(self) -> None:
        self.stats = SourceStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._released = False

    # --- implemented by each kind of source -------------------------------------------------------
    def _grab(self) -> np.ndarray | None:
        """The device's next frame, or None when this read failed."""
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------------
    def start(self) -> "FrameSource":
        self._thread = threading.Thread(target=self._guarded_run, name=f"capture {self.name}", daemon=True)
        self._thread.start()
        return self

    def _guarded_run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a driver error must end the stream with a message, not kill it silently
            self._error = self._error or f"{self.name}: capture failed: {exc}"
        finally:
            self._release_once()
            self._finished()

    def _finished(self) -> None:
        """Wake the reader: the thread has ended (end of stream, error or stop)."""

    def _release_once(self) -> None:
        if not self._released:
            self._released = True
            self._release()

    def _timed_grab(self) -> np.ndarray | None:
        start = time.perf_counter()
        image = self._grab()
        self.stats.capture_ms += (time.perf_counter() - start) * 1000
        return image

    def read(self) -> Frame | None:
        """The next frame for the loop; None at the end of the stream; CaptureError when it failed."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading and release the device (the thread owns it, so it lets go between two reads)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.stall_seconds)
            if thread.is_alive():  # a driver stuck inside read(): leave it to die with the process
                return
        self._release_once()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LatestFrameSource(FrameSource):
    """A camera: the thread keeps overwriting one slot, the loop takes the newest frame."""

    live = True

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._done = False
        self._delivered = 0

    def _run(self) -> None:
        start = time.perf_counter()
        last_good = start
        index = 0
        while not self._stop.is_set():
            image = self._timed_grab()
            now = time.perf_counter()
            if image is None:
                self.stats.failed_reads += 1
                limit = self.first_frame_seconds if index == 0 else self.stall_seconds
                if now - last_good > limit:
                    self._error = self._stalled_message(index == 0, limit)
                    return
                time.sleep(0.005)  # a dropped frame: try again, the stream usually recovers
                continue
            last_good = now
            with self._cond:
                if self._slot is not None:
                    self.stats.dropped += 1
                self._slot = Frame(index, now - start, image)
                self.stats.frames += 1
                self._cond.notify()
            index += 1

    def _stalled_message(self, first: bool, seconds: float) -> str:
        if first:
            return (f"{self.name}: opened, but no frame arrived in {seconds:g} s (in use by another program, "
                    "or not a capture device?)")
        return f"{self.name}: stopped delivering frames (none for {seconds:g} s; unplugged?)"

    def _finished(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def read(self) -> Frame | None:
        limit = self.first_frame_seconds if self._delivered == 0 else self.stall_seconds
        deadline = time.monotonic() + limit
        with self._cond:
            while self._slot is None and not self._done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CaptureError(self._stalled_message(self._delivered == 0, limit))
                # Short waits, so that Ctrl+C is handled promptly while a camera is silent.
                self._cond.wait(min(remaining, 0.25))
            frame, self._slot = self._slot, None
        if frame is not None:
            self._delivered += 1
            return frame
        if self._error is not None:
            raise CaptureError(self._error)
        return None  # stopped


class OpenCVCamera(LatestFrameSource):
    """A webcam (or /dev/video path or network stream) through OpenCV's VideoCapture."""

    def __init__(self, device: int | str = 0, width: int | None = None, height: int | None = None,
                 fps: int | None = None) -> None:
        super().__init__()
        self.name = f"camera:{device}"
        if isinstance(device, int) and sys.platform.startswith("linux") and not Path(f"/dev/video{device}").exists():
            raise CaptureError(f"{self.name}: no such camera (/dev/video{device} does not exist)")
        if isinstance(device, str) and device.startswith("/dev/") and not Path(device).exists():
            raise CaptureError(f"{self.name}: no such camera ({device} does not exist)")
        with opencv_logs_silenced():
            capture = cv2.VideoCapture(device)
        if not capture.isOpened():
            capture.release()
            raise CaptureError(f"{self.name}: cannot be opened (in use by another program, or no permission: "
                               "is the user in the 'video' group?)")
        # Ask the driver to keep as few frames as it can: queued frames are old frames.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            capture.set(cv2.CAP_PROP_FPS, fps)
        self._capture = capture
        self.fps = float(capture.get(cv2.CAP_PROP_FPS) or fps or 0.0)
        self.size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _stalled_message(self, first: bool, seconds: float) -> str:
        message = super()._stalled_message(first, seconds)
        if first and _is_raspberry_pi():
            message += "; on Raspberry Pi OS Bookworm the camera module is read with --camera picamera"
        return message

    def _grab(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        return image if ok and image is not None and image.size else None

    def _release(self) -> None:
        self._capture.release()


class Picamera2Camera(LatestFrameSource):
    """The Raspberry Pi camera module through Picamera2 (libcamera), which OpenCV cannot reach on Bookworm."""

    def __init__(self, number: int = 0, width: int | None = None, height: int | None = None,
                 fps: int | None = None) -> None:
        super().__init__()
        self.name = f"picamera:{number}"
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CaptureError(
                f"{self.name}: Picamera2 is not installed (sudo apt install python3-picamera2; "
                "a virtual environment needs --system-site-packages to see it)") from None
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as exc:  # libcamera not running, or no permission
            raise CaptureError(f"{self.name}: cannot list cameras: {exc}") from None
        if number >= len(cameras):
            found = f"{len(cameras)} found" if cameras else "none found; is the ribbon cable seated?"
            raise CaptureError(f"{self.name}: no such Raspberry Pi camera ({found})")
        size = (width or PICAMERA_DEFAULT_SIZE[0], height or PICAMERA_DEFAULT_SIZE[1])
        camera = None
        try:
            camera = Picamera2(number)
            # "RGB888" is libcamera's name for 24-bit pixels stored B, G, R: OpenCV's order as it is.
            config = camera.create_video_configuration(
                main={"size": size, "format": "RGB888"},
                controls={"FrameRate": float(fps)} if fps else {},
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # Picamera2 raises RuntimeError and others when the camera is busy
            if camera is not None:
                with contextlib.suppress(Exception):
                    camera.close()
            raise CaptureError(f"{self.name}: cannot start the camera (in use by another program?): {exc}") from None
        self._camera = camera
        self.fps = float(fps or 30)
        self.size = size

    def _grab(self) -> np.ndarray | None:
        image = self._camera.capture_array("main")
        if image is None or not image.size:
            return None
        return image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image

    def _release(self) -> None:
        with contextlib.suppress(Exception):
            self._camera.stop()
        with contextlib.suppress(Exception):
            self._camera.close()


class VideoFile(FrameSource):
    """A video file, every frame in order (``step`` > 1 decodes only every step-th frame's pixels)."""

    _END = object()

    def __init__(self, path: str | Path, step: int = 1) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(path)
        self.step = max(1, step)
        if not self.path.exists():
            raise CaptureError(f"{self.name}: no such file")
        if not self.path.is_file():
            raise CaptureError(f"{self.name}: not a file")
        with opencv_logs_silenced():
            capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise CaptureError(f"{self.name}: not a video OpenCV can decode")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else 0.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.expected_frames = int(count) if count and count > 0 else 0
        self._queue: queue.Queue = queue.Queue(maxsize=PREFETCH)

    def _grab(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        return image if ok and image is not None and image.size else None

    def _skip(self) -> bool:
        return bool(self._capture.grab())  # demux and decode, but no colour conversion or copy

    def _release(self) -> None:
        self._capture.release()

    def _timestamp(self, index: int) -> float:
        if self.fps:
            return index / self.fps
        return float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        index = 0
        failures = 0
        while not self._stop.is_set():
            wanted = index % self.step == 0
            start = time.perf_counter()
            image = self._grab() if wanted else None
            ok = image is not None if wanted else self._skip()
            self.stats.capture_ms += (time.perf_counter() - start) * 1000
            if not ok:
                # A damaged frame inside the file: skip it and go on, unless the damage runs on too long.
                if self.expected_frames and index < self.expected_frames and failures < DAMAGED_RUN_FRAMES:
                    failures += 1
                    self.stats.failed_reads += 1
                    index += 1
                    continue
                break
            failures = 0
            self.stats.frames += 1
            if wanted and not self._put(Frame(index, self._timestamp(index), image)):
                return
            index += 1
        self._error = self._end_error(index, failures)

    def _end_error(self, index: int, trailing: int) -> str | None:
        """Why the file ended early or was read with holes, or None when it was read whole;
        ``trailing``: the frames that failed in a row at the end."""
        if self._stop.is_set():
            return None
        if self.stats.frames == 0:
            return f"{self.name}: no frame could be decoded (damaged, or a codec OpenCV lacks)"
        # Headers that estimate the count (from duration x rate) can be a frame or two off.
        decoded = index - self.stats.failed_reads
        slack = max(2, self.expected_frames // 100)
        if self.expected_frames and decoded + slack < self.expected_frames:
            if index + slack >= self.expected_frames and trailing <= slack:  # read to its end, with holes
                return (f"{self.name}: {self.stats.failed_reads} of {self.expected_frames} frames could not be "
                        "decoded (damaged) and were skipped; the others were read")
            return (f"{self.name}: ends after {decoded} of {self.expected_frames} frames "
                    "(truncated or damaged)")
        return None

    def _finished(self) -> None:
        self._put(self._END)

    def read(self) -> Frame | None:
        while True:
            try:
                item = self._queue.get(timeout=0.25)  # short waits keep Ctrl+C prompt
                break
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    if self._queue.empty():
                        item = self._END
                        break
        if item is self._END:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(self._END)  # later reads see the end too
            if self._error is not None:
                raise CaptureError(self._error)
            return None
        return item

    def close(self) -> None:
        self._stop.set()
        # Unblock a decoder thread waiting to hand over a frame.
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        super().close()


def _is_raspberry_pi() -> bool:
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="ignore").lower()
    except OSError:
        return False


def open_camera(spec: CameraSpec, width: int | None = None, height: int | None = None,
                fps: int | None = None) -> FrameSource:
    """Open and start a camera; CaptureError when it is absent, busy or unusable."""
    if spec.kind == "picamera":
        return Picamera2Camera(int(spec.device), width, height, fps).start()
    return OpenCVCamera(spec.device, width, height, fps).start()


def open_video(path: str | Path, step: int = 1) -> VideoFile:
    """Open and start a video file; CaptureError when it is missing or not decodable."""
    source = VideoFile(path, step)
    source.start()
    return source
