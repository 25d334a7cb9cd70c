"""``accelsim profile import``: output, provenance, and one-line errors with exit code 2."""

import subprocess
import sys

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.sram import load_profile

EXIT_USAGE = 2


def _run(capsys, *argv):
    code = main(["profile", "import", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def kc705_npz(kc705_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("import") / "kc705b.npz"
    code = main(["profile", "import", "--format", "fpga-hex", "--out", str(out),
                 *map(str, sorted(kc705_dir.glob("KC705B-*.bin")))])
    assert code == 0
    return out


def test_kc705_import_writes_a_loadable_profile(kc705_npz):
    profile = load_profile(kc705_npz)
    assert profile.name == "kc705b"  # --out's stem
    assert profile.vdd_nominal_v == 1.0
    command = profile.source["command"]
    assert command.startswith("accelsim profile import --format fpga-hex --out ")
    assert command.endswith("KC705B-0.59.bin")


def test_kc705_import_prints_the_summary(kc705_dir, tmp_path, capsys):
    files = sorted(kc705_dir.glob("KC705B-*.bin"))
    code, out, err = _run(capsys, "--format", "fpga-hex", "--out", tmp_path / "p.npz",
                          "--name", "board-b", *files)
    assert code == 0 and err == ""
    profile = load_profile(tmp_path / "p.npz")
    assert profile.name == "board-b"
    for vdd_v in (0.53, 0.55, 0.57, 0.59):
        row = next(line.split() for line in out.splitlines() if line.split()[:1] == [f"{vdd_v:g}"])
        assert int(row[2].replace(",", "")) == profile.faulty_cells(vdd_v)
    assert "fail-voltage fit: N(mu = " in out
    arrays_with_fault = np.unique(profile.chip_cells().cell_index // profile.cells_per_array).size
    assert f"arrays with no fault at the floor: {profile.arrays - arrays_with_fault}" in out


def test_profile_info_reads_the_imported_profile(kc705_npz, capsys):
    assert main(["profile", "info", str(kc705_npz)]) == 0
    out = capsys.readouterr().out
    assert "kc705b" in out


def _write_maps(folder):
    (folder / "fmap_sa0_v_0.70.txt").write_text("1,0,0\n1,1,0\n")
    (folder / "fmap_sa1_v_0.70.txt").write_text("0,0,1\n0,0,0\n")
    (folder / "fmap_sa0_v_0.80.txt").write_text("1,0,0\n0,0,0\n")
    (folder / "fmap_sa1_v_0.80.txt").write_text("0,0,0\n0,0,0\n")
    return sorted(folder.glob("fmap_*.txt"))


def test_stuck_at_maps_import(tmp_path, capsys):
    code, out, _ = _run(capsys, "--format", "stuck-at-maps", "--out", tmp_path / "m.npz",
                        "--vdd-nominal", "0.9", "--seed", "3", *_write_maps(tmp_path))
    assert code == 0
    profile = load_profile(tmp_path / "m.npz")
    assert (profile.arrays, profile.rows, profile.cols, profile.vdd_nominal_v) == (1, 2, 3, 0.9)
    assert profile.faulty_cells(np.array([0.7, 0.8])).tolist() == [4, 1]
    assert profile.source["placement"]["seed"] == 3
    assert "--seed 3" in profile.source["command"]


def test_cells_csv_import_with_geometry(tmp_path, capsys):
    csv = tmp_path / "cells.csv"
    csv.write_text("array,row,col,v_fail_v,fault_kind\n0,1,1,0.6,1\n2,0,0,0.55,0\n")
    code, out, _ = _run(capsys, "--format", "cells-csv", "--out", tmp_path / "c.npz",
                        "--arrays", "4", "--rows", "2", "--cols", "2", csv)
    assert code == 0
    profile = load_profile(tmp_path / "c.npz")
    assert (profile.arrays, profile.rows, profile.cols) == (4, 2, 2)
    assert "arrays with no fault at the floor: 2 of 4 (50%)" in out


def _hex_dump(folder, name, text=None):
    path = folder / name
    path.write_text("F" * 4096 if text is None else text)
    return path


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["--format", "fpga-hex", _hex_dump(d, "chip.bin")], "no supply voltage in the file name"),
    (lambda d: ["--format", "fpga-hex", _hex_dump(d, "c-0.5.bin", "F" * 4095 + "x")],
     "is not a hex digit"),
    (lambda d: ["--format", "fpga-hex", _hex_dump(d, "c-0.5.bin", "F" * 4000)], "4000 hex digits"),
    (lambda d: ["--format", "fpga-hex", _hex_dump(d, "c-0.5.bin"), _hex_dump(d, "c-0.6.bin", "F" * 8192)],
     "expected dumps of the same chip"),
    (lambda d: ["--format", "fpga-hex", "--rows", "4", _hex_dump(d, "c-0.5.bin")],
     "--rows: not a flag of --format fpga-hex"),
    (lambda d: ["--format", "fpga-hex", d / "missing-0.5.bin"], "no such file"),
    (lambda d: ["--format", "fpga-hex", "--vdd-nominal", "0.4", _hex_dump(d, "c-0.5.bin"),
                _hex_dump(d, "c-0.6.bin")], "above the nominal supply"),
    (lambda d: ["--format", "stuck-at-maps", _hex_dump(d, "map.txt", "0,1\n")],
     "gives no polarity and voltage"),
    (lambda d: ["--format", "cells-csv", _hex_dump(d, "c.csv", "array,row,v_fail_v,fault_kind\n0,0,0.6,0\n")],
     r"missing column(s) col"),
    (lambda d: ["--format", "cells-csv", "--step-v", "0.1", _hex_dump(d, "c.csv", "x")],
     "--step-v: not a flag of --format cells-csv"),
    (lambda d: ["--format", "cells-csv", _hex_dump(d, "a.csv"), _hex_dump(d, "b.csv")],
     "takes one CSV file, got 2"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make_args, message):
    code, out, err = _run(capsys, "--out", tmp_path / "p.npz", *make_args(tmp_path))
    assert code == EXIT_USAGE
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "p.npz").exists()


def test_unwritable_output_is_a_user_error(tmp_path, capsys):
    dump = _hex_dump(tmp_path, "c-0.5.bin")
    code, _, err = _run(capsys, "--format", "fpga-hex", "--step-v", "0.1",
                        "--out", tmp_path / "no-such-folder" / "p.npz", dump)
    assert code == EXIT_USAGE and "cannot be written" in err


def test_command_line_error_has_no_traceback(tmp_path):
    dump = _hex_dump(tmp_path, "chip.bin")
    result = subprocess.run(
        [sys.executable, "-m", "accelsim", "profile", "import", "--format", "fpga-hex",
         "--out", str(tmp_path / "p.npz"), str(dump)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_USAGE
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("accelsim: error: ") and "chip.bin" in result.stderr


def test_summary_without_fit_says_so(tmp_path, capsys):
    (tmp_path / "fmap_sa0_v_0.70.txt").write_text("1,0\n0,0\n")
    code, out, _ = _run(capsys, "--format", "stuck-at-maps", "--step-v", "0.05",
                        "--out", tmp_path / "p.npz", tmp_path / "fmap_sa0_v_0.70.txt")
    assert code == 0
    assert "fail-voltage fit: none" in out
    assert load_profile(tmp_path / "p.npz").vdd_min_v == pytest.approx(0.75)
