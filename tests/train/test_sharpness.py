"""Sharpness: determinism, bounds, and Hutchinson against the exact Hessian trace."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from accelsim.train.sharpness import hessian_trace, max_loss_increase, measure_sharpness


@pytest.fixture(scope="module")
def problem():
    generator = torch.Generator().manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    x = torch.randn(40, 5, generator=generator)
    y = torch.randint(0, 3, (40,), generator=generator)
    return module, x, y


def _exact_trace(module, x, y):
    names = [n for n, _ in module.named_parameters()]
    flat = torch.cat([p.detach().flatten() for p in module.parameters()])
    shapes = [p.shape for p in module.parameters()]

    def loss(vector):
        weights, start = {}, 0
        for name, shape in zip(names, shapes):
            weights[name] = vector[start:start + shape.numel()].reshape(shape)
            start += shape.numel()
        return nn.functional.cross_entropy(functional_call(module, weights, (x,)), y)

    return float(torch.autograd.functional.hessian(loss, flat).diagonal().sum())


def test_measures_are_deterministic_given_the_seed(problem):
    module, x, y = problem
    first, again = measure_sharpness(module, x, y, seed=3), measure_sharpness(module, x, y, seed=3)
    assert first == again
    assert first != measure_sharpness(module, x, y, seed=4)


def test_hutchinson_estimates_the_exact_trace(problem):
    module, x, y = problem
    weights = {n: p.detach() for n, p in module.named_parameters()}
    exact = _exact_trace(module, x, y)
    estimate = hessian_trace(module, weights, x, y, samples=400, seed=0)
    assert estimate == pytest.approx(exact, rel=0.1)


def test_loss_increase_grows_with_the_radius_and_vanishes_at_zero(problem):
    module, x, y = problem
    weights = {n: p.detach() for n, p in module.named_parameters()}
    assert max_loss_increase(module, weights, x, y, radius=0.0, steps=3, seed=0) == pytest.approx(0.0, abs=1e-7)
    small = max_loss_increase(module, weights, x, y, radius=0.01, steps=5, seed=0)
    large = max_loss_increase(module, weights, x, y, radius=0.2, steps=5, seed=0)
    assert 0.0 <= small < large


def test_module_is_left_as_it_was(problem):
    module, x, y = problem
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    module.train()
    measure_sharpness(module, x, y)
    assert module.training
    for name, p in module.named_parameters():
        torch.testing.assert_close(p.detach(), before[name], rtol=0, atol=0)


def test_adaptive_trace_is_invariant_to_rescaling_across_a_relu():
    from accelsim.train.sharpness import adaptive_hessian_trace

    generator = torch.Generator().manual_seed(1)
    module = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 3, bias=False))
    x = torch.randn(40, 5, generator=generator)
    y = torch.randint(0, 3, (40,), generator=generator)
    weights = {n: p.detach() for n, p in module.named_parameters()}
    # ReLU is positively homogeneous: w1 * 4 and w2 / 4 compute the same function.
    scaled = {"0.weight": weights["0.weight"] * 4, "2.weight": weights["2.weight"] / 4}
    plain = [hessian_trace(module, w, x, y, samples=64, seed=0) for w in (weights, scaled)]
    adaptive = [adaptive_hessian_trace(module, w, x, y, samples=64, seed=0) for w in (weights, scaled)]
    assert adaptive[0] == pytest.approx(adaptive[1], rel=1e-4)
    assert plain[0] != pytest.approx(plain[1], rel=0.1)


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(4, 12)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        q, k, v = self.qkv(x.reshape(-1, 2, 4)).chunk(3, dim=-1)
        return self.head(nn.functional.scaled_dot_product_attention(q, k, v).mean(dim=1))


def test_hessian_trace_goes_through_attention():
    # CPU's fused attention kernel has no second derivative; the trace must still be measurable.
    generator = torch.Generator().manual_seed(0)
    module = _Attention()
    x, y = torch.randn(16, 8, generator=generator), torch.randint(0, 3, (16,), generator=generator)
    measured = measure_sharpness(module, x, y, seed=0)
    assert torch.isfinite(torch.tensor(measured.hessian_trace)) and measured.hessian_trace != 0
