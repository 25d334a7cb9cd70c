"""Assembling a measured profile and its import summary from parsed observations.

The importers parse their formats into :class:`Observations` (the faulty
cells read at each measured voltage); this module places fail voltages,
writes the profile meta of ``DESIGN.md`` and sums up what was found.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from accelsim.sram._placement import GaussianFit, place_fail_voltages
from accelsim.sram._readers import ProfileImportError
from accelsim.sram.cells import CellTable
from accelsim.sram.energy import EnergyModel
from accelsim.sram.profile import Profile

__all__ = ["ImportSummary", "Observations", "profile_from_observations", "profile_meta",
           "checked_nominal", "arrays_without_fault"]


@dataclass(frozen=True)
class ImportSummary:
    """What an import found, for the CLI to print and tests to check.

    Attributes
    ----------
    format : str
        ``fpga-hex``, ``stuck-at-maps`` or ``cells-csv``.
    cells : int
        Cells in the chip (``arrays x rows x cols``).
    arrays, rows, cols : int
        Geometry of the profile.
    voltages_v : tuple of float
        Measured supplies, ascending (empty for ``cells-csv``).
    seen_faulty : tuple of int
        Cells read wrong at each measured voltage.
    faulty : tuple of int
        Cells the profile counts as faulty at each measured voltage: seen
        faulty there or at any higher measured voltage.
    fit : GaussianFit or None
        Gaussian fitted to the measured BER, used to place fail voltages.
    non_nested : int
        Cells seen faulty at some voltage but working at a lower one; the
        profile keeps them as intermittent (``p_error < 1``).
    arrays_without_fault_at_floor : int
        Arrays with no faulty cell at the lowest voltage of the profile.
    vdd_floor_v, vdd_min_v : float
        Floor and declared Vmin of the profile.
    """

    format: str
    cells: int
    arrays: int
    rows: int
    cols: int
    voltages_v: tuple
    seen_faulty: tuple
    faulty: tuple
    fit: GaussianFit | None
    non_nested: int
    arrays_without_fault_at_floor: int
    vdd_floor_v: float
    vdd_min_v: float


@dataclass(frozen=True, eq=False)
class Observations:
    """Faulty cells read at each measured voltage (parsed, not yet placed)."""

    voltages_v: np.ndarray  # ascending
    faulty_index: list  # per voltage: ascending flat indices
    fault_kind: list  # per voltage: kind of each of those cells
    arrays: int
    rows: int
    cols: int


def profile_from_observations(fmt, obs, raws, *, vdd_nominal_v, name, step_v, seed,
                              technology, temperature_k, command):
    """Place the observed cells' fail voltages; return ``(Profile, ImportSummary)``.

    The floor is the lowest measured voltage; Vmin the lowest measured
    voltage at and above which no cell was seen faulty, else the highest
    measured voltage plus one step (``step_v``, default the spacing of the two
    highest), never above nominal.
    """
    vdd_nominal_v = checked_nominal(vdd_nominal_v)
    voltages_v = obs.voltages_v
    above = np.flatnonzero(voltages_v > vdd_nominal_v)
    if above.size:
        raise ProfileImportError(
            f"measured voltage {voltages_v[above[0]]:g} V is above the nominal supply "
            f"{vdd_nominal_v:g} V; pass the chip's nominal voltage (--vdd-nominal) or check "
            "the file names")
    top_v = min(round(float(voltages_v[-1]) + _step(voltages_v, step_v), 9), vdd_nominal_v)
    cell_index, seen, kind = _observation_matrix(obs)
    n_cells = obs.arrays * obs.rows * obs.cols
    placement = place_fail_voltages(voltages_v, seen, n_cells, top_v, seed=seed)
    cells = CellTable(cell_index, placement.v_fail_v, kind, placement.p_error)
    fault_free = np.flatnonzero(placement.faulty == 0)
    summary = ImportSummary(
        format=fmt, cells=n_cells, arrays=obs.arrays, rows=obs.rows, cols=obs.cols,
        voltages_v=tuple(voltages_v.tolist()),
        seen_faulty=tuple(int(index.size) for index in obs.faulty_index),
        faulty=tuple(placement.faulty.tolist()), fit=placement.fit,
        non_nested=placement.non_nested,
        arrays_without_fault_at_floor=arrays_without_fault(
            obs.faulty_index[0], obs.arrays, obs.rows * obs.cols),
        vdd_floor_v=float(voltages_v[0]),
        vdd_min_v=float(voltages_v[fault_free[0]]) if fault_free.size else top_v)
    meta = profile_meta(summary, raws, name=name, vdd_nominal_v=vdd_nominal_v,
                        technology=technology, temperature_k=temperature_k, command=command,
                        placement=_placement_record(placement.fit, top_v, seed),
                        notes=_placement_notes(placement.fit, top_v))
    return Profile(meta, cells), summary


def _observation_matrix(obs):
    """Every cell seen faulty, which voltages saw it, and its kind at the highest of them.

    A cell stuck at different values at different voltages keeps the kind it
    shows where it first fails, at its highest faulty voltage.
    """
    cell_index = np.unique(np.concatenate(obs.faulty_index))
    seen = np.zeros((cell_index.size, obs.voltages_v.size), dtype=bool)
    kind_seen = np.zeros(seen.shape, dtype=np.uint8)
    for k, (index, kinds) in enumerate(zip(obs.faulty_index, obs.fault_kind, strict=True)):
        rows = np.searchsorted(cell_index, index)
        seen[rows, k] = True
        kind_seen[rows, k] = kinds
    highest = obs.voltages_v.size - 1 - np.argmax(seen[:, ::-1], axis=1)
    return cell_index, seen, kind_seen[np.arange(cell_index.size), highest]


def profile_meta(summary, raws, *, name, vdd_nominal_v, technology, temperature_k, command,
                 placement, notes):
    """The ``meta`` dict of ``DESIGN.md`` (profile file v1) for an imported chip.

    ``source`` records that the chip was measured, the format, each file's
    name and sha256, the command, and (for dumps and maps) how fail voltages
    were placed.
    """
    files = [{"name": raw.path.name, "sha256": raw.sha256} for raw in raws]
    source = {"measured": True, "format": summary.format, "files": files, "command": command}
    if placement is not None:
        source["placement"] = placement
    return {
        "schema_version": 1,
        "name": name,
        "description": (f"Measured chip imported from {len(raws)} {summary.format} file(s): "
                        f"{summary.arrays} x {summary.rows} x {summary.cols} cells"),
        "technology": technology,
        "temperature_k": temperature_k,
        "arrays": summary.arrays,
        "rows": summary.rows,
        "cols": summary.cols,
        "vdd_nominal_v": vdd_nominal_v,
        "vdd_min_v": summary.vdd_min_v,
        "vdd_floor_v": summary.vdd_floor_v,
        "energy": EnergyModel().to_dict(),
        "source": source,
        "kind": "cells",
        "notes": notes,
    }


def _placement_record(fit, top_v, seed):
    if fit is None:
        return {"method": "uniform", "top_v": top_v, "seed": seed}
    return {"method": "gaussian-quantiles", "mu_v": fit.mu_v, "sigma_v": fit.sigma_v,
            "top_v": top_v, "seed": seed}


def _placement_notes(fit, top_v):
    how = ("cells spread uniformly inside each interval (fewer than two measured voltages "
           "with faults: no fit)" if fit is None else
           f"cells at evenly spaced quantiles of the Gaussian N({fit.mu_v:.4f} V, "
           f"{fit.sigma_v:.4f} V) fitted to the measured BER, restricted to each interval")
    return ("A cell last seen faulty at a measured voltage fails between it and the next "
            f"measured voltage (below {top_v:g} V for the highest): {how}. Counts at measured "
            "voltages are exact; cells not seen faulty at every lower voltage have p_error < 1.")


def _step(voltages_v, step_v):
    if step_v is not None:
        if (isinstance(step_v, bool) or not isinstance(step_v, numbers.Real)
                or not np.isfinite(step_v) or step_v <= 0):
            raise ProfileImportError(f"step_v = {step_v!r}; expected a voltage step > 0 in volts")
        return float(step_v)
    if voltages_v.size < 2:
        raise ProfileImportError(
            f"a single measured voltage ({voltages_v[0]:g} V) gives no step to bound the fail "
            "voltages above it; pass the measurement step (step_v, --step-v) or more voltages")
    return float(voltages_v[-1] - voltages_v[-2])


def checked_nominal(vdd_nominal_v):
    if (isinstance(vdd_nominal_v, bool) or not isinstance(vdd_nominal_v, numbers.Real)
            or not np.isfinite(vdd_nominal_v) or vdd_nominal_v <= 0):
        raise ProfileImportError(
            f"vdd_nominal_v = {vdd_nominal_v!r}; expected a nominal supply > 0 in volts")
    return float(vdd_nominal_v)


def arrays_without_fault(cell_index, arrays, cells_per_array):
    return int(arrays - np.unique(cell_index // cells_per_array).size)
