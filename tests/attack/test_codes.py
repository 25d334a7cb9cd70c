"""Attacks on protected memory: codeword moves, budgets in stored bits, replay through the decoder."""

import numpy as np
import pytest

from accelsim.attack import AttackError, run
from accelsim.sram import uniform_profile
from accelsim.sram.protection import (
    ProtectionError,
    decode_flipped,
    encode_codewords,
    hamming_layout,
    parse_protection,
    stored_stream_bits,
)
from tests.attack.conftest import accuracy_of


@pytest.mark.parametrize("protection", ["secded:64", "secded:8", "parity:8"])
@pytest.mark.parametrize("on_detect", ["zero", "keep"])
@pytest.mark.parametrize("faulty", [False, True])
def test_replay_through_the_decoder_gives_the_reported_accuracy(qm, digits, protection, on_detect, faulty):
    x, y = digits
    chip = {}
    if faulty:
        profile = uniform_profile(1e-3, seed=1)
        chip = {"profile": profile, "vdd_v": profile.voltage_for_ber(1e-3), "chip": 2, "memory_seed": 3}
    result = run(qm, x, y, flips=7, attack_examples=32, protection=protection, on_detect=on_detect, **chip)
    assert result.protection == protection and result.on_detect == on_detect
    assert 0 < len(result.bits) <= 7 and len(np.unique(result.bits)) == len(result.bits)
    replay = qm.run(x, chip.get("profile"), chip.get("vdd_v"), chip.get("chip", 0), chip.get("memory_seed", 0),
                    protection=protection, on_detect=on_detect, extra_flips=result.bits)
    assert accuracy_of(replay, y) == result.accuracy
    start = qm.run(x, chip.get("profile"), chip.get("vdd_v"), chip.get("chip", 0), chip.get("memory_seed", 0),
                   protection=protection, on_detect=on_detect)
    assert accuracy_of(start, y) == result.start_accuracy
    assert result.accuracy < result.start_accuracy
    # The decoder saw the attacker's flips: every move was flagged or slipped through unseen.
    assert replay.detected_words + replay.miscorrected_words >= 1


@pytest.mark.parametrize("protection", ["secded:64", "secded:8", "parity:16"])
@pytest.mark.parametrize("budget", [2, 3, 4, 5])
@pytest.mark.parametrize("method", ["bfa", "advbit"])
def test_a_k_flip_attack_never_flips_more_than_k_stored_bits(qm, digits, protection, budget, method):
    x, y = digits
    result = run(qm, x, y, method=method, flips=budget, attack_examples=16, eval_every=0, protection=protection,
                 on_detect="keep", steps=3, restarts=2)
    assert len(result.bits) <= budget and len(np.unique(result.bits)) == len(result.bits)
    assert result.bits.min() >= 0 and result.bits.max() < stored_stream_bits(len(qm.words), qm.bits, protection)
    assert result.curve[-1][0] == len(result.bits)


def test_no_secded_move_wastes_a_single_flip(qm, digits):
    """A lone flip in a fault-free SECDED codeword is corrected, so every attacked codeword holds 2 or more."""
    x, y = digits
    p = parse_protection("secded:64")
    n, _ = hamming_layout(p)
    for on_detect in ("zero", "keep"):
        result = run(qm, x, y, flips=12, attack_examples=32, protection=p.name, on_detect=on_detect)
        _, per_codeword = np.unique(result.bits // n, return_counts=True)
        assert per_codeword.min() >= 2
        for codeword in np.unique(result.bits // n):  # and each single flip alone is corrected
            one = decode_flipped(qm.words, qm.bits, p, result.bits[result.bits // n == codeword][:1])
            assert one.word_index.size == 0 and one.corrected_words == 1


def test_secded_needs_more_flips_than_unprotected_memory(qm, digits):
    """Seeds fixed: the accuracy the unprotected attack reaches in 3 flips costs SECDED's attacker more."""
    x, y = digits
    plain = run(qm, x, y, flips=3, attack_examples=64)
    level = plain.accuracy
    assert level < plain.start_accuracy - 0.05 and plain.flips_to_reach(level) <= 3
    for protection, on_detect in (("secded:8", "keep"), ("secded:8", "zero"), ("secded:64", "keep")):
        coded = run(qm, x, y, flips=12, attack_examples=64, protection=protection, on_detect=on_detect)
        needed = coded.flips_to_reach(level)
        assert needed is None or needed > plain.flips_to_reach(level), (protection, on_detect, coded.curve)


def test_same_seed_same_bits_under_secded(qm, digits):
    x, y = digits
    kwargs = {"flips": 6, "attack_examples": 32, "protection": "secded:16", "eval_every": 0, "seed": 4}
    np.testing.assert_array_equal(run(qm, x, y, **kwargs).bits, run(qm, x, y, **kwargs).bits)


@pytest.mark.parametrize("direction", ["1->0", "0->1"])
def test_one_direction_under_a_code_flips_only_stored_cells_of_that_value(qm, digits, direction):
    x, y = digits
    p = parse_protection("secded:8")
    n, _ = hamming_layout(p)
    result = run(qm, x, y, flips=6, attack_examples=32, protection=p.name, direction=direction, eval_every=0)
    assert len(result.bits) >= 2
    data = np.unpackbits(qm.words[:, None], axis=1, bitorder="little")[:, :qm.bits].reshape(-1, 8)
    stored = encode_codewords(data, p).reshape(-1)
    assert np.all(stored[result.bits] == (1 if direction == "1->0" else 0))


def test_attack_cells_under_a_code_are_cells_of_its_faulty_array(qm, digits):
    x, y = digits
    profile = uniform_profile(1e-2, seed=4)
    vdd_v = profile.voltage_for_ber(5e-3)
    result = run(qm, x, y, flips=6, attack_cells=(profile, vdd_v), cells_chip=1, attack_examples=32,
                 eval_every=0, protection="parity:8")
    weak = qm.memory(profile, 0, "parity:8").weak_bits(vdd_v, 1)
    assert len(result.bits) > 0 and set(result.bits.tolist()) <= set(weak.tolist())


def test_msb_nominal_bits_are_still_attacked(qm, digits):
    """``msb:K`` keeps the top bits at nominal voltage: faults miss them, the attacker does not."""
    x, y = digits
    result = run(qm, x, y, flips=4, attack_examples=32, protection="msb:2")
    plain = run(qm, x, y, flips=4, attack_examples=32)
    np.testing.assert_array_equal(result.bits, plain.bits)
    replay = qm.run(x, None, None, protection="msb:2", extra_flips=result.bits)
    assert accuracy_of(replay, y) == result.accuracy == plain.accuracy


@pytest.mark.parametrize("kwargs, error, match", [
    ({"protection": "secded:64", "flips": 1}, AttackError, "SECDED corrects any single flip"),
    ({"protection": "secded:64", "flips": 10**9}, AttackError, r"check bits included"),
    ({"protection": "hamming"}, ProtectionError, "protection = 'hamming'"),
    ({"protection": "parity:8", "on_detect": "drop"}, ProtectionError, "on_detect = 'drop'"),
])
def test_bad_protected_attacks_are_one_clear_error(qm, digits, kwargs, error, match):
    x, y = digits
    with pytest.raises(error, match=match):
        run(qm, x, y, **{"flips": 4, **kwargs})


def test_the_budget_counts_check_bits(qm, digits):
    """Under a code the stored stream is longer than the data: a budget past the data bits is valid."""
    total = stored_stream_bits(len(qm.words), qm.bits, "secded:8")
    assert total == len(qm.words) * 13
    x, y = digits
    with pytest.raises(AttackError, match=rf"\[1, {total}\]"):
        run(qm, x, y, flips=total + 1, protection="secded:8")


@pytest.mark.parametrize("protection, on_detect", [("secded:64", "zero"), ("secded:8", "keep"), ("parity:8", "keep")])
def test_advbit_over_codeword_moves_replays_and_is_deterministic(qm, digits, protection, on_detect):
    x, y = digits
    profile = uniform_profile(1e-3, seed=1)
    chip = {"profile": profile, "vdd_v": profile.voltage_for_ber(1e-3), "chip": 1, "memory_seed": 2}
    kwargs = {"method": "advbit", "flips": 8, "attack_examples": 32, "steps": 4, "restarts": 2, "seed": 3,
              "protection": protection, "on_detect": on_detect, "eval_every": 2, **chip}
    result = run(qm, x, y, **kwargs)
    assert 0 < len(result.bits) <= 8
    np.testing.assert_array_equal(result.bits, run(qm, x, y, **kwargs).bits)
    for flips, accuracy in result.curve[1:]:  # every point of the curve replays: prefixes end between moves
        replay = qm.run(x, profile, chip["vdd_v"], 1, 2, protection=protection, on_detect=on_detect,
                        extra_flips=result.bits[:flips])
        assert accuracy_of(replay, y) == accuracy
    assert result.accuracy < result.start_accuracy
    if protection.startswith("secded"):  # a lone flip only where the chip's fault makes it count
        n, _ = hamming_layout(parse_protection(protection))
        codewords, per_codeword = np.unique(result.bits // n, return_counts=True)
        faults, _ = qm.memory(profile, 2, protection).error_bits(chip["vdd_v"], 1, np.zeros(0, np.int64))
        assert set(codewords[per_codeword == 1].tolist()) <= set((faults // n).tolist())


def test_one_flip_on_top_of_a_corrected_fault_is_a_detected_double(qm, digits):
    """A chip's single fault in a SECDED codeword is corrected; one chosen flip more is not."""
    x, y = digits
    profile = uniform_profile(1e-2, seed=1)
    vdd_v = profile.voltage_for_ber(2e-3)
    chip = {"profile": profile, "vdd_v": vdd_v, "chip": 0, "memory_seed": 0}
    result = run(qm, x, y, flips=1, attack_examples=32, protection="secded:64", on_detect="zero", **chip)
    assert len(result.bits) == 1
    memory = qm.memory(profile, 0, "secded:64")
    faults, _ = memory.error_bits(vdd_v, 0, np.zeros(0, np.int64))
    assert result.bits[0] // 72 in set((faults // 72).tolist())  # a codeword holding a fault
    before = qm.run(x, profile, vdd_v, 0, 0, protection="secded:64", on_detect="zero")
    after = qm.run(x, profile, vdd_v, 0, 0, protection="secded:64", on_detect="zero", extra_flips=result.bits)
    assert after.detected_words + after.miscorrected_words == before.detected_words + before.miscorrected_words + 1
    assert accuracy_of(after, y) == result.accuracy <= result.start_accuracy
    with pytest.raises(AttackError, match="fault-free codeword"):
        run(qm, x, y, flips=1, protection="secded:64")


@pytest.mark.parametrize("method", ["bfa", "advbit"])
@pytest.mark.parametrize("faulty", [False, True])
def test_tmr_moves_win_the_vote_and_replay(qm, digits, method, faulty):
    """One flipped copy of a triplicated top bit is outvoted: a top-bit move flips two copies (one on a faulty copy)."""
    x, y = digits
    chip = {}
    if faulty:
        profile = uniform_profile(2e-2, seed=1)
        chip = {"profile": profile, "vdd_v": profile.voltage_for_ber(1e-2), "chip": 0, "memory_seed": 0}
    result = run(qm, x, y, method=method, flips=9, attack_examples=32, protection="msb:2:tmr", steps=3, **chip)
    assert 0 < len(result.bits) <= 9 and len(np.unique(result.bits)) == len(result.bits)
    replay = qm.run(x, chip.get("profile"), chip.get("vdd_v"), 0, 0, protection="msb:2:tmr", extra_flips=result.bits)
    assert accuracy_of(replay, y) == result.accuracy
    width = qm.bits + 4
    words, positions = np.divmod(result.bits, width)
    copies = positions >= qm.bits - 2  # bits of a copy of the top two
    if not faulty and copies.any():  # fault-free: every top-bit move spends two copies of one bit
        top = (positions[copies] - (qm.bits - 2)) % 2
        _, per_bit = np.unique(words[copies] * 2 + top, return_counts=True)
        assert per_bit.min() == 2 and replay.miscorrected_words == np.unique(words[copies]).size


def test_layer_restriction_under_a_code_touches_only_that_layers_codewords(qm, digits):
    x, y = digits
    layer = qm.tensor_names[-2].rsplit(".", 1)[0]
    result = run(qm, x, y, flips=6, attack_examples=32, eval_every=0, protection="secded:16", layers=[layer])
    n, _ = hamming_layout(parse_protection("secded:16"))
    words = np.unique(np.concatenate([np.arange(c * 16 // qm.bits, (c + 1) * 16 // qm.bits)
                                      for c in np.unique(result.bits // n)]))
    assert len(result.bits) > 0
    assert set(qm.tensors_at_bits(words * qm.bits)) & {qm.tensor_names[-2], qm.tensor_names[-1]}
    assert set(qm.tensors_at_bits(words * qm.bits)) <= set(qm.tensor_names[-3:])  # a straddling codeword at most
