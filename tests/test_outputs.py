"""The outputs on their own: records (JSON, text, CSV), the sinks that write them, the result log
that ``--resume`` reads back, and output file names; then the real command line on a short video
(CSV rows per frame, debug images per frame) and the flags that cannot apply to an input.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge.apps.recognize
from edge.apps.recognize import main
from edge.pipeline.layout import arrange
from edge.pipeline.results import Box, Detections, Digit, Reading
from edge.sinks.images import output_stem
from edge.sinks.outputs import RecordSinks
from edge.sinks.records import CSV_HEADER, csv_error_row, csv_rows, error_record, json_record, label, text_line
from edge.sinks.result import Result
from edge.sinks.resultlog import finished, finished_csv, repair_tail
from helpers import app_env
from test_stages import draw_text

RECOGNIZE = Path(edge.apps.recognize.__file__)


def reading(width: int = 400, height: int = 200, notes: tuple[str, ...] = ()) -> Reading:
    """``12 7`` on the first line (the 7 uncertain), ``45`` on the second."""
    digits = [Digit(1, 0.91234, Box(10, 10, 20, 40)), Digit(2, 0.8, Box(35, 10, 20, 40)),
              Digit(7, 0.3, Box(120, 12, 20, 40), uncertain=True),
              Digit(4, 0.99, Box(10, 100, 22, 40)), Digit(5, 0.97, Box(36, 100, 22, 40))]
    # The classifier's confidences as they are (context=None): these tests are about the records.
    return arrange(Detections(width=width, height=height, digits=digits[::-1], notes=list(notes)), context=None)


def empty_reading() -> Reading:
    return Reading(width=64, height=48)


# --- records ---------------------------------------------------------------------------------------

def test_json_record_is_the_documented_contract():
    record = json_record("scan.png", reading(notes=("a note",)), 12.3456, page=2)
    assert list(record) == ["source", "page", "width", "height", "digits", "numbers", "text", "ms", "notes"]
    assert record["source"] == "scan.png" and record["page"] == 2 and (record["width"], record["height"]) == (400, 200)
    assert record["digits"][0] == {"digit": 1, "confidence": 0.9123, "box": [10, 10, 20, 40], "line": 0}
    assert record["digits"][2] == {"digit": 7, "confidence": 0.3, "box": [120, 12, 20, 40], "line": 0,
                                   "uncertain": True}
    assert [d["line"] for d in record["digits"]] == [0, 0, 0, 1, 1]
    assert record["numbers"] == ["12", "?", "45"] and record["text"] == "12 ?\n45"
    assert record["ms"] == 12.35 and record["notes"] == ["a note"]
    assert json.loads(json.dumps(record)) == record
    frame = json_record("clip.mp4", empty_reading(), 1.0, frame=12, t=0.4)
    assert list(frame) == ["source", "frame", "t", "width", "height", "digits", "numbers", "text", "ms"]
    assert frame["digits"] == [] and frame["numbers"] == [] and frame["text"] == "" and "notes" not in frame
    assert error_record("doc.pdf", "damaged", page=3) == {"source": "doc.pdf", "page": 3, "error": "damaged"}


def test_label_and_text_line_name_the_input_page_or_frame():
    assert label("scan.png") == "scan.png"
    assert label("doc.pdf", page=2) == "doc.pdf page 2"
    assert label("clip.mp4", frame=12, t=0.4149) == "clip.mp4 frame 12 at 0.41s"
    assert label("camera:0", frame=3) == "camera:0 frame 3 at 0.00s"
    assert text_line("doc.pdf page 2", reading()) == "doc.pdf page 2: 12 ? 45"
    assert text_line("scan.png", empty_reading()) == "scan.png:"


def test_csv_rows_fill_every_column_of_the_header():
    rows = csv_rows("doc.pdf", reading(), page=2)
    assert len(rows) == 5 and all(len(row) == len(CSV_HEADER) for row in rows)
    first = dict(zip(CSV_HEADER, rows[0]))
    assert first == {"source": "doc.pdf", "page": 2, "frame": "", "line": 0, "number": "12", "digit": "1",
                     "confidence": "0.9123", "x": 10, "y": 10, "w": 20, "h": 40, "error": ""}
    columns = [dict(zip(CSV_HEADER, row)) for row in rows]
    assert [(c["line"], c["number"], c["digit"]) for c in columns] == [
        (0, "12", "1"), (0, "12", "2"), (0, "?", "?"), (1, "45", "4"), (1, "45", "5")]
    nothing = csv_rows("clip.mp4", empty_reading(), frame=7)
    assert nothing == [["clip.mp4", "", 7] + [""] * (len(CSV_HEADER) - 3)]  # every input is accounted for
    error = csv_error_row("clip.mp4", "ends after 3 of 9 frames", frame=3)
    assert len(error) == len(CSV_HEADER)
    assert dict(zip(CSV_HEADER, error)) == {**dict.fromkeys(CSV_HEADER, ""), "source": "clip.mp4", "frame": 3,
                                            "error": "ends after 3 of 9 frames"}


# --- the sinks -------------------------------------------------------------------------------------

def page_result(name: str, page: int | None = None) -> Result:
    where = {} if page is None else {"page": page}
    return Result(name, json_record(name, reading(), 5.0, **where), reading(), page=page)


def frame_result(name: str, frame: int, read: Reading, changed: bool) -> Result:
    return Result(name, json_record(name, read, 5.0, frame=frame, t=frame / 10), read, kind="video", frame=frame,
                  t=frame / 10, changed=changed)


def results() -> list[Result]:
    """A page, a damaged page, three frames of which the second reads as the first did, a frame that
    failed, and a video that could not be opened."""
    return [
        page_result("doc.pdf", 1),
        Result("doc.pdf", error_record("doc.pdf", "page 2 is damaged", page=2), page=2),
        frame_result("clip.mp4", 0, empty_reading(), changed=True),
        frame_result("clip.mp4", 1, empty_reading(), changed=False),
        frame_result("clip.mp4", 2, reading(), changed=True),
        Result("clip.mp4", error_record("clip.mp4", "internal error while reading (KeyError: 1)", frame=3),
               kind="video", frame=3, t=0.3),
        Result("gone.mp4", error_record("gone.mp4", "gone.mp4: no such file"), kind="video"),
    ]


def test_text_sink_prints_pages_and_only_changed_frames(caplog):
    out = io.StringIO()
    with RecordSinks(stdout=out) as sinks:
        for result in results():
            sinks.emit(result)
    assert out.getvalue().splitlines() == ["doc.pdf page 1: 12 ? 45", "clip.mp4 frame 0 at 0.00s:",
                                           "clip.mp4 frame 2 at 0.20s: 12 ? 45"]
    # Errors go to the log once each; a frame's error was logged where it happened, by the driver.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["doc.pdf page 2: page 2 is damaged", "gone.mp4: no such file"]


@pytest.mark.parametrize("changes_only", [False, True])
def test_json_sinks_and_the_result_log(tmp_path, changes_only, caplog):
    out = io.StringIO()
    log = tmp_path / "results.jsonl"
    with RecordSinks(as_json=True, output_path=log, changes_only=changes_only, stdout=out) as sinks:
        for result in results():
            sinks.emit(result)
    records = [r.record for r in results()]
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    if changes_only:  # frames whose reading did not change are left out of stdout (errors never are)
        assert printed == records[:3] + records[4:]
    else:
        assert printed == records
    assert [json.loads(line) for line in log.read_text().splitlines()] == records  # the log keeps everything
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 2  # on stderr too, once each
    assert finished(log) == {("doc.pdf", 1, None), ("doc.pdf", 2, None), ("clip.mp4", None, 0),
                             ("clip.mp4", None, 1), ("clip.mp4", None, 2), ("clip.mp4", None, 3),
                             ("gone.mp4", None, None)}


def test_csv_sink_writes_the_header_once_and_a_row_per_digit(tmp_path):
    table = tmp_path / "digits.csv"
    with RecordSinks(csv_path=table, stdout=io.StringIO()) as sinks:
        for result in results()[:3]:
            sinks.emit(result)
    with RecordSinks(csv_path=table, append=True, stdout=io.StringIO()) as sinks:  # --resume appends
        for result in results()[3:]:
            sinks.emit(result)
    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert rows[0] == CSV_HEADER and CSV_HEADER not in rows[1:]
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    where = [(r[0], r[1], r[2], r[-1]) for r in rows[1:]]
    assert where == [("doc.pdf", "1", "", "")] * 5 + [("doc.pdf", "2", "", "page 2 is damaged"),
                                                     ("clip.mp4", "", "0", ""), ("clip.mp4", "", "1", "")] \
        + [("clip.mp4", "", "2", "")] * 5 + [("clip.mp4", "", "3", "internal error while reading (KeyError: 1)"),
                                             ("gone.mp4", "", "", "gone.mp4: no such file")]
    assert finished_csv(table) == finished_jsonl_keys()


def finished_jsonl_keys() -> set:
    return {r.key for r in results()}


# --- the result log, read back for --resume --------------------------------------------------------

def write_lines(path: Path, records: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")


def test_finished_cuts_a_half_written_last_line_and_skips_damage(tmp_path):
    log = tmp_path / "results.jsonl"
    good = [{"source": "a.png", "digits": []}, {"source": "doc.pdf", "page": 2}, {"source": "clip.mp4", "frame": 40},
            {"source": "b.png", "error": "not an image"}]
    write_lines(log, good[:2], tail="not json at all\n[1, 2]\n{\"page\": 3}\n")
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in good[2:]) + '{"source": "c.png", "dig')  # killed here
    size = log.stat().st_size
    assert finished(log) == {("a.png", None, None), ("doc.pdf", 2, None), ("clip.mp4", None, 40),
                             ("b.png", None, None)}
    assert log.stat().st_size == size - len('{"source": "c.png", "dig')  # cut off: c.png is read again
    assert log.read_text(encoding="utf-8").endswith('"error": "not an image"}\n')
    assert repair_tail(log) == 0  # nothing more to cut
    assert finished(tmp_path / "missing.jsonl") == set()
    # Numbers that are not page or frame numbers are no page or frame.
    write_lines(log, [{"source": "x.png", "page": True, "frame": "3"}])
    assert finished(log) == {("x.png", None, None)}


def test_finished_reads_a_folder_of_shards(tmp_path):
    shards = tmp_path / "results"
    shards.mkdir()
    write_lines(shards / "host-a.jsonl", [{"source": "a.png"}, {"source": "doc.pdf", "page": 1}])
    write_lines(shards / "host-b.jsonl", [{"source": "b.png"}], tail='{"source": "c.p')
    write_lines(shards / "notes.txt", [{"source": "not-a-shard.png"}])
    (shards / "old.jsonl").mkdir()  # a folder named like a shard is no shard
    assert finished(shards) == {("a.png", None, None), ("doc.pdf", 1, None), ("b.png", None, None)}
    assert (shards / "host-b.jsonl").read_text().endswith("}\n")


def test_finished_csv_reads_pages_and_frames_and_cuts_a_damaged_line(tmp_path):
    table = tmp_path / "digits.csv"
    rows = [CSV_HEADER, *csv_rows("scan.png", reading()), *csv_rows("doc.pdf", empty_reading(), page=4),
            *csv_rows("clip.mp4", reading(), frame=12), csv_error_row("bad.png", "not an image")]
    with open(table, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
        handle.write("late.png,,,0,1")  # killed in the middle of a row
    assert finished_csv(table) == {("scan.png", None, None), ("doc.pdf", 4, None), ("clip.mp4", None, 12),
                                   ("bad.png", None, None)}
    assert table.read_bytes().endswith(b"not an image\r\n")
    assert finished_csv(tmp_path / "missing.csv") == set()
    (tmp_path / "empty.csv").write_text("")
    assert finished_csv(tmp_path / "empty.csv") == set()


# --- output file names -----------------------------------------------------------------------------

def test_output_stem_is_safe_and_names_pages_and_frames():
    assert output_stem("scan.jpg") == "scan.jpg"  # a plain name stays as it is (outputs add .png) ...
    assert output_stem("scan.png") == "scan.png"  # ... extension and all: scan.png and scan.jpg stay apart
    assert output_stem("doc.pdf", page=3) == "doc.pdf.p3"
    assert output_stem("clip.mp4", frame=12) == "clip.mp4.f000012"
    names = ["../../etc/passwd", "/tmp/escaped.png", ".bashrc", "a b.png", "a+b.png", "a_b.png", "", "\u00fc.png",
             "x" * 400 + ".png", "scans/x/y.png", "scans/x__y.png", "scans/scan", "scans/scan.png", "scans/scan.PNG",
             "scan.png"]
    stems = [output_stem(name) for name in names]
    for stem in stems:
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith((".", "-"))
        assert len(stem) <= 150 and stem.isascii()
    assert len(set(stems)) == len(stems), stems  # distinct inputs never share an output file
    assert output_stem("scans/x/y.png").startswith("scans__x__y")  # still recognisable
    for name in names:
        assert output_stem(name, page=2) == output_stem(name) + ".p2"
        assert output_stem(name, frame=1) == output_stem(name) + ".f000001"


# --- the command line on a short video -------------------------------------------------------------

FRAMES = 6
SIZE = (320, 240)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A video of ``107`` drawn on paper, drifting a few pixels a frame (MJPG in AVI)."""
    folder = tmp_path_factory.mktemp("clip")
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, SIZE)
    assert writer.isOpened()
    for k in range(FRAMES):
        frame = np.full((SIZE[1], SIZE[0], 3), 232, np.uint8)
        draw_text(frame, "107", 70 + 3 * k, 70 + k, 80, 6, ink=(40, 30, 30))
        writer.write(frame)
    writer.release()
    return folder / "clip.avi"


def run_main(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--no-progress"])
    return code, out.getvalue()


def test_csv_of_a_video_has_a_row_per_digit_with_its_frame(clip, tmp_path, monkeypatch):
    monkeypatch.chdir(clip.parent)
    table = tmp_path / "digits.csv"
    code, out = run_main("clip.avi", "--headless", "--csv", str(table))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert list(rows[0]) == CSV_HEADER
    assert sorted({int(r["frame"]) for r in rows}) == list(range(FRAMES))  # every frame accounted for
    assert all(r["source"] == "clip.avi" and r["page"] == "" and r["error"] == "" for r in rows)
    # A digit must persist to be reported: the first two frames have an empty row each, then 1 0 7.
    by_frame = {f: [r for r in rows if int(r["frame"]) == f] for f in range(FRAMES)}
    assert all(len(by_frame[f]) == 1 and by_frame[f][0]["digit"] == "" for f in (0, 1))
    for f in range(2, FRAMES):
        assert [r["digit"] for r in by_frame[f]] == ["1", "0", "7"] and {r["number"] for r in by_frame[f]} == {"107"}
    assert out.splitlines()[-1] == "clip.avi frame 2 at 0.20s: 107"  # text: when the reading changes


def test_debug_images_of_a_video_are_written_per_read_frame(clip, tmp_path, monkeypatch):
    monkeypatch.chdir(clip.parent)
    debug = tmp_path / "debug"
    code, _ = run_main("clip.avi", "--headless", "--json", "--every", "2", "--debug", str(debug))
    assert code == 0
    kinds = ("1-ink", "2-mask", "3-candidates", "4-crops")
    expected = {f"clip.avi.f{f:06d}.{kind}.png" for f in range(0, FRAMES, 2) for kind in kinds}
    assert {p.name for p in debug.iterdir()} == expected
    for f in range(0, FRAMES, 2):  # the working image: the frame, or a whole fraction of it once digits are big
        ink = cv2.imread(str(debug / f"clip.avi.f{f:06d}.1-ink.png"), cv2.IMREAD_UNCHANGED)
        assert ink.ndim == 2 and ink.max() > 128
        assert ink.shape in [(SIZE[1] // k, SIZE[0] // k) for k in (1, 2, 3, 4)], ink.shape
    assert cv2.imread(str(debug / "clip.avi.f000000.1-ink.png")).shape[:2] == (SIZE[1], SIZE[0])
    candidates = cv2.imread(str(debug / "clip.avi.f000000.3-candidates.png"))
    red = (candidates[..., 2] > 200) & (candidates[..., 1] < 50) & (candidates[..., 0] < 50)
    assert red.sum() > 3 * 2 * 80  # a box around each of the three digits
    crops = cv2.imread(str(debug / "clip.avi.f000000.4-crops.png"))
    assert crops.shape[1] == 3 * (28 * 3 + 4)  # one cell per model input


# --- flags that cannot apply: a usage error, status 2, one line, nothing read ----------------------

@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("image") / "scan.png"
    picture = np.full((120, 200), 232, np.uint8)
    draw_text(picture, "7", 80, 20, 80, 6)
    cv2.imwrite(str(path), picture)
    return path


def usage_cases(image: Path, clip: Path, folder: Path) -> dict[str, tuple[list[str], str]]:
    existing = folder / "taken.png"
    existing.write_bytes(b"")
    copy = folder / "copy.png"
    copy.write_bytes(image.read_bytes())
    return {
        "--every with an image": ([str(image), "--every", "2"], "--every applies to videos and cameras"),
        "--record with an image": ([str(image), "--record", str(folder / "out.avi")], "--record applies to videos"),
        "--changes-only with an image": ([str(image), "--changes-only", "--json"], "--changes-only applies to videos"),
        "--width with an image": ([str(image), "--width", "640"], "--width is a request to a camera"),
        "--jobs with a video": ([str(clip), "--jobs", "2", "--headless"], "--jobs reads images and documents"),
        "--out onto a file": ([str(image), "--out", str(existing)], f"--out {existing}: is a file, not a folder"),
        # These two were an emptied input, and a traceback (NotADirectoryError from mkdir).
        "--output onto an input": ([str(copy), "-o", str(copy)], f"--output {copy}: is one of the inputs"),
        "--out under a file": ([str(image), "--out", str(existing / "sub")],
                               f"--out {existing / 'sub'}: cannot be made ({str(existing)!r} is a file)"),
        # An empty address also slipped past the cap on --jobs (a cluster's actors are not this machine's).
        "an empty --ray-address": ([str(image), "--engine", "ray", "--ray-address", "", "-j", "1000"],
                                   "--ray-address is empty"),
    }


CASES = ["--every with an image", "--record with an image", "--changes-only with an image", "--width with an image",
         "--jobs with a video", "--out onto a file", "an empty --ray-address", "--output onto an input",
         "--out under a file"]


@pytest.mark.parametrize("case", CASES)
def test_a_flag_that_cannot_apply_is_a_usage_error(case, image, clip, tmp_path, caplog):
    argv, message = usage_cases(image, clip, tmp_path)[case]
    code, out = run_main(*argv)
    assert code == 2 and out == ""
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert errors[0].startswith("error: " + message), errors[0]
    assert not (tmp_path / "out.avi").exists()


@pytest.mark.slow
def test_usage_errors_on_the_real_command_line_are_one_line(image, clip, tmp_path):
    cases = usage_cases(image, clip, tmp_path)
    for case in CASES:
        argv, message = cases[case]
        result = subprocess.run([sys.executable, str(RECOGNIZE), *argv], capture_output=True, text=True,
                                env=app_env(), cwd=tmp_path, timeout=60)
        assert result.returncode == 2, (case, result.stderr)
        lines = result.stderr.splitlines()
        assert result.stdout == "" and len(lines) == 1, (case, result.stderr)
        assert lines[0].startswith(f"digits-recognize: error: {message}"), (case, lines)


# --- an output that cannot be written: one line, status 1, no traceback ----------------------------

@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("flags, to_full, what", [
    (["-o", "/dev/full"], False, "--output /dev/full"),
    (["--csv", "/dev/full"], False, "--csv /dev/full"),
    (["--json"], True, "the standard output"),
])
def test_a_full_disk_is_one_line_not_a_traceback(image, tmp_path, flags, to_full, what):
    with open("/dev/full" if to_full else "/dev/null", "w") as stdout:
        result = subprocess.run([sys.executable, str(RECOGNIZE), str(image), "--no-progress", *flags],
                                stdout=stdout, stderr=subprocess.PIPE, text=True, env=app_env(), cwd=tmp_path,
                                timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"digits-recognize: error: cannot write {what}: No space left on device"]


@pytest.mark.parametrize("flag, value, message", [
    ("--pdf-dpi", "inf", "must be a finite number more than 0, got inf"),
    ("--pdf-dpi", "nan", "must be a finite number more than 0, got nan"),
    ("--pdf-dpi", "0", "must be a finite number more than 0, got 0.0"),
    ("-j/--jobs", "0", "must be at least 1, got 0"),
])
def test_a_flag_value_out_of_range_is_a_usage_error(image, flag, value, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(image), f"{flag.split('/')[-1]}={value}"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"argument {flag}: {message}")


SETPRIV = shutil.which("setpriv")


@pytest.mark.slow
@pytest.mark.skipif(not SETPRIV or not hasattr(os, "geteuid"), reason="needs setpriv (util-linux)")
def test_a_folder_without_write_permission_is_a_usage_error(image, tmp_path):
    """cv2.imwrite fails without a word: --out into a read-only folder lost every annotated image with
    status 0. Root writes anywhere, so the run drops the capability that lets it (where it has it)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    drop = [] if os.geteuid() != 0 else [SETPRIV, "--inh-caps=-dac_override,-dac_read_search",
                                          "--bounding-set=-dac_override,-dac_read_search"]
    if drop and subprocess.run([*drop, "true"]).returncode != 0:
        pytest.skip("this container does not let setpriv drop capabilities")
    for flags, message in ((["--out", str(locked)], f"--out {locked}: permission denied"),
                           (["-o", str(locked / "out.jsonl")], f"--output {locked / 'out.jsonl'}: permission denied in")):
        result = subprocess.run([*drop, sys.executable, str(RECOGNIZE), str(image), *flags], capture_output=True,
                                text=True, env=app_env(), cwd=tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"digits-recognize: error: {message}"), lines
    assert list(locked.iterdir()) == []
