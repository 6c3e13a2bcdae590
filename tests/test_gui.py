"""The draw-a-digit app: its logic without a display, then the real window on a virtual X display.

The window test starts Xvfb, runs ``python -m edge.apps.draw`` on it, draws with the mouse through
xdotool (XTest events, as a person's mouse would send), and reads what the window shows from the
app's ``--report-to`` file, which holds the text of its result widgets. It skips only where Xvfb or
xdotool is not installed; CI (.ci/run) installs both.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sources.images import load_image
from edge.pipeline.normalize import stroke_width, to_model_input
from edge.apps.sketch import Recognition, Sketch, View, pen_width, recognise
from helpers import app_env

from conftest import ROOT

CANVAS = (640, 320)
SCREENSHOT = ROOT / "edge" / "examples" / "screenshots" / "draw-app.png"


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int) -> list[tuple[float, float]]:
    return [(cx + rx * math.cos(math.radians(start + (stop - start) * i / n)),
             cy + ry * math.sin(math.radians(start + (stop - start) * i / n))) for i in range(n + 1)]


# Digits as a person draws them: strokes of points in a unit box (x right, y down). Each reads
# with confidence above 0.9 at any size from 80 to 230 canvas pixels tall (checked below).
STROKES = {
    "0": [_arc(0.5, 0.5, 0.45, 0.5, -90, 270, 20)],
    "1": [[(0.5, 0.0), (0.5, 1.0)]],
    "2": [_arc(0.5, 0.28, 0.42, 0.28, 200, 400, 10) + [(0.0, 1.0), (1.0, 1.0)]],
    "3": [_arc(0.45, 0.26, 0.42, 0.26, 210, 450, 10) + _arc(0.45, 0.74, 0.47, 0.26, -90, 150, 10)],
    "5": [[(0.9, 0.0), (0.15, 0.0), (0.1, 0.45)] + _arc(0.45, 0.7, 0.45, 0.3, -120, 150, 10)],
    "7": [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]],
}


def placed(digit: str, x: float, y: float, w: float, h: float) -> list[list[tuple[float, float]]]:
    """A digit's strokes in canvas pixels, in the box (x, y, w, h)."""
    return [[(x + px * w, y + py * h) for px, py in stroke] for stroke in STROKES[digit]]


def drawn(text: str, pen: int, height: float = 190, top: float = 60, left: float = 40, pitch: float = 150) -> Sketch:
    sketch = Sketch(*CANVAS)
    for i, digit in enumerate(text):
        for stroke in placed(digit, left + pitch * i, top, 0.55 * height, height):
            sketch.stroke(stroke, pen)
    return sketch


@pytest.fixture(scope="module")
def pen(classifier) -> int:
    spec = classifier.metadata.input
    return pen_width(spec.stroke_width, spec.digit_box, CANVAS[1])


@pytest.fixture(scope="module")
def sketch_recognizer(classifier):
    from edge.pipeline.recognizer import RecognizeOptions, Recognizer
    from edge.pipeline.segment import SegmentOptions

    return Recognizer(classifier, RecognizeOptions(segment=SegmentOptions(polarity="dark-on-light")))


# ---- logic, no display ---------------------------------------------------------------------------

def test_pen_width_gives_the_training_stroke_width(classifier, pen):
    """A digit drawn at the assumed size reaches the model with the stroke width it was trained on."""
    spec = classifier.metadata.input
    assert pen == round(spec.stroke_width * 0.6 * CANVAS[1] / spec.digit_box)
    assert pen_width(None, 20, 320) == round(2.4 * 0.6 * 320 / 20)  # metadata without a measured width
    sketch = drawn("7", pen, height=0.6 * CANVAS[1])
    ink = 255 - sketch.image()[..., 0]
    model_input = to_model_input(ink, box=spec.digit_box, target_stroke=None)  # no correction
    assert stroke_width(model_input >= 128) == pytest.approx(spec.stroke_width, rel=0.25)


def test_strokes_render_into_the_image_antialiased_and_round(pen):
    sketch = Sketch(*CANVAS)
    assert sketch.empty and (sketch.image() == 255).all()
    sketch.stroke([(100, 100), (300, 100)], pen)
    grey = sketch.image()[..., 0]
    column = grey[:, 200]
    assert (column < 128).sum() == pytest.approx(pen, abs=1)  # the line is as wide as the pen
    assert ((column > 0) & (column < 255)).any()  # anti-aliased edge
    assert grey[100, 100 - pen // 2 + 2] < 128  # round cap reaches back over the first point
    assert grey[100, 100 - pen] == 255
    assert sketch.strokes == 1 and not sketch.empty

    dot = Sketch(*CANVAS)
    dot.stroke([(50, 60)], pen)  # a click without moving leaves a dot
    assert (dot.image()[..., 0] < 128).sum() == pytest.approx(math.pi * (pen / 2) ** 2, rel=0.15)


def test_drawing_point_by_point_equals_a_whole_stroke(pen):
    points = STROKES["3"][0]
    whole, live = Sketch(*CANVAS), Sketch(*CANVAS)
    whole.stroke([(100 + 150 * x, 40 + 200 * y) for x, y in points], pen)
    live.begin((100 + 150 * points[0][0], 40 + 200 * points[0][1]), pen)
    for x, y in points[1:]:
        live.extend((100 + 150 * x, 40 + 200 * y))
    live.end()
    assert np.array_equal(whole.image(), live.image())


def test_undo_and_clear(pen):
    sketch = Sketch(*CANVAS)
    sketch.stroke([(100, 50), (100, 250)], pen)
    one = sketch.image()
    sketch.stroke([(300, 50), (400, 250)], pen)
    assert sketch.undo()
    assert np.array_equal(sketch.image(), one) and sketch.strokes == 1
    sketch.clear()
    assert sketch.empty and (sketch.image() == 255).all() and not sketch.undo()


@pytest.mark.parametrize("digit", sorted(STROKES))
@pytest.mark.parametrize("height", [80, 190, 230])
def test_drawn_digits_are_read(sketch_recognizer, pen, digit, height):
    page, view = drawn(digit, pen, height=height, top=(CANVAS[1] - height) / 2).page()
    result = recognise(sketch_recognizer, page)
    assert result.text == digit
    assert result.confidence > 0.9
    assert result.probabilities.shape == (1, 10)
    assert int(result.probabilities[0].argmax()) == int(digit)
    # The ten digits' probabilities (a "not a digit" output, when the model has one, is not shown).
    assert 0.9 < result.probabilities[0].sum() <= 1.02  # int8 outputs come in steps of 1/256
    assert result.confidence_text() == f"confidence {100 * result.confidence:.1f}%"
    assert result.summary().startswith(f"Read {digit} (1 digit) in ")


def test_digits_side_by_side_are_read_as_a_number_with_boxes(sketch_recognizer, pen):
    sketch = drawn("2057", pen)
    page, view = sketch.page()
    result = recognise(sketch_recognizer, page)
    assert result.text == "2057"
    assert [d.digit for d in result.digits] == [2, 0, 5, 7]
    assert [int(p.argmax()) for p in result.probabilities] == [2, 0, 5, 7]
    for i, digit in enumerate(result.digits):
        x0, y0, x1, y1 = view.box(digit.box)
        # Each box (mapped back to the canvas) holds the digit drawn in cell i, and only it.
        left, right = 40 + 150 * i, 40 + 150 * i + 0.55 * 190
        assert left - pen <= x0 <= left and right <= x1 <= right + pen
        assert 60 - pen <= y0 <= 60 and 250 <= y1 <= 250 + pen
    assert result.confidence == min(d.confidence for d in result.digits)
    assert result.confidence_text().startswith("4 digits, lowest confidence ")


def test_a_bold_number_filling_the_canvas_is_read(sketch_recognizer, classifier):
    """A thick pen and digits as tall as the canvas still read (the page margin's purpose)."""
    sketch = drawn("307", 34, height=290, top=15, left=30, pitch=200)
    result = recognise(sketch_recognizer, sketch.page()[0])
    assert result.text == "307"


def test_blank_canvas_reads_nothing():
    empty = Recognition()
    assert empty.text == "" and empty.confidence == 0.0 and empty.confidence_text() == ""
    assert empty.summary().startswith("No digit found")


def test_nothing_drawn_reads_nothing(sketch_recognizer):
    result = recognise(sketch_recognizer, Sketch(*CANVAS).page()[0])
    assert result.digits == () and result.text == "" and result.probabilities.shape == (0, 10)


def test_saved_png_holds_the_drawing_and_reads_the_same(tmp_path, recognizer, sketch_recognizer, pen):
    sketch = drawn("71", pen)
    path = sketch.save(tmp_path / "drawing.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_image(path).pixels
    assert np.array_equal(loaded, sketch.image())
    assert recognise(recognizer, loaded).text == "71"  # image mode reads the saved file too


def test_opened_image_is_fitted_and_boxes_map_back(recognizer):
    scan = np.full((1000, 3000), 255, np.uint8)
    cv2.putText(scan, "42", (1200, 700), cv2.FONT_HERSHEY_SIMPLEX, 14, 0, 40, cv2.LINE_AA)
    sketch = Sketch(*CANVAS)
    view = sketch.set_background(scan)
    assert sketch.has_background and not sketch.empty and sketch.strokes == 0
    assert view.scale == pytest.approx(640 / 3000, rel=0.01)
    result = recognise(recognizer, scan)
    assert result.text == "42"
    canvas_grey = sketch.image()[..., 0]
    for digit in result.digits:
        x0, y0, x1, y1 = (int(round(v)) for v in view.box(digit.box))
        assert (canvas_grey[y0:y1, x0:x1] < 100).any()  # the mapped box covers the shown ink
    assert View().box(result.digits[0].box) == tuple(float(v) for v in (
        result.digits[0].box.x, result.digits[0].box.y, result.digits[0].box.x2, result.digits[0].box.y2))


@pytest.mark.slow
def test_no_display_is_one_clear_line(tmp_path):
    env = app_env()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run([sys.executable, "-m", "edge.apps.draw"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "digits-draw: no display: set DISPLAY or run under Xvfb (xvfb-run digits-draw)"


@pytest.mark.slow
def test_bad_model_is_one_clear_line(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model")
    result = subprocess.run([sys.executable, "-m", "edge.apps.draw", "--model", str(broken)], env=app_env(),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"digits-draw: error: {tmp_path / 'broken.'}")


# ---- a real window on a virtual X display --------------------------------------------------------

@pytest.fixture(scope="module")
def display():
    """A fresh Xvfb server; Xvfb itself picks a free display number and reports it once it is ready."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: apt install xvfb xdotool)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 20)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=10)[1].decode(errors='replace')[-500:]}")
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


class RunningApp:
    """``python -m edge.apps.draw`` on the virtual display, driven with xdotool, observed via --report-to."""

    def __init__(self, display: str, workdir: Path, *args: str) -> None:
        self.display = display
        self.report_file = workdir / "shown.json"
        self.env = app_env(DISPLAY=display)
        self.process = subprocess.Popen([sys.executable, "-m", "edge.apps.draw", "--report-to", str(self.report_file), *args],
                                        env=self.env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.window = self.wait_for_window("Draw a digit")
        self.state = self.wait_for(lambda s: s["widgets"]["canvas"][2] > 1, "the window to be mapped")

    def wait_for_window(self, title: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the app exited ({self.process.returncode}): {self.process.stderr.read()[-2000:]}")
            found = subprocess.run(["xdotool", "search", "--name", title], env=self.env, capture_output=True,
                                   text=True, timeout=10).stdout.split()
            if found:
                return found[0]
            time.sleep(0.1)
        pytest.fail(f"no window titled {title!r} appeared in {timeout} s")

    def xdotool(self, *args: str, timeout: float = 15) -> str:
        result = subprocess.run(["xdotool", *map(str, args)], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"xdotool {args[:3]}: {result.stderr.strip()}"
        return result.stdout

    def shown(self) -> dict | None:
        try:
            return json.loads(self.report_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_for(self, condition, what: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the app exited ({self.process.returncode}): {self.process.stderr.read()[-2000:]}")
            state = self.shown()
            if state is not None and condition(state):
                return state
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; the window shows {state}")

    def screen(self, widget: str, x: float, y: float) -> tuple[int, int]:
        left, top, _, _ = self.state["widgets"][widget]
        return int(round(left + x)), int(round(top + y))

    def draw(self, strokes) -> None:
        """Press, move through the points and release, as a hand on a mouse does.

        Moves come every 12 pixels or so, like a real mouse's, so that a corner is never lost if
        the app is busy and Tk merges the motion events queued meanwhile.
        """
        for stroke in strokes:
            args = ["mousemove", *self.screen("canvas", *stroke[0]), "mousedown", 1]
            for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / 12))
                for k in range(1, steps + 1):
                    point = (x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
                    args += ["sleep", "0.005", "mousemove", *self.screen("canvas", *point)]
                # Rest on each corner: on a loaded machine Tk merges queued motion events, and a
                # merged corner would be drawn as a short cut (a 7 without its bar reads as 1).
                args += ["sleep", "0.03"]
            args += ["sleep", "0.01", "mouseup", 1]
            self.xdotool(*args)

    def click(self, widget: str) -> None:
        _, _, w, h = self.state["widgets"][widget]
        self.xdotool("mousemove", *self.screen(widget, w / 2, h / 2), "click", 1)

    def key(self, name: str) -> None:
        self.xdotool("mousemove", *self.screen("canvas", 5, 5), "key", name)  # keys go to the window under the pointer

    def screenshot(self, path: Path) -> np.ndarray:
        """A real X screenshot of the window (its frame, menus and widgets as drawn by the server)."""
        from PIL import ImageGrab

        geometry = dict(line.split("=", 1) for line in self.xdotool("getwindowgeometry", "--shell", self.window).split())
        x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        image = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=self.display)
        image.convert("RGB").save(path, optimize=True)
        return np.asarray(image.convert("RGB"))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.communicate()


@pytest.fixture
def app(display, tmp_path):
    running = RunningApp(display, tmp_path, "--no-auto")
    yield running
    running.close()


@pytest.mark.slow
def test_drawing_in_the_real_window(app, tmp_path, pen):
    """Draw with the mouse, press Recognise, read the result widget; clear; Enter; auto-read a number."""
    assert app.state["result"] == "" and app.state["auto"] is False
    app.draw(placed("7", 250, 60, 105, 190))
    state = app.wait_for(lambda s: s["strokes"] == 1, "the stroke")
    assert state["result"] == ""  # auto-recognition is off: nothing read until asked

    app.click("recognise")
    state = app.wait_for(lambda s: s["result"] != "", "a result after pressing Recognise")
    assert state["result"] == "7"
    assert state["confidence"].startswith("confidence ")
    assert float(state["confidence"].split()[1].rstrip("%")) > 90
    assert int(np.argmax(state["bars"])) == 7 and max(state["bars"]) > 0.9
    assert state["boxes"] == 1
    assert state["status"].startswith("Read 7 (1 digit)")

    app.key("Escape")
    state = app.wait_for(lambda s: s["strokes"] == 0, "Escape to clear")
    assert state["result"] == "" and state["boxes"] == 0 and max(state["bars"]) == 0

    app.draw(placed("1", 300, 50, 100, 200))
    app.wait_for(lambda s: s["strokes"] == 1, "the stroke")
    app.key("Return")
    assert app.wait_for(lambda s: s["result"] != "", "Enter to recognise")["result"] == "1"

    app.key("Delete")
    app.wait_for(lambda s: s["strokes"] == 0 and s["result"] == "", "Delete to clear")
    app.click("auto")
    app.wait_for(lambda s: s["auto"] is True, "the auto-recognise box to be ticked")
    number = "2057"
    for i, digit in enumerate(number):
        app.draw(placed(digit, 40 + 150 * i, 60, 105, 190))
        state = app.wait_for(lambda s: s["strokes"] == i + 1 and s["result"] != number[:i],
                             f"{number[: i + 1]} to be read as the pen lifts")
        assert state["result"] == number[: i + 1]
    assert state["boxes"] == 4
    assert state["confidence"].startswith("4 digits, lowest confidence ")
    assert int(np.argmax(state["bars"])) == 2  # the chart shows the first digit's probabilities

    shot = app.screenshot(tmp_path / "draw-app.png")
    left, top, width, height = app.state["widgets"]["canvas"]
    assert shot.shape[1] >= width and shot.shape[0] >= height
    canvas = shot[top + 2 : top + height - 2, left + 2 : left + width - 2]
    assert (canvas < 60).all(axis=2).mean() > 0.03  # the strokes are on the screen
    assert (canvas > 240).all(axis=2).mean() > 0.5  # on white paper
    if os.environ.get("UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "draw-app.png", SCREENSHOT)


@pytest.mark.slow
def test_window_opens_an_image_given_on_the_command_line(display, tmp_path, pen):
    drawing = drawn("35", pen).save(tmp_path / "35.png")
    running = RunningApp(display, tmp_path, str(drawing))
    try:
        state = running.wait_for(lambda s: s["result"] != "", "the opened image to be read")
        assert state["result"] == "35" and state["boxes"] == 2 and state["title"].startswith("35.png - ")
    finally:
        running.close()


@pytest.fixture
def window(display, recognizer, tmp_path):
    """The app's window in this process, for the paths that go through file dialogs."""
    tk = pytest.importorskip("tkinter")
    from edge.apps.draw import DrawApp

    root = tk.Tk(screenName=display)
    app = DrawApp(root, recognizer, auto=False, report_to=tmp_path / "shown.json")
    root.update()
    yield app
    root.destroy()


@pytest.mark.slow
def test_bad_files_are_reported_in_one_line(window, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    assert not window.open_path(broken)
    status = window.status.cget("text")
    assert status.startswith("Cannot open broken.png: ") and "\n" not in status
    assert not window.open_path(tmp_path / "missing.png")
    assert window.status.cget("text").startswith("Cannot open missing.png: ")
    assert not window.save_path(tmp_path / "no-such-folder" / "x.png")
    assert window.status.cget("text").startswith("Cannot save ")


@pytest.mark.slow
def test_save_writes_the_drawing(window, tmp_path, pen):
    for stroke in placed("7", 250, 60, 105, 190):
        window.sketch.stroke(stroke, window.pen)
    assert window.save_path(tmp_path / "mine.jpg")  # always PNG, so the name follows
    saved = tmp_path / "mine.png"
    assert np.array_equal(load_image(saved).pixels, window.sketch.image())
    assert window.status.cget("text") == f"Saved {saved}"
    window.recognise()
    assert window.result_label.cget("text") == "7"
    assert json.loads((tmp_path / "shown.json").read_text())["result"] == "7"


def _drag(window, stroke) -> None:
    """Mouse events through Tk's own event queue: press, motion with the button held, release."""
    canvas = window.canvas
    canvas.event_generate("<ButtonPress-1>", x=int(stroke[0][0]), y=int(stroke[0][1]))
    for x, y in stroke[1:]:
        canvas.event_generate("<B1-Motion>", x=int(x), y=int(y))
    canvas.event_generate("<ButtonRelease-1>", x=int(stroke[-1][0]), y=int(stroke[-1][1]))


@pytest.mark.slow
def test_undo_and_choosing_whose_probabilities_to_show(window):
    for i, digit in enumerate("71"):
        for stroke in placed(digit, 60 + 150 * i, 60, 105, 190):
            _drag(window, stroke)
    window.recognise()
    assert window.result_label.cget("text") == "71"
    assert window.chart_caption.cget("text") == "Probabilities, digit 1 of 2 (Left/Right)"
    shown = json.loads(window.report_to.read_text())
    assert int(np.argmax(shown["bars"])) == 7 and shown["boxes"] == 2

    window.root.event_generate("<Right>")
    assert window.chart_caption.cget("text") == "Probabilities, digit 2 of 2 (Left/Right)"
    assert int(np.argmax(json.loads(window.report_to.read_text())["bars"])) == 1

    window.undo()  # the 1 goes, and the drawing reads 7 again
    assert window.sketch.strokes == 1 and window.canvas.find_withtag("stroke1") == ()
    window.recognise()
    assert window.result_label.cget("text") == "7"
    assert not (window.sketch.image()[:, 200:] < 128).any()
