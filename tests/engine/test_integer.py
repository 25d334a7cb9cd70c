"""Integer execution: bit-exact against a float64 reference on the codes, per supported layer."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim import quant
from accelsim.engine import ActivationFaults, EngineError, QuantizedModel
from accelsim.engine.multipoint import run_points
from accelsim.quant import ActivationQuantizer, QuantScheme
from tests.engine.conftest import cells_profile

SCHEMES = ["global", "normal", "asymmetric", "unsigned", "rquant",
           QuantScheme(bits=8, granularity="channel", symmetric=False, unsigned=True, rounding="nearest"),
           QuantScheme(bits=8, granularity="channel", symmetric=True, unsigned=False, rounding="nearest")]


def _levels(qm, name, words):
    """Integer levels (two's complement value or pattern) of tensor ``name`` in ``words``."""
    lo, hi = qm._word_range(name)
    params = qm._qparams[qm._tensor_index[name]]
    codes = quant.words_to_codes(np.asarray(words[lo:hi])).reshape(qm._shapes[qm._tensor_index[name]])
    if not params.unsigned:
        codes = codes - ((codes >> (params.bits - 1)) << params.bits)
    return codes, params


def _reference(qm, module, x, words):
    """Float64 on the codes: levels relative to the zero points, exact sums, then the affine correction.

    Returns the bit-exact reference (float32) and the fully dequantized float64 result.
    """
    step = next(iter(qm._act_path.sizes))
    act = qm._act_path.params_of(step)
    scheme = ActivationQuantizer(qm.act_quant.bits, act.unsigned).scheme
    codes = quant.quantize(x, act, scheme)
    la = codes - ((codes >> (act.bits - 1)) << act.bits) if not act.unsigned else codes
    a = (la.to(torch.float64) - act.zero_point)  # za is an integer: exact
    lw, wp = _levels(qm, "0.weight", words)
    channels = lw.shape[0]
    zw = wp.zero_point.reshape(-1).expand(channels).reshape((-1,) + (1,) * (lw.ndim - 1))
    sw = wp.scale.reshape(-1).expand(channels)
    zi = torch.round(zw)
    c = lw.to(torch.float64) - zi
    if "0.bias" in qm.tensor_names:  # decoded as the engine decodes it, added after the sum
        bias = qm.weights_from_words(words, ["0.bias"])["0.bias"].to(torch.float64)
    else:
        bias = torch.zeros(channels, dtype=torch.float64)
    if isinstance(module, nn.Linear):
        s_ca, s_a = F.linear(a, c), a.sum(-1, keepdim=True)
        shape = (-1,)
        exact = F.linear(a * act.scale, (lw - zw) * sw.reshape(-1, 1)) + bias
    else:
        conv = F.conv2d if isinstance(module, nn.Conv2d) else F.conv1d
        args = (module.stride, module.padding, module.dilation, module.groups)
        s_ca = conv(a, c, None, *args)
        ones = torch.ones((module.groups, *c.shape[1:]), dtype=torch.float64)
        s_a = conv(a, ones, None, *args).repeat_interleave(channels // module.groups, dim=1)
        shape = (1, -1) + (1,) * (s_ca.ndim - 2)
        exact = conv(a * act.scale, (lw - zw) * sw.reshape((-1,) + (1,) * (lw.ndim - 1)), bias, *args)
    zf = (zw.reshape(-1) - zi.reshape(-1)).reshape(shape)
    out = (s_ca - zf * s_a) * (sw * act.scale).reshape(shape) + bias.reshape(shape)
    return out.to(torch.float32), exact


def _layer(kind, draw_int, groups):
    if kind == "linear":
        return nn.Linear(draw_int(1, 40), draw_int(1, 12), bias=draw_int(0, 1) == 1)
    conv = nn.Conv2d if kind == "conv2d" else nn.Conv1d
    cin, cout = groups * draw_int(1, 4), groups * draw_int(1, 4)
    return conv(cin, cout, draw_int(1, 4), stride=draw_int(1, 2), padding=draw_int(0, 2),
                dilation=draw_int(1, 2), groups=groups, bias=draw_int(0, 1) == 1)


def _input(module, n, generator, signed):
    if isinstance(module, nn.Linear):
        shape = (n, 3, module.in_features) if n % 2 else (n, module.in_features)
    elif isinstance(module, nn.Conv2d):
        shape = (n, module.in_channels, 9, 8)
    else:
        shape = (n, module.in_channels, 11)
    x = torch.randn(shape, generator=generator) * 2
    return x if signed else x.abs()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["linear", "conv2d", "conv1d"]), scheme=st.sampled_from(SCHEMES),
       weight_bits=st.sampled_from([2, 4, 8, 16]), act_bits=st.sampled_from([2, 4, 8, 16]),
       signed=st.booleans(), groups=st.sampled_from([1, 2]), seed=st.integers(0, 2**16),
       data=st.data())
def test_every_layer_is_bit_exact_against_float64_on_the_codes(kind, scheme, weight_bits, act_bits, signed,
                                                                groups, seed, data):
    torch.manual_seed(seed)
    module = _layer(kind, lambda lo, hi: data.draw(st.integers(lo, hi)), groups)
    generator = torch.Generator().manual_seed(seed)
    x = _input(module, data.draw(st.integers(1, 5)), generator, signed)
    scheme = quant.get_scheme(scheme, weight_bits) if isinstance(scheme, str) else _with_bits(scheme, weight_bits)
    qm = QuantizedModel.from_torch(nn.Sequential(module), scheme, x, act_quant=ActivationQuantizer(act_bits))
    [report] = qm.integer_layers()
    if report.execution == "float":  # a constant tensor: its zero point is ~1e7 levels away (MIN_SCALE)
        assert "zero point" in report.reason
        assert float(qm._qparams[0].zero_point.abs().max()) > 2**19
        assert torch.equal(qm.forward(x, execution="integer"), qm.forward(x))
        return
    # Every code any memory could return: random words, not only the clean ones.
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**weight_bits, len(qm.words)).astype(qm.words.dtype)
    for stored in (qm.words, words):
        weights = qm.weights_from_words(stored)
        got = qm.forward(x, weights, execution="integer")
        want, exact = _reference(qm, module, x, stored)
        assert torch.equal(got, want)
        torch.testing.assert_close(got.to(torch.float64), exact, rtol=1e-5,
                                   atol=1e-5 * float(exact.abs().max()) + 1e-30)


def _with_bits(scheme, bits):
    return QuantScheme(bits=bits, granularity=scheme.granularity, symmetric=scheme.symmetric,
                       unsigned=scheme.unsigned, rounding=scheme.rounding)


def test_kernels_are_chosen_by_the_worst_case_bound():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    x = torch.rand(4, 1, 8, 8)
    eight = QuantizedModel.from_torch(net, "rquant", x, act_quant=ActivationQuantizer(8))
    assert [r.kernel for r in eight.integer_layers()] == ["float32-exact", "int8-mm"]
    wide = QuantizedModel.from_torch(net, quant.get_scheme("rquant", 16), x, act_quant=ActivationQuantizer(16))
    assert [r.kernel for r in wide.integer_layers()] == ["float64-exact", "float64-exact"]


@pytest.mark.parametrize("layer, shape", [(nn.Conv2d(2, 3, 3, padding=1), (6, 2, 5, 5)),
                                          (nn.Conv1d(2, 3, 3), (6, 2, 7)), (nn.Linear(16, 4), (6, 16))])
def test_integer_matches_the_float_path_where_the_float_path_is_exact(layer, shape):
    # Dyadic weights (k / 16) and inputs (m / 8) with power-of-two scales: float32 sums
    # multiples of 1/128 below 2**24 steps exactly, so the float path is exact too.
    with torch.no_grad():
        for p in layer.parameters():
            levels = torch.randint(-127, 128, p.shape, generator=torch.Generator().manual_seed(p.numel()))
            levels.view(-1)[0] = 127
            p.copy_(levels / 16.0)
    x = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(1)) / 8.0
    x.view(-1)[0] = 255 / 8.0
    qm = QuantizedModel.from_torch(nn.Sequential(layer), "normal", x, act_quant=ActivationQuantizer(8))
    assert float(qm._act_path.params_of("_0").scale) == 1 / 8
    assert torch.equal(qm.forward(x), layer(x))  # the float path is exact here
    assert torch.equal(qm.forward(x, execution="integer"), qm.forward(x))


@pytest.fixture
def lenet_like():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 20), nn.ReLU(), nn.Linear(20, 10))
    x = torch.rand(48, 1, 24, 24)
    return QuantizedModel.from_torch(net.eval(), "rquant", x, act_quant=ActivationQuantizer(8)), x


def test_integer_logits_stay_close_to_the_float_path(lenet_like):
    qm, x = lenet_like
    floating, integer = qm.forward(x), qm.forward(x, execution="integer")
    assert not torch.equal(floating, integer)  # float32 rounding moves some codes by one level
    assert float((floating - integer).abs().max()) < 0.05 * float(floating.abs().max())
    assert (floating.argmax(1) == integer.argmax(1)).float().mean() >= 0.95


def _faulty_profile(qm, n=400):
    cells = np.linspace(0, qm.stored_bits - 1, n).astype(np.int64)
    return cells_profile(cells, np.linspace(0.95, 0.55, n), np.full(n, 2, np.uint8),
                         arrays=qm.stored_bits // 4096 + 1)


def test_faulty_codes_run_through_the_integer_kernels(lenet_like):
    qm, x = lenet_like
    profile = _faulty_profile(qm)
    result = qm.run(x, profile, 0.6, execution="integer")
    read = qm.memory(profile).read(0.6)
    assert result.changed_tensors
    assert torch.equal(result.logits, qm.forward(x, qm.weights_from_words(read.words), execution="integer"))
    assert not torch.equal(result.logits, qm.forward(x, execution="integer"))


def test_suffix_execution_and_shared_points_are_bit_identical_in_integers(lenet_like):
    qm, x = lenet_like
    profile = _faulty_profile(qm)
    voltages = [0.9, 0.8, 0.7, 0.6]
    evaluators = [qm.evaluator(x, profile, chip=0, batch_size=16, execution="integer")] * len(voltages)
    alone = [qm.run(x, profile, v, execution="integer") for v in voltages]
    suffix = [e.run(v) for e, v in zip(evaluators, voltages, strict=True)]
    shared = run_points(evaluators, voltages)
    for a, b, c in zip(alone, suffix, shared, strict=True):
        assert torch.equal(a.logits, b.logits) and torch.equal(a.logits, c.logits)


def test_activation_faults_apply_to_the_integer_codes(lenet_like):
    qm, x = lenet_like
    bits = qm.act_quant.bits
    profile = cells_profile(np.arange(0, 40 * bits, 3), np.full(len(range(0, 40 * bits, 3)), 0.7),
                            np.full(len(range(0, 40 * bits, 3)), 2, np.uint8))
    faults = ActivationFaults(profile, 0.6)
    integer = qm.run(x, profile, 1.0, act_faults=faults, execution="integer")
    floating = qm.run(x, profile, 1.0, act_faults=faults)
    assert not torch.equal(integer.logits, qm.forward(x, execution="integer"))
    assert (integer.logits.argmax(1) == floating.logits.argmax(1)).float().mean() >= 0.9


def test_number_formats_fall_back_to_float_per_layer(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "int8-g32", images, act_quant=ActivationQuantizer(8))
    report = qm.integer_layers()
    assert report and all(r.execution == "float" and "int8-g32" in r.reason for r in report)
    assert torch.equal(qm.forward(images, execution="integer"), qm.forward(images))


def test_integer_execution_needs_quantized_activations(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    with pytest.raises(EngineError, match="act_quant"):
        qm.forward(images, execution="integer")
    with pytest.raises(EngineError, match="execution"):
        qm.forward(images, execution="fixed")


def test_default_execution_is_unchanged(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images, act_quant=ActivationQuantizer(8))
    assert torch.equal(qm.forward(images), qm.forward(images, execution="float"))
