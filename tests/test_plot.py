"""Figures of ``accelsim.plot`` (profile figures): what they draw, not how they look."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from accelsim.plot import plot_ber_voltage, plot_fail_map, profile_figure
from accelsim.sram import (
    CellTable,
    EnergyModel,
    Profile,
    ProfileError,
    gaussian_profile,
)


@pytest.fixture(scope="module")
def chip():
    return gaussian_profile(0.45, 0.04, weak_columns=1, weak_column_share=0.5, seed=2,
                            arrays=3, rows=32, cols=16)


def _axes():
    return Figure().subplots()


def test_ber_plot_is_log_scaled_and_draws_population_and_chip(chip):
    ax = plot_ber_voltage(_axes(), chip, chips=(0, 1))
    assert ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["population", "chip 0", "chip 1"] and "Vmin" in labels
    volts, rates = ax.get_lines()[0].get_data()
    np.testing.assert_allclose(rates, chip.ber(volts))
    assert volts.min() == chip.vdd_floor_v and volts.max() == chip.vdd_nominal_v


def test_ber_plot_leaves_zero_rates_off_the_log_axis():
    meta = {"schema_version": 1, "name": "m", "description": "", "technology": "t",
            "temperature_k": 300.0, "arrays": 1, "rows": 4, "cols": 4, "vdd_nominal_v": 1.0,
            "vdd_min_v": 0.8, "vdd_floor_v": 0.5, "energy": EnergyModel().to_dict(),
            "source": "test", "kind": "cells"}
    cells = CellTable(np.array([2], np.int64), np.array([0.7]), np.array([0], np.uint8),
                      np.array([1.0]))
    ax = plot_ber_voltage(_axes(), Profile(meta, cells))
    volts, rates = ax.get_lines()[0].get_data()
    assert np.all(np.isnan(rates[volts > 0.7])) and np.all(rates[volts <= 0.7] == 1 / 16)


@pytest.mark.parametrize("array", [0, 2, 5])
def test_fail_map_shows_the_fail_voltages_of_one_array(chip, array):
    ax = plot_fail_map(_axes(), chip, chip=1, array=array)
    image = ax.get_images()[0].get_array()
    assert image.shape == (chip.rows, chip.cols)
    cells = chip.chip_cells(1, max(chip.arrays, array + 1))
    first = array * chip.cells_per_array
    inside = (cells.cell_index >= first) & (cells.cell_index < first + chip.cells_per_array)
    expected = np.full(chip.cells_per_array, np.nan)
    expected[cells.cell_index[inside] - first] = cells.v_fail_v[inside]
    np.testing.assert_array_equal(np.ma.filled(image, np.nan).ravel(), expected)


def test_fail_map_refuses_a_negative_array(chip):
    with pytest.raises(ProfileError, match="array = -1"):
        plot_fail_map(_axes(), chip, array=-1)


def test_profile_figure_has_both_panels(chip, tmp_path):
    figure = profile_figure(chip, chip=0, array=1)
    assert isinstance(figure, Figure)
    ber_ax, map_ax = figure.axes[:2]
    assert ber_ax.get_yscale() == "log" and len(map_ax.get_images()) == 1
    figure.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def test_fail_map_of_an_array_without_faults():
    chip = gaussian_profile(0.2, 0.01, seed=0, arrays=1, rows=8, cols=8)  # nothing fails at 0.5 V
    image = plot_fail_map(_axes(), chip).get_images()[0].get_array()
    assert np.all(np.ma.getmaskarray(image) | np.isnan(np.ma.filled(image, np.nan)))
