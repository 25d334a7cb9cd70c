"""Quantization parameters and their calibration on weight tensors.

Parameters follow the affine convention: a code read from memory is first
interpreted as an integer level ``q`` (``q = pattern`` for unsigned codes,
the two's complement value for signed ones), and stands for the value
``(q - zero_point) * scale``. For the schemes of :mod:`accelsim.quant.scheme`:

==========  ========  ============================  =========================  ===============================
range       codes     scale (Delta)                 zero_point                 levels q
==========  ========  ============================  =========================  ===============================
symmetric   signed    q_max / (2**(m-1) - 1)        0                          [-(2**(m-1) - 1), 2**(m-1) - 1]
symmetric   unsigned  q_max / (2**(m-1) - 1)        2**(m-1)                   [1, 2**m - 1]
asymmetric  signed    (q_max - q_min) / (2**m - 1)  -2**(m-1) - q_min / Delta  [-2**(m-1), 2**(m-1) - 1]
asymmetric  unsigned  (q_max - q_min) / (2**m - 1)  -q_min / Delta             [0, 2**m - 1]
==========  ========  ============================  =========================  ===============================

The zero point of an asymmetric range is in general not an integer: as in
Stutz et al., ``q_min`` itself (not zero) is exactly representable.
"""

from dataclasses import dataclass

import numpy as np
import torch

from accelsim.quant.scheme import SUPPORTED_BITS, QuantError

__all__ = ["QuantParams", "calibrate", "params_from_range", "MIN_SCALE"]

# A zero-width range (a constant tensor) would divide by zero; as torch.ao's
# observers do, the step never goes below float32's machine epsilon.
MIN_SCALE = float(torch.finfo(torch.float32).eps)


@dataclass(frozen=True, eq=False)
class QuantParams:
    """Scale and zero point of one quantized tensor.

    Parameters
    ----------
    scale : Tensor
        Step ``Delta`` (> 0), float64, broadcastable to the tensor: shape
        ``()`` per tensor, ``(C, 1, ..., 1)`` per output channel.
    zero_point : Tensor
        Real-valued level that stands for 0.0, float64, same shape as ``scale``.
    bits : int
        Bits per code.
    unsigned : bool
        Codes are offset binary (True) or two's complement (False).
    symmetric : bool
        The levels exclude ``-2**(m-1)`` (relative to the zero level) so the
        range is symmetric around 0.
    """

    scale: torch.Tensor
    zero_point: torch.Tensor
    bits: int
    unsigned: bool
    symmetric: bool

    def __post_init__(self):
        if self.bits not in SUPPORTED_BITS or isinstance(self.bits, bool):
            raise QuantError(f"QuantParams.bits is {self.bits!r}; expected an int in {SUPPORTED_BITS}")
        for name in ("unsigned", "symmetric"):
            if not isinstance(getattr(self, name), bool):
                raise QuantError(f"QuantParams.{name} is {getattr(self, name)!r}; expected True or False")
        for name in ("scale", "zero_point"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                raise QuantError(f"QuantParams.{name} must be a floating-point torch.Tensor, got {value!r}")
            if not bool(torch.isfinite(value).all()):
                raise QuantError(f"QuantParams.{name} holds NaN or inf; calibrate on finite tensors")
            object.__setattr__(self, name, value.detach().to(torch.float64))
        if self.scale.shape != self.zero_point.shape:
            raise QuantError(
                f"QuantParams.scale has shape {tuple(self.scale.shape)} but zero_point has "
                f"{tuple(self.zero_point.shape)}; they must match"
            )
        if not bool((self.scale > 0).all()):
            raise QuantError("QuantParams.scale must be > 0 everywhere")

    @property
    def min_level(self):
        """Lowest level ``q`` that quantization produces."""
        if self.symmetric:
            return 1 if self.unsigned else -(2 ** (self.bits - 1) - 1)
        return 0 if self.unsigned else -(2 ** (self.bits - 1))

    @property
    def max_level(self):
        """Highest level ``q`` that quantization produces."""
        return 2**self.bits - 1 if self.unsigned else 2 ** (self.bits - 1) - 1

    def value_range(self):
        """Values of the lowest and highest levels, ``(lo, hi)``, float64 tensors like ``scale``."""
        lo = (self.min_level - self.zero_point) * self.scale
        hi = (self.max_level - self.zero_point) * self.scale
        return lo, hi

    def check_broadcast(self, shape):
        """Raise :class:`QuantError` unless ``scale`` broadcasts to ``shape`` without growing it."""
        # numpy's rule is torch's; torch.broadcast_shapes imports sympy on its first call (~1 s, 35 MB)
        try:
            result = np.broadcast_shapes(tuple(self.scale.shape), tuple(shape))
        except ValueError:
            result = None
        if result != tuple(shape):
            raise QuantError(
                f"quantization parameters of shape {tuple(self.scale.shape)} do not broadcast to a tensor of "
                f"shape {tuple(shape)}; calibrate on this tensor"
            )


def params_from_range(lo, hi, scheme):
    """Quantization parameters for the value range ``[lo, hi]`` under ``scheme``.

    Parameters
    ----------
    lo, hi : float or Tensor
        Smallest and largest value to represent (``lo <= hi``), scalars or
        tensors of the shape the parameters should have.
    scheme : QuantScheme
        Uses ``bits``, ``symmetric``, ``unsigned`` and ``clip``.

    Returns
    -------
    QuantParams
        ``scale = q_max / (2**(m-1) - 1)`` with ``q_max = max(|lo|, |hi|)``
        when symmetric, ``scale = (q_max - q_min) / (2**m - 1)`` otherwise,
        after capping the range to ``[-clip, clip]``; never below
        :data:`MIN_SCALE`.
    """
    lo = torch.as_tensor(lo, dtype=torch.float64)
    hi = torch.as_tensor(hi, dtype=torch.float64)
    if not bool(torch.isfinite(lo).all() and torch.isfinite(hi).all()):
        raise QuantError("quantization range holds NaN or inf; the tensors to quantize must be finite")
    if not bool((lo <= hi).all()):
        raise QuantError("quantization range has lo > hi; expected lo <= hi")
    bits = scheme.bits
    if scheme.clip is not None:
        lo, hi = lo.clamp(-scheme.clip, scheme.clip), hi.clamp(-scheme.clip, scheme.clip)
    if scheme.symmetric:
        q_max = torch.maximum(lo.abs(), hi.abs())
        scale = (q_max / (2 ** (bits - 1) - 1)).clamp_min(MIN_SCALE)
        zero_point = torch.full_like(scale, 2 ** (bits - 1) if scheme.unsigned else 0)
    else:
        scale = ((hi - lo) / (2**bits - 1)).clamp_min(MIN_SCALE)
        lowest_level = 0 if scheme.unsigned else -(2 ** (bits - 1))
        zero_point = lowest_level - lo / scale
    return QuantParams(scale, zero_point, bits, scheme.unsigned, scheme.symmetric)


def calibrate(tensors, scheme):
    """Quantization parameters for each tensor of a model.

    Parameters
    ----------
    tensors : list of Tensor
        Floating-point tensors (weights, biases, norm parameters), finite and
        non-empty.
    scheme : QuantScheme
        ``global``: one range ``[min, max]`` over all tensors, shared;
        ``tensor``: one range per tensor; ``channel``: one range per slice
        along dim 0 for tensors with two or more dimensions, per tensor
        otherwise.

    Returns
    -------
    list of QuantParams
        One per tensor, in order; ``scale`` has shape ``()`` or, per channel,
        ``(C, 1, ..., 1)``.
    """
    tensors = list(tensors)
    if not tensors:
        raise QuantError("calibrate got no tensors; pass the list of parameter tensors to quantize")
    ranges = [_tensor_range(i, t, scheme.granularity == "channel") for i, t in enumerate(tensors)]
    if scheme.granularity == "global":
        lo = torch.stack([r[0] for r in ranges]).min()
        hi = torch.stack([r[1] for r in ranges]).max()
        shared = params_from_range(lo, hi, scheme)
        return [shared] * len(tensors)
    return [params_from_range(lo, hi, scheme) for lo, hi in ranges]


def _tensor_range(index, tensor, per_channel):
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        raise QuantError(f"tensor {index} to calibrate is {type(tensor).__name__}; expected a float torch.Tensor")
    if tensor.numel() == 0:
        raise QuantError(f"tensor {index} to calibrate is empty (shape {tuple(tensor.shape)}); nothing to quantize")
    values = tensor.detach().to(torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise QuantError(f"tensor {index} to calibrate holds NaN or inf; quantize finite weights only")
    if per_channel and values.ndim >= 2:
        dims = tuple(range(1, values.ndim))
        return values.amin(dim=dims, keepdim=True), values.amax(dim=dims, keepdim=True)
    return values.min(), values.max()
