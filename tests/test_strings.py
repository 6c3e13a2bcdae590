"""The string reader: the shipped model through a real interpreter, its metadata, its refusals."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from edge.pipeline.results import Box
from edge.pipeline.strings import (
    SECOND_LOOK_BELOW,
    StringReading,
    agreed,
    crop_region,
    _stroke_box,
    digit_boxes,
    greedy_decode,
    prepare_crop,
)
from edge.runtime.classifier import DigitClassifier, ModelError
from edge.runtime.metadata import (
    InputSpec,
    MetadataError,
    ModelMetadata,
    StringSpec,
    metadata_path,
    parse_metadata,
    read_metadata,
    sha256_file,
    write_metadata,
)
from edge.runtime.strings import StringReader, default_string_model_path
from trainer.synth.strings import GlyphBank, StringOptions, clean_options, make_string

BLANK = 10


@pytest.fixture(scope="module")
def reader() -> StringReader:
    return StringReader()


@pytest.fixture(scope="module")
def bank(mnist) -> GlyphBank:
    """All MNIST test digits (never training digits), as the benchmark draws them."""
    return GlyphBank(mnist.x_test, mnist.y_test)


def _iou(a: Box, b: Box) -> float:
    w = max(0, min(a.x2, b.x2) - max(a.x, b.x))
    h = max(0, min(a.y2, b.y2) - max(a.y, b.y))
    return w * h / (a.w * a.h + b.w * b.h - w * h)


# --- the shipped model ------------------------------------------------------------------------

def test_shipped_string_model_is_a_checked_int8_string_reader(reader):
    meta = reader.metadata
    assert reader.path == default_string_model_path()
    assert meta.kind == "string-reader" and meta.strings.width_policy == "variable"
    assert meta.input.dtype == meta.output.dtype == "int8"
    assert meta.labels[meta.strings.blank_index] == "blank"
    assert reader.path.stat().st_size < 1_000_000
    assert meta.provenance["accuracy"]["int8"]["exact"] >= meta.provenance["accuracy"]["float"]["exact"] - 0.001


def test_touching_strings_read_exactly(reader, bank):
    options = replace(clean_options(), touching_share=1.0)
    texts = ["4071", "93", "123456", "80", "55", "2718281828", "314", "6009", "17", "90210"] * 2
    placed, digits = 0, 0
    for seed, text in enumerate(texts, start=7000):
        sample = make_string(bank, seed, options, text=text)
        assert "touching" in sample.tags
        reading = reader.read(sample.ink, sample.region)
        assert reading.text == text, f"seed {seed}"
        assert len(reading.boxes) == len(text) == len(reading.confidences)
        # Each digit's box lies on its digit: overlapping digits are cut between them, so a box
        # may be narrower than its digit, but its centre is on the digit and it overlaps it well.
        for found, true in zip(reading.boxes, sample.boxes):
            placed += true.x <= found.cx <= true.x2 and _iou(found, true) >= 0.4
            digits += 1
    assert placed >= 0.9 * digits, f"{placed} of {digits} digit boxes on their digits"


def test_digit_boxes_of_touching_strings_sit_on_their_digits(reader, bank):
    # CTC marks a digit before its middle; boxes cut at the marks alone left 91% of the digits of
    # these 200 touching strings (those read exactly) with a box on them (IoU >= 0.5), and 93%
    # once the centres are moved by the lead (now the metadata's peak_lead); straight cuts at the
    # faintest column fell into 0s' hollows and left neighbours' strokes with 1s: 92.5%, cut along
    # paths through the ink 97.8%.
    options = replace(clean_options(), touching_share=1.0)
    on, digits = 0, 0
    for seed in range(7000, 7200):
        sample = make_string(bank, seed, options)
        reading = reader.read(sample.ink, sample.region)
        if reading.text != sample.text:
            continue
        on += sum(_iou(found, true) >= 0.5 for found, true in zip(reading.boxes, sample.boxes))
        digits += len(sample.boxes)
    assert digits >= 900
    assert on >= 0.96 * digits, f"{on} of {digits} digit boxes on their digits"


def test_column_boxes_are_the_cheap_coarse_choice(reader, bank):
    sample = make_string(bank, 7000, clean_options(), text="5381")
    fitted = reader.read(sample.ink, sample.region)
    coarse = reader.read(sample.ink, sample.region, fit_boxes=False)
    assert coarse.text == fitted.text == "5381" and coarse.confidences == fitted.confidences
    crop, origin = crop_region(sample.ink, sample.region, reader.margin)
    for box, true in zip(coarse.boxes, sample.boxes):
        assert box.y == origin.y and box.h == origin.h  # the crop's height: no look at the ink
        assert box.x < true.x2 and true.x < box.x2  # on its digit's columns
    # Fitted afterwards, for a reading that is used, the boxes are those read() fits at once.
    assert reader.fitted_boxes(coarse, sample.ink, sample.region) == fitted.boxes != coarse.boxes


def test_number_on_an_underline(reader, bank):
    options = replace(clean_options(), underline=1.0)
    for seed, text in enumerate(["2024", "365", "48150"] * 3, start=7000):
        sample = make_string(bank, seed, options, text=text)
        assert "underline" in sample.tags
        assert reader.read(sample.ink, sample.region).text == text


def test_european_one_and_crossed_seven(reader, bank):
    options = replace(clean_options(), european_1=1.0, crossed_7=1.0, spacing=(0.05, 0.3), touching_share=0.0)
    for seed, text in enumerate(["1917", "71", "1170"] * 3, start=7000):
        sample = make_string(bank, seed, options, text=text)
        assert {"european-1", "crossed-7"} <= set(sample.tags)
        assert reader.read(sample.ink, sample.region).text == text


@pytest.mark.parametrize("seed, text, first_look", [
    (93_000_157, "9909191", "91909191"),  # a comb box and a security background
    (93_000_179, "54", "64"),  # an underline through a background
    (93_000_182, "156166", "156161"),  # European 1s on an underline
])
def test_an_unsure_region_is_read_right_by_looking_again(reader, bank, seed, text, first_look):
    sample = make_string(bank, seed)  # the benchmark's generator and options, seeds of no benchmark
    once = reader.read(sample.ink, sample.region, second_looks=False)
    assert once.text == first_look and once.confidence < SECOND_LOOK_BELOW
    again = reader.read(sample.ink, sample.region)
    assert again.text == text and again.margin != reader.margin
    assert len(again.boxes) == len(text)
    # Boxes fitted later to a reading made without them are those the same look fits itself.
    cheap = reader.read(sample.ink, sample.region, fit_boxes=False)
    assert cheap.text == text and reader.fitted_boxes(cheap, sample.ink, sample.region) == again.boxes


def test_a_sure_reading_is_not_read_again(reader, bank):
    sample = make_string(bank, 7300, clean_options(), text="385")
    once = reader.read(sample.ink, sample.region, second_looks=False)
    assert once.confidence >= SECOND_LOOK_BELOW
    assert reader.read(sample.ink, sample.region) == once


def test_blank_region_reads_nothing_with_no_confidence(reader):
    ink = np.zeros((60, 200), np.uint8)
    reading = reader.read(ink, Box(20, 10, 160, 40))
    assert reading.text == "" and reading.confidence == 0.0 and reading.boxes == ()


def test_confidences_come_from_the_posteriors(reader, bank):
    sample = make_string(bank, 7300, clean_options(), text="385")
    reading = reader.read(sample.ink, sample.region)
    assert reading.text == "385" and reading.confidence > 0.5
    crop, _ = crop_region(sample.ink, sample.region, reader.margin)
    probs = reader.posteriors(reader.prepare(crop).image)
    for char, conf, (first, last) in zip(reading.text, reading.confidences, reading.spans):
        assert conf == pytest.approx(probs[first : last + 1, int(char)].max())
        assert (probs[first : last + 1].argmax(axis=1) == int(char)).all()
    assert reading.confidence <= min(reading.confidences)


# --- pure functions ---------------------------------------------------------------------------

def _posteriors(path: list[int], sure: float = 0.9) -> np.ndarray:
    probs = np.full((len(path), 11), (1 - sure) / 10, np.float32)
    probs[np.arange(len(path)), path] = sure
    return probs


def _look(text: str, confidence: float, margin: float) -> StringReading:
    return StringReading(text, (confidence,) * len(text), (), confidence, margin=margin)


def test_looks_agree_on_the_text_their_confidences_back_most():
    # Two looks read 38 less surely than one reads 88, but together they back it more.
    looks = [_look("88", 0.8, 0.15), _look("38", 0.6, 0.08), _look("38", 0.7, 0.25), _look("", 0.0, 0.04)]
    reading = agreed(looks)
    assert reading == looks[2]  # as its surest look read it
    assert agreed([_look("5", 0.6, 0.15), _look("5", 0.95, 0.08)]) == _look("5", 0.95, 0.08)
    assert agreed([_look("", 0.0, 0.15), _look("", 0.0, 0.08)]).text == ""


def test_greedy_decode_collapses_repeats_and_keeps_doubled_digits():
    b = BLANK
    chars, confidence = greedy_decode(_posteriors([b, 1, 1, b, 1, b, 7, 7, 7, b]), "0123456789", b)
    assert "".join(c.char for c in chars) == "117"
    assert [(c.first, c.last) for c in chars] == [(1, 2), (4, 4), (6, 8)]
    assert confidence == pytest.approx(0.9)
    # A digit the path skipped (blank wins narrowly) lowers the string's confidence.
    probs = _posteriors([b, 3, b, b, b])
    probs[3] = [0.0] * 5 + [0.45] + [0.0] * 4 + [0.55]
    _, doubtful = greedy_decode(probs, "0123456789", b)
    assert doubtful == pytest.approx(0.55)


def test_prepare_crop_scales_to_height_and_pads_to_the_width_step():
    crop = np.zeros((50, 103), np.uint8)
    crop[10:40, 10:90] = 120
    prepared = prepare_crop(crop, 32, step=16)
    assert prepared.image.shape == (32, 80)  # 103 * 32 / 50 = 66 columns, padded to 80
    assert prepared.content_width == 66
    assert prepared.image[:, 66:].max() == 0
    assert prepared.image.max() == 255  # contrast stretched: faint ink becomes full ink
    with pytest.raises(ValueError, match="uint8 ink crop"):
        prepare_crop(crop.astype(np.float32), 32)


def test_crop_region_adds_the_margin_and_stays_inside_the_image():
    ink = np.zeros((100, 300), np.uint8)
    crop, origin = crop_region(ink, Box(5, 40, 100, 40), margin=0.25)
    assert origin == Box(0, 30, 115, 60)
    assert crop.shape == (60, 115)


def test_digit_boxes_cut_touching_ink_between_the_characters():
    crop = np.zeros((40, 80), np.uint8)
    crop[5:35, 10:38] = 255  # two blocks of ink joined by a thin bridge
    crop[5:35, 42:70] = 255
    crop[20:22, 38:42] = 255
    chars, _ = greedy_decode(_posteriors([BLANK, BLANK, 4, 4, BLANK, BLANK, 2, 2, BLANK, BLANK]), "0123456789", BLANK)
    boxes = digit_boxes(crop, chars, stride=4, scale=0.5, origin=Box(100, 200, 80, 40))
    assert len(boxes) == 2
    assert boxes[0].x == 110 and boxes[0].y == 205 and 28 <= boxes[0].w <= 32
    assert boxes[1].x2 == 170 and 28 <= boxes[1].w <= 32


def test_ink_in_the_margin_around_the_region_is_a_neighbours_not_a_digits():
    crop = np.zeros((40, 80), np.uint8)
    crop[5:35, 14:40] = 255  # the region's one digit
    crop[8:32, 2:6] = 255  # a neighbour's edge in the margin, left of every column read
    chars, _ = greedy_decode(_posteriors([BLANK, BLANK, BLANK, 7, 7, BLANK, BLANK, BLANK, BLANK, BLANK]),
                             "0123456789", BLANK)
    origin = Box(100, 200, 80, 40)
    # Without the region the neighbour's edge joins the digit's slot (a detached bar would).
    assert digit_boxes(crop, chars, stride=4, scale=0.5, origin=origin)[0].x == 102
    boxes = digit_boxes(crop, chars, stride=4, scale=0.5, origin=origin, region=Box(12, 4, 30, 32))
    assert boxes == [Box(114, 205, 26, 30)]


def test_a_centre_ctc_put_off_the_regions_edge_on_bare_paper_is_its_first_digits():
    crop = np.zeros((40, 80), np.uint8)
    crop[5:35, 14:20] = 255  # the region's first digit, narrow ...
    crop[5:35, 24:40] = 255  # ... touching the second through a thin bridge
    crop[20:22, 20:24] = 255
    chars, _ = greedy_decode(_posteriors([BLANK, 7, BLANK, 4, 4, BLANK, BLANK, BLANK, BLANK, BLANK]),
                             "0123456789", BLANK)  # the first centre at column 12: paper, left of the region
    boxes = digit_boxes(crop, chars, stride=4, scale=0.5, origin=Box(100, 200, 80, 40), region=Box(14, 4, 28, 32))
    assert boxes[0].x == 114 and boxes[0].w <= 10
    assert boxes[1].x2 == 140 and boxes[1].x >= 119


def test_a_touching_ones_box_is_its_stroke_without_what_the_cut_left_beside_it():
    one = np.zeros((50, 40), bool)
    one[5:45, 24:29] = True  # the 1's stroke, 5 px wide
    one[5:10, 8:24] = True  # a neighbour's curl the cut left on the 1's side, joined at the top
    one[20:30, 19:24] = True  # and its side, touching the 1 along 10 rows
    assert _stroke_box(one, centre=26) == (23, 5, 29, 45)
    slanted = np.zeros((50, 40), bool)
    for row in range(5, 45):  # leaning right by one column every two rows
        slanted[row, 6 + row // 2 : 11 + row // 2] = True
    x0, y0, x1, y1 = _stroke_box(slanted, centre=18)
    assert (y0, y1) == (5, 45) and 7 <= x0 <= 8 and 32 <= x1 <= 33
    assert _stroke_box(np.zeros((10, 10), bool), centre=5) is None


def test_a_ones_box_keeps_off_a_neighbour_joined_along_most_of_it_and_thin_above_it():
    """Most rows of this 1 hold a neighbour's side too, so a median row is no measure of its pen,
    and above the 1 the neighbour's thin top is the ink nearest the centre: a line fitted through
    all the rows leaned over to it, and the box took the neighbour in."""
    one = np.zeros((60, 50), bool)
    one[10:58, 30:35] = True  # the 1's stroke, 5 px wide
    one[10:40, 20:30] = True  # a neighbour's side joined to it along 30 of its 48 rows
    one[0:10, 16:24] = True  # and the neighbour's thin top, above the 1
    assert _stroke_box(one, centre=32) == (29, 10, 35, 58)


# --- metadata ---------------------------------------------------------------------------------

def _string_meta(**changes) -> ModelMetadata:
    meta = ModelMetadata(
        model_file="strings_int8.tflite", model_sha256="0" * 64,
        input=InputSpec(height=32, width=512, digit_box=25, centering="region-with-margin"),
        labels=tuple("0123456789") + ("blank",), kind="string-reader", strings=StringSpec(),
    )
    return replace(meta, **changes)


def test_string_metadata_round_trip(tmp_path):
    meta = _string_meta()
    write_metadata(meta, tmp_path / "m.json")
    assert read_metadata(tmp_path / "m.json") == meta


@pytest.mark.parametrize("change, message", [
    (dict(strings=None), "needs a 'strings' section"),
    (dict(strings=StringSpec(blank_index=0)), "do not match the alphabet and blank"),
    (dict(strings=StringSpec(width_policy="stretchy")), "unknown width policy"),
    (dict(strings=StringSpec(width_step=6)), "multiples of the column stride"),
    (dict(strings=StringSpec(alphabet="0012345678")), "repeats a character"),
    (dict(strings=StringSpec(peak_lead=0.8)), "peak_lead 0.8 is outside"),
    (dict(kind="string-writer"), "unknown model kind"),
])
def test_bad_string_metadata_is_refused_in_one_line(change, message):
    data = json.loads(json.dumps(_string_meta(**change).to_dict()))
    with pytest.raises(MetadataError, match=message) as caught:
        parse_metadata(data)
    assert "\n" not in str(caught.value)


def test_string_metadata_from_before_the_peak_lead_reads_with_the_lead_then_measured(reader):
    """Files written before the trainer measured where CTC fires take 0.078 digit heights (0.06 crop
    heights), as the edge did then; the shipped file holds its own measurement."""
    raw = json.loads(metadata_path(reader.path).read_text())
    assert parse_metadata(raw).strings.peak_lead == raw["strings"]["peak_lead"]
    del raw["strings"]["peak_lead"]
    assert parse_metadata(raw).strings.peak_lead == 0.078
    assert 0.078 / (1 + 2 * parse_metadata(raw).strings.region_margin) == pytest.approx(0.06)


def test_the_trainer_measures_the_peak_lead_the_shipped_metadata_holds(reader, mnist):
    """Where a character's centre lies against its columns, measured as the trainer does on its own
    test strings: the value written in the shipped metadata, and not nothing (CTC fires early)."""
    from trainer.strings import generate_set, measure_peak_lead
    from trainer.synth.strings import TEST_SEEDS

    test = generate_set(mnist.x_test, mnist.y_test, TEST_SEEDS, 400, keep_crops=True, workers=1)
    lead = measure_peak_lead(reader, test)
    assert lead >= 0.03
    assert abs(lead - reader.metadata.strings.peak_lead) <= 0.015


def test_digit_metadata_loads_unchanged_and_declares_no_strings(shipped_model_path):
    raw = json.loads(metadata_path(shipped_model_path).read_text())
    meta = parse_metadata(raw)
    assert meta.kind == "digit-classifier" and meta.strings is None
    assert "strings" not in meta.to_dict()
    # A version 1 file (before kinds) still loads as a digit classifier.
    old = {k: v for k, v in raw.items() if k not in ("kind", "reject_label")}
    old.update(format_version=1, labels=[str(d) for d in range(10)])
    assert parse_metadata(old).kind == "digit-classifier"
    with pytest.raises(MetadataError, match="declares no 'strings'"):
        parse_metadata(dict(raw, strings=_string_meta().to_dict()["strings"]))


# --- refusals at start-up ---------------------------------------------------------------------

def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_corrupt_string_model_is_refused(tmp_path):
    model = tmp_path / "strings_int8.tflite"
    model.write_bytes(default_string_model_path().read_bytes()[:5000])
    meta = read_metadata(metadata_path(default_string_model_path()))
    write_metadata(replace(meta, model_sha256=sha256_file(model)), model.with_suffix(".json"))
    with pytest.raises(ModelError) as caught:
        StringReader(model)
    assert "not a usable string model" in _one_line(caught)


def test_string_model_with_another_models_metadata_is_refused(tmp_path, shipped_model_path):
    # The digit model behind string metadata (checksum made to match): its shapes give it away.
    model = tmp_path / "strings_int8.tflite"
    shutil.copy(shipped_model_path, model)
    meta = read_metadata(metadata_path(default_string_model_path()))
    write_metadata(replace(meta, model_sha256=sha256_file(model)), model.with_suffix(".json"))
    with pytest.raises(ModelError) as caught:
        StringReader(model)
    assert "does not match the metadata" in _one_line(caught) or "not a usable" in str(caught.value)
    # The string model behind digit metadata: not a string reader.
    model2 = tmp_path / "other.tflite"
    shutil.copy(default_string_model_path(), model2)
    digit_meta = read_metadata(metadata_path(shipped_model_path))
    write_metadata(replace(digit_meta, model_sha256=sha256_file(model2)), model2.with_suffix(".json"))
    with pytest.raises(ModelError) as caught:
        StringReader(model2)
    assert "not a string reader" in _one_line(caught)
    # The string model's JSON beside a changed model: checksum.
    model3 = tmp_path / "changed.tflite"
    model3.write_bytes(default_string_model_path().read_bytes() + b"\0")
    shutil.copy(metadata_path(default_string_model_path()), model3.with_suffix(".json"))
    with pytest.raises(ModelError) as caught:
        StringReader(model3)
    assert "checksum differs" in _one_line(caught)


def test_missing_string_model_is_refused(tmp_path):
    with pytest.raises(ModelError) as caught:
        StringReader(tmp_path / "nothing.tflite")
    assert "string model file not found" in _one_line(caught)


def test_digit_classifier_refuses_the_string_model():
    # The digit path must never run a string reader by mistake (its input is no 28x28 digit).
    with pytest.raises(ModelError):
        DigitClassifier(default_string_model_path())


# --- the trainer ------------------------------------------------------------------------------

@pytest.mark.train
@pytest.mark.slow
def test_trainer_smoke_run_converts_and_verifies(tmp_path, mnist_dir):
    pytest.importorskip("tensorflow")
    from trainer.cli import main

    out = tmp_path / "run"
    code = main(["-q", "strings", "--data", mnist_dir, "--out", str(out), "--epochs", "1", "--train-size", "256",
                 "--val-size", "64", "--test-size", "64", "--digit-tests", "200", "--max-drop", "100", "--install", str(tmp_path / "models")])
    assert code == 0
    reader = StringReader(tmp_path / "models" / "strings_int8.tflite")
    assert reader.metadata.provenance["train_strings"] == 256
    summary = json.loads((out / "conversion.json").read_text())
    assert {"keras", "float", "int8", "int8_float_agreement"} <= set(summary)
    assert (tmp_path / "models" / "report" / "strings" / "REPORT.md").is_file()


@pytest.mark.train
def test_a_reader_grown_from_a_float_file_reads_as_the_file_does(tmp_path, bank):
    """``--init`` with a float .tflite: its weights go back into Keras layers (batch normalisation
    unfolded); residual blocks the file lacks start as identities, so the grown model's posteriors
    are the file's. A file with other layers is refused, naming it."""
    pytest.importorskip("tensorflow")
    from trainer.data import DataError
    from trainer.strings import PLAIN, RESIDUAL, build_reader, load_float_tflite, to_tflite, with_softmax

    images = [make_string(bank, seed).model_input(32, 4) for seed in range(93_000_000, 93_000_024)]
    shipped = default_string_model_path().with_name("strings_float.tflite")
    assert load_float_tflite(build_reader(), shipped, images) < 1e-3
    assert load_float_tflite(build_reader(architecture=RESIDUAL), shipped, images) < 1e-3  # grown
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(to_tflite(with_softmax(build_reader(architecture=PLAIN)), None))
    assert load_float_tflite(build_reader(architecture=PLAIN), plain, images) < 1e-3
    with pytest.raises(DataError, match="plain.tflite"):
        load_float_tflite(build_reader(width=1.5, architecture=PLAIN), plain, images)


def test_report_names_every_run_a_string_reader_went_on_from():
    """A reader trained in runs, each going on from the last (``--init``), keeps the whole chain in
    its metadata; the report lists each run with its seeds and learning rate, the latest first."""
    pytest.importorskip("tensorflow")
    from trainer.strings import report_markdown

    first = {"epochs": 5, "train_strings": 200000, "train_seeds": [0, 200000], "learning_rate": 0.003,
             "training_seconds": 1679.7, "continued_from": None}
    second = {"epochs": 3, "train_strings": 200000, "train_seeds": [200000, 400000], "learning_rate": 0.001,
              "training_seconds": 958.9, "continued_from": first}
    record = {"epochs": 3, "train_strings": 200000, "train_seeds": [400000, 600000], "learning_rate": 0.0005,
              "seed": 1, "training_seconds": 1422.1, "cpu_count": 2, "continued_from": second}
    summary = json.loads((default_string_model_path().parent / "report" / "strings" / "conversion.json").read_text())
    lines = [line for line in report_markdown(record, summary).splitlines() if "learning rate" in line]
    assert len(lines) == 3, lines
    for line, run in zip(lines, (record, second, first)):
        assert f"seeds {run['train_seeds'][0]}-{run['train_seeds'][1]}" in line, line
        assert f"learning rate {run['learning_rate']}" in line, line
