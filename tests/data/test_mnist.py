"""Tests of accelsim.data.mnist on the shared MNIST copy and on small IDX files."""


import numpy as np
import pytest
import torch

from accelsim.data._spec import DatasetError
from accelsim.data.idx import write_idx
from accelsim.data.mnist import (
    MNIST_FILES,
    MNIST_MEAN,
    MNIST_STD,
    load_mnist,
    mnist_file,
    mnist_info,
)


def _write_split(folder, split, images, labels, suffix=""):
    image_name, label_name = MNIST_FILES[split]
    write_idx(folder / (image_name + suffix), images)
    write_idx(folder / (label_name + suffix), labels)


@pytest.fixture
def small_images():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=5, dtype=np.uint8)


def test_shared_test_split_shapes_and_normalisation(mnist_dir):
    x, y = load_mnist(mnist_dir, "test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert torch.equal(torch.unique(y), torch.arange(10))
    # 0.1307 / 0.3081 are the training set's statistics: the test set lands close to 0 / 1.
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05
    assert x.min().item() == pytest.approx(-MNIST_MEAN[0] / MNIST_STD[0])
    assert x.max().item() == pytest.approx((1 - MNIST_MEAN[0]) / MNIST_STD[0])


def test_shared_train_split_is_standardised(mnist_dir):
    x, y = load_mnist(mnist_dir, "train")
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    assert x.mean().item() == pytest.approx(0, abs=1e-3)
    assert x.std().item() == pytest.approx(1, abs=1e-3)


def test_shared_info_counts_from_headers(mnist_dir):
    info = mnist_info(mnist_dir)
    assert (info.n_train, info.n_test) == (60000, 10000)
    assert info.input_shape == (1, 28, 28) and info.num_classes == 10


def test_info_without_folder_leaves_counts_unknown():
    info = mnist_info()
    assert info.n_train is None and info.n_test is None and info.mean == MNIST_MEAN


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_small_files_plain_or_gzipped(tmp_path, small_images, suffix):
    images, labels = small_images
    _write_split(tmp_path, "test", images, labels, suffix)
    x, y = load_mnist(tmp_path, "test")
    expected = (images[:, None] / 255.0 - MNIST_MEAN[0]) / MNIST_STD[0]
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), labels)


def test_train_split_reads_the_train_files(tmp_path, small_images):
    images, labels = small_images
    _write_split(tmp_path, "train", images[:3], labels[:3], ".gz")
    x, y = load_mnist(tmp_path, "train")
    assert x.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(y.numpy(), labels[:3])


def test_limit_keeps_the_first_examples(tmp_path, small_images):
    images, labels = small_images
    _write_split(tmp_path, "test", images, labels)
    x_all, y_all = load_mnist(tmp_path)
    x, y = load_mnist(tmp_path, limit=2)
    assert torch.equal(x, x_all[:2]) and torch.equal(y, y_all[:2])
    assert len(load_mnist(tmp_path, limit=50)[0]) == 5


def test_plain_file_wins_over_gzipped(tmp_path, small_images):
    images, labels = small_images
    _write_split(tmp_path, "test", images, labels)
    _write_split(tmp_path, "test", images[:2], labels[:2], ".gz")
    assert mnist_file(tmp_path, MNIST_FILES["test"][0]).name == MNIST_FILES["test"][0]
    assert len(load_mnist(tmp_path)[1]) == 5


def test_missing_folder_names_the_layout(tmp_path):
    with pytest.raises(DatasetError, match=r"mnist folder .*nowhere does not exist.*t10k-images-idx3-ubyte\[\.gz\]"):
        load_mnist(tmp_path / "nowhere")


def test_missing_label_file_is_named(tmp_path, small_images):
    images, _ = small_images
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    with pytest.raises(DatasetError, match=r"has no t10k-labels-idx1-ubyte \(nor t10k-labels-idx1-ubyte\.gz\); "
                                           r"expected the four standard IDX files"):
        load_mnist(tmp_path)


def test_bad_magic_is_reported(tmp_path, small_images):
    images, labels = small_images
    _write_split(tmp_path, "test", images, labels)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\xde\xad\xbe\xef" * 4)
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte is not an IDX file: its magic number is deadbeef"):
        load_mnist(tmp_path)


def test_swapped_files_are_reported(tmp_path, small_images):
    images, labels = small_images
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", images)
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte holds uint8 5x28x28 data; expected 5 uint8 labels"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((2, 32, 32), np.uint8), np.zeros(2, np.uint8), r"holds uint8 2x32x32 data; expected uint8 N x 28 x 28"),
    (np.zeros((2, 28, 28), np.int32), np.zeros(2, np.uint8), r"holds int32 2x28x28 data"),
    (np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.uint8), r"holds uint8 3 data; expected 2 uint8 labels"),
    (np.zeros((2, 28, 28), np.uint8), np.array([1, 10], np.uint8), r"holds label 10; expected labels 0 to 9"),
])
def test_inconsistent_files_are_rejected(tmp_path, images, labels, message):
    _write_split(tmp_path, "test", images, labels)
    with pytest.raises(DatasetError, match=message):
        load_mnist(tmp_path)


def test_fashion_mnist_reads_the_mnist_layout_with_its_own_constants(tmp_path):
    import numpy as np

    from accelsim.data import dataset_info, load_dataset

    images = np.full((3, 28, 28), 255, dtype=np.uint8)
    labels = np.array([0, 9, 4], dtype=np.uint8)
    for split, (image_name, label_name) in {"test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}.items():
        _write_idx(tmp_path / image_name, images)
        _write_idx(tmp_path / label_name, labels)
    x, y = load_dataset(f"fashion-mnist:{tmp_path}", "test")
    assert y.tolist() == [0, 9, 4]
    assert float(x[0, 0, 0, 0]) == pytest.approx((1 - 0.2860) / 0.3530, rel=1e-5)
    info = dataset_info("fashion-mnist")
    assert (info.name, info.input_shape, info.num_classes) == ("fashion-mnist", (1, 28, 28), 10)


def _write_idx(path, array):
    import struct

    codes = {1: 0x0801, 3: 0x0803}
    with open(path, "wb") as file:
        file.write(struct.pack(">I", codes[array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape))
        file.write(array.tobytes())
