"""Tests of accelsim.data._spec: spec parsing, argument checks, DatasetInfo, normalise."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim._errors import UserInputError
from accelsim.data._spec import (
    DatasetError,
    DatasetInfo,
    check_limit,
    check_split,
    normalise,
    parse_spec,
)

NAMES = ("digits", "mnist", "cifar10")


def test_dataset_error_is_a_user_input_error():
    assert issubclass(DatasetError, UserInputError)


@pytest.mark.parametrize("spec, name", [("digits", "digits"), ("  MNIST ", "mnist"), ("cifar10", "cifar10")])
def test_parse_spec_without_folder(spec, name):
    assert parse_spec(spec, NAMES) == (name, None)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1))
def test_parse_spec_keeps_everything_after_the_first_colon(folder):
    name, directory = parse_spec(f"mnist:{folder}", NAMES)
    assert name == "mnist"
    try:
        expected = Path(folder.strip()).expanduser()
    except RuntimeError:  # "~user" of an unknown user stays as written
        expected = Path(folder.strip())
    assert directory == expected


def test_parse_spec_keeps_windows_drive_letters():
    assert parse_spec(r"cifar10:C:\data", NAMES) == ("cifar10", Path(r"C:\data"))


def test_parse_spec_expands_the_home_folder():
    _, directory = parse_spec("mnist:~/mnist", NAMES)
    assert directory == Path.home() / "mnist"


@pytest.mark.parametrize("spec", ["imagenet", "mnist2:/data", "", ":/data"])
def test_parse_spec_unknown_name_lists_the_valid_specs(spec):
    with pytest.raises(DatasetError, match=r"unknown dataset .*digits, mnist:DIR, cifar10:DIR"):
        parse_spec(spec, NAMES)


def test_parse_spec_rejects_an_empty_folder():
    with pytest.raises(DatasetError, match=r"'mnist:  ' has an empty folder; write mnist:DIR"):
        parse_spec("mnist:  ", NAMES)


def test_parse_spec_rejects_non_strings():
    with pytest.raises(DatasetError, match=r"dataset spec is 3 \(int\); expected a string"):
        parse_spec(3, NAMES)


@pytest.mark.parametrize("split", ["train", "test"])
def test_check_split_accepts_the_two_splits(split):
    assert check_split(split) == split


@pytest.mark.parametrize("split", ["val", "TEST", None])
def test_check_split_rejects_others(split):
    with pytest.raises(DatasetError, match=r"split is .*; expected one of 'train', 'test'"):
        check_split(split)


@given(st.integers(min_value=1))
def test_check_limit_accepts_positive_ints(limit):
    assert check_limit(limit) == limit
    assert check_limit(np.int64(min(limit, 2**62))) == min(limit, 2**62)


@pytest.mark.parametrize("limit", [0, -3, 2.0, True, "10"])
def test_check_limit_rejects_others(limit):
    with pytest.raises(DatasetError, match=r"limit is .*; expected None \(all examples\) or a positive int"):
        check_limit(limit)


def test_check_limit_passes_none():
    assert check_limit(None) is None


def _info(**changes):
    fields = dict(name="x", num_classes=10, input_shape=(3, 4, 4), mean=(0.1, 0.2, 0.3),
                  std=(1.0, 2.0, 3.0), n_train=5, n_test=2)
    fields.update(changes)
    return DatasetInfo(**fields)


def test_dataset_info_normalises_its_fields_to_tuples_of_float():
    info = _info(input_shape=[3, 4, 4], mean=np.array([0, 1, 2]), std=[1, 2, 3])
    assert info.input_shape == (3, 4, 4)
    assert info.mean == (0.0, 1.0, 2.0) and all(type(v) is float for v in info.mean)
    assert info.std == (1.0, 2.0, 3.0)


def test_dataset_info_is_frozen():
    with pytest.raises(AttributeError):
        _info().name = "y"


@pytest.mark.parametrize("changes, message", [
    (dict(num_classes=1), r"num_classes is 1; expected an int >= 2"),
    (dict(input_shape=(3, 4)), r"input_shape is \(3, 4\); expected \(channels, height, width\)"),
    (dict(input_shape=(3, 0, 4)), r"input_shape is \(3, 0, 4\)"),
    (dict(mean=(0.1, 0.2)), r"mean is \(0.1, 0.2\); expected 3 finite values"),
    (dict(std=(1.0, float("nan"), 1.0)), r"std is .*; expected 3 finite values"),
    (dict(std=(1.0, 0.0, 1.0)), r"std is .*; expected positive values"),
    (dict(n_test=-1), r"n_test is -1; expected None or an int >= 0"),
])
def test_dataset_info_rejects_inconsistent_fields(changes, message):
    with pytest.raises(DatasetError, match=message):
        _info(**changes)


def _normalise_reference(pixels, max_value, mean, std):
    out = np.empty(pixels.shape, dtype=np.float64)
    for c in range(pixels.shape[1]):
        out[:, c] = (pixels[:, c] / max_value - mean[c]) / std[c]
    return out


@settings(deadline=None, max_examples=50)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=4, max_dims=4, max_side=5)), st.data())
def test_normalise_matches_per_channel_reference(pixels, data):
    channels = pixels.shape[1]
    mean = data.draw(st.lists(st.floats(0, 1), min_size=channels, max_size=channels))
    std = data.draw(st.lists(st.floats(0.05, 1), min_size=channels, max_size=channels))
    out = normalise(pixels, 255.0, mean, std)
    assert out.dtype == torch.float32 and out.shape == pixels.shape and out.is_contiguous()
    np.testing.assert_allclose(out.numpy(), _normalise_reference(pixels, 255.0, mean, std),
                               rtol=1e-5, atol=1e-5)


def test_normalise_rejects_a_channel_mismatch():
    with pytest.raises(ValueError, match="do not match 1 channel constants"):
        normalise(np.zeros((2, 3, 4, 4), np.uint8), 255.0, (0.5,), (0.5,))
