"""LayerWorkload: validation, derived counts and the dict round trip."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.accel import AcceleratorError, LayerWorkload

BASE = dict(name="fc", kind="linear", n_weights=66, weight_bits=8, macs=60, act_in=10,
            act_out=6, act_bits=8)


@st.composite
def workloads(draw):
    channels = draw(st.integers(1, 64))
    pixels = draw(st.integers(1, 64))
    groups = draw(st.sampled_from([g for g in (1, 2, 4) if channels % g == 0]))
    shape = (channels,) if pixels == 1 else (channels, pixels)
    return LayerWorkload(
        name=draw(st.text(min_size=1, max_size=8).filter(str.strip)),
        kind=draw(st.sampled_from(["conv", "linear", "norm"])),
        n_weights=draw(st.integers(0, 10**6)),
        weight_bits=draw(st.integers(1, 32)),
        macs=channels * pixels * draw(st.integers(0, 300)),
        act_in=draw(st.integers(0, 10**5)),
        act_out=channels * pixels,
        act_bits=draw(st.integers(1, 32)),
        output_shape=draw(st.sampled_from([None, shape])),
        zero_fraction=draw(st.floats(0.0, 1.0)),
        groups=groups,
    )


@given(workloads())
def test_dict_round_trip_through_json(workload):
    assert LayerWorkload.from_dict(json.loads(json.dumps(workload.to_dict()))) == workload


@given(workloads())
def test_derived_counts_are_consistent(workload):
    assert workload.out_channels * workload.output_pixels == workload.act_out
    assert workload.reduction_length * workload.act_out >= workload.macs
    assert workload.weight_bits_total == workload.n_weights * workload.weight_bits


def test_output_shape_gives_channels_and_pixels():
    conv = LayerWorkload(**{**BASE, "kind": "conv", "act_out": 48, "macs": 864},
                         output_shape=(3, 4, 4))
    assert (conv.out_channels, conv.output_pixels, conv.reduction_length) == (3, 16, 18)
    flat = LayerWorkload(**BASE)
    assert (flat.out_channels, flat.output_pixels) == (6, 1)


def test_numpy_integers_are_normalised():
    workload = LayerWorkload(**{**BASE, "n_weights": np.int64(66)}, output_shape=[np.int64(6)])
    assert type(workload.n_weights) is int
    assert workload.output_shape == (6,)


@pytest.mark.parametrize("field, value, match", [
    ("n_weights", -1, r"LayerWorkload\('fc'\)\.n_weights = -1: expected an integer >= 0"),
    ("weight_bits", 0, r"weight_bits = 0: expected an integer in \[1, 32\]"),
    ("weight_bits", 8.0, r"weight_bits = 8\.0"),
    ("act_bits", 33, r"act_bits = 33"),
    ("macs", True, r"macs = True"),
    ("zero_fraction", 1.5, r"zero_fraction = 1\.5: expected a finite number in \[0, 1\]"),
    ("name", "", r"name = ''"),
    ("kind", None, r"kind = None"),
    ("output_shape", (5,), r"output_shape = \(5,\) holds 5 elements, act_out = 6"),
    ("output_shape", (6, 0), r"output_shape\[1\] = 0"),
    ("output_shape", "6", r"output_shape = '6'"),
    ("groups", 4, r"groups = 4 does not divide the 6 output channels"),
])
def test_invalid_fields_are_named(field, value, match):
    with pytest.raises(AcceleratorError, match=match):
        LayerWorkload(**{**BASE, field: value})


def test_macs_need_outputs():
    with pytest.raises(AcceleratorError, match="act_out = 0"):
        LayerWorkload(**{**BASE, "act_out": 0})


def test_from_dict_names_unknown_and_missing_keys():
    with pytest.raises(AcceleratorError, match="unknown key.*bias"):
        LayerWorkload.from_dict({**BASE, "bias": 1})
    with pytest.raises(AcceleratorError, match="incomplete"):
        LayerWorkload.from_dict({"name": "fc"})
    with pytest.raises(AcceleratorError, match="expected a dict"):
        LayerWorkload.from_dict([1, 2])


def test_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        LayerWorkload(**BASE).macs = 1
