"""What the engine can execute: functional forms of supported layers and ops.

A layer with parameters runs as its functional form with weights passed in,
so the engine never writes faulty weights into a module. Stateless modules
and functions run as they are, in inference mode.
"""

import operator
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerOp", "LAYER_OPS", "STATELESS_MODULES", "FUNCTIONS", "FORCED_KWARGS", "METHODS", "layer_op_for"]


@dataclass(frozen=True)
class LayerOp:
    """How to run one kind of parameterised module.

    Attributes
    ----------
    kind : str
        Short name for reports and workloads (``conv``, ``linear``, ``norm``).
    forward : callable
        ``forward(module, weights, x)``, ``weights`` mapping parameter name
        (``"weight"``, ``"bias"``) to a tensor.
    unsupported : callable
        ``unsupported(module)`` returns why this instance cannot run, or ``""``.
    """

    kind: str
    forward: Callable
    unsupported: Callable


def _conv2d(module, weights, x):
    return F.conv2d(x, weights["weight"], weights.get("bias"), module.stride,
                    module.padding, module.dilation, module.groups)


def _conv2d_unsupported(module):
    if module.padding_mode != "zeros":
        return f"padding_mode={module.padding_mode!r} (only 'zeros' is supported)"
    return ""


def _linear(module, weights, x):
    return F.linear(x, weights["weight"], weights.get("bias"))


def _batch_norm(module, weights, x):
    return F.batch_norm(x, module.running_mean, module.running_var, weights.get("weight"),
                        weights.get("bias"), False, 0.0, module.eps)


def _batch_norm_unsupported(module):
    if not module.track_running_stats or module.running_mean is None:
        return "BatchNorm2d without running statistics cannot run in inference mode"
    return ""


def _group_norm(module, weights, x):
    return F.group_norm(x, module.num_groups, weights.get("weight"), weights.get("bias"), module.eps)


def _always_supported(module):
    return ""


LAYER_OPS = {
    nn.Conv2d: LayerOp("conv", _conv2d, _conv2d_unsupported),
    nn.Linear: LayerOp("linear", _linear, _always_supported),
    nn.BatchNorm2d: LayerOp("norm", _batch_norm, _batch_norm_unsupported),
    nn.GroupNorm: LayerOp("norm", _group_norm, _always_supported),
}

def _identity(module, x):
    return x


# In-place activations run out of place: a cached activation must never change.
STATELESS_MODULES = {
    nn.ReLU: lambda module, x: F.relu(x),
    nn.ReLU6: lambda module, x: F.relu6(x),
    nn.MaxPool2d: lambda module, x: module(x),
    nn.AvgPool2d: lambda module, x: module(x),
    nn.AdaptiveAvgPool2d: lambda module, x: module(x),
    nn.Flatten: lambda module, x: module(x),
    nn.Dropout: _identity,
    nn.Identity: _identity,
}

FUNCTIONS = {
    torch.relu, F.relu, F.relu6, torch.flatten, operator.add, torch.add,
    F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.dropout, operator.getitem,
}
# Keyword arguments forced at inference time, whatever the traced call said.
FORCED_KWARGS = {F.relu: {"inplace": False}, F.relu6: {"inplace": False},
                 F.dropout: {"training": False, "inplace": False}}

METHODS = {"view", "reshape", "flatten", "size", "relu", "add", "contiguous"}


def layer_op_for(module):
    """Return the :class:`LayerOp` for ``module``'s exact type, or ``None``.

    Subclasses are matched only when they register themselves, because a
    subclass may change ``forward``.
    """
    return LAYER_OPS.get(type(module))
