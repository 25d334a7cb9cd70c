"""Datasets of one's own (register), $ACCELSIM_DATA, Fashion-MNIST."""

import pytest
import torch

from accelsim.data import DatasetError, DatasetInfo, dataset_info, dataset_names, load_dataset, register

INFO = DatasetInfo("tiny", 3, (1, 4, 4), (0.0,), (1.0,))


@pytest.fixture(autouse=True)
def _clean_registry():
    """Registrations of a test end with it: other tests see only the built-in datasets."""
    from accelsim.data import loading

    before = dict(loading._REGISTERED)
    yield
    loading._REGISTERED.clear()
    loading._REGISTERED.update(before)


def _loader(split, limit):
    x = torch.arange(6 * 16, dtype=torch.float32).reshape(6, 1, 4, 4)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return (x, y) if limit is None else (x[:limit], y[:limit])


def test_registered_dataset_loads_by_name():
    register("tiny-test", _loader, INFO, replace=True)
    x, y = load_dataset("tiny-test", limit=4)
    assert x.shape == (4, 1, 4, 4) and y.tolist() == [0, 1, 2, 0]
    assert dataset_info("tiny-test") is INFO
    assert "tiny-test" in dataset_names()


def test_register_refuses_builtins_and_duplicates():
    with pytest.raises(DatasetError, match="built-in dataset"):
        register("mnist", _loader, INFO)
    register("tiny-dup", _loader, INFO, replace=True)
    with pytest.raises(DatasetError, match="already registered"):
        register("tiny-dup", _loader, INFO)
    with pytest.raises(DatasetError, match="expected a DatasetInfo"):
        register("tiny-bad", _loader, {"classes": 3})


def test_accelsim_data_finds_a_folder_dataset(mnist_dir, monkeypatch):
    monkeypatch.setenv("ACCELSIM_DATA", str(mnist_dir.parent))
    x, y = load_dataset("mnist", limit=3)
    assert x.shape == (3, 1, 28, 28) and len(y) == 3
    assert dataset_info("mnist").n_test == 10000


def test_accelsim_data_without_the_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match=r"set \$ACCELSIM_DATA to a folder holding cifar-10-batches-py/"):
        load_dataset("cifar10")


def test_fashion_mnist_has_its_own_normalisation(mnist_dir):
    folder = mnist_dir.parent / "fashion-mnist"
    x, y = load_dataset(f"fashion-mnist:{folder}", limit=200)
    assert x.shape == (200, 1, 28, 28) and int(y.max()) <= 9
    # Normalised with Fashion-MNIST's constants: a white pixel maps to (1 - 0.2860) / 0.3530.
    assert float(x.max()) == pytest.approx((1 - 0.2860) / 0.3530, rel=1e-5)
