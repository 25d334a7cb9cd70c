"""One training step of each method: the gradient it steps with.

- normal: the gradient of the loss on the quantized weights;
- RandBET (Stutz et al., MLSys 2021): the mean of that clean gradient and the
  gradient on the quantized weights read back from a faulty chip, the latter
  clipped element-wise (0.05 in the paper);
- SAQ (Liu et al., 2021): the gradient at the quantized weights moved by
  ``rho * g / ||g||`` along the clean gradient ``g``;
- AdvBET (Stutz et al., TPAMI 2022): the mean of the clean gradient and the
  gradient on the quantized weights with ``k`` adversarially chosen stored
  bits flipped (clipped like RandBET's), and, mixed with random errors, the
  RandBET gradient too. The flips are one projected gradient step of the
  adversarial bit error attack from zero, rounded: the ``k`` bits of largest
  first-order loss gain ``dL/dw * dw`` under the clean gradient (computed one
  tensor at a time; deterministic, ties by bit index). With ``adv_steps``
  S > 1 the budget is spent in S rounds (the first ``k mod S`` rounds take one
  bit more): each round ranks the bits not flipped yet by their gain under the
  gradient at the weights with the earlier rounds' flips (a multi-step
  attack; S = 1 is the single step above, bit for bit).

Every loss may add an L1 penalty on activations (FlatENN's activation
sparsity), recorded by :class:`ActivationRecorder`. A causal language model
(no labels, ``y is None``) is trained on next-token cross-entropy: position
``t`` of a window predicts token ``t + 1`` (:func:`cross_entropy`).

In a floating-point number format a flipped exponent bit can make a faulty
weight infinite or NaN (the engine propagates them); the perturbed gradient
then holds NaN where the loss lost its meaning: those entries are set to 0
(an infinite entry is clipped like any other) before RandBET's and AdvBET's
clip, so that one such chip costs the step its perturbed half, not the model.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ActivationRecorder", "Objective", "StepResult", "normal_step", "randbet_step", "saq_step",
           "advbet_step", "adversarial_bits", "cross_entropy"]

_ACTIVATIONS = (nn.ReLU, nn.ReLU6)


def cross_entropy(logits, x, y):
    """Mean cross-entropy of a classifier (``N x C`` logits, labels ``y``) or a causal LM.

    A language model's logits are ``N x T x V`` and ``y`` is None: position
    ``t`` predicts token ``t + 1`` of its own window ``x`` (nats per token,
    the sweep's ``loss`` metric).
    """
    if y is None:
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
    return F.cross_entropy(logits, y)


class ActivationRecorder:
    """Keeps the outputs of a module's ReLU layers during forward passes.

    Use as a context manager: hooks are attached on entry and removed on exit.

    Parameters
    ----------
    module : torch.nn.Module
    """

    def __init__(self, module):
        self._module = module
        self._handles = []
        self.outputs = []

    def __enter__(self):
        self.outputs = []
        self._handles = [m.register_forward_hook(self._keep) for m in self._module.modules()
                         if isinstance(m, _ACTIVATIONS)]
        return self

    def __exit__(self, *exc_info):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _keep(self, module, inputs, output):
        self.outputs.append(output)

    def clear(self):
        """Forget the recorded outputs."""
        self.outputs = []

    def penalty(self):
        """Mean over layers of the mean absolute activation (differentiable)."""
        if not self.outputs:
            return torch.zeros(())
        return torch.stack([a.abs().mean() for a in self.outputs]).mean()

    def zero_fraction(self):
        """Fraction of the recorded activations that are exactly zero, over all layers."""
        zeros = sum(int((a == 0).sum()) for a in self.outputs)
        total = sum(a.numel() for a in self.outputs)
        return zeros / total if total else 0.0


@dataclass(frozen=True)
class Objective:
    """Cross-entropy plus ``act_sparsity`` times the activation penalty.

    Attributes
    ----------
    act_sparsity : float
    recorder : ActivationRecorder or None
        Required (and entered) when ``act_sparsity > 0``.
    """

    act_sparsity: float = 0.0
    recorder: ActivationRecorder | None = None

    def loss(self, model, weights, x, y, update_statistics=True):
        """The differentiable loss of ``model`` with ``weights`` on the batch."""
        if self.recorder is not None:
            self.recorder.clear()
        loss = cross_entropy(model.forward(x, weights, update_statistics), x, y)
        if self.act_sparsity > 0:
            loss = loss + self.act_sparsity * self.recorder.penalty()
        return loss

    def gradient(self, model, weights, x, y, update_statistics=True):
        """Loss (float) and its gradient with respect to the trained parameters (memory order)."""
        loss = self.loss(model, weights, x, y, update_statistics)
        grads = torch.autograd.grad(loss, list(model.parameters.values()))
        return float(loss.detach()), list(grads)


@dataclass(frozen=True)
class StepResult:
    """The gradient to step with and the losses seen.

    Attributes
    ----------
    grads : list of Tensor
        One per trained parameter, in memory order.
    loss : float
        Loss on the clean quantized weights.
    second_loss : float or None
        Loss on the faulty (RandBET) or perturbed (SAQ) weights.
    """

    grads: list
    loss: float
    second_loss: float | None = None


def normal_step(model, objective, x, y):
    """Quantization-aware training: the gradient on the clean quantized weights."""
    loss, grads = objective.gradient(model, model.quantize().values, x, y)
    return StepResult(grads, loss)


def randbet_step(model, objective, x, y, faults, step, grad_clip):
    """Random bit error training: clean and faulty gradients averaged.

    Parameters
    ----------
    model : accelsim.train.qat.QatModel
    objective : Objective
    x, y : Tensor
        The batch.
    faults : accelsim.train.faults.TrainingFaults
        Reads the stored words back out of this step's chip.
    step : int
        Global step number (the chip of a fresh-chip fault model).
    grad_clip : float
        Element-wise bound of the faulty gradient.
    """
    quantized = model.quantize()
    loss, clean = objective.gradient(model, quantized.values, x, y)
    words = faults.apply(quantized.words(), model.scheme.bits, step)
    faulty_loss, faulty = objective.gradient(model, model.faulty_weights(quantized, words), x, y,
                                             update_statistics=False)
    grads = [(c + _clipped(f, grad_clip)) / 2 for c, f in zip(clean, faulty, strict=True)]
    return StepResult(grads, loss, faulty_loss)


def _clipped(grad, bound):
    """``grad`` clamped element-wise to ``[-bound, bound]``, NaN entries set to 0."""
    return torch.nan_to_num(grad, nan=0.0).clamp(-bound, bound)


def saq_step(model, objective, x, y, rho):
    """Sharpness-aware quantization: the gradient at ``w_q + rho * g / ||g||``."""
    quantized = model.quantize()
    loss, clean = objective.gradient(model, quantized.values, x, y)
    norm = torch.sqrt(sum((g * g).sum() for g in clean)).clamp_min(1e-12)
    moved = [v.detach() + rho * g / norm for v, g in zip(quantized.values.values(), clean, strict=True)]
    second_loss, grads = objective.gradient(model, model.straight_through(moved), x, y, update_statistics=False)
    return StepResult(grads, loss, second_loss)


def adversarial_bits(quantized, grads, bits, k, words=None, exclude=None):
    """The ``k`` stored bits whose flips raise the loss most to first order, in decreasing gain.

    Parameters
    ----------
    quantized : accelsim.train.qat.QuantizedWeights
        Of a fixed-point preset or of a number format storing one word per
        weight (``int8``, ``int4``, ``fp16``, ``bf16``, ``fp8-*``; not one
        with scales or shared exponents among its words).
    grads : list of Tensor
        Loss gradient per tensor (memory order) at the weights of ``words``.
    bits : int
    k : int
    words : ndarray, optional
        The stored words the flips start from (default: ``quantized``'s own).
    exclude : ndarray of int64, optional
        Stored bits not to choose (flipped already).

    Returns
    -------
    ndarray of int64
        Stored-bit indices (``word * bits + bit``), at most ``k``, only bits
        with a positive gain.
    """
    import numpy as np

    from accelsim.attack._target import bit_deltas

    exclude = np.sort(np.asarray([] if exclude is None else exclude, dtype=np.int64))
    start_words = quantized.words() if words is None else words
    pool_bits, pool_gains, first = [], [], 0
    for i, grad in enumerate(grads):
        lo, hi = int(quantized.offsets[i]), int(quantized.offsets[i + 1])
        n_words = hi - lo
        tensor_words = np.array(start_words[lo:hi], copy=True)

        def decode(chunk, i=i):
            return quantized.decode(i, chunk)

        gains = (grad.detach().reshape(-1, 1).double()
                 * bit_deltas(decode, tensor_words, bits).double()).numpy().ravel()
        if exclude.size:
            a, z = np.searchsorted(exclude, [first, first + n_words * bits])
            gains[exclude[a:z] - first] = 0.0
        candidates = np.flatnonzero(gains > 0)
        if candidates.size > k:
            candidates = candidates[np.lexsort((candidates, -gains[candidates]))[:k]]
        pool_bits.append(candidates + first)
        pool_gains.append(gains[candidates])
        first += n_words * bits
    all_bits, gains = np.concatenate(pool_bits), np.concatenate(pool_gains)
    return all_bits[np.lexsort((all_bits, -gains))[:k]].astype(np.int64)


def advbet_step(model, objective, x, y, flips, grad_clip, faults=None, step=0, adv_steps=1):
    """Adversarial bit error training: clean and adversarially flipped gradients averaged.

    With ``faults`` (random errors mixed in), the RandBET gradient on this
    step's chip joins the mean. ``adv_steps`` rounds choose the ``flips``
    bits (see the module docs; 1: today's single step).
    """
    import numpy as np

    quantized = model.quantize()
    loss, clean = objective.gradient(model, quantized.values, x, y)
    words = quantized.words()
    bits = model.scheme.bits
    shares = [flips // adv_steps + (1 if r < flips % adv_steps else 0) for r in range(adv_steps)]
    chosen = np.zeros(0, np.int64)
    attacked, grads = words, clean
    for share in shares:
        if share == 0:
            continue
        more = adversarial_bits(quantized, grads, bits, share, None if attacked is words else attacked, chosen)
        if more.size == 0 and chosen.size:
            break
        chosen = np.concatenate([chosen, more])
        attacked = attacked.copy()
        np.bitwise_xor.at(attacked, more // bits, np.left_shift(1, more % bits).astype(words.dtype))
        adv_loss, adversarial = objective.gradient(model, model.faulty_weights(quantized, attacked), x, y,
                                                   update_statistics=False)
        grads = adversarial
    perturbed = [adversarial]
    if faults is not None:
        random_words = faults.apply(words, model.scheme.bits, step)
        _, random = objective.gradient(model, model.faulty_weights(quantized, random_words), x, y,
                                       update_statistics=False)
        perturbed.append(random)
    grads = [(c + sum(_clipped(p[i], grad_clip) for p in perturbed)) / (1 + len(perturbed))
             for i, c in enumerate(clean)]
    return StepResult(grads, loss, adv_loss)
