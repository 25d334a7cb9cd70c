"""Measured-chip importers: KC705 dumps, stuck-at maps and cell tables."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sram import SA0, SA1, load_profile
from accelsim.sram.importers import (
    ProfileImportError,
    import_cells_csv,
    import_fpga_hex,
    import_stuck_at_maps,
)

KC705_BITS_PER_BRAM = 8192


# --- fpga-hex on the KC705 data --------------------------------------------

def _reference_zero_bits(path):
    """Zero bits of a KC705 dump, decoded the plain way (bytes.fromhex, every other byte)."""
    stored = np.frombuffer(bytes.fromhex(path.read_text().strip()), np.uint8)[0::2]
    return np.flatnonzero(np.unpackbits(stored) == 0), stored.size * 8


@pytest.fixture(scope="module")
def kc705_files(kc705_dir):
    return sorted(kc705_dir.glob("KC705B-*.bin"))


@pytest.fixture(scope="module")
def kc705(kc705_files):
    profile, summary = import_fpga_hex(kc705_files)
    return profile, summary


@pytest.fixture(scope="module")
def kc705_reference(kc705_files):
    return {float(path.stem.split("-")[1]): _reference_zero_bits(path) for path in kc705_files}


def test_kc705_counts_match_the_dumps(kc705, kc705_reference):
    profile, summary = kc705
    voltages_v = sorted(kc705_reference)
    assert summary.voltages_v == tuple(voltages_v)
    seen = [kc705_reference[v][0].size for v in voltages_v]
    assert summary.seen_faulty == tuple(seen)
    assert summary.faulty == tuple(seen)  # the four dumps are nested
    assert profile.faulty_cells(np.array(voltages_v)).tolist() == seen
    assert summary.cells == profile.n_cells == kc705_reference[voltages_v[0]][1]


def test_kc705_facts_of_the_data_readme(kc705):
    profile, summary = kc705
    # 890 BRAMs of 8,192 cells; one faulty cell at 0.59 V once bytes are de-duplicated.
    assert (summary.arrays, summary.rows * summary.cols) == (890, KC705_BITS_PER_BRAM)
    assert summary.faulty[summary.voltages_v.index(0.59)] == 1
    assert summary.non_nested == 0
    # "72% of BRAMs show no fault at 0.53 V" (issue 2).
    assert round(summary.arrays_without_fault_at_floor / summary.arrays, 2) == 0.72


def test_kc705_cells_are_those_of_the_dumps(kc705, kc705_reference):
    profile, _ = kc705
    cells = profile.chip_cells()
    np.testing.assert_array_equal(cells.cell_index, kc705_reference[0.53][0])
    assert np.all(cells.fault_kind == SA0)
    assert np.all(cells.p_error == 1.0)


def test_kc705_voltages_follow_design(kc705):
    profile, summary = kc705
    step = summary.voltages_v[-1] - summary.voltages_v[-2]
    assert profile.vdd_floor_v == summary.voltages_v[0]
    assert profile.vdd_min_v == pytest.approx(summary.voltages_v[-1] + step)
    assert profile.vdd_nominal_v == 1.0
    assert profile.kind == "cells" and profile.source["measured"] is True


@pytest.mark.parametrize("low_v, high_v", [(0.53, 0.55), (0.55, 0.57), (0.57, 0.59)])
def test_kc705_ber_between_measured_voltages_follows_the_fit(kc705, low_v, high_v):
    profile, summary = kc705
    middle_v = (low_v + high_v) / 2
    ber = profile.ber(middle_v)
    assert profile.ber(high_v) < ber < profile.ber(low_v)
    # Against the fit, the profile in between lies between its neighbours' ratios to the
    # fit (the fit restricted to the interval, scaled through both ends), +-1 cell.
    n = profile.n_cells
    fitted = {v: float(summary.fit.ber(v)) * n for v in (low_v, middle_v, high_v)}
    ratios = [profile.faulty_cells(v) / fitted[v] for v in (low_v, high_v)]
    count = profile.faulty_cells(middle_v)
    assert min(ratios) * fitted[middle_v] - 1 <= count <= max(ratios) * fitted[middle_v] + 1
    # Uniform placement would sit at the arithmetic mean of the neighbours: 2-3x too high.
    assert ber < 0.7 * (profile.ber(low_v) + profile.ber(high_v)) / 2


def test_kc705_fit_is_a_good_description(kc705):
    fit = kc705[1].fit
    assert 0.0 < fit.sigma_v < 0.1
    assert np.nanmax(np.abs(fit.residuals)) < 0.1


def test_kc705_profile_round_trips_through_a_file(kc705, kc705_files, tmp_path):
    profile = kc705[0]
    path = tmp_path / "kc705b.npz"
    profile.save(path)
    loaded = load_profile(path)
    assert loaded.to_meta() == profile.to_meta()
    for field in ("cell_index", "v_fail_v", "fault_kind", "p_error"):
        np.testing.assert_array_equal(getattr(loaded.chip_cells(), field),
                                      getattr(profile.chip_cells(), field))
    digests = {f["name"]: f["sha256"] for f in loaded.source["files"]}
    assert digests == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in kc705_files}


# --- fpga-hex on small dumps made here ---------------------------------------

def _write_dump(folder, name, zero_bits, n_arrays=2):
    bits = np.ones(n_arrays * KC705_BITS_PER_BRAM, np.uint8)
    bits[list(zero_bits)] = 0
    path = folder / name
    path.write_text(np.repeat(np.packbits(bits), 2).tobytes().hex().upper())
    return path


def test_non_nested_cell_is_kept_as_intermittent(tmp_path):
    paths = [_write_dump(tmp_path, "chip-0.50.bin", [3, 10, 9000]),
             _write_dump(tmp_path, "chip-0.55.bin", [3, 9000]),
             _write_dump(tmp_path, "chip-0.60.bin", [3, 10])]  # cell 10 missing at 0.55 V
    profile, summary = import_fpga_hex(paths)
    assert summary.non_nested == 1
    assert summary.seen_faulty == (3, 2, 2)
    assert summary.faulty == (3, 3, 2)  # cell 10 counts at 0.55 V: seen at 0.60 V
    assert profile.faulty_cells(np.array([0.50, 0.55, 0.60])).tolist() == [3, 3, 2]
    cells = profile.chip_cells()
    assert cells.cell_index.tolist() == [3, 10, 9000]
    assert cells.p_error.tolist() == pytest.approx([1.0, 2 / 3, 1.0])
    assert 0.60 <= cells.v_fail_v[1] < 0.65
    assert summary.arrays_without_fault_at_floor == 0
    assert profile.name == "chip"


def test_vdd_min_is_the_lowest_fault_free_measured_voltage(tmp_path):
    paths = [_write_dump(tmp_path, "c-0.50.bin", [1, 2]), _write_dump(tmp_path, "c-0.60.bin", []),
             _write_dump(tmp_path, "c-0.70.bin", [])]
    profile, summary = import_fpga_hex(paths, name="small", vdd_nominal_v=0.9)
    assert (profile.vdd_floor_v, profile.vdd_min_v, profile.vdd_nominal_v) == (0.5, 0.6, 0.9)
    assert summary.faulty == (2, 0, 0) and summary.fit is None
    assert summary.arrays_without_fault_at_floor == 1
    assert np.all((profile.chip_cells().v_fail_v >= 0.5) & (profile.chip_cells().v_fail_v < 0.6))


def test_single_dump_needs_a_step(tmp_path):
    path = _write_dump(tmp_path, "c-0.50.bin", [5])
    with pytest.raises(ProfileImportError, match=r"single measured voltage .*--step-v"):
        import_fpga_hex([path])
    profile, _ = import_fpga_hex([path], step_v=0.05)
    assert profile.vdd_min_v == pytest.approx(0.55)


def test_fpga_hex_refuses_inconsistent_lengths(tmp_path):
    paths = [_write_dump(tmp_path, "c-0.50.bin", [], n_arrays=2),
             _write_dump(tmp_path, "c-0.55.bin", [], n_arrays=3)]
    with pytest.raises(ProfileImportError, match=r"c-0\.55\.bin: holds 24576 cells but .*c-0\.50\.bin holds 16384"):
        import_fpga_hex(paths)


def test_fpga_hex_refuses_two_dumps_of_one_voltage(tmp_path):
    (tmp_path / "a").mkdir()
    paths = [_write_dump(tmp_path, "c-0.50.bin", []), _write_dump(tmp_path / "a", "c-0.5.bin", [])]
    with pytest.raises(ProfileImportError, match=r"both measured at 0.5 V"):
        import_fpga_hex(paths)


def test_fpga_hex_refuses_a_voltage_above_nominal(tmp_path):
    paths = [_write_dump(tmp_path, "c-0.50.bin", []), _write_dump(tmp_path, "c-530.bin", [])]
    with pytest.raises(ProfileImportError, match=r"530 V is above the nominal supply 1 V"):
        import_fpga_hex(paths)


@pytest.mark.parametrize("kwargs, message", [
    ({"vdd_nominal_v": -1.0}, r"vdd_nominal_v = -1.0"),
    ({"vdd_nominal_v": float("nan")}, r"vdd_nominal_v = nan"),
    ({"step_v": 0.0}, r"step_v = 0.0"),
])
def test_fpga_hex_refuses_bad_options(tmp_path, kwargs, message):
    paths = [_write_dump(tmp_path, "c-0.50.bin", [1]), _write_dump(tmp_path, "c-0.55.bin", [])]
    with pytest.raises(ProfileImportError, match=message):
        import_fpga_hex(paths, **kwargs)


def test_fpga_hex_names_the_bad_file(tmp_path):
    good = _write_dump(tmp_path, "c-0.50.bin", [])
    bad_name = _write_dump(tmp_path, "c.bin", [])
    with pytest.raises(ProfileImportError, match=r"c\.bin: no supply voltage in the file name"):
        import_fpga_hex([good, bad_name])
    truncated = tmp_path / "c-0.55.bin"
    truncated.write_text(good.read_text()[:-2])
    n_digits = len(good.read_text()) - 2
    with pytest.raises(ProfileImportError, match=rf"c-0\.55\.bin: {n_digits} hex digits"):
        import_fpga_hex([good, truncated])
    with pytest.raises(ProfileImportError, match="no input files"):
        import_fpga_hex([])


# --- stuck-at-maps ---------------------------------------------------------------

def _write_map(folder, kind, vdd_v, matrix):
    path = folder / f"fmap_sa{kind}_v_{vdd_v:.2f}.txt"
    path.write_text("\n".join(",".join(str(int(v)) for v in row) for row in np.asarray(matrix)))
    return path


def test_stuck_at_maps_import_both_polarities(tmp_path):
    sa0_low, sa1_low = np.zeros((4, 3), bool), np.zeros((4, 3), bool)
    sa0_low[0, 1] = sa0_low[2, 2] = True
    sa1_low[3, 0] = True
    sa0_high = np.zeros((4, 3), bool)
    sa0_high[0, 1] = True
    paths = [_write_map(tmp_path, 0, 0.70, sa0_low), _write_map(tmp_path, 1, 0.70, sa1_low),
             _write_map(tmp_path, 0, 0.75, sa0_high), _write_map(tmp_path, 1, 0.75, np.zeros((4, 3)))]
    profile, summary = import_stuck_at_maps(paths, vdd_nominal_v=0.9)
    assert (profile.arrays, profile.rows, profile.cols) == (1, 4, 3)
    cells = profile.chip_cells()
    assert cells.cell_index.tolist() == [1, 8, 9]
    assert cells.fault_kind.tolist() == [SA0, SA0, SA1]
    assert summary.faulty == (3, 1)
    assert profile.vdd_min_v == pytest.approx(0.80)
    assert profile.name == tmp_path.name


def test_stuck_at_maps_refuse_a_cell_of_both_polarities(tmp_path):
    both = np.eye(2, dtype=bool)
    paths = [_write_map(tmp_path, 0, 0.7, both), _write_map(tmp_path, 1, 0.7, both)]
    with pytest.raises(ProfileImportError, match=r"cell \(row 1, column 1\) is marked both"):
        import_stuck_at_maps(paths, step_v=0.05)


def test_stuck_at_maps_refuse_a_missing_polarity(tmp_path):
    paths = [_write_map(tmp_path, 0, 0.7, np.eye(2)), _write_map(tmp_path, 1, 0.7, np.zeros((2, 2))),
             _write_map(tmp_path, 0, 0.8, np.eye(2))]
    with pytest.raises(ProfileImportError, match=r"no fmap_sa1_v_0.8.txt among the maps"):
        import_stuck_at_maps(paths)


def test_stuck_at_maps_refuse_maps_of_different_shapes(tmp_path):
    paths = [_write_map(tmp_path, 0, 0.7, np.eye(2)), _write_map(tmp_path, 0, 0.8, np.eye(3))]
    with pytest.raises(ProfileImportError, match=r"fmap_sa0_v_0.80.txt: a 3 x 3 map, but .* is 2 x 2"):
        import_stuck_at_maps(paths)


def test_stuck_at_maps_refuse_a_map_given_twice(tmp_path):
    (tmp_path / "b").mkdir()
    paths = [_write_map(tmp_path, 0, 0.7, np.eye(2)), _write_map(tmp_path / "b", 0, 0.7, np.eye(2))]
    with pytest.raises(ProfileImportError, match="the same polarity and voltage twice"):
        import_stuck_at_maps(paths)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.data())
def test_imported_profile_reproduces_measured_counts(tmp_path_factory, m, data):
    """At every measured voltage: the cells seen faulty there or at a higher one."""
    folder = tmp_path_factory.mktemp("maps")
    voltages_v = [0.60 + 0.05 * k for k in range(m)]
    seen = np.array(data.draw(st.lists(st.booleans(), min_size=m * 12, max_size=m * 12)))
    seen = seen.reshape(m, 3, 4)
    paths = [_write_map(folder, 0, v, seen[k]) for k, v in enumerate(voltages_v)]
    profile, summary = import_stuck_at_maps(paths, step_v=0.05)
    seen_at_or_above = np.flip(np.logical_or.accumulate(seen[::-1], axis=0), axis=0)
    expected = seen_at_or_above.reshape(m, -1).sum(axis=1)
    assert summary.faulty == tuple(expected.tolist())
    assert profile.faulty_cells(np.array(voltages_v)).tolist() == expected.tolist()
    intermittent = seen_at_or_above & ~seen
    assert summary.non_nested == np.count_nonzero(intermittent.any(axis=0))


# --- cells-csv ------------------------------------------------------------------

CSV_HEADER = "array,row,col,v_fail_v,fault_kind,p_error\n"


def _write_csv(tmp_path, rows, header=CSV_HEADER):
    path = tmp_path / "chip.csv"
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def test_cells_csv_infers_geometry_and_sorts_cells(tmp_path):
    path = _write_csv(tmp_path, ["1,2,3,0.62,1,0.5", "0,0,1,0.55,2,1"])
    profile, summary = import_cells_csv(path)
    assert (profile.arrays, profile.rows, profile.cols) == (2, 3, 4)
    cells = profile.chip_cells()
    assert cells.cell_index.tolist() == [1, 12 + 2 * 4 + 3]
    assert cells.v_fail_v.tolist() == [0.55, 0.62]
    assert cells.fault_kind.tolist() == [2, 1] and cells.p_error.tolist() == [1.0, 0.5]
    assert profile.vdd_floor_v == 0.55
    assert profile.vdd_min_v > 0.62 and profile.faulty_cells(profile.vdd_min_v) == 0
    assert profile.faulty_cells(0.62) == 1
    assert summary.arrays_without_fault_at_floor == 0 and profile.name == "chip"


def test_cells_csv_takes_the_given_geometry(tmp_path):
    profile, summary = import_cells_csv(_write_csv(tmp_path, ["1,2,3,0.6,0,1"]),
                                        arrays=4, rows=8, cols=8)
    assert (profile.arrays, profile.rows, profile.cols) == (4, 8, 8)
    assert profile.chip_cells().cell_index.tolist() == [64 + 2 * 8 + 3]
    assert summary.arrays_without_fault_at_floor == 3


@pytest.mark.parametrize("rows, kwargs, message", [
    (["0,5,0,0.6,0,1"], {"rows": 4}, r"line 2: index 5 is outside the chip's 4 rows"),
    (["0,0,0,0.6,0,1", "0,1,0,0.6,0,1", "0,0,0,0.7,1,1"], {}, r"lines 2 and 4: the same cell is listed twice"),
    (["0,0,0,1.2,0,1"], {}, r"line 2: v_fail_v 1.2 V is above the nominal supply 1 V"),
    (["0,0,0,0.6,0,1"], {"cols": 0}, r"cols = 0; expected a positive integer"),
])
def test_cells_csv_names_the_bad_row(tmp_path, rows, kwargs, message):
    with pytest.raises(ProfileImportError, match=message):
        import_cells_csv(_write_csv(tmp_path, rows), **kwargs)


def test_cells_csv_names_a_missing_column(tmp_path):
    path = _write_csv(tmp_path, ["0,0,0.6,0"], header="array,row,v_fail_v,fault_kind\n")
    with pytest.raises(ProfileImportError, match=r"chip\.csv, line 1: .* missing column\(s\) col"):
        import_cells_csv(path)
