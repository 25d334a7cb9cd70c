"""Integer execution of convolution and linear layers, as the accelerator's MAC array computes them.

With quantized activations (``act_quant``), every supported layer multiplies
integer weight levels by integer activation levels and accumulates exactly;
scales and zero points enter once, after the sum (the affine correction).
A weight stands for ``(lw - zw) * sw`` and an activation for
``(la - za) * sa``; with ``zi = round(zw)``, ``zf = zw - zi`` (0 for every
symmetric scheme), ``c = lw - zi`` and ``a = la - za`` (integers)::

    sum (lw - zw) sw (la - za) sa = sw sa (S_ca - zf S_a),
    S_ca = sum c a,   S_a = sum a        (exact integers)

and the layer's output is ``float32((S_ca - zf * S_a) * (sw * sa) + bias)``
in float64. ``S_ca`` and ``S_a`` are exact whatever computes them, so the
kernel can be chosen per layer for speed without changing a bit:

- ``int8-mm`` (Linear, 8-bit or narrower weights and activations):
  ``torch._int_mm``, int8 x int8 -> int32, on codes offset into int8 (unsigned
  codes minus 128, as an int8 MAC array reads them); the offsets come back as
  integer terms ``oa * sum pc + oc * sum pa + K oc oa`` in int64.
  Measured at one thread: 3.1x faster than a float32 matmul of the same
  shape (256 x 400 by 400 x 128). Not for one input feature, where torch
  2.13's CPU ``_int_mm`` returns wrong sums.
- ``float32-exact``: a float32 convolution / matmul of the integer values.
  Every product and partial sum is an integer below ``2**24`` (checked per
  layer on the worst case over *all* codes, so faulty codes too), so each
  addition is exact in any order and any blocking. Measured 18x faster than
  im2col plus ``torch._int_mm`` for LeNet's convolutions (torch has no int8
  convolution on CPU, and int32 ``conv2d`` is 8x slower than float32).
- ``float64-exact``: the same in float64 when the bound is below ``2**53``.

A layer runs in float (fake-quantized, as without integer execution) and
says why in :func:`integer_layers` when its weights are not fixed-point
codes (number formats such as ``fp8``), the activation zero point is not an
integer, or no kernel's bound holds.

The integer levels of the weights are recovered from the decoded float32
weights every weight set already carries (clean, faulty, several chips
stacked, protected, attacked): ``lw = round(w / sw + zw)``, exact whenever
``|lw - zw| < 2**20`` for every code (checked per layer; float32 rounding
moves ``w`` by at most ``2**-24`` relative), so the levels are exactly the
codes the memory returned.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from accelsim import quant
from accelsim.quant import QuantScheme

__all__ = ["EXECUTIONS", "IntegerLayer", "IntegerPath"]

EXECUTIONS = ("float", "integer")

_FLOAT32_EXACT = 2**24
_FLOAT64_EXACT = 2**53
_INT32_LIMIT = 2**31
_RECOVERY_LIMIT = 2**20
# torch 2.13's CPU ``_int_mm`` returns wrong sums for an inner dimension of 1
# (found by tests/engine/test_integer.py; right for 2 to 1200 in 300 random shapes).
_MIN_INT_MM_FAN_IN = 2
_INTEGER_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class IntegerLayer:
    """How one conv or linear layer executes (a row of :meth:`IntegerPath.report`).

    Attributes
    ----------
    step : str
        Program step name.
    layer : str
        Module path.
    execution : str
        ``integer`` or ``float`` (fallback).
    kernel : str
        ``int8-mm``, ``float32-exact`` or ``float64-exact`` (empty for float).
    reason : str
        Why the layer falls back to float (empty for integer).
    """

    step: str
    layer: str
    execution: str
    kernel: str
    reason: str


def _levels_range(bits, unsigned):
    """Lowest and highest integer level any ``bits``-bit code stands for."""
    return (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _per_channel(value, channels):
    """A float64 vector of ``channels`` from a scalar or ``(C, 1, ...)`` parameter."""
    flat = value.reshape(-1).to(torch.float64)
    return flat.expand(channels).clone() if flat.numel() == 1 else flat.clone()


class _Kernel:
    """The integer execution of one layer (weights passed in at each call)."""

    def __init__(self, step, module, weight_params, act_params, act_bits):
        self.step = step
        self.module = module
        local = step.call.local_names  # canonical parameter name -> "weight" / "bias"
        by_local = {v: k for k, v in local.items()}
        self.weight_name = by_local["weight"]
        self.bias_name = by_local.get("bias")
        out_channels = module.weight.shape[0] if module.weight.numel() else int(
            getattr(module, "out_channels", getattr(module, "out_features", 0)))
        self.out_channels = out_channels
        sw = _per_channel(weight_params.scale, out_channels)
        zw = _per_channel(weight_params.zero_point, out_channels)
        self.sw, self.zw = sw, zw
        zi = torch.round(zw)
        self.zi, self.zf = zi, zw - zi  # exact (Sterbenz)
        self.needs_sum = bool((self.zf != 0).any())
        self.sa = float(act_params.scale)
        self.za = float(act_params.zero_point)
        self.act_params = act_params
        self.act_scheme = quant.ActivationQuantizer(act_bits, act_params.unsigned).scheme
        self.act_bits, self.act_unsigned = act_bits, act_params.unsigned
        self.scale = sw * self.sa  # float64, per output channel
        w_lo, w_hi = _levels_range(weight_params.bits, weight_params.unsigned)
        self.c_lo, self.c_hi = w_lo - zi, w_hi - zi  # per channel, every code
        a_lo, a_hi = _levels_range(act_bits, act_params.unsigned)
        self.a_lo, self.a_hi = a_lo - self.za, a_hi - self.za
        self.w_bits = weight_params.bits
        self.fan_in = int(module.weight[0].numel())
        self.recoverable = float(torch.maximum((w_lo - zw).abs(), (w_hi - zw).abs()).max()) < _RECOVERY_LIMIT
        c_max = float(torch.maximum(self.c_lo.abs(), self.c_hi.abs()).max())
        a_max = max(abs(self.a_lo), abs(self.a_hi))
        bound = self.fan_in * max(c_max, 1.0) * a_max
        if isinstance(module, nn.Linear) and self.w_bits <= 8 and act_bits <= 8 and \
                _MIN_INT_MM_FAN_IN <= self.fan_in and self.fan_in * 2**14 < _INT32_LIMIT:
            self.kernel = "int8-mm"
        elif bound < _FLOAT32_EXACT:
            self.kernel = "float32-exact"
        elif bound < _FLOAT64_EXACT:
            self.kernel = "float64-exact"
        else:
            self.kernel = ""
        if self.kernel == "int8-mm":
            self.oa = int(self.a_lo) + 128  # activation offset into int8
            self.oc = (self.c_lo + 128).to(torch.int64)  # per-channel weight offset into int8

    # -- operands --------------------------------------------------------------
    def activation_levels(self, x, masks=None):
        """Integer activation levels ``a = la - za`` of layer input ``x``, faults applied.

        Without faults, the levels of :func:`accelsim.quant.quantize` computed
        in float64 without the round trip through int64 codes (the same
        operations: divide, add the zero offset, round to even, clamp).
        """
        if masks is None and self.za == 0 and self.act_scheme.rounding == "nearest" and \
                bool(torch.isfinite(x).all()):
            steps = x.to(torch.float64).div_(float(self.act_params.scale)).add_(0.0).round_()
            return steps.clamp_(self.act_params.min_level, self.act_params.max_level)
        codes = quant.quantize(x, self.act_params, self.act_scheme)
        if masks is not None:
            shape = codes.shape
            codes = ((codes.reshape(len(x), -1) & masks.keep) | masks.set) ^ masks.flip
            codes = codes.reshape(shape)
        if not self.act_unsigned:
            codes = codes - ((codes >> (self.act_bits - 1)) << self.act_bits)
        return codes - int(self.za) if self.za else codes

    def weight_levels(self, w):
        """Centered integer weight levels ``c = lw - zi`` (float64) of decoded weights ``w``."""
        repeat = w.shape[0] // self.out_channels  # several points stacked along the output channels
        shape = (-1,) + (1,) * (w.ndim - 1)
        sw, zw, zi = (v.repeat(repeat).reshape(shape) for v in (self.sw, self.zw, self.zi))
        return torch.round(w.to(torch.float64) / sw + zw) - zi

    # -- execution ---------------------------------------------------------------
    def __call__(self, x, weights, masks=None):
        a = self.activation_levels(x, masks)
        w = weights[self.weight_name]
        c = self.weight_levels(w)
        repeat = w.shape[0] // self.out_channels
        if self.kernel == "int8-mm":
            s_ca, s_a = self._int8_mm(a, c, repeat)
        else:
            s_ca, s_a = self._float_exact(a, c)
        linear = isinstance(self.module, nn.Linear)
        shape = (-1,) if linear else (1, -1) + (1,) * (s_ca.ndim - 2)
        acc = s_ca.to(torch.float64)
        if self.needs_sum:  # (S_ca - zf S_a), S_a shared by the channels of a group
            zf = self.zf.repeat(repeat)
            groups = 1 if linear else self.module.groups
            if groups == 1:
                acc.sub_(zf.reshape(shape) * s_a.to(torch.float64))
            else:
                n, channels = acc.shape[:2]
                grouped = acc.view(n, groups, channels // groups, *acc.shape[2:])
                grouped.sub_(zf.reshape(1, groups, -1, *(1,) * (acc.ndim - 2))
                             * s_a.to(torch.float64).unsqueeze(2))
        acc.mul_(self.scale.repeat(repeat).reshape(shape))
        bias = weights.get(self.bias_name) if self.bias_name is not None else None
        if bias is not None:
            acc.add_(bias.to(torch.float64).reshape(shape))
        return acc.to(torch.float32)

    def _float_exact(self, a, c):
        """``S_ca`` and ``S_a`` (None when no zero point is fractional) by a float convolution or matmul."""
        dtype = torch.float32 if self.kernel == "float32-exact" else torch.float64
        a_f, c_f = a.to(dtype), c.to(dtype)
        module = self.module
        if isinstance(module, nn.Linear):
            return F.linear(a_f, c_f), (a_f.sum(-1, keepdim=True) if self.needs_sum else None)
        conv = F.conv2d if isinstance(module, nn.Conv2d) else F.conv1d
        args = (module.stride, module.padding, module.dilation, module.groups)
        if not self.needs_sum:
            return conv(a_f, c_f, None, *args), None
        if module.groups == 1:  # S_a as one more output channel of all-ones weights
            out = conv(a_f, torch.cat([c_f, torch.ones_like(c_f[:1])]), None, *args)
            return out[:, :-1], out[:, -1:]
        ones = torch.ones((module.groups, *c_f.shape[1:]), dtype=dtype)
        return conv(a_f, c_f, None, *args), conv(a_f, ones, None, *args)

    def _int8_mm(self, a, c, repeat):
        lead = a.shape[:-1]
        a2 = a.reshape(-1, a.shape[-1])
        pa = (a2 - self.oa).to(torch.int8)
        oc = self.oc.repeat(repeat)
        pc = (c.to(torch.int64) - oc[:, None]).to(torch.int8)
        product = torch._int_mm(pa, pc.t().contiguous()).to(torch.int64) if len(pa) else \
            torch.zeros((0, len(pc)), dtype=torch.int64)
        sum_pa = pa.sum(1, dtype=torch.int64)[:, None]
        sum_pc = pc.sum(1, dtype=torch.int64)[None, :]
        k = self.fan_in
        s_ca = product + self.oa * sum_pc + oc[None, :] * sum_pa + k * oc[None, :] * self.oa
        s_a = sum_pa + k * self.oa
        return s_ca.reshape(*lead, -1), s_a.reshape(*lead, 1)


class IntegerPath:
    """The integer kernels of a model's conv and linear layers, and the fallbacks.

    Build with :meth:`build`; :meth:`transform` gives the ``transform`` of
    :meth:`accelsim.engine.program.Program.run` that executes them.
    """

    def __init__(self, kernels, report):
        self._kernels = dict(kernels)
        self.report = tuple(report)

    @classmethod
    def build(cls, program, act_path, scheme, weight_params):
        """Kernels for every act-quantized layer of ``program`` that can run in integers.

        Parameters
        ----------
        program : Program
        act_path : accelsim.engine.activations.ActivationPath
        scheme : QuantScheme or NumberFormat
            The weights' format.
        weight_params : mapping of str to QuantParams
            By parameter name (empty for a number format).
        """
        kernels, report = {}, []
        for i in program.layer_steps:
            step = program.steps[i]
            act_params = act_path.params_of(step.name)
            if act_params is None:
                continue
            module = getattr(step.call, "module", None)
            reason, kernel = "", None
            if type(module) not in _INTEGER_MODULES:
                reason = f"{type(module).__name__} has no integer kernel"
            elif not isinstance(scheme, QuantScheme):
                reason = f"weights are {scheme.name} numbers, not fixed-point codes"
            elif float(act_params.zero_point) != round(float(act_params.zero_point)):
                reason = "the activation zero point is not an integer"
            else:
                name = {v: k for k, v in step.call.local_names.items()}["weight"]
                kernel = _Kernel(step, module, weight_params[name], act_params, act_path.quantizer.bits)
                if not kernel.recoverable:
                    reason = "the weights' zero point lies too far outside their range for float32 to keep the codes"
                elif not kernel.kernel:
                    reason = f"the exact sum of {kernel.fan_in} products may exceed 2**53"
            if reason:
                report.append(IntegerLayer(step.name, step.layer, "float", "", reason))
            else:
                kernels[step.name] = kernel
                report.append(IntegerLayer(step.name, step.layer, "integer", kernel.kernel, ""))
        return cls(kernels, report)

    def transform(self, float_transform, masks=None):
        """The layer-input transform running the integer layers (the others through ``float_transform``)."""
        return _IntegerTransform(float_transform, self._kernels, masks or {})


class _IntegerTransform:
    """``transform(step_name, x)`` for fallback layers, plus ``layer_calls`` replacing integer layers."""

    def __init__(self, float_transform, kernels, masks):
        self._float = float_transform
        self.layer_calls = {name: self._bind(kernel, masks.get(name)) for name, kernel in kernels.items()}

    @staticmethod
    def _bind(kernel, masks):
        def call(args, kwargs, weights):
            return kernel(args[0], weights, masks)
        return call

    def __call__(self, name, x):
        return self._float(name, x)
