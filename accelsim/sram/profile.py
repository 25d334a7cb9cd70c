"""SRAM profiles: which cells of a chip fail below which supply voltage.

A :class:`Profile` is either measured (``kind == "cells"``: the faulty cells
are listed) or generated (``kind == "generated"``: a seeded statistical model
draws them). Both answer the same questions: the bit error rate at a voltage,
the faulty cells of a chip, the voltage of a given error rate. The file format
is DESIGN.md's "Profile file (version 1)".
"""

import dataclasses
import hashlib
import json
import os

import numpy as np

from accelsim._checks import float_array
from accelsim.sram._chip_models import UniformModel, chip_fingerprint, draw_chip, draw_floor_flips
from accelsim.sram._lookup import list_profiles, resolve_profile
from accelsim.sram._meta import META_KEYS, ProfileMeta
from accelsim.sram._npz import read_profile_file, write_profile_file
from accelsim.sram._validate import ProfileError, require_int
from accelsim.sram.cells import FLIP, CellTable

__all__ = ["Profile", "ProfileError", "load_profile", "list_profiles"]

# Chips kept drawn per profile: a sweep walks voltages chip by chip.
_CHIP_CACHE_SIZE = 4


class Profile:
    """The faulty cells of an SRAM chip as a function of its supply voltage.

    Every top-level key of the file's ``meta`` is an attribute of the same
    name (``p.vdd_nominal_v``, ``p.arrays``, ``p.energy``, ...).

    Parameters
    ----------
    meta : dict or ProfileMeta
        The ``meta`` block (validated here).
    cells : CellTable, optional
        The faulty cells; required for ``kind == "cells"``, refused for
        ``kind == "generated"`` (whose chip 0 is drawn and checked against
        ``meta.generator.fingerprint``, or fingerprinted when that is ``None``).

    Raises
    ------
    ProfileError
        If a field is malformed, a cell is out of bounds, duplicated, of an
        unknown kind, or the drawn chip does not match its fingerprint.
    """

    def __init__(self, meta, cells=None):
        meta = meta if isinstance(meta, ProfileMeta) else ProfileMeta.from_dict(meta)
        self._chips = {}
        self._sorted_v_fail = {}
        if meta.kind == "cells":
            if cells is None:
                raise ProfileError(f"profile '{meta.name}' is of kind 'cells' but lists no cells; "
                                   "expected cell_index, v_fail_v and fault_kind arrays")
            self._cells = _checked_cells(cells, meta)
        else:
            if cells is not None:
                raise ProfileError(f"profile '{meta.name}' is of kind 'generated' but lists "
                                   "cells; a generated profile stores only its model and seed")
            meta = self._fingerprinted(meta)
            self._cells = None
        self._meta = meta

    def _fingerprinted(self, meta):
        # Not cached: a sweep reads chips through placements and sorted fail voltages,
        # and redrawing chip 0 takes tens of milliseconds against megabytes kept.
        chip0 = draw_chip(meta.generator, 0, meta.arrays, meta.rows, meta.cols,
                          meta.vdd_floor_v, meta.vdd_nominal_v)
        found = chip_fingerprint(chip0)
        del chip0
        expected = meta.generator.fingerprint
        if expected is None:
            return dataclasses.replace(
                meta, generator=dataclasses.replace(meta.generator, fingerprint=found))
        if found != expected:
            raise ProfileError(
                f"profile '{meta.name}': chip 0 drawn from meta.generator has fingerprint "
                f"{found[:16]}..., the file says {expected[:16]}...; the random stream changed "
                "(another numpy/scipy or accelsim version?): re-create the profile with "
                "`accelsim profile synth` using the command in its meta.source")
        return meta

    def __reduce__(self):
        # Drawn chips stay behind (a generated chip redraws and re-checks on arrival).
        return (Profile, (self._meta, self._cells))

    def __getattr__(self, name):
        if name in META_KEYS:
            return getattr(self._meta, name)
        raise AttributeError(f"'Profile' object has no attribute {name!r}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(META_KEYS))

    def __repr__(self):
        return (f"Profile(name={self.name!r}, kind={self.kind!r}, technology={self.technology!r}, "
                f"{self.arrays}x{self.rows}x{self.cols} cells, "
                f"{self.vdd_floor_v}-{self.vdd_nominal_v} V)")

    @property
    def meta(self):
        """The validated meta block (:class:`~accelsim.sram._meta.ProfileMeta`)."""
        return self._meta

    @property
    def cells_per_array(self) -> int:
        """Cells (bits) per array: ``rows * cols``."""
        return self._meta.cells_per_array

    @property
    def n_cells(self) -> int:
        """Cells of the declared chip: ``arrays * rows * cols``."""
        return self._meta.n_cells

    def to_meta(self):
        """The JSON-ready ``meta`` dict, as :meth:`save` writes it."""
        return self._meta.to_dict()

    def save(self, path: str | os.PathLike) -> None:
        """Write the profile to ``path`` (a ``.npz`` file, version 1)."""
        write_profile_file(path, self.to_meta(), self._cells)

    def fingerprint(self) -> str:
        """sha256 (hex) of the file-level content: the meta and any listed cells."""
        digest = hashlib.sha256(json.dumps(self.to_meta(), sort_keys=True).encode())
        if self._cells is not None:
            digest.update(chip_fingerprint(self._cells).encode())
        return digest.hexdigest()

    def check_voltage(self, vdd_v: float | np.ndarray) -> None:
        """Raise ``ProfileError`` unless every ``vdd_v`` is in ``[vdd_floor_v, vdd_nominal_v]``."""
        volts = float_array("vdd_v", vdd_v, error=ProfileError, finite=False)
        outside = ~((volts >= self.vdd_floor_v) & (volts <= self.vdd_nominal_v))
        if np.any(outside):
            first = volts[outside].flat[0].item()
            raise ProfileError(
                f"vdd_v = {first!r} V is outside profile '{self.name}', which "
                f"describes {self.vdd_floor_v} V (floor) to {self.vdd_nominal_v} V (nominal); "
                "choose a voltage in that range")

    def _floor_flips(self, chip, n_arrays):
        """Flat indices of the cells failing at the floor, for a uniform-model chip (else None).

        Every cell such a chip draws fails at the floor and flips, so a read
        there needs their positions only (see ``SimulatedMemory.read_once``).
        """
        if self._cells is not None or not isinstance(self.generator.model, UniformModel):
            return None
        return draw_floor_flips(self.generator, chip, n_arrays, self.rows, self.cols)

    def chip_cells(self, chip=0, n_arrays=None, vdd_lowest_v=None, *, cache=True):
        """Faulty cells (at the floor) of one chip over arrays ``[0, n_arrays)``.

        Parameters
        ----------
        chip : int
            Chip number; a generated profile draws chip ``chip`` from its seed,
            a measured profile has one chip and ignores it.
        n_arrays : int, optional
            Arrays to cover (default: the declared ``arrays``). A generated
            chip extends consistently beyond them; a measured one cannot.
        vdd_lowest_v : float, optional
            Only the cells faulty at or above this voltage (default: the
            floor, every drawn cell); the same cells as the full draw.
        cache : bool, default True
            Keep the drawn chip for the next call (the last few chips); a
            caller placing a chip of 10^8 cells once passes False.

        Returns
        -------
        CellTable
            Cells sorted by flat index.
        """
        chip = require_int("chip", chip, minimum=0)
        n_arrays = self.arrays if n_arrays is None else require_int("n_arrays", n_arrays,
                                                                    minimum=1)
        if self._cells is not None:
            return self._measured_cells(n_arrays)
        if vdd_lowest_v is not None and vdd_lowest_v <= self.vdd_floor_v:
            vdd_lowest_v = None
        key = (chip, n_arrays) if vdd_lowest_v is None else (chip, n_arrays, float(vdd_lowest_v))
        if not cache and key not in self._chips:
            return draw_chip(self.generator, chip, n_arrays, self.rows, self.cols, self.vdd_floor_v,
                             self.vdd_nominal_v, vdd_lowest_v)
        if key not in self._chips:
            if len(self._chips) >= _CHIP_CACHE_SIZE:
                self._chips.pop(next(iter(self._chips)))
            self._chips[key] = draw_chip(self.generator, chip, n_arrays, self.rows, self.cols,
                                         self.vdd_floor_v, self.vdd_nominal_v, vdd_lowest_v)
        return self._chips[key]

    def _measured_cells(self, n_arrays):
        if n_arrays > self.arrays:
            raise ProfileError(f"n_arrays = {n_arrays} exceeds the {self.arrays} arrays of "
                               f"measured profile '{self.name}'; place and tile a larger "
                               "footprint with SimulatedMemory")
        end = np.searchsorted(self._cells.cell_index, n_arrays * self.cells_per_array)
        if end == len(self._cells):
            return self._cells
        return CellTable(self._cells.cell_index[:end], self._cells.v_fail_v[:end],
                         self._cells.fault_kind[:end], self._cells.p_error[:end])

    def faulty_cells(self, vdd_v: float | np.ndarray, chip: int = 0) -> int | np.ndarray:
        """Number of cells of chip ``chip`` (declared arrays) faulty at ``vdd_v``.

        Returns an ``int`` for a scalar ``vdd_v``, else an int64 array of its shape.
        """
        self.check_voltage(vdd_v)
        chip = require_int("chip", chip, minimum=0)
        volts = np.asarray(vdd_v, dtype=np.float64)
        # A measured profile has a single chip.
        v_fail_sorted = self._sorted_fail_voltages(chip if self._cells is None else 0)
        counts = len(v_fail_sorted) - np.searchsorted(v_fail_sorted, volts, side="left")
        return int(counts) if counts.ndim == 0 else counts.astype(np.int64)

    def _sorted_fail_voltages(self, chip):
        if chip not in self._sorted_v_fail:
            if len(self._sorted_v_fail) >= _CHIP_CACHE_SIZE:
                self._sorted_v_fail.pop(next(iter(self._sorted_v_fail)))
            if self._cells is not None:
                cells = self.chip_cells(chip)
            else:  # a chip drawn for its voltages alone is not kept
                cells = self._chips.get((chip, self.arrays))
                if cells is None:
                    cells = draw_chip(self.generator, chip, self.arrays, self.rows, self.cols,
                                      self.vdd_floor_v, self.vdd_nominal_v)
            self._sorted_v_fail[chip] = np.sort(cells.v_fail_v)
        return self._sorted_v_fail[chip]

    def ber(self, vdd_v: float | np.ndarray, chip: int | None = None) -> float | np.ndarray:
        """Bit error rate at ``vdd_v``: the fraction of cells faulty there.

        Parameters
        ----------
        vdd_v : float or array_like
            Supply voltage(s) in volts, within ``[vdd_floor_v, vdd_nominal_v]``.
        chip : int, optional
            ``None`` (default) for the population curve (analytic for a
            generated profile, counted for a measured one); ``k`` to count
            drawn chip ``k`` over its declared arrays.

        Returns
        -------
        float or ndarray
            A float for a scalar ``vdd_v``, else an array of its shape.
        """
        self.check_voltage(vdd_v)
        if chip is None and self._cells is None:
            rate = self.generator.model.population_ber(vdd_v, self.vdd_floor_v,
                                                       self.vdd_nominal_v)
        else:
            rate = np.asarray(self.faulty_cells(vdd_v, 0 if chip is None else chip)) / self.n_cells
        return float(rate) if np.ndim(rate) == 0 else np.asarray(rate, dtype=np.float64)

    def voltage_for_ber(self, ber: float) -> float:
        """Highest voltage at which the population BER reaches ``ber``.

        Parameters
        ----------
        ber : float or array_like
            Bit error rate(s) in ``[ber(vdd_nominal_v), ber(vdd_floor_v)]``.

        Returns
        -------
        float or ndarray
            Voltage(s) in volts, a float for a scalar ``ber``.

        Raises
        ------
        ProfileError
            If a rate is outside what the profile describes.
        """
        rates = float_array("ber", ber, error=ProfileError, finite=False)
        low, high = self.ber(self.vdd_nominal_v), self.ber(self.vdd_floor_v)
        outside = ~((rates >= low) & (rates <= high) & (rates > 0))
        if np.any(outside):
            first = rates[outside].flat[0].item()
            raise ProfileError(
                f"ber = {first!r} is outside profile '{self.name}', whose BER "
                f"runs from {low:.3g} at {self.vdd_nominal_v} V to {high:.3g} at the floor "
                f"{self.vdd_floor_v} V; ask for a positive rate in that range")
        if self._cells is None:
            volts = self.generator.model.voltage_for_ber(rates, self.vdd_floor_v,
                                                         self.vdd_nominal_v)
        else:
            volts = self._counted_voltage_for_ber(rates)
        volts = np.clip(volts, self.vdd_floor_v, self.vdd_nominal_v)
        return float(volts) if volts.ndim == 0 else volts

    def _counted_voltage_for_ber(self, rates):
        v_fail_descending = self._sorted_fail_voltages(0)[::-1]
        # ber(V) >= p needs ceil(p * n) faulty cells; the relative slack keeps
        # p = k / n from rounding up to k + 1.
        needed = np.ceil(rates * self.n_cells * (1.0 - 1e-12)).astype(np.int64)
        return v_fail_descending[np.maximum(needed, 1) - 1]


def load_profile(name_or_path: str | os.PathLike) -> Profile:
    """Load a profile by path, or by name from the profile folders.

    Names are looked up as ``NAME.npz`` in the folders of
    ``$ACCELSIM_PROFILES`` (``os.pathsep``-separated), then ``./profiles``,
    then the profiles shipped with accelsim (see :func:`list_profiles`).

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A profile name such as ``"14nm"`` or the path of a ``.npz`` file.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        If no such profile exists (the message lists the available names) or
        the file is malformed.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ProfileError(f"profile = {name_or_path!r} is not a name or a path; pass a profile "
                           "name such as '14nm' or the path of a .npz file")
    with resolve_profile(name_or_path) as (path, label):
        meta, cells = read_profile_file(path, label)
    return Profile(meta, cells)


def _checked_cells(cells, meta):
    """Validate the cells of a measured profile; return them sorted by index."""
    if not isinstance(cells, CellTable):
        raise ProfileError(f"cells = {cells!r} is not a CellTable; build one from cell_index, "
                           "v_fail_v, fault_kind and p_error arrays")
    order = np.argsort(cells.cell_index, kind="stable")
    index = cells.cell_index[order]
    where = f"profile '{meta.name}'"
    _check_all(where, "cell_index", index, (index >= 0) & (index < meta.n_cells),
               f"a flat index in [0, {meta.n_cells}) = arrays x rows x cols")
    duplicate = index[1:] == index[:-1]
    if np.any(duplicate):
        raise ProfileError(f"{where}: cell_index {index[1:][duplicate][0]} is listed more than "
                           "once; expected each cell at most once")
    v_fail_v, kind, p_error = cells.v_fail_v[order], cells.fault_kind[order], cells.p_error[order]
    _check_all(where, "v_fail_v", v_fail_v, np.isfinite(v_fail_v) & (v_fail_v >= meta.vdd_floor_v),
               f"a finite voltage >= vdd_floor_v = {meta.vdd_floor_v} V (cells failing only "
               "below the floor are not listed)")
    _check_all(where, "fault_kind", kind, kind <= FLIP,
               "0 (stuck-at-0), 1 (stuck-at-1) or 2 (flip)")
    _check_all(where, "p_error", p_error, (p_error > 0) & (p_error <= 1),
               "a probability in (0, 1]")
    return CellTable(index, v_fail_v, kind, p_error)


def _check_all(where, field, values, valid, expected):
    if not np.all(valid):
        bad = np.flatnonzero(~valid)[0]
        raise ProfileError(f"{where}: {field} holds {values[bad].item()!r} "
                           f"({np.count_nonzero(~valid)} invalid entries); expected {expected}")

