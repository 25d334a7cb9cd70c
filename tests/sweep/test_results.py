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
            "tiled": False, "n_images": 100}


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
    rows = [_row("a", c, 0.7, acc, 2.0) for c, acc in enumerate([0.8, 0.9, 1.0])]
    (s,) = summarize(rows)
    assert s["chips"] == 3 and s["accuracy"] == pytest.approx(0.9)
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
