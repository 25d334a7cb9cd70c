"""Warnings about a finished sweep: results that are valid but easy to misread.

Each warning is one line of plain text; the CLI prints them on stderr and the
report lists them. Library code never prints.
"""

import json
from pathlib import Path

from accelsim.sweep.results import operating_points, read_csv

__all__ = ["sweep_warnings", "VMIN_BER_LIMIT", "MIN_TOLERANCE_IMAGES"]

# A declared Vmin is "the voltage below which the chip is faulty": its BER should be negligible.
VMIN_BER_LIMIT = 1e-6
# Below this many images inside the tolerance, the operating point moves with one or two images.
MIN_TOLERANCE_IMAGES = 10


def _profile_warning(name):
    from accelsim.sram import ProfileError, load_profile

    try:
        profile = load_profile(name)
    except (ProfileError, OSError):
        return None, []
    ber = float(profile.ber(profile.vdd_min_v))
    if ber > VMIN_BER_LIMIT:
        return profile, [f"profile {profile.name} declares Vmin {profile.vdd_min_v:g} V but its fault model "
                         f"gives a faulty-cell rate of {ber:.2g} there (> {VMIN_BER_LIMIT:g}); the declared Vmin "
                         "does not match the cells (set --vdd-min / --mu-v together when synthesising)"]
    return profile, []


def sweep_warnings(directory, tolerance_pp=1.0, energy_ref=None):
    """The warnings of the sweep in ``directory`` (its sweep.csv, summary.csv and sweep.json).

    Returns
    -------
    list of str
        Tiled models, floor-limited operating points, a declared Vmin the
        fault model contradicts, a tolerance of fewer than
        :data:`MIN_TOLERANCE_IMAGES` test images.
    """
    directory = Path(directory)
    record = json.loads((directory / "sweep.json").read_text()) if (directory / "sweep.json").exists() else {}
    rows = read_csv(directory / "sweep.csv")
    summary = read_csv(directory / "summary.csv")
    warnings = []
    labels = [m for m in record.get("labels", []) if any(s["model"] == m for s in summary)] or list(
        dict.fromkeys(s["model"] for s in summary))
    tiled = sorted({r["model"] for r in rows if r["tiled"] == "true"})
    for model in tiled:
        warnings.append(f"model {model} needs more cells than the measured chip has: its fault map repeats "
                        "(tiled), so faults are correlated across the model's copies of the map")
    profile, vmin = _profile_warning(record.get("spec", {}).get("profile", summary[0]["profile"]))
    warnings += vmin
    lowest = min(float(s["vdd_v"]) for s in summary)
    points = operating_points(summary, labels, tolerance_pp, energy_ref)  # none for a loss or perplexity sweep
    for point in points:
        if point.vdd_v is not None and point.vdd_v <= lowest:
            at_floor = profile is not None and abs(point.vdd_v - profile.vdd_floor_v) < 1e-9
            where = "the profile's floor" if at_floor else "the lowest swept voltage"
            warnings.append(f"operating point of {point.model} is floor-limited: {point.vdd_v:g} V is {where}, "
                            "so a lower voltage might still be within tolerance"
                            + ("" if at_floor else " (sweep lower --voltages)"))
    n_images = record.get("n_images")
    if n_images and points:
        images = tolerance_pp / 100 * n_images
        if images < MIN_TOLERANCE_IMAGES:
            warnings.append(f"the tolerance of {tolerance_pp:g} pp is {images:.3g} of {n_images} test images "
                            f"(fewer than {MIN_TOLERANCE_IMAGES}): the operating point moves with a few images; "
                            "evaluate more images or widen --tolerance")
    return warnings
