"""The text of ``accelsim profile info``: everything a profile says, on one screen."""

import json

import numpy as np

from accelsim.sram import FLIP, SA0, SA1

__all__ = ["describe_profile", "report_voltages"]

# Voltages of the BER table between Vmin and the floor (plus nominal and Vmin).
_TABLE_STEPS = 8


def report_voltages(profile):
    """Nominal, Vmin, then evenly spaced voltages down to the floor, descending, unique."""
    steps = np.linspace(profile.vdd_min_v, profile.vdd_floor_v, _TABLE_STEPS)
    volts = np.concatenate([[profile.vdd_nominal_v], steps])
    return np.unique(np.round(volts, 6))[::-1]


def describe_profile(profile, chip=0):
    """Geometry, voltages, energy, provenance, faulty-cell counts and a BER table.

    Parameters
    ----------
    profile : Profile
        The profile to describe.
    chip : int
        The drawn chip whose cells are counted.

    Returns
    -------
    str
    """
    lines = [f"profile {profile.name} ({profile.kind}, {profile.technology})",
             f"  description  {profile.description}",
             f"  geometry     {profile.arrays} arrays x {profile.rows} rows x {profile.cols} cols"
             f" = {profile.n_cells:,} cells ({profile.n_cells / 8 / 1024:,.1f} KiB)",
             f"  voltages     nominal {profile.vdd_nominal_v:g} V, Vmin {profile.vdd_min_v:g} V, "
             f"floor {profile.vdd_floor_v:g} V",
             f"  temperature  {profile.temperature_k:g} K",
             "  energy       " + _energy_text(profile.energy),
             "  source       " + _json_text(profile.source)]
    if profile.generator is not None:
        generator = profile.generator.to_dict()
        lines.append(f"  generator    {generator['model']} {_json_text(generator['params'])}, "
                     f"seed {generator['seed']}, fingerprint {generator['fingerprint']}")
    if profile.notes is not None:
        lines.append("  notes        " + _json_text(profile.notes))
    cells = profile.chip_cells(chip)
    lines.append(f"  chip {chip}       " + _cells_text(cells, profile.vdd_floor_v))
    lines += ["", _ber_table(profile, chip)]
    return "\n".join(lines)


def _energy_text(energy):
    return (f"read {energy.read_energy_per_bit_j * 1e15:g} fJ/bit, write "
            f"{energy.write_energy_per_bit_j * 1e15:g} fJ/bit, leakage "
            f"{energy.leakage_power_per_bit_w * 1e12:g} pW/bit (at nominal), leakage k "
            f"{energy.leakage_k_per_v:g} /V")


def _json_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def _cells_text(cells, vdd_floor_v):
    kinds = np.bincount(cells.fault_kind, minlength=3)
    intermittent = int(np.count_nonzero(cells.p_error < 1.0))
    return (f"{len(cells):,} cells faulty at the floor {vdd_floor_v:g} V: stuck-at-0 "
            f"{kinds[SA0]:,}, stuck-at-1 {kinds[SA1]:,}, flip {kinds[FLIP]:,}; "
            f"intermittent {intermittent:,}")


def _ber_table(profile, chip):
    volts = report_voltages(profile)
    population = profile.ber(volts)
    counted = profile.ber(volts, chip=chip)
    faulty = profile.faulty_cells(volts, chip=chip)
    rows = [f"  {'V':>8}  {'V/Vmin':>7}  {'BER population':>14}  {f'BER chip {chip}':>12}  "
            f"{'faulty cells':>12}"]
    for v, p, c, n in zip(volts, population, counted, faulty, strict=True):
        rows.append(f"  {v:8.4f}  {v / profile.vdd_min_v:7.3f}  {p:14.3e}  {c:12.3e}  {n:12,d}")
    return "\n".join(rows)
