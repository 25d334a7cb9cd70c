"""Tests of accelsim.data.cifar10 on the shared subset and on small batch files."""

import os
import pickle

import numpy as np
import pytest
import torch

from accelsim.data._spec import DatasetError
from accelsim.data.cifar10 import (
    BATCH_FOLDER,
    CIFAR10_MEAN,
    CIFAR10_STD,
    TRAIN_BATCHES,
    batch_folder,
    cifar10_info,
    load_cifar10,
    read_batch,
)


def _write_batch(path, images, labels):
    """A batch as the official files store it: a protocol-2 pickle of a dict."""
    content = {"batch_label": "test", "labels": list(map(int, labels)),
               "data": images.reshape(len(images), -1), "filenames": [f"{i}.png" for i in range(len(images))]}
    path.write_bytes(pickle.dumps(content, protocol=2))


def _random_batch(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_shared_test_split(cifar10_dir):
    x, y = load_cifar10(cifar10_dir, "test")
    assert x.shape == (1000, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (1000,) and y.dtype == torch.int64
    assert torch.equal(torch.unique(y), torch.arange(10))
    # Constants of the full training set: a 1,000-image subset lands near 0 / 1 per channel.
    assert torch.all(x.mean(dim=(0, 2, 3)).abs() < 0.1)
    assert torch.all((x.std(dim=(0, 2, 3)) - 1).abs() < 0.1)


def test_shared_train_split_uses_the_batches_present(cifar10_dir):
    x, y = load_cifar10(cifar10_dir, "train")
    assert x.shape == (4000, 3, 32, 32) and y.shape == (4000,)


def test_folder_can_be_the_batch_folder_itself(cifar10_dir):
    x_outer, y_outer = load_cifar10(cifar10_dir, limit=20)
    x_inner, y_inner = load_cifar10(cifar10_dir / BATCH_FOLDER, limit=20)
    assert torch.equal(x_outer, x_inner) and torch.equal(y_outer, y_inner)


def test_channel_planes_and_normalisation(tmp_path):
    images = np.zeros((2, 3, 32, 32), np.uint8)
    images[0, 0] = 255  # a red image
    images[1, 2, 5, 7] = 255  # one blue pixel at row 5, column 7
    _write_batch(tmp_path / "test_batch", images, [3, 4])
    x, y = load_cifar10(tmp_path)
    expected = (images / 255.0 - np.array(CIFAR10_MEAN)[:, None, None]) / np.array(CIFAR10_STD)[:, None, None]
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert y.tolist() == [3, 4]


def test_train_split_concatenates_batches_in_order_and_limit_stops_early(tmp_path):
    first, second = _random_batch(3, 1), _random_batch(4, 2)
    _write_batch(tmp_path / "data_batch_1", *first)
    _write_batch(tmp_path / "data_batch_3", *second)
    x, y = load_cifar10(tmp_path, "train")
    assert y.tolist() == [*first[1], *second[1]]
    (tmp_path / "data_batch_3").write_bytes(b"not read when the limit is met by the first batch")
    x_limited, y_limited = load_cifar10(tmp_path, "train", limit=2)
    assert torch.equal(x_limited, x[:2]) and torch.equal(y_limited, y[:2])


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(DatasetError, match=r"cifar10 folder .*absent does not exist.*cifar-10-batches-py"):
        load_cifar10(tmp_path / "absent")


def test_folder_without_batches_names_the_layout(tmp_path):
    with pytest.raises(DatasetError, match=r"has no cifar-10-batches-py folder and no batch file; "
                                           r"expected DIR/cifar-10-batches-py/\{data_batch_1"):
        batch_folder(tmp_path)


def test_missing_test_batch_is_named(tmp_path):
    _write_batch(tmp_path / "data_batch_1", *_random_batch(2, 0))
    with pytest.raises(DatasetError, match=r"has no test_batch; expected DIR/cifar-10-batches-py"):
        load_cifar10(tmp_path, "test")


def test_missing_train_batches_are_listed(tmp_path):
    (tmp_path / BATCH_FOLDER).mkdir()
    _write_batch(tmp_path / BATCH_FOLDER / "test_batch", *_random_batch(2, 0))
    with pytest.raises(DatasetError, match=rf"has none of {', '.join(TRAIN_BATCHES)}; the train split needs"):
        load_cifar10(tmp_path, "train")


def test_corrupt_batch_is_reported(tmp_path):
    (tmp_path / "test_batch").write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(DatasetError, match=r"test_batch is not a CIFAR-10 python batch"):
        load_cifar10(tmp_path)


class _RunsCode:
    def __reduce__(self):
        return (os.remove, (self.target,))


def test_foreign_pickle_is_refused_without_running_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    payload = _RunsCode()
    payload.target = str(victim)
    (tmp_path / "test_batch").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DatasetError, match=r"refused global (posix|nt|os)\.(remove|unlink)"):
        read_batch(tmp_path / "test_batch")
    assert victim.read_text() == "still here"


@pytest.mark.parametrize("content, message", [
    ([1, 2, 3], r"lacks the CIFAR-10 batch content"),
    ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, r"lacks the CIFAR-10 batch content"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, r"lacks the CIFAR-10 batch content"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]}, r"holds labels 0\.\.12; expected 0 to 9"),
])
def test_wrong_batch_content_is_rejected(tmp_path, content, message):
    (tmp_path / "test_batch").write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(DatasetError, match=message):
        read_batch(tmp_path / "test_batch")


def test_info(cifar10_dir):
    info = cifar10_info(cifar10_dir)
    assert info.input_shape == (3, 32, 32) and info.mean == CIFAR10_MEAN and info.std == CIFAR10_STD
    with pytest.raises(DatasetError, match="does not exist"):
        cifar10_info(cifar10_dir / "absent")
