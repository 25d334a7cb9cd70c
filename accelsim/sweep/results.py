"""Sweep results as plain data: the point table, the summary, the operating points.

``sweep.csv`` has one row per (model, chip, voltage), sorted by model, chip,
then voltage from high to low; ``summary.csv`` one row per (model, voltage)
with means and 95% confidence intervals over chips and the energy-accuracy
Pareto front. Numbers are written in their shortest round-tripping form, so
the same results give the same bytes.
"""

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "POINT_COLUMNS", "SUMMARY_COLUMNS", "sorted_rows", "write_csv", "read_csv",
    "summarize", "pareto_mask", "OperatingPoint", "operating_points", "ATTACK_COLUMNS",
]

POINT_COLUMNS = (
    "model", "method", "bits", "quant_scheme", "profile", "chip", "vdd_v", "vdd_rel",
    "profile_ber", "faulty_cells", "flipped_bits", "model_ber", "accuracy", "error",
    "robust_error", "energy_j", "weight_mem_energy_j", "energy_rel", "energy_rel_vmin",
    "clean_accuracy", "tiled",
)

SUMMARY_COLUMNS = (
    "model", "method", "bits", "quant_scheme", "profile", "vdd_v", "vdd_rel", "chips",
    "profile_ber", "model_ber", "accuracy", "accuracy_ci95_low", "accuracy_ci95_high",
    "robust_error", "robust_error_ci95_low", "robust_error_ci95_high", "energy_j",
    "weight_mem_energy_j", "energy_rel", "energy_rel_vmin", "clean_accuracy", "pareto",
)

# Appended to both tables by a sweep with an attack (``--attack bfa:K``).
ATTACK_COLUMNS = ("attack", "attack_flips", "attack_accuracy", "attack_robust_error")


def sorted_rows(rows):
    """Rows ordered by model, chip, then voltage from high to low."""
    return sorted(rows, key=lambda r: (str(r["model"]), int(r["chip"]), -float(r["vdd_v"])))


def _format(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def write_csv(path, rows, columns):
    """Write ``rows`` (dicts) with ``columns`` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format(row[c]) for c in columns])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)


def read_csv(path):
    """Rows of a results CSV as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _mean_ci(values):
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def pareto_mask(energy, accuracy):
    """True for points no other point beats (energy no higher, accuracy no lower, one strictly)."""
    energy, accuracy = np.asarray(energy, float), np.asarray(accuracy, float)
    mask = np.ones(len(energy), dtype=bool)
    for i in range(len(energy)):
        better = (energy <= energy[i]) & (accuracy >= accuracy[i]) & (
            (energy < energy[i]) | (accuracy > accuracy[i]))
        mask[i] = not better.any()
    return mask


def summarize(rows):
    """Per (model, voltage) means and 95% CIs over chips, with the Pareto front on ``energy_j``."""
    groups = {}
    for row in sorted_rows(rows):
        groups.setdefault((row["model"], row["vdd_v"]), []).append(row)
    summary = []
    for (model, vdd_v), group in groups.items():
        first = group[0]
        acc = _mean_ci([r["accuracy"] for r in group])
        rerr = _mean_ci([r["robust_error"] for r in group])
        summary.append({
            **{c: first[c] for c in ("model", "method", "bits", "quant_scheme", "profile", "vdd_v",
                                     "vdd_rel", "energy_j", "weight_mem_energy_j", "energy_rel",
                                     "energy_rel_vmin", "clean_accuracy")},
            "chips": len(group),
            "profile_ber": float(np.mean([r["profile_ber"] for r in group])),
            "model_ber": float(np.mean([r["model_ber"] for r in group])),
            "accuracy": acc[0], "accuracy_ci95_low": acc[1], "accuracy_ci95_high": acc[2],
            "robust_error": rerr[0], "robust_error_ci95_low": rerr[1],
            "robust_error_ci95_high": rerr[2],
            **_attack_means(group),
        })
    front = pareto_mask([s["energy_j"] for s in summary], [s["accuracy"] for s in summary])
    for s, on_front in zip(summary, front):
        s["pareto"] = bool(on_front)
    return summary


def _attack_means(group):
    """Means over chips of the attack columns (none when the sweep ran no attack)."""
    if "attack" not in group[0]:
        return {}
    return {"attack": group[0]["attack"],
            **{c: float(np.mean([float(r[c]) for r in group])) for c in ATTACK_COLUMNS[1:]}}


@dataclass(frozen=True)
class OperatingPoint:
    """The lowest-energy voltage of one model within the accuracy tolerance.

    ``vdd_v`` is None when even nominal voltage misses the tolerance.
    Savings are fractions (0.2 = 20% less energy).
    """

    model: str
    vdd_v: float | None
    energy_saving: float
    weight_mem_saving_vs_vmin: float
    accuracy: float
    accuracy_change_pp: float
    reference_accuracy: float


def operating_points(summary, models, tolerance_pp=1.0):
    """Per model, the lowest-energy point whose mean accuracy is within tolerance.

    Parameters
    ----------
    summary : list of dict
        From :func:`summarize`.
    models : sequence of str
        Models in the order to report them; the first one's clean quantized
        accuracy is the reference.
    tolerance_pp : float
        Allowed accuracy loss in percentage points.
    """
    reference = next(float(s["clean_accuracy"]) for s in summary if s["model"] == models[0])
    points = []
    for model in models:
        rows = [s for s in summary if s["model"] == model]
        ok = [s for s in rows if (reference - float(s["accuracy"])) * 100 <= tolerance_pp + 1e-9]
        if not ok:
            best = max(rows, key=lambda s: float(s["vdd_v"]))
            points.append(OperatingPoint(model, None, 0.0, 0.0, float(best["accuracy"]),
                                         (float(best["accuracy"]) - reference) * 100, reference))
            continue
        best = min(ok, key=lambda s: (float(s["energy_j"]), float(s["vdd_v"])))
        points.append(OperatingPoint(
            model, float(best["vdd_v"]), 1 - float(best["energy_rel"]),
            1 - float(best["energy_rel_vmin"]), float(best["accuracy"]),
            (float(best["accuracy"]) - reference) * 100, reference))
    return points
