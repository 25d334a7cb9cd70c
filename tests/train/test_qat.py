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
