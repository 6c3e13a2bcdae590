"""MNIST loading: every supported layout, and a clear error for each kind of broken file."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from trainer.data import DataError, load_mnist, read_idx, split_validation

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def small_arrays(rng, n_train=50, n_test=20):
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }


def write_idx_folder(folder, arrays, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return folder


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_idx_folder_round_trip(tmp_path, rng, gz):
    arrays = small_arrays(rng)
    data = load_mnist(write_idx_folder(tmp_path / "mnist", arrays, gz))
    for key, array in arrays.items():
        np.testing.assert_array_equal(getattr(data, key), array)


def test_npz_and_idx_give_the_same_checksum(tmp_path, rng):
    arrays = small_arrays(rng)
    np.savez(tmp_path / "mnist.npz", **arrays)
    from_npz = load_mnist(tmp_path / "mnist.npz")
    from_idx = load_mnist(write_idx_folder(tmp_path / "idx", arrays, gz=True))
    assert from_npz.sha256 == from_idx.sha256
    np.testing.assert_array_equal(from_npz.x_test, arrays["x_test"])


def test_environment_variable_names_the_data(tmp_path, rng, monkeypatch):
    arrays = small_arrays(rng)
    monkeypatch.setenv("MNIST_DATA", str(write_idx_folder(tmp_path / "env", arrays, gz=False)))
    assert len(load_mnist().x_train) == len(arrays["x_train"])


def test_truncated_file_is_reported(tmp_path, rng):
    folder = write_idx_folder(tmp_path / "m", small_arrays(rng), gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated"):
        load_mnist(folder)


def test_truncated_gzip_is_reported(tmp_path, rng):
    folder = write_idx_folder(tmp_path / "m", small_arrays(rng), gz=True)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: cannot read"):
        load_mnist(folder)


def test_wrong_magic_number_is_reported(tmp_path, rng):
    folder = write_idx_folder(tmp_path / "m", small_arrays(rng), gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[2] = 0x0D  # float instead of unsigned byte
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="wrong magic number 0x00000d03"):
        read_idx(path)


def test_mismatched_counts_are_reported(tmp_path, rng):
    arrays = small_arrays(rng)
    arrays["y_train"] = arrays["y_train"][:-5]
    with pytest.raises(DataError, match=r"\(train\): 50 images but 45 labels"):
        load_mnist(write_idx_folder(tmp_path / "m", arrays, gz=True))


def test_labels_out_of_range_are_reported(tmp_path, rng):
    arrays = small_arrays(rng)
    arrays["y_test"][3] = 11
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=r"labels outside 0..9"):
        load_mnist(tmp_path / "bad.npz")


def test_wrong_image_shape_is_reported(tmp_path, rng):
    arrays = small_arrays(rng)
    arrays["x_train"] = rng.integers(0, 256, (50, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=r"shape \(50, 32, 32\), expected \(N, 28, 28\)"):
        load_mnist(tmp_path / "bad.npz")


def test_missing_file_in_folder_is_reported(tmp_path, rng):
    folder = write_idx_folder(tmp_path / "m", small_arrays(rng), gz=True)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-images-idx3-ubyte\[.gz\]"):
        load_mnist(folder)


def test_npz_missing_array_and_garbage(tmp_path, rng):
    arrays = small_arrays(rng)
    del arrays["y_test"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(DataError, match="missing arrays y_test"):
        load_mnist(tmp_path / "partial.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a readable npz"):
        load_mnist(tmp_path / "garbage.npz")


def test_nonexistent_location(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_mnist(tmp_path / "nowhere")


def test_real_mnist_counts_and_formats(mnist_dir, tmp_path):
    data = load_mnist(mnist_dir)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # The same data through gunzipped IDX files gives the same arrays and checksum.
    raw = tmp_path / "raw"
    raw.mkdir()
    for stem in IDX_NAMES.values():
        with gzip.open(f"{mnist_dir}/{stem}.gz", "rb") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    assert load_mnist(raw).sha256 == data.sha256


def test_validation_split_is_stratified_and_disjoint(rng):
    x = np.arange(1000)  # each "image" is its own index
    y = np.repeat(np.arange(10), 100)
    x_fit, y_fit, x_val, y_val = split_validation(x, y, 100, seed=3)
    assert len(x_val) == 100 and len(x_fit) == 900
    assert np.bincount(y_val).tolist() == [10] * 10
    assert not set(x_fit.tolist()) & set(x_val.tolist())
    np.testing.assert_array_equal(y_val, y[x_val])
