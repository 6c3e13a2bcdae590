"""Model and runtime faults at start-up, and safety: outputs stay in their folders, names stay names.

The broken models are real .tflite files made by tests/data/make_bad_models.py (committed; the tests
only read them, so they run without TensorFlow). Each fault must stop the command line before any
input is read: exit status 2, one line on stderr, nothing on stdout, no output file created.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edge
import edge.sources.streams
import edge.apps.recognize
from trainer.synth.pages import make_page
from edge.runtime.classifier import DigitClassifier
from edge.runtime.metadata import read_metadata, sha256_file
from edge.sources.files import Source, expand_sources
from helpers import read_one

DATA = Path(__file__).resolve().parent / "data"
RECOGNIZE = Path(edge.apps.recognize.__file__)
PAGE_SIZE = (300, 560)


class CreatesFileWhenUnpickled:
    """Unpickling this calls open(marker, "w"): proof of code execution if the marker appears."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def plain_page():
    return make_page("hershey", None, seed=3, size=PAGE_SIZE, n_lines=2)


def write_page(page, path: Path) -> Path:
    Image.fromarray(np.ascontiguousarray(page.image[..., ::-1])).save(path)
    return path


def fixture_model(name: str, folder: Path, with_metadata: bool = True) -> Path:
    """A copy of a committed fixture model (and its metadata), so tests can change it freely."""
    target = folder / f"{name}.tflite"
    shutil.copy(DATA / f"{name}.tflite", target)
    if with_metadata:
        shutil.copy(DATA / f"{name}.json", folder / f"{name}.json")
    return target


def model_with_honest_checksum(path: Path, content: bytes) -> Path:
    """``content`` as a model, with float_ok's metadata updated to its checksum (so only the content is wrong)."""
    path.write_bytes(content)
    meta = json.loads((DATA / "float_ok.json").read_text())
    meta["model_file"], meta["model_sha256"] = path.name, sha256_file(path)
    path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def edited_metadata(folder: Path, edit) -> Path:
    model = fixture_model("float_ok", folder)
    meta = json.loads(model.with_suffix(".json").read_text())
    edit(meta)
    model.with_suffix(".json").write_text(json.dumps(meta))
    return model


# --- the fixture models themselves ------------------------------------------------------------------


def test_fixture_models_are_small_and_their_metadata_honest():
    for model in sorted(DATA.glob("*.tflite")):
        assert model.stat().st_size < 16 * 1024, model.name
        meta = read_metadata(model.with_suffix(".json"))
        assert meta.model_sha256 == sha256_file(model), f"{model.name}: regenerate with make_bad_models.py"


def test_control_model_is_usable(tmp_path, plain_page, capsys):
    """The fixtures are real, loadable models: the faulty ones are refused for their fault alone."""
    classifier = DigitClassifier(DATA / "float_ok.tflite")
    probs = classifier.predict(np.zeros((3, 28, 28), np.uint8))
    assert probs.shape == (3, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    page = write_page(plain_page, tmp_path / "page.png")
    assert edge.apps.recognize.main(["--model", str(DATA / "float_ok.tflite"), "--json", str(page)]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["source"], record["width"], record["height"]) == (str(page), 560, 300)


def metadata_of_another_model(folder: Path) -> Path:
    model = fixture_model("float_ok", folder, with_metadata=False)
    shutil.copy(DATA / "input_32.json", model.with_suffix(".json"))
    return model


def metadata_not_json(folder: Path) -> Path:
    model = fixture_model("float_ok", folder, with_metadata=False)
    model.with_suffix(".json").write_text("{ not json")
    return model


# --- faults at start-up --------------------------------------------------------------------------------

MODEL_FAULTS = {
    "missing model": (lambda d: d / "nothing.tflite", r"nothing\.tflite: model file not found$"),
    "not a flatbuffer": (lambda d: model_with_honest_checksum(d / "notes.tflite", b"my model, version 2\n" * 50),
                         r"notes\.tflite: not a usable TFLite model \(.+\)$"),
    "a pickle named .tflite": (
        lambda d: model_with_honest_checksum(d / "pickled.tflite", pickle.dumps(CreatesFileWhenUnpickled(d / "pwned"))),
        r"pickled\.tflite: not a usable TFLite model \(.+\)$"),
    "RGB input": (lambda d: fixture_model("rgb_input", d),
                  r"rgb_input\.tflite: model input shape \[1, 28, 28, 3\] does not match the metadata's "
                  r"\[batch, 28, 28, 1\]$"),
    "32x32 input, metadata says 28x28": (
        lambda d: fixture_model("input_32", d),
        r"input_32\.tflite: model input shape \[1, 32, 32, 1\] does not match the metadata's \[batch, 28, 28, 1\]$"),
    "uint8 in and float out, metadata says int8": (
        lambda d: fixture_model("uint8_in_float_out", d),
        r"uint8_in_float_out\.tflite: model input type is uint8, metadata says int8$"),
    "5 outputs, 10 labels": (lambda d: fixture_model("five_classes", d),
                             r"five_classes\.tflite: model has 5 outputs but the metadata lists 10 labels$"),
    "metadata missing": (lambda d: fixture_model("float_ok", d, with_metadata=False),
                         r"float_ok\.json: metadata file not found"),
    "metadata of another model": (lambda d: metadata_of_another_model(d),
                                  r"float_ok\.tflite: the model does not match its metadata float_ok\.json"),
    "metadata not JSON": (lambda d: metadata_not_json(d), r"float_ok\.json: cannot read metadata"),
    "metadata of a newer format": (lambda d: edited_metadata(d, lambda m: m.update(format_version=3)),
                                   r"metadata format version 3 is not supported"),
    "metadata with a different input type": (
        lambda d: edited_metadata(d, lambda m: m["input"].update(
            dtype="int8", quantization={"scale": 1 / 255, "zero_point": -128})),
        r"float_ok\.tflite: model input type is float32, metadata says int8$"),
}


@pytest.mark.parametrize("fault", list(MODEL_FAULTS))
def test_model_fault_stops_before_any_input_is_read(fault, tmp_path, plain_page, capsys, monkeypatch):
    make, expected = MODEL_FAULTS[fault]
    models = tmp_path / "models"
    models.mkdir()
    model = make(models)
    page = write_page(plain_page, tmp_path / "page.png")
    read = []
    monkeypatch.setattr(edge.sources.streams, "read_pages", lambda *a, **k: read.append(a) or pytest.fail("input read"))

    code = edge.apps.recognize.main(["--model", str(model), "--json", "-o", str(tmp_path / "results.jsonl"),
                                "--out", str(tmp_path / "annotated"), str(page)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and read == []
    assert len(err.splitlines()) == 1, err
    assert err.startswith("digits-recognize: error: ") and re.search(expected, err.strip()), err
    assert not (tmp_path / "results.jsonl").exists() and not (tmp_path / "annotated").exists()
    assert not (models / "pwned").exists()


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["missing model", "RGB input"])
def test_model_fault_on_the_real_command_line(fault, tmp_path, plain_page):
    make, expected = MODEL_FAULTS[fault]
    (tmp_path / "models").mkdir()
    model = make(tmp_path / "models")
    write_page(plain_page, tmp_path / "page.png")
    result = subprocess.run([sys.executable, str(RECOGNIZE), "--model", str(model), "page.png", "-o", "out.jsonl"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("digits-recognize: error: ") and re.search(expected, line), line
    assert not (tmp_path / "out.jsonl").exists()


def test_npz_with_pickled_objects_is_refused_not_run(tmp_path):
    """Training data from elsewhere cannot run code: np.load is called with allow_pickle=False."""
    from trainer.data import DataError, load_npz

    marker = tmp_path / "pwned"
    digits = np.zeros((2, 28, 28), np.uint8)
    labels = np.zeros(2, np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=np.array([CreatesFileWhenUnpickled(marker)], dtype=object),
             y_train=labels, x_test=digits, y_test=labels)
    assert pickle.loads(pickle.dumps(CreatesFileWhenUnpickled(tmp_path / "proof"))) is not None
    assert (tmp_path / "proof").exists()  # the payload does work when unpickled
    with pytest.raises(DataError, match=r"mnist\.npz: not a readable npz file"):
        load_npz(tmp_path / "mnist.npz")
    assert not marker.exists()


def test_edge_code_runs_no_shell_and_unpickles_nothing():
    """A guard on the source: the edge package never hands input data to a shell or to pickle."""
    forbidden = {
        "a shell": r"shell\s*=\s*True|\bos\.system\(|\bos\.popen\(|\bos\.exec\w*\(|\bos\.spawn\w*\(",
        "pickle": r"\bpickle\.loads?\(|allow_pickle\s*=\s*True|\bmarshal\.loads?\(",
        "eval": r"(?<![\w.])(eval|exec)\(",
    }
    sources = sorted(Path(edge.__file__).parent.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for what, pattern in forbidden.items():
            assert not re.search(pattern, text), f"{path.name} uses {what}"


# --- outputs stay in their folders -------------------------------------------------------------------


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def test_no_input_name_writes_outside_out_and_debug(tmp_path, plain_page, recognizer):
    scan = write_page(plain_page, tmp_path / "scan.png")
    out = tmp_path / "deep" / "er" / "annotated"
    debug = tmp_path / "deep" / "er" / "debug"
    out.mkdir(parents=True)
    debug.mkdir(parents=True)
    hostile = [
        "../../escaped.png", "../../../../../../tmp/escaped.png", "a/../../b/../../escaped.png", "..", ".", "/",
        f"{tmp_path}/victim.png", "/etc/passwd", "~/.bashrc", "-rf.png", ".hidden.png", "C:\\Windows\\evil.png",
        "x" * 4000 + ".png", "\u00e9t\u00e9/\u00fcber.png", "caf\ufffd.png", "caf\udce9.png", "nul\x00byte.png",
        "new\nline.png", "con.png", "*.png", "$(touch pwned).png",
    ]
    before = _files_under(tmp_path)
    for name in hostile:
        outcome = read_one(Source(name, scan), recognizer, annotate_dir=out, debug_dir=debug)
        assert outcome.ok and "notes" not in outcome.record, (name, outcome.record)
    created = _files_under(tmp_path) - before
    assert created, "nothing was written"
    for path in created:
        assert path.parent in (out, debug), f"written outside --out/--debug: {path}"
        assert len(os.fsencode(path.name)) <= 255 and path.name.isascii() and not path.name.startswith(".")
    assert not (Path.home() / ".bashrc.png").exists() and not Path("/tmp/escaped.png").exists()


def test_distinct_inputs_get_distinct_annotated_copies(tmp_path, plain_page, recognizer):
    """--out keeps one annotated copy per input: names that sanitise alike must not overwrite each other."""
    scans = tmp_path / "scans"
    (scans / "x").mkdir(parents=True)
    for name in ("a b.png", "a_b.png", "a+b.png", "x/y.png", "x__y.png", "report.png", "report.jpg"):
        write_page(plain_page, scans / name)
    out = tmp_path / "annotated"
    out.mkdir()
    sources = list(expand_sources([str(scans)], recursive=True))
    assert len(sources) == 7
    for source in sources:
        assert read_one(source, recognizer, annotate_dir=out).ok
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == len(sources), f"{len(sources)} inputs, {len(written)} annotated copies: {written}"


@pytest.mark.slow
def test_shell_metacharacters_in_names_are_plain_names(tmp_path, plain_page):
    scans = tmp_path / "scans"
    scans.mkdir()
    names = ["$(touch pwned).png", ";touch pwned;.png", "`touch pwned`.png", "|touch pwned|.png",
             "&& touch pwned &&.png", "'quoted'.png", '"double".png', "[abc]*?.png"]
    for name in names:
        write_page(plain_page, scans / name)
    explicit = f"scans/{names[0]}"  # as an argument too (no glob characters: read as a plain file)
    result = subprocess.run(
        [sys.executable, str(RECOGNIZE), "scans", explicit, "scans/[abc]*?.png", "--json", "--out", "annotated",
         "--debug", "debug", "-o", "results.jsonl", "--csv", "digits.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == [f"scans/{n}" for n in sorted(names)] + [explicit, "scans/[abc]*?.png"]
    assert records[0]["digits"] and all(r["digits"] == records[0]["digits"] for r in records)  # one page, one reading
    assert not [p for p in tmp_path.rglob("*") if "pwned" == p.name], "a shell ran with an input name"
    assert not Path("pwned").exists()
    for folder in ("annotated", "debug"):
        assert all(p.parent == tmp_path / folder for p in (tmp_path / folder).rglob("*"))


@pytest.mark.slow
def test_error_lines_stay_one_line_whatever_the_file_name(tmp_path):
    """A name with a newline or a terminal escape must not split the error line or forge another one."""
    scans = tmp_path / "scans"
    scans.mkdir()
    names = ["fine\ndigits-recognize: forged", "\x1b]0;owned\x07\x1b[2J"]
    for name in names:
        (scans / f"{name}.png").write_bytes(b"")  # empty: one error each
    result = subprocess.run([sys.executable, str(RECOGNIZE), "scans", "--json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("digits-recognize: scans/") and line.endswith(": empty file") for line in lines)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
