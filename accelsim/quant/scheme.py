"""Fixed-point quantization schemes and the presets of Stutz et al.'s table.

A scheme says how a float tensor becomes ``bits``-bit integer codes and
which bit patterns are written to memory. Notation (Stutz et al., "Bit Error
Robustness for Energy-Efficient DNN Accelerators", MLSys 2021): ``m`` bits,
range ``[q_min, q_max]`` calibrated on the weights, step ``Delta``.

Symmetric range ``[-q_max, q_max]``, ``q_max = max |w|``::

    Delta = q_max / (2**(m-1) - 1)
    k     = round(w / Delta)  or  trunc(w / Delta)      # k in [-(2**(m-1)-1), 2**(m-1)-1]
    w'    = k * Delta

Asymmetric range ``[q_min, q_max] = [min w, max w]``::

    Delta = (q_max - q_min) / (2**m - 1)
    k     = round((w - q_min) / Delta)  or  floor(...)  # k in [0, 2**m - 1]
    w'    = q_min + k * Delta

Truncation rounds towards the origin of the range (0 when symmetric, ``q_min``
when asymmetric). The code ``k`` is then stored either as unsigned offset
binary or as signed two's complement:

- unsigned: the pattern is ``k`` (asymmetric) or ``k + 2**(m-1)``
  (symmetric), so flipping the most significant bit moves the value by half
  the range;
- signed: the pattern is the two's complement of ``k - 2**(m-1)``
  (asymmetric) or of ``k`` (symmetric), so flipping the most significant bit
  changes the sign of the signed code.

``clip`` (Stutz et al.'s weight clipping) caps the range to
``[-clip, clip]``; weights outside it saturate at the end codes.
"""

import dataclasses
import math
from dataclasses import dataclass

from accelsim._errors import UserInputError

__all__ = [
    "QuantError",
    "QuantScheme",
    "PRESETS",
    "GRANULARITIES",
    "ROUNDINGS",
    "SUPPORTED_BITS",
    "SCHEMA_VERSION",
    "get_scheme",
]

SCHEMA_VERSION = 1
SUPPORTED_BITS = (2, 3, 4, 5, 6, 7, 8, 16)
GRANULARITIES = ("global", "tensor", "channel")
ROUNDINGS = ("nearest", "truncate")


class QuantError(UserInputError):
    """A quantization scheme, its parameters or its inputs are invalid."""


@dataclass(frozen=True)
class QuantScheme:
    """How float tensors become the integer codes stored in weight memory.

    The formulas are in the module docstring of :mod:`accelsim.quant.scheme`.
    The defaults are the ``rquant`` preset at 8 bits.

    Parameters
    ----------
    bits : int
        Bits per code, ``m``: 2 to 8, or 16.
    granularity : {"global", "tensor", "channel"}
        ``global``: one range shared by every tensor of the model;
        ``tensor``: one range per tensor (each weight and each bias its own,
        Stutz et al.'s "per-layer"); ``channel``: one range per output
        channel (slice along dim 0) of tensors with two or more dimensions,
        one range per tensor for vectors and scalars (biases, norm
        parameters).
    symmetric : bool
        Range ``[-max|w|, max|w|]`` (zero exactly representable) rather than
        ``[min w, max w]``.
    unsigned : bool
        Store codes as unsigned offset binary rather than signed two's
        complement.
    rounding : {"nearest", "truncate"}
        Round to the nearest level (ties to even), or truncate towards the
        origin of the range.
    clip : float or None
        If set, the range is capped to ``[-clip, clip]`` (clip > 0).
    """

    bits: int = 8
    granularity: str = "tensor"
    symmetric: bool = False
    unsigned: bool = True
    rounding: str = "nearest"
    clip: float | None = None

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits not in SUPPORTED_BITS:
            raise QuantError(f"QuantScheme.bits is {self.bits!r}; expected an int in {SUPPORTED_BITS}")
        _check_choice("granularity", self.granularity, GRANULARITIES)
        _check_choice("rounding", self.rounding, ROUNDINGS)
        for name in ("symmetric", "unsigned"):
            if not isinstance(getattr(self, name), bool):
                raise QuantError(f"QuantScheme.{name} is {getattr(self, name)!r}; expected True or False")
        if self.clip is not None:
            clip = self.clip
            if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not math.isfinite(clip) or clip <= 0:
                raise QuantError(
                    f"QuantScheme.clip is {clip!r}; expected None or a finite number > 0 "
                    "(the weight range is capped to [-clip, clip])"
                )
            object.__setattr__(self, "clip", float(clip))

    @property
    def name(self):
        """Preset name matching this scheme (bits and clip aside), else a short description."""
        for preset, scheme in PRESETS.items():
            if _same_format(self, scheme):
                return preset
        return "{}-{}-{}-{}".format(
            self.granularity,
            "symmetric" if self.symmetric else "asymmetric",
            "unsigned" if self.unsigned else "signed",
            self.rounding,
        )

    def with_bits(self, bits):
        """Return a copy with ``bits`` bits per code."""
        return dataclasses.replace(self, bits=bits)

    def to_dict(self):
        """Plain, JSON-serialisable dict with a ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; raises :class:`QuantError` on any mismatch."""
        if not isinstance(data, dict):
            raise QuantError(f"quantization scheme must be a dict, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise QuantError(
                f"quantization scheme schema_version is {version!r}; expected {SCHEMA_VERSION} "
                "(the dict was written by an incompatible accelsim)"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        given = set(data) - {"schema_version"}
        if given != fields:
            raise QuantError(
                f"quantization scheme keys {sorted(given)} do not match the expected {sorted(fields)}: "
                f"unknown {sorted(given - fields)}, missing {sorted(fields - given)}"
            )
        return cls(**{name: data[name] for name in fields})


def _check_choice(field, value, choices):
    if value not in choices:
        raise QuantError(f"QuantScheme.{field} is {value!r}; expected one of {', '.join(choices)}")


def _same_format(a, b):
    return (a.granularity, a.symmetric, a.unsigned, a.rounding) == (
        b.granularity, b.symmetric, b.unsigned, b.rounding)


# The rows of Stutz et al.'s quantization table, each adding one change.
PRESETS = {
    "global": QuantScheme(granularity="global", symmetric=True, unsigned=False, rounding="truncate"),
    "normal": QuantScheme(granularity="tensor", symmetric=True, unsigned=False, rounding="truncate"),
    "asymmetric": QuantScheme(granularity="tensor", symmetric=False, unsigned=False, rounding="truncate"),
    "unsigned": QuantScheme(granularity="tensor", symmetric=False, unsigned=True, rounding="truncate"),
    "rquant": QuantScheme(granularity="tensor", symmetric=False, unsigned=True, rounding="nearest"),
}


def get_scheme(name_or_scheme, bits=None):
    """Resolve a preset name or a scheme, optionally overriding its bits.

    Parameters
    ----------
    name_or_scheme : str or QuantScheme
        One of ``global``, ``normal``, ``asymmetric``, ``unsigned``,
        ``rquant`` (8 bits unless ``bits`` says otherwise), or a scheme.
    bits : int, optional
        Bits per code replacing the scheme's.

    Returns
    -------
    QuantScheme
    """
    if isinstance(name_or_scheme, QuantScheme):
        scheme = name_or_scheme
    elif isinstance(name_or_scheme, str) and name_or_scheme in PRESETS:
        scheme = PRESETS[name_or_scheme]
    else:
        raise QuantError(
            f"unknown quantization scheme {name_or_scheme!r}; expected a QuantScheme or one of the presets "
            f"{', '.join(PRESETS)}"
        )
    return scheme if bits is None else scheme.with_bits(bits)
