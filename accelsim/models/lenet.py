"""LeNet-5 for 1 x 28 x 28 MNIST images (LeCun et al., 1998), with ReLU and max-pooling."""

from collections import OrderedDict

from torch import nn

__all__ = ["lenet5", "lenet5_gn"]


def _lenet(num_classes, norm_groups):
    """LeNet-5's layers; ``norm_groups[i]`` GroupNorm groups after hidden layer ``i`` (None: none)."""
    hidden = [
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2), 6, nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, kernel_size=5), 16, nn.MaxPool2d(2)),
        ("fc1", nn.Linear(16 * 5 * 5, 120), 120, None),
        ("fc2", nn.Linear(120, 84), 84, None),
    ]
    layers = []
    for i, ((name, layer, width, pool), groups) in enumerate(zip(hidden, norm_groups, strict=True), start=1):
        layers.append((name, layer))
        if groups is not None:
            layers.append((f"norm{i}", nn.GroupNorm(groups, width)))
        layers.append((f"relu{i}", nn.ReLU()))
        if pool is not None:
            layers.append((f"pool{i}", pool))
        if name == "conv2":
            layers.append(("flatten", nn.Flatten()))
    layers.append(("fc3", nn.Linear(84, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def lenet5(num_classes=10):
    """conv(6, 5x5) - pool - conv(16, 5x5) - pool - fc 120 - fc 84 - fc ``num_classes``.

    The first convolution pads by 2 so that a 28 x 28 input behaves like
    the original 32 x 32 one; about 61,700 parameters for 10 classes.

    Parameters
    ----------
    num_classes : int
        Width of the output layer.

    Returns
    -------
    torch.nn.Sequential
    """
    return _lenet(num_classes, (None, None, None, None))


def lenet5_gn(num_classes=10):
    """LeNet-5 with group normalisation after every layer but the last.

    The layout of :func:`lenet5` with ``GroupNorm`` (2 groups on the
    convolutions, 4 on the hidden linear layers) before each ReLU: the network
    no longer depends on the scale of its hidden weights, so weight clipping
    (Stutz et al., MLSys 2021) costs little accuracy, as in their
    normalised networks. About 62,200 parameters for 10 classes.

    Parameters
    ----------
    num_classes : int
        Width of the output layer.

    Returns
    -------
    torch.nn.Sequential
    """
    return _lenet(num_classes, (2, 2, 4, 4))
