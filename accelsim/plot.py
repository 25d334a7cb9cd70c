"""Figures, drawn with matplotlib's object API (``Figure``), never pyplot's global state.

Each ``plot_*`` function draws into a given ``Axes`` and returns it; each
``*_figure`` function builds a whole ``Figure`` that the caller saves
(``fig.savefig(path)``; the Agg canvas is used for raster files).
"""

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from accelsim._errors import UserInputError
from accelsim.sram import ProfileError

__all__ = [
    "PlotError", "plot_ber_voltage", "plot_fail_map", "profile_figure", "SWEEP_FIGURES",
    "energy_accuracy_figure", "accuracy_voltage_figure", "ber_voltage_figure", "draw_sweep",
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
    ax.set_ylabel("bit error rate (faulty cells / cells)")
    ax.set_title(f"{profile.name}: BER vs voltage")
    ax.legend(loc="upper right")
    return ax


def plot_fail_map(ax, profile, chip=0, array=0):
    """Map of the fail voltages of the cells of one array (blank: never fails).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw (its figure receives a colour bar).
    profile : Profile
        The profile.
    chip, array : int
        Which array of which chip to show.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if isinstance(array, bool) or not isinstance(array, int) or array < 0:
        raise ProfileError(f"array = {array!r} is not an array number; expected an integer "
                           f">= 0 (profile '{profile.name}' declares {profile.arrays} arrays)")
    cells = profile.chip_cells(chip, max(profile.arrays, array + 1))
    first = array * profile.cells_per_array
    lo, hi = np.searchsorted(cells.cell_index, [first, first + profile.cells_per_array])
    fail_map = np.full(profile.cells_per_array, np.nan)
    fail_map[cells.cell_index[lo:hi] - first] = cells.v_fail_v[lo:hi]
    top_v = max(profile.vdd_min_v, float(np.nanmax(fail_map, initial=profile.vdd_floor_v)))
    image = ax.imshow(fail_map.reshape(profile.rows, profile.cols), aspect="auto",
                      interpolation="nearest", cmap="viridis", vmin=profile.vdd_floor_v, vmax=top_v)
    ax.figure.colorbar(image, ax=ax, label="fail voltage (V)")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(f"chip {chip}, array {array}: {hi - lo} cells fail above {profile.vdd_floor_v} V")
    return ax


def profile_figure(profile, chip=0, array=0):
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

SWEEP_FIGURES = ("energy_accuracy.png", "accuracy_voltage.png", "ber_voltage.png")


def _floats(rows, column):
    return np.array([float(r[column]) for r in rows])


def _by_model(rows):
    groups = {}
    for row in rows:
        groups.setdefault(row["model"], []).append(row)
    return groups


def _sweep_axes():
    fig = Figure(figsize=(7, 5), layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig, ax, xlabel, ylabel, title, legend_size="small"):
    """Labels with units, title, grid (minor ticks too on log axes) and legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both" if ax.get_yscale() == "log" else "major")
    ax.legend(fontsize=legend_size)
    return fig


def energy_accuracy_figure(summary, title):
    """Energy per inference against accuracy per model, 95% CI bars, Pareto front."""
    fig, ax = _sweep_axes()
    for model, rows in _by_model(summary).items():
        energy = _floats(rows, "energy_j") * 1e9
        acc = _floats(rows, "accuracy") * 100
        low = acc - _floats(rows, "accuracy_ci95_low") * 100
        high = _floats(rows, "accuracy_ci95_high") * 100 - acc
        ax.errorbar(energy, acc, yerr=[low, high], marker="o", ms=4, capsize=2, label=model)
    front = sorted((r for r in summary if str(r["pareto"]).lower() == "true"),
                   key=lambda r: float(r["energy_j"]))
    if front:
        ax.step(_floats(front, "energy_j") * 1e9, _floats(front, "accuracy") * 100, where="post",
                color="black", lw=1, ls="--", label="Pareto front")
    return _finish(fig, ax, "energy per inference (nJ)", "accuracy (%)", title)


def accuracy_voltage_figure(summary, title):
    """Accuracy and robust error (means with 95% CI bands) against supply voltage."""
    fig, ax = _sweep_axes()
    for model, rows in _by_model(summary).items():
        vdd = _floats(rows, "vdd_v")
        line, = ax.plot(vdd, _floats(rows, "accuracy") * 100, marker="o", ms=4, label=f"{model} accuracy")
        ax.fill_between(vdd, _floats(rows, "accuracy_ci95_low") * 100,
                        _floats(rows, "accuracy_ci95_high") * 100, color=line.get_color(), alpha=0.15)
        ax.plot(vdd, _floats(rows, "robust_error") * 100, ls="--", color=line.get_color(),
                label=f"{model} robust error")
    return _finish(fig, ax, "weight SRAM supply voltage (V)", "accuracy / robust error (%)", title,
                   legend_size="x-small")


def ber_voltage_figure(summary, title):
    """Profile BER and model BER against voltage, log scale."""
    fig, ax = _sweep_axes()
    first_model = next(iter(_by_model(summary).values()))
    vdd = _floats(first_model, "vdd_v")
    ber = _floats(first_model, "profile_ber")
    ax.plot(vdd[ber > 0], ber[ber > 0], color="black", marker="s", ms=4, label="profile BER")
    for model, rows in _by_model(summary).items():
        mber = _floats(rows, "model_ber")
        keep = mber > 0
        ax.plot(_floats(rows, "vdd_v")[keep], mber[keep], marker="o", ms=3, label=f"{model} model BER")
    ax.set_yscale("log")
    return _finish(fig, ax, "weight SRAM supply voltage (V)", "bit error rate", title)


def draw_sweep(directory, dataset=""):
    """Draw the three sweep figures of ``directory/summary.csv`` into ``directory``.

    Returns the paths written.
    """
    directory = Path(directory)
    summary = _read_summary(directory)
    where = f"profile {summary[0]['profile']}" + (f", dataset {dataset}" if dataset else "")
    figures = {
        "energy_accuracy.png": energy_accuracy_figure(summary, f"Energy vs accuracy ({where})"),
        "accuracy_voltage.png": accuracy_voltage_figure(summary, f"Accuracy vs voltage ({where})"),
        "ber_voltage.png": ber_voltage_figure(summary, f"Bit error rate vs voltage ({where})"),
    }
    paths = []
    for name, fig in figures.items():
        fig.savefig(directory / name, dpi=120)
        paths.append(directory / name)
    return paths


def _read_summary(directory):
    path = Path(directory) / "summary.csv"
    if not path.exists():
        raise PlotError(f"{path} not found: `accelsim plot DIR` needs the folder of a finished sweep")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise PlotError(f"{path} has no rows to plot")
    return rows


# -- worst-case bit errors (issue 14): kept apart from the sweep figures above ----------------------

ATTACK_VOLTAGE_FIGURE = "attack_voltage.png"


def attack_voltage_figure(summary, title):
    """Accuracy under the chip's random faults and after an attacker's chosen flips, against voltage.

    ``summary`` rows carry ``accuracy`` (random faults) and ``attack_accuracy``
    (the same chips with ``attack_flips`` chosen flips added), per model.
    """
    fig, ax = _sweep_axes()
    for model, rows in _by_model(summary).items():
        vdd = _floats(rows, "vdd_v")
        line, = ax.plot(vdd, _floats(rows, "accuracy") * 100, marker="o", ms=4, label=f"{model} random faults")
        flips = rows[0].get("attack", "attack")
        ax.plot(vdd, _floats(rows, "attack_accuracy") * 100, marker="v", ms=4, ls="--", color=line.get_color(),
                label=f"{model} + {flips}")
    return _finish(fig, ax, "weight SRAM supply voltage (V)", "accuracy (%)", title, legend_size="x-small")


def draw_attack_voltage(directory, dataset=""):
    """Draw :data:`ATTACK_VOLTAGE_FIGURE` of a sweep run with ``--attack``; returns its path."""
    directory = Path(directory)
    summary = _read_summary(directory)
    if "attack_accuracy" not in summary[0]:
        raise PlotError(f"{directory / 'summary.csv'} has no attack columns: run the sweep with --attack bfa:K")
    where = f"profile {summary[0]['profile']}" + (f", dataset {dataset}" if dataset else "")
    fig = attack_voltage_figure(summary, f"Random vs worst-case bit errors ({where})")
    fig.savefig(directory / ATTACK_VOLTAGE_FIGURE, dpi=120)
    return directory / ATTACK_VOLTAGE_FIGURE


def attack_curve_figure(curves, title, chance=None):
    """Accuracy against the number of flipped bits, one line per ``{label: [(flips, accuracy), ...]}``."""
    fig, ax = _sweep_axes()
    for label, curve in curves.items():
        flips = np.array([n for n, _ in curve], dtype=float)
        acc = np.array([a for _, a in curve], dtype=float) * 100
        ax.plot(flips, acc, marker="o", ms=3, label=label)
    if chance is not None:
        ax.axhline(chance * 100, color="gray", ls=":", lw=1, label="chance")
    return _finish(fig, ax, "flipped stored bits", "accuracy (%)", title)
