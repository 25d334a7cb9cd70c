"""``accelsim profile list|info|synth|plot``: outputs, files written, exit codes."""

import shlex
import shutil
import subprocess
import sys

import pytest

from accelsim.cli import main
from accelsim.sram import load_profile

SHIPPED = ("14nm", "14nm-columns", "28nm-bram", "uniform")
SMALL = ["--arrays", "4", "--rows", "32", "--cols", "16"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Run in an empty folder with no $ACCELSIM_PROFILES: only shipped profiles by name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ACCELSIM_PROFILES", raising=False)


def test_list_shows_every_shipped_profile(capsys):
    assert main(["profile", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {line.split()[0] for line in lines}
    assert set(SHIPPED) <= names
    assert all("shipped" in line for line in lines if line.split()[0] in SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_info_describes_every_shipped_profile(capsys, name):
    assert main(["profile", "info", name]) == 0
    out = capsys.readouterr().out
    profile = load_profile(name)
    assert out.startswith(f"profile {name} (generated")
    assert f"{profile.arrays} arrays x {profile.rows} rows x {profile.cols} cols" in out
    assert f"nominal {profile.vdd_nominal_v:g} V" in out and f"floor {profile.vdd_floor_v:g} V" in out
    assert "accelsim profile synth" in out  # provenance: the command that made it
    assert f"{len(profile.chip_cells()):,} cells faulty at the floor" in out
    table = out.split("faulty cells\n", 1)[1].splitlines()
    floor_row = table[-1].split()
    assert float(floor_row[0]) == pytest.approx(profile.vdd_floor_v)
    assert float(floor_row[2]) == pytest.approx(profile.ber(profile.vdd_floor_v), rel=1e-3)
    assert int(floor_row[4].replace(",", "")) == len(profile.chip_cells())


def test_synth_gaussian_writes_the_profile_it_describes(capsys, tmp_path):
    out = tmp_path / "chip.npz"
    args = ["profile", "synth", "--model", "gaussian", "--out", str(out), "--mu-v", "0.45",
            "--sigma-cell-v", "0.04", "--sigma-array-v", "0.01", "--weak-columns", "2",
            "--weak-column-share", "0.4", "--sa1-to-sa0", "3", "--flip-share", "0.1",
            "--intermittent-share", "0.5", "--seed", "7", "--vdd-nominal", "0.9",
            "--vdd-min", "0.7", "--vdd-floor", "0.5", "--technology", "7nm",
            "--read-energy-per-bit-j", "3e-14", *SMALL]
    assert main(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    profile = load_profile(out)
    assert profile.name == "chip" and profile.technology == "7nm"
    assert (profile.arrays, profile.rows, profile.cols) == (4, 32, 16)
    assert (profile.vdd_nominal_v, profile.vdd_min_v, profile.vdd_floor_v) == (0.9, 0.7, 0.5)
    model = profile.generator.model
    assert (model.mu_v, model.sigma_cell_v, model.weak_columns, model.sa1_to_sa0) == (0.45, 0.04, 2, 3.0)
    assert profile.generator.seed == 7
    assert profile.energy.read_energy_per_bit_j == 3e-14


def test_synth_records_a_command_that_regenerates_the_profile(tmp_path):
    first = tmp_path / "first.npz"
    assert main(["profile", "synth", "--model", "uniform", "--p-max", "0.1", "--seed", "3",
                 "--out", str(first), *SMALL]) == 0
    source = load_profile(first).source
    words = shlex.split(source.removeprefix("generated: "))
    assert words[:3] == ["accelsim", "profile", "synth"]
    second = tmp_path / "second.npz"
    words[words.index("--out") + 1] = str(second)
    assert main(words[1:]) == 0
    assert load_profile(second).generator.fingerprint == load_profile(first).generator.fingerprint


def test_synth_uniform(tmp_path):
    out = tmp_path / "u.npz"
    assert main(["profile", "synth", "--model", "uniform", "--p-max", "0.2", "--out", str(out),
                 "--name", "rates", *SMALL]) == 0
    profile = load_profile(out)
    assert profile.name == "rates"
    assert profile.ber(profile.vdd_floor_v) == pytest.approx(0.2)


@pytest.mark.parametrize("args, message", [
    (["--model", "uniform", "--p-max", "0.1", "--mu-v", "0.4"], "--mu-v: flag(s) of the gaussian"),
    (["--model", "uniform", "--p-max", "0.1", "--vdd-min", "0.9"], "--vdd-min: flag(s) of the gaussian"),
    (["--model", "gaussian", "--p-max", "0.1"], "--p-max: flag(s) of the uniform"),
    (["--model", "uniform"], "--model uniform needs --p-max"),
    (["--model", "uniform", "--p-max", "2"], "p_max = 2.0: expected a finite number in (0.0, 1.0]"),
    (["--model", "gaussian", "--vdd-floor", "0.9"], "vdd_floor_v <= vdd_min_v <= vdd_nominal_v"),
    (["--model", "gaussian", "--leakage-k-per-v", "-1"], "energy.leakage_k_per_v = -1.0"),
])
def test_synth_errors_are_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert main(["profile", "synth", "--out", str(tmp_path / "x.npz"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "x.npz").exists()


def test_synth_into_a_missing_folder_is_a_user_error(capsys, tmp_path):
    out = tmp_path / "absent" / "x.npz"
    assert main(["profile", "synth", "--model", "uniform", "--p-max", "0.1", "--out", str(out),
                 *SMALL]) == 2
    assert "cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["info", "no-such-profile"], "available names: "),
    (["info", "missing.npz"], "does not exist"),
    (["info", "14nm", "--chip", "-1"], "chip = -1: expected an integer >= 0"),
    (["plot", "14nm", "--array", "-3"], "array = -3"),
])
def test_info_and_plot_errors_exit_2(capsys, args, message):
    assert main(["profile", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_info_on_a_damaged_file_exits_2(capsys, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    assert main(["profile", "info", str(tmp_path / "bad.npz")]) == 2
    assert "cannot be read as a profile" in capsys.readouterr().err


def test_plot_writes_a_png(capsys, tmp_path):
    out = tmp_path / "fig.png"
    assert main(["profile", "plot", "28nm-bram", "--out", str(out), "--array", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_default_name(tmp_path):
    assert main(["profile", "plot", "uniform"]) == 0
    assert (tmp_path / "profile-uniform.png").is_file()


def test_profile_without_action_prints_help(capsys):
    assert main(["profile"]) == 2
    assert "synth" in capsys.readouterr().out


def test_console_script_runs(tmp_path):
    script = shutil.which("accelsim")
    command = [script] if script else [sys.executable, "-m", "accelsim"]
    result = subprocess.run([*command, "profile", "info", "uniform"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "profile uniform (generated" in result.stdout
    failed = subprocess.run([*command, "profile", "info", "nope"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120, check=False)
    assert failed.returncode == 2
    assert failed.stderr.startswith("accelsim: error: ") and "Traceback" not in failed.stderr
