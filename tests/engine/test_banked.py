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


def _slices(layers, msb):
    """Two banks holding the top ``msb`` bits and the rest of every layer's 8-bit codes."""
    return [layers, layers], [(8 - msb, 8), (0, 8 - msb)]


@pytest.mark.parametrize("msb", [1, 3, 7])
def test_bit_slices_read_back_as_their_own_arrays(qm, images, uniform, msb):
    """Each slice is an array of its own words; the codes are the slices put back together (NumPy reference)."""
    import numpy as np

    from accelsim.sram import SimulatedMemory

    layers, bits = _slices(_layers(qm), msb)
    banked = BankedEvaluator(qm, images, uniform, layers, ["none", "none"], chip=3, seed=5, bank_bits=bits)
    volts = [uniform.voltage_for_ber(0.02), uniform.voltage_for_ber(0.2)]
    word_index, words, zero, totals, _ = banked.read_codes(volts)
    expected = np.zeros_like(qm.words)
    cells = 0
    for k, ((low, high), vdd) in enumerate(zip(bits, volts, strict=True)):
        stored = (qm.words >> low) & ((1 << (high - low)) - 1)
        memory = SimulatedMemory(uniform, stored, high - low, seed=5)
        expected |= memory.read(vdd, chip=3 * 2 + k).words << low
        cells += memory.faulty_cells(vdd, 3 * 2 + k)
    wrong = np.flatnonzero(expected != qm.words)
    assert wrong.size > 0 and zero.size == 0 and totals[0] == cells
    np.testing.assert_array_equal(word_index, wrong)
    np.testing.assert_array_equal(words, expected[wrong])


def test_a_slice_at_nominal_leaves_its_bits_clean(qm, images, uniform):
    import numpy as np

    layers, bits = _slices(_layers(qm), 3)
    banked = BankedEvaluator(qm, images, uniform, layers, ["none", "none"], bank_bits=bits)
    nominal, low = uniform.vdd_nominal_v, uniform.voltage_for_ber(0.2)
    assert torch.equal(banked.run([nominal, nominal]).logits, qm.forward(images))
    index, words, _, _, _ = banked.read_codes([nominal, low])
    assert index.size > 0
    np.testing.assert_array_equal(words >> 5, qm.words[index] >> 5)  # the top 3 bits as written
    index, words, _, _, _ = banked.read_codes([low, nominal])
    np.testing.assert_array_equal(words & 31, qm.words[index] & 31)


def test_a_detected_slice_word_zeroes_the_whole_weight(qm, images, uniform):
    layers, bits = _slices(_layers(qm), 4)
    banked = BankedEvaluator(qm, images, uniform, layers, ["parity:8", "none"], bank_bits=bits)
    index, words, zero, totals, _ = banked.read_codes([uniform.voltage_for_ber(0.05), uniform.vdd_nominal_v])
    assert zero.size > 0 and totals[3] > 0
    run = banked.run([uniform.voltage_for_ber(0.05), uniform.vdd_nominal_v])
    assert run.detected_words == totals[3]
