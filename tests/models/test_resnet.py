"""Tests of accelsim.models.resnet."""

import operator

import torch
import torch.fx
from torch import nn

from accelsim.models.resnet import BasicBlock, ResNet20


def test_resnet20_has_20_weighted_layers_on_its_main_path():
    model = ResNet20()
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    shortcut_convs = [name for name in convs if ".shortcut." in name]
    assert len(convs) - len(shortcut_convs) + 1 == 20  # + the final linear layer
    assert len(shortcut_convs) == 2  # entering stages 2 and 3
    assert 250_000 < sum(p.numel() for p in model.parameters()) < 300_000


def test_stage_shapes_are_16_32_64_channels():
    model = ResNet20().eval()
    x = model.relu(model.bn1(model.conv1(torch.zeros(2, 3, 32, 32))))
    for stage, (channels, size) in zip((model.layer1, model.layer2, model.layer3), [(16, 32), (32, 16), (64, 8)]):
        x = stage(x)
        assert x.shape == (2, channels, size, size)


def test_nine_residual_adds_survive_tracing():
    traced = torch.fx.symbolic_trace(ResNet20())
    adds = [n for n in traced.graph.nodes if n.op == "call_function" and n.target is operator.add]
    assert len(adds) == 9


def test_identity_block_passes_its_input_when_the_residual_branch_is_silenced():
    block = BasicBlock(8, 8).eval()
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x = torch.randn(2, 8, 6, 6)
    assert block.shortcut is None
    assert torch.equal(block(x), torch.relu(x))


def test_projection_block_downsamples():
    block = BasicBlock(8, 16, stride=2).eval()
    assert block.shortcut is not None
    assert block(torch.randn(2, 8, 6, 6)).shape == (2, 16, 3, 3)
