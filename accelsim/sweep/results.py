"""Sweep results as plain data: the point table, the summary, the operating points.

``sweep.csv`` has one row per (model, chip, voltage), sorted by model, chip,
then voltage from high to low; ``summary.csv`` one row per (model, voltage)
with means and 95% confidence intervals over chips (Student t, clipped to
[0, 1]) and the energy-accuracy
Pareto front. Numbers are written in their shortest round-tripping form, so
the same results give the same bytes.

A text cell that starts with a formula character (``=``, ``+``, ``-``, ``@``,
tab or carriage return) is written with a leading ``'`` so a spreadsheet
shows it instead of evaluating it; :func:`read_csv` strips that quote again.
Numbers are never prefixed (``-0.5`` stays a number).
"""

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from accelsim._safeio import atomic_write

__all__ = [
    "POINT_COLUMNS", "SUMMARY_COLUMNS", "sorted_rows", "write_csv", "read_csv",
    "summarize", "pareto_mask", "OperatingPoint", "operating_points", "wilson_interval",
    "chip_within_tolerance", "ADAPTIVE_COLUMNS", "ATTACK_COLUMNS", "ACTIVATION_COLUMNS",
]

POINT_COLUMNS = (
    "model", "method", "bits", "quant_scheme", "profile", "chip", "vdd_v", "vdd_rel",
    "profile_ber", "faulty_cells", "flipped_bits", "model_ber", "accuracy", "error",
    "robust_error", "energy_j", "weight_mem_energy_j", "energy_rel", "energy_rel_vmin",
    "clean_accuracy", "tiled",
    # issue 11: protection (appended)
    "protection", "corrected_words", "detected_words", "miscorrected_words",
    "residual_flipped_bits", "bank_vdd_v",
    # issue 10: metrics (appended)
    "metric", "metric_value",
    # issue 13: images evaluated per point (appended)
    "n_images",
)
# Appended with --adaptive: the 95% half-width of ``accuracy`` (a fraction; 0 when exact).
ADAPTIVE_COLUMNS = ("accuracy_halfwidth",)

SUMMARY_COLUMNS = (
    "model", "method", "bits", "quant_scheme", "profile", "vdd_v", "vdd_rel", "chips",
    "profile_ber", "model_ber", "accuracy", "accuracy_ci95_low", "accuracy_ci95_high",
    "robust_error", "robust_error_ci95_low", "robust_error_ci95_high", "energy_j",
    "weight_mem_energy_j", "energy_rel", "energy_rel_vmin", "clean_accuracy", "pareto",
    # issue 11: chip yield (appended), and the protection of the row group
    "yield", "yield_ci95_low", "yield_ci95_high", "protection", "bank_vdd_v",
)

# Appended to both tables by a sweep with an attack (``--attack bfa:K``).
ATTACK_COLUMNS = ("attack", "attack_flips", "attack_accuracy", "attack_robust_error")

# Appended to both tables by a sweep with ``--activations``: the activation SRAM's supply
# (the last value of a --bank-voltages point; nominal at a uniform voltage).
ACTIVATION_COLUMNS = ("act_vdd_v",)


def sorted_rows(rows):
    """Rows ordered by model, protection (``none`` first), chip, then voltage from high to low."""
    return sorted(rows, key=lambda r: (str(r["model"]), _protection_order(r),
                                       str(r.get("bank_vdd_v", "")), int(r["chip"]),
                                       -float(r["vdd_v"])))


def _protection_order(row):
    protection = str(row.get("protection", "none"))
    return (protection != "none", protection)


def wilson_interval(successes, n, z=1.959963984540054):
    """Wilson score interval of a binomial proportion (95% by default).

    Chosen over the normal approximation, which collapses to a zero-width
    interval at 0 or n successes (the usual case for yield), and over
    Clopper-Pearson, which is conservative (coverage above 95%); Wilson's
    coverage is close to nominal already at 10-20 chips.

    Returns
    -------
    (low, high) : tuple of float
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # The ends are exact at 0 and n successes; rounding would leave ~1e-17 there.
    return (0.0 if successes == 0 else max(0.0, centre - half),
            1.0 if successes == n else min(1.0, centre + half))


def chip_within_tolerance(accuracy, reference, tolerance_pp):
    """Whether one chip's accuracy is within ``tolerance_pp`` points of ``reference``."""
    return (reference - float(accuracy)) * 100 <= tolerance_pp + 1e-9


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _format(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # A spreadsheet would evaluate it (CSV injection); the quote makes it plain text.
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unformat(text):
    return text[1:] if text.startswith("'") and text[1:2] and text[1] in _FORMULA_START else text


def write_csv(path, rows, columns):
    """Write ``rows`` (dicts) with ``columns`` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format(row[c]) for c in columns])
    atomic_write(path, buffer.getvalue())


def read_csv(path):
    """Rows of a results CSV as dicts of strings (the formula-guarding quote removed)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _unformat(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in csv.DictReader(f)]


def _mean_ci(values, low=0.0, high=1.0):
    """Mean and Student-t 95% interval over chips, clipped to ``[low, high]``.

    Accuracy and robust error are fractions: an unclipped t interval over two
    or three chips would run outside [0, 1].
    """
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    # The t quantile from scipy.special (imported with the memory model anyway), which
    # scipy.stats.t.ppf itself calls: importing scipy.stats would add 45 MB to a sweep's peak memory.
    from scipy.special import stdtrit

    half = float(stdtrit(len(values) - 1, 0.975) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, max(low, mean - half), min(high, mean + half)


def pareto_mask(energy, accuracy):
    """True for points no other point beats (energy no higher, accuracy no lower, one strictly)."""
    energy, accuracy = np.asarray(energy, float), np.asarray(accuracy, float)
    mask = np.ones(len(energy), dtype=bool)
    for i in range(len(energy)):
        better = (energy <= energy[i]) & (accuracy >= accuracy[i]) & (
            (energy < energy[i]) | (accuracy > accuracy[i]))
        mask[i] = not better.any()
    return mask


def summarize(rows, tolerance_pp=1.0, reference=None):
    """Per (model, protection, voltage) means and 95% CIs over chips, with the Pareto front on ``energy_j``.

    ``yield`` is the share of chips whose accuracy is within ``tolerance_pp``
    points of ``reference`` (default: the group's own clean accuracy), with
    its 95% Wilson interval (:func:`wilson_interval`).
    """
    groups = {}
    for row in sorted_rows(rows):
        groups.setdefault((row["model"], row.get("protection", "none"), row.get("bank_vdd_v", ""),
                           row["vdd_v"]), []).append(row)
    summary = []
    for (_model, protection, bank_vdd_v, _vdd_v), group in groups.items():
        first = group[0]
        acc = _mean_ci([r["accuracy"] for r in group])
        rerr = _mean_ci([r["robust_error"] for r in group])
        ref = float(first["clean_accuracy"]) if reference is None else float(reference)
        good = sum(chip_within_tolerance(r["accuracy"], ref, tolerance_pp) for r in group)
        low, high = wilson_interval(good, len(group))
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
            "yield": good / len(group), "yield_ci95_low": low, "yield_ci95_high": high,
            "protection": protection, "bank_vdd_v": bank_vdd_v,
            **({"act_vdd_v": first["act_vdd_v"]} if "act_vdd_v" in first else {}),
            **_attack_means(group),
        })
    front = pareto_mask([s["energy_j"] for s in summary], [s["accuracy"] for s in summary])
    for s, on_front in zip(summary, front, strict=True):
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
    energy_reference: str = ""
    protection: str = "none"
    chip_yield: float | None = None
    chip_yield_ci95_low: float | None = None


def _uniform(rows, protection=None):
    """Rows at one uniform voltage (no --bank-voltages vector), of ``protection`` when given."""
    return [s for s in rows if not s.get("bank_vdd_v")
            and (protection is None or s.get("protection", "none") == protection)]


def _nominal_energy(summary, model):
    rows = [s for s in summary if s["model"] == model]
    if not rows:
        from accelsim.sweep.spec import SweepError

        models = sorted({s["model"] for s in summary})
        raise SweepError(f"--energy-ref {model!r} is not a model of this sweep; expected one of {', '.join(models)}")
    # The reference is the model as it is, unprotected when that was swept, at its highest uniform voltage.
    protections = sorted({s.get("protection", "none") for s in rows}, key=lambda p: (p != "none", p))
    rows = _uniform(rows, protections[0]) or rows
    return float(max(rows, key=lambda s: float(s["vdd_v"]))["energy_j"])


def operating_points(summary, models, tolerance_pp=1.0, energy_ref=None, yield_target=None):
    """Per model and protection, the lowest-energy point whose mean accuracy is within tolerance.

    With ``yield_target`` the point must instead have the lower end of its
    95% yield interval (``yield_ci95_low``) at or above the target: the
    promise is then "at least this yield, with 95% confidence", which a
    handful of lucky chips cannot make (5 of 5 good chips have a point
    estimate of 100% but a lower end of 57%). The yield's tolerance is the
    one the summary was computed with.

    Parameters
    ----------
    summary : list of dict
        From :func:`summarize`.
    models : sequence of str
        Models in the order to report them; the first one's clean quantized
        accuracy is the reference.
    tolerance_pp : float
        Allowed accuracy loss in percentage points.
    energy_ref : str, optional
        The model whose energy at nominal voltage (its highest swept voltage)
        every saving is relative to; default the first model. One reference
        for all, so a 4-bit model's saving against an 8-bit one shows.
    yield_target : float, optional
        In (0, 1]: the lowest yield interval end the point must reach.

    Returns
    -------
    list of OperatingPoint
        Empty for a sweep without accuracies (a language model's ``loss`` or
        ``perplexity``): the tolerance is in accuracy points.
    """
    clean = next(s["clean_accuracy"] for s in summary if s["model"] == models[0])
    if clean in ("", None) or math.isnan(float(clean)):
        return []
    reference = float(clean)
    energy_ref = models[0] if energy_ref is None else energy_ref
    ref_energy = _nominal_energy(summary, energy_ref)
    points = []
    for model in models:
        protections = sorted({s.get("protection", "none") for s in summary if s["model"] == model},
                             key=lambda p: (p != "none", p))
        for protection in protections:
            # Uniform voltages only: a --bank-voltages point is a vector, not an operating voltage.
            rows = _uniform([s for s in summary if s["model"] == model], protection)
            if yield_target is None:
                ok = [s for s in rows if (reference - float(s["accuracy"])) * 100 <= tolerance_pp + 1e-9]
            else:
                ok = [s for s in rows if float(s["yield_ci95_low"]) >= yield_target - 1e-12]
            extra = {"energy_reference": energy_ref, "protection": protection}
            if not ok:
                best = max(rows, key=lambda s: float(s["vdd_v"]))
                points.append(OperatingPoint(model, None, 1 - float(best["energy_j"]) / ref_energy, 0.0,
                                             float(best["accuracy"]), (float(best["accuracy"]) - reference) * 100,
                                             reference, **extra, **_yield_of(best)))
                continue
            best = min(ok, key=lambda s: (float(s["energy_j"]), float(s["vdd_v"])))
            points.append(OperatingPoint(
                model, float(best["vdd_v"]), 1 - float(best["energy_j"]) / ref_energy,
                1 - float(best["energy_rel_vmin"]), float(best["accuracy"]),
                (float(best["accuracy"]) - reference) * 100, reference, **extra, **_yield_of(best)))
    return points


def _yield_of(summary_row):
    if summary_row.get("yield") in (None, ""):
        return {}
    return {"chip_yield": float(summary_row["yield"]),
            "chip_yield_ci95_low": float(summary_row["yield_ci95_low"])}
