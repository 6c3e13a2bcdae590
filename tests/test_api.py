"""The Python API (``edge.Reader``) on real files made by real libraries, against the command line."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import edge
from edge.apps.recognize import main

from conftest import ROOT
from edge.runtime.settings import usable_cpus

EXAMPLES = ROOT / "edge" / "examples"
# What the examples say, one list of numbers per image (the reader may misread a digit of these
# fonts, so the tests compare the API with the command line, and both with this only in length).
EXPECTED = {name: [n for line in lines for n in line]
            for name, lines in json.loads((EXAMPLES / "expected.json").read_text()).items()}


@pytest.fixture(scope="module")
def reader():
    return edge.Reader()


def cli_records(*argv: str) -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json"]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def without_notes(digits) -> list:
    return [(d.digit, round(d.confidence, 4), d.box.as_list(), d.line) for d in digits]


@pytest.mark.parametrize("name", ["sticky-note.jpg", "form-scan.png", "phone-photo-exif-rotated.jpg"])
def test_reading_equals_the_command_line(reader, name):
    path = EXAMPLES / name
    [record] = cli_records(str(path))
    reading = reader.read(path)
    assert reading.numbers == record["numbers"]
    assert [len(n) for n in reading.numbers] == [len(n) for n in EXPECTED[name]]
    assert reading.text == record["text"]
    assert without_notes(reading.digits) == [(d["digit"], d["confidence"], d["box"], d["line"]) for d in record["digits"]]


def test_more_threads_than_cpus_are_cut_to_the_cpus(reader):
    """Threads beyond the CPUs only wait their turn, and OpenCV asked for 100,000 crashed the process;
    the Python API gets the same cap as the command line."""
    cpus = usable_cpus()
    many = edge.Reader(threads=4 * cpus)
    assert many.recognizer.classifier.threads == cpus
    assert many.recognizer.strings is None or many.recognizer.strings.threads == cpus
    path = EXAMPLES / "form-scan.png"
    assert many.read(path).numbers == reader.read(path).numbers


def test_every_kind_of_input_gives_the_same_reading(reader):
    path = EXAMPLES / "sticky-note.jpg"
    [record] = cli_records(str(path))
    expected = record["numbers"]
    bgr = cv2.imread(str(path))
    assert reader.read(str(path)).numbers == expected
    assert reader.read(path.read_bytes()).numbers == expected
    assert reader.read(bgr).numbers == expected
    assert reader.read(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)).numbers == expected
    assert reader.read(Image.open(path)).numbers == expected
    assert reader.read(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)).numbers == expected


def test_a_pdf_gives_a_reading_per_page(reader, tmp_path):
    pages = [Image.open(EXAMPLES / name).convert("RGB") for name in ("form-scan.png", "sticky-note.jpg")]
    pdf = tmp_path / "two.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=100)
    readings = reader.read(pdf)
    assert isinstance(readings, list) and len(readings) == 2
    assert readings[0].numbers == reader.read(np.asarray(pages[0])[..., ::-1].copy()).numbers
    assert [(r.page, r.ok) for r in reader.pages(pdf.read_bytes())] == [(1, True), (2, True)]


def test_read_many_gives_errors_as_values_in_order(reader, tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    good = EXAMPLES / "chalkboard.jpg"
    results = list(reader.read_many([good, tmp_path / "missing.png", broken, b"", good.read_bytes()]))
    assert [r.ok for r in results] == [True, False, False, False, True]
    [record] = cli_records(str(good))
    assert results[0].reading.numbers == results[4].reading.numbers == record["numbers"]
    assert results[1].error == "no such file or folder"
    assert all(len(r.error.splitlines()) == 1 for r in results if not r.ok)


def test_bad_input_raises_one_exception_type(reader, tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    for bad in (tmp_path / "notes.txt", tmp_path / "missing.png", b"\x00" * 100,
                np.zeros((10, 10), np.float32), np.zeros((0, 10), np.uint8), np.zeros((4, 4, 2), np.uint8)):
        with pytest.raises(edge.ReadError) as info:
            reader.read(bad)
        assert len(str(info.value).splitlines()) == 1


def test_min_confidence_and_a_bad_model(tmp_path):
    # 1.0 marks every digit here: the int8 model's surest output is 255/256 (a float model's could be 1).
    doubtful = edge.Reader(min_confidence=1.0)
    assert set(doubtful.read(EXAMPLES / "sticky-note.jpg").text) <= set("? \n")
    (tmp_path / "model.tflite").write_bytes(b"not a model")
    with pytest.raises(edge.ModelError):
        edge.Reader(model=tmp_path / "model.tflite")


@pytest.mark.parametrize("settings, error, message", [
    ({"threads": 1.5}, ValueError, "threads must be a whole number, got 1.5"),
    ({"threads": "2"}, TypeError, "threads must be a number, got '2'"),
    ({"threads": 0}, ValueError, "threads must be at least 1, got 0"),
    ({"min_confidence": "0.5"}, TypeError, "min_confidence must be a number, got '0.5'"),
    ({"min_confidence": float("nan")}, ValueError, "min_confidence must be from 0 to 1, got nan"),
    ({"polarity": "Dark-on-light"}, ValueError, "polarity must be one of auto, dark-on-light, light-on-dark"),
    ({"max_pages": -1}, ValueError, "max_pages must be at least 0, got -1"),
    ({"max_pixels": "x"}, TypeError, "max_pixels must be a number, got 'x'"),
    ({"pdf_dpi": float("inf")}, ValueError, "pdf_dpi must be a finite number above 0 (or None), got inf"),
    ({"model": 5}, TypeError, "model must be a path (str or os.PathLike), got int"),
])
def test_a_setting_out_of_range_is_refused_where_it_is_given(settings, error, message):
    """A bad setting was accepted and then blamed on every input ("internal error while reading"),
    or read a page as nothing at all (an unknown polarity)."""
    with pytest.raises(error) as info:
        edge.Reader(**settings)
    assert str(info.value).startswith(message)


def test_file_objects_and_path_likes_are_read_like_paths(reader, tmp_path):
    path = EXAMPLES / "form-scan.png"
    expected = reader.read(path).numbers

    class Where:  # an os.PathLike that is not a pathlib.Path
        def __fspath__(self):
            return str(path)

    assert reader.read(io.BytesIO(path.read_bytes())).numbers == expected
    with open(path, "rb") as handle:
        assert reader.read(handle).numbers == expected
    assert reader.read(Where()).numbers == expected
    with open(path, encoding="latin-1") as text, pytest.raises(TypeError, match="open the file in binary mode"):
        reader.read(text)
    with pytest.raises(TypeError, match="cannot read NoneType objects"):
        reader.read(None)


def test_read_many_takes_one_path_whole_and_odd_items_as_errors(reader, tmp_path):
    """A path given alone was read character by character (``"."`` read the working folder); an
    empty path read the working folder; a name too long for the file system raised OSError."""
    path = EXAMPLES / "form-scan.png"
    expected = reader.read(path).numbers
    [alone] = list(reader.read_many(str(path)))
    assert alone.ok and alone.reading.numbers == expected
    results = list(reader.read_many(["", None, "a" * 5000 + ".png", path]))
    assert [r.ok for r in results] == [False, False, False, True]
    assert results[0].error == "empty path"
    assert results[1].error.startswith("cannot read NoneType objects")
    assert results[2].error == "cannot open (File name too long)"
    assert results[3].reading.numbers == expected


@pytest.mark.parametrize("mode", ["I", "F", "I;16", "YCbCr", "HSV", "LAB", "RGBX"])
def test_pil_images_of_every_mode_read_like_the_file(reader, mode):
    """Modes a PNG cannot hold were refused ("cannot write mode F as PNG")."""
    path = EXAMPLES / "form-scan.png"
    image = Image.open(path).convert("L").convert(mode)
    assert reader.read(image).numbers == reader.read(path).numbers


def test_pil_image_is_turned_upright_by_its_exif_orientation(reader):
    """The PNG the image went through dropped its EXIF: a phone photo was read on its side."""
    path = EXAMPLES / "phone-photo-exif-rotated.jpg"
    assert reader.read(Image.open(path)).numbers == reader.read(path).numbers


def test_arrays_are_held_to_max_pixels_like_files():
    small = edge.Reader(max_pixels=10_000)
    with pytest.raises(edge.ReadError, match=r"200x100 is 20,000 pixels, over the limit of 10,000"):
        small.read(np.full((100, 200), 255, np.uint8))
    with pytest.raises(edge.ReadError, match="over the limit of 10,000"):
        small.read(Image.new("L", (200, 100), 255))


def test_one_object_given_to_read_many_is_one_input_and_settings_given_as_floats_still_count(reader, tmp_path):
    path = EXAMPLES / "form-scan.png"
    expected = reader.read(path).numbers
    with open(path, "rb") as handle:
        [from_file] = list(reader.read_many(handle))
    [from_array] = list(reader.read_many(cv2.imread(str(path))))
    [from_pil] = list(reader.read_many(Image.open(path)))
    assert from_file.reading.numbers == from_array.reading.numbers == from_pil.reading.numbers == expected
    closed = open(path, "rb")
    closed.close()
    [result] = list(reader.read_many([closed]))
    assert not result.ok and result.error.startswith(f"{path}: cannot read (")  # the words vary by Python
    assert edge.Reader(max_pixels=1e8, threads=1.0).read(path).numbers == expected
