"""SimpleNet-style CNNs with GroupNorm.

SimpleNet (Hasanpour et al., 2016) stacks plain 3 x 3 convolutions with
max-pooling in between and ends on 1 x 1 convolutions and a global pool.
Stutz et al. (MLSys 2021) use it with GroupNorm instead of BatchNorm: a
GroupNorm layer normalises each example on its own, so its output does not
depend on batch statistics that bit errors in a BatchNorm's running mean
would corrupt. The reduced widths here keep the networks quick to train on
a CPU: about 150 k parameters for MNIST and 1 M for CIFAR-10.
"""

from collections import OrderedDict

from torch import nn

from accelsim.models._errors import ArchitectureError

__all__ = ["simplenet", "GROUP_NORM_GROUPS", "mnist_simplenet", "mnist_simplenet_small", "cifar_simplenet"]

GROUP_NORM_GROUPS = 8

MNIST_STAGES = ((16, 32, 32, 32), (32, 32, 64), (64, 64))
MNIST_HEAD = (128, 64)
# The zoo's MNIST / Fashion-MNIST SimpleNet, narrow enough for a shared CPU:
# 30 k parameters (a 130 kB checkpoint) and 1.8 M MACs per image. One
# convolution at full resolution (where a convolution costs the most), two at
# 14 x 14 and two at 7 x 7, then a wide 1 x 1 block: with every weight clipped
# to [-W, W] a logit is at most W times the sum of the last layer's inputs, so
# a narrow last layer (32 inputs at W = 0.05) caps the logits near 1 and the
# clipped models cannot fit (73% on MNIST after 2 epochs); 256 inputs do not.
MNIST_SMALL_STAGES = ((8,), (16, 16), (32, 32))
MNIST_SMALL_HEAD = (256,)
CIFAR_STAGES = ((32, 64, 64, 64), (64, 64, 128), (128, 128), (256,))
CIFAR_HEAD = (512, 128)


def _check_widths(field, widths, groups):
    valid = isinstance(widths, (tuple, list)) and len(widths) > 0 and all(
        isinstance(w, int) and w > 0 and w % groups == 0 for w in widths)
    if not valid:
        raise ArchitectureError(f"SimpleNet {field} is {widths!r}; expected positive channel counts, "
                                f"each a multiple of the {groups} GroupNorm groups")


def _conv_block(layers, index, in_channels, out_channels, kernel_size, groups):
    layers[f"conv{index}"] = nn.Conv2d(in_channels, out_channels, kernel_size,
                                       padding=kernel_size // 2, bias=False)
    layers[f"gn{index}"] = nn.GroupNorm(groups, out_channels)
    layers[f"relu{index}"] = nn.ReLU()


def simplenet(in_channels, stages, head, num_classes=10, groups=GROUP_NORM_GROUPS):
    """Stages of 3 x 3 conv-GroupNorm-ReLU blocks, then 1 x 1 blocks, global pool, linear.

    A 2 x 2 max-pool follows every stage but the last. Convolutions carry no
    bias: the GroupNorm after each one has its own.

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    stages : sequence of sequence of int
        Output channels of the 3 x 3 convolutions, stage by stage.
    head : sequence of int
        Output channels of the 1 x 1 convolutions after the last stage.
    num_classes : int
        Width of the output layer.
    groups : int
        GroupNorm groups; every width must be a multiple of it.

    Returns
    -------
    torch.nn.Sequential
        Layers named ``conv<i>``, ``gn<i>``, ``relu<i>``, ``pool<stage>``,
        ``global_pool``, ``flatten``, ``fc``.

    Raises
    ------
    ArchitectureError
        If a width is not a positive multiple of ``groups``.
    """
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ArchitectureError(f"SimpleNet groups is {groups!r}; expected a positive int")
    if not isinstance(stages, (tuple, list)) or not stages:
        raise ArchitectureError(f"SimpleNet stages is {stages!r}; expected a non-empty sequence of stages, "
                                "each a sequence of widths, e.g. ((16, 32), (64,))")
    for stage in stages:
        _check_widths("stage", stage, groups)
    _check_widths("head", head, groups)
    layers = OrderedDict()
    index, channels = 0, in_channels
    for stage_number, stage in enumerate(stages, start=1):
        for width in stage:
            index += 1
            _conv_block(layers, index, channels, width, 3, groups)
            channels = width
        if stage_number < len(stages):
            layers[f"pool{stage_number}"] = nn.MaxPool2d(2)
    for width in head:
        index += 1
        _conv_block(layers, index, channels, width, 1, groups)
        channels = width
    layers["global_pool"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(channels, num_classes)
    return nn.Sequential(layers)


def mnist_simplenet(num_classes=10):
    """Reduced SimpleNet for 1 x 28 x 28 inputs (two pools: 28 -> 14 -> 7)."""
    return simplenet(1, MNIST_STAGES, MNIST_HEAD, num_classes)


def mnist_simplenet_small(num_classes=10):
    """The zoo's SimpleNet for 1 x 28 x 28 inputs: 5 conv-GN-ReLU blocks, a 1 x 1 block, linear."""
    return simplenet(1, MNIST_SMALL_STAGES, MNIST_SMALL_HEAD, num_classes)


def cifar_simplenet(num_classes=10):
    """SimpleNet at a quarter of the original widths for 3 x 32 x 32 inputs (32 -> 4)."""
    return simplenet(3, CIFAR_STAGES, CIFAR_HEAD, num_classes)
