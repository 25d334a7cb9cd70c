"""Tests of accelsim.models.lenet."""

import torch
from torch import nn

from accelsim.models.lenet import lenet5, lenet5_gn


def test_lenet_has_about_60k_parameters():
    model = lenet5()
    n_params = sum(p.numel() for p in model.parameters())
    expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert n_params == expected
    assert 55_000 < n_params < 65_000


def test_lenet_layers_and_feature_shapes():
    model = lenet5(num_classes=4)
    kinds = [type(m) for m in model]
    assert kinds.count(nn.Conv2d) == 2 and kinds.count(nn.MaxPool2d) == 2 and kinds.count(nn.Linear) == 3
    x = torch.zeros(3, 1, 28, 28)
    assert model[:3](x).shape == (3, 6, 14, 14)
    assert model[:6](x).shape == (3, 16, 5, 5)
    assert model(x).shape == (3, 4)


def test_lenet_gn_normalises_every_hidden_layer():
    model = lenet5_gn()
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("GroupNorm") == 4 and kinds[-1] == "Linear"
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    # Scaling a hidden layer's weights and bias changes nothing after its normalisation.
    x = torch.randn(4, 1, 28, 28)
    before = model(x)
    with torch.no_grad():
        model.fc1.weight.mul_(0.5)
        model.fc1.bias.mul_(0.5)
    torch.testing.assert_close(model(x), before, rtol=1e-3, atol=1e-3)  # up to the norm's eps
