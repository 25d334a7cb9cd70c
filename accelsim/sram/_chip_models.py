"""Statistical chip models and the sparse, seeded drawing of generated chips.

A generated chip is never materialised cell by cell. For each array the model
gives the probability ``q`` that a cell fails at or above the floor voltage;
the array then draws how many cells fail (``Binomial(cells, q)``), where they
sit (without replacement) and their fail voltages (the model's distribution
truncated to the floor). Array ``a`` of chip ``c`` uses its own random stream
``SeedSequence([seed, c, a])``, so a chip drawn with more arrays than declared
extends, and never changes, the declared ones.
"""

import hashlib
from dataclasses import MISSING, asdict, dataclass, fields
from typing import ClassVar

import numpy as np
from scipy.special import ndtr, ndtri

from accelsim.sram._validate import (
    ProfileError,
    require_int,
    require_mapping,
    require_real,
    require_str,
)
from accelsim.sram.cells import FLIP, SA0, SA1, CellTable

__all__ = ["GaussianModel", "UniformModel", "ChipGenerator", "draw_chip", "chip_fingerprint",
           "MAX_VOLTAGE_V"]

_HEX_DIGITS = frozenset("0123456789abcdef")
# Bound of every voltage a profile holds: far above any SRAM supply, low
# enough that fail voltages hash on a nanovolt grid without overflow.
MAX_VOLTAGE_V = 1000.0


@dataclass(frozen=True)
class GaussianModel:
    """Per-cell Gaussian fail voltages with per-array shifts and weak columns.

    Parameters
    ----------
    mu_v : float
        Mean fail voltage of a cell, in volts.
    sigma_cell_v : float
        Spread of the fail voltage of cells within an array (Pelgrom mismatch), in volts.
    sigma_array_v : float
        Spread of a per-array shift of the mean, in volts. The population sees
        the total spread ``hypot(sigma_cell_v, sigma_array_v)``.
    weak_column_share : float
        Share of the faulty cells of an array moved onto its weak columns
        (moved, not added: the fault count, hence the BER curve, is unchanged).
        The cells that fail first take the weak-column places first, so faults
        are column-aligned at high voltage; a full column spills to the rest.
    weak_columns : int
        Weak columns per array (required >= 1 when ``weak_column_share > 0``).
    sa1_to_sa0 : float
        Ratio of stuck-at-1 to stuck-at-0 cells among the cells that are not flip cells.
    flip_share : float
        Share of faulty cells that flip the stored bit.
    intermittent_share : float
        Share of faulty cells that err only sometimes.
    p_error_min, p_error_max : float
        Intermittent cells draw their error probability uniformly in this range.
    """

    name: ClassVar[str] = "gaussian"

    mu_v: float
    sigma_cell_v: float
    sigma_array_v: float = 0.0
    weak_column_share: float = 0.0
    weak_columns: int = 0
    sa1_to_sa0: float = 1.0
    flip_share: float = 0.0
    intermittent_share: float = 0.0
    p_error_min: float = 0.1
    p_error_max: float = 0.9

    def __post_init__(self):
        field = "generator.params."
        _set(self, "mu_v", require_real(field + "mu_v", self.mu_v,
                                        minimum=-MAX_VOLTAGE_V, maximum=MAX_VOLTAGE_V))
        _set(self, "sigma_cell_v", require_real(field + "sigma_cell_v", self.sigma_cell_v,
                                                minimum=0.0, maximum=MAX_VOLTAGE_V,
                                                open_minimum=True))
        _set(self, "sigma_array_v", require_real(field + "sigma_array_v", self.sigma_array_v,
                                                 minimum=0.0, maximum=MAX_VOLTAGE_V))
        for name in ("weak_column_share", "flip_share", "intermittent_share"):
            _set(self, name, require_real(field + name, getattr(self, name),
                                          minimum=0.0, maximum=1.0))
        _set(self, "weak_columns", require_int(field + "weak_columns", self.weak_columns,
                                               minimum=0))
        _set(self, "sa1_to_sa0", require_real(field + "sa1_to_sa0", self.sa1_to_sa0,
                                              minimum=0.0))
        for name in ("p_error_min", "p_error_max"):
            _set(self, name, require_real(field + name, getattr(self, name),
                                          minimum=0.0, maximum=1.0, open_minimum=True))
        if self.p_error_min > self.p_error_max:
            raise ProfileError(f"{field}p_error_min = {self.p_error_min} exceeds p_error_max = "
                               f"{self.p_error_max}; expected p_error_min <= p_error_max")
        if self.weak_column_share > 0 and self.weak_columns == 0:
            raise ProfileError(f"{field}weak_column_share = {self.weak_column_share} needs weak "
                               "columns; set weak_columns >= 1 or weak_column_share = 0")

    @property
    def sigma_total_v(self):
        """Spread of the fail voltage over the whole population, in volts."""
        return float(np.hypot(self.sigma_cell_v, self.sigma_array_v))

    def check_geometry(self, rows, cols):
        """Raise ``ProfileError`` if the arrays are too narrow for the weak columns."""
        del rows  # any number of rows works
        if self.weak_columns > cols:
            raise ProfileError(f"generator.params.weak_columns = {self.weak_columns} exceeds "
                               f"meta.cols = {cols}; expected at most one weak column per column")

    def population_ber(self, vdd_v, vdd_floor_v, vdd_nominal_v):
        """Fraction of cells faulty at ``vdd_v`` (a normal tail: shifts add in quadrature)."""
        del vdd_floor_v, vdd_nominal_v  # the curve does not depend on the described range
        return ndtr((self.mu_v - np.asarray(vdd_v, dtype=np.float64)) / self.sigma_total_v)

    def voltage_for_ber(self, ber, vdd_floor_v, vdd_nominal_v):
        """Inverse of :meth:`population_ber` for ``ber`` in (0, 1)."""
        del vdd_floor_v, vdd_nominal_v
        return self.mu_v - self.sigma_total_v * ndtri(np.asarray(ber, dtype=np.float64))

    def draw_array(self, rng, rows, cols, vdd_floor_v, vdd_nominal_v, vdd_lowest_v=None):
        """Draw the cells of one array that fail at or above the floor.

        ``vdd_lowest_v`` (optional) returns a leading part of the same cells,
        holding at least every cell failing at or above it (the caller keeps
        those): the random stream is drawn whole, but only that part is
        sorted and placed in voltage, which is most of the work.

        Returns
        -------
        position, v_fail_v, fault_kind, p_error : ndarray
            Cells in order of descending fail voltage; ``position`` is the
            flat index inside the array.
        """
        del vdd_nominal_v
        shift_v = self.sigma_array_v * rng.standard_normal()
        q = float(ndtr((self.mu_v + shift_v - vdd_floor_v) / self.sigma_cell_v))
        count = rng.binomial(rows * cols, q)
        # Tail fraction in (0, 1]: a smaller fraction is a higher fail voltage.
        tail = 1.0 - rng.random(count)
        if vdd_lowest_v is not None and q > 0:
            # A cell fails at or above vdd_lowest_v when its tail is at most ndtr(z) / q; the
            # smallest tails are the sorted array's leading part, so sorting a (generous)
            # superset of them gives exactly that part.
            bound = float(ndtr((self.mu_v + shift_v - vdd_lowest_v) / self.sigma_cell_v)) / q
            tail = tail[tail <= bound * (1 + 1e-6)]
        tail.sort()
        v_fail_v = self.mu_v + shift_v - self.sigma_cell_v * ndtri(tail * q)
        # Rounding can push the deepest tail a hair below the floor (or to
        # -inf when q == 1); those cells do fail at the floor.
        v_fail_v = np.maximum(v_fail_v, vdd_floor_v)
        n = len(tail)
        position = self._positions(rng, count, rows, cols)[:n]
        fault_kind, p_error = self._kinds(rng, count)
        return position, v_fail_v, fault_kind[:n], p_error[:n]

    def _positions(self, rng, count, rows, cols):
        if self.weak_columns == 0:
            return rng.choice(rows * cols, count, replace=False)
        weak_cols = np.sort(rng.choice(cols, self.weak_columns, replace=False))
        strong_cols = np.setdiff1d(np.arange(cols), weak_cols)
        weak_capacity = rows * len(weak_cols)
        wants_weak = rng.random(count) < self.weak_column_share
        n_weak = int(np.clip(wants_weak.sum(), count - rows * len(strong_cols), weak_capacity))
        # Cells that want a weak column and fail first get one; the stable
        # sort keeps the order of descending fail voltage.
        weak_members = np.argsort(~wants_weak, kind="stable")[:n_weak]
        is_weak = np.zeros(count, dtype=bool)
        is_weak[weak_members] = True
        weak_slots = rng.choice(weak_capacity, n_weak, replace=False)
        strong_slots = rng.choice(rows * len(strong_cols), count - n_weak, replace=False)
        position = np.empty(count, dtype=np.int64)
        position[is_weak] = _slots_to_positions(weak_slots, weak_cols, cols)
        position[~is_weak] = _slots_to_positions(strong_slots, strong_cols, cols)
        return position

    def _kinds(self, rng, count):
        draw = rng.random(count)
        sa1_share = (1.0 - self.flip_share) * self.sa1_to_sa0 / (1.0 + self.sa1_to_sa0)
        fault_kind = np.full(count, SA0, dtype=np.uint8)
        fault_kind[draw < self.flip_share + sa1_share] = SA1
        fault_kind[draw < self.flip_share] = FLIP
        intermittent = rng.random(count) < self.intermittent_share
        p_draw = self.p_error_min + (self.p_error_max - self.p_error_min) * rng.random(count)
        p_error = np.where(intermittent, p_draw, 1.0)
        return fault_kind, p_error


@dataclass(frozen=True)
class UniformModel:
    """Rate-based chip: every cell flips when its uniform draw is below p(V).

    ``p(V) = p_max * (Vnom - V) / (Vnom - Vfloor)``, so a cell with draw
    ``u < p_max`` fails below ``Vnom - (u / p_max) * (Vnom - Vfloor)``.
    Errors at a lower rate are a subset of those at a higher one.

    Parameters
    ----------
    p_max : float
        Bit error rate at the floor voltage, in (0, 1].
    """

    name: ClassVar[str] = "uniform"

    p_max: float

    def __post_init__(self):
        _set(self, "p_max", require_real("generator.params.p_max", self.p_max,
                                         minimum=0.0, maximum=1.0, open_minimum=True))

    def check_geometry(self, rows, cols):
        """Any geometry works for the uniform model."""
        del rows, cols

    def population_ber(self, vdd_v, vdd_floor_v, vdd_nominal_v):
        """``p(V)``, linear from ``p_max`` at the floor to 0 at nominal."""
        vdd_v = np.asarray(vdd_v, dtype=np.float64)
        return self.p_max * (vdd_nominal_v - vdd_v) / (vdd_nominal_v - vdd_floor_v)

    def voltage_for_ber(self, ber, vdd_floor_v, vdd_nominal_v):
        """Inverse of :meth:`population_ber`."""
        ber = np.asarray(ber, dtype=np.float64)
        return vdd_nominal_v - ber / self.p_max * (vdd_nominal_v - vdd_floor_v)

    def draw_positions(self, rng, rows, cols):
        """The positions of one array's cells that fail at or above the floor: ``draw_array``'s first draws."""
        count = rng.binomial(rows * cols, self.p_max)
        return rng.choice(rows * cols, count, replace=False)

    def draw_array(self, rng, rows, cols, vdd_floor_v, vdd_nominal_v):
        """Draw the cells of one array that fail at or above the floor (all flip)."""
        position = self.draw_positions(rng, rows, cols)
        count = len(position)
        # u / p_max is uniform in (0, 1] given u < p_max.
        rate_fraction = np.sort(1.0 - rng.random(count))
        v_fail_v = vdd_nominal_v - rate_fraction * (vdd_nominal_v - vdd_floor_v)
        return (position, v_fail_v, np.full(count, FLIP, dtype=np.uint8),
                np.ones(count, dtype=np.float64))


_MODELS = {model.name: model for model in (GaussianModel, UniformModel)}


@dataclass(frozen=True)
class ChipGenerator:
    """The ``generator`` block of a generated profile.

    Parameters
    ----------
    model : GaussianModel or UniformModel
        The statistical chip model.
    seed : int
        Seed of every chip; chip ``c``, array ``a`` draws from ``SeedSequence([seed, c, a])``.
    fingerprint : str or None
        sha256 (hex) of chip 0 over the declared geometry; ``None`` before it is known.
    """

    model: GaussianModel | UniformModel
    seed: int
    fingerprint: str | None = None

    def __post_init__(self):
        if not isinstance(self.model, tuple(_MODELS.values())):
            raise ProfileError(f"generator.model = {self.model!r} is not a chip model; "
                               "expected a GaussianModel or a UniformModel")
        _set(self, "seed", require_int("generator.seed", self.seed, minimum=0))
        if self.fingerprint is not None:
            require_str("generator.fingerprint", self.fingerprint)
            if len(self.fingerprint) != 64 or not set(self.fingerprint) <= _HEX_DIGITS:
                raise ProfileError(f"generator.fingerprint = {self.fingerprint!r} is not a sha256 "
                                   "digest; expected 64 lowercase hexadecimal digits")

    def to_dict(self):
        """JSON-ready dict: ``model``, ``params``, ``seed``, ``fingerprint``."""
        return {"model": self.model.name, "params": asdict(self.model),
                "seed": self.seed, "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; raises ``ProfileError`` on any malformed field."""
        require_mapping("meta.generator", data, ("model", "params", "seed", "fingerprint"))
        model_name = data["model"]
        if not isinstance(model_name, str) or model_name not in _MODELS:
            raise ProfileError(f"meta.generator.model = {model_name!r} is unknown; "
                               f"expected one of {', '.join(_MODELS)}")
        require_str("meta.generator.fingerprint", data["fingerprint"])
        model_cls = _MODELS[model_name]
        names = tuple(field.name for field in fields(model_cls))
        required = tuple(field.name for field in fields(model_cls)
                         if field.default is MISSING)
        require_mapping("meta.generator.params", data["params"], required,
                        optional=tuple(name for name in names if name not in required))
        return cls(model_cls(**data["params"]), data["seed"], data["fingerprint"])


def draw_chip(generator, chip, n_arrays, rows, cols, vdd_floor_v, vdd_nominal_v, vdd_lowest_v=None):
    """Faulty cells of one generated chip over arrays ``[0, n_arrays)``.

    Parameters
    ----------
    generator : ChipGenerator
        Model and seed.
    chip : int
        Chip number (>= 0).
    n_arrays, rows, cols : int
        How many arrays to draw and their geometry.
    vdd_floor_v, vdd_nominal_v : float
        The voltage range the profile describes.
    vdd_lowest_v : float, optional
        Keep only the cells faulty at this voltage or above (default: the
        floor). Each array is still drawn whole, so the cells kept are
        exactly those of the full draw: memory follows the faults of the
        voltages asked for, the chip does not change.

    Returns
    -------
    CellTable
        Cells sorted by flat index ``array * rows * cols + row * cols + col``.
    """
    cells_per_array = rows * cols
    columns = ([], [], [], [])  # index, v_fail_v, fault_kind, p_error
    for array in range(n_arrays):
        rng = np.random.default_rng(np.random.SeedSequence([generator.seed, chip, array]))
        if vdd_lowest_v is not None and vdd_lowest_v > vdd_floor_v and isinstance(generator.model, GaussianModel):
            drawn = generator.model.draw_array(rng, rows, cols, vdd_floor_v, vdd_nominal_v, vdd_lowest_v)
        else:
            drawn = generator.model.draw_array(rng, rows, cols, vdd_floor_v, vdd_nominal_v)
        if vdd_lowest_v is not None and vdd_lowest_v > vdd_floor_v:
            kept = drawn[1] >= vdd_lowest_v
            drawn = tuple(values[kept] for values in drawn)
        # A stable sort of 16-bit keys is a radix sort, linear in the cells:
        # the same order as sorting the int64 positions, at a fraction of the
        # cost of a fresh chip per training step.
        keys = drawn[0].astype(np.uint16) if cells_per_array <= 2**16 else drawn[0]
        order = np.argsort(keys, kind="stable")
        columns[0].append(drawn[0][order] + array * cells_per_array)
        for column, values in zip(columns[1:], drawn[1:], strict=True):
            column.append(values[order])
    dtypes = (np.int64, np.float64, np.uint8, np.float64)
    return CellTable(*(_concatenate(column, dtype) for column, dtype in zip(columns, dtypes, strict=True)))


def draw_floor_flips(generator, chip, n_arrays, rows, cols):
    """Flat indices (ascending) of the cells of a uniform-model chip that fail at its floor.

    The same cells as :func:`draw_chip`'s, all of which fail at the floor and
    flip, without drawing their fail voltages: a read at the floor of a chip
    read only once (a training step's fresh chip) spends most of a draw
    sorting voltages it never uses.
    """
    if not isinstance(generator.model, UniformModel):
        raise TypeError(f"draw_floor_flips needs a uniform chip model, not {generator.model.name!r}")
    cells_per_array = rows * cols
    parts = []
    for array in range(n_arrays):
        rng = np.random.default_rng(np.random.SeedSequence([generator.seed, chip, array]))
        position = generator.model.draw_positions(rng, rows, cols)
        # Distinct positions: sorting them gives draw_chip's order (a radix sort of 16-bit keys).
        keys = position.astype(np.uint16) if cells_per_array <= 2**16 else position
        parts.append(np.sort(keys, kind="stable").astype(np.int64) + array * cells_per_array)
    return _concatenate(parts, np.int64)


def chip_fingerprint(cells):
    """sha256 (hex) of a table of cells.

    Voltages are hashed on a 1 nV grid and error probabilities on a 1e-12
    grid, so that the last bits of a special function do not matter while
    any change of the random stream does.
    """
    digest = hashlib.sha256(b"accelsim-chip-v1")
    digest.update(cells.cell_index.astype("<i8").tobytes())
    digest.update(np.rint(cells.v_fail_v * 1e9).astype("<i8").tobytes())
    digest.update(cells.fault_kind.astype("u1").tobytes())
    digest.update(np.rint(cells.p_error * 1e12).astype("<i8").tobytes())
    return digest.hexdigest()


def _concatenate(parts, dtype):
    """Join per-array parts, dropping them as we go to bound the peak memory."""
    joined = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)
    parts.clear()
    return joined


def _slots_to_positions(slots, columns, cols):
    """Map slot ``s`` of the row-major cells restricted to ``columns`` to a flat position."""
    return (slots // len(columns)) * cols + columns[slots % len(columns)]


def _set(instance, name, value):
    object.__setattr__(instance, name, value)
