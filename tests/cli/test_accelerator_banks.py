"""--accelerator on sweep and optimize: the TOML's [[weight_banks]] map layers to banks."""

import json

import pytest

from accelsim.accel import default_accelerator
from accelsim.cli import main
from accelsim.sweep.results import read_csv

MODEL = "digits-cnn-normal-8b"  # layers conv1, norm1, conv2, norm2, fc1, fc2
SWEEP = ["sweep", "--model", MODEL, "--profile", "14nm", "--voltages", "0.8,0.55", "--chips", "2",
         "--limit", "60", "--quiet"]
OPTIMIZE = ["optimize", "--model", MODEL, "--dataset", "digits", "--limit", "40", "--chips", "1",
            "--holdout-chips", "1", "--yield", "0.5", "--voltages", "0.8,0.6,0.55", "--quiet"]


def _toml(tmp_path, banks):
    text = default_accelerator().to_toml()
    for name, layers, *bits in banks:
        text += (f'\n[[weight_banks]]\nname = "{name}"\ncapacity_bits = 65536\n'
                 f"layers = {json.dumps(layers)}\n" + (f"bits = {json.dumps(bits[0])}\n" if bits else ""))
    path = tmp_path / "banked.toml"
    path.write_text(text)
    return str(path)


def test_sweep_maps_layers_to_the_toml_banks(tmp_path, capsys):
    # The small early layers in one bank, the fully connected ones in the other: lowering
    # only the second bank must not touch conv1..norm2 (their accuracy stays with the model's
    # accuracy at that bank's faults, and the energy falls).
    accel = _toml(tmp_path, [("early", ["conv1", "norm1", "conv2", "norm2"]), ("late", ["fc1", "fc2"])])
    out = tmp_path / "o"
    assert main([*SWEEP, "--accelerator", accel, "--bank-voltages", "0.8,0.8", "--bank-voltages", "0.8,0.55",
                 "--out", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    banked = {(r["bank_vdd_v"], r["chip"]): r for r in rows if r["bank_vdd_v"]}
    assert len(banked) == 4
    assert json.loads((out / "sweep.json").read_text())["spec"]["accelerator"] == accel
    nominal = {r["chip"]: r for r in rows if not r["bank_vdd_v"] and r["vdd_v"] == "0.8"}
    for chip in ("0", "1"):
        assert banked[("0.8;0.8", chip)]["accuracy"] == nominal[chip]["accuracy"]
        # Both banks at nominal: the banked accelerator's uniform point, same energy.
        assert float(banked[("0.8;0.8", chip)]["energy_j"]) == pytest.approx(float(nominal[chip]["energy_j"]))
        assert float(banked[("0.8;0.55", chip)]["energy_j"]) < float(nominal[chip]["energy_j"])
        assert int(banked[("0.8;0.55", chip)]["faulty_cells"]) > 0
    # A banked accelerator prices uniform points with its banks' capacities (2 x 64 Kbit here),
    # not the edge preset's single 2 Mbit SRAM: less leakage at the same voltage.
    plain = tmp_path / "plain"
    assert main([*SWEEP, "--out", str(plain)]) == 0
    edge = {r["chip"]: r for r in read_csv(plain / "sweep.csv") if r["vdd_v"] == "0.8"}
    assert float(nominal["0"]["weight_mem_energy_j"]) < float(edge["0"]["weight_mem_energy_j"])


@pytest.mark.parametrize("banks, fragment", [
    ([("early", ["conv1", "norm1", "conv2", "norm2", "fc9"]), ("late", ["fc1", "fc2"])], "'fc9'"),
    ([("early", ["conv1", "norm1", "conv2"]), ("late", ["fc1", "fc2"])], "norm2"),
])
@pytest.mark.parametrize("command", ["sweep", "optimize"])
def test_bad_mapping_exits_2_with_one_line(tmp_path, capsys, banks, fragment, command):
    accel = _toml(tmp_path, banks)
    out = tmp_path / "o"
    argv = [*(SWEEP if command == "sweep" else OPTIMIZE), "--accelerator", accel, "--out", str(out)]
    if command == "sweep":
        argv += ["--bank-voltages", "0.8,0.7"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error: --accelerator ")
    assert fragment in err[0] and accel in err[0]
    if fragment == "norm2":  # unmapped: the line says how to fix it
        assert "add them to the layers of a [[weight_banks]] table" in err[0]
    else:
        assert "not a layer of the model" in err[0] and "conv1" in err[0]
    assert not (out / "sweep.csv").exists() and not (out / "candidates.csv").exists()


def test_bank_voltages_must_match_the_toml_banks(tmp_path, capsys):
    accel = _toml(tmp_path, [("early", ["conv1", "norm1", "conv2", "norm2"]), ("late", ["fc1", "fc2"])])
    assert main([*SWEEP, "--accelerator", accel, "--bank-voltages", "0.8,0.7,0.6",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 weight banks (early, late)" in err[0]


def test_optimize_uses_the_toml_banks(tmp_path, capsys):
    accel = _toml(tmp_path, [("early", ["conv1", "norm1", "conv2", "norm2"]), ("late", ["fc1", "fc2"])])
    out = tmp_path / "o"
    assert main([*OPTIMIZE, "--accelerator", accel, "--out", str(out)]) == 0
    record = json.loads((out / "optimum.json").read_text())
    assert record["bank_names"] == ["early", "late"]
    assert record["bank_layers"] == [["conv1", "norm1", "conv2", "norm2"], ["fc1", "fc2"]]
    assert len(record["bank_vdd_v"]) == 2
    assert main([*OPTIMIZE, "--accelerator", accel, "--banks", "3", "--out", str(tmp_path / "p")]) == 2
    assert "has 2 weight banks" in capsys.readouterr().err


def test_unknown_accelerator_exits_2(tmp_path, capsys):
    assert main([*SWEEP, "--accelerator", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "edge" in err[0]


def test_with_activations_a_point_gives_each_toml_bank_then_the_activation_sram(tmp_path, capsys):
    accel = _toml(tmp_path, [("early", ["conv1", "norm1", "conv2", "norm2"]), ("late", ["fc1", "fc2"])])
    # Two weight banks and no activation supply: one value short.
    assert main([*SWEEP, "--accelerator", accel, "--activations", "8", "--bank-voltages", "0.8,0.7",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 weight banks (early, late)" in err[0] and "activation SRAM" in err[0]
    assert main([*SWEEP, "--accelerator", accel, "--activations", "8", "--bank-voltages", "0.8,0.55,0.6",
                 "--out", str(tmp_path / "p")]) == 0
    rows = read_csv(tmp_path / "p" / "sweep.csv")
    assert {r["bank_vdd_v"] for r in rows if r["bank_vdd_v"]} == {"0.8;0.55;act=0.6"}


ALL_LAYERS = ["conv1", "norm1", "conv2", "norm2", "fc1", "fc2"]


def test_sweep_reads_bit_sliced_banks(tmp_path):
    """Banks holding the top 3 and the low 5 bits of every code: the low slice alone at 0.55 V
    faults cells but costs less accuracy than both slices there."""
    accel = _toml(tmp_path, [("msb", ALL_LAYERS, [5, 8]), ("lsb", ALL_LAYERS, [0, 5])])
    out = tmp_path / "o"
    assert main([*SWEEP, "--chips", "3", "--accelerator", accel, "--bank-voltages", "0.8,0.55",
                 "--bank-voltages", "0.55,0.55", "--out", str(out)]) == 0
    rows = read_csv(out / "summary.csv")
    banked = {r["bank_vdd_v"]: r for r in rows if r["bank_vdd_v"]}
    low_only, both = banked["0.8;0.55"], banked["0.55;0.55"]
    assert float(low_only["model_ber"]) > 0
    assert float(low_only["accuracy"]) > float(both["accuracy"])
    assert float(low_only["weight_mem_energy_j"]) > float(both["weight_mem_energy_j"])


def test_overlapping_slices_exit_2_with_one_line(tmp_path, capsys):
    accel = _toml(tmp_path, [("msb", ALL_LAYERS, [4, 8]), ("lsb", ALL_LAYERS, [0, 5])])
    assert main([*SWEEP, "--accelerator", accel, "--bank-voltages", "0.8,0.7", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "overlap at bit 4" in err[0] and "Traceback" not in err[0]
