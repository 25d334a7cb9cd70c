"""The fault models the tables evaluate under, each a profile of the weight SRAM.

Every table cell reads the weights out of :class:`accelsim.sram.SimulatedMemory`
at the voltage of a bit error rate, so the faults are persistent, nested across
rates and drawn per chip exactly as in a sweep:

- ``flip``: the shipped ``uniform`` profile (every faulty cell inverts its bit);
- ``sa0`` / ``sa1``: FlatENN's stuck-at cells at rate ``p``. The ``uniform``
  generator only flips, so these are Gaussian profiles whose every faulty cell
  is stuck at 0 (or 1); the faulty cells sit at uniformly random places
  (no per-array shift, no weak columns), so only the fault kind differs from
  ``flip``. A stuck cell holding its own value shows no error, so about half
  of the faulty cells of a rate flip a stored bit;
- ``14nm``: the shipped 14 nm profile, whose rate is its population BER.
"""

from dataclasses import dataclass

from accelsim.sram import gaussian_profile, load_profile

__all__ = ["FAULT_KINDS", "FaultModel", "fault_profile"]

FAULT_KINDS = ("flip", "sa0", "sa1", "14nm")
# Stuck-at profiles: fail voltages N(0.5 V, 0.1 V) below a 1 V nominal; the
# floor sits at the voltage of a 30% rate, above the highest tabulated rate.
_STUCK_MU_V, _STUCK_SIGMA_V, _STUCK_MAX_RATE = 0.5, 0.1, 0.3
# sa1_to_sa0 is a ratio; 1e300 makes every cell stuck-at-1 (the share rounds to 1).
_SA1_TO_SA0 = {"sa0": 0.0, "sa1": 1e300}
_SHIPPED = {"flip": "uniform", "14nm": "14nm"}


@dataclass(frozen=True)
class FaultModel:
    """A fault model and the chips a table cell is evaluated on.

    Parameters
    ----------
    kind : {"flip", "sa0", "sa1", "14nm"}
    first_chip : int
        First chip drawn; chips ``first_chip .. first_chip + chips - 1`` are
        evaluated (``first_chip = 1`` leaves out a training chip 0).
    """

    kind: str
    first_chip: int = 0
    n_chips: int | None = None

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"FaultModel.kind is {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if isinstance(self.first_chip, bool) or not isinstance(self.first_chip, int) or self.first_chip < 0:
            raise ValueError(f"FaultModel.first_chip is {self.first_chip!r}; expected an int >= 0")
        if self.n_chips is not None and (not isinstance(self.n_chips, int) or self.n_chips < 1):
            raise ValueError(f"FaultModel.n_chips is {self.n_chips!r}; expected None or an int >= 1")

    @property
    def label(self):
        """Short name used in file names and table headers."""
        if self.n_chips == 1:
            return f"{self.kind}-chip{self.first_chip}"
        return self.kind if self.first_chip == 0 else f"{self.kind}-from-chip{self.first_chip}"

    def chips(self, default_chips):
        """The chip numbers of a cell (``n_chips``, else ``default_chips``, from ``first_chip``)."""
        n_chips = default_chips if self.n_chips is None else self.n_chips
        return range(self.first_chip, self.first_chip + n_chips)


def fault_profile(kind):
    """The :class:`~accelsim.sram.Profile` of a fault kind (see the module docstring)."""
    if kind in _SHIPPED:
        return load_profile(_SHIPPED[kind])
    if kind not in _SA1_TO_SA0:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    probe = gaussian_profile(_STUCK_MU_V, _STUCK_SIGMA_V, vdd_nominal_v=1.0, vdd_min_v=1.0, vdd_floor_v=0.1)
    floor_v = round(float(probe.voltage_for_ber(_STUCK_MAX_RATE)), 6)
    stuck_at = kind[-1]
    return gaussian_profile(
        _STUCK_MU_V, _STUCK_SIGMA_V, sa1_to_sa0=_SA1_TO_SA0[kind], flip_share=0.0, seed=1,
        name=f"stuck-at-{stuck_at}", technology="rate-based", vdd_nominal_v=1.0, vdd_min_v=1.0,
        vdd_floor_v=floor_v,
        description=f"every faulty cell stuck at {stuck_at}, at uniformly random places "
                    f"(FlatENN's stuck-at faults at rate p = profile.ber(V))")
