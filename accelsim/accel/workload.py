"""What one layer of a network asks of the accelerator for one inference.

The engine measures these records (``QuantizedModel.workloads()``); the
accelerator turns them into cycles and joules. The records know no torch:
they are counts per example (batch size 1).
"""

import math
from dataclasses import asdict, dataclass, fields

from accelsim.accel._validate import (
    AcceleratorError,
    check_fraction,
    check_int,
    check_text,
)

__all__ = ["LayerWorkload", "ARRAY_KINDS"]

#: Kinds mapped onto the PE array as a matrix product (weight-stationary).
#: Every other kind (``norm``, pooling, ...) is element-wise and runs on the
#: vector unit at the array's output; see :mod:`accelsim.accel.energy`.
ARRAY_KINDS = frozenset({"conv", "linear"})

_MAX_BITS = 32


@dataclass(frozen=True, kw_only=True)
class LayerWorkload:
    """Counts of one layer for one inference at batch size 1.

    Parameters
    ----------
    name : str
        Layer name, for reports (e.g. ``features.0``).
    kind : str
        ``conv`` or ``linear`` (run on the PE array), or an element-wise kind
        such as ``norm`` (run on the vector unit).
    n_weights : int
        All parameters the layer stores in the weight SRAM: weights, bias and
        norm parameters. Each is read once per inference.
    weight_bits : int
        Bits per stored parameter, 1 to 32.
    macs : int
        Multiply-accumulates per inference (a norm: one per output element).
    act_in, act_out : int
        Input and output activation elements per inference.
    act_bits : int
        Bits per activation element, 1 to 32.
    output_shape : tuple of int, optional
        Output shape per example, channels first, without the batch
        dimension (``(C, H, W)`` or ``(F,)``); its product must equal
        ``act_out``. It tells the array how many output channels and output
        pixels a convolution has; without it, every output element counts as
        a channel, which is exact for ``linear`` and pessimistic (more
        weight tiles) for ``conv``.
    zero_fraction : float, default 0
        Fraction of input activations that are zero, in [0, 1]; zero gating
        skips that fraction of the MACs.
    groups : int, default 1
        Convolution groups (``C`` for depthwise); a group only sees its own
        ``C / groups`` output channels and input slice.

    Raises
    ------
    AcceleratorError
        If a field has the wrong type or is out of range, if ``output_shape``
        does not multiply to ``act_out``, or if a layer has MACs but no
        output.
    """

    name: str
    kind: str
    n_weights: int
    weight_bits: int
    macs: int
    act_in: int
    act_out: int
    act_bits: int
    output_shape: tuple | None = None
    zero_fraction: float = 0.0
    groups: int = 1

    def __post_init__(self):
        where = f"LayerWorkload({self.name!r})"
        check_text(f"{where}.name", self.name)
        check_text(f"{where}.kind", self.kind)
        normalised = {
            "n_weights": check_int(f"{where}.n_weights", self.n_weights, minimum=0),
            "weight_bits": check_int(f"{where}.weight_bits", self.weight_bits,
                                     minimum=1, maximum=_MAX_BITS),
            "macs": check_int(f"{where}.macs", self.macs, minimum=0),
            "act_in": check_int(f"{where}.act_in", self.act_in, minimum=0),
            "act_out": check_int(f"{where}.act_out", self.act_out, minimum=0),
            "act_bits": check_int(f"{where}.act_bits", self.act_bits,
                                  minimum=1, maximum=_MAX_BITS),
            "zero_fraction": check_fraction(f"{where}.zero_fraction", self.zero_fraction,
                                            meaning="share of zero input activations"),
            "groups": check_int(f"{where}.groups", self.groups, minimum=1),
            "output_shape": self._checked_shape(where),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        if self.macs and not self.act_out:
            raise AcceleratorError(
                f"{where}.macs = {self.macs} with act_out = 0: a layer that computes must "
                "produce outputs; give act_out")
        if self.out_channels % self.groups:
            raise AcceleratorError(
                f"{where}.groups = {self.groups} does not divide the {self.out_channels} output "
                "channels; give output_shape with channels first, or groups = 1")

    def _checked_shape(self, where):
        if self.output_shape is None:
            return None
        if isinstance(self.output_shape, (str, bytes)) or not hasattr(self.output_shape, "__len__"):
            raise AcceleratorError(
                f"{where}.output_shape = {self.output_shape!r}: expected a tuple of positive "
                "integers, channels first, without the batch dimension")
        shape = tuple(check_int(f"{where}.output_shape[{i}]", dim, minimum=1)
                      for i, dim in enumerate(self.output_shape))
        if not shape or math.prod(shape) != self.act_out:
            raise AcceleratorError(
                f"{where}.output_shape = {shape} holds {math.prod(shape) if shape else 0} "
                f"elements, act_out = {self.act_out}: give the per-example output shape "
                "without the batch dimension")
        return shape

    @property
    def weight_bits_total(self):
        """Bits this layer stores and reads once per inference."""
        return self.n_weights * self.weight_bits

    @property
    def out_channels(self):
        """Output channels (``output_shape[0]``, else ``act_out``)."""
        return self.act_out if self.output_shape is None else self.output_shape[0]

    @property
    def output_pixels(self):
        """Output elements per channel (1 for a linear layer)."""
        return self.act_out // self.out_channels if self.out_channels else 0

    @property
    def reduction_length(self):
        """Inputs summed into one output (``macs / act_out``, rounded up)."""
        return -(-self.macs // self.act_out) if self.act_out else 0

    def to_dict(self):
        """Plain dict of the fields (``output_shape`` as a list), JSON-ready."""
        data = asdict(self)
        if self.output_shape is not None:
            data["output_shape"] = list(self.output_shape)
        return data

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; unknown or missing keys raise AcceleratorError."""
        names = [field.name for field in fields(cls)]
        if not isinstance(data, dict):
            raise AcceleratorError(f"workload = {data!r}: expected a dict with keys "
                                   f"{', '.join(names)}")
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise AcceleratorError(f"workload has unknown key(s) {', '.join(unknown)}; "
                                   f"expected keys among {', '.join(names)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise AcceleratorError(f"workload {data.get('name')!r} is incomplete ({exc}); "
                                   f"expected keys {', '.join(names)}") from None
