"""Banked weight SRAM: one bank is today's memory; banks read at their own voltages."""

import pytest
import torch

from accelsim.accel import AcceleratorError
from accelsim.engine import QuantizedModel
from accelsim.engine.banked import BankedEvaluator, tensor_layer


@pytest.fixture
def qm(small_net, images):
    return QuantizedModel.from_torch(small_net, "normal", images)


def _layers(qm):
    return list(dict.fromkeys(tensor_layer(t) for t in qm.tensor_names))


@pytest.mark.parametrize("protection", ["none", "secded:16", "msb:2"])
def test_one_bank_equals_the_plain_run(qm, images, uniform, protection):
    vdd = uniform.voltage_for_ber(0.01)
    banked = BankedEvaluator(qm, images, uniform, [_layers(qm)], [protection], chip=2)
    for chip_run in [banked.run([vdd])]:
        plain = qm.run(images, uniform, vdd, chip=2, protection=protection)
        assert torch.equal(chip_run.logits, plain.logits)
        assert (chip_run.flipped_bits, chip_run.faulty_cells, chip_run.detected_words) == (
            plain.flipped_bits, plain.faulty_cells, plain.detected_words)


def test_a_bank_at_nominal_has_no_faults(qm, images, uniform):
    layers = _layers(qm)
    banked = BankedEvaluator(qm, images, uniform, [layers[:2], layers[2:]], ["none", "none"])
    nominal, low = uniform.vdd_nominal_v, uniform.voltage_for_ber(0.05)
    assert torch.equal(banked.run([nominal, nominal]).logits, qm.forward(images))
    only_first = banked.run([low, nominal])
    only_second = banked.run([nominal, low])
    both = banked.run([low, low])
    assert both.faulty_cells == only_first.faulty_cells + only_second.faulty_cells > 0


def test_every_tensor_needs_a_bank(qm, images, uniform):
    with pytest.raises(AcceleratorError, match="no weight bank"):
        BankedEvaluator(qm, images, uniform, [_layers(qm)[1:]], ["none"])


@pytest.fixture
def act_qm(small_net, images):
    from accelsim.quant import ActivationQuantizer

    return QuantizedModel.from_torch(small_net, "normal", images, act_quant=ActivationQuantizer(8))


def test_activation_domain_at_nominal_is_todays_run(act_qm, images, uniform):
    banked = BankedEvaluator(act_qm, images, uniform, [_layers(act_qm)], ["none"], chip=1)
    vdd = uniform.voltage_for_ber(0.01)
    for act in (None, uniform.vdd_nominal_v):
        assert torch.equal(banked.run([vdd], act).logits, banked.run([vdd]).logits)
    assert torch.equal(banked.run([uniform.vdd_nominal_v], uniform.vdd_nominal_v).logits,
                       act_qm.clean_run(images).logits)


def test_activation_domain_below_nominal_corrupts_activations(act_qm, images, uniform):
    from accelsim.engine import ActivationFaults
    from accelsim.engine.banked import ACT_CHIP_OFFSET

    banked = BankedEvaluator(act_qm, images, uniform, [_layers(act_qm)], ["none"], chip=1, seed=3)
    nominal = uniform.vdd_nominal_v
    low = uniform.voltage_for_ber(0.05)
    run = banked.run([nominal], low)  # weights fault-free, activations faulty
    assert run.faulty_cells == 0 and not torch.equal(run.logits, act_qm.clean_run(images).logits)
    # The same as the engine's own activation faults, on the activation SRAM's chip draw.
    reference = act_qm.run(images, uniform, nominal, chip=1, seed=3,
                           act_faults=ActivationFaults(uniform, low, ACT_CHIP_OFFSET + 1, 3))
    assert torch.equal(run.logits, reference.logits)
    # Faults are nested: a lower supply changes at least as many outputs.
    lower = banked.run([nominal], uniform.voltage_for_ber(0.15)).logits
    clean = act_qm.clean_run(images).logits
    assert (lower != clean).any(1).sum() >= (run.logits != clean).any(1).sum()


def test_activation_domain_needs_quantized_activations(qm, images, uniform):
    from accelsim.engine import EngineError

    banked = BankedEvaluator(qm, images, uniform, [_layers(qm)], ["none"])
    with pytest.raises(EngineError, match="act_quant"):
        banked.run([uniform.vdd_nominal_v], uniform.voltage_for_ber(0.01))
