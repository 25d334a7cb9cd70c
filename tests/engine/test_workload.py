import torch
from torch import nn

from accelsim.engine import QuantizedModel


def test_hand_counted_conv_and_linear_workloads():
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    x = torch.randn(3, 2, 5, 5)
    conv, linear = QuantizedModel.from_torch(net, "rquant", x).workloads()
    assert (conv.kind, conv.n_weights, conv.macs) == ("conv", 4 * 1 * 9 + 4, 4 * 25 * 1 * 9)
    assert (conv.act_in, conv.act_out, conv.groups, conv.output_shape) == (50, 100, 2, (4, 5, 5))
    assert (linear.kind, linear.n_weights, linear.macs) == ("linear", 100 * 3 + 3, 300)
    assert linear.weight_bits == 8


def test_zero_fraction_measures_layer_inputs():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        net[0].bias.fill_(-100.0)  # every hidden activation is zero after the ReLU
    first, second = QuantizedModel.from_torch(net, "rquant", torch.randn(16, 4)).workloads()
    assert first.zero_fraction < 0.5 and second.zero_fraction == 1.0


def test_norm_layers_are_workloads_too(small_net, images):
    kinds = [w.kind for w in QuantizedModel.from_torch(small_net, "rquant", images).workloads()]
    assert kinds == ["conv", "norm", "conv", "norm", "linear", "linear"]
