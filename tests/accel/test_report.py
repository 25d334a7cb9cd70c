"""The per-component energy table, and the weight SRAM's share of LeNet's energy per preset."""

import math

import pytest

from accelsim.accel import PRESETS, accelerator_preset
from accelsim.accel.energy import layer_cost
from accelsim.accel.report import component_energies

# Weight SRAM share of the total energy per LeNet-5 inference (8 bits) at
# nominal supply, as the hand computation below gives it (and the note quotes).
LENET_WEIGHT_SHARE = {"edge": 0.876, "edge-45nm": 0.876, "eyeriss": 0.843}


@pytest.fixture(scope="module")
def lenet_workloads():
    from accelsim.models import load_model

    return load_model("mnist-lenet-normal-8b").workloads()


def _horowitz_64b_read_j(capacity_bits):
    """Log-log between Horowitz's 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ (64-bit reads)."""
    kb = capacity_bits / 8192
    if kb <= 32:
        return 10e-12 * (20 / 10) ** (math.log(kb / 8) / math.log(32 / 8))
    return 20e-12 * (100 / 20) ** (math.log(kb / 32) / math.log(1024 / 32))


def _hand_weight_share(accelerator, workloads):
    scale = (accelerator.node_nm / 45) * (accelerator.vdd_nominal_v / 0.9) ** 2
    leak_scale = (accelerator.node_nm / 45) * (accelerator.vdd_nominal_v / 0.9)
    # 64-bit words: the periphery share cancels, the per-bit energy is E64 / 64.
    weight_bit_j = _horowitz_64b_read_j(accelerator.weight_memory.capacity_bits) / 64 * scale
    act_bit_j = _horowitz_64b_read_j(accelerator.activation_memory.capacity_bits) / 64 * scale
    costs = [layer_cost(accelerator, w) for w in workloads]
    stored = sum(c.weight_bits_read for c in costs)
    latency_s = sum(c.cycles for c in costs) / accelerator.clock_hz
    weight_j = (stored * weight_bit_j
                + max(stored, accelerator.weight_memory.capacity_bits) * 50e-12 * leak_scale * latency_s)
    act_j = sum(c.act_bits_read + c.act_bits_written for c in costs) * act_bit_j
    # 8 x 8-bit multiply (0.2 pJ) plus a 32-bit add (0.1 pJ) per MAC executed.
    mac_j = sum(c.macs_executed for c in costs) * (0.2e-12 + 0.1e-12) * scale
    return weight_j / (weight_j + act_j + mac_j)


@pytest.mark.parametrize("name", PRESETS)
def test_lenet_weight_sram_share_matches_the_hand_computation(name, lenet_workloads):
    accelerator = accelerator_preset(name)
    rows = {row.component: row for row in component_energies(accelerator, lenet_workloads)}
    share = rows["weight SRAM (dynamic)"].share + rows["weight SRAM (leakage)"].share
    assert share == pytest.approx(_hand_weight_share(accelerator, lenet_workloads), rel=1e-6)
    assert share == pytest.approx(LENET_WEIGHT_SHARE[name], abs=0.0015)
    assert rows["total"].share == pytest.approx(1.0)


def test_without_workloads_only_the_per_access_column_is_filled():
    rows = component_energies(accelerator_preset("edge"))
    assert all(row.per_inference_j is None for row in rows)
    # One 64-bit read of the 256 KB weight SRAM at 14 nm, 0.8 V: 52.5 pJ x 0.246.
    assert rows[0].per_access_j == pytest.approx(_horowitz_64b_read_j(2097152) * 0.24582, rel=1e-4)
