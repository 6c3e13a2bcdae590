"""Small helpers shared by test modules (pytest puts this folder on the import path)."""

from __future__ import annotations

import os
from pathlib import Path

import edge

PACKAGE_PARENT = Path(edge.__file__).resolve().parent.parent


def app_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that imports the same ``edge`` as the tests do."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra)
    return env


def read_one(source, recognizer, **outputs):
    """What the command line does with one image file (``source``: an ``edge.sources.files.Source``),
    without the command line: its first result (a ``Result`` with ``ok``, ``record``, ``reading``)."""
    from edge.apps.driver import OutputSettings, RunSettings, read_document
    from edge.sources.streams import Input

    item = Input(source.name, "document", path=source.path, error=source.error)
    results = read_document(item, recognizer, RunSettings(outputs=OutputSettings(**outputs)))
    return results[0]
