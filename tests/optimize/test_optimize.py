"""accelsim.optimize: held-out chips, results folder, resume, bad input."""

import json
import re

import pytest

from accelsim.cli import main
from accelsim.optimize import OptimizeError, format_optimum, optimize

LINE = re.compile(r"^optimum: (\S+): banks \[(\d\.\d+(, )?)+\] V, protection \[[^\]]+\], energy "
                  r"[-+]\d+\.\d% vs nominal \(([-+]\d+\.\d% vs best uniform voltage|no uniform voltage "
                  r"qualifies)\), accuracy \d+\.\d% \([-+]\d+\.\d\) on held-out chips, yield \d+%$")
SMALL = dict(profile="14nm", dataset="digits", banks=2, chips=2, holdout_chips=2, limit=80,
             voltages_v=(0.8, 0.65, 0.6, 0.55))


def test_optimize_writes_its_folder_and_resumes(tmp_path):
    out = tmp_path / "o"
    result = optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out)
    assert LINE.match(format_optimum(result)), format_optimum(result)
    assert set(result.holdout_chips).isdisjoint(result.calibration_chips)
    assert len(result.bank_vdd_v) == 2 and result.energy_j <= result.nominal_energy_j
    for name in ("candidates.csv", "pareto.csv", "uniform.csv", "sensitivity.csv", "optimum.json",
                 "journal.jsonl"):
        assert (out / name).stat().st_size > 0
    record = json.loads((out / "optimum.json").read_text())
    assert record["line"] == format_optimum(result)
    lines = (out / "journal.jsonl").read_text().count("\n")
    with pytest.raises(OptimizeError, match="--resume"):
        optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out)
    again = optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out, resume=True)
    assert again == result
    assert (out / "journal.jsonl").read_text().count("\n") == lines  # nothing recomputed


@pytest.mark.parametrize("extra, fragment", [
    (["--yield", "0"], "--yield"),
    (["--yield", "1.01"], "--yield"),
    (["--tolerance", "-0.5"], "--tolerance"),
    (["--holdout-chips", "0"], "--holdout-chips"),
    (["--chips", "0"], "--chips"),
    (["--yield-margin", "-0.1"], "--yield-margin"),
    (["--yield-margin", "1"], "--yield-margin"),
    (["--activations", "9"], "--activations"),
    (["--banks", "99"], "--banks"),
    (["--protection", "secded:7"], "secded:7"),
    (["--protection", "msb:12"], "K <= 8"),
    (["--msb-split", "8"], "--msb-split 8"),
    (["--msb-split", "-1"], "--msb-split"),
    (["--msb-split", "3", "--protection", "msb:4"], "K <= 3"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, fragment):
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
            "--out", str(tmp_path / "o"), "--quiet", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_a_partial_journal_line_is_dropped_on_resume(tmp_path):
    from accelsim.optimize import _Journal

    path = tmp_path / "journal.jsonl"
    path.write_text('{"key": "a", "accuracies": [0.5]}\n{"key": "b", "accur')
    journal = _Journal(path, resume=True)
    journal.put("c", [0.25])
    journal.close()
    again = _Journal(path, resume=True)
    again.close()
    assert again.rows == {"a": [0.5], "c": [0.25]}


def test_cli_prints_the_optimum_and_draws_the_front(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "60",
            "--banks", "2", "--chips", "2", "--holdout-chips", "1", "--yield", "0.5", "--out", str(out),
            "--voltages", "0.8,0.62,0.58,0.55",
            "--quiet"]
    assert main(argv) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("optimum:")]
    assert len(lines) == 1 and LINE.match(lines[0])
    assert (out / "front.png").stat().st_size > 0


@pytest.mark.slow  # a two-process LocalCluster: over 40 s on the 2-core machine
def test_dask_gives_the_local_results(tmp_path):
    # Two worker processes (a new LocalCluster); every file but the journal's line order
    # must match the local run's, and so must the result.
    import logging

    from dask.distributed import LocalCluster

    small = dict(SMALL, limit=40, chips=2, holdout_chips=1, yield_target=0.5)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        # Plain banks, then banks with the activation SRAM's domain (workers re-quantize activations).
        for tag, extra in (("plain", {}), ("act", {"act_bits": 8})):
            local = optimize("digits-cnn-normal-8b", **small, **extra, out=tmp_path / f"local-{tag}")
            dask = optimize("digits-cnn-normal-8b", **small, **extra, out=tmp_path / f"dask-{tag}",
                            executor=f"dask:{cluster.scheduler_address}")
            assert dask == local
            for name in ("candidates.csv", "pareto.csv", "uniform.csv", "sensitivity.csv"):
                assert (tmp_path / f"dask-{tag}" / name).read_bytes() == \
                    (tmp_path / f"local-{tag}" / name).read_bytes()
            journal = {json.loads(line)["key"]: json.loads(line)["accuracies"]
                       for line in (tmp_path / f"local-{tag}" / "journal.jsonl").read_text().splitlines()}
            assert journal == {json.loads(line)["key"]: json.loads(line)["accuracies"] for line in
                               (tmp_path / f"dask-{tag}" / "journal.jsonl").read_text().splitlines()}
        assert local.act_vdd_v is not None


def test_bad_executor_loses_nothing(tmp_path, capsys):
    assert main(["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
                 "--executor", "spark", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--executor 'spark'" in err[0]
    assert not (tmp_path / "o" / "journal.jsonl").exists()


@pytest.mark.slow  # waits for the connection timeout (10 s)
def test_unreachable_scheduler_loses_nothing(tmp_path, capsys):
    # One line, and the folder is still free for a rerun.
    assert main(["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
                 "--executor", "dask:tcp://127.0.0.1:9", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Dask scheduler" in err[0]
    assert not (tmp_path / "o" / "journal.jsonl").exists()


def _act_model():
    import accelsim
    from accelsim.engine import QuantizedModel
    from accelsim.quant import ActivationQuantizer

    qm = accelsim.load_model("digits-cnn-normal-8b")
    x, _ = accelsim.load_dataset("digits")
    return QuantizedModel.from_torch(qm.reference_module(), qm.scheme, x[:64],
                                     meta={"name": "digits-act8"}, act_quant=ActivationQuantizer(8))


def test_activation_domain_is_searched_and_priced(tmp_path):
    from accelsim.sweep.results import read_csv

    qm = _act_model()
    small = dict(SMALL, limit=60, chips=2, holdout_chips=1, yield_target=0.5)
    result = optimize(qm, **small, out=tmp_path / "a", activations=True)
    assert result.act_vdd_v is not None and result.act_vdd_v < 0.8  # the activation SRAM was lowered
    assert ", activations " in format_optimum(result)
    rows = read_csv(tmp_path / "a" / "candidates.csv")
    assert {"act_vdd_v"} <= set(rows[0])
    # The chosen point's energy is the weight banks' plus the activation SRAM at its voltage.
    plain = optimize(qm, **small, out=tmp_path / "p")
    assert plain.act_vdd_v is None and ", activations" not in format_optimum(plain)
    assert result.energy_j < plain.energy_j
    import accelsim
    from accelsim.accel import default_accelerator
    from accelsim.accel.banks import banked_energy

    x, _ = accelsim.load_dataset("digits")
    workloads = qm.workloads(x[:60])
    banks = [list(layers) for layers in result.bank_layers]
    from accelsim.accel.banks import WeightBank

    split = [WeightBank(f"bank{k}", 1, tuple(layers)) for k, layers in enumerate(banks)]
    profile = accelsim.load_profile("14nm")
    at_nominal = banked_energy(default_accelerator(), workloads, profile.energy, result.bank_vdd_v, 0.8,
                               banks=split)
    lowered = banked_energy(default_accelerator(), workloads, profile.energy, result.bank_vdd_v, 0.8,
                            banks=split, act_vdd_v=result.act_vdd_v)
    assert lowered.act_mem_j == pytest.approx(at_nominal.act_mem_j * (result.act_vdd_v / 0.8) ** 2)
    with pytest.raises(OptimizeError, match="act_quant"):
        optimize("digits-cnn-normal-8b", **small, out=tmp_path / "z", activations=True)


def test_yield_margin_is_stricter_on_calibration_only(tmp_path):
    from accelsim.sweep.results import read_csv

    small = dict(SMALL, limit=60, chips=4, holdout_chips=2, yield_target=0.5)
    plain = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "p")
    strict = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "s", yield_margin=0.5)
    # Every calibration-feasible candidate of the strict run has all 4 chips good ...
    for row in read_csv(tmp_path / "s" / "candidates.csv"):
        assert (row["feasible"].lower() == "true") == (float(row["yield"]) >= 1.0)
    assert strict.weight_mem_energy_j >= plain.weight_mem_energy_j
    # ... while the uniform baseline keeps the target itself.
    assert read_csv(tmp_path / "s" / "uniform.csv") == read_csv(tmp_path / "p" / "uniform.csv")
    assert strict.uniform_vdd_v == plain.uniform_vdd_v


def test_cli_activation_domain_on_a_zoo_model(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "60",
            "--banks", "2", "--chips", "2", "--holdout-chips", "1", "--yield", "0.5", "--out", str(out),
            "--voltages", "0.8,0.62,0.58", "--activations", "8", "--quiet"]
    assert main(argv) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("optimum:")][0]
    assert ", activations 0." in line
    record = json.loads((out / "optimum.json").read_text())
    assert record["act_vdd_v"] in (0.8, 0.62, 0.58)


def test_sensitivity_mapping_groups_layers_by_floor(tmp_path):
    small = dict(SMALL, limit=60, chips=2, holdout_chips=1, yield_target=0.5, banks=3)
    result = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "s", mapping="sensitivity")
    record = json.loads((tmp_path / "s" / "optimum.json").read_text())
    assert record["bank_mapping"] == "sensitivity"
    from accelsim.sweep.results import read_csv

    floors = {}
    for row in read_csv(tmp_path / "s" / "sensitivity.csv"):
        if float(row["yield"]) >= 0.5:
            floors[row["layer"]] = min(floors.get(row["layer"], 0.8), float(row["vdd_v"]))
    layers = [layer for bank in result.bank_layers for layer in bank]
    assert sorted(layers) == sorted(set(layers)) and len(result.bank_layers) == 3
    # Sorted groups: every layer of a bank with a higher head floor has a floor >= every layer below it.
    heads = [max(floors.get(layer, 0.8) for layer in bank) for bank in result.bank_layers]
    for i, bank in enumerate(result.bank_layers):
        for j, other in enumerate(result.bank_layers):
            if heads[i] > heads[j]:
                assert min(floors.get(layer, 0.8) for layer in bank) >= max(floors.get(layer, 0.8)
                                                                             for layer in other)
    # The same chips and ladder with contiguous banks: one more evaluated mapping, same baseline.
    plain = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "c")
    assert plain.reference_accuracy == result.reference_accuracy


def test_balanced_mapping_uses_the_balanced_split(tmp_path):
    from accelsim.accel import default_accelerator
    from accelsim.accel.banks import split_layers
    from accelsim.data import load_dataset
    from accelsim.models import load_model

    small = dict(SMALL, limit=60, chips=2, holdout_chips=1, yield_target=0.5, banks=3)
    result = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "b", mapping="balanced")
    record = json.loads((tmp_path / "b" / "optimum.json").read_text())
    assert record["bank_mapping"] == "balanced"
    x, _ = load_dataset("digits", split="test")
    layer_bits = [(w.name, w.n_weights * w.weight_bits) for w in load_model("digits-cnn-normal-8b").workloads(x[:60])]
    expected = split_layers(layer_bits, 3, default_accelerator().weight_memory.capacity_bits, method="balanced")
    assert result.bank_layers == tuple(b.layers for b in expected)
    bits = dict(layer_bits)
    squares = sum(sum(bits[layer] for layer in bank) ** 2 for bank in result.bank_layers)
    assert squares <= sum(sum(bits[layer] for layer in b.layers) ** 2 for b in split_layers(layer_bits, 3))


def test_sensitivity_mapping_with_accelerator_banks_is_refused(tmp_path, capsys):
    from accelsim.accel import default_accelerator

    text = default_accelerator().to_toml() + ('\n[[weight_banks]]\nname = "all"\ncapacity_bits = 65536\n'
                                              'layers = ["conv1", "norm1", "conv2", "norm2", "fc1", "fc2"]\n')
    (tmp_path / "a.toml").write_text(text)
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
            "--accelerator", str(tmp_path / "a.toml"), "--bank-mapping", "sensitivity",
            "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--bank-mapping sensitivity" in err[0]
    assert main(["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
                 "--bank-mapping", "random", "--out", str(tmp_path / "p"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--bank-mapping" in err[0]


def test_the_any_scheme_baseline_is_at_least_as_strong(tmp_path):
    from accelsim.sweep.results import read_csv

    small = dict(SMALL, limit=60, chips=2, holdout_chips=2, yield_target=0.5)
    result = optimize("digits-cnn-normal-8b", **small, protections=("none", "secded:16"), out=tmp_path / "o")
    ok = [r for r in read_csv(tmp_path / "o" / "uniform.csv") if r["feasible"].lower() == "true"]
    best = min(ok, key=lambda r: float(r["weight_mem_energy_j"]))
    assert result.uniform_any_weight_mem_energy_j == float(best["weight_mem_energy_j"])
    assert result.uniform_any_protection == best["protection"]
    assert result.uniform_any_weight_mem_energy_j <= result.uniform_weight_mem_energy_j
    assert result.saving_vs_uniform_any <= result.saving_vs_uniform + 1e-12
    only_none = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "n")
    assert only_none.saving_vs_uniform_any == only_none.saving_vs_uniform


def _journal_accuracies(out, voltages, chips):
    """Per-chip accuracies the journal holds for ``voltages`` on ``chips``."""
    for line in (out / "journal.jsonl").read_text().splitlines():
        entry = json.loads(line)
        key = json.loads(entry["key"])
        if key[1] == [round(v, 9) for v in voltages] and key[3] == list(chips):
            return entry["accuracies"]
    raise LookupError(f"{voltages} on chips {chips} is not in the journal")


def test_validation_chips_choose_a_point_that_holds_on_them(tmp_path):
    small = dict(SMALL, limit=60, chips=2, holdout_chips=2, yield_target=0.5,
                 voltages_v=(0.8, 0.62, 0.6, 0.58, 0.56, 0.54))
    plain = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "p")
    checked = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "v", validation_chips=3)
    assert plain.validation_chips == () and plain.holdout_chips == (2, 3)
    assert checked.validation_chips == (2, 3, 4) and checked.holdout_chips == (5, 6)
    # The plain run takes the cheapest calibration-feasible point; validation can only pass over some.
    assert checked.weight_mem_energy_j >= plain.weight_mem_energy_j
    def validation_yield(voltages):
        accs = _journal_accuracies(tmp_path / "v", voltages, checked.validation_chips)
        return sum((checked.reference_accuracy - a) * 100 <= 1.0 + 1e-9 for a in accs) / len(accs)

    assert validation_yield(checked.bank_vdd_v) >= 0.5
    # On these chips the plain run's choice misses the target on the validation chips: it was passed over.
    assert validation_yield(plain.bank_vdd_v) < 0.5 and checked.bank_vdd_v != plain.bank_vdd_v
    record = json.loads((tmp_path / "v" / "optimum.json").read_text())
    assert record["validation_chips"] == [2, 3, 4] and "validation chips" in record["feasibility"]
    # The margin raises the bar on the validation chips too (target 0.5 + 0.5: every chip good).
    strict = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "m", validation_chips=3, yield_margin=0.5)
    accs = _journal_accuracies(tmp_path / "m", strict.bank_vdd_v, strict.validation_chips)
    assert all((strict.reference_accuracy - a) * 100 <= 1.0 + 1e-9 for a in accs)
    assert strict.weight_mem_energy_j >= checked.weight_mem_energy_j


@pytest.mark.parametrize("margin, expected", [(0.0, "cheap"), (0.3, "safe")])
def test_validation_asks_for_the_margin_too(margin, expected):
    """Only path points are validated; one passing the bare target is passed over when the margin asks for more."""
    from types import SimpleNamespace

    from accelsim.optimize import _Optimizer

    # Validation accuracies: the cheap point has 3 of 5 chips within tolerance (60%), the safe one all 5;
    # a trial move off the path, cheaper still, passes too but is never validated.
    validation = {"cheap": [0.9, 0.9, 0.9, 0.5, 0.5], "safe": [0.9] * 5, "trial": [0.9] * 5}
    stub = SimpleNamespace(reference=0.9, tolerance_pp=1.0, yield_target=0.5, yield_margin=margin,
                           bank_layers=(("l",),), validation=tuple(range(5)), bank_bits=())
    stub.chip_yield = _Optimizer.chip_yield.__get__(stub)
    stub.feasible = _Optimizer.feasible.__get__(stub)
    stub.accuracies_many = lambda requests: [validation[r[2][0]] for r in requests]
    candidates = [{"bank_vdd_v": [0.6], "protections": [name], "feasible": True, "weight_mem_energy_j": e,
                   "on_path": name != "trial"} for name, e in (("trial", 0.5), ("cheap", 1.0), ("safe", 2.0))]
    chosen = _Optimizer.validate(stub, candidates, candidates[1], "weight_mem_energy_j")
    assert chosen["protections"] == [expected]


def test_cli_rejects_negative_validation_chips(tmp_path, capsys):
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
            "--validation-chips", "-1", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--validation-chips" in err and "Traceback" not in err and not (tmp_path / "o").exists()


def test_msb_split_searches_the_slices_against_the_same_baseline(tmp_path):
    small = dict(SMALL, limit=60, voltages_v=(0.8, 0.65, 0.6, 0.55, 0.5))
    plain = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "p")
    split = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "s", msb_split=3)
    assert plain.bank_bits == () and split.bank_bits == ((5, 8), (0, 5)) * 2
    assert len(split.bank_vdd_v) == 4 and LINE.match(format_optimum(split))
    record = json.loads((tmp_path / "s" / "optimum.json").read_text())
    assert record["bank_names"] == ["bank0-msb", "bank0-lsb", "bank1-msb", "bank1-lsb"]
    assert record["msb_split"] == 3 and record["floor_weight_mem_energy_j"] is None
    # The baseline: whole codes at one voltage, the very evaluations of the run without the split.
    assert (tmp_path / "s" / "uniform.csv").read_text() == (tmp_path / "p" / "uniform.csv").read_text()
    assert split.uniform_weight_mem_energy_j == plain.uniform_weight_mem_energy_j
    assert split.nominal_energy_j == plain.nominal_energy_j
    # The low bits go lower than the top bits, and the split saves energy.
    msb, lsb = split.bank_vdd_v[0::2], split.bank_vdd_v[1::2]
    assert max(lsb) < min(msb)
    assert split.weight_mem_energy_j < plain.weight_mem_energy_j
    again = optimize("digits-cnn-normal-8b", **small, out=tmp_path / "s", msb_split=3, resume=True)
    assert again == split


def test_sliced_accelerator_banks_are_searched_not_split_again(tmp_path, capsys):
    import dataclasses

    from accelsim.accel import default_accelerator
    from accelsim.accel.banks import WeightBank
    from accelsim.models import load_model

    layers = tuple(dict.fromkeys(t.rpartition(".")[0] for t in load_model("digits-cnn-normal-8b").tensor_names))
    banks = (WeightBank("top", 100, layers, (4, 8)), WeightBank("rest", 100, layers, (0, 4)))
    toml = tmp_path / "a.toml"
    toml.write_text(dataclasses.replace(default_accelerator(), weight_banks=banks).to_toml())
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
            "--accelerator", str(toml), "--msb-split", "2", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds bits" in err[0]
    # Without --msb-split the accelerator's own slices are the searched banks and the baseline's.
    result = optimize("digits-cnn-normal-8b", **dict(SMALL, banks=None, limit=40), accelerator=str(toml),
                      out=tmp_path / "own")
    assert result.bank_bits == ((4, 8), (0, 4)) and len(result.bank_vdd_v) == 2
    assert result.uniform_vdd_v is not None
