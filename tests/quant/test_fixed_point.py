import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.quant.fixed_point import dequantize, fake_quantize, quantize
from accelsim.quant.params import calibrate, params_from_range
from accelsim.quant.scheme import (
    GRANULARITIES,
    PRESETS,
    ROUNDINGS,
    SUPPORTED_BITS,
    QuantError,
    QuantScheme,
    get_scheme,
)

arrays = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    elements=st.floats(-10, 10, width=32),
)
schemes = st.builds(
    QuantScheme,
    bits=st.sampled_from(SUPPORTED_BITS),
    granularity=st.sampled_from(GRANULARITIES),
    symmetric=st.booleans(),
    unsigned=st.booleans(),
    rounding=st.sampled_from(ROUNDINGS),
    clip=st.none() | st.floats(0.01, 20),
)
FLOAT32_ROUNDING = 2.0**-23  # relative, with margin over float32's 2**-24


def with_zero_in_every_range(array):
    """Weight ranges hold 0; float32 then resolves every level of 16-bit codes."""
    array = array.copy()
    if array.ndim >= 2:
        array.reshape(array.shape[0], -1)[:, 0] = 0
    else:
        array[0] = 0
    return torch.from_numpy(array)


def calibrated(array, scheme):
    tensor = with_zero_in_every_range(array)
    return tensor, calibrate([tensor], scheme)[0]


@settings(deadline=None)
@given(arrays, schemes)
def test_codes_are_int64_patterns_in_range(array, scheme):
    tensor, params = calibrated(array, scheme)
    codes = quantize(tensor, params, scheme)
    assert codes.dtype == torch.int64 and codes.shape == tensor.shape
    assert int(codes.min()) >= 0 and int(codes.max()) < 2**scheme.bits


@settings(deadline=None)
@given(arrays, schemes.filter(lambda s: s.clip is None))
def test_round_trip_error_is_within_half_a_step_or_one_step(array, scheme):
    tensor, params = calibrated(array, scheme)
    values = dequantize(quantize(tensor, params, scheme), params).double()
    x = tensor.double()
    error = (values - x).abs()
    # float32 rounding of the input and of the dequantized value (a zero input can dequantize to
    # +-half a step, computed in float32)
    float_slack = FLOAT32_ROUNDING * torch.maximum(x.abs(), values.abs())
    steps = params.scale.expand_as(x)
    if scheme.rounding == "nearest":
        assert bool((error <= 0.5 * steps + float_slack).all())
    else:
        assert bool((error < steps + float_slack).all())


@settings(deadline=None)
@given(arrays, schemes.filter(lambda s: s.rounding == "truncate"))
def test_truncation_moves_towards_the_origin_of_the_range(array, scheme):
    tensor, params = calibrated(array, scheme)
    values = dequantize(quantize(tensor, params, scheme), params).double()
    lo, hi = params.value_range()
    x = tensor.double().clamp(lo, hi)
    slack = 2.0**-7 * params.scale + FLOAT32_ROUNDING * x.abs()
    if scheme.symmetric:
        assert bool((values.abs() <= x.abs() + slack).all())
        assert bool((values * x >= 0).all())
    else:
        assert bool((values <= x + slack).all())


@settings(deadline=None)
@given(arrays, schemes)
def test_dequantize_then_quantize_is_idempotent(array, scheme):
    tensor, params = calibrated(array, scheme)
    codes = quantize(tensor, params, scheme)
    assert torch.equal(quantize(dequantize(codes, params), params, scheme), codes)


@settings(deadline=None)
@given(arrays, schemes)
def test_quantization_is_monotone(array, scheme):
    scheme = QuantScheme(scheme.bits, "tensor", scheme.symmetric, scheme.unsigned, scheme.rounding, scheme.clip)
    tensor, params = calibrated(array, scheme)
    ordered = tensor.flatten().sort().values
    values = dequantize(quantize(ordered, params, scheme), params)
    assert bool((values[1:] >= values[:-1]).all())


def reference_signed_value(patterns, bits):
    """Two's complement by numpy's own int8/int16 view, sign-extended from ``bits``."""
    if bits == 16:
        return patterns.astype(np.uint16).view(np.int16).astype(np.int64)
    shift = 8 - bits
    return ((patterns << shift).astype(np.uint8).view(np.int8) >> shift).astype(np.int64)


@pytest.mark.parametrize("bits", SUPPORTED_BITS)
@pytest.mark.parametrize("unsigned", [False, True])
def test_dequantize_decodes_every_pattern(bits, unsigned):
    scheme = QuantScheme(bits=bits, symmetric=False, unsigned=unsigned)
    params = params_from_range(-0.3, 0.9, scheme)
    patterns = np.arange(2**bits, dtype=np.int64)
    levels = patterns if unsigned else reference_signed_value(patterns, bits)
    expected = (levels - params.zero_point.item()) * params.scale.item()
    values = dequantize(torch.from_numpy(patterns), params)
    assert values.dtype == torch.float32
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bits", SUPPORTED_BITS)
def test_signed_msb_flip_makes_a_non_negative_value_negative(bits):
    scheme = PRESETS["normal"].with_bits(bits)
    params = params_from_range(-1.0, 1.0, scheme)
    x = torch.linspace(0.0, 1.0, 101)
    codes = quantize(x, params, scheme)
    flipped = dequantize(codes ^ (1 << (bits - 1)), params)
    assert bool((flipped < 0).all())
    half = 2 ** (bits - 1) * params.scale.item()
    torch.testing.assert_close(flipped.double(), dequantize(codes, params).double() - half)


@pytest.mark.parametrize("bits", SUPPORTED_BITS)
def test_unsigned_msb_flip_moves_by_half_the_range(bits):
    scheme = PRESETS["rquant"].with_bits(bits)
    params = params_from_range(-0.5, 1.5, scheme)
    codes = torch.arange(2 ** (bits - 1))  # MSB clear
    before = dequantize(codes, params).double()
    after = dequantize(codes ^ (1 << (bits - 1)), params).double()
    half = 2 ** (bits - 1) * params.scale.item()
    torch.testing.assert_close(after - before, torch.full_like(before, half))


# Hand-computed: 4-bit symmetric signed, q_max = 1, Delta = 1/7;
# w / Delta = [-7, -3.5, 1.82, 7, 9.1].
@pytest.mark.parametrize(
    "rounding, levels",
    [("nearest", [-7, -4, 2, 7, 7]), ("truncate", [-7, -3, 1, 7, 7])],
)
def test_symmetric_signed_example(rounding, levels):
    scheme = QuantScheme(bits=4, symmetric=True, unsigned=False, rounding=rounding)
    params = params_from_range(-1.0, 1.0, scheme)
    codes = quantize(torch.tensor([-1.0, -0.5, 0.26, 1.0, 1.3]), params, scheme)
    assert codes.tolist() == [level % 16 for level in levels]
    torch.testing.assert_close(dequantize(codes, params), torch.tensor(levels, dtype=torch.float32) / 7)


# Hand-computed: 2-bit asymmetric on [-1, 2], Delta = 1; (w - q_min) / Delta = [0, 1.4, 1.6, 3].
@pytest.mark.parametrize(
    "unsigned, rounding, codes",
    [
        (True, "nearest", [0, 1, 2, 3]),
        (True, "truncate", [0, 1, 1, 3]),
        (False, "nearest", [2, 3, 0, 1]),  # levels -2, -1, 0, 1 in two's complement
        (False, "truncate", [2, 3, 3, 1]),
    ],
)
def test_asymmetric_example(unsigned, rounding, codes):
    scheme = QuantScheme(bits=2, symmetric=False, unsigned=unsigned, rounding=rounding)
    params = params_from_range(-1.0, 2.0, scheme)
    result = quantize(torch.tensor([-1.0, 0.4, 0.6, 2.0]), params, scheme)
    assert result.tolist() == codes
    offsets = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0} if unsigned else {2: 0.0, 3: 1.0, 0: 2.0, 1: 3.0}
    expected = torch.tensor([offsets[c] - 1.0 for c in codes])
    torch.testing.assert_close(dequantize(result, params), expected)


def test_symmetric_unsigned_example():
    # 3 bits, Delta = 1/3, zero at offset 4: levels -3, 0, 3 stored as 1, 4, 7.
    scheme = QuantScheme(bits=3, symmetric=True, unsigned=True, rounding="nearest")
    params = params_from_range(-1.0, 1.0, scheme)
    codes = quantize(torch.tensor([-1.0, 0.0, 1.0]), params, scheme)
    assert codes.tolist() == [1, 4, 7]
    assert dequantize(torch.tensor([0]), params).item() == pytest.approx(-4 / 3)


def test_per_channel_codes_use_each_channels_step():
    scheme = QuantScheme(bits=8, granularity="channel", symmetric=True, unsigned=False)
    weight = torch.tensor([[1.0, -0.5], [0.01, 0.02]])
    params = calibrate([weight], scheme)[0]
    codes = quantize(weight, params, scheme)
    assert codes[1, 1].item() == 127 and codes[0, 0].item() == 127
    torch.testing.assert_close(dequantize(codes, params), weight, atol=0.5 / 127, rtol=0)


def test_values_outside_the_range_saturate():
    scheme = QuantScheme(bits=4, symmetric=True, unsigned=False, clip=0.5)
    params = params_from_range(-3.0, 3.0, scheme)
    values = dequantize(quantize(torch.tensor([-3.0, 3.0]), params, scheme), params)
    torch.testing.assert_close(values, torch.tensor([-0.5, 0.5]))


@settings(deadline=None)
@given(arrays, schemes)
def test_fake_quantize_forward_and_straight_through_gradient(array, scheme):
    tensor, params = calibrated(array, scheme)
    x = tensor.clone().requires_grad_(True)
    y = fake_quantize(x, params, scheme)
    torch.testing.assert_close(y.detach(), dequantize(quantize(tensor, params, scheme), params), rtol=0, atol=0)
    (y * torch.arange(x.numel()).view(x.shape)).sum().backward()
    lo, hi = params.value_range()
    slack = params.scale * 1e-6  # rounding slack of the straight-through mask
    inside = (tensor.double() >= lo - slack) & (tensor.double() <= hi + slack)
    expected = torch.where(inside, torch.arange(x.numel(), dtype=torch.float32).view(x.shape), 0.0)
    torch.testing.assert_close(x.grad, expected)


def test_fake_quantize_keeps_the_dtype():
    scheme = PRESETS["rquant"]
    x = torch.linspace(-1, 1, 7, dtype=torch.float64)
    params = calibrate([x], scheme)[0]
    assert fake_quantize(x, params, scheme).dtype == torch.float64


def test_quantize_rejects_params_of_another_scheme():
    params = params_from_range(-1.0, 1.0, PRESETS["rquant"])
    with pytest.raises(QuantError, match="calibrate the parameters with this scheme"):
        quantize(torch.zeros(3), params, PRESETS["normal"])
    with pytest.raises(QuantError, match="calibrate the parameters with this scheme"):
        fake_quantize(torch.zeros(3), params, PRESETS["rquant"].with_bits(4))


@pytest.mark.parametrize(
    "x, match",
    [(torch.tensor([1.0, float("nan")]), "NaN"), (torch.tensor([1, 2]), "floating-point"), ([1.0], "floating-point")],
)
def test_quantize_rejects_bad_values(x, match):
    scheme = PRESETS["rquant"]
    with pytest.raises(QuantError, match=match):
        quantize(x, params_from_range(-1.0, 1.0, scheme), scheme)


def test_quantize_rejects_params_that_do_not_broadcast():
    scheme = QuantScheme(granularity="channel")
    params = calibrate([torch.ones(3, 2)], scheme)[0]
    with pytest.raises(QuantError, match="broadcast"):
        quantize(torch.ones(4, 2), params, scheme)


@pytest.mark.parametrize(
    "codes, match",
    [
        (torch.tensor([0, 256]), r"\[0, 255\]"),
        (torch.tensor([-1]), r"\[0, 255\]"),
        (torch.tensor([1, 2], dtype=torch.int32), "int64"),
        (np.array([1, 2]), "int64"),
    ],
)
def test_dequantize_rejects_bad_codes(codes, match):
    with pytest.raises(QuantError, match=match):
        dequantize(codes, params_from_range(-1.0, 1.0, PRESETS["rquant"]))


@pytest.mark.parametrize("preset", ["global", "normal", "asymmetric", "unsigned", "rquant"])
def test_calibrated_extremes_keep_their_gradient(preset):
    scheme = get_scheme(preset)
    torch.manual_seed(3)
    for _ in range(20):
        w = (torch.randn(300) * torch.rand(1) * 3).requires_grad_(True)
        (params,) = calibrate([w.detach()], scheme)
        fake_quantize(w, params, scheme).sum().backward()
        assert w.grad[w.detach().argmax()] == 1 and w.grad[w.detach().argmin()] == 1
