"""Print, as one JSON object, what an environment really holds: the interpreter and the libraries.

Run inside each emulated environment by pi_check.py, with the environment's own Python. A library
imported from Debian's packages (the --system-site-packages route) is marked as such.
"""

from __future__ import annotations

import importlib.metadata
import json

import cv2
import numpy
import PIL

DEBIAN_SITE = "/usr/lib/python3/"


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


print(json.dumps({
    "runtimes": {name: _installed(name) for name in ("tflite-runtime", "ai-edge-litert", "tensorflow")},
    "libraries": {name: [module.__version__, module.__file__.startswith(DEBIAN_SITE)]
                  for name, module in (("numpy", numpy), ("OpenCV", cv2), ("Pillow", PIL))},
}))
