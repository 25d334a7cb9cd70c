"""Tests of accelsim.models.digits."""

import torch
from torch import nn

from accelsim.models.digits import digits_cnn, digits_mlp


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_mlp_is_64_64_32_classes():
    model = digits_mlp(num_classes=7)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 64), (64, 32), (32, 7)]
    assert _n_params(model) == sum(i * o + o for i, o in [(64, 64), (64, 32), (32, 7)])
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 7)


def test_mlp_reads_the_flattened_image():
    model = digits_mlp()
    image = torch.randn(1, 1, 8, 8)
    assert torch.equal(model(image), model[1:](image.reshape(1, 64)))


def test_cnn_keeps_resolution_until_the_pool():
    model = digits_cnn()
    features = model[:7](torch.randn(2, 1, 8, 8))
    assert features.shape == (2, 32, 4, 4)
    assert model.fc1.in_features == 32 * 4 * 4
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert 5_000 < _n_params(model) < 50_000


def test_cnn_normalises_each_convolution():
    model = digits_cnn()
    assert [type(m).__name__ for m in model[:7]] == [
        "Conv2d", "GroupNorm", "ReLU", "Conv2d", "GroupNorm", "ReLU", "MaxPool2d"]
