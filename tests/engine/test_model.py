import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from accelsim.engine import ModelImportError, QuantizedModel
from tests.engine.conftest import cells_profile


def _qm(net, images, scheme="rquant"):
    return QuantizedModel.from_torch(net, scheme, images)


def test_clean_model_matches_reference_module_bit_for_bit(small_net, images):
    qm = _qm(small_net, images)
    reference = qm.reference_module()
    with torch.inference_mode():
        expected = reference(images)
    assert torch.equal(qm.forward(images), expected)


def test_reference_parameters_are_dequantized_values(small_net, images):
    qm = _qm(small_net, images, "normal")
    reference = qm.reference_module()
    for name in qm.tensor_names:
        assert torch.equal(reference.get_parameter(name), qm.clean_weights[name])
        original = small_net.get_parameter(name).detach()
        step = (original.max() - original.min()) / (2 ** qm.bits - 1) * 2
        assert torch.all((reference.get_parameter(name) - original).abs() <= step + 1e-7)


def test_user_module_is_never_modified(small_net, images, uniform):
    before = {k: v.clone() for k, v in small_net.state_dict().items()}
    qm = _qm(small_net, images)
    qm.run(images, uniform, uniform.voltage_for_ber(0.1))
    after = small_net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_every_parameter_is_stored(small_net, images):
    qm = _qm(small_net, images)
    n_params = sum(p.numel() for p in small_net.parameters())
    assert set(qm.tensor_names) == {n for n, _ in small_net.named_parameters()}
    assert qm.stored_bits == n_params * qm.bits


def test_no_faulty_cell_gives_clean_logits_bit_for_bit(small_net, images, uniform):
    qm = _qm(small_net, images)
    result = qm.run(images, uniform, uniform.vdd_nominal_v)
    assert result.faulty_cells == 0 and result.flipped_bits == 0
    assert torch.equal(result.logits, qm.forward(images))


def test_uniform_profile_flips_follow_binomial(small_net, images, uniform):
    qm = _qm(small_net, images)
    p = 0.05
    vdd = uniform.voltage_for_ber(p)
    counts = [qm.run(images[:2], uniform, vdd, chip=chip).flipped_bits for chip in range(6)]
    n = qm.stored_bits
    lo, hi = stats.binom.interval(1 - 1e-6, n, p)
    assert all(lo <= c <= hi for c in counts)
    assert len(set(counts)) > 1  # chips differ


def test_model_ber_is_flipped_over_stored(small_net, images, uniform):
    qm = _qm(small_net, images)
    result = qm.run(images, uniform, uniform.voltage_for_ber(0.02))
    assert result.model_ber == result.flipped_bits / qm.stored_bits
    assert result.flipped_bits > 0


def test_stuck_at_one_flips_only_stored_zeros(small_net, images):
    qm = _qm(small_net, images)
    n = qm.stored_bits
    profile = cells_profile(np.arange(n), np.full(n, 0.8), np.ones(n, np.uint8), arrays=n // 4096 + 1)
    result = qm.run(images, profile, 0.7)
    bits = np.unpackbits(qm.words[:, None].view(np.uint8), axis=1, bitorder="little")[:, :qm.bits]
    assert result.faulty_cells == n
    assert result.flipped_bits == int((bits == 0).sum())


def test_faults_change_logits(small_net, images, uniform):
    qm = _qm(small_net, images)
    result = qm.run(images, uniform, uniform.voltage_for_ber(0.2))
    assert not torch.equal(result.logits, qm.forward(images))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.PReLU()

    def forward(self, x):
        return torch.cumsum(self.act(self.fc(x)), 1)


def test_unsupported_nodes_are_all_listed():
    with pytest.raises(ModelImportError) as info:
        QuantizedModel.from_torch(Unsupported(), "rquant", torch.randn(2, 4))
    message = str(info.value)
    assert "PReLU" in message and "cumsum" in message and "2 part(s)" in message


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


def test_untraceable_model_gets_one_clear_error():
    with pytest.raises(ModelImportError, match="torch.fx"):
        QuantizedModel.from_torch(DataDependent(), "rquant", torch.randn(2, 4))


def test_model_that_does_not_run_on_example_input():
    net = nn.Sequential(nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ModelImportError, match="does not run"):
        QuantizedModel.from_torch(net, "rquant", torch.randn(2, 3))


def test_lower_precision_stores_fewer_bits(small_net, images):
    eight = _qm(small_net, images)
    four = QuantizedModel.from_torch(small_net, eight.scheme.with_bits(4), images)
    assert four.stored_bits * 2 == eight.stored_bits


def test_energy_per_inference_falls_with_the_weight_sram_voltage(small_net, images, uniform):
    qm = _qm(small_net, images)
    nominal = qm.energy(uniform, uniform.vdd_nominal_v)
    low = qm.energy(uniform, 0.6)
    assert low.weight_mem_dynamic_j == pytest.approx(nominal.weight_mem_dynamic_j * 0.36)
    assert low.mac_j == nominal.mac_j and low.total_j < nominal.total_j
    with pytest.raises(ValueError, match="0.1"):
        qm.energy(uniform, 0.1)


@pytest.mark.parametrize("wrap", [lambda y: (y, y), lambda y: {"logits": y}])
def test_a_model_not_returning_logits_is_refused_at_import(small_net, images, wrap):
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = small_net

        def forward(self, x):
            return wrap(self.net(x))

    with pytest.raises(ModelImportError, match="returns .*expected one tensor of logits"):
        QuantizedModel.from_torch(Wrapped(), "rquant", images)


def test_execute_is_the_engines_run_with_or_without_autograd(small_net, images):
    qm = _qm(small_net, images)
    weights = qm.clean_weights
    logits, _ = qm.execute(images, weights)
    assert torch.equal(logits, qm.forward(images)) and not logits.requires_grad
    leaves = {n: w.detach().clone().requires_grad_(True) for n, w in weights.items()}
    graded, _ = qm.execute(images, leaves, grad=True)
    assert torch.equal(graded.detach(), logits)
    graded.sum().backward()
    assert leaves["fc2.weight"].grad is not None and leaves["fc2.weight"].grad.abs().sum() > 0
    # From the middle of the network: the values live at that step, kept from a full run.
    start = qm.program.first_step_reading(("fc1.weight",))
    live = qm.program.live_before(start)
    _, kept = qm.execute(images, weights, keep=live)
    tail, _ = qm.execute(images, weights, start=start, env=kept)
    assert torch.equal(tail, logits)
