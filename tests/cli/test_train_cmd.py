"""``accelsim train``: a quick run end to end, its summary, resume notice, and errors exiting 2."""

import pytest
import torch

from accelsim.cli import main
from accelsim.train import load_checkpoint, resume_path


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as --threads 1 would set (restored after each test)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


QUICK = ["--threads", "1", "--dataset", "digits", "--arch", "digits-mlp", "--epochs", "1", "--train-limit", "128",
         "--batch-size", "64", "--quiet"]


def test_trains_and_summarises(tmp_path, capsys):
    out = tmp_path / "digits-mlp-randbet-4b.pt"
    code = main(["train", *QUICK, "--bits", "4", "--method", "randbet", "--clip", "0.1", "--p-train", "0.05",
                 "--fault-model", "sa1", "--act-sparsity", "0.01", "--seed", "7", "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"wrote {out}: digits-mlp-randbet-4b (randbet, 4 bits, rquant)"
    assert lines[1].startswith("clean accuracy ") and "sharpness" in lines[3]
    _, meta = load_checkpoint(out)
    config = meta["config"]
    assert (config["bits"], config["clip"], config["p_train"], config["fault_model"], config["seed"]) == (
        4, 0.1, 0.05, "sa1", 7)
    assert config["act_sparsity"] == 0.01 and meta["method"] == "randbet"


def test_trains_in_a_number_format_that_sweep_runs_as_trained(tmp_path, capsys):
    import csv

    from accelsim import load_dataset
    from accelsim.models import load_model

    out = tmp_path / "g32.pt"
    quick = [a if a != "128" else "64" for a in QUICK]  # --train-limit 64
    code = main(["train", *quick, "--scheme", "int4-g32", "--method", "randbet", "--p-train", "0.01",
                 "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == f"wrote {out}: g32 (randbet, 4 bits, int4-g32)"
    qm = load_model(out)
    x, y = load_dataset("digits", "test")
    assert qm.scheme.name == "int4-g32" and qm.bits == 4 and qm.meta["trained_quant_scheme"] == "int4-g32"
    assert main(["sweep", "--model", str(out), "--profile", "14nm", "--voltages", "0.8:0.6:2", "--chips", "1",
                 "--limit", "50", "--quiet", "--out", str(tmp_path / "sweep")]) == 0
    with open(tmp_path / "sweep" / "sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["model"] == "g32" for row in rows)
    assert all((row["quant_scheme"], row["bits"]) == ("int4-g32", "4") for row in rows)  # as trained
    assert float(rows[0]["clean_accuracy"]) == pytest.approx(float((qm.forward(x[:50]).argmax(1) == y[:50])
                                                                   .float().mean()))


def test_fine_tunes_a_float16_checkpoint_with_adamw(tmp_path, capsys):
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    assert main(["train", *QUICK, "--optimizer", "adamw", "--lr", "0.01", "--checkpoint-dtype", "float16",
                 "--out", str(first)]) == 0
    capsys.readouterr()
    assert main(["train", *QUICK, "--optimizer", "adamw", "--lr", "0.001", "--init", str(first), "--method",
                 "randbet", "--p-train", "0.01", "--no-sharpness", "--out", str(second)]) == 0
    assert capsys.readouterr().out.splitlines()[3] == "sharpness: not measured (--no-sharpness)"
    state_dict, meta = load_checkpoint(second)
    assert meta["sharpness"] is None and meta["config"]["sharpness"] is False
    assert meta["config"]["init"] == str(first) and meta["config"]["optimizer"] == "adamw"
    assert meta["config"]["checkpoint_dtype"] == "float32" and state_dict["fc1.weight"].dtype == torch.float32
    assert load_checkpoint(first)[0]["fc1.weight"].dtype == torch.float16


def test_announces_a_resume(tmp_path, capsys):
    out = tmp_path / "m.pt"
    resume_path(out).write_bytes(b"damaged")
    assert main(["train", *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "resuming from" in err and "delete it to start over" in err


@pytest.mark.parametrize("arguments, message", [
    (["--method", "randbet"], "needs p_train"),
    (["--p-train", "0.1"], "only applies to RandBET"),
    (["--method", "randbet", "--p-train", "0.1", "--fault-model", "bogus"], "fault model"),
    (["--arch", "lenet"], "built for mnist"),
    (["--clip", "-1"], "clip"),
    (["--scheme", "int4-g32", "--bits", "8"], "stores 4-bit words; bits = 8 cannot change it"),
    (["--scheme", "bfp-16", "--method", "advbet", "--adv-flips", "3"], "AdvBET ranks bits one word per weight"),
    (["--scheme", "int3"], "unknown quantization scheme 'int3'"),
    (["--threads", "0"], "--threads"),
    (["--optimizer", "adam"], "optimizer = 'adam'"),
    (["--checkpoint-dtype", "int8"], "checkpoint_dtype"),
    (["--init", "no-such-model"], "neither a zoo name nor a checkpoint file"),
    (["--init", "digits-cnn-normal-8b"], "is a 'digits-cnn' model, not 'digits-mlp'"),
    (["--dataset", "mnist:/no/such/folder", "--arch", "lenet"], "/no/such/folder"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, arguments, message):
    code = main(["train", *QUICK, "--out", str(tmp_path / "m.pt"), *arguments])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("accelsim: error:")


def test_missing_output_folder(tmp_path, capsys):
    assert main(["train", *QUICK, "--out", str(tmp_path / "nowhere" / "m.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
