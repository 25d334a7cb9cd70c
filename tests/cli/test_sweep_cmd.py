import re
import subprocess
import sys

import pytest

from accelsim.cli import main

ARGS = ["--model", "digits-cnn-normal-8b", "--model", "digits-cnn-randbet-8b", "--profile", "14nm",
        "--voltages", "0.8:0.56:4", "--chips", "2", "--limit", "100", "--quiet"]
LINE = re.compile(r"^operating point: (\S+): (\d\.\d+ V, energy [-+]\d+\.\d% vs nominal, weight SRAM "
                  r"[-+]\d+\.\d% vs Vmin, accuracy \d+\.\d% \([-+]\d+\.\d\)|none within tolerance.*)$")


def test_sweep_prints_one_answer_per_model_and_draws(tmp_path, capsys):
    assert main(["sweep", *ARGS, "--out", str(tmp_path)]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("operating point")]
    assert [LINE.match(l)[1] for l in lines] == ["digits-cnn-normal-8b", "digits-cnn-randbet-8b"]
    for name in ("sweep.csv", "summary.csv", "sweep.json", "energy_accuracy.png",
                 "accuracy_voltage.png", "ber_voltage.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert main(["plot", str(tmp_path)]) == 0


@pytest.mark.parametrize("extra, fragment", [
    (["--voltages", "0.8:0.5"], "START:STOP:N"),
    (["--voltages", "0.95,0.7"], "0.95"),
    (["--model", "nope"], "nope"),
    (["--profile", "nope"], "nope"),
    (["--dataset", "mnist:/nonexistent"], "nonexistent"),
    (["--executor", "spark"], "executor"),
    (["--adaptive", "--halfwidth", "0"], "halfwidth_pp"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, extra, fragment):
    assert main(["sweep", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_plot_of_missing_folder_is_a_user_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "summary.csv" in capsys.readouterr().err


def test_console_script_reports_errors_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "accelsim", "sweep", "--profile", "nope",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_adaptive_sweep_writes_images_and_halfwidths(tmp_path, capsys):
    from accelsim.sweep.results import read_csv

    assert main(["sweep", *ARGS, "--out", str(tmp_path), "--adaptive", "--halfwidth", "1"]) == 0
    rows = read_csv(tmp_path / "sweep.csv")
    assert all(0 < int(r["n_images"]) <= 100 and float(r["accuracy_halfwidth"]) >= 0 for r in rows)
