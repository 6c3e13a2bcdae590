"""Load MNIST from IDX files, an ``mnist.npz`` or Keras' download, and check what was loaded."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.runtime.metadata import InputSpec

log = logging.getLogger(__name__)

ENV_VAR = "MNIST_DATA"
# MNIST's own format, which the models are trained on and the edge normaliser reproduces: 28x28,
# ink bright on a dark ground, each digit fitted into a 20x20 box and centred by its centre of mass,
# pixels 0..255 fed as p / 255. The one place the trainer states it: training input, the model's
# input shape, the augmentation's centre and the metadata's input spec all derive from it.
MNIST_INPUT = InputSpec(
    height=28,
    width=28,
    polarity="light-on-dark",
    digit_box=20,
    centering="center-of-mass",
    scale=1.0 / 255.0,
    offset=0.0,
)
IMAGE_SHAPE = (MNIST_INPUT.height, MNIST_INPUT.width)
CANONICAL_COUNTS = {"train": 60000, "test": 10000}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE = 0x08


class DataError(ValueError):
    """A data file is missing, truncated or not what MNIST should be."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (N, 28, 28) uint8, ink bright on dark background
    y_train: np.ndarray  # (N,) uint8 in 0..9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def sha256(self) -> str:
        """Checksum of the arrays themselves, so IDX, gzip and npz copies of the same data agree."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def read_idx(path: str | Path) -> np.ndarray:
    """Decode one IDX file (optionally gzipped) of unsigned bytes, checking its header against its size."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as exc:  # gzip raises these for truncated or non-gzip content
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or dtype != _IDX_UBYTE or ndim not in (1, 3):
        raise DataError(
            f"{path}: wrong magic number 0x{int.from_bytes(raw[:4], 'big'):08x} "
            "(expected 0x00000801 for labels or 0x00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    body = len(raw) - header
    if body != expected:
        kind = "truncated" if body < expected else "has trailing bytes"
        raise DataError(f"{path}: {kind}: header says {'x'.join(map(str, dims))} = {expected} bytes, found {body}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing {stem}[.gz]")


def load_idx_folder(folder: str | Path) -> Mnist:
    folder = Path(folder)
    arrays = {key: read_idx(_find_idx(folder, stem)) for key, stem in IDX_FILES.items()}
    return Mnist(**arrays, source=str(folder))


def load_npz(path: str | Path) -> Mnist:
    """Keras' ``mnist.npz`` layout: arrays x_train, y_train, x_test, y_test."""
    path = Path(path)
    try:
        # allow_pickle=False: an npz from elsewhere must not be able to run code.
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in IDX_FILES if key not in npz.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)}")
            arrays = {key: npz[key] for key in IDX_FILES}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None
    return Mnist(**arrays, source=str(path))


def load_keras() -> Mnist:
    """Keras' own download (cached in ~/.keras/datasets); needs network access the first time."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:
        raise DataError(
            f"Keras could not download MNIST ({exc}); pass --data DIR or set {ENV_VAR} to a folder "
            "of IDX files or an mnist.npz"
        ) from None
    return Mnist(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")


def validate(data: Mnist) -> Mnist:
    """Check shapes, types, label range and counts; warn when counts differ from canonical MNIST."""
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        where = f"{data.source} ({split})"
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{where}: images have shape {x.shape}, expected (N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]})")
        if y.ndim != 1:
            raise DataError(f"{where}: labels have shape {y.shape}, expected (N,)")
        if len(x) != len(y):
            raise DataError(f"{where}: {len(x)} images but {len(y)} labels")
        if len(x) == 0:
            raise DataError(f"{where}: no images")
        if x.dtype != np.uint8:
            raise DataError(f"{where}: images are {x.dtype}, expected uint8")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise DataError(f"{where}: labels outside 0..9 (found {y.min()}..{y.max()})")
        if len(x) != CANONICAL_COUNTS[split]:
            log.warning("%s: %d images, canonical MNIST has %d", where, len(x), CANONICAL_COUNTS[split])
    return Mnist(
        data.x_train, data.y_train.astype(np.uint8), data.x_test, data.y_test.astype(np.uint8), data.source
    )


def load_mnist(location: str | Path | None = None) -> Mnist:
    """Load from ``location`` (a folder of IDX files or an .npz), else ``$MNIST_DATA``, else Keras."""
    location = location or os.environ.get(ENV_VAR) or None
    if location is None:
        data = load_keras()
    else:
        path = Path(location)
        if path.is_dir():
            data = load_idx_folder(path)
        elif path.suffix == ".npz":
            data = load_npz(path)
        elif not path.exists():
            raise DataError(f"{path}: no such file or folder")
        else:
            raise DataError(f"{path}: expected a folder of MNIST IDX files or an .npz file")
    return validate(data)


def split_validation(x: np.ndarray, y: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, ...]:
    """Hold out ``size`` training images, stratified by class, so validation never touches the test set."""
    if size <= 0:
        return x, y, x[:0], y[:0]
    if size >= len(x):
        raise DataError(f"validation size {size} leaves no training images out of {len(x)}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    # Largest remainders: per-class shares that add up to exactly ``size``.
    shares = size * counts / len(y)
    take = np.floor(shares).astype(int)
    take[np.argsort(take - shares)[: size - take.sum()]] += 1
    held = [rng.choice(np.flatnonzero(y == label), size=n, replace=False) for label, n in zip(classes, take)]
    val = np.sort(np.concatenate(held))
    keep = np.ones(len(x), bool)
    keep[val] = False
    return x[keep], y[keep], x[val], y[val]


def training_stroke_width(images: np.ndarray, sample: int = 2000) -> float:
    """Median pen width of training digits at their own size, which the edge normaliser aims for."""
    from edge.pipeline.normalize import stroke_width

    widths = [stroke_width(img >= 128) for img in images[:sample]]
    return round(float(np.median(widths)), 3)
