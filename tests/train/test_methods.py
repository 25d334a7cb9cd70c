"""Training steps: QAT, RandBET's clipped average, SAQ's ascent step, the activation penalty."""

import numpy as np
import pytest
import torch

from accelsim import load_dataset, quant
from accelsim.models import build
from accelsim.train import methods
from accelsim.train.qat import QatModel


@pytest.fixture(scope="module")
def batch():
    return load_dataset("digits", "train", limit=64)


@pytest.fixture
def model():
    torch.manual_seed(1)
    module = build("digits-mlp")
    return QatModel(module, quant.get_scheme("rquant", 8), [n for n, _ in module.named_parameters()])


class NoFaults:
    def apply(self, words, bits, step):
        return words.copy()


class FlipFirstBits:
    """Flips the top bit of every 7th word: large, deterministic errors."""

    def apply(self, words, bits, step):
        faulty = words.copy()
        faulty[::7] ^= np.uint8(1 << (bits - 1))
        return faulty


def test_recorder_counts_zeros_like_numpy(model, batch):
    x, _ = batch
    with methods.ActivationRecorder(model.module) as recorder:
        model.module(x)
        outputs = [a.detach().numpy() for a in recorder.outputs]
        assert len(outputs) == 2  # relu1, relu2
        expected = sum((a == 0).sum() for a in outputs) / sum(a.size for a in outputs)
        assert recorder.zero_fraction() == pytest.approx(expected)
        assert float(recorder.penalty().detach()) == pytest.approx(np.mean([np.abs(a).mean() for a in outputs]), rel=1e-6)
    recorder.clear()
    model.module(x)
    assert recorder.outputs == []  # hooks are gone


def test_objective_adds_the_weighted_penalty(model, batch):
    x, y = batch
    weights = model.quantize().values
    with methods.ActivationRecorder(model.module) as recorder:
        plain = float(methods.Objective(0.0, recorder).loss(model, weights, x, y).detach())
        penalty = float(recorder.penalty().detach())
        sparse = float(methods.Objective(0.3, recorder).loss(model, weights, x, y).detach())
    assert penalty > 0
    assert sparse == pytest.approx(plain + 0.3 * penalty, rel=1e-6)


def test_randbet_without_faults_is_qat_with_a_clipped_copy(model, batch):
    x, y = batch
    objective = methods.Objective()
    clean = methods.normal_step(model, objective, x, y)
    result = methods.randbet_step(model, objective, x, y, NoFaults(), step=0, grad_clip=0.01)
    assert result.second_loss == pytest.approx(result.loss)
    for g, c in zip(result.grads, clean.grads):
        torch.testing.assert_close(g, (c + c.clamp(-0.01, 0.01)) / 2)


def test_randbet_averages_the_clean_and_the_clipped_faulty_gradient(model, batch):
    x, y = batch
    objective = methods.Objective()
    faults = FlipFirstBits()
    quantized = model.quantize()
    faulty_weights = model.faulty_weights(quantized, faults.apply(quantized.words(), 8, 0))
    _, faulty = objective.gradient(model, faulty_weights, x, y)
    clean = methods.normal_step(model, objective, x, y).grads
    result = methods.randbet_step(model, objective, x, y, faults, step=0, grad_clip=0.05)
    assert result.second_loss != pytest.approx(result.loss)  # the faults matter
    for g, c, f in zip(result.grads, clean, faulty):
        torch.testing.assert_close(g, (c + f.clamp(-0.05, 0.05)) / 2)


def test_saq_steps_with_the_gradient_at_an_ascent_point(model, batch):
    x, y = batch
    objective = methods.Objective()
    clean = methods.normal_step(model, objective, x, y)
    tiny = methods.saq_step(model, objective, x, y, rho=1e-6)
    for g, c in zip(tiny.grads, clean.grads):
        torch.testing.assert_close(g, c, rtol=1e-3, atol=1e-5)
    moved = methods.saq_step(model, objective, x, y, rho=0.05)
    assert moved.second_loss > moved.loss
    assert any(not torch.allclose(g, c) for g, c in zip(moved.grads, clean.grads))


# -- number formats ---------------------------------------------------------------------
def _format_model(name):
    from accelsim.engine import QuantizedModel

    torch.manual_seed(1)
    module = build("digits-mlp")
    fmt = quant.resolve_scheme(name)
    names = QuantizedModel.from_torch(module, fmt, torch.zeros(2, 64)).tensor_names
    return QatModel(module, fmt, names)


class ExponentToAllOnes:
    """Sets the exponent field of every 50th fp16 word to all ones (inf or NaN weights)."""

    def apply(self, words, bits, step):
        faulty = words.copy()
        faulty[::50] |= np.uint16(0x7C00)
        return faulty


def test_randbet_in_fp16_survives_infinite_and_nan_weights(batch):
    x, y = batch
    model = _format_model("fp16")
    quantized = model.quantize()
    faulty = model.faulty_weights(quantized, ExponentToAllOnes().apply(quantized.words(), 16, 0))
    assert any(not bool(torch.isfinite(v).all()) for v in faulty.values())  # the engine's values, kept
    objective = methods.Objective()
    clean = methods.normal_step(model, objective, x, y)
    result = methods.randbet_step(model, objective, x, y, ExponentToAllOnes(), step=0, grad_clip=0.05)
    assert not np.isfinite(result.second_loss)
    for g, c in zip(result.grads, clean.grads, strict=True):
        assert bool(torch.isfinite(g).all())
        assert float((g - c / 2).abs().max()) <= 0.05 / 2 + 1e-7  # NaN entries count as 0, the rest clipped


def test_randbet_in_a_group_format_faults_scales_and_zero_points(batch):
    x, y = batch
    model = _format_model("int4-g32")
    quantized = model.quantize()
    words = quantized.words()
    aux = np.zeros(len(words), dtype=bool)
    for i in range(len(quantized.offsets) - 1):
        n_codes, _ = model.scheme.layout(model.parameters[model.names[i]].shape)
        aux[quantized.offsets[i] + n_codes:quantized.offsets[i + 1]] = True

    class FlipAux:
        def apply(self, words, bits, step):
            faulty = words.copy()
            faulty[aux] ^= np.uint8(0b1000)  # the top bit of every zero-point and scale word
            return faulty

    result = methods.randbet_step(model, methods.Objective(), x, y, FlipAux(), step=0, grad_clip=0.05)
    assert result.second_loss != pytest.approx(result.loss)  # faults in aux words alone change the network


def test_adversarial_bits_of_int8_raise_the_loss(batch):
    x, y = batch
    model = _format_model("int8")
    objective = methods.Objective()
    quantized = model.quantize()
    loss, grads = objective.gradient(model, quantized.values, x, y)
    chosen = methods.adversarial_bits(quantized, grads, 8, 10)
    assert len(chosen) == 10
    words = quantized.words()
    np.bitwise_xor.at(words, chosen // 8, np.left_shift(1, chosen % 8).astype(words.dtype))
    attacked = objective.loss(model, model.faulty_weights(quantized, words), x, y).detach()
    assert float(attacked) > loss
    result = methods.advbet_step(model, objective, x, y, 10, 0.05)
    assert result.second_loss == pytest.approx(float(attacked), rel=1e-5)
