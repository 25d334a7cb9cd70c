"""accelsim sweep --protection / --yield: row groups, yield columns, bad input."""

import pytest

from accelsim.cli import main
from accelsim.sweep.results import POINT_COLUMNS, SUMMARY_COLUMNS, read_csv

ARGS = ["--model", "digits-cnn-normal-8b", "--profile", "14nm", "--voltages", "0.8,0.6,0.55",
        "--chips", "2", "--limit", "60", "--quiet"]


def test_each_protection_is_one_more_row_group(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sweep", *ARGS, "--protection", "none", "--protection", "secded:64",
                 "--protection", "msb:2:tmr", "--yield", "0.2", "--out", str(out)]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("operating point")]
    assert len(lines) == 3 and "[secded:64]" in lines[2] and "yield" in lines[0]
    rows = read_csv(out / "sweep.csv")
    assert list(rows[0]) == list(POINT_COLUMNS) and len(rows) == 3 * 2 * 3
    assert {r["protection"] for r in rows} == {"none", "secded:64", "msb:2:tmr"}
    for r in rows:
        if r["protection"] == "none":
            assert r["residual_flipped_bits"] == r["flipped_bits"] and r["corrected_words"] == "0"
    summary = read_csv(out / "summary.csv")
    assert list(summary[0]) == list(SUMMARY_COLUMNS) and len(summary) == 9
    nominal = [s for s in summary if s["vdd_v"] == "0.8"]
    assert all(s["yield"] == "1.0" for s in nominal)
    energy = {s["protection"]: float(s["energy_j"]) for s in nominal}
    assert energy["none"] < energy["secded:64"]  # check bits and decoders cost energy


@pytest.mark.parametrize("extra, fragment", [
    (["--protection", "secded:12"], "secded:12"),
    (["--protection", "hamming"], "hamming"),
    (["--protection", "msb:9"], "K <= 8"),
    (["--yield", "0"], "--yield"),
    (["--yield", "1.5"], "--yield"),
    (["--tolerance", "-1"], "--tolerance"),
    (["--scheme", "int4-g128", "--protection", "secded:64"], "--on-detect keep"),
])
def test_bad_protection_and_yield_exit_2(tmp_path, capsys, extra, fragment):
    assert main(["sweep", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_bank_voltages_are_extra_points(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sweep", *ARGS, "--protection", "none", "--protection", "secded:16",
                 "--bank-voltages", "0.8,0.8", "--bank-voltages", "0.8,0.55", "--out", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    banked = [r for r in rows if r["bank_vdd_v"]]
    assert len(banked) == 2 * 2 * 2 and {r["bank_vdd_v"] for r in banked} == {"0.8;0.8", "0.8;0.55"}
    plain = {(r["protection"], r["chip"]): r for r in rows if not r["bank_vdd_v"] and r["vdd_v"] == "0.8"}
    for r in banked:
        if r["bank_vdd_v"] == "0.8;0.8":  # every bank at nominal: the nominal point's accuracy
            assert r["accuracy"] == plain[(r["protection"], r["chip"])]["accuracy"]
            assert float(r["energy_j"]) == pytest.approx(float(plain[(r["protection"], r["chip"])]["energy_j"]))
        else:
            assert float(r["vdd_v"]) == 0.55
    lower = [float(r["energy_j"]) for r in banked if r["bank_vdd_v"] == "0.8;0.55"]
    assert max(lower) < min(float(r["energy_j"]) for r in banked if r["bank_vdd_v"] == "0.8;0.8")


@pytest.mark.parametrize("extra, fragment", [
    (["--bank-voltages", "0.8,0.2"], "0.2"),
    (["--bank-voltages", "0.8,0.7", "--bank-voltages", "0.8"], "same number"),
    (["--bank-voltages", "0.8,x"], "'x'"),
    (["--bank-voltages", ",".join(["0.8"] * 50)], "--bank-voltages"),
])
def test_bad_bank_voltages_exit_2(tmp_path, capsys, extra, fragment):
    assert main(["sweep", *ARGS, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_activations_add_the_activation_sram_to_bank_voltages(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sweep", *ARGS, "--activations", "8", "--bank-voltages", "0.8,0.55,0.8",
                 "--bank-voltages", "0.8,0.8,0.55", "--out", str(out)]) == 0
    rows = read_csv(out / "sweep.csv")
    assert list(rows[0])[-1] == "act_vdd_v"
    banked = {r["bank_vdd_v"]: r for r in rows if r["bank_vdd_v"] and r["chip"] == "0"}
    assert set(banked) == {"0.8;0.55;act=0.8", "0.8;0.8;act=0.55"}
    assert banked["0.8;0.8;act=0.55"]["vdd_v"] == "0.8" and banked["0.8;0.8;act=0.55"]["act_vdd_v"] == "0.55"
    assert banked["0.8;0.55;act=0.8"]["vdd_v"] == "0.55"
    assert float(banked["0.8;0.8;act=0.55"]["energy_j"]) < float(
        next(r for r in rows if not r["bank_vdd_v"] and r["vdd_v"] == "0.8")["energy_j"])
    assert all(r["act_vdd_v"] == "0.8" for r in rows if not r["bank_vdd_v"])


@pytest.mark.parametrize("extra, fragment", [
    (["--activations", "8"], "give --bank-voltages"),
    (["--activations", "8", "--bank-voltages", "0.6"], "at least 2 values"),
    (["--activations", "8", "--bank-voltages", "0.8,0.7,0.6", "--bank-voltages", "0.8,0.7"], "same number"),
    (["--activations", "8", "--bank-voltages", "0.8,0.2"], "0.2"),
    (["--activations", "9", "--bank-voltages", "0.8,0.7"], "--activations = 9"),
    (["--activations", "8", "--bank-voltages", ",".join(["0.8"] * 50)], "--bank-voltages"),
])
def test_bad_activation_domain_exits_2(tmp_path, capsys, extra, fragment):
    out = tmp_path / "o"
    assert main(["sweep", *ARGS, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]
    assert not (out / "sweep.csv").exists()
