"""Sweeps with --attack: the worst-case columns, appended, and their replay."""

import numpy as np
import pytest
import torch

from accelsim.attack import AttackError, run
from accelsim.sweep import SweepSpec, run_sweep
from accelsim.sweep.results import ATTACK_COLUMNS, POINT_COLUMNS, SUMMARY_COLUMNS, read_csv
from accelsim.sweep.unit import load_unit_inputs


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    spec = SweepSpec(models=("digits-cnn-normal-8b",), profile="14nm", voltages_v=(0.8, 0.56, 0.55), chips=2,
                     limit=60, attack="bfa:3")
    out = tmp_path_factory.mktemp("attacked")
    return spec, run_sweep(spec, out)


def test_attack_columns_are_appended(attacked):
    spec, result = attacked
    rows = read_csv(result.directory / "sweep.csv")
    assert tuple(rows[0]) == POINT_COLUMNS + ATTACK_COLUMNS
    assert tuple(read_csv(result.directory / "summary.csv")[0]) == SUMMARY_COLUMNS + ATTACK_COLUMNS
    for row in rows:
        assert row["attack"] == "bfa:3" and int(row["attack_flips"]) <= 3
        assert float(row["attack_accuracy"]) <= float(row["accuracy"])
        assert float(row["attack_robust_error"]) >= float(row["robust_error"])


def test_attack_columns_replay_on_the_chip(attacked):
    _, result = attacked
    spec = result.spec  # as run: the dataset filled in from the model
    row = result.rows[-1]  # the lowest voltage of the last chip
    profile, qm, (x, y) = load_unit_inputs(spec, spec.models[0])
    again = run(qm, x, y, "bfa", 3, seed=spec.seed, profile=profile, vdd_v=row["vdd_v"], chip=row["chip"],
                memory_seed=spec.seed, attack_examples=128, eval_every=0)
    assert again.accuracy == row["attack_accuracy"]
    replay = qm.run(x, profile, row["vdd_v"], row["chip"], spec.seed, extra_flips=again.bits)
    assert float((replay.logits.argmax(1) == y).double().mean()) == row["attack_accuracy"]


def test_without_attack_the_tables_keep_their_columns(tmp_path):
    spec = SweepSpec(models=("digits-cnn-normal-8b",), profile="14nm", voltages_v=(0.8,), chips=1, limit=20)
    result = run_sweep(spec, tmp_path)
    assert tuple(read_csv(result.directory / "sweep.csv")[0]) == POINT_COLUMNS


@pytest.mark.parametrize("attack", ["pgd:3", "bfa:0", "bfa"])
def test_bad_attack_is_refused_by_the_spec(attack):
    with pytest.raises(AttackError, match="--attack"):
        SweepSpec(attack=attack)


def test_budget_above_the_stored_bits_is_refused():
    torch.manual_seed(0)
    _, qm, (x, y) = load_unit_inputs(SweepSpec(limit=10, dataset="digits"), "digits-cnn-normal-8b")
    with pytest.raises(AttackError, match=f"expected an integer in \\[1, {qm.stored_bits}\\]"):
        run(qm, x, y, flips=qm.stored_bits + 1)
    assert np.isfinite(qm.stored_bits)


def test_attack_under_protection_replays_through_the_decoder(tmp_path):
    spec = SweepSpec(models=("digits-cnn-normal-8b",), profile="14nm", voltages_v=(0.8, 0.55), chips=1,
                     limit=60, attack="bfa:4", protections=("none", "secded:64"), on_detect="keep")
    result = run_sweep(spec, tmp_path)
    rows = [r for r in result.rows if r["protection"] == "secded:64"]
    assert len(rows) == 2 and all(r["attack"] == "bfa:4" and r["attack_flips"] <= 4 for r in rows)
    spec = result.spec
    profile, qm, (x, y) = load_unit_inputs(spec, spec.models[0])
    row = rows[-1]
    again = run(qm, x, y, "bfa", 4, seed=spec.seed, profile=profile, vdd_v=row["vdd_v"], chip=row["chip"],
                memory_seed=spec.seed, attack_examples=128, eval_every=0, protection="secded:64", on_detect="keep")
    assert again.accuracy == row["attack_accuracy"] and len(again.bits) == row["attack_flips"]
    replay = qm.run(x, profile, row["vdd_v"], row["chip"], spec.seed, protection="secded:64", on_detect="keep",
                    extra_flips=again.bits)
    assert float((replay.logits.argmax(1) == y).double().mean()) == row["attack_accuracy"]


@pytest.mark.parametrize("kwargs, match", [
    ({"bank_voltages": ((0.8, 0.7),)}, "banked read"),
])
def test_attack_combinations_that_cannot_work_are_refused(kwargs, match):
    from accelsim.sweep import SweepError

    with pytest.raises(SweepError, match=match):
        SweepSpec(**{"attack": "bfa:4", **kwargs})
