"""Activation quantization: a per-layer range calibrated on a few batches.

Off unless a caller asks for it. An :class:`ActivationQuantizer` is the
configuration; the range of each layer comes from
:func:`calibrate_activation_range` on its outputs, and
:func:`fake_quantize_activations` applies it (straight-through gradient).
Activations are rounded to the nearest level: after ReLU (``unsigned``) on
``[0, hi]`` with ``Delta = hi / (2**m - 1)`` and unsigned codes, otherwise on
the symmetric range ``[-a, a]``, ``a = max(|lo|, |hi|)``, with
``Delta = a / (2**(m-1) - 1)`` and two's complement codes.
"""

import dataclasses
import math
from dataclasses import dataclass

import torch

from accelsim.quant.fixed_point import fake_quantize
from accelsim.quant.params import params_from_range
from accelsim.quant.scheme import (
    SCHEMA_VERSION,
    SUPPORTED_BITS,
    QuantError,
    QuantScheme,
)

__all__ = ["ActivationQuantizer", "calibrate_activation_range", "fake_quantize_activations"]


@dataclass(frozen=True)
class ActivationQuantizer:
    """Fixed-point format of a layer's activations.

    Parameters
    ----------
    bits : int
        Bits per activation: 2 to 8, or 16.
    unsigned : bool
        The activations are non-negative (after ReLU): quantize ``[0, hi]``
        with unsigned codes; negative inputs saturate at 0.
    """

    bits: int = 8
    unsigned: bool = False

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits not in SUPPORTED_BITS:
            raise QuantError(f"ActivationQuantizer.bits is {self.bits!r}; expected an int in {SUPPORTED_BITS}")
        if not isinstance(self.unsigned, bool):
            raise QuantError(f"ActivationQuantizer.unsigned is {self.unsigned!r}; expected True or False")

    @property
    def scheme(self):
        """The equivalent per-tensor :class:`QuantScheme` (rounding to nearest)."""
        return QuantScheme(bits=self.bits, granularity="tensor", symmetric=not self.unsigned,
                           unsigned=self.unsigned, rounding="nearest")

    def params(self, act_range):
        """:class:`QuantParams` for a calibrated range ``(lo, hi)``."""
        lo, hi = _check_range(act_range)
        if self.unsigned:
            lo, hi = 0.0, max(hi, 0.0)
        return params_from_range(lo, hi, self.scheme)

    def to_dict(self):
        """Plain, JSON-serialisable dict with a ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; raises :class:`QuantError` on any mismatch."""
        expected = {"schema_version", "bits", "unsigned"}
        if not isinstance(data, dict) or set(data) != expected:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise QuantError(f"activation quantizer dict has keys {keys}; expected {sorted(expected)}")
        if data["schema_version"] != SCHEMA_VERSION:
            raise QuantError(
                f"activation quantizer schema_version is {data['schema_version']!r}; expected {SCHEMA_VERSION}"
            )
        return cls(bits=data["bits"], unsigned=data["unsigned"])


def calibrate_activation_range(batches):
    """Smallest and largest activation seen over a few batches.

    Parameters
    ----------
    batches : iterable of Tensor
        Outputs of one layer on calibration inputs.

    Returns
    -------
    (float, float)
        ``(lo, hi)`` over every element of every batch.
    """
    lo, hi = math.inf, -math.inf
    for index, batch in enumerate(batches):
        if not isinstance(batch, torch.Tensor) or not batch.is_floating_point() or batch.numel() == 0:
            raise QuantError(f"activation batch {index} must be a non-empty floating-point torch.Tensor")
        batch_lo, batch_hi = torch.aminmax(batch.detach())
        lo, hi = min(lo, float(batch_lo)), max(hi, float(batch_hi))
    if lo == math.inf:
        raise QuantError("calibrate_activation_range got no batches; pass at least one batch of activations")
    return _check_range((lo, hi))


def fake_quantize_activations(x, quantizer, act_range):
    """Quantize-dequantize activations ``x`` to ``quantizer``'s format on ``act_range``.

    Parameters
    ----------
    x : Tensor
        Activations of the layer, may require grad.
    quantizer : ActivationQuantizer
    act_range : (float, float)
        From :func:`calibrate_activation_range`.

    Returns
    -------
    Tensor
        Same shape and dtype as ``x``; the gradient passes where ``x`` lies
        inside the representable range and is zero outside.
    """
    if not isinstance(quantizer, ActivationQuantizer):
        raise QuantError(f"quantizer must be an ActivationQuantizer, got {type(quantizer).__name__}")
    return fake_quantize(x, quantizer.params(act_range), quantizer.scheme)


def _check_range(act_range):
    try:
        lo, hi = (float(v) for v in act_range)
    except (TypeError, ValueError):
        raise QuantError(f"activation range is {act_range!r}; expected a pair of numbers (lo, hi)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise QuantError(f"activation range is ({lo}, {hi}); expected finite lo <= hi")
    return lo, hi
