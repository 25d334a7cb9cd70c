"""Energy of SRAM accesses and leakage as a function of the supply voltage.

The model is the one of ``DESIGN.md`` ("Energy"): per-bit read and write
energies and a per-bit leakage power, all given at the nominal supply. Dynamic
energy is a capacitance charged to the supply, so it scales as
``(V / Vnom) ** 2``; sub-threshold leakage current falls roughly
exponentially with the supply (DIBL), so leakage power scales as
``(V / Vnom) * exp(k * (V - Vnom))``.
"""

from dataclasses import dataclass, fields

import numpy as np

from accelsim._checks import Interval, check, float_array
from accelsim._errors import UserInputError

__all__ = ["EnergyModel", "EnergyModelError"]


class EnergyModelError(UserInputError):
    """An energy parameter or an argument of an energy query is invalid."""


@dataclass(frozen=True)
class EnergyModel:
    """Per-bit energy of an SRAM at its nominal supply, and how it scales.

    A profile's energy block. An accelerator prices its weight SRAM with
    its own technology model (:mod:`accelsim.accel.technology`) unless its
    ``weight_memory.energy_source`` is ``"profile"``, which uses this block
    (a measured chip's values). The shipped 14 nm profiles carry the
    technology model's values at 14 nm.

    The defaults describe a 64-256 KB SRAM bank in a recent CMOS node:

    - ``read_energy_per_bit_j = 50e-15``: CACTI 7 at 22 nm gives 48-99 fJ/bit
      for such banks; Horowitz (ISSCC 2014) quotes 10 pJ per 64-bit access of
      an 8 KB array at 45 nm (156 fJ/bit), which scaling to 22 nm brings to
      the same range.
    - ``write_energy_per_bit_j = 60e-15``: writes drive both bit lines full
      swing, so they cost somewhat more than reads.
    - ``leakage_power_per_bit_w = 50e-12``: about 50 pW per 6T cell at
      nominal supply and room temperature.
    - ``leakage_k_per_v = 2.0``: CACTI-P at 45 nm gives 68.3, 39.1 and
      20.4 mW of leakage at 1.0, 0.8 and 0.6 V; fitting
      ``P ~ V * exp(k V)`` to these gives k of 1.7-1.8 per volt, rounded
      to 2.

    Parameters
    ----------
    read_energy_per_bit_j : float
        Energy of reading one bit at nominal supply, in joules.
    write_energy_per_bit_j : float
        Energy of writing one bit at nominal supply, in joules.
    leakage_power_per_bit_w : float
        Leakage power of one stored bit at nominal supply, in watts.
    leakage_k_per_v : float
        Exponent of the leakage scaling, in 1/V.

    Raises
    ------
    EnergyModelError
        If a parameter is not a finite, non-negative real number.
    """

    read_energy_per_bit_j: float = 50e-15
    write_energy_per_bit_j: float = 60e-15
    leakage_power_per_bit_w: float = 50e-12
    leakage_k_per_v: float = 2.0

    def __post_init__(self):
        for field in fields(self):
            # Normalised to a plain float so equality and JSON are plain.
            value = check(f"energy.{field.name}", getattr(self, field.name), Interval(float, 0),
                          error=EnergyModelError)
            object.__setattr__(self, field.name, value)

    def to_dict(self):
        """The ``energy`` block of a profile's meta: the four parameters."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_dict(cls, data):
        """Build a model from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            Exactly the keys ``read_energy_per_bit_j``,
            ``write_energy_per_bit_j``, ``leakage_power_per_bit_w`` and
            ``leakage_k_per_v``.

        Raises
        ------
        EnergyModelError
            If ``data`` is not a dict, lacks a key, has an unknown key or a
            value out of range.
        """
        if not isinstance(data, dict):
            raise EnergyModelError(
                f"energy = {data!r} is a {type(data).__name__}; expected a dict with "
                f"keys {', '.join(_FIELD_NAMES)}")
        missing = [name for name in _FIELD_NAMES if name not in data]
        if missing:
            raise EnergyModelError(
                f"energy lacks key(s) {', '.join(missing)}; expected exactly "
                f"{', '.join(_FIELD_NAMES)}")
        unknown = sorted(str(key) for key in data if key not in _FIELD_NAMES)
        if unknown:
            raise EnergyModelError(
                f"energy has unknown key(s) {', '.join(unknown)}; expected exactly "
                f"{', '.join(_FIELD_NAMES)}")
        return cls(**{name: data[name] for name in _FIELD_NAMES})

    def read_energy_j(self, n_bits, vdd_v, vdd_nominal_v):
        """Energy of reading ``n_bits`` bits at supply ``vdd_v``, in joules.

        Parameters
        ----------
        n_bits : array_like
            Number of bits read (non-negative); broadcast against ``vdd_v``.
        vdd_v : array_like
            Supply voltage in volts (positive).
        vdd_nominal_v : float
            Nominal supply voltage in volts, at which the per-bit energy holds.

        Returns
        -------
        float or ndarray
            A float for scalar arguments, else an array of the broadcast shape.
        """
        return self._scaled(self.read_energy_per_bit_j, n_bits, vdd_v, vdd_nominal_v,
                            _dynamic_scale)

    def write_energy_j(self, n_bits, vdd_v, vdd_nominal_v):
        """Energy of writing ``n_bits`` bits at supply ``vdd_v``, in joules.

        Same arguments and return value as :meth:`read_energy_j`.
        """
        return self._scaled(self.write_energy_per_bit_j, n_bits, vdd_v, vdd_nominal_v,
                            _dynamic_scale)

    def leakage_power_w(self, n_bits, vdd_v, vdd_nominal_v):
        """Leakage power of ``n_bits`` stored bits at supply ``vdd_v``, in watts.

        Same arguments and return value as :meth:`read_energy_j`; the power
        scales as ``(V / Vnom) * exp(k * (V - Vnom))``.
        """
        return self._scaled(self.leakage_power_per_bit_w, n_bits, vdd_v, vdd_nominal_v,
                            self._leakage_scale)

    def _leakage_scale(self, vdd_v, vdd_nominal_v):
        return vdd_v / vdd_nominal_v * np.exp(self.leakage_k_per_v * (vdd_v - vdd_nominal_v))

    @staticmethod
    def _scaled(per_bit, n_bits, vdd_v, vdd_nominal_v, scale):
        n_bits = float_array("n_bits", n_bits, error=EnergyModelError, low=0)
        vdd_v = float_array("vdd_v", vdd_v, error=EnergyModelError, low=0, closed="neither")
        vdd_nominal_v = float_array("vdd_nominal_v", vdd_nominal_v, error=EnergyModelError, low=0, closed="neither")
        if vdd_nominal_v.ndim != 0:
            raise EnergyModelError(
                f"vdd_nominal_v has shape {vdd_nominal_v.shape}; expected a scalar voltage")
        try:
            result = per_bit * n_bits * scale(vdd_v, vdd_nominal_v)
        except ValueError:
            raise EnergyModelError(
                f"n_bits of shape {n_bits.shape} and vdd_v of shape {vdd_v.shape} "
                "do not broadcast; pass arrays of compatible shapes") from None
        return float(result) if result.ndim == 0 else result


_FIELD_NAMES = tuple(field.name for field in fields(EnergyModel))


def _dynamic_scale(vdd_v, vdd_nominal_v):
    return (vdd_v / vdd_nominal_v) ** 2
