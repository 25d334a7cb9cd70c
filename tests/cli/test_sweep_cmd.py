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
                 "accuracy_voltage.png", "ber_voltage.png", "error_ber.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert main(["plot", str(tmp_path)]) == 0


@pytest.mark.parametrize("fmt, magic", [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_plot_formats(tmp_path, capsys, fmt, magic):
    assert main(["sweep", *ARGS, "--out", str(tmp_path)]) == 0
    assert main(["plot", str(tmp_path), "--format", fmt, "--energy-ref", "digits-cnn-randbet-8b"]) == 0
    for name in ("energy_accuracy", "accuracy_voltage", "error_ber", "ber_voltage"):
        assert (tmp_path / f"{name}.{fmt}").read_bytes().startswith(magic)
    assert main(["plot", str(tmp_path), "--energy-ref", "nope"]) == 2
    assert "--energy-ref 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("extra, fragment", [
    (["--voltages", "0.8:0.5"], "START:STOP:N"),
    (["--voltages", "0.95,0.7"], "0.95"),
    (["--model", "nope"], "nope"),
    (["--profile", "nope"], "nope"),
    (["--dataset", "mnist:/nonexistent"], "nonexistent"),
    (["--executor", "spark"], "executor"),
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


def test_overwrite_replaces_only_the_sweep_files(tmp_path, capsys):
    assert main(["sweep", *ARGS, "--out", str(tmp_path)]) == 0
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["sweep", *ARGS, "--out", str(tmp_path)]) == 2
    assert "--overwrite to replace it" in capsys.readouterr().err
    assert main(["sweep", *ARGS, "--out", str(tmp_path), "--overwrite", "--chips", "1"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert {line.split(",")[5] for line in (tmp_path / "sweep.csv").read_text().splitlines()[1:]} == {"0"}
    assert main(["sweep", *ARGS, "--out", str(tmp_path), "--overwrite", "--resume"]) == 2


def test_default_sweep_uses_mnist_when_accelsim_data_has_it(tmp_path, monkeypatch, mnist_dir):
    import argparse

    from accelsim.cli.sweep_cmd import default_models_and_data

    args = argparse.Namespace(model=None, dataset=None, limit=None)
    monkeypatch.delenv("ACCELSIM_DATA", raising=False)
    models, dataset, limit = default_models_and_data(args)
    assert dataset == "digits" and limit is None and models[0] == "digits-cnn-normal-8b"
    monkeypatch.setenv("ACCELSIM_DATA", str(mnist_dir.parent))
    models, dataset, limit = default_models_and_data(args)
    assert dataset == "mnist" and limit * 0.01 >= 10 and all(m.startswith("mnist-") for m in models)
    args.model = ["digits-cnn-normal-8b"]
    assert default_models_and_data(args) == (("digits-cnn-normal-8b",), None, None)


def test_a_checkpoints_own_dataset_is_the_default_and_a_mismatch_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ACCELSIM_DATA", raising=False)
    assert main(["sweep", "--quiet", "--model", "mnist-lenet-normal-8b", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "own dataset 'mnist'" in err[0] and "$ACCELSIM_DATA" in err[0]
    assert main(["sweep", "--quiet", "--model", "mnist-lenet-normal-8b", "--dataset", "digits",
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expects inputs of shape 1x28x28" in err[0] and "--dataset mnist" in err[0]
