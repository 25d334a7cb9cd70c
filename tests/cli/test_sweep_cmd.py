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
    (["--adaptive", "--halfwidth", "0"], "halfwidth_pp"),
    (["--execution", "integer"], "--act-bits"),
    (["--act-bits", "9"], "--act-bits = 9"),
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


SMALL = ["--model", "digits-cnn-normal-8b", "--profile", "14nm", "--voltages", "0.8:0.5:7", "--chips", "3",
         "--limit", "150", "--quiet"]


def _accelsim(*args, preexec_fn=None):
    import os

    return subprocess.Popen([sys.executable, "-m", "accelsim", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
                            env={**os.environ, "MPLBACKEND": "Agg"})


@pytest.mark.parametrize("signame, code", [
    ("SIGTERM", 143),
    pytest.param("SIGHUP", 129, marks=pytest.mark.slow),
    pytest.param("SIGINT", 130, marks=pytest.mark.slow),
])
def test_signals_close_the_journal_and_print_the_resume_command(tmp_path, signame, code):
    import signal
    import time

    # Two models, so that the signal lands well before the last row (rows are journalled as
    # their points finish, also when a model's chips share one pass).
    # A shell's background job ignores SIGINT and its children inherit that (then Python never
    # raises KeyboardInterrupt); the sweep runs here as from a terminal, with the default action.
    process = _accelsim("sweep", *SMALL, "--model", "digits-cnn-clipping-8b", "--out", str(tmp_path),
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    journal = tmp_path / "journal.jsonl"
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 2:
            break
        time.sleep(0.01)
    if process.poll() is not None:
        process.communicate()
        pytest.fail("the sweep finished before the signal: the test proves nothing")
    process.send_signal(getattr(signal, signame))
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"accelsim: interrupted by {signame}")
    assert lines[0].endswith("--resume") and "Traceback" not in err
    done = len(journal.read_bytes().splitlines())
    assert 2 <= done < 42
    resumed = _accelsim(*lines[0].split("resume with: accelsim ")[1].split())
    assert resumed.communicate(timeout=300) and resumed.returncode == 0
    assert len(journal.read_bytes().splitlines()) == 42


def test_a_full_disk_is_one_line_and_the_sweep_resumes(tmp_path):
    import resource

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))  # the journal outgrows it mid-sweep

    process = _accelsim("sweep", *SMALL, "--out", str(tmp_path), preexec_fn=limit_file_size)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "file size limit" in lines[0] and "--resume" in lines[0]
    kept = len((tmp_path / "journal.jsonl").read_bytes().splitlines())
    assert kept >= 1
    resumed = _accelsim("sweep", *SMALL, "--out", str(tmp_path), "--resume")
    assert resumed.communicate(timeout=300) and resumed.returncode == 0
    assert len((tmp_path / "journal.jsonl").read_bytes().splitlines()) == 21


@pytest.mark.parametrize("extra, fragment", [
    (["--tolerance", "-1"], "--tolerance = -1.0: expected"),
    (["--tolerance", "nan"], "--tolerance = nan: expected"),
    (["--voltages", ""], "--voltages: '' is neither"),
    (["--voltages", "0.8:0.5:1000000000"], "exceed the limit"),
    (["--chips", "1000000000"], "exceeds the limit"),
    (["--seed", "-3"], "seed = -3: expected an integer"),
])
def test_values_once_silently_accepted_are_refused(tmp_path, capsys, extra, fragment):
    assert main(["sweep", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not (tmp_path / "o").exists()


def test_plot_of_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    (tmp_path / "sweep.json").write_text("")
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a sweep summary" in err[0]
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


def test_adaptive_sweep_writes_images_and_halfwidths(tmp_path, capsys):
    from accelsim.sweep.results import read_csv

    assert main(["sweep", *ARGS, "--out", str(tmp_path), "--adaptive", "--halfwidth", "1"]) == 0
    rows = read_csv(tmp_path / "sweep.csv")
    assert all(0 < int(r["n_images"]) <= 100 and float(r["accuracy_halfwidth"]) >= 0 for r in rows)


def test_a_sweep_beyond_the_memory_budget_is_refused_up_front(tmp_path, capsys, monkeypatch):
    from accelsim.sram import _budget

    monkeypatch.setattr(_budget, "available_memory_bytes", lambda: 2**10)  # a tiny fake machine
    out = tmp_path / "o"
    assert main(["sweep", "--model", "digits-cnn-normal-8b", "--profile", "14nm", "--voltages", "0.8:0.5:3",
                 "--limit", "10", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:")
    assert re.search(r"down to 0\.5 V means about [\d,]+ faulty cells, an estimated [\d.]+ MiB, but only "
                     r"0\.0 MiB is available", err[0])
    assert not (out / "sweep.csv").exists() and not (out / "journal.jsonl").exists()  # before any work


def test_a_language_model_sweeps_its_perplexity_from_the_zoo(tmp_path, capsys):
    """No accuracy, so no operating point, plots or report: the median perplexity per voltage instead."""
    from accelsim.sweep.results import read_csv

    args = ["sweep", "--model", "text-char-lm-randbet-int8", "--metric", "perplexity", "--voltages", "0.8,0.56",
            "--chips", "2", "--limit", "4", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    captured = capsys.readouterr()
    rows = read_csv(tmp_path / "sweep.csv")
    assert len(rows) == 4 and {r["metric"] for r in rows} == {"perplexity"} and {r["accuracy"] for r in rows} == {""}
    medians = {v: sorted(float(r["metric_value"]) for r in rows if float(r["vdd_v"]) == v) for v in (0.8, 0.56)}
    lines = [line for line in captured.out.splitlines() if line.startswith("perplexity (median over chips)")]
    assert lines == [f"perplexity (median over chips): text-char-lm-randbet-int8: 0.8 V "
                     f"{sum(medians[0.8]) / 2:.4g}, 0.56 V {sum(medians[0.56]) / 2:.4g}"]
    assert not any(line.startswith("operating point") for line in captured.out.splitlines())
    assert not (tmp_path / "energy_accuracy.png").exists()
    assert "warning" not in captured.err
