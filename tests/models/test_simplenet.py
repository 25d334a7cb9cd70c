"""Tests of accelsim.models.simplenet."""

import pytest
import torch
from torch import nn

from accelsim.models import ArchitectureError
from accelsim.models.simplenet import cifar_simplenet, mnist_simplenet, simplenet


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("factory, shape", [(mnist_simplenet, (1, 28, 28)), (cifar_simplenet, (3, 32, 32))])
def test_every_convolution_is_followed_by_group_norm(factory, shape):
    model = factory()
    layers = list(model)
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
    assert convs and all(isinstance(layers[i + 1], nn.GroupNorm) for i in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(layers[i].bias is None for i in convs)
    assert model(torch.zeros(2, *shape)).shape == (2, 10)


def test_group_norm_makes_each_output_independent_of_the_batch():
    model = mnist_simplenet().train()  # train mode: a BatchNorm would mix the batch
    batch = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        together = model(batch)
        alone = torch.cat([model(batch[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone)


def test_sizes_are_reduced():
    assert 50_000 < _n_params(mnist_simplenet()) < 300_000
    assert 300_000 < _n_params(cifar_simplenet()) < 2_000_000


def test_pools_sit_between_stages_only():
    model = simplenet(3, stages=((8,), (16,), (16,)), head=(8,), num_classes=5)
    pools = [m for m in model if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2
    assert model[:-3](torch.zeros(1, 3, 32, 32)).shape == (1, 8, 8, 8)


@pytest.mark.parametrize("stages, head, message", [
    ((), (8,), r"stages is \(\); expected a non-empty sequence of stages"),
    ((8, 16), (8,), r"stage is 8; expected positive channel counts"),
    (((8, 12),), (8,), r"stage is \(8, 12\); expected positive channel counts, each a multiple of the 8"),
    (((8,),), (), r"head is \(\); expected positive channel counts"),
])
def test_bad_widths_are_rejected(stages, head, message):
    with pytest.raises(ArchitectureError, match=message):
        simplenet(1, stages, head)


def test_bad_group_count_is_rejected():
    with pytest.raises(ArchitectureError, match=r"groups is 0; expected a positive int"):
        simplenet(1, ((8,),), (8,), groups=0)
