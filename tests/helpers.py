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
