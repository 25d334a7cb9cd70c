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
])
def test_bad_advbet_options(options, match):
    with pytest.raises(TrainError, match=match):
        tiny_config(**options)
