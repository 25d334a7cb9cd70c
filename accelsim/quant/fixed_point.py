"""Float values <-> stored code bit patterns, and fake quantization for training.

Codes are int64 tensors holding the exact bit pattern written to memory, in
``[0, 2**bits)``: two's complement for signed codes, offset binary for
unsigned ones. :func:`dequantize` accepts any pattern in that interval, so
codes read back from a faulty memory decode as the hardware would: flipping
the most significant bit of a signed code flips its sign, flipping it in an
unsigned code moves the value by half the range.
"""

import torch

from accelsim.quant.params import QuantParams
from accelsim.quant.scheme import QuantError, QuantScheme

__all__ = ["quantize", "dequantize", "fake_quantize"]

# When the range holds 0, every value is under 2**bits steps from 0, so its
# float32 rounding moves it less than 2**(bits-24) <= 2**-8 steps; truncating
# with twice that slack keeps quantize(dequantize(c)) == c for 16-bit codes.
_TRUNCATE_SLACK_STEPS = 2.0**-7


def quantize(x, params, scheme):
    """Quantize ``x`` to the bit patterns stored in memory.

    Parameters
    ----------
    x : Tensor
        Finite floating-point values.
    params : QuantParams
        From :func:`~accelsim.quant.calibrate` under the same ``scheme``;
        ``params.scale`` must broadcast to ``x``.
    scheme : QuantScheme
        Supplies the rounding (``nearest``: ``round(w / Delta)``, ties to
        even; ``truncate``: towards the origin of the range, 0 when symmetric,
        ``q_min`` when asymmetric).

    Returns
    -------
    Tensor of int64
        Bit patterns in ``[0, 2**bits)``, the shape of ``x``. Values outside
        the range saturate at the end levels.
    """
    _check_compatible(params, scheme)
    _check_values(x)
    params.check_broadcast(x.shape)
    scale, zero_point = params.scale.to(x.device), params.zero_point.to(x.device)
    # Level relative to the origin of the range, where truncation stops.
    origin = zero_point if params.symmetric else torch.full_like(zero_point, params.min_level)
    steps = x.detach().to(torch.float64) / scale + (zero_point - origin)
    if scheme.rounding == "nearest":
        steps = torch.round(steps)
    else:
        steps = torch.sign(steps) * torch.floor(steps.abs() + _TRUNCATE_SLACK_STEPS)
    levels = (steps + origin).clamp(params.min_level, params.max_level).to(torch.int64)
    return levels & (2**params.bits - 1)


def dequantize(codes, params):
    """Values of stored bit patterns.

    Parameters
    ----------
    codes : Tensor of int64
        Bit patterns in ``[0, 2**bits)``, possibly altered by bit errors.
    params : QuantParams
        Parameters the codes were quantized with.

    Returns
    -------
    Tensor of float32
        ``(q - zero_point) * scale``, with ``q`` the pattern itself (unsigned)
        or its two's complement value (signed).
    """
    if not isinstance(params, QuantParams):
        raise QuantError(f"params must be QuantParams, got {type(params).__name__}")
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.int64:
        raise QuantError(
            f"codes must be an int64 torch.Tensor, got {getattr(codes, 'dtype', type(codes).__name__)}; "
            "use accelsim.quant.words_to_codes for arrays read from memory"
        )
    params.check_broadcast(codes.shape)
    if codes.numel():
        lowest, highest = (int(v) for v in torch.aminmax(codes))
        if lowest < 0 or highest >= 2**params.bits:
            raise QuantError(
                f"codes span [{lowest}, {highest}]; {params.bits}-bit codes must lie in [0, {2**params.bits - 1}]"
            )
    levels = codes
    if not params.unsigned:
        levels = codes - ((codes >> (params.bits - 1)) << params.bits)
    scale, zero_point = params.scale.to(codes.device), params.zero_point.to(codes.device)
    return ((levels - zero_point) * scale).to(torch.float32)


def fake_quantize(x, params, scheme):
    """Quantize and dequantize in the forward pass, straight-through backward.

    Forward: ``dequantize(quantize(x))`` in the dtype of ``x``. Backward: the
    gradient passes unchanged where ``x`` lies inside the representable range
    (with a millionth of a step of slack for rounding) and is zero outside it (the clipped straight-through estimator). ``scale``
    and ``zero_point`` receive no gradient.

    Parameters
    ----------
    x : Tensor
        Floating-point values, may require grad.
    params : QuantParams
    scheme : QuantScheme

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``.
    """
    _check_compatible(params, scheme)
    _check_values(x)
    return _FakeQuantize.apply(x, params, scheme)


class _FakeQuantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, params, scheme):
        lo, hi = params.value_range()
        # A millionth of a step of slack: the float64 rounding of lo/hi must not
        # zero the gradient of the very weights the range was calibrated on.
        slack = params.scale.to(x.device) * 1e-6
        values = x.detach().to(torch.float64)
        ctx.save_for_backward((values >= lo.to(x.device) - slack) & (values <= hi.to(x.device) + slack))
        return dequantize(quantize(x, params, scheme), params).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None


def _check_compatible(params, scheme):
    if not isinstance(params, QuantParams):
        raise QuantError(f"params must be QuantParams, got {type(params).__name__}")
    if not isinstance(scheme, QuantScheme):
        raise QuantError(f"scheme must be a QuantScheme, got {type(scheme).__name__}; see accelsim.quant.get_scheme")
    mine = (params.bits, params.unsigned, params.symmetric)
    theirs = (scheme.bits, scheme.unsigned, scheme.symmetric)
    if mine != theirs:
        raise QuantError(
            f"params (bits, unsigned, symmetric) = {mine} do not match the scheme's {theirs}; "
            "calibrate the parameters with this scheme"
        )


def _check_values(x):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise QuantError(f"values to quantize must be a floating-point torch.Tensor, got {type(x).__name__}")
    if not bool(torch.isfinite(x).all()):
        raise QuantError("values to quantize hold NaN or inf; only finite values can be quantized")
