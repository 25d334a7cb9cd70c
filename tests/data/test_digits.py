"""Tests of accelsim.data.digits: the fixed split, its constants and the loader."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.data._spec import DatasetError
from accelsim.data.digits import (
    DIGITS_INFO,
    DIGITS_MEAN,
    DIGITS_N_TEST,
    DIGITS_STD,
    digits_pixels,
    load_digits,
    stratified_split,
)


@settings(max_examples=60)
@given(st.lists(st.integers(0, 4), min_size=2, max_size=200), st.data())
def test_stratified_split_partitions_with_class_proportions(labels, data):
    labels = np.array(labels)
    n_test = data.draw(st.integers(1, len(labels) - 1))
    seed = data.draw(st.integers(0, 2**32 - 1))
    train, test = stratified_split(labels, n_test, seed)
    assert len(test) == n_test
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    for c in np.unique(labels):
        quota = np.sum(labels == c) * n_test / len(labels)
        assert np.floor(quota) <= np.sum(labels[test] == c) <= np.floor(quota) + 1
    again = stratified_split(labels, n_test, seed)
    assert np.array_equal(again[1], test)


def test_stratified_split_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="0 < n_test < 3"):
        stratified_split(np.array([0, 1, 1]), 3, 0)


def test_split_sizes_and_balance():
    train_pixels, train_labels = digits_pixels("train")
    test_pixels, test_labels = digits_pixels("test")
    assert train_pixels.shape == (797, 1, 8, 8) and test_pixels.shape == (DIGITS_N_TEST, 1, 8, 8) == (1000, 1, 8, 8)
    assert (len(train_labels), len(test_labels)) == (DIGITS_INFO.n_train, DIGITS_INFO.n_test)
    assert np.bincount(test_labels, minlength=10).min() >= 35


def test_constants_are_the_train_split_statistics():
    pixels, _ = digits_pixels("train")
    scaled = pixels / 16.0
    assert DIGITS_MEAN[0] == pytest.approx(scaled.mean(), rel=1e-12)
    assert DIGITS_STD[0] == pytest.approx(scaled.std(), rel=1e-12)


def test_loaded_train_split_is_standardised():
    x, y = load_digits("train")
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.mean().item() == pytest.approx(0, abs=1e-5)
    assert x.std(correction=0).item() == pytest.approx(1, abs=1e-5)


def test_test_split_matches_the_pixels_and_limit_keeps_the_first():
    pixels, labels = digits_pixels("test")
    x, y = load_digits("test")
    np.testing.assert_allclose(x.numpy(), (pixels / 16 - DIGITS_MEAN[0]) / DIGITS_STD[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), labels)
    x_few, y_few = load_digits("test", limit=7)
    assert torch.equal(x_few, x[:7]) and torch.equal(y_few, y[:7])


def test_splits_are_disjoint():
    train, _ = digits_pixels("train")
    test, _ = digits_pixels("test")
    train_rows = {row.tobytes() for row in train.reshape(len(train), -1)}
    shared = sum(row.tobytes() in train_rows for row in test.reshape(len(test), -1))
    # The 1,797 images hold a few exact duplicates; a wrong split would share hundreds.
    assert shared <= 5


def test_bad_arguments():
    with pytest.raises(DatasetError, match="split is 'valid'"):
        load_digits("valid")
    with pytest.raises(DatasetError, match="limit is 0"):
        load_digits(limit=0)


def test_digits_file_reads_as_scikit_learn_loads_it():
    from sklearn.datasets import load_digits as sklearn_digits

    from accelsim.data.digits import _sklearn_digits

    images, target = _sklearn_digits()
    bunch = sklearn_digits()
    assert images.dtype == bunch.images.dtype and np.array_equal(images, bunch.images)
    assert np.array_equal(target, bunch.target)


def test_digits_fall_back_to_scikit_learn_when_its_file_moved(monkeypatch):
    import importlib.util

    from accelsim.data import digits

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    images, target = digits._sklearn_digits()
    assert images.shape == (1797, 8, 8) and target.shape == (1797,)
