"""Assembling imported profiles: voltages at the edges, kinds, meta keys."""

from pathlib import Path

import numpy as np
import pytest

from accelsim.sram import SA0, SA1
from accelsim.sram._assemble import (
    Observations,
    arrays_without_fault,
    checked_nominal,
    profile_from_observations,
)
from accelsim.sram._readers import ProfileImportError, RawFile

DESIGN_META_KEYS = {"schema_version", "name", "description", "technology", "temperature_k",
                    "arrays", "rows", "cols", "vdd_nominal_v", "vdd_min_v", "vdd_floor_v",
                    "energy", "source", "kind", "notes"}
RAW = RawFile(Path("chip-0.5.bin"), b"", "0" * 64)


def _observations(voltages_v, faulty_index, fault_kind=None):
    faulty_index = [np.asarray(index, np.int64) for index in faulty_index]
    if fault_kind is None:
        fault_kind = [np.full(index.size, SA0, np.uint8) for index in faulty_index]
    return Observations(np.asarray(voltages_v, np.float64), faulty_index,
                        [np.asarray(kinds, np.uint8) for kinds in fault_kind],
                        arrays=2, rows=2, cols=4)


def _assemble(obs, vdd_nominal_v=1.0, step_v=None):
    return profile_from_observations("fpga-hex", obs, [RAW], vdd_nominal_v=vdd_nominal_v,
                                     name="t", step_v=step_v, seed=0, technology="test",
                                     temperature_k=300.0, command=None)


def test_meta_has_exactly_the_design_keys():
    profile, _ = _assemble(_observations([0.5, 0.6], [[1, 2], [2]]))
    meta = profile.to_meta()
    assert set(meta) == DESIGN_META_KEYS
    assert meta["kind"] == "cells" and meta["schema_version"] == 1
    assert meta["source"]["files"] == [{"name": "chip-0.5.bin", "sha256": "0" * 64}]
    assert set(meta["energy"]) == {"read_energy_per_bit_j", "write_energy_per_bit_j",
                                   "leakage_power_per_bit_w", "leakage_k_per_v"}


def test_a_chip_without_faults_gives_an_empty_profile():
    profile, summary = _assemble(_observations([0.5, 0.6], [[], []]))
    assert len(profile.chip_cells()) == 0
    assert summary.faulty == (0, 0) and summary.arrays_without_fault_at_floor == 2
    assert profile.vdd_min_v == profile.vdd_floor_v == 0.5


def test_faults_at_nominal_sit_at_nominal():
    profile, summary = _assemble(_observations([0.9, 1.0], [[1, 5], [5]]))
    assert profile.vdd_min_v == 1.0
    assert profile.chip_cells().v_fail_v[1] == 1.0
    assert profile.faulty_cells(1.0) == 1


def test_the_step_above_the_highest_voltage_stops_at_nominal():
    profile, _ = _assemble(_observations([0.8, 0.95], [[1, 5], [5]]), step_v=0.1)
    assert profile.vdd_min_v == 1.0
    assert 0.95 <= profile.chip_cells().v_fail_v[1] < 1.0


def test_a_cell_keeps_the_kind_of_its_highest_faulty_voltage():
    obs = _observations([0.5, 0.6], [[3, 4], [3]], fault_kind=[[SA0, SA1], [SA1]])
    profile, _ = _assemble(obs)
    assert profile.chip_cells().fault_kind.tolist() == [SA1, SA1]


@pytest.mark.parametrize("value", ["1.0", True, float("inf"), 0.0])
def test_checked_nominal_refuses_non_voltages(value):
    with pytest.raises(ProfileImportError, match="vdd_nominal_v = "):
        checked_nominal(value)


def test_arrays_without_fault_counts_arrays_with_no_listed_cell():
    assert arrays_without_fault(np.array([0, 3, 17], np.int64), arrays=4, cells_per_array=8) == 2
