"""Replay of stored-bit flips through the engine (QuantizedModel.run's extra_flips)."""

import numpy as np
import pytest
import torch

from accelsim.engine import EngineError, QuantizedModel
from accelsim.sram import SimulatedMemory, uniform_profile


@pytest.fixture
def qm(small_net):
    return QuantizedModel.from_torch(small_net, "rquant", torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)))


def _reference_logits(qm, x, words):
    return qm.forward(x, qm.weights_from_words(words))


def test_fault_free_flips_equal_decoding_the_flipped_words(qm):
    x = torch.rand(6, 1, 8, 8)
    flips = np.array([5, 17, qm.stored_bits - 1, 123], dtype=np.int64)
    words = qm.words.copy()
    np.bitwise_xor.at(words, flips // qm.bits, (1 << (flips % qm.bits)).astype(words.dtype))
    result = qm.run(x, None, None, extra_flips=flips)
    torch.testing.assert_close(result.logits, _reference_logits(qm, x, words), rtol=0, atol=0)
    assert result.flipped_bits == 4 and result.faulty_cells == 0
    clean = qm.run(x, None, None)
    torch.testing.assert_close(clean.logits, qm.forward(x), rtol=0, atol=0)


def test_flips_then_faults_equal_a_memory_holding_the_flipped_words(qm):
    x = torch.rand(6, 1, 8, 8)
    profile = uniform_profile(0.02, seed=3)
    vdd_v = profile.voltage_for_ber(0.01)
    rng = np.random.default_rng(1)
    flips = rng.choice(qm.stored_bits, size=40, replace=False)
    words = qm.words.copy()
    np.bitwise_xor.at(words, flips // qm.bits, (1 << (flips % qm.bits)).astype(words.dtype))
    read = SimulatedMemory(profile, words, qm.bits, seed=2).read(vdd_v, chip=4)
    result = qm.run(x, profile, vdd_v, chip=4, seed=2, extra_flips=flips)
    torch.testing.assert_close(result.logits, _reference_logits(qm, x, read.words), rtol=0, atol=0)
    differing = np.unpackbits((read.words ^ qm.words).view(np.uint8)).sum()
    assert result.flipped_bits == differing and result.faulty_cells == read.faulty_cells
    empty = qm.run(x, profile, vdd_v, chip=4, seed=2, extra_flips=np.zeros(0, np.int64))
    torch.testing.assert_close(empty.logits, qm.run(x, profile, vdd_v, chip=4, seed=2).logits, rtol=0, atol=0)


@pytest.mark.parametrize("flips, match", [
    ([1, 1], "twice"),
    ([-1], r"extra_flips\[0\] = -1"),
    ([[1, 2]], "1-D"),
    ([0.5], "1-D array of integer"),
])
def test_bad_flips_are_refused(qm, flips, match):
    with pytest.raises(EngineError, match=match):
        qm.run(torch.rand(1, 1, 8, 8), None, None, extra_flips=flips)


def test_out_of_range_flip_is_refused(qm):
    with pytest.raises(EngineError, match=f"expected a stored-bit index in \\[0, {qm.stored_bits}\\)"):
        qm.run(torch.rand(1, 1, 8, 8), None, None, extra_flips=[qm.stored_bits])
