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
