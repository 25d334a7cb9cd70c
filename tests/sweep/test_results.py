import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.sweep.results import (
    POINT_COLUMNS,
    operating_points,
    pareto_mask,
    read_csv,
    sorted_rows,
    summarize,
    write_csv,
)


def _row(model, chip, vdd_v, accuracy, energy_j, clean=0.95):
    return {"model": model, "method": "normal", "bits": 8, "quant_scheme": "rquant", "profile": "p",
            "chip": chip, "vdd_v": vdd_v, "vdd_rel": vdd_v, "profile_ber": 1e-3, "faulty_cells": 3,
            "flipped_bits": 2, "model_ber": 1e-4, "accuracy": accuracy, "error": 1 - accuracy,
            "robust_error": 1 - accuracy, "energy_j": energy_j, "weight_mem_energy_j": energy_j / 2,
            "energy_rel": energy_j / 10.0, "energy_rel_vmin": energy_j / 8.0, "clean_accuracy": clean,
            "tiled": False, "protection": "none", "corrected_words": 0, "detected_words": 0,
            "miscorrected_words": 0, "residual_flipped_bits": 2, "bank_vdd_v": "",
            "metric": "accuracy", "metric_value": accuracy, "n_images": 100}


def test_rows_sort_by_model_chip_then_voltage_descending():
    rows = [_row("b", 0, 0.7, 0.9, 1), _row("a", 1, 0.8, 0.9, 1), _row("a", 0, 0.7, 0.9, 1),
            _row("a", 0, 0.8, 0.9, 1)]
    keys = [(r["model"], r["chip"], r["vdd_v"]) for r in sorted_rows(rows)]
    assert keys == [("a", 0, 0.8), ("a", 0, 0.7), ("a", 1, 0.8), ("b", 0, 0.7)]


def test_csv_is_byte_stable_and_round_trips(tmp_path):
    rows = [_row("a", 0, 0.8, 0.1 + 0.2, 1e-9)]
    write_csv(tmp_path / "x.csv", rows, POINT_COLUMNS)
    first = (tmp_path / "x.csv").read_bytes()
    write_csv(tmp_path / "x.csv", rows, POINT_COLUMNS)
    assert (tmp_path / "x.csv").read_bytes() == first
    back = read_csv(tmp_path / "x.csv")[0]
    assert float(back["accuracy"]) == 0.1 + 0.2 and back["tiled"] == "false"


def test_summary_means_and_confidence_interval():
    rows = [_row("a", c, 0.7, acc, 2.0) for c, acc in enumerate([0.5, 0.6, 0.7])]
    (s,) = summarize(rows)
    assert s["chips"] == 3 and s["accuracy"] == pytest.approx(0.6)
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert s["accuracy_ci95_high"] - s["accuracy"] == pytest.approx(half)


@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 1)), min_size=1, max_size=30))
def test_pareto_points_are_not_dominated(points):
    energy, acc = np.array(points).T
    mask = pareto_mask(energy, acc)
    assert mask.any()
    for i in np.flatnonzero(mask):
        dominated = (energy <= energy[i]) & (acc >= acc[i]) & ((energy < energy[i]) | (acc > acc[i]))
        assert not dominated.any()
    for i in np.flatnonzero(~mask):
        assert ((energy <= energy[i]) & (acc >= acc[i])).sum() > 1


def test_operating_point_is_lowest_energy_within_tolerance():
    rows = [_row("ref", 0, 0.8, 0.95, 10.0), _row("ref", 0, 0.7, 0.945, 8.0),
            _row("ref", 0, 0.6, 0.90, 6.0), _row("weak", 0, 0.8, 0.90, 10.0)]
    points = {p.model: p for p in operating_points(summarize(rows), ["ref", "weak"], tolerance_pp=1.0)}
    assert points["ref"].vdd_v == 0.7
    assert points["ref"].energy_saving == pytest.approx(0.2)
    assert points["ref"].accuracy_change_pp == pytest.approx(-0.5)
    assert points["weak"].vdd_v is None


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)", "\tx", "plain", "'quoted"])
def test_formula_cells_are_quoted_on_disk_and_unquoted_on_reading(tmp_path, name):
    row = {**_row("a", 0, 0.8, 0.5, 1e-9), "model": name, "vdd_v": -0.5}
    write_csv(tmp_path / "x.csv", [row], POINT_COLUMNS)
    cells = (tmp_path / "x.csv").read_text().splitlines()[1]
    formula = name[0] in "=+-@\t"
    assert cells.split(",")[0].lstrip('"').startswith("'") == (formula or name.startswith("'"))
    assert ",-0.5," in cells  # numbers are never quoted
    back = read_csv(tmp_path / "x.csv")[0]
    assert back["model"] == name and back["vdd_v"] == "-0.5"


def test_intervals_over_few_chips_stay_within_zero_and_one():
    rows = [_row("a", c, 0.7, acc, 2.0) for c, acc in enumerate([0.05, 0.95])]
    (s,) = summarize(rows)
    assert s["accuracy_ci95_low"] == 0.0 and s["accuracy_ci95_high"] == 1.0
    assert 0.0 <= s["robust_error_ci95_low"] <= s["robust_error_ci95_high"] <= 1.0


def test_savings_of_every_model_are_relative_to_one_reference():
    # An 8-bit reference at 105 nJ nominal and a 4-bit model at 84 nJ nominal, 80 nJ at its operating point:
    # against its own nominal it saves 4.8%, against the reference 23.8%.
    rows = [_row("8b", 0, 0.8, 0.95, 105.0), _row("8b", 0, 0.6, 0.95, 100.0),
            _row("4b", 0, 0.8, 0.95, 84.0), _row("4b", 0, 0.6, 0.95, 80.0)]
    points = {p.model: p for p in operating_points(summarize(rows), ["8b", "4b"])}
    assert points["4b"].energy_saving == pytest.approx(1 - 80 / 105)
    assert points["8b"].energy_saving == pytest.approx(1 - 100 / 105)
    assert points["4b"].energy_reference == "8b"
    other = {p.model: p for p in operating_points(summarize(rows), ["8b", "4b"], energy_ref="4b")}
    assert other["8b"].energy_saving == pytest.approx(1 - 100 / 84)


def test_yield_counts_chips_within_tolerance_with_a_wilson_interval():
    from accelsim.sweep.results import wilson_interval

    rows = [_row("a", c, 0.7, acc, 2.0, clean=0.95) for c, acc in enumerate([0.95, 0.945, 0.93, 0.9])]
    (s,) = summarize(rows, tolerance_pp=1.0)
    assert s["yield"] == 0.5
    assert (s["yield_ci95_low"], s["yield_ci95_high"]) == pytest.approx(wilson_interval(2, 4))
    assert s["yield_ci95_low"] < 0.5 < s["yield_ci95_high"]
    # Known values (Wilson 1927; e.g. 10 of 10 -> [0.722, 1]).
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0


def test_yield_target_uses_the_interval_lower_end():
    good = [_row("a", c, 0.6, 0.95, 1.0) for c in range(5)]  # 5 of 5 good: low end 0.57
    many = [_row("a", c, 0.7, 0.95, 2.0) for c in range(60)]  # 60 of 60: low end 0.94
    summary = summarize(good + many, tolerance_pp=1.0)
    (point,) = operating_points(summary, ["a"], yield_target=0.9)
    assert point.vdd_v == 0.7 and point.chip_yield == 1.0
    (point,) = operating_points(summary, ["a"], yield_target=0.5)
    assert point.vdd_v == 0.6


def test_protections_are_separate_row_groups():
    rows = [_row("a", 0, 0.7, 0.9, 1), {**_row("a", 0, 0.7, 0.95, 1.2), "protection": "secded:64"}]
    summary = summarize(rows)
    assert [s["protection"] for s in summary] == ["none", "secded:64"]
    points = operating_points(summary, ["a"], tolerance_pp=1.0)
    assert [(p.protection, p.vdd_v) for p in points] == [("none", None), ("secded:64", 0.7)]


@pytest.mark.parametrize("n", [2, 3, 5, 10, 100])
def test_chip_mean_interval_uses_students_t_quantile(n):
    from scipy import stats

    from accelsim.sweep.results import _mean_ci

    values = np.linspace(0.2, 0.9, n) ** 2
    mean, low, high = _mean_ci(values, low=-10.0, high=10.0)
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    assert (low, high) == (mean - half, mean + half)  # bit for bit: summary.csv does not change


@pytest.mark.parametrize("clean", ["", None, float("nan")])
def test_a_sweep_without_accuracy_has_no_operating_points(clean):
    """A language model's perplexity sweep: the tolerance is in accuracy points, so no point is chosen."""
    from accelsim.sweep.results import operating_points

    summary = [{"model": "lm", "clean_accuracy": clean, "accuracy": "", "vdd_v": 0.8, "energy_j": 1.0,
                "energy_rel_vmin": 1.0, "protection": "none", "bank_vdd_v": ""}]
    assert operating_points(summary, ["lm"]) == []
