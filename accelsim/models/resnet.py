"""ResNet-20 for CIFAR-10 (He et al., 2016, section 4.2)."""

from torch import nn

__all__ = ["BasicBlock", "ResNet20"]


class BasicBlock(nn.Module):
    """Two 3 x 3 conv-BatchNorm layers and a residual add, then ReLU.

    Where the block changes resolution or width, the shortcut is a 1 x 1
    strided convolution with BatchNorm (option B of He et al.): the
    zero-padding shortcut of option A needs slicing and padding, which the
    quantized engine does not execute.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int
        Stride of the first convolution (2 halves the resolution).
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        # A structural choice fixed at construction, so torch.fx traces it away.
        residual = x if self.shortcut is None else self.shortcut(x)
        return self.relu2(out + residual)


class ResNet20(nn.Module):
    """ResNet-20: a 16-channel stem, three stages of three blocks (16, 32, 64 channels), pool, linear.

    About 0.27 M parameters for 10 classes. Convolutions carry no bias (the
    BatchNorm after each has one) and start from He-normal weights.

    Parameters
    ----------
    num_classes : int
        Width of the output layer.
    """

    STAGE_WIDTHS = (16, 32, 64)
    BLOCKS_PER_STAGE = 3

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        channels = 16
        for number, width in enumerate(self.STAGE_WIDTHS, start=1):
            blocks = []
            for block in range(self.BLOCKS_PER_STAGE):
                stride = 2 if block == 0 and number > 1 else 1
                blocks.append(BasicBlock(channels, width, stride))
                channels = width
            setattr(self, f"layer{number}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.pool(x)))
