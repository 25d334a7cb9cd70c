"""Energy per inference: hand-computed layers, voltage scaling, precision, gating."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.accel import (
    AcceleratorError,
    AlphaPower,
    LayerWorkload,
    PEArray,
    WeightMemorySpec,
    default_accelerator,
)
from accelsim.accel.energy import layer_cost
from accelsim.sram.energy import EnergyModel

VNOM = 1.0


def test_linear_layer_by_hand(tiny, sram, linear):
    e = tiny.energy([linear], sram, VNOM, VNOM)
    # K = 10 over 4 rows -> 3 row folds; 6 outputs over 4 cols -> 2 column folds;
    # each tile takes 2R + C + T - 2 = 8 + 4 + 1 - 2 cycles (T = 1 pixel).
    # The 66 * 8 = 528 weight bits need 33 cycles on the 16-bit port: hidden.
    cycles = 3 * 2 * (2 * 4 + 4 + 1 - 2)
    assert e.cycles == cycles
    assert e.latency_s == pytest.approx(cycles / 100e6, rel=1e-12)
    assert e.weight_mem_dynamic_j == pytest.approx(528 * 1e-14, rel=1e-12)
    # The whole 1000-bit SRAM leaks 1 pW per bit for the latency.
    assert e.weight_mem_leakage_j == pytest.approx(1000 * 1e-12 * cycles / 100e6, rel=1e-12)
    # Input read once per column fold (2), output written once, 8 bits each.
    assert e.act_mem_j == pytest.approx(10 * 8 * 2 * 1e-13 + 6 * 8 * 2e-13, rel=1e-12)
    # 8x8 multiply 1 pJ + 32-bit accumulate 0.4 pJ.
    assert e.mac_j == pytest.approx(60 * 1.4e-12, rel=1e-12)
    assert e.total_j == pytest.approx(e.weight_mem_j + e.act_mem_j + e.mac_j, rel=1e-12)


def test_conv_layer_by_hand(tiny, sram, conv):
    e = tiny.energy([conv], sram, VNOM, VNOM)
    # K = 2 * 9 = 18 -> 5 row folds; 3 channels -> 1 column fold; T = 16 pixels.
    cycles = 5 * 1 * (2 * 4 + 4 + 16 - 2)
    assert e.cycles == cycles
    assert e.weight_mem_dynamic_j == pytest.approx(57 * 8 * 1e-14, rel=1e-12)
    assert e.act_mem_j == pytest.approx(32 * 4 * 1e-13 + 48 * 4 * 2e-13, rel=1e-12)
    # 8x4-bit multiply: width sqrt(32), energy 1 pJ * 32 / 64; accumulate 0.4 pJ.
    assert e.mac_j == pytest.approx(864 * (0.5e-12 + 0.4e-12), rel=1e-12)


def test_weight_port_bounds_a_memory_bound_layer(tiny, sram):
    # 100 x 100 weights at batch 1: 80,000 bits on a 4-bit port outlast the compute.
    narrow = dataclasses.replace(tiny, word_bits=4)
    big = LayerWorkload(name="fc", kind="linear", n_weights=10_000, weight_bits=8,
                        macs=10_000, act_in=100, act_out=100, act_bits=8)
    e = narrow.energy([big], sram, VNOM, VNOM)
    assert e.cycles == 80_000 // 4
    assert e.cycles > 25 * 25 * (2 * 4 + 4 + 1 - 2)
    # A model larger than the SRAM leaks over its own size.
    assert e.weight_sram_bits == 80_000


def test_elementwise_layer_runs_on_vector_unit(tiny, sram):
    norm = LayerWorkload(name="bn", kind="norm", n_weights=4 * 3, weight_bits=8, macs=48,
                         act_in=48, act_out=48, act_bits=8, output_shape=(3, 4, 4))
    cost = layer_cost(tiny, norm)
    assert cost.cycles == math.ceil(48 / 4)
    assert cost.act_bits_read == 48 * 8


def test_depthwise_groups_read_input_once(tiny, sram):
    depthwise = LayerWorkload(name="dw", kind="conv", n_weights=8 * 9, weight_bits=8,
                              macs=8 * 16 * 9, act_in=8 * 16, act_out=8 * 16, act_bits=8,
                              output_shape=(8, 4, 4), groups=8)
    dense = dataclasses.replace(depthwise, groups=1)
    assert layer_cost(tiny, depthwise).act_bits_read == 8 * 16 * 8
    assert layer_cost(tiny, dense).act_bits_read == 2 * 8 * 16 * 8
    assert layer_cost(tiny, depthwise).cycles == 8 * 3 * (2 * 4 + 4 + 16 - 2)


@settings(max_examples=30, deadline=None)
@given(vdd_v=st.floats(0.3, 1.0))
def test_dynamic_energy_scales_with_v_squared(tiny, sram, linear, conv, vdd_v):
    nominal = tiny.energy([linear, conv], sram, VNOM, VNOM)
    low = tiny.energy([linear, conv], sram, vdd_v, VNOM)
    assert low.weight_mem_dynamic_j == pytest.approx(
        nominal.weight_mem_dynamic_j * (vdd_v / VNOM) ** 2, rel=1e-12)
    # Only the weight SRAM follows the swept supply; the clock is fixed.
    assert low.act_mem_j == nominal.act_mem_j
    assert low.mac_j == nominal.mac_j
    assert low.latency_s == nominal.latency_s


@settings(max_examples=30, deadline=None)
@given(vdd_v=st.floats(0.3, 1.0))
def test_leakage_energy_scales_like_leakage_power(tiny, sram, linear, vdd_v):
    nominal = tiny.energy([linear], sram, VNOM, VNOM)
    low = tiny.energy([linear], sram, vdd_v, VNOM)
    expected = vdd_v / VNOM * math.exp(sram.leakage_k_per_v * (vdd_v - VNOM))
    assert low.weight_mem_leakage_j == pytest.approx(nominal.weight_mem_leakage_j * expected,
                                                     rel=1e-12)


def test_nominal_voltage_domain_ignores_the_sweep(tiny, sram, linear):
    fixed = dataclasses.replace(tiny, weight_memory=WeightMemorySpec(1000, "nominal"))
    low, nominal = (fixed.energy([linear], sram, v, VNOM) for v in (0.5, VNOM))
    assert low.weight_vdd_v == VNOM
    assert low.total_j == nominal.total_j
    assert low.weight_mem_j == nominal.weight_mem_j


@settings(max_examples=25, deadline=None)
@given(low_bits=st.integers(1, 15), extra=st.integers(1, 16), vdd_v=st.floats(0.4, 1.0))
def test_lower_precision_reads_fewer_bits_and_spends_less(tiny, sram, conv, low_bits, extra,
                                                          vdd_v):
    low = dataclasses.replace(conv, weight_bits=low_bits)
    high = dataclasses.replace(conv, weight_bits=low_bits + extra)
    e_low, e_high = (tiny.energy([w], sram, vdd_v, VNOM) for w in (low, high))
    assert e_low.per_layer[0].weight_bits_read < e_high.per_layer[0].weight_bits_read
    assert e_low.weight_mem_dynamic_j < e_high.weight_mem_dynamic_j
    assert e_low.weight_mem_j <= e_high.weight_mem_j
    assert e_low.mac_j < e_high.mac_j


@settings(max_examples=25, deadline=None)
@given(zero_fraction=st.floats(0.0, 1.0))
def test_zero_gating_skips_macs_on_zero_inputs(tiny, sram, conv, zero_fraction):
    sparse = dataclasses.replace(conv, zero_fraction=zero_fraction)
    gated = dataclasses.replace(tiny, zero_gating=True)
    plain_e = tiny.energy([sparse], sram, VNOM, VNOM)
    gated_e = gated.energy([sparse], sram, VNOM, VNOM)
    assert gated_e.mac_j == pytest.approx(plain_e.mac_j * (1 - zero_fraction), rel=1e-12,
                                          abs=1e-30)
    assert plain_e.mac_j == tiny.energy([conv], sram, VNOM, VNOM).mac_j
    assert gated_e.latency_s == plain_e.latency_s
    assert gated_e.act_mem_j == plain_e.act_mem_j


def test_alpha_power_creates_a_minimum_energy_voltage(linear):
    # The edge preset's 256 KB weight SRAM with the default EnergyModel: leakage
    # is a sizeable share at nominal, so a slowing clock makes it dominate.
    fixed = default_accelerator()
    slow = dataclasses.replace(fixed, alpha_power=AlphaPower(alpha=1.3, vth_v=0.3))
    sram = EnergyModel()
    voltages = np.linspace(0.32, VNOM, 69)
    with_alpha = [slow.energy([linear], sram, v, VNOM) for v in voltages]
    without = [fixed.energy([linear], sram, v, VNOM) for v in voltages]
    best = int(np.argmin([e.total_j for e in with_alpha]))
    assert 0 < best < len(voltages) - 1
    assert 0 < int(np.argmin([e.weight_mem_j for e in with_alpha])) < len(voltages) - 1
    # The slower clock stretches the latency, and with it the leakage.
    assert with_alpha[0].latency_s > without[0].latency_s
    assert with_alpha[-1].latency_s == without[-1].latency_s
    # With a fixed clock, energy only falls with voltage.
    assert np.all(np.diff([e.total_j for e in without]) > 0)


def test_alpha_power_refuses_supply_below_threshold(tiny, sram, linear):
    slow = dataclasses.replace(tiny, alpha_power=AlphaPower(vth_v=0.4))
    with pytest.raises(AcceleratorError, match=r"vdd_v = 0\.35.*alpha_power\.vth_v"):
        slow.energy([linear], sram, 0.35, VNOM)


def test_per_layer_sums_to_total(tiny, sram, linear, conv):
    e = tiny.energy([conv, linear], sram, 0.7, VNOM)
    assert [layer.name for layer in e.per_layer] == ["conv", "fc"]
    for name in ("weight_mem_dynamic_j", "weight_mem_leakage_j", "act_mem_j", "mac_j",
                 "latency_s", "total_j", "weight_mem_j"):
        assert sum(getattr(layer, name) for layer in e.per_layer) == pytest.approx(
            getattr(e, name), rel=1e-12)
    assert sum(layer.cycles for layer in e.per_layer) == e.cycles


def test_to_dict_is_json_ready(tiny, sram, linear):
    data = json.loads(json.dumps(tiny.energy([linear], sram, 0.8, VNOM).to_dict()))
    assert data["total_j"] == pytest.approx(data["weight_mem_j"] + data["act_mem_j"]
                                            + data["mac_j"])
    assert data["per_layer"][0]["name"] == "fc"


@pytest.mark.parametrize("workloads, match", [
    ([], "workloads is empty"),
    ([{"name": "fc"}], r"workloads\[0\]"),
    (3, "expected a sequence of LayerWorkload"),
])
def test_bad_workloads_are_named(tiny, sram, workloads, match):
    with pytest.raises(AcceleratorError, match=match):
        tiny.energy(workloads, sram, VNOM, VNOM)


@pytest.mark.parametrize("vdd_v, vdd_nominal_v, match", [
    (0.0, 1.0, "vdd_v = 0.0"),
    (float("nan"), 1.0, "vdd_v = nan"),
    (0.5, -1.0, "vdd_nominal_v = -1.0"),
])
def test_bad_voltages_are_named(tiny, sram, linear, vdd_v, vdd_nominal_v, match):
    with pytest.raises(AcceleratorError, match=match):
        tiny.energy([linear], sram, vdd_v, vdd_nominal_v)


def test_weight_energy_must_be_an_energy_model(tiny, linear):
    with pytest.raises(AcceleratorError, match="weight_energy"):
        tiny.energy([linear], {"read_energy_per_bit_j": 1e-14}, VNOM, VNOM)


@st.composite
def array_layers(draw):
    channels, pixels = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    groups = draw(st.sampled_from([g for g in (1, 2, 5) if channels % g == 0]))
    return LayerWorkload(name="layer", kind=draw(st.sampled_from(["conv", "linear"])),
                         n_weights=draw(st.integers(0, 10**5)), weight_bits=8,
                         macs=channels * pixels * draw(st.integers(1, 200)), act_in=100,
                         act_out=channels * pixels, act_bits=8,
                         output_shape=(channels, pixels), groups=groups)


@settings(max_examples=60, deadline=None)
@given(layer=array_layers(), rows=st.integers(1, 32), cols=st.integers(1, 32))
def test_cycles_respect_peak_throughput_and_weight_port(tiny, sram, layer, rows, cols):
    accelerator = dataclasses.replace(tiny, pe_array=PEArray(rows, cols))
    cost = layer_cost(accelerator, layer)
    assert cost.cycles >= layer.macs / (rows * cols)
    assert cost.cycles >= layer.weight_bits_total / accelerator.word_bits
    e = accelerator.energy([layer], sram, VNOM, VNOM)
    assert e.latency_s == pytest.approx(cost.cycles / accelerator.clock_hz, rel=1e-12)
