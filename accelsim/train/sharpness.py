"""Sharpness of the loss landscape around a trained model.

FlatENN explains the fragility of a network under memory faults by sharp
minima. Two measures, both deterministic given the seed:

- the largest loss increase found within a relative weight perturbation
  (every tensor ``t`` moved by at most ``radius * ||w_t||`` in L2 norm), by a
  few steps of projected gradient ascent from a random start (a lower bound
  of the worst case, like Keskar et al.'s sharpness);
- Hutchinson's estimate of the trace of the Hessian of the loss,
  ``E[v^T H v]`` over Rademacher vectors ``v``.
"""

from dataclasses import asdict, dataclass

import torch
from torch.func import functional_call

from accelsim.train.methods import cross_entropy

__all__ = ["Sharpness", "measure_sharpness", "max_loss_increase", "hessian_trace", "adaptive_hessian_trace"]


@dataclass(frozen=True)
class Sharpness:
    """Sharpness of one model on one batch.

    Attributes
    ----------
    loss : float
        Cross-entropy at the weights themselves.
    max_loss_increase : float
        Largest loss increase found within the perturbation radius (>= 0).
    hessian_trace : float
        Hutchinson estimate of the trace of the loss Hessian.
    radius : float
        Relative L2 radius of the perturbation of each tensor.
    """

    loss: float
    max_loss_increase: float
    hessian_trace: float
    radius: float

    def to_dict(self):
        """Plain dict of the fields."""
        return asdict(self)


def measure_sharpness(module, x, y, radius=0.05, ascent_steps=5, hutchinson_samples=8, seed=0):
    """Both sharpness measures of ``module`` (its parameters as they are) on ``(x, y)``.

    Parameters
    ----------
    module : torch.nn.Module
        Evaluated in inference mode; not modified.
    x, y : Tensor
        Inputs and int64 labels (``y`` None: a causal language model's token
        windows, scored on next-token cross-entropy).
    radius : float
        Relative radius of the weight perturbation.
    ascent_steps : int
        Gradient ascent steps.
    hutchinson_samples : int
        Random vectors of the trace estimate.
    seed : int

    Returns
    -------
    Sharpness
    """
    weights = {name: p.detach() for name, p in module.named_parameters()}
    was_training = module.training
    module.eval()
    try:
        loss = float(_loss(module, weights, x, y))
        increase = max_loss_increase(module, weights, x, y, radius, ascent_steps, seed)
        trace = hessian_trace(module, weights, x, y, hutchinson_samples, seed)
    finally:
        module.train(was_training)
    return Sharpness(loss=loss, max_loss_increase=increase, hessian_trace=trace, radius=float(radius))


def max_loss_increase(module, weights, x, y, radius, steps, seed):
    """Largest ``loss(w + d) - loss(w)`` found with ``||d_t|| <= radius * ||w_t||`` for every tensor ``t``."""
    generator = torch.Generator().manual_seed(seed)
    bounds = {name: radius * w.norm() for name, w in weights.items()}
    delta = {name: _scaled(torch.randn(w.shape, generator=generator), bounds[name] / 2)
             for name, w in weights.items()}
    base = float(_loss(module, weights, x, y))
    best = 0.0
    for _ in range(steps):
        moved = {name: (weights[name] + d).requires_grad_() for name, d in delta.items()}
        loss = _loss(module, moved, x, y)
        best = max(best, float(loss.detach()) - base)
        grads = torch.autograd.grad(loss, list(moved.values()))
        for (name, d), g in zip(delta.items(), grads, strict=True):
            stepped = d + _scaled(g, 2 * bounds[name] / steps)
            delta[name] = _scaled(stepped, torch.minimum(stepped.norm(), bounds[name]))
    final = {name: weights[name] + d for name, d in delta.items()}
    return max(best, float(_loss(module, final, x, y)) - base)


def adaptive_hessian_trace(module, weights, x, y, samples=8, seed=0):
    """Scale-invariant sharpness: ``sum_i w_i^2 H_ii``, Hutchinson's estimate with ``v * |w|``.

    The trace of ``diag(|w|) H diag(|w|)``, the Hessian in the coordinates
    of relative weight changes (the normalisation of adaptive sharpness,
    Kwon et al., ICML 2021). Scaling a layer's weights by ``c`` and the next
    layer's by ``1 / c`` (or any weight in front of a normalisation layer)
    leaves it unchanged, unlike :func:`hessian_trace`, so it compares models
    trained with and without weight clipping.
    """
    return hessian_trace(module, weights, x, y, samples, seed, adaptive=True)


def hessian_trace(module, weights, x, y, samples, seed, adaptive=False):
    """Hutchinson's estimate of the trace of the Hessian of the loss at ``weights``.

    With ``adaptive``, of ``diag(|w|) H diag(|w|)`` (see :func:`adaptive_hessian_trace`).
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    generator = torch.Generator().manual_seed(seed + 1)
    leaves = {name: w.clone().requires_grad_() for name, w in weights.items()}
    # Hessian-vector products differentiate twice; CPU's fused attention kernel has no second
    # derivative, the math kernel does (same values; models without attention are unaffected).
    with sdpa_kernel(SDPBackend.MATH):
        grads = torch.autograd.grad(_loss(module, leaves, x, y), list(leaves.values()), create_graph=True)
        total = 0.0
        for _ in range(samples):
            vs = [torch.randint(0, 2, g.shape, generator=generator).to(g.dtype) * 2 - 1 for g in grads]
            if adaptive:
                vs = [v * w.detach().abs() for v, w in zip(vs, leaves.values(), strict=True)]
            hvs = torch.autograd.grad(grads, list(leaves.values()), grad_outputs=vs, retain_graph=True)
            total += float(sum((v * hv).sum() for v, hv in zip(vs, hvs, strict=True)))
    return total / samples


def _loss(module, weights, x, y):
    return cross_entropy(functional_call(module, weights, (x,)), x, y)


def _scaled(tensor, norm):
    """``tensor`` rescaled to L2 norm ``norm`` (zero stays zero)."""
    return tensor * (norm / tensor.norm().clamp_min(1e-12))
