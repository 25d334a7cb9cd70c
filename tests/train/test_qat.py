"""QatModel: fake quantization, stored words as the engine stores them, straight-through gradients, norm scales."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim import quant
from accelsim.engine import QuantizedModel
from accelsim.models import build
from accelsim.train.qat import QatModel


def _qat(arch="digits-cnn", scheme="rquant", bits=8, seed=0, reparameterise=False, module=None):
    torch.manual_seed(seed)
    module = build(arch) if module is None else module
    scheme = quant.get_scheme(scheme, bits)
    names = [name for name, _ in module.named_parameters()]
    return QatModel(module, scheme, names, reparameterise_norms=reparameterise)


class NormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.gn = nn.GroupNorm(2, 4)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.gn(self.bn(self.conv(x)))), 1))


@pytest.mark.parametrize("scheme", ["global", "normal", "rquant"])
@pytest.mark.parametrize("bits", [4, 8])
def test_values_and_gradients_equal_fake_quantize(scheme, bits):
    model = _qat(scheme=scheme, bits=bits)
    quantized = model.quantize()
    tensors = list(model.parameters.values())
    params = quant.calibrate([t.detach() for t in tensors], model.scheme)
    for (name, value), tensor, qp in zip(quantized.values.items(), tensors, params):
        reference = quant.fake_quantize(tensor, qp, model.scheme)
        torch.testing.assert_close(value, reference)  # p + (q - p) rounds by an ulp at most
        weight = torch.randn(value.shape)
        mine = torch.autograd.grad((value * weight).sum(), tensor)[0]
        theirs = torch.autograd.grad((reference * weight).sum(), tensor)[0]
        # fake_quantize's float64 range can exclude the extreme weights by a
        # rounding error, zeroing their gradient; here every weight keeps it.
        inside = (tensor > tensor.min()) & (tensor < tensor.max())
        torch.testing.assert_close(mine[inside], theirs[inside])
        torch.testing.assert_close(mine, weight)


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_words_are_what_the_engine_stores(bits):
    module = build("digits-cnn")
    scheme = quant.get_scheme("rquant", bits)
    qm = QuantizedModel.from_torch(module, scheme, torch.zeros(2, 1, 8, 8))
    model = QatModel(module, scheme, qm.tensor_names)
    np.testing.assert_array_equal(model.quantize().words(), qm.words)


def test_unchanged_words_decode_to_the_clean_values_with_identity_gradient():
    model = _qat()
    quantized = model.quantize()
    decoded = model.faulty_weights(quantized, quantized.words())
    for name, value in quantized.values.items():
        torch.testing.assert_close(decoded[name], value)
        parameter = model.parameters[name]
        grad = torch.autograd.grad(decoded[name].sum(), parameter)[0]
        torch.testing.assert_close(grad, torch.ones_like(parameter))


def test_faulty_words_change_the_decoded_values():
    model = _qat()
    quantized = model.quantize()
    words = quantized.words().copy()
    words[0] ^= 0x80  # the most significant bit of the first weight
    decoded = model.faulty_weights(quantized, words)
    first = model.names[0]
    changed = (decoded[first] != quantized.values[first]).flatten().numpy()
    assert changed[0] and not changed[1:].any()
    lo, hi = quantized.params[0].value_range()
    step = float(decoded[first].detach().flatten()[0] - quantized.values[first].detach().flatten()[0])
    assert abs(step) == pytest.approx(float(hi - lo) / 255 * 128, rel=1e-5)


def test_norm_scales_are_trained_as_one_plus_alpha():
    module = NormNet()
    with torch.no_grad():
        module.bn.weight.uniform_(0.5, 1.5)
    scales = module.bn.weight.detach().clone()
    model = _qat(module=module, reparameterise=True)
    assert model.scale_names == {"bn.weight", "gn.weight"}
    torch.testing.assert_close(module.bn.weight.detach(), scales - 1)  # alpha
    torch.testing.assert_close(model.deployed()["bn.weight"].detach(), scales)
    torch.testing.assert_close(model.deployed_state_dict()["bn.weight"], scales)
    model.project(0.1)
    assert bool((module.bn.weight.detach().abs() <= torch.tensor(0.1)).all())  # clipping bounds alpha ...
    assert float(model.deployed_state_dict()["bn.weight"].min()) >= 0.9 - 1e-6  # ... not the scale


def test_perturbed_passes_leave_running_statistics_alone():
    model = _qat(module=NormNet())
    model.module.train()
    x = torch.randn(16, 1, 8, 8)
    before = model.module.bn.running_mean.clone()
    model.forward(x, model.quantize().values, update_statistics=False)
    torch.testing.assert_close(model.module.bn.running_mean, before)
    model.forward(x, model.quantize().values)
    assert not torch.equal(model.module.bn.running_mean, before)


def test_projection_clamps_every_parameter():
    model = _qat()
    model.project(0.05)
    assert all(bool((p.detach().abs() <= torch.tensor(0.05)).all()) for p in model.parameters.values())


# -- number formats ---------------------------------------------------------------------
FORMATS = ["int8", "int4", "int8-g32", "int4-g128", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "bfp-16", "bfp-32"]


def _format_qat(name, module=None, example=None, reparameterise=False):
    torch.manual_seed(0)
    module = build("digits-cnn") if module is None else module
    fmt = quant.resolve_scheme(name)
    qm = QuantizedModel.from_torch(module, fmt, torch.zeros(2, 1, 8, 8) if example is None else example)
    return QatModel(module, fmt, qm.tensor_names, reparameterise_norms=reparameterise), qm


@pytest.mark.parametrize("name", FORMATS)
def test_format_words_and_values_are_the_engines(name):
    model, qm = _format_qat(name)
    quantized = model.quantize()
    words = quantized.words()
    assert words.dtype == qm.words.dtype
    np.testing.assert_array_equal(words, qm.words)  # codes and aux words (scales, zero points, exponents)
    for tensor in qm.tensor_names:
        assert torch.equal(quantized.values[tensor].detach(), qm.clean_weights[tensor])
        grad = torch.autograd.grad(quantized.values[tensor].sum(), model.parameters[tensor])[0]
        torch.testing.assert_close(grad, torch.ones_like(grad))  # straight through


@pytest.mark.parametrize("name", FORMATS)
def test_format_faulty_words_decode_as_the_engine_decodes_them(name):
    model, qm = _format_qat(name)
    quantized = model.quantize()
    rng = np.random.default_rng(5)
    words = quantized.words()
    flips = rng.integers(0, 2**qm.bits, size=len(words)) * (rng.random(len(words)) < 0.02)
    faulty = words ^ flips.astype(words.dtype)
    aux = qm.aux_words(np.flatnonzero(faulty != words))
    if qm.scheme.kind in ("group", "bfp"):
        assert aux > 0  # the faults hit scales / zero points / shared exponents too
    decoded = model.faulty_weights(quantized, faulty)
    engine = qm.weights_from_words(faulty)
    for tensor in qm.tensor_names:
        torch.testing.assert_close(decoded[tensor].detach(), engine[tensor], equal_nan=True, rtol=0, atol=0)
    assert any(not torch.equal(decoded[t].detach(), quantized.values[t].detach()) for t in qm.tensor_names)


class _StyledRMSNorm(nn.Module):
    """A LLaMA-style RMSNorm: its own weight times a computed scale."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class TinyLM(nn.Module):
    """Embedding, position parameter, LayerNorm, RMSNorm and an RMSNorm-style module."""

    def __init__(self, vocab=16, dim=8, context=6):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, context, dim))
        self.ln = nn.LayerNorm(dim)
        self.rms = nn.RMSNorm(dim)
        self.styled = _StyledRMSNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, :idx.shape[1]]
        return self.head(self.styled(self.rms(self.ln(x))))


@pytest.mark.parametrize("name", ["rquant", "int8-g32", "fp16"])
def test_clipping_bounds_embeddings_like_weights_and_norm_scales_around_one(name):
    clip = 0.05
    torch.manual_seed(0)
    module = TinyLM()
    with torch.no_grad():
        module.ln.weight.uniform_(0.5, 1.5)  # scales far from 1 and weights far outside [-clip, clip]
        module.rms.weight.uniform_(0.5, 1.5)
        module.ln.bias.uniform_(-1, 1)
    idx = torch.randint(0, 16, (4, 6))
    fmt = quant.resolve_scheme(name, 8 if name == "rquant" else None)
    names = QuantizedModel.from_torch(module, fmt, idx).tensor_names
    model = QatModel(module, fmt, names, reparameterise_norms=True)
    assert model.scale_names == {"ln.weight", "rms.weight", "styled.weight"}
    optimizer = torch.optim.SGD(module.parameters(), lr=10.0)  # a step far outside the bounds
    model.project(clip)
    logits = model.forward(idx, model.quantize().values)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 16), torch.randint(0, 16, (24,)))
    for p, g in zip(model.parameters.values(), torch.autograd.grad(loss, list(model.parameters.values())),
                    strict=True):
        p.grad = g
    optimizer.step()
    model.project(clip)
    deployed = model.deployed_state_dict()
    for tensor in names:
        value = deployed[tensor]
        if tensor in model.scale_names:  # norm scales: 1 + alpha with alpha in [-clip, clip]
            assert float((value - 1).abs().max()) <= clip + 1e-6, tensor
        else:  # embedding table, position parameter, norm biases, linear weights
            assert float(value.abs().max()) <= float(np.float32(clip)), tensor
    assert float(deployed["tok.weight"].abs().max()) == pytest.approx(clip)  # the table was clipped, not skipped
    assert float((deployed["ln.weight"] - 1).abs().max()) == pytest.approx(clip)
