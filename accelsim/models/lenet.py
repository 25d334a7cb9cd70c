"""LeNet-5 for 1 x 28 x 28 MNIST images (LeCun et al., 1998), with ReLU and max-pooling."""

from collections import OrderedDict

from torch import nn

__all__ = ["lenet5"]


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
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, kernel_size=5)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(16 * 5 * 5, 120)),
        ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)),
        ("relu4", nn.ReLU()),
        ("fc3", nn.Linear(84, num_classes)),
    ]))
