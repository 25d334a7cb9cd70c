"""``accelsim attack``: files, the printed curve summary, and one-line user errors."""

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.sweep.results import read_csv

ARGS = ["--model", "digits-cnn-normal-8b", "--limit", "100", "--attack-examples", "64", "--quiet"]


def test_attack_writes_curve_bits_and_plot(tmp_path, capsys):
    assert main(["attack", *ARGS, "--flips", "4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "attack: digits-cnn-normal-8b: bfa, accuracy" in out and "flips to chance (10% + 1 pp)" in out
    rows = read_csv(tmp_path / "attack.csv")
    assert [int(r["flips"]) for r in rows] == [0, 1, 2, 3, 4]
    bits = np.load(tmp_path / "bits.npy")
    assert bits.dtype == np.int64 and len(bits) == 4
    assert (tmp_path / "attack.png").stat().st_size > 0


@pytest.mark.parametrize("extra, fragment", [
    (["--flips", "0"], "flips = 0"),
    (["--flips", "99999999"], "flips = 99999999"),
    (["--flips", "2", "--method", "pgd"], "method = 'pgd'"),
    (["--flips", "2", "--direction", "down"], "direction = 'down'"),
    (["--flips", "2", "--attack-cells", "profile:14nm@0.8"], "no stored bit is attackable"),
    (["--flips", "2", "--attack-cells", "14nm"], "attack_cells = '14nm'"),
    (["--flips", "2", "--layer", "nope"], "layers = 'nope'"),
    (["--flips", "2", "--profile", "14nm"], "--voltage"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, extra, fragment):
    assert main(["attack", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_sweep_with_attack_draws_and_prints_the_worst_case(tmp_path, capsys):
    args = ["sweep", "--model", "digits-cnn-normal-8b", "--voltages", "0.8,0.55", "--chips", "1", "--limit", "40",
            "--attack", "bfa:2", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "worst case: digits-cnn-normal-8b: 0.550 V" in out
    assert (tmp_path / "attack_voltage.png").stat().st_size > 0
    assert main(["sweep", *args[1:-2], "--attack", "bfa:x", "--out", str(tmp_path / "x")]) == 2
