"""Runs through a protected memory: `none` unchanged, policies, counters."""

import numpy as np
import pytest
import torch

from accelsim.engine import QuantizedModel
from accelsim.engine.protected import protected_weights
from accelsim.sram.protection import ProtectionError


@pytest.fixture
def qm(small_net, images):
    return QuantizedModel.from_torch(small_net, "normal", images)


def test_none_is_the_unprotected_run_bit_for_bit(qm, images, uniform):
    vdd = uniform.voltage_for_ber(0.02)
    for chip in range(3):
        plain = qm.run(images, uniform, vdd, chip=chip)
        none = qm.run(images, uniform, vdd, chip=chip, protection="none", on_detect="keep")
        assert torch.equal(plain.logits, none.logits)
        assert (plain.flipped_bits, plain.faulty_cells, plain.model_ber) == (
            none.flipped_bits, none.faulty_cells, none.model_ber)
        assert none.protection == "none" and none.residual_flipped_bits == none.flipped_bits
        assert none.corrected_words == none.detected_words == none.miscorrected_words == 0


def test_all_bits_at_nominal_read_clean(qm, images, uniform):
    result = qm.run(images, uniform, uniform.vdd_floor_v, protection="msb:8")
    assert result.faulty_cells == 0 and torch.equal(result.logits, qm.forward(images))


def test_secded_counts_check_bits_and_corrects(qm, images, uniform):
    vdd = uniform.voltage_for_ber(1e-3)
    result = qm.run(images, uniform, vdd, chip=1, protection="secded:64")
    assert result.stored_bits == -(-qm.stored_bits // 64) * 72
    assert result.protection == "secded:64"
    assert result.residual_flipped_bits <= result.flipped_bits


@pytest.mark.parametrize("on_detect", ["keep", "zero"])
def test_detected_words_follow_the_policy(qm, images, uniform, on_detect):
    memory = qm.memory(uniform, 0, "parity:8")
    read = memory.read(uniform.voltage_for_ber(0.05), 0, on_detect)
    assert read.detected_index.size > 0
    weights, _ = protected_weights(qm, read, on_detect)
    flat = torch.cat([weights[n].reshape(-1) for n in qm.tensor_names])
    clean = torch.cat([qm.clean_weights[n].reshape(-1) for n in qm.tensor_names])
    zeroed = torch.from_numpy(read.detected_index)
    if on_detect == "zero":
        assert torch.all(flat[zeroed] == 0)
    else:
        # keep: the raw words; parity never changes a word it does not flag.
        assert torch.equal(flat[zeroed] != clean[zeroed],
                           torch.from_numpy(np.isin(read.detected_index, read.word_index)))
    others = torch.ones(len(flat), dtype=torch.bool)
    others[zeroed] = False
    others[torch.from_numpy(read.word_index)] = False
    assert torch.equal(flat[others], clean[others])


def test_bad_policy_is_a_user_error(qm, images, uniform):
    with pytest.raises(ProtectionError, match="on_detect"):
        qm.run(images, uniform, 1.0, protection="secded:8", on_detect="ignore")
    with pytest.raises(ProtectionError, match="K <= 8"):
        qm.run(images, uniform, 1.0, protection="msb:9")


@pytest.mark.parametrize("fmt", ["int4-g32", "fp16", "bfp-16"])
def test_number_formats_take_protection_with_keep(small_net, images, uniform, fmt):
    qm = QuantizedModel.from_torch(small_net, fmt, images)
    with pytest.raises(ProtectionError, match="keep"):
        qm.run(images, uniform, uniform.vdd_nominal_v, protection="secded:64")
    clean = qm.run(images, uniform, uniform.vdd_nominal_v, protection="secded:64", on_detect="keep")
    assert clean.faulty_cells == 0 and torch.equal(clean.logits, qm.forward(images))
    vdd = uniform.voltage_for_ber(1e-3)
    plain = qm.run(images, uniform, vdd, chip=2)
    coded = qm.run(images, uniform, vdd, chip=2, protection="secded:64", on_detect="keep")
    assert coded.faulty_cells > 0 and coded.corrected_words > 0
    # SECDED corrects the single errors that dominate at 1e-3: fewer decoded bits differ than flip unprotected.
    assert coded.residual_flipped_bits < plain.flipped_bits
    none = qm.run(images, uniform, vdd, chip=2, protection="none")
    assert torch.equal(none.logits, plain.logits)
