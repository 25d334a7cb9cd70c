"""Second-wave architectures: MobileNetV2-style, ResNet-18 (CIFAR stem), a small ViT, a char LM, VGG-11.

All are plain torch, written as a user would (no accelsim imports), and run
in the engine out of simulated memory: depthwise and grouped convolutions,
Hardswish/ReLU6, LayerNorm, attention (``scaled_dot_product_attention``),
embeddings and parameters read directly (class token, position embedding).
"""

import torch
import torch.nn.functional as F
from torch import nn

from accelsim.models.resnet import BasicBlock

__all__ = ["MobileNetV2Small", "ResNet18", "SmallViT", "CharTransformerLM", "TransformerBlock", "VGG11"]


class _InvertedResidual(nn.Module):
    """Expand (1x1) - depthwise (3x3) - project (1x1), with a residual add when shapes match."""

    def __init__(self, in_channels, out_channels, stride, expansion, activation):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                                    activation())
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), activation())
        self.project = nn.Sequential(nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class MobileNetV2Small(nn.Module):
    """A MobileNetV2-style network for 32x32 (or 28x28) images: about 0.3 M parameters.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    activation : {"hardswish", "relu6"}
    """

    # (expansion, out channels, blocks, stride of the first block)
    SETTINGS = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 64, 2, 2), (4, 96, 1, 1))

    def __init__(self, num_classes=10, in_channels=3, activation="hardswish"):
        super().__init__()
        act = {"hardswish": nn.Hardswish, "relu6": nn.ReLU6}[activation]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), act())
        blocks, channels = [], 32
        for expansion, width, n, stride in self.SETTINGS:
            for i in range(n):
                blocks.append(_InvertedResidual(channels, width, stride if i == 0 else 1, expansion, act))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(channels, 256, 1, bias=False), nn.BatchNorm2d(256), act())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.fc(self.dropout(torch.flatten(x, 1)))


class ResNet18(nn.Module):
    """ResNet-18 with the CIFAR stem (3x3 conv, no max-pool): 11.2 M parameters for 10 classes."""

    WIDTHS = (64, 128, 256, 512)

    def __init__(self, num_classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        channels, stages = 64, []
        for i, width in enumerate(self.WIDTHS):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(channels, width, stride), BasicBlock(width, width, 1)))
            channels = width
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: attention (causal or not) and a GELU MLP, both residual."""

    def __init__(self, dim, heads, causal=False, mlp_ratio=2, dropout=0.0):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        return x + self.drop(self.fc2(self.act(self.fc1(self.norm2(x)))))


class SmallViT(nn.Module):
    """A small vision transformer for 28x28 or 32x32 images (patches of 4 or 7; class token).

    Parameters
    ----------
    num_classes : int
    image_size : {28, 32}
    in_channels : int
    dim, depth, heads, patch : int
    """

    def __init__(self, num_classes=10, image_size=28, in_channels=1, dim=64, depth=4, heads=4, patch=None):
        super().__init__()
        patch = patch or (7 if image_size == 28 else 4)
        n_patches = (image_size // patch) ** 2
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, n_patches + 1, dim))
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


class CharTransformerLM(nn.Module):
    """A small decoder-only (causal) transformer over byte tokens; outputs next-token logits N x T x V.

    Parameters
    ----------
    vocab : int
    context : int
    dim, depth, heads : int
    """

    def __init__(self, vocab=256, context=64, dim=128, depth=4, heads=4):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(0.02 * torch.randn(1, context, dim))
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, causal=True) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, : idx.shape[1]]
        return self.head(self.norm(self.blocks(x)))


class VGG11(nn.Module):
    """VGG-11 (configuration A, no batch norm) with torchvision's exact layers, in plain torch.

    For 224x224 ImageNet images: eight 3x3 convolutions (64, 128, 256, 256,
    512, 512, 512, 512 channels, each followed by ReLU; max-pooling after
    the 1st, 2nd, 4th, 6th and 8th), adaptive average pooling to 7x7, and
    the classifier 25088 -> 4096 -> 4096 -> ``num_classes`` with ReLU and
    dropout. 132,863,336 parameters for 1000 classes (about 1.06 Gbit of
    8-bit weights); parameter names equal torchvision's ``vgg11`` (so its
    state dict loads), and the initialisation follows it (random weights:
    accelsim ships none). Not in the registry, which ties an architecture
    to a dataset accelsim can load, and ImageNet is not one.

    Parameters
    ----------
    num_classes : int
    width_divisor : int, default 1
        Divides every convolution's channels and the classifier's width
        (1: torchvision's VGG-11), for small tests of the same structure.
    """

    CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self, num_classes=1000, width_divisor=1):
        super().__init__()
        layers, channels = [], 3
        for item in self.CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                width = item // width_divisor
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = 4096 // width_divisor
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.constant_(module.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))
