"""Adversarial bit error training: its step, its options and its errors."""

import numpy as np
import pytest
import torch

from accelsim.train import TrainError, train
from accelsim.train.methods import adversarial_bits
from accelsim.train.qat import QatModel
from tests.train.conftest import tiny_config


def test_adversarial_bits_are_the_largest_first_order_gains():
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    from accelsim.quant import get_scheme

    model = QatModel(module, get_scheme("rquant", 4), [n for n, _ in module.named_parameters()])
    quantized = model.quantize()
    grads = [torch.randn_like(v) for v in quantized.values.values()]
    chosen = adversarial_bits(quantized, grads, 4, 3)
    assert len(chosen) == 3 and len(np.unique(chosen)) == 3
    # brute force: the gain of every single flip
    words = quantized.words()
    gains = []
    for bit in range(len(words) * 4):
        flipped = words.copy()
        flipped[bit // 4] ^= 1 << (bit % 4)
        values = model.faulty_weights(quantized, flipped)
        gains.append(sum(float((g * (v - w).detach()).sum()) for g, v, w in
                         zip(grads, values.values(), quantized.values.values())))
    expected = np.lexsort((np.arange(len(gains)), -np.array(gains)))[:3]
    np.testing.assert_array_equal(chosen, expected)


def test_advbet_trains_and_says_so_in_its_meta():
    result = train(tiny_config(method="advbet", clip=0.1, adv_flips=4))
    assert result.meta["method"] == "advbet" and result.meta["adv_flips"] == 4
    assert result.meta["clean_accuracy"] > 0.2  # chance is 0.1; the tiny run trains two short epochs


@pytest.mark.parametrize("options, match", [
    (dict(method="advbet"), "needs adv_flips"),
    (dict(method="advbet", adv_flips=0), "adv_flips = 0"),
    (dict(method="randbet", p_train=0.1, adv_flips=3), "only applies to AdvBET"),
    (dict(method="advbet", adv_flips=3, fault_chip=1), "fault_chip"),
    (dict(method="advbet", adv_flips=3, fault_model="flip"), "needs p_train"),
    (dict(method="advbet", adv_flips=3, adv_steps=0), "adv_steps = 0"),
    (dict(method="randbet", p_train=0.1, adv_steps=2), "adv_steps = 2 only applies to AdvBET"),
])
def test_bad_advbet_options(options, match):
    with pytest.raises(TrainError, match=match):
        tiny_config(**options)


def _model_and_batch():
    from accelsim.quant import get_scheme

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    model = QatModel(module, get_scheme("rquant", 4), [n for n, _ in module.named_parameters()])
    return model, torch.randn(16, 6), torch.randint(0, 3, (16,))


def test_one_adv_step_is_the_single_step_bit_for_bit():
    """adv_steps=1 (the default) is the single projected step: the reference below, written out."""
    from accelsim.train.methods import Objective, advbet_step

    model, x, y = _model_and_batch()
    objective = Objective()
    result = advbet_step(model, objective, x, y, 5, 0.05)
    quantized = model.quantize()
    loss, clean = objective.gradient(model, quantized.values, x, y)
    words = quantized.words()
    chosen = adversarial_bits(quantized, clean, 4, 5)
    attacked = words.copy()
    np.bitwise_xor.at(attacked, chosen // 4, np.left_shift(1, chosen % 4).astype(words.dtype))
    adv_loss, adversarial = objective.gradient(model, model.faulty_weights(quantized, attacked), x, y,
                                               update_statistics=False)
    expected = [(c + a.clamp(-0.05, 0.05)) / 2 for c, a in zip(clean, adversarial, strict=True)]
    assert result.loss == loss and result.second_loss == adv_loss
    for got, want in zip(result.grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_later_rounds_rank_at_the_flipped_words_and_skip_flipped_bits():
    model, x, y = _model_and_batch()
    quantized = model.quantize()
    grads = [torch.randn_like(v) for v in quantized.values.values()]
    first = adversarial_bits(quantized, grads, 4, 3)
    words = quantized.words()
    attacked = words.copy()
    np.bitwise_xor.at(attacked, first // 4, np.left_shift(1, first % 4).astype(words.dtype))
    second = adversarial_bits(quantized, grads, 4, 3, words=attacked, exclude=first)
    assert not set(second.tolist()) & set(first.tolist())
    base = model.faulty_weights(quantized, attacked)
    gains = []
    for bit in range(len(words) * 4):  # brute force at the attacked words
        flipped = attacked.copy()
        flipped[bit // 4] ^= 1 << (bit % 4)
        values = model.faulty_weights(quantized, flipped)
        gains.append(sum(float((g * (v - w).detach()).sum()) for g, v, w in
                         zip(grads, values.values(), base.values(), strict=True)))
    gains = np.array(gains)
    gains[first] = -np.inf
    np.testing.assert_array_equal(second, np.lexsort((np.arange(len(gains)), -gains))[:3])


def test_more_adv_steps_change_the_training_step():
    from accelsim.train.methods import Objective, advbet_step

    model, x, y = _model_and_batch()
    one = advbet_step(model, Objective(), x, y, 6, 0.05)
    three = advbet_step(model, Objective(), x, y, 6, 0.05, adv_steps=3)
    assert one.loss == three.loss
    assert three.second_loss >= one.second_loss - 1e-6  # a multi-step attacker is at least as strong here
    assert any(not torch.equal(a, b) for a, b in zip(one.grads, three.grads, strict=True))
