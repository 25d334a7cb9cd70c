"""Tests of accelsim.data.loading: dispatch of specs to loaders, and dataset_info."""

import pytest
import torch

import accelsim
from accelsim.data import DATASET_NAMES, DatasetError, dataset_info, load_dataset


def test_digits_through_the_public_api():
    x, y = accelsim.load_dataset("digits", limit=5)
    assert x.shape == (5, *dataset_info("digits").input_shape) and y.shape == (5,)


def test_mnist_spec(mnist_dir):
    x, y = load_dataset(f"mnist:{mnist_dir}", limit=3)
    info = dataset_info(f"mnist:{mnist_dir}")
    assert tuple(x.shape[1:]) == info.input_shape and y.dtype == torch.int64
    assert info.n_test == 10000


@pytest.mark.parametrize("split, n", [("test", 1000), ("train", 4000)])
def test_cifar10_spec(cifar10_dir, split, n):
    x, y = load_dataset(f"cifar10:{cifar10_dir}", split)
    assert x.shape == (n, *dataset_info("cifar10").input_shape) and len(y) == n


@pytest.mark.parametrize("name", [n for n in DATASET_NAMES if n != "text"])
def test_info_without_folder(name):
    info = dataset_info(name)
    assert info.name == name and info.num_classes == 10
    assert len(info.mean) == len(info.std) == info.input_shape[0]


def test_text_has_no_image_info():
    with pytest.raises(DatasetError, match="language models"):
        dataset_info("text")


def test_unknown_spec_lists_the_valid_ones():
    expected = r"unknown dataset 'svhn:/data'; expected one of: digits, mnist:DIR, fashion-mnist:DIR, cifar10:DIR"
    with pytest.raises(DatasetError, match=expected):
        load_dataset("svhn:/data")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_folder_datasets_need_a_folder(name, monkeypatch):
    monkeypatch.delenv("ACCELSIM_DATA", raising=False)
    with pytest.raises(DatasetError, match=rf"'{name}' names no folder; write {name}:DIR .*never downloads"):
        load_dataset(name)


def test_digits_takes_no_folder():
    with pytest.raises(DatasetError, match=r"digits ships inside scikit-learn and takes no folder"):
        dataset_info("digits:/data")


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"cifar10 folder .*absent does not exist"):
        load_dataset(f"cifar10:{tmp_path / 'absent'}")


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="validation"), r"split is 'validation'"),
    (dict(limit=-1), r"limit is -1"),
])
def test_bad_split_or_limit_fails_before_reading(tmp_path, kwargs, message):
    # The folder is empty: the argument error must come first, not a missing file.
    with pytest.raises(DatasetError, match=message):
        load_dataset(f"mnist:{tmp_path}", **kwargs)
