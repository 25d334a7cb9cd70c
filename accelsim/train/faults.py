"""Faults for fault-aware training, drawn by the same bit-level memory model as evaluation.

Every fault model is a chip of :mod:`accelsim.sram` read at one voltage:

- ``flip`` at rate ``p``: the ``uniform`` profile of Stutz et al.'s random bit
  errors (``uniform_profile(p)`` read at ``voltage_for_ber(p)``);
- ``sa0`` / ``sa1`` at rate ``p``: a generated chip whose faulty cells are all
  stuck at 0 (or 1), with its floor voltage placed where its BER is ``p``, so
  that reading at the floor makes each cell faulty with probability ``p``
  (FlatENN's stuck-at faults; a stuck cell holding its own value shows no error);
- ``profile:NAME@V``: the faults of a shipped or user profile at ``V`` volts.

A training step reads the current weight codes out of chip ``step`` (a fresh
chip per step, RandBET's "drawn anew each step") or always out of one fixed
chip (profile-aware training on the faults of one chip).
"""

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from accelsim.sram import (
    SimulatedMemory,
    gaussian_profile,
    load_profile,
    uniform_profile,
)

__all__ = ["FaultSpec", "parse_fault_model", "TrainingFaults", "RATE_KINDS"]

RATE_KINDS = ("flip", "sa0", "sa1")
_PROFILE_PATTERN = re.compile(r"profile:(?P<name>[^@]+)@(?P<vdd>[^@]+)")

# The stuck-at chip: Gaussian fail voltages N(mu, sigma), floor where the BER is the rate.
# Nominal sits 15 sigma above the mean, so any rate above ~1e-50 has a floor below it.
_STUCK_MU_V, _STUCK_SIGMA_V, _STUCK_NOMINAL_V = 0.5, 0.1, 2.0
# sa1_to_sa0 large enough that the SA1 share rounds to exactly 1.0 in float64.
_ALL_SA1 = 1e300


@dataclass(frozen=True)
class FaultSpec:
    """A parsed ``--fault-model``.

    Attributes
    ----------
    kind : {"flip", "sa0", "sa1", "profile"}
    profile : str or None
        Profile name or path (kind ``profile``).
    vdd_v : float or None
        Supply voltage the profile is read at, in volts (kind ``profile``).
    """

    kind: str
    profile: str | None = None
    vdd_v: float | None = None

    @property
    def is_rate_based(self):
        """Whether the fault rate comes from ``p_train`` (not from a profile)."""
        return self.kind in RATE_KINDS

    def __str__(self):
        return self.kind if self.is_rate_based else f"profile:{self.profile}@{self.vdd_v:g}"


def parse_fault_model(text):
    """Parse ``flip``, ``sa0``, ``sa1`` or ``profile:NAME@V`` into a :class:`FaultSpec`.

    Raises
    ------
    TrainError
        If ``text`` is none of these forms or ``V`` is not a voltage.
    """
    from accelsim.train.config import TrainError

    if text in RATE_KINDS:
        return FaultSpec(text)
    match = _PROFILE_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise TrainError(f"fault model is {text!r}; expected flip, sa0, sa1 or profile:NAME@V "
                         "(e.g. profile:14nm@0.6)")
    try:
        vdd_v = float(match["vdd"])
    except ValueError:
        vdd_v = math.nan
    if not math.isfinite(vdd_v) or vdd_v <= 0:
        raise TrainError(f"fault model {text!r}: {match['vdd']!r} is not a supply voltage; "
                         "write profile:NAME@V with V in volts, e.g. profile:14nm@0.6")
    return FaultSpec("profile", match["name"], vdd_v)


class TrainingFaults:
    """Reads weight words out of a faulty chip, one chip per training step or one for all.

    Parameters
    ----------
    spec : FaultSpec
    rate : float or None
        Fault rate per cell for the rate-based kinds, in (0, 1).
    chip : int or None
        The one chip to train on; ``None`` reads step ``k`` out of chip ``k``.
    seed : int
        Seed of the drawn chips and of intermittent cells.

    Raises
    ------
    ProfileError
        If a ``profile:NAME@V`` names no profile or ``V`` is outside its range.
    """

    def __init__(self, spec, rate=None, chip=None, seed=0):
        self.spec = spec
        self.chip = chip
        self.seed = int(seed)
        self.profile, self.vdd_v = _chip_model(spec, rate, self.seed)
        self._fixed_masks = None  # (n_words, bits, read-0 mask, read-1 mask) of the fixed chip

    def apply(self, words, bits, step):
        """The words as read back from this step's chip.

        Parameters
        ----------
        words : ndarray of uint8 or uint16, 1-D
            Stored codes (see :func:`accelsim.quant.codes_to_words`).
        bits : int
            Bits per word.
        step : int
            Training step (>= 0), the chip number when chips are fresh.

        Returns
        -------
        ndarray
            A new array of the dtype of ``words``.
        """
        if self.chip is None:
            memory = SimulatedMemory(self.profile, words, bits, seed=self.seed)
            # Each chip is read once: no sorted placement to build or cache.
            return memory.read_once(self.vdd_v, chip=int(step)).words
        read_zero, read_one = self._masks(len(words), bits, words.dtype)
        # A cell's read value depends only on the bit stored in it, so the
        # reads of all-zeros and all-ones words fix the chip for any words.
        return (~words & read_zero) | (words & read_one)

    def _masks(self, n_words, bits, dtype):
        if self._fixed_masks is None or self._fixed_masks[:2] != (n_words, bits):
            reads = []
            for value in (0, 2**bits - 1):
                stored = np.full(n_words, value, dtype=dtype)
                memory = SimulatedMemory(self.profile, stored, bits, seed=self.seed)
                reads.append(memory.read(self.vdd_v, chip=self.chip).words)
            self._fixed_masks = (n_words, bits, *reads)
        return self._fixed_masks[2:]


def _chip_model(spec, rate, seed):
    """The profile and voltage realising ``spec``."""
    if spec.kind == "flip":
        profile = uniform_profile(rate, seed=seed, name="train-flip")
        return profile, profile.voltage_for_ber(rate)
    if spec.kind in ("sa0", "sa1"):
        floor_v = _STUCK_MU_V - _STUCK_SIGMA_V * float(ndtri(rate))
        profile = gaussian_profile(
            _STUCK_MU_V, _STUCK_SIGMA_V, sa1_to_sa0=0.0 if spec.kind == "sa0" else _ALL_SA1,
            seed=seed, name=f"train-{spec.kind}", technology="rate-based",
            vdd_nominal_v=_STUCK_NOMINAL_V, vdd_min_v=_STUCK_NOMINAL_V, vdd_floor_v=floor_v)
        return profile, profile.vdd_floor_v
    profile = load_profile(spec.profile)
    profile.check_voltage(spec.vdd_v)
    return profile, spec.vdd_v
