"""Figures, drawn with matplotlib's object API (``Figure``), never pyplot's global state.

Each ``plot_*`` function draws into a given ``Axes`` and returns it; each
``*_figure`` function builds a whole ``Figure`` that the caller saves
(``fig.savefig(path)``; the Agg canvas is used for raster files).
"""

import numpy as np
from matplotlib.figure import Figure

from accelsim.sram import ProfileError

__all__ = ["plot_ber_voltage", "plot_fail_map", "profile_figure"]


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
