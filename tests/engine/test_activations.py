import numpy as np
import pytest
import torch

from accelsim.engine import ActivationFaults, EngineError, QuantizedModel
from accelsim.quant import ActivationQuantizer
from tests.engine.conftest import cells_profile


@pytest.fixture
def act_qm(small_net, images):
    return QuantizedModel.from_torch(small_net, "rquant", images, act_quant=ActivationQuantizer(4))


def test_activation_quantization_changes_little(small_net, images, act_qm):
    plain = QuantizedModel.from_torch(small_net, "rquant", images).forward(images)
    quantized = act_qm.forward(images)
    assert not torch.equal(plain, quantized)
    assert (plain.argmax(1) == quantized.argmax(1)).float().mean() > 0.7


def test_layer_inputs_take_at_most_2_to_the_bits_values(act_qm, images):
    transform = act_qm.activation_transform()
    name = next(iter(act_qm._act_path.sizes))
    values = transform(name, torch.randn(200, *images.shape[1:]) * 3)
    assert len(torch.unique(values)) <= 16


def test_no_activation_fault_at_nominal_voltage(act_qm, images):
    profile = cells_profile(np.arange(50), np.full(50, 0.7), np.full(50, 2, np.uint8))
    result = act_qm.run(images, profile, 1.0, act_faults=ActivationFaults(profile, 1.0))
    assert torch.equal(result.logits, act_qm.forward(images))


def test_stuck_at_zero_cells_clear_activation_bits(act_qm):
    bits = act_qm.act_quant.bits
    profile = cells_profile(np.arange(3 * bits), np.full(3 * bits, 0.7), np.zeros(3 * bits, np.uint8))
    name = next(iter(act_qm._act_path.sizes))
    faulty = act_qm.activation_transform(ActivationFaults(profile, 0.6))
    x = torch.randn(10, 1, 8, 8).abs() + 1
    out = faulty(name, x).reshape(10, -1)
    clean = act_qm.activation_transform()(name, x).reshape(10, -1)
    assert torch.all(out[:, :3] == 0)  # all-zero code: 0 in two's complement and in [0, hi]
    assert not torch.equal(clean[:, :3], out[:, :3])
    assert torch.equal(out[:, 3:], clean[:, 3:])


def test_activation_faults_change_logits(act_qm, images):
    profile = cells_profile(np.arange(0, 4000, 7), np.full(572, 0.7), np.full(572, 2, np.uint8))
    result = act_qm.run(images, profile, 0.6, act_faults=ActivationFaults(profile, 0.6))
    assert not torch.equal(result.logits, act_qm.forward(images))


def test_activation_faults_need_quantized_activations(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    profile = cells_profile(np.arange(5), np.full(5, 0.7), np.full(5, 2, np.uint8))
    with pytest.raises(EngineError, match="act_quant"):
        qm.run(images, profile, 0.6, act_faults=ActivationFaults(profile, 0.6))
