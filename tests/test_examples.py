"""The bundled examples (what `make demo` reads) against what they say, through the real command."""

from __future__ import annotations

import json

from edge.apps.recognize import main

from conftest import ROOT

EXAMPLES = ROOT / "edge" / "examples"


def test_examples_read_as_written(capsys):
    """Every number found with the right length; at most one digit misread in each image.

    The examples are drawn in fonts the model never saw (Hershey script, slanted and bent), so a
    stated tolerance of one digit per image, as in a golden-file test; the README shows the output.
    """
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    assert main([str(EXAMPLES), "--json", "--no-progress"]) == 0
    records = {json.loads(line)["source"].rsplit("/", 1)[-1]: json.loads(line)
               for line in capsys.readouterr().out.splitlines()}
    assert set(records) == set(expected)
    for name, lines in expected.items():
        truth = [n for line in lines for n in line]
        read = records[name]["numbers"]
        assert [len(n) for n in read] == [len(n) for n in truth], (name, read, truth)
        wrong = sum(a != b for t, r in zip(truth, read) for a, b in zip(t, r))
        assert wrong <= 1, (name, read, truth)
        assert len(records[name]["text"].splitlines()) == len(lines), name


def test_exif_rotated_photo_reads_upright(capsys):
    """The phone photo is stored sideways with EXIF orientation 6: boxes come back in upright pixels."""
    assert main([str(EXAMPLES / "phone-photo-exif-rotated.jpg"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["width"], record["height"]) == (800, 600)
    assert record["numbers"] == ["555", "0199", "31"]
