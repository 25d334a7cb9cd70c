"""Warnings of a finished sweep: tiling, floor-limited points, a contradicted Vmin, a coarse tolerance."""

import numpy as np
import pytest

from accelsim.sram import CellTable, EnergyModel, Profile, gaussian_profile
from accelsim.sweep import SweepSpec, run_sweep
from accelsim.sweep.diagnostics import sweep_warnings

MODEL = "digits-cnn-normal-8b"


def _run(tmp_path, **changes):
    spec = dict(models=(MODEL,), profile="14nm", voltages_v=(0.8, 0.7), chips=1, limit=100)
    spec.update(changes)
    return run_sweep(SweepSpec(**spec), tmp_path).directory


def test_coarse_tolerance_and_floor_limited_point(tmp_path):
    warnings = sweep_warnings(_run(tmp_path))
    assert any("tolerance of 1 pp is 1 of 100 test images" in w for w in warnings)
    assert any(w.startswith(f"operating point of {MODEL} is floor-limited: 0.7 V is the lowest swept voltage")
               for w in warnings)
    assert all("\n" not in w for w in warnings)


def test_no_warning_for_a_wide_tolerance_and_a_collapse_inside_the_sweep(tmp_path):
    directory = _run(tmp_path, voltages_v=(0.8, 0.6, 0.53), limit=None)
    assert sweep_warnings(directory, tolerance_pp=5.0) == []


def test_declared_vmin_the_fault_model_contradicts(tmp_path):
    # The 14 nm fail-voltage mean with a declared Vmin of 0.62 V at 0.75 V nominal (the synth case).
    path = tmp_path / "wrong-vmin.npz"
    gaussian_profile(vdd_nominal_v=0.75, vdd_min_v=0.62, arrays=4, rows=64, cols=64, name="wrong-vmin").save(path)
    warnings = sweep_warnings(_run(tmp_path / "out", profile=str(path), voltages_v=(0.75, 0.62)))
    assert any("profile wrong-vmin declares Vmin 0.62 V but its fault model gives a faulty-cell rate" in w
               for w in warnings)


def test_a_model_larger_than_the_measured_chip_is_tiled(tmp_path):
    meta = {"schema_version": 1, "name": "tiny-chip", "description": "", "technology": "t", "temperature_k": 300.0,
            "arrays": 1, "rows": 16, "cols": 16, "vdd_nominal_v": 1.0, "vdd_min_v": 0.8, "vdd_floor_v": 0.5,
            "energy": EnergyModel().to_dict(), "source": "test", "kind": "cells"}
    cells = CellTable(np.array([3, 40], np.int64), np.array([0.7, 0.6]), np.array([2, 2], np.uint8),
                      np.array([1.0, 1.0]))
    path = tmp_path / "tiny.npz"
    Profile(meta, cells).save(path)
    warnings = sweep_warnings(_run(tmp_path / "out", profile=str(path), voltages_v=(1.0, 0.6)))
    assert any(w.startswith(f"model {MODEL} needs more cells than the measured chip has") for w in warnings)


@pytest.mark.parametrize("argv", [["--vdd-nominal", "0.75", "--vdd-min", "0.62"]])
def test_profile_synth_warns_about_a_contradicted_vmin(tmp_path, capsys, argv):
    from accelsim.cli import main

    assert main(["profile", "synth", "--model", "gaussian", "--arrays", "2", "--rows", "32", "--cols", "32",
                 *argv, "--out", str(tmp_path / "p.npz")]) == 0
    err = capsys.readouterr().err
    assert "accelsim: warning: profile p declares Vmin 0.62 V" in err
