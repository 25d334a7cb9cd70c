"""Small networks for the 8 x 8 digits (1 x 8 x 8 inputs)."""

from collections import OrderedDict

from torch import nn

__all__ = ["digits_mlp", "digits_cnn"]


def digits_mlp(num_classes=10):
    """Multilayer perceptron 64-64-32-``num_classes`` with ReLU.

    Parameters
    ----------
    num_classes : int
        Width of the output layer.

    Returns
    -------
    torch.nn.Sequential
    """
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(64, 64)),
        ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(64, 32)),
        ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(32, num_classes)),
    ]))


def digits_cnn(num_classes=10):
    """Two 3 x 3 convolutions (16, 32 channels) with group normalisation, a 2 x 2 max-pool, two linear layers.

    Input 1 x 8 x 8; the pool leaves 32 x 4 x 4 features for a 32-unit hidden
    layer. Group normalisation (4 groups) follows each convolution, as in the
    networks of Stutz et al. (MLSys 2021): it makes the network invariant to
    the scale of its convolution weights, so weight clipping costs little
    accuracy.

    Parameters
    ----------
    num_classes : int
        Width of the output layer.

    Returns
    -------
    torch.nn.Sequential
    """
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, kernel_size=3, padding=1)),
        ("norm1", nn.GroupNorm(4, 16)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(16, 32, kernel_size=3, padding=1)),
        ("norm2", nn.GroupNorm(4, 32)),
        ("relu2", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(32 * 4 * 4, 32)),
        ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(32, num_classes)),
    ]))
