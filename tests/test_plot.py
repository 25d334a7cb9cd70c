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


# -- sweep figures ----------------------------------------------------------------------

from accelsim.plot import (  # noqa: E402
    SweepContext,
    accuracy_voltage_figure,
    ber_voltage_figure,
    energy_accuracy_figure,
    error_ber_figure,
    most_faulty_array,
)

VOLTS = (0.8, 0.68, 0.6, 0.55, 0.5)


def _summary():
    """Two models, the 8-bit one the reference; accuracy collapses below 0.6 V with wide intervals."""
    rows = []
    for model, bits, scale in (("m8", 8, 1.0), ("m4", 4, 0.8)):
        for v in VOLTS:
            acc = {0.8: 0.98, 0.68: 0.98, 0.6: 0.975, 0.55: 0.6, 0.5: 0.2}[v] if bits == 8 else 0.97
            ber = 0.0 if v >= 0.68 else {0.6: 1e-4, 0.55: 1e-2, 0.5: 5e-2}[v]
            energy = scale * 100e-9 * (0.5 + 0.5 * (v / 0.8) ** 2)
            rows.append({"model": model, "method": "normal", "bits": str(bits), "quant_scheme": "rquant",
                         "profile": "14nm", "vdd_v": str(v), "vdd_rel": str(v / 0.8), "chips": "3",
                         "profile_ber": str(ber * 1.2), "model_ber": str(ber), "accuracy": str(acc),
                         "accuracy_ci95_low": str(max(0.0, acc - 0.5)), "accuracy_ci95_high": str(min(1.0, acc + 0.5)),
                         "robust_error": str(1 - acc), "robust_error_ci95_low": str(max(0.0, 0.5 - acc)),
                         "robust_error_ci95_high": str(min(1.0, 1.5 - acc)), "energy_j": str(energy),
                         "weight_mem_energy_j": str(energy / 2), "energy_rel": "1", "energy_rel_vmin": "1",
                         "clean_accuracy": "0.98" if bits == 8 else "0.97", "pareto": "false"})
    return rows


CONTEXT = SweepContext("dataset mnist, profile 14nm", ("m8", "m4"), "m8", 1.0, 0.68)


def _errorbar_ys(ax):
    ys = []
    for collection in ax.collections:
        for segment in getattr(collection, "get_segments", lambda: [])():
            ys.extend(np.asarray(segment)[:, 1])
    return np.array(ys)


def test_energy_accuracy_is_relative_with_bounded_bars_and_marked_points():
    fig = energy_accuracy_figure(_summary(), CONTEXT)
    total_ax, sram_ax = fig.axes[:2]
    assert "% of m8 at nominal" in total_ax.get_xlabel() and "weight-SRAM" in sram_ax.get_xlabel()
    ys = _errorbar_ys(total_ax)
    assert len(ys) and ys.min() >= 0 and ys.max() <= 100
    low, high = total_ax.get_ylim()
    assert low >= 0 and high <= 100.5
    # The reference at nominal sits at 100%.
    (m8_bars,) = [c for c in total_ax.containers if c.get_label() == "m8"]
    xs = m8_bars.lines[0].get_xdata()
    assert xs.max() == pytest.approx(100)
    stars = {line.get_label(): line for line in total_ax.get_lines() if line.get_gid() == "operating-point"}
    m8 = stars["m8 operating point (0.6 V)"]
    expected = 100 * (0.5 + 0.5 * (0.6 / 0.8) ** 2) / (0.5 + 0.5)
    assert m8.get_xdata()[0] == pytest.approx(expected) and m8.get_ydata()[0] == pytest.approx(97.5)
    labels = [t.get_text() for t in total_ax.texts if t.get_gid() == "voltage-label"]
    assert "0.8" in labels and "0.5" in labels
    assert any(p.get_label().startswith("tolerance (1 pp") for p in total_ax.patches)
    assert "/" not in fig.get_suptitle().replace("t interval over chips", "")


def test_accuracy_and_robust_error_have_their_own_panels_and_skip_the_flat_region():
    fig = accuracy_voltage_figure(_summary(), CONTEXT)
    acc_ax, err_ax = fig.axes[:2]
    assert acc_ax.get_ylabel() == "accuracy (%)" and err_ax.get_ylabel() == "robust error (%)"
    low, high = acc_ax.get_xlim()
    assert high < 0.8 and low < 0.5 and high > 0.68  # nominal (flat, no flipped bit) is off the axis
    assert any("nominal 0.8 V: 98.0%" in line.get_label() for line in acc_ax.get_lines())
    assert 0 <= acc_ax.get_ylim()[0] and acc_ax.get_ylim()[1] <= 100.5
    assert err_ax.get_ylim()[0] == 0 and err_ax.get_ylim()[1] <= 100
    stars = [line for line in acc_ax.get_lines() if line.get_gid() == "operating-point"]
    assert sorted(float(s.get_xdata()[0]) for s in stars) == [0.5, 0.6]
    # The x axis is the voltage: labelling points with it again only overlaps.
    assert not [t for t in acc_ax.texts if t.get_gid() == "voltage-label"]


def test_error_ber_is_log_x_and_leaves_out_zero_rates():
    ax = error_ber_figure(_summary(), CONTEXT).axes[0]
    assert ax.get_xscale() == "log" and "flipped-bit rate" in ax.get_xlabel()
    xs = np.concatenate([c.lines[0].get_xdata() for c in ax.containers])
    assert xs.min() == pytest.approx(1e-4) and len(xs) == 6  # 3 faulty voltages x 2 models
    assert 0 <= ax.get_ylim()[0] and ax.get_ylim()[1] <= 100


def test_ber_voltage_names_faulty_cells_and_flipped_bits_apart():
    ax = ber_voltage_figure(_summary(), CONTEXT).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("faulty-cell rate") and any(lab.startswith("flipped-bit rate of m4") for lab in labels)
    assert "bit error rate" not in " ".join(labels)


def test_fail_map_opens_on_the_most_faulty_array_with_square_cells(chip):
    counts = np.bincount(chip.chip_cells(0).cell_index // chip.cells_per_array, minlength=chip.arrays)
    assert most_faulty_array(chip) == int(np.argmax(counts))
    ax = plot_fail_map(_axes(), chip)
    assert f"array {int(np.argmax(counts))} of" in ax.get_title()
    assert ax.get_aspect() == 1.0
    image = ax.get_images()[0]
    assert image.get_clim() == (chip.vdd_floor_v, chip.vdd_min_v)


def test_sweep_figures_of_a_nominal_only_sweep(tmp_path):
    import warnings

    from accelsim.plot import draw_sweep
    from accelsim.sweep import SweepSpec, run_sweep

    run_sweep(SweepSpec(models=("digits-cnn-normal-8b",), voltages_v=(0.8,), chips=1, limit=50), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = draw_sweep(tmp_path, fmt="svg")
    assert [p.suffix for p in paths] == [".svg"] * 4
