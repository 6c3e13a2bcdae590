"""Live mode on real video files made here: MNIST test digits on a moving, noisy page, read through the
real command line, source, recogniser and stabiliser; plus the stabiliser on its own."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sources import capture
from edge.apps.driver import clip_roi
from edge.apps.live import display_available, parse_roi
from edge.apps.recognize import main
from edge.pipeline.results import Box, Digit
from edge.pipeline.stabilize import StabilizeOptions, Stabilizer, TrackerState, estimate_shift, stable_digits, step
from helpers import app_env

from conftest import ROOT

NUMBERS = ["31415", "926"]  # top line, bottom line
FRAMES = 30
SIZE = (640, 480)
FPS = 30.0


# --- a generated video ---------------------------------------------------------------------------

def _page(bank, rng: np.random.Generator) -> np.ndarray:
    """An 800x600 page (larger than the frame, so the view can wander) with the NUMBERS handwritten."""
    ink = np.zeros((600, 800), np.float32)
    for number, (x, y, h) in zip(NUMBERS, [(200, 220, 64), (240, 340, 56)]):
        for char in number:
            glyph = bank.sample(int(char), rng)
            glyph = cv2.resize(glyph, (max(1, round(glyph.shape[1] * h / glyph.shape[0])), h))
            region = ink[y : y + h, x : x + glyph.shape[1]]
            np.maximum(region, glyph / 255.0, out=region)
            x += glyph.shape[1] + h // 6
    paper, pen = np.array([235, 240, 243], np.float32), np.array([50, 35, 30], np.float32)
    return paper * (1 - ink[..., None]) + pen * ink[..., None]


def frames_of_moving_page(bank, n: int = FRAMES, seed: int = 5) -> list[np.ndarray]:
    """The page seen by a hand-held camera: a slow sway, a few pixels of shake, sensor noise."""
    rng = np.random.default_rng(seed)
    page = _page(bank, rng)
    frames = []
    for k in range(n):
        dx = int(80 + 30 * np.sin(2 * np.pi * k / 40) + rng.integers(-4, 5))
        dy = int(60 + 15 * np.cos(2 * np.pi * k / 50) + rng.integers(-4, 5))
        view = page[dy : dy + SIZE[1], dx : dx + SIZE[0]] + rng.normal(0, 6, (SIZE[1], SIZE[0], 3))
        frames.append(np.clip(view, 0, 255).astype(np.uint8))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), "MJPG/AVI writing must work in opencv-python-headless"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def page_frames(digit_bank) -> list[np.ndarray]:
    return frames_of_moving_page(digit_bank)


@pytest.fixture(scope="module")
def video(tmp_path_factory, page_frames) -> Path:
    return write_video(tmp_path_factory.mktemp("live") / "moving-page.avi", page_frames)


def run_cli(*argv: str) -> tuple[int, list[dict]]:
    """The real command line in this process; stdout parsed as JSON Lines."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def headless_json(video):
    return run_cli("--video", str(video), "--json", "--headless")


# --- the video through the command line -----------------------------------------------------------

def test_headless_json_reads_the_digits_in_most_frames(headless_json, video):
    code, records = headless_json
    assert code == 0
    assert len(records) == FRAMES  # one object per frame, so that other programs can follow
    right = [r for r in records if r["numbers"] == NUMBERS]
    assert len(right) >= 0.85 * FRAMES
    # A digit must persist before it is reported: nothing in the first frame, all of them by the third.
    assert records[0]["numbers"] == []
    assert all(r["numbers"] == NUMBERS for r in records[2:]), [r["numbers"] for r in records]
    for record in records:
        assert record["source"] == str(video)
        assert (record["width"], record["height"]) == SIZE
        assert set(record) >= {"frame", "t", "digits", "numbers", "text", "ms"}
        for d in record["digits"]:
            x, y, w, h = d["box"]
            assert 0 <= x and 0 <= y and x + w <= SIZE[0] and y + h <= SIZE[1]


def test_frame_numbers_and_timestamps_are_monotonic(headless_json):
    _, records = headless_json
    assert [r["frame"] for r in records] == list(range(FRAMES))
    times = [r["t"] for r in records]
    assert times[0] == 0.0
    assert all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] == pytest.approx((FRAMES - 1) / FPS, abs=0.002)


def test_boxes_follow_the_page_without_jitter(headless_json, digit_bank):
    """The page sways by ~7 px a frame: boxes move with it, and their sizes stay steady."""
    _, records = headless_json
    first_digit = [r["digits"][0]["box"] for r in records[2:]]
    xs = [b[0] for b in first_digit]
    assert max(xs) - min(xs) > 20  # the boxes did follow the moving page
    widths = [b[2] for b in first_digit]
    assert max(widths) - min(widths) <= 6


def test_every_nth_frame(video):
    code, records = run_cli("--video", str(video), "--json", "--headless", "--every", "3")
    assert code == 0
    assert [r["frame"] for r in records] == list(range(0, FRAMES, 3))
    assert sum(r["numbers"] == NUMBERS for r in records) >= len(records) - 3


def test_changes_only_writes_frames_whose_reading_changed(video):
    code, records = run_cli("--video", str(video), "--json", "--headless", "--changes-only", "--every", "2")
    assert code == 0
    assert 2 <= len(records) < FRAMES // 4
    texts = [r["text"] for r in records]
    assert all(a != b for a, b in zip(texts, texts[1:]))
    assert texts[-1] == "\n".join(NUMBERS)


def test_text_output_prints_the_reading_when_it_changes(video, capsys):
    assert main(["--video", str(video), "--headless", "--every", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and len(lines) <= 3
    assert lines[-1].startswith(f"{video} frame ") and lines[-1].endswith(": 31415 926")


def test_region_of_interest_limits_recognition(video):
    # The top line sits near y=150..215 in every frame, the bottom line near y=280..340.
    code, records = run_cli("--video", str(video), "--json", "--headless", "--roi", "0,100,640,150", "--every", "2")
    assert code == 0
    assert sum(r["numbers"] == NUMBERS[:1] for r in records) >= 0.8 * len(records)
    for r in records:
        for d in r["digits"]:
            x, y, w, h = d["box"]
            assert y >= 100 and y + h <= 250  # frame coordinates, inside the region


def test_record_writes_the_annotated_stream(video, tmp_path):
    out = tmp_path / "annotated.avi"
    code, records = run_cli("--video", str(video), "--json", "--headless", "--record", str(out))
    assert code == 0 and len(records) == FRAMES
    recorded = cv2.VideoCapture(str(out))
    assert recorded.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES
    frames = []
    while True:
        ok, frame = recorded.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == FRAMES and frames[-1].shape == (SIZE[1], SIZE[0], 3)
    # The boxes are drawn in green where the digits were reported (the source has no green at all).
    x, y, w, h = records[-1]["digits"][0]["box"]
    def green(image):
        b, g, r = (image[max(0, y - 4) : y + h + 4, max(0, x - 4) : x + w + 4, c].astype(int) for c in range(3))
        return int(((g > r + 60) & (g > b + 60)).sum())
    assert green(frames[-1]) >= 2 * (w + h)
    source = cv2.VideoCapture(str(video))
    source.set(cv2.CAP_PROP_POS_FRAMES, FRAMES - 1)
    assert green(source.read()[1]) == 0


# --- failures: one clear line, the right exit status ---------------------------------------------

@pytest.mark.slow
def test_truncated_video_is_a_clear_error_with_status_1(video, tmp_path):
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    result = subprocess.run([sys.executable, str(ROOT / "edge" / "recognize.py"), "--video", str(truncated),
                             "--json", "--headless"], env=app_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        rf"digits-recognize: {re.escape(str(truncated))}: ends after \d+ of {FRAMES} frames \(truncated or damaged\)",
        lines[0]), result.stderr
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert 3 <= len(records) < FRAMES  # the frames before the damage were still read and written
    assert records[-1]["error"].endswith("(truncated or damaged)")


def test_video_with_a_damaged_stretch_is_read_past_it(page_frames, tmp_path):
    """Six frames' worth of bytes zeroed a third of the way into an MP4: OpenCV fails on those frames
    and decodes on after them. The reader stopped after three failed frames in a row, losing the
    rest of the file; now it skips the damaged stretch, reads to the end and says what it skipped."""
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write MPEG-4 part 2")
    for frame in page_frames:
        writer.write(frame)
    writer.release()
    data = bytearray(path.read_bytes())
    per_frame = len(data) // FRAMES
    start = len(data) // 3
    data[start : start + 6 * per_frame] = bytes(6 * per_frame)
    path.write_bytes(bytes(data))
    capture = cv2.VideoCapture(str(path))
    decoded = [capture.read()[0] for _ in range(FRAMES)]
    capture.release()
    if all(decoded):
        pytest.skip("this OpenCV's decoder hides the damage (every frame decodes)")
    code, records = run_cli("--video", str(path), "--json", "--headless")
    assert code == 1
    read = [r["frame"] for r in records if "error" not in r]
    assert read[-1] == FRAMES - 1 and FRAMES - 10 <= len(read) < FRAMES, read
    assert re.fullmatch(rf"{re.escape(str(path))}: \d+ of {FRAMES} frames could not be decoded \(damaged\) and "
                        "were skipped; the others were read", records[-1]["error"]), records[-1]


@pytest.mark.parametrize("content, message", [(b"\x00garbage" * 500, "not a video OpenCV can decode"),
                                              (None, "no such file")])
def test_unreadable_video_is_a_clear_error(tmp_path, caplog, content, message):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    code, records = run_cli("--video", str(path), "--json", "--headless")
    assert code == 1
    assert records == [{"source": str(path), "error": f"{path}: {message}"}]
    assert f"{path}: {message}" in caplog.text


def test_missing_camera_is_a_clear_error(caplog):
    index = 57
    if Path(f"/dev/video{index}").exists() or not sys.platform.startswith("linux"):
        pytest.skip("needs a Linux machine without /dev/video57")
    code, _ = run_cli("--camera", str(index), "--headless")
    assert code == 1
    assert f"camera:{index}: no such camera (/dev/video{index} does not exist)" in caplog.text


def test_picamera_without_picamera2_says_how_to_install_it(caplog, monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as on a machine without it
    code, _ = run_cli("--camera", "picamera", "--headless")
    assert code == 1
    assert "Picamera2 is not installed (sudo apt install python3-picamera2" in caplog.text


@pytest.mark.parametrize("roi", ["1,2,3", "a,b,c,d", "0,0,0,10", "-1,0,10,10"])
def test_malformed_roi_is_a_usage_error(video, roi, caplog):
    code, records = run_cli("--video", str(video), "--json", "--headless", f"--roi={roi}")
    assert code == 2 and records == []
    assert "--roi" in caplog.text


def test_roi_outside_the_frame_is_a_usage_error(video, caplog):
    code, _ = run_cli("--video", str(video), "--json", "--headless", "--roi", "700,0,50,50")
    assert code == 2
    assert "lies outside the 640x480 frame" in caplog.text


def test_record_needs_a_known_video_extension(video, tmp_path, caplog):
    code, _ = run_cli("--video", str(video), "--headless", "--record", str(tmp_path / "out.gif"))
    assert code == 2 and "--record" in caplog.text


# --- no window on the headless path ---------------------------------------------------------------

@pytest.mark.slow
def test_headless_path_never_imports_the_window(video):
    """A fresh interpreter without a display runs live mode without loading the window module."""
    script = textwrap.dedent(f"""
        import sys
        from edge.apps.recognize import main
        code = main(["--video", {str(video)!r}, "--json", "--every", "5"])  # no --headless: no display
        print("window imported" if "edge.sinks.window" in sys.modules else "no window", file=sys.stderr)
        sys.exit(code)
    """)
    env = app_env()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["frame"] for line in result.stdout.splitlines()] == list(range(0, FRAMES, 5))
    assert result.stderr.strip().splitlines()[-1] == "no window"


def test_opencv_without_gui_falls_back_to_headless(video, monkeypatch, caplog):
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI; the fallback is for opencv-python-headless")
    monkeypatch.setenv("DISPLAY", ":99")
    code, records = run_cli("--video", str(video), "--json", "--every", "10")
    assert code == 0 and [r["frame"] for r in records] == [0, 10, 20]
    warnings = [r.getMessage() for r in caplog.records if "no window" in r.getMessage()]
    assert warnings == ["no window (this OpenCV build has no GUI support): running headless; "
                        "opencv-python instead of opencv-python-headless gives one"]


# --- cameras, with a stand-in for the Picamera2 library -------------------------------------------

class FakePicamera2:
    """Picamera2's calls as capture.py uses them, serving the generated frames at 30 FPS.

    ``gaps`` are frame numbers where a read fails (a dropped frame); after ``last`` frames the camera
    goes silent (every read fails), as an unplugged one does.
    """

    frames: list[np.ndarray] = []
    gaps: set[int] = set()
    last = 10**9
    events: list[str] = []

    @staticmethod
    def global_camera_info():
        return [{"Model": "fake", "Num": 0}]

    def __init__(self, number=0):
        self.reads = 0
        self.events.append(f"open {number}")

    def create_video_configuration(self, main, controls):
        return {"main": main, "controls": controls}

    def configure(self, config):
        assert config["main"]["format"] == "RGB888"
        self.events.append(f"configure {config['main']['size']}")

    def start(self):
        self.events.append("start")

    def capture_array(self, name="main"):
        time.sleep(1 / 30)
        self.reads += 1
        if self.reads in self.gaps or self.reads > self.last:
            return None
        return self.frames[self.reads % len(self.frames)].copy()

    def stop(self):
        self.events.append("stop")

    def close(self):
        self.events.append("close")


def test_camera_recovers_from_dropped_frames_and_reports_a_stall(page_frames, monkeypatch, caplog):
    fake = type("FakeModule", (), {"Picamera2": FakePicamera2})
    FakePicamera2.frames, FakePicamera2.gaps, FakePicamera2.last, FakePicamera2.events = page_frames, {8, 9, 10}, 25, []
    monkeypatch.setitem(sys.modules, "picamera2", fake)
    monkeypatch.setattr(capture.LatestFrameSource, "stall_seconds", 0.4)
    code, records = run_cli("--camera", "picamera", "--json", "--headless")
    assert code == 1
    assert "picamera:0: stopped delivering frames (none for 0.4 s; unplugged?)" in caplog.text
    frames = [r["frame"] for r in records if "error" not in r]
    assert frames == sorted(set(frames)) and frames[-1] >= 15  # read on after the dropped frames
    times = [r["t"] for r in records if "error" not in r]
    assert all(b > a for a, b in zip(times, times[1:]))
    assert sum(r.get("numbers") == NUMBERS for r in records) >= len(records) - 4
    assert records[-1]["error"].startswith("picamera:0: stopped delivering frames")
    assert FakePicamera2.events[:3] == ["open 0", "configure (640, 480)", "start"]
    assert FakePicamera2.events[-2:] == ["stop", "close"]  # the camera was released


FAKE_MODULE = textwrap.dedent('''
    """A Picamera2 stand-in for a subprocess: serves frames from an .npy file forever at 30 FPS."""
    import os, time
    import numpy as np

    _frames = np.load(os.environ["FAKE_FRAMES"])
    _log = os.environ["FAKE_LOG"]

    def _note(event):
        with open(_log, "a") as f:
            f.write(event + "\\n")

    class Picamera2:
        @staticmethod
        def global_camera_info():
            return [{"Num": 0}]
        def __init__(self, number=0):
            self.reads = 0
        def create_video_configuration(self, main, controls):
            return {"main": main}
        def configure(self, config):
            pass
        def start(self):
            _note("start")
        def capture_array(self, name="main"):
            time.sleep(1 / 30)
            self.reads += 1
            return _frames[self.reads % len(_frames)].copy()
        def stop(self):
            _note("stop")
        def close(self):
            _note("close")
''')


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_releases_the_camera(page_frames, tmp_path):
    (tmp_path / "picamera2.py").write_text(FAKE_MODULE)
    np.save(tmp_path / "frames.npy", np.stack(page_frames[:8]))
    log = tmp_path / "camera.log"
    env = app_env(FAKE_FRAMES=str(tmp_path / "frames.npy"), FAKE_LOG=str(log))
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env["PYTHONPATH"]
    process = subprocess.Popen([sys.executable, str(ROOT / "edge" / "recognize.py"), "--camera", "picamera",
                                "--json", "--headless"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        first = process.stdout.readline()  # flushed per frame, so it arrives while the camera runs
        assert json.loads(first)["source"] == "picamera:0"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGINT, err  # the same rule as for a batch of images
    assert "Traceback" not in err
    for line in out.splitlines():  # every line that was written is whole
        json.loads(line)
    assert log.read_text().split() == ["start", "stop", "close"]


# --- small pure parts -----------------------------------------------------------------------------

def test_parse_roi_and_clip():
    assert parse_roi("10,20,300,200") == Box(10, 20, 300, 200)
    assert parse_roi(" 0, 0, 5, 5") == Box(0, 0, 5, 5)
    with pytest.raises(ValueError):
        parse_roi("10,20,300")
    assert clip_roi(Box(600, 400, 100, 100), 640, 480) == Box(600, 400, 40, 80)
    assert clip_roi(Box(640, 0, 10, 10), 640, 480) is None


def test_display_detection():
    assert not display_available({}, "linux")
    assert display_available({"DISPLAY": ":0"}, "linux")
    assert display_available({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert display_available({}, "win32")


def test_parse_camera():
    assert capture.parse_camera("0") == capture.CameraSpec("opencv", 0)
    assert capture.parse_camera("picamera") == capture.CameraSpec("picamera", 0)
    assert capture.parse_camera("picamera:1") == capture.CameraSpec("picamera", 1)
    assert capture.parse_camera("/dev/video2") == capture.CameraSpec("opencv", "/dev/video2")
    with pytest.raises(ValueError):
        capture.parse_camera("webcam")


def test_recording_keeps_real_time_when_the_loop_is_slower_than_the_camera(tmp_path):
    from edge.sinks.video import Recorder

    recorder = Recorder(tmp_path / "slow.avi", fps=30)
    image = np.full((48, 64, 3), 128, np.uint8)
    for t in (0.0, 0.1, 0.2):  # 10 processed frames per second, recorded at 30
        recorder.write(image, t)
    assert recorder.written == 7  # each frame repeated for as long as it was shown
    recorder.write(image, 5.0)  # after a long pause: at most a second of a frozen frame
    recorder.close()
    assert cv2.VideoCapture(str(tmp_path / "slow.avi")).get(cv2.CAP_PROP_FRAME_COUNT) == 7 + 30


# --- the stabiliser on its own --------------------------------------------------------------------

def line_of_digits(values: str, x: int = 100, y: int = 100, h: int = 60, confidence: float = 0.95) -> list[Digit]:
    """Digits side by side, 40 px wide with 12 px gaps (centres 52 px apart, closer than a digit height)."""
    return [Digit(int(v), confidence, Box(x + i * 52, y, 40, h)) for i, v in enumerate(values)]


def moved(digits: list[Digit], dx: int, dy: int) -> list[Digit]:
    return [Digit(d.digit, d.confidence, Box(d.box.x + dx, d.box.y + dy, d.box.w, d.box.h)) for d in digits]


def test_a_digit_is_reported_once_it_persists():
    stabilizer = Stabilizer(StabilizeOptions(min_frames=3))
    digits = line_of_digits("12")
    assert stabilizer.update(digits) == []
    assert stabilizer.update(digits) == []
    reported = stabilizer.update(digits)
    assert [d.digit for d in reported] == [1, 2]
    assert [d.box for d in reported] == [d.box for d in digits]


def test_a_speck_seen_once_is_never_reported():
    stabilizer = Stabilizer(StabilizeOptions(min_frames=2))
    frames = [line_of_digits("7")] * 5
    frames[2] = frames[2] + [Digit(1, 0.6, Box(400, 300, 10, 30))]
    outputs = [stabilizer.update(f) for f in frames]
    assert all(len(o) <= 1 for o in outputs) and [d.digit for d in outputs[-1]] == [7]


def test_a_missed_frame_holds_the_digit_then_it_goes():
    options = StabilizeOptions(min_frames=2, hold_frames=2)
    stabilizer = Stabilizer(options)
    digits = line_of_digits("45")
    stabilizer.update(digits)
    assert len(stabilizer.update(digits)) == 2
    assert len(stabilizer.update(digits[:1])) == 2  # '5' not found in one frame: still shown
    assert len(stabilizer.update(digits[:1])) == 2
    assert [d.digit for d in stabilizer.update(digits[:1])] == [4]  # gone after hold_frames


def test_one_misread_frame_does_not_flip_a_digit():
    stabilizer = Stabilizer(StabilizeOptions(min_frames=1))
    for _ in range(4):
        stabilizer.update(line_of_digits("3"))
    misread = [Digit(8, 0.97, line_of_digits("3")[0].box)]
    assert [d.digit for d in stabilizer.update(misread)] == [3]
    # ... but a digit that really changed (it was corrected on paper) changes within a few frames.
    outputs = [stabilizer.update(misread)[0].digit for _ in range(3)]
    assert outputs[-1] == 8


def test_boxes_are_smoothed_against_segmentation_jitter():
    rng = np.random.default_rng(0)
    stabilizer = Stabilizer(StabilizeOptions(min_frames=1, box_smoothing=0.4))
    raw_x, shown_x = [], []
    for _ in range(60):
        jitter = [Digit(5, 0.9, Box(200 + int(rng.integers(-4, 5)), 100, 40, 60))]
        raw_x.append(jitter[0].box.x)
        shown_x.append(stabilizer.update(jitter)[0].box.x)
    assert np.std(shown_x[10:]) < 0.7 * np.std(raw_x[10:])


def test_tracks_survive_camera_shake_larger_than_the_digit_spacing_allows():
    """The line jumps by up to 30 px in x and y from one frame to the next, more than half the 52 px
    between digits: without the page-shift estimate, tracks would break or swap with their neighbours."""
    rng = np.random.default_rng(1)
    options = StabilizeOptions(min_frames=2)
    state = TrackerState()
    base = line_of_digits("2718")
    for _ in range(40):
        dx, dy = (int(v) for v in rng.integers(-15, 16, 2))
        state = step(state, moved(base, dx, dy), options)
        shown = stable_digits(state, options)
        if shown:
            assert [d.digit for d in sorted(shown, key=lambda d: d.box.x)] == [2, 7, 1, 8]
            assert [d.box.x for d in sorted(shown, key=lambda d: d.box.x)] == [b.box.x for b in moved(base, dx, dy)]
    assert state.next_id == 4  # the same four tracks all along


def test_estimate_shift_finds_the_page_motion_despite_newcomers():
    previous = [(100.0 + 52 * i, 100.0, 40.0, 60.0) for i in range(5)]
    current = [(x + 23, y - 11, w, h) for x, y, w, h in previous[1:]] + [(500.0, 300.0, 40.0, 60.0)]
    assert estimate_shift(previous, current) == pytest.approx((23.0, -11.0))
    assert estimate_shift([], current) == (0.0, 0.0)


# --- a frame whose reading fails costs that frame, not the stream ---------------------------------

def test_tilted_form_video_is_read_to_the_end(tmp_path):
    from PIL import Image

    form = Image.open(ROOT / "edge" / "examples" / "form-scan.png").convert("RGB")
    frames = []
    for k in range(6):
        tilted = form.rotate(3 + 0.2 * k, expand=True, fillcolor="white").resize(SIZE)
        frames.append(np.ascontiguousarray(np.asarray(tilted)[..., ::-1]))
    code, records = run_cli("--video", str(write_video(tmp_path / "tilt.avi", frames)), "--json", "--headless")
    assert code == 0
    assert len(records) == len(frames) and not any("error" in r for r in records)


def test_an_exception_in_one_frame_skips_that_frame_only(video, monkeypatch, caplog):
    from edge.pipeline.recognizer import Recognizer

    real_detect = Recognizer.detect
    calls = {"n": 0}

    def flaky(self, image, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] in (4, 9):
            raise KeyError(245)
        return real_detect(self, image, *args, **kwargs)

    monkeypatch.setattr(Recognizer, "detect", flaky)
    code, records = run_cli("--video", str(video), "--json", "--headless")
    assert code == 1  # something was not read, as for a batch with a bad image
    errors = [r for r in records if "error" in r]
    assert [r["frame"] for r in errors] == [3, 8]
    assert errors[0]["error"] == "internal error while reading (KeyError: 245)"
    assert len(records) == FRAMES
    # Logged once however often it happens, then counted.
    assert caplog.text.count("KeyError: 245") == 1
    assert "2 frame(s) skipped after an internal error" in caplog.text
