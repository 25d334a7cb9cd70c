"""What the engine can execute: functional forms of supported layers and ops.

A layer with parameters runs as its functional form with weights passed in,
so the engine never writes faulty weights into a module. Stateless modules
and functions run as they are, in inference mode.
"""

import builtins
import math
import operator
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerOp", "LAYER_OPS", "STATELESS_MODULES", "FUNCTIONS", "FASTER", "FORCED_KWARGS", "METHODS",
           "CHANNEL_LOCAL_MODULES", "CHANNEL_LOCAL_FUNCTIONS", "CHANNEL_LOCAL_METHODS", "layer_op_for",
           "max_pool2d"]


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
    recurse : bool
        The layer reads the parameters of its submodules too (e.g.
        ``MultiheadAttention.out_proj``); names are relative to the module.
    """

    kind: str
    forward: Callable
    unsupported: Callable
    recurse: bool = False


def _conv2d(module, weights, x):
    return F.conv2d(x, weights["weight"], weights.get("bias"), module.stride,
                    module.padding, module.dilation, module.groups)


def _conv1d(module, weights, x):
    return F.conv1d(x, weights["weight"], weights.get("bias"), module.stride,
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


def _layer_norm(module, weights, x):
    return F.layer_norm(x, module.normalized_shape, weights.get("weight"), weights.get("bias"), module.eps)


def _rms_norm(module, weights, x):
    return F.rms_norm(x, module.normalized_shape, weights.get("weight"), module.eps)


def _embedding(module, weights, x):
    return F.embedding(x, weights["weight"], module.padding_idx, module.max_norm, module.norm_type,
                       module.scale_grad_by_freq, module.sparse)


def _embedding_unsupported(module):
    if module.max_norm is not None:
        return "max_norm renormalises the table in place at every call (not a read-only weight)"
    return ""


def _module_call(module, weights, *args, **kwargs):
    # The module's own forward with the weights swapped in: the same code path
    # (and so the same rounding) as reference_module(), without mutating it.
    return torch.func.functional_call(module, weights, args, kwargs, strict=True)


def _always_supported(module):
    return ""


LAYER_OPS = {
    nn.Conv2d: LayerOp("conv", _conv2d, _conv2d_unsupported),
    nn.Linear: LayerOp("linear", _linear, _always_supported),
    nn.BatchNorm2d: LayerOp("norm", _batch_norm, _batch_norm_unsupported),
    nn.GroupNorm: LayerOp("norm", _group_norm, _always_supported),
    nn.Conv1d: LayerOp("conv", _conv1d, _conv2d_unsupported),
    nn.BatchNorm1d: LayerOp("norm", _batch_norm, _batch_norm_unsupported),
    nn.LayerNorm: LayerOp("norm", _layer_norm, _always_supported),
    nn.RMSNorm: LayerOp("norm", _rms_norm, _always_supported),
    nn.Embedding: LayerOp("embedding", _embedding, _embedding_unsupported),
    nn.MultiheadAttention: LayerOp("attention", _module_call, _always_supported, recurse=True),
}

def _identity(module, x):
    return x


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """:func:`torch.nn.functional.max_pool2d`, as elementwise maxima of strided views where it can.

    Without padding, ceil mode or indices, a window's maximum is the running
    :func:`torch.maximum` of its ``kh * kw`` strided views of ``x``. The
    result is the same (a maximum is exact and NaN propagates in both); it is
    several times faster than torch's CPU pooling kernel (MNIST LeNet's
    2x2 pooling of 256 images: 1.5 ms against 11.7 ms), which otherwise costs
    more than the convolution before it.
    """
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None or stride == [] else stride)
    dh, dw = _pair(dilation)
    if return_indices or ceil_mode or _pair(padding) != (0, 0) or x.dim() != 4:
        return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    height, width = x.shape[-2:]
    out_h, out_w = (height - dh * (kh - 1) - 1) // sh + 1, (width - dw * (kw - 1) - 1) // sw + 1
    if out_h < 1 or out_w < 1:
        return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    result = None
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
        for j in range(kw):
            view = x[:, :, rows, j * dw: j * dw + sw * (out_w - 1) + 1: sw]
            result = view if result is None else torch.maximum(result, view)
    return result.contiguous() if kh * kw == 1 else result


def _max_pool2d_module(module, x):
    return max_pool2d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                      module.ceil_mode, module.return_indices)


# In-place activations run out of place: a cached activation must never change.
STATELESS_MODULES = {
    nn.ReLU: lambda module, x: F.relu(x),
    nn.ReLU6: lambda module, x: F.relu6(x),
    nn.MaxPool2d: _max_pool2d_module,
    nn.AvgPool2d: lambda module, x: module(x),
    nn.AdaptiveAvgPool2d: lambda module, x: module(x),
    nn.Flatten: lambda module, x: module(x),
    nn.Dropout: _identity,
    nn.Dropout1d: _identity,
    nn.Dropout2d: _identity,
    nn.Identity: _identity,
    nn.GELU: lambda module, x: F.gelu(x, approximate=module.approximate),
    nn.SiLU: lambda module, x: F.silu(x),
    nn.Hardswish: lambda module, x: F.hardswish(x),
    nn.Hardsigmoid: lambda module, x: F.hardsigmoid(x),
    nn.Sigmoid: lambda module, x: torch.sigmoid(x),
    nn.Tanh: lambda module, x: torch.tanh(x),
    nn.Softmax: lambda module, x: module(x),
    nn.LeakyReLU: lambda module, x: F.leaky_relu(x, module.negative_slope),
    nn.MaxPool1d: lambda module, x: module(x),
    nn.AvgPool1d: lambda module, x: module(x),
    nn.AdaptiveAvgPool1d: lambda module, x: module(x),
    nn.Unflatten: lambda module, x: module(x),
}

FUNCTIONS = {
    torch.relu, F.relu, F.relu6, torch.flatten, operator.add, torch.add,
    F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.dropout, operator.getitem,
    # activations
    F.gelu, F.silu, F.hardswish, F.hardsigmoid, torch.sigmoid, F.sigmoid, torch.tanh, F.tanh,
    torch.softmax, F.softmax, F.log_softmax, F.leaky_relu, torch.exp, torch.sqrt, torch.rsqrt,
    # arithmetic, residual adds and multiplies
    operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow, operator.matmul,
    torch.sub, torch.mul, torch.div, torch.neg, torch.pow, torch.matmul, torch.bmm,
    torch.mean, torch.sum, torch.square,
    F.scaled_dot_product_attention, F.adaptive_avg_pool1d, F.avg_pool1d, F.max_pool1d,
    # functional layers reading parameters directly (each parameter still comes from memory)
    F.linear, F.embedding, F.layer_norm, F.rms_norm, F.conv1d, F.conv2d, F.group_norm,
    # shapes
    torch.cat, torch.concat, torch.stack, torch.split, torch.chunk, torch.reshape, torch.permute,
    torch.transpose, torch.unsqueeze, torch.squeeze, torch.unbind, builtins.getattr,
    operator.floordiv, math.sqrt,
    # position ids and causal masks built in forward()
    torch.arange, torch.ones, torch.zeros, torch.full, torch.tril, torch.triu, torch.where,
    torch.masked_fill,
}
# Ops computed exactly alike on any subset of channels (see Step.channel_local).
CHANNEL_LOCAL_MODULES = (nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.Dropout, nn.Dropout2d, nn.Identity)
CHANNEL_LOCAL_FUNCTIONS = {torch.relu, F.relu, F.relu6, F.max_pool2d, F.dropout}
CHANNEL_LOCAL_METHODS = {"relu"}
# Functions run through a faster equivalent (same values).
FASTER = {F.max_pool2d: max_pool2d}
# Keyword arguments forced at inference time, whatever the traced call said.
FORCED_KWARGS = {F.relu: {"inplace": False}, F.relu6: {"inplace": False},
                 F.dropout: {"training": False, "inplace": False},
                 F.silu: {"inplace": False}, F.hardswish: {"inplace": False},
                 F.hardsigmoid: {"inplace": False}, F.leaky_relu: {"inplace": False},
                 F.scaled_dot_product_attention: {"dropout_p": 0.0}}

METHODS = {"view", "reshape", "flatten", "size", "relu", "add", "contiguous",
           "permute", "transpose", "mean", "sum", "split", "chunk", "unsqueeze", "squeeze",
           "expand", "softmax", "mul", "sub", "div", "matmul", "pow", "rsqrt", "sqrt",
           "masked_fill", "float", "type_as", "unbind", "sigmoid", "tanh", "neg", "t",
           "unflatten", "dim", "exp", "square"}


def layer_op_for(module):
    """Return the :class:`LayerOp` for ``module``'s exact type, or ``None``.

    Subclasses are matched only when they register themselves, because a
    subclass may change ``forward``.
    """
    return LAYER_OPS.get(type(module))
