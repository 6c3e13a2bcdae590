"""Read handwritten digits in images, scans, PDFs and camera frames with an int8 TFLite model.

    import edge
    reader = edge.Reader()
    print(reader.read("photo.jpg").text)

``Reader``, ``ReadError`` and ``ModelError`` are loaded on first use, so importing the package (as
the command line does at start-up) costs nothing.
"""

__version__ = "0.2.0"
__all__ = ["Reader", "ReadError", "ModelError", "__version__"]


def __getattr__(name: str):
    if name in ("Reader", "ReadError"):
        from edge import api

        return getattr(api, name)
    if name == "ModelError":
        from edge.runtime.classifier import ModelError

        return ModelError
    raise AttributeError(f"module 'edge' has no attribute {name!r}")
