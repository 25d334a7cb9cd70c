"""Figures, drawn with matplotlib's object API (``Figure``), never pyplot's global state.

Each ``plot_*`` function draws into a given ``Axes`` and returns it; each
``*_figure`` function builds a whole ``Figure`` that the caller saves
(``fig.savefig(path)``; the Agg canvas is used for raster files).
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from accelsim._errors import UserInputError
from accelsim._safeio import save_figure
from accelsim.sram import ProfileError

__all__ = [
    "PlotError", "plot_ber_voltage", "plot_fail_map", "profile_figure", "most_faulty_array", "SWEEP_FIGURES",
    "FORMATS", "energy_accuracy_figure", "accuracy_voltage_figure", "ber_voltage_figure", "error_ber_figure",
    "draw_sweep", "SweepContext", "sweep_context",
]


class PlotError(UserInputError):
    """Nothing to plot where the user pointed; the message says what is missing."""


def plot_ber_voltage(ax, profile, chips=(0,), n_points=200):
    """Bit error rate against supply voltage, on a log scale.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    profile : Profile
        The profile; its population curve is drawn, plus the counted BER of ``chips``.
    chips : sequence of int
        Drawn chips to count (a measured profile has one chip).
    n_points : int
        Voltages sampled between the floor and the nominal voltage.

    Returns
    -------
    matplotlib.axes.Axes
    """
    volts = np.linspace(profile.vdd_floor_v, profile.vdd_nominal_v, n_points)
    ax.plot(volts, _positive_or_nan(profile.ber(volts)), color="black", label="population")
    if profile.kind == "generated":
        for chip in chips:
            ax.step(volts, _positive_or_nan(profile.ber(volts, chip=chip)), where="post",
                    alpha=0.7, label=f"chip {chip}")
    ax.axvline(profile.vdd_min_v, color="grey", linestyle="--", label="Vmin")
    ax.set_yscale("log")
    # Below one faulty cell in ten chips the curve says nothing a chip can show.
    ax.set_ylim(bottom=0.1 / profile.n_cells)
    ax.set_xlabel("supply voltage (V)")
    ax.set_ylabel("faulty-cell rate (faulty cells / cells)")
    ax.set_title(f"{profile.name}: faulty-cell rate vs voltage")
    ax.legend(loc="upper right")
    return ax


def most_faulty_array(profile, chip=0):
    """The array of ``chip`` with the most cells faulty at the floor voltage (the first on a tie)."""
    cells = profile.chip_cells(chip)
    counts = np.bincount(cells.cell_index // profile.cells_per_array, minlength=profile.arrays)
    return int(np.argmax(counts))


def plot_fail_map(ax, profile, chip=0, array=None):
    """Map of the fail voltages of the cells of one array (blank: never fails).

    Cells are square. The colour scale runs from the floor to Vmin, so the
    cells that fail first (fail voltage near or above Vmin, drawn in the top
    colour) stand out; they are also ringed, since one cell is a pixel or less
    on a large array.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw (its figure receives a colour bar).
    profile : Profile
        The profile.
    chip : int
        Which chip to show.
    array : int, optional
        Which array; default the chip's most faulty one (:func:`most_faulty_array`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if array is None:
        array = most_faulty_array(profile, chip)
    if isinstance(array, bool) or not isinstance(array, int) or array < 0:
        raise ProfileError(f"array = {array!r} is not an array number; expected an integer "
                           f">= 0 (profile '{profile.name}' declares {profile.arrays} arrays)")
    cells = profile.chip_cells(chip, max(profile.arrays, array + 1))
    first = array * profile.cells_per_array
    lo, hi = np.searchsorted(cells.cell_index, [first, first + profile.cells_per_array])
    fail_map = np.full(profile.cells_per_array, np.nan)
    fail_map[cells.cell_index[lo:hi] - first] = cells.v_fail_v[lo:hi]
    top_v = profile.vdd_min_v if profile.vdd_min_v > profile.vdd_floor_v else profile.vdd_nominal_v
    image = ax.imshow(fail_map.reshape(profile.rows, profile.cols), aspect="equal",
                      interpolation="nearest", cmap="plasma", vmin=profile.vdd_floor_v, vmax=top_v)
    ax.figure.colorbar(image, ax=ax, label="fail voltage (V); top colour: fails at or above Vmin",
                       extend="max", shrink=0.8)
    # Cells in the top quarter of the scale (the first to fail as the supply drops) get a ring.
    near = cells.v_fail_v[lo:hi] >= top_v - 0.25 * (top_v - profile.vdd_floor_v)
    index = cells.cell_index[lo:hi][near] - first
    if len(index):
        ax.scatter(index % profile.cols, index // profile.cols, s=30, facecolors="none", edgecolors="black",
                   linewidths=0.8, label=f"fails within {0.25 * (top_v - profile.vdd_floor_v):.3g} V of Vmin")
        ax.legend(loc="upper right", fontsize="x-small")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(f"chip {chip}, array {array} of {profile.arrays} (most faulty by default)\n"
                 f"{hi - lo} cells fail above {profile.vdd_floor_v} V", fontsize="medium")
    return ax


def profile_figure(profile, chip=0, array=None):
    """The figure of ``accelsim profile plot``: BER curve and one array's fail-voltage map.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ber_ax, map_ax = fig.subplots(1, 2)
    plot_ber_voltage(ber_ax, profile, chips=(chip,))
    plot_fail_map(map_ax, profile, chip=chip, array=array)
    return fig


def _positive_or_nan(values):
    """Zeros cannot sit on a log axis; leave those points out."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)

# -- sweep figures ------------------------------------------------------------------

SWEEP_FIGURES = ("energy_accuracy.png", "accuracy_voltage.png", "error_ber.png", "ber_voltage.png")
FORMATS = ("png", "pdf", "svg")


@dataclass(frozen=True)
class SweepContext:
    """What the sweep figures need besides summary.csv.

    Attributes
    ----------
    where : str
        ``dataset NAME, profile NAME`` for titles (names, never paths).
    models : tuple of str
        Labels in the spec's order; the first is the accuracy reference.
    energy_ref : str
        The model whose energy at nominal is 100%.
    tolerance_pp : float
        Accuracy loss allowed for the operating point, in points.
    vdd_min_v : float or None
        The profile's declared Vmin, when the profile can be loaded.
    """

    where: str
    models: tuple
    energy_ref: str
    tolerance_pp: float = 1.0
    vdd_min_v: float | None = None

    def operating_points(self, summary):
        from accelsim.sweep.results import operating_points

        return {p.model: p for p in operating_points(summary, list(self.models), self.tolerance_pp,
                                                     self.energy_ref)}


def _floats(rows, column):
    return np.array([float(r[column]) for r in rows])


def _by_model(rows, order=()):
    groups = {model: [] for model in order}
    for row in rows:
        groups.setdefault(row["model"], []).append(row)
    return {m: sorted(g, key=lambda r: -float(r["vdd_v"])) for m, g in groups.items() if g}


def _finish(fig, ax, xlabel, ylabel, title=None, legend_size="small", legend=True):
    """Labels with units, title, grid (minor ticks too on log axes) and legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both" if "log" in (ax.get_yscale(), ax.get_xscale()) else "major")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=legend_size)
    return fig


def _percent_interval(rows, column):
    """Mean and clipped 95% interval (over chips) of a fraction column, in percent, within [0, 100]."""
    mean = _floats(rows, column) * 100
    low = np.clip(_floats(rows, column + "_ci95_low") * 100, 0, 100)
    high = np.clip(_floats(rows, column + "_ci95_high") * 100, 0, 100)
    return mean, np.minimum(low, mean), np.maximum(high, mean)


def _label_voltages(ax, xs, ys, volts, color, x_span=None):
    """Voltage next to each point, skipping points too close to the last labelled one to read."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if not len(xs):
        return
    x_span = x_span or max(float(np.ptp(xs)), 1e-12)
    last = None
    for x, y, v in zip(xs, ys, volts, strict=True):
        if last is not None and abs(x - last[0]) < 0.07 * x_span and abs(y - last[1]) < 3:
            continue
        ax.annotate(f"{v:.3g}", (x, y), xytext=(3, -9), textcoords="offset points", fontsize=6, color=color,
                    gid="voltage-label")
        last = (x, y)


def _y_limits(ax, lows, highs):
    lo = max(0.0, float(np.min(lows)) - 2)
    hi = min(100.0, float(np.max(highs)) + 2) if float(np.max(highs)) < 99 else 100.5
    ax.set_ylim(lo, max(hi, lo + 1))


def energy_accuracy_figure(summary, context):
    """Accuracy against energy per inference, relative to one reference, beside the weight SRAM's share.

    Left: total energy per inference; right: the weight SRAM's energy; both in
    percent of ``context.energy_ref``'s at nominal voltage. Error bars: 95%
    Student-t intervals over chips, clipped to [0, 100]. Each point carries
    its voltage; a star marks each model's operating point; the grey band is
    the tolerance below the reference accuracy.
    """
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    total_ax, sram_ax = fig.subplots(1, 2, sharey=True)
    groups = _by_model(summary, context.models)
    ref_rows = groups[context.energy_ref]
    ref_total = float(ref_rows[0]["energy_j"])
    ref_sram = float(ref_rows[0]["weight_mem_energy_j"])
    points = context.operating_points(summary)
    reference_pct = next(iter(points.values())).reference_accuracy * 100
    lows, highs = [], []
    spans = {c: float(np.ptp(_floats(summary, c))) / ref * 100 or 1.0
             for c, ref in (("energy_j", ref_total), ("weight_mem_energy_j", ref_sram))}
    for model, rows in groups.items():
        acc, low, high = _percent_interval(rows, "accuracy")
        lows.append(low.min())
        highs.append(high.max())
        volts = _floats(rows, "vdd_v")
        for ax, column, ref in ((total_ax, "energy_j", ref_total), (sram_ax, "weight_mem_energy_j", ref_sram)):
            x = _floats(rows, column) / ref * 100
            bars = ax.errorbar(x, acc, yerr=[acc - low, high - acc], marker="o", ms=4, capsize=2, lw=1,
                               label=model)
            color = bars.lines[0].get_color()
            _label_voltages(ax, x, acc, volts, color, spans[column])
            point = points[model]
            if point.vdd_v is not None:
                best = next(r for r in rows if float(r["vdd_v"]) == point.vdd_v)
                ax.plot([float(best[column]) / ref * 100], [point.accuracy * 100], marker="*", ms=14,
                        color=color, markeredgecolor="black", ls="none",
                        label=f"{model} operating point ({point.vdd_v:.3g} V)", gid="operating-point")
    for ax in (total_ax, sram_ax):
        ax.axhspan(reference_pct - context.tolerance_pp, reference_pct, color="grey", alpha=0.2,
                   label=f"tolerance ({context.tolerance_pp:g} pp below {reference_pct:.1f}%)")
    _y_limits(total_ax, [*lows, reference_pct - context.tolerance_pp], highs)
    front = sorted((r for r in summary if str(r["pareto"]).lower() == "true"), key=lambda r: float(r["energy_j"]))
    if front:
        total_ax.step(_floats(front, "energy_j") / ref_total * 100, _floats(front, "accuracy") * 100,
                      where="post", color="black", lw=1, ls="--", label="Pareto front")
    ref = f"% of {context.energy_ref} at nominal"
    _finish(fig, total_ax, f"energy per inference ({ref})", "accuracy (%)", legend=False)
    _finish(fig, sram_ax, f"weight-SRAM energy ({ref})", "", legend=False)
    total_ax.legend(fontsize="x-small", loc="lower right")
    fig.suptitle(f"Accuracy vs energy ({context.where}); bars: 95% t interval over chips, clipped")
    return fig


def _flat_above_vmin(rows, vdd_min_v):
    """True when no model reads a flipped bit above Vmin (the region carries no information)."""
    return vdd_min_v is not None and all(float(r["model_ber"]) == 0 for r in rows if float(r["vdd_v"]) > vdd_min_v)


def accuracy_voltage_figure(summary, context):
    """Accuracy (top) and robust error (bottom) against voltage, 95% clipped t bands over chips.

    When no bit flips above Vmin, the axis starts just above Vmin (the flat
    region up to nominal says nothing; its value is the nominal accuracy in
    the legend). Operating points are stars; the grey band is the tolerance.
    Points carry no voltage labels: the x axis is the voltage.
    """
    fig = Figure(figsize=(7, 7), layout="constrained")
    acc_ax, err_ax = fig.subplots(2, 1, sharex=True)
    groups = _by_model(summary, context.models)
    points = context.operating_points(summary)
    reference_pct = next(iter(points.values())).reference_accuracy * 100
    volts_all = sorted({float(r["vdd_v"]) for r in summary})
    crop = (_flat_above_vmin(summary, context.vdd_min_v) and any(v > context.vdd_min_v for v in volts_all)
            and any(v <= context.vdd_min_v + 1e-12 for v in volts_all))
    lows, highs = [reference_pct - context.tolerance_pp], []
    for model, rows in groups.items():
        volts = _floats(rows, "vdd_v")
        acc, low, high = _percent_interval(rows, "accuracy")
        err, elow, ehigh = _percent_interval(rows, "robust_error")
        shown = volts <= context.vdd_min_v + 1e-12 if crop else np.ones(len(volts), bool)
        label = model + (f" (nominal {volts[0]:.3g} V: {acc[0]:.1f}%)" if crop else "")
        line, = acc_ax.plot(volts[shown], acc[shown], marker="o", ms=4, label=label)
        color = line.get_color()
        acc_ax.fill_between(volts[shown], low[shown], high[shown], color=color, alpha=0.15)
        err_ax.plot(volts[shown], err[shown], marker="o", ms=4, color=color, label=model)
        err_ax.fill_between(volts[shown], elow[shown], ehigh[shown], color=color, alpha=0.15)
        lows.append(low[shown].min())
        highs.append(high[shown].max())
        point = points[model]
        if point.vdd_v is not None:
            acc_ax.plot([point.vdd_v], [point.accuracy * 100], marker="*", ms=14, color=color,
                        markeredgecolor="black", ls="none", gid="operating-point")
    acc_ax.axhspan(reference_pct - context.tolerance_pp, reference_pct, color="grey", alpha=0.2,
                   label=f"tolerance ({context.tolerance_pp:g} pp)")
    _y_limits(acc_ax, lows, highs)
    err_ax.set_ylim(0, min(100, max(5.0, float(np.nanmax(_floats(summary, "robust_error_ci95_high"))) * 100 + 2)))
    if context.vdd_min_v is not None:
        for ax in (acc_ax, err_ax):
            ax.axvline(context.vdd_min_v, color="grey", ls=":", lw=1, label="Vmin")
    if crop:
        below = [v for v in volts_all if v <= context.vdd_min_v + 1e-12]
        step = (below[-1] - below[0]) / max(1, len(below) - 1) if len(below) > 1 else 0.01
        acc_ax.set_xlim(below[0] - step / 2, context.vdd_min_v + step / 2)
    _finish(fig, acc_ax, "", "accuracy (%)", legend_size="x-small")
    _finish(fig, err_ax, "weight SRAM supply voltage (V)", "robust error (%)", legend=False)
    fig.suptitle(f"Accuracy and robust error vs voltage ({context.where})")
    return fig


def error_ber_figure(summary, context):
    """Robust error against the flipped-bit rate the model saw (log x), as in Stutz et al.'s figures.

    Points with no flipped bit cannot sit on a log axis and are left out.
    """
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    highs = [5.0]
    for model, rows in _by_model(summary, context.models).items():
        rate = _floats(rows, "model_ber")
        keep = rate > 0
        if not keep.any():
            continue
        err, low, high = _percent_interval(rows, "robust_error")
        ax.errorbar(rate[keep], err[keep], yerr=[err[keep] - low[keep], high[keep] - err[keep]], marker="o",
                    ms=4, capsize=2, lw=1, label=model)
        highs.append(high[keep].max())
    if len(highs) > 1:
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, "no flipped bit at any swept voltage", transform=ax.transAxes, ha="center")
    ax.set_ylim(0, min(100, max(highs) + 2))
    return _finish(fig, ax, "flipped-bit rate of the stored weights (flipped bits / stored bits)",
                   "robust error (%)", f"Robust error vs flipped-bit rate ({context.where})")


def ber_voltage_figure(summary, context):
    """The profile's faulty-cell rate and each model's flipped-bit rate against voltage, log scale."""
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    groups = _by_model(summary, context.models)
    first = next(iter(groups.values()))
    vdd = _floats(first, "vdd_v")
    cells = _floats(first, "profile_ber")
    ax.plot(vdd[cells > 0], cells[cells > 0], color="black", marker="s", ms=4,
            label="faulty-cell rate of the chips (faulty cells / cells)")
    for model, rows in groups.items():
        rate = _floats(rows, "model_ber")
        keep = rate > 0
        ax.plot(_floats(rows, "vdd_v")[keep], rate[keep], marker="o", ms=3,
                label=f"flipped-bit rate of {model} (flipped / stored bits)")
    if context.vdd_min_v is not None:
        ax.axvline(context.vdd_min_v, color="grey", ls=":", lw=1, label="Vmin")
    if (cells > 0).any():
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no faulty cell at any swept voltage", transform=ax.transAxes, ha="center")
    return _finish(fig, ax, "weight SRAM supply voltage (V)", "rate (mean over chips)",
                   f"Faulty cells and flipped bits vs voltage ({context.where})", legend_size="x-small")


def sweep_context(directory, summary, tolerance_pp=1.0, energy_ref=None):
    """The :class:`SweepContext` of a results folder (its ``sweep.json``, when present)."""
    record = {}
    spec_file = Path(directory) / "sweep.json"
    if spec_file.exists():
        try:
            record = json.loads(spec_file.read_bytes())
        except (ValueError, UnicodeDecodeError):
            pass  # sweep.json only labels the figures; a damaged one does not stop them
    if not isinstance(record, dict):
        record = {}
    spec = record.get("spec", {}) if isinstance(record.get("spec"), dict) else {}
    present = list(dict.fromkeys(r["model"] for r in summary))
    models = tuple(m for m in record.get("labels", present) if m in present) or tuple(present)
    if energy_ref is None:
        energy_ref = models[0]
    elif energy_ref not in models:
        raise PlotError(f"--energy-ref {energy_ref!r} is not a model of this sweep; expected one of "
                        f"{', '.join(models)}")
    dataset = spec.get("dataset")
    name = dataset.get("in_memory", "in-memory data") if isinstance(dataset, dict) else (
        str(dataset).partition(":")[0] if dataset else "")
    profile = summary[0]["profile"]
    vdd_min_v = None
    try:
        from accelsim.sram import load_profile

        vdd_min_v = load_profile(spec.get("profile", profile)).vdd_min_v
    except (ProfileError, OSError, ValueError):
        pass  # the profile moved: figures lose their Vmin marks, nothing else
    where = (f"dataset {name}, " if name else "") + f"profile {profile}"
    return SweepContext(where, models, energy_ref, float(tolerance_pp), vdd_min_v)


def draw_sweep(directory, tolerance_pp=1.0, energy_ref=None, fmt="png", dpi=150):
    """Draw the sweep figures of ``directory/summary.csv`` into ``directory``.

    Parameters
    ----------
    directory : str or Path
        A folder written by a sweep.
    tolerance_pp : float
        Accuracy tolerance of the operating points, in points.
    energy_ref : str, optional
        The model whose nominal energy is 100% (default: the first model).
    fmt : {"png", "pdf", "svg"}
        File format.

    Returns
    -------
    list of Path
        The files written.
    """
    if fmt not in FORMATS:
        raise PlotError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    directory = Path(directory)
    summary = _read_summary(directory)
    context = sweep_context(directory, summary, tolerance_pp, energy_ref)
    try:
        figures = {
            "energy_accuracy": energy_accuracy_figure(summary, context),
            "accuracy_voltage": accuracy_voltage_figure(summary, context),
            "error_ber": error_ber_figure(summary, context),
            "ber_voltage": ber_voltage_figure(summary, context),
        }
    except (ValueError, KeyError) as exc:
        raise PlotError(f"{directory / 'summary.csv'} is not a sweep summary ({exc}); `accelsim plot DIR` "
                        "needs the folder of a finished sweep") from None
    paths = []
    for name, fig in figures.items():
        path = directory / f"{name}.{fmt}"
        save_figure(fig, path, dpi=dpi)  # atomic, never through a planted symlink
        paths.append(path)
    return paths


def _read_summary(directory):
    path = Path(directory) / "summary.csv"
    if not path.exists():
        raise PlotError(f"{path} not found: `accelsim plot DIR` needs the folder of a finished sweep")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = set(reader.fieldnames or ())
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PlotError(f"{path} is not a sweep summary ({exc}); `accelsim plot DIR` needs the folder "
                        "of a finished sweep") from None
    missing = {"model", "vdd_v", "accuracy", "energy_j", "energy_rel", "profile_ber"} - columns
    if missing:
        raise PlotError(f"{path} is not a sweep summary (no column {sorted(missing)[0]!r}); "
                        "`accelsim plot DIR` needs the folder of a finished sweep")
    if not rows:
        raise PlotError(f"{path} has no rows to plot")
    return rows


# -- worst-case bit errors (issue 14): kept apart from the sweep figures above ----------------------

ATTACK_VOLTAGE_FIGURE = "attack_voltage.png"


def attack_voltage_figure(summary, title):
    """Accuracy under the chip's random faults and after an attacker's chosen flips, against voltage.

    ``summary`` rows carry ``accuracy`` (random faults) and ``attack_accuracy``
    (the same chips with ``attack_flips`` chosen flips added), per model and
    protection (``model [secded:64]``).
    """
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    for model, rows in _by_model(_with_protection_labels(summary)).items():
        vdd = _floats(rows, "vdd_v")
        line, = ax.plot(vdd, _floats(rows, "accuracy") * 100, marker="o", ms=4, label=f"{model} random faults")
        flips = rows[0].get("attack", "attack")
        ax.plot(vdd, _floats(rows, "attack_accuracy") * 100, marker="v", ms=4, ls="--", color=line.get_color(),
                label=f"{model} + {flips}")
    return _finish(fig, ax, "weight SRAM supply voltage (V)", "accuracy (%)", title, legend_size="x-small")


def _with_protection_labels(rows):
    """Rows whose ``model`` names their protection too (``model [secded:64]``) when it is not ``none``."""
    return [row if row.get("protection", "none") in ("none", "") else
            {**row, "model": f"{row['model']} [{row['protection']}]"} for row in rows]


def draw_attack_voltage(directory):
    """Draw :data:`ATTACK_VOLTAGE_FIGURE` of a sweep run with ``--attack``; returns its path."""
    directory = Path(directory)
    summary = _read_summary(directory)
    if "attack_accuracy" not in summary[0]:
        raise PlotError(f"{directory / 'summary.csv'} has no attack columns: run the sweep with --attack bfa:K")
    fig = attack_voltage_figure(summary, f"Random vs worst-case bit errors ({sweep_context(directory, summary).where})")
    save_figure(fig, directory / ATTACK_VOLTAGE_FIGURE, dpi=120)  # atomic, never through a planted symlink
    return directory / ATTACK_VOLTAGE_FIGURE


def attack_curve_figure(curves, title, chance=None):
    """Accuracy against the number of flipped bits, one line per ``{label: [(flips, accuracy), ...]}``."""
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    for label, curve in curves.items():
        flips = np.array([n for n, _ in curve], dtype=float)
        acc = np.array([a for _, a in curve], dtype=float) * 100
        ax.plot(flips, acc, marker="o", ms=3, label=label)
    if chance is not None:
        ax.axhline(chance * 100, color="gray", ls=":", lw=1, label="chance")
    return _finish(fig, ax, "flipped stored bits", "accuracy (%)", title)
