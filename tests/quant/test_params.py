import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.quant.params import MIN_SCALE, QuantParams, calibrate, params_from_range
from accelsim.quant.scheme import (
    GRANULARITIES,
    PRESETS,
    SUPPORTED_BITS,
    QuantError,
    QuantScheme,
)

float_arrays = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
    elements=st.floats(-10, 10, width=32),
)
formats = st.builds(
    QuantScheme,
    bits=st.sampled_from(SUPPORTED_BITS),
    granularity=st.sampled_from(GRANULARITIES),
    symmetric=st.booleans(),
    unsigned=st.booleans(),
)


def test_symmetric_scale_follows_stutz():
    # Delta = q_max / (2**(m-1) - 1)
    params = calibrate([torch.tensor([-0.5, 0.25, 1.27])], PRESETS["normal"])[0]
    assert params.scale.item() == pytest.approx(1.27 / 127)
    assert params.zero_point.item() == 0


def test_asymmetric_unsigned_scale_and_zero_point_follow_stutz():
    # Delta = (q_max - q_min) / (2**m - 1); q_min is level 0.
    params = calibrate([torch.tensor([-1.0, 0.0, 2.0])], PRESETS["rquant"].with_bits(2))[0]
    assert params.scale.item() == pytest.approx(1.0)
    assert params.zero_point.item() == pytest.approx(1.0)
    lo, hi = params.value_range()
    assert (lo.item(), hi.item()) == pytest.approx((-1.0, 2.0))


def test_asymmetric_signed_shifts_the_levels_by_half_the_codes():
    params = calibrate([torch.tensor([-1.0, 2.0])], PRESETS["asymmetric"].with_bits(2))[0]
    assert (params.min_level, params.max_level) == (-2, 1)
    assert params.zero_point.item() == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "symmetric, unsigned, levels",
    [(True, False, (-127, 127)), (True, True, (1, 255)), (False, False, (-128, 127)), (False, True, (0, 255))],
)
def test_levels_of_each_format(symmetric, unsigned, levels):
    scheme = QuantScheme(bits=8, symmetric=symmetric, unsigned=unsigned)
    params = params_from_range(-1.0, 1.0, scheme)
    assert (params.min_level, params.max_level) == levels


def test_global_shares_one_range():
    tensors = [torch.tensor([0.1, -0.2]), torch.tensor([[3.0, -1.0]]), torch.tensor(0.5)]
    params = calibrate(tensors, PRESETS["global"])
    assert all(p.scale.item() == pytest.approx(3.0 / 127) for p in params)
    assert all(p.scale.shape == () for p in params)


def test_tensor_granularity_gives_each_tensor_its_own_range():
    tensors = [torch.tensor([0.1, -0.2]), torch.tensor([[3.0, -1.0]])]
    small, large = calibrate(tensors, PRESETS["normal"])
    assert small.scale.item() == pytest.approx(0.2 / 127)
    assert large.scale.item() == pytest.approx(3.0 / 127)


def test_channel_granularity_calibrates_each_output_channel_like_a_tensor():
    torch.manual_seed(0)
    weight = torch.randn(5, 3, 2, 2) * torch.arange(1, 6).view(5, 1, 1, 1)
    bias = torch.randn(5)
    scheme = QuantScheme(granularity="channel")
    weight_params, bias_params = calibrate([weight, bias], scheme)
    assert weight_params.scale.shape == (5, 1, 1, 1)
    per_tensor = QuantScheme(granularity="tensor")
    for channel in range(5):
        expected = calibrate([weight[channel]], per_tensor)[0]
        assert weight_params.scale[channel].item() == pytest.approx(expected.scale.item())
        assert weight_params.zero_point[channel].item() == pytest.approx(expected.zero_point.item())
    # Vectors (biases) are calibrated per tensor.
    assert bias_params.scale.shape == ()


@pytest.mark.parametrize("fill", [0.0, 0.7, -3.0])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_constant_tensor_has_a_finite_positive_scale(name, fill):
    params = calibrate([torch.full((4, 3), fill)], PRESETS[name])[0]
    assert math.isfinite(params.scale.item()) and params.scale.item() >= MIN_SCALE
    assert math.isfinite(params.zero_point.item())


@pytest.mark.parametrize("symmetric", [True, False])
def test_clip_caps_the_range(symmetric):
    scheme = QuantScheme(symmetric=symmetric, clip=0.5)
    params = calibrate([torch.tensor([-2.0, 0.1, 0.3])], scheme)[0]
    lo, hi = params.value_range()
    assert lo.item() >= -0.5 - 1e-12 and hi.item() <= 0.5 + 1e-12
    assert max(-lo.item(), hi.item()) == pytest.approx(0.5)


@settings(deadline=None)
@given(float_arrays, formats)
def test_range_covers_the_tensor_without_clip(array, scheme):
    tensor = torch.from_numpy(array)
    params = calibrate([tensor], scheme)[0]
    lo, hi = params.value_range()
    slack = 1e-9 * (1 + tensor.abs().max().item())
    assert bool((lo <= tensor.double() + slack).all()) and bool((hi >= tensor.double() - slack).all())
    assert params.scale.dtype == torch.float64 and bool((params.scale >= MIN_SCALE).all())


@pytest.mark.parametrize(
    "tensors, match",
    [
        ([], "no tensors"),
        ([torch.tensor([1.0, float("nan")])], "NaN"),
        ([torch.tensor([1, 2])], "float"),
        ([np.ones(3)], "float"),
        ([torch.ones(0)], "empty"),
    ],
)
def test_calibrate_rejects_bad_tensors(tensors, match):
    with pytest.raises(QuantError, match=match):
        calibrate(tensors, PRESETS["rquant"])


def test_params_from_range_rejects_an_inverted_range():
    with pytest.raises(QuantError, match="lo > hi"):
        params_from_range(1.0, -1.0, PRESETS["rquant"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scale": torch.tensor(0.0)}, "scale must be > 0"),
        ({"scale": torch.tensor(float("inf"))}, "NaN or inf"),
        ({"scale": torch.tensor([0.1, 0.2])}, "shape"),
        ({"zero_point": torch.tensor(1)}, "floating-point"),
        ({"bits": 12}, "bits"),
        ({"unsigned": 1}, "unsigned"),
    ],
)
def test_quant_params_validate(kwargs, match):
    fields = dict(scale=torch.tensor(0.1), zero_point=torch.tensor(0.0), bits=8, unsigned=False, symmetric=True)
    with pytest.raises(QuantError, match=match):
        QuantParams(**{**fields, **kwargs})


def test_check_broadcast_refuses_params_of_another_tensor():
    params = calibrate([torch.ones(3, 2)], QuantScheme(granularity="channel"))[0]
    params.check_broadcast((3, 2))
    with pytest.raises(QuantError, match="broadcast"):
        params.check_broadcast((4, 2))
    with pytest.raises(QuantError, match="broadcast"):
        params.check_broadcast((3,))
