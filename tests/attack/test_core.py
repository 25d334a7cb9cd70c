"""Attacks on stored bits: budgets, restrictions, determinism, and replay through the engine."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.attack import AttackError, parse_attack, run
from accelsim.engine import QuantizedModel
from accelsim.sram import uniform_profile
from tests.attack.conftest import accuracy_of


@pytest.mark.parametrize("method", ["bfa", "advbit"])
def test_replay_through_the_engine_gives_the_reported_accuracy(qm, digits, method):
    x, y = digits
    result = run(qm, x, y, method=method, flips=6, seed=0, attack_examples=64, steps=4)
    assert 0 < len(result.bits) <= 6 and len(np.unique(result.bits)) == len(result.bits)
    assert result.bits.dtype == np.int64
    replay = qm.run(x, None, None, extra_flips=result.bits)
    assert accuracy_of(replay, y) == result.accuracy
    assert replay.flipped_bits == len(result.bits)
    assert result.curve[0] == (0, result.start_accuracy) and result.curve[-1] == (len(result.bits), result.accuracy)
    assert result.accuracy < result.start_accuracy


def test_bfa_accuracy_falls_far_faster_than_random_flips(qm, digits):
    x, y = digits
    result = run(qm, x, y, method="bfa", flips=8, seed=0, attack_examples=64, eval_every=0)
    rng = np.random.default_rng(0)
    random_bits = rng.choice(qm.stored_bits, size=8, replace=False)
    random_accuracy = accuracy_of(qm.run(x, None, None, extra_flips=random_bits), y)
    assert result.accuracy < random_accuracy - 0.05


def test_replay_on_top_of_a_chips_faults(qm, digits):
    x, y = digits
    profile = uniform_profile(1e-3, seed=1)
    vdd_v = profile.voltage_for_ber(1e-3)
    result = run(qm, x, y, method="bfa", flips=4, profile=profile, vdd_v=vdd_v, chip=2, memory_seed=3,
                 attack_examples=64)
    assert result.start_accuracy == accuracy_of(qm.run(x, profile, vdd_v, 2, 3), y)
    replay = qm.run(x, profile, vdd_v, 2, 3, extra_flips=result.bits)
    assert accuracy_of(replay, y) == result.accuracy


@pytest.mark.parametrize("method", ["bfa", "advbit"])
def test_same_seed_same_bits(qm, digits, method):
    x, y = digits
    kwargs = {"method": method, "flips": 3, "attack_examples": 32, "steps": 3, "restarts": 2, "eval_every": 0}
    first = run(qm, x, y, seed=5, **kwargs)
    again = run(qm, x, y, seed=5, **kwargs)
    np.testing.assert_array_equal(first.bits, again.bits)
    assert first.accuracy == again.accuracy


@pytest.mark.parametrize("direction", ["1->0", "0->1"])
def test_one_direction_flips_only_bits_of_that_value(qm, digits, direction):
    x, y = digits
    result = run(qm, x, y, flips=5, direction=direction, attack_examples=32, eval_every=0)
    words, j = np.divmod(result.bits, qm.bits)
    stored = (qm.words[words].astype(np.int64) >> j) & 1
    assert np.all(stored == (1 if direction == "1->0" else 0))


def test_layer_and_cell_restrictions(qm, digits):
    x, y = digits
    layer = qm.tensor_names[-2]  # the last layer's weight
    result = run(qm, x, y, method="advbit", flips=5, layers=[layer.rsplit(".", 1)[0]], attack_examples=32,
                 steps=3, eval_every=0)
    assert set(qm.tensors_at_bits(result.bits)) <= {layer, qm.tensor_names[-1]}
    profile = uniform_profile(1e-2, seed=4)
    vdd_v = profile.voltage_for_ber(2e-3)
    result = run(qm, x, y, flips=5, attack_cells=(profile, vdd_v), cells_chip=1, attack_examples=32, eval_every=0)
    memory = qm.memory(profile, 0)
    weak = set(memory.placement(1).fault_bits[:memory.faulty_cells(vdd_v, 1)].tolist())
    assert len(result.bits) == 5 and set(result.bits.tolist()) <= weak


def test_stop_accuracy_ends_the_search(qm, digits):
    x, y = digits
    result = run(qm, x, y, flips=40, attack_examples=64, stop_accuracy=0.6)
    assert result.accuracy <= 0.6 and len(result.bits) < 40
    assert result.flips_to_reach(0.6) == len(result.bits)


@pytest.mark.parametrize("kwargs, match", [
    ({"flips": 0}, "flips = 0: expected an integer in"),
    ({"flips": 10**9}, "flips = 1000000000: expected an integer in"),
    ({"method": "pgd"}, "method = 'pgd': expected one of"),
    ({"direction": "up"}, "direction = 'up'"),
    ({"layers": ["nope"]}, "layers = 'nope'"),
    ({"attack_cells": "profile:14nm"}, "attack_cells = 'profile:14nm'"),
])
def test_bad_input_is_one_clear_error(qm, digits, kwargs, match):
    x, y = digits
    with pytest.raises(AttackError, match=match):
        run(qm, x, y, **{"flips": 2, **kwargs})


def test_restriction_leaving_no_bit_is_refused(qm, digits):
    x, y = digits
    profile = uniform_profile(1e-2, seed=4)
    with pytest.raises(AttackError, match="no stored bit is attackable"):
        run(qm, x, y, flips=2, attack_cells=(profile, profile.vdd_nominal_v))


def test_no_gradient_path_is_refused():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        net[1].weight.uniform_(-0.1, 0.1)
        net[1].bias.fill_(-50.0)  # the ReLU is dead on every input: no gradient reaches layer 1
    x = torch.rand(16, 1, 2, 2)
    y = torch.randint(0, 2, (16,))
    qm = QuantizedModel.from_torch(net, "rquant", x)
    for method in ("bfa", "advbit"):
        with pytest.raises(AttackError, match="no gradient"):
            run(qm, x, y, method=method, flips=1, layers=["1"])


def test_parse_attack():
    assert parse_attack("bfa:12") == ("bfa", 12)
    assert parse_attack("advbit:3") == ("advbit", 3)
    for bad in ("bfa", "bfa:0", "bfa:x", "foo:3", "bfa:1:2"):
        with pytest.raises(AttackError):
            parse_attack(bad)
