import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.quant.activations import (
    ActivationQuantizer,
    calibrate_activation_range,
    fake_quantize_activations,
)
from accelsim.quant.fixed_point import quantize
from accelsim.quant.scheme import SUPPORTED_BITS, QuantError

quantizers = st.builds(ActivationQuantizer, bits=st.sampled_from(SUPPORTED_BITS), unsigned=st.booleans())


def test_calibrated_range_spans_every_batch():
    torch.manual_seed(0)
    batches = [torch.randn(4, 3, 2, 2) * scale for scale in (1.0, 5.0, 0.1)]
    lo, hi = calibrate_activation_range(iter(batches))
    joined = torch.cat([b.flatten() for b in batches])
    assert (lo, hi) == (joined.min().item(), joined.max().item())
    assert isinstance(lo, float) and isinstance(hi, float)


@pytest.mark.parametrize(
    "batches, match",
    [([], "no batches"), ([torch.ones(0)], "batch 0"), ([torch.ones(2), torch.tensor([1, 2])], "batch 1")],
)
def test_calibration_rejects_bad_batches(batches, match):
    with pytest.raises(QuantError, match=match):
        calibrate_activation_range(batches)


def test_calibration_rejects_non_finite_activations():
    with pytest.raises(QuantError, match="finite"):
        calibrate_activation_range([torch.tensor([0.0, float("inf")])])


def test_unsigned_quantizer_uses_all_codes_on_zero_to_hi():
    quantizer = ActivationQuantizer(bits=4, unsigned=True)
    params = quantizer.params((-2.0, 3.0))
    lo, hi = params.value_range()
    assert (lo.item(), hi.item()) == pytest.approx((0.0, 3.0))
    assert params.scale.item() == pytest.approx(3.0 / 15)
    codes = quantize(torch.tensor([-1.0, 0.0, 3.0]), params, quantizer.scheme)
    assert codes.tolist() == [0, 0, 15]


def test_signed_quantizer_is_symmetric():
    params = ActivationQuantizer(bits=8).params((-0.5, 2.54))
    lo, hi = params.value_range()
    assert (lo.item(), hi.item()) == pytest.approx((-2.54, 2.54))


@settings(deadline=None)
@given(quantizers, st.floats(-5, 0), st.floats(0.01, 5))
def test_fake_quantized_activations_round_to_the_nearest_level(quantizer, lo, hi):
    torch.manual_seed(1)
    x = torch.empty(64).uniform_(lo, hi).requires_grad_(True)
    y = fake_quantize_activations(x, quantizer, (lo, hi))
    params = quantizer.params((lo, hi))
    range_lo, range_hi = params.value_range()
    target = x.detach().double().clamp(range_lo, range_hi)
    step = params.scale.item()
    assert bool(((y.detach().double() - target).abs() <= 0.5 * step + 1e-6 * (1 + target.abs())).all())
    y.sum().backward()
    slack = params.scale * 1e-6  # rounding slack of the straight-through mask
    inside = (x.detach().double() >= range_lo - slack) & (x.detach().double() <= range_hi + slack)
    torch.testing.assert_close(x.grad, inside.float())


def test_relu_quantizer_stops_the_gradient_of_negative_inputs():
    x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    fake_quantize_activations(x, ActivationQuantizer(bits=8, unsigned=True), (0.0, 1.0)).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


@given(quantizers)
def test_dict_round_trips_through_json(quantizer):
    assert ActivationQuantizer.from_dict(json.loads(json.dumps(quantizer.to_dict()))) == quantizer


@pytest.mark.parametrize(
    "data, match",
    [
        ({"schema_version": 1, "bits": 8}, "keys"),
        ({"schema_version": 2, "bits": 8, "unsigned": True}, "schema_version"),
        ({"schema_version": 1, "bits": 9, "unsigned": True}, "bits"),
        ("8-bit", "keys"),
    ],
)
def test_from_dict_rejects_bad_dicts(data, match):
    with pytest.raises(QuantError, match=match):
        ActivationQuantizer.from_dict(data)


@pytest.mark.parametrize("kwargs, match", [({"bits": 1}, "bits"), ({"unsigned": None}, "unsigned")])
def test_quantizer_validates(kwargs, match):
    with pytest.raises(QuantError, match=match):
        ActivationQuantizer(**kwargs)


@pytest.mark.parametrize("act_range", [(1.0, -1.0), (0.0, float("nan")), (1.0,), "wide"])
def test_bad_ranges_are_rejected(act_range):
    with pytest.raises(QuantError, match="activation range"):
        ActivationQuantizer().params(act_range)


def test_fake_quantize_activations_needs_a_quantizer():
    with pytest.raises(QuantError, match="ActivationQuantizer"):
        fake_quantize_activations(torch.zeros(2), 8, (0.0, 1.0))
