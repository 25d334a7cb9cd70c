"""The activation SRAM as a swept domain of ``--bank-voltages`` points (``SweepSpec.activations``)."""

import pytest

from accelsim.engine.activations import with_act_quant
from accelsim.models import load_model
from accelsim.sweep import SweepSpec, run_sweep
from accelsim.sweep.results import ACTIVATION_COLUMNS, POINT_COLUMNS, SUMMARY_COLUMNS, read_csv
from accelsim.sweep.spec import SweepError
from accelsim.sweep.unit import load_unit_inputs

MODEL = "digits-cnn-normal-8b"
SMALL = dict(profile="14nm", voltages_v=(0.8, 0.56), chips=2, dataset="digits", limit=80)
# Columns that differ by construction between the two sweeps compared below.
LABELS = {"model", "bank_vdd_v", "act_vdd_v"}


def _by_point(rows):
    return {(r["protection"], r["chip"], r["vdd_v"], r["bank_vdd_v"].split(";act=")[0]): r for r in rows}


def test_activation_sram_at_nominal_is_bit_identical_to_no_domain(tmp_path):
    # --activations 8 with the activation SRAM at nominal against a sweep of the same
    # activation-quantized model with no activation domain: every inference and energy column equal.
    spec = SweepSpec(models=(MODEL,), **SMALL, activations=8, protections=("none", "secded:16"),
                     bank_voltages=((0.8, 0.55, 0.8), (0.57, 0.8, 0.8)))
    _, quantized, (x, _) = load_unit_inputs(spec, 0)
    assert quantized.act_quant is not None and quantized.act_quant.bits == 8
    with_domain = run_sweep(spec, tmp_path / "a")
    plain_qm = with_act_quant(load_model(MODEL), x, 8)
    plain = run_sweep(SweepSpec(models=(plain_qm,), **SMALL, protections=("none", "secded:16"),
                                bank_voltages=((0.8, 0.55), (0.57, 0.8))), tmp_path / "b")
    rows = read_csv(tmp_path / "a" / "sweep.csv")
    assert list(rows[0]) == list(POINT_COLUMNS + ACTIVATION_COLUMNS)
    assert list(read_csv(tmp_path / "a" / "summary.csv")[0]) == list(SUMMARY_COLUMNS + ACTIVATION_COLUMNS)
    other = _by_point(read_csv(tmp_path / "b" / "sweep.csv"))
    assert len(rows) == len(other) == 2 * 2 * 4
    for row in rows:
        twin = other[(row["protection"], row["chip"], row["vdd_v"], row["bank_vdd_v"].split(";act=")[0])]
        assert {k: v for k, v in row.items() if k not in LABELS} == \
               {k: v for k, v in twin.items() if k not in LABELS}
        assert row["act_vdd_v"] == "0.8"
        if row["bank_vdd_v"]:
            assert row["bank_vdd_v"].endswith(";act=0.8")
    assert len(with_domain.rows) == len(plain.rows)


def test_activation_sram_below_nominal_costs_accuracy_and_saves_energy(tmp_path):
    spec = SweepSpec(models=(MODEL,), **SMALL, activations=8,
                     bank_voltages=((0.8, 0.8, 0.8), (0.8, 0.8, 0.56), (0.8, 0.8, 0.5)))
    result = run_sweep(spec, tmp_path / "o")
    banked = [r for r in result.rows if r["bank_vdd_v"]]
    by_act = {}
    for r in banked:
        by_act.setdefault(r["act_vdd_v"], []).append(r)
    assert sorted(by_act) == [0.5, 0.56, 0.8]
    # Energy: only the activation SRAM changes, as V^2.
    energy = {v: rows[0]["energy_j"] for v, rows in by_act.items()}
    assert energy[0.5] < energy[0.56] < energy[0.8]
    assert all(r["weight_mem_energy_j"] == by_act[0.8][0]["weight_mem_energy_j"] for r in banked)
    # Weights at nominal: no weight fault; the activation faults alone cost accuracy at 0.5 V.
    assert all(r["faulty_cells"] == 0 and r["vdd_v"] == 0.8 for r in banked)
    mean = {v: sum(r["accuracy"] for r in rows) / len(rows) for v, rows in by_act.items()}
    assert mean[0.5] < mean[0.8]
    assert len({r["bank_vdd_v"] for r in banked}) == 3  # distinct rows, kept apart by act=


@pytest.mark.parametrize("changes, fragment", [
    (dict(bank_voltages=()), "give --bank-voltages"),
    (dict(bank_voltages=((0.7,),)), "at least 2 values"),
    (dict(activations=9), "--activations = 9"),
    (dict(activations=True), "--activations"),
])
def test_bad_activation_domains_are_refused(changes, fragment):
    with pytest.raises(SweepError, match=fragment):
        SweepSpec(models=(MODEL,), **{**SMALL, "activations": 8, "bank_voltages": ((0.8, 0.8),), **changes})


def test_spec_round_trips_and_old_specs_read_the_same():
    spec = SweepSpec(models=(MODEL,), **SMALL, activations=4, bank_voltages=((0.7, 0.6, 0.65),))
    data = spec.to_dict()
    assert data["activations"] == 4 and SweepSpec.from_dict(data) == spec
    assert "activations" not in SweepSpec(models=(MODEL,), **SMALL).to_dict()
    assert spec.weight_vector((0.7, 0.6, 0.65)) == (0.7, 0.6) and spec.act_vdd_v((0.7, 0.6, 0.65)) == 0.65
