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


# -- protected memory: flips index the stored stream, check bits included -------------------


@pytest.mark.parametrize("protection", ["secded:64", "secded:8", "parity:16", "msb:2", "msb:2:tmr"])
def test_protected_empty_flips_are_the_ordinary_protected_run(qm, protection):
    x = torch.rand(6, 1, 8, 8)
    profile = uniform_profile(0.02, seed=3)
    vdd_v = profile.voltage_for_ber(0.01)
    for on_detect in ("zero", "keep"):
        plain = qm.run(x, profile, vdd_v, chip=1, seed=2, protection=protection, on_detect=on_detect)
        empty = qm.run(x, profile, vdd_v, chip=1, seed=2, protection=protection, on_detect=on_detect,
                       extra_flips=np.zeros(0, np.int64))
        torch.testing.assert_close(empty.logits, plain.logits, rtol=0, atol=0)
        assert (empty.corrected_words, empty.detected_words, empty.miscorrected_words,
                empty.residual_flipped_bits, empty.flipped_bits, empty.stored_bits) == (
            plain.corrected_words, plain.detected_words, plain.miscorrected_words,
            plain.residual_flipped_bits, plain.flipped_bits, plain.stored_bits)


def test_protected_flips_decode_like_the_memory(qm):
    """The engine's weights are the decoded words, detected ones zeroed under ``zero``."""
    from accelsim.sram.protection import decode_flipped, hamming_layout, parse_protection

    x = torch.rand(6, 1, 8, 8)
    n, _ = hamming_layout(parse_protection("secded:8"))
    flips = np.array([0 * n + 3, 0 * n + 6, 5 * n + 1, 5 * n + 2, 5 * n + 4, 9 * n + 7], np.int64)
    for on_detect in ("zero", "keep"):
        result = qm.run(x, None, None, protection="secded:8", on_detect=on_detect, extra_flips=flips)
        read = decode_flipped(qm.words, qm.bits, "secded:8", flips, on_detect)
        words = qm.words.copy()
        words[read.word_index] = read.words
        weights = qm.weights_from_words(words)
        flat = torch.cat([weights[name].reshape(-1) for name in qm.tensor_names])
        if on_detect == "zero":
            flat[torch.from_numpy(read.detected_index)] = 0.0
        sizes = [weights[name].numel() for name in qm.tensor_names]
        parts = dict(zip(qm.tensor_names, torch.split(flat, sizes), strict=True))
        weights = {name: parts[name].reshape(weights[name].shape) for name in qm.tensor_names}
        torch.testing.assert_close(result.logits, qm.forward(x, weights), rtol=0, atol=0)
        assert (result.corrected_words, result.detected_words, result.miscorrected_words) == (1, 1, 1)
        assert result.flipped_bits == 6 and result.protection == "secded:8"


def test_one_flip_per_secded_codeword_changes_nothing(qm):
    x = torch.rand(6, 1, 8, 8)
    flips = np.arange(0, qm.stored_bits // 8 * 13, 13 * 3 + 1)[:200] // 13 * 13  # one per codeword
    flips = np.unique(flips) + 5
    result = qm.run(x, None, None, protection="secded:8", extra_flips=flips)
    torch.testing.assert_close(result.logits, qm.forward(x), rtol=0, atol=0)
    assert result.corrected_words == len(flips) and result.residual_flipped_bits == 0


def test_protected_flip_beyond_the_stored_stream_is_refused(qm):
    from accelsim.sram.protection import stored_stream_bits

    total = stored_stream_bits(len(qm.words), qm.bits, "secded:64")
    assert total > qm.stored_bits  # the check bits are attackable too
    qm.run(torch.rand(1, 1, 8, 8), None, None, protection="secded:64", extra_flips=[total - 1])
    with pytest.raises(EngineError, match=rf"in \[0, {total}\)"):
        qm.run(torch.rand(1, 1, 8, 8), None, None, protection="secded:64", extra_flips=[total])
