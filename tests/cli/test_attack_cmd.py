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


def test_attack_on_protected_memory_writes_replayable_bits(tmp_path, capsys):
    import torch

    from accelsim import load_dataset, load_model

    assert main(["attack", *ARGS, "--flips", "5", "--protection", "secded:8", "--on-detect", "keep",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(secded:8, on_detect=keep)" in out
    bits = np.load(tmp_path / "bits.npy")
    assert 2 <= len(bits) <= 5
    qm = load_model("digits-cnn-normal-8b")
    x, y = load_dataset("digits", split="test", limit=100)
    replay = qm.run(x, None, None, protection="secded:8", on_detect="keep", extra_flips=bits)
    rows = read_csv(tmp_path / "attack.csv")
    assert float(rows[-1]["accuracy"]) == float((replay.logits.argmax(1) == y).double().mean())
    assert int(rows[-1]["flips"]) == len(bits) and torch.is_tensor(replay.logits)


@pytest.mark.parametrize("extra, fragment", [
    (["--flips", "1", "--protection", "secded:64"], "SECDED corrects any single flip"),
    (["--flips", "99999999", "--protection", "secded:64"], "check bits included"),
    (["--flips", "2", "--protection", "secded:7"], "protection = 'secded:7'"),
    (["--flips", "2", "--protection", "parity:8", "--on-detect", "drop"], "on_detect = 'drop'"),
])
def test_protected_attack_user_errors_exit_2_with_one_line(tmp_path, capsys, extra, fragment):
    assert main(["attack", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_sweep_attack_with_bank_voltages_is_refused_in_one_line(tmp_path, capsys):
    args = ["sweep", "--model", "digits-cnn-normal-8b", "--voltages", "0.8", "--chips", "1", "--limit", "20",
            "--attack", "bfa:2", "--bank-voltages", "0.8,0.7", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "banked read" in err[0]
