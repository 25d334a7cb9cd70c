"""The accelerator's parts: defaults, validation, MAC energy, alpha-power clock."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from accelsim.accel import (
    AcceleratorError,
    ActivationMemorySpec,
    AlphaPower,
    MacEnergies,
    PEArray,
    WeightMemorySpec,
)
from accelsim.accel import technology as tech

PARTS = [WeightMemorySpec(capacity_bits=1024), ActivationMemorySpec(capacity_bits=4096),
         PEArray(rows=2, cols=3), MacEnergies(), AlphaPower()]


@pytest.mark.parametrize("part", PARTS, ids=lambda p: type(p).__name__)
def test_dict_round_trip(part):
    assert type(part).from_dict(part.to_dict()) == part


def test_mac_energy_defaults_are_horowitz():
    macs = MacEnergies()
    assert macs.mac_energy_j(8, 8) == pytest.approx(tech.MULT_8B_J + tech.ADD_32B_J)
    assert macs.mac_energy_j(32, 32) == pytest.approx(tech.MULT_32B_J + tech.ADD_32B_J)


@given(st.integers(1, 31), st.integers(1, 32))
def test_mac_energy_falls_with_precision(low, act_bits):
    macs = MacEnergies()
    assert macs.mac_energy_j(low, act_bits) < macs.mac_energy_j(low + 1, act_bits)


def test_activation_energy_defaults_to_horowitz_at_its_capacity():
    memory = ActivationMemorySpec(capacity_bits=32 * 8192)
    assert memory.read_energy_per_bit_j == pytest.approx(20e-12 / 64)
    assert memory.write_energy_per_bit_j == memory.read_energy_per_bit_j
    assert memory.ideal is True
    explicit = ActivationMemorySpec(capacity_bits=32 * 8192, read_energy_per_bit_j=1e-13)
    assert explicit.write_energy_per_bit_j == 1e-13


def test_alpha_power_clock_slows_with_supply():
    alpha = AlphaPower(alpha=1.3, vth_v=0.3)
    assert alpha.frequency_scale(1.0, 1.0) == 1.0
    # Sakurai-Newton: f ~ (V - Vth)^alpha / V.
    assert alpha.frequency_scale(0.6, 1.0) == pytest.approx((0.3 ** 1.3 / 0.6) / (0.7 ** 1.3))


@given(st.floats(0.31, 1.0), st.floats(0.31, 1.0))
@example(0.9999999999999999, 1.0)  # once gave 1.0000000000000002 > 1.0 (float round-off)
@example(0.5, 0.5000000000000001)
def test_alpha_power_clock_is_monotone(a, b):
    alpha = AlphaPower()
    lo, hi = sorted((a, b))
    assert alpha.frequency_scale(lo, 1.0) <= alpha.frequency_scale(hi, 1.0)


def test_alpha_power_needs_supply_above_threshold():
    with pytest.raises(AcceleratorError, match=r"vdd_nominal_v = 0\.2 V .*vth_v = 0\.3"):
        AlphaPower(vth_v=0.3).frequency_scale(0.5, 0.2)


@pytest.mark.parametrize("build, match", [
    (lambda: WeightMemorySpec(capacity_bits=0), r"weight_memory\.capacity_bits = 0"),
    (lambda: WeightMemorySpec(1024, "low"), r"weight_memory\.voltage_domain = 'low'.*'swept'"),
    (lambda: ActivationMemorySpec(capacity_bits=1.5), r"activation_memory\.capacity_bits = 1\.5"),
    (lambda: ActivationMemorySpec(4096, read_energy_per_bit_j=-1.0),
     r"activation_memory\.read_energy_per_bit_j = -1\.0"),
    (lambda: ActivationMemorySpec(4096, ideal="yes"), r"activation_memory\.ideal = 'yes'"),
    (lambda: PEArray(rows=16, cols=0), r"pe_array\.cols = 0"),
    (lambda: MacEnergies(mult_8b_j=0.0),
     r"mac_energy\.mult_8b_j = 0\.0: expected a finite number > 0"),
    (lambda: MacEnergies(accumulator_bits=128), r"mac_energy\.accumulator_bits = 128"),
    (lambda: AlphaPower(alpha=float("inf")), r"alpha_power\.alpha = inf"),
])
def test_invalid_fields_are_named(build, match):
    with pytest.raises(AcceleratorError, match=match):
        build()


def test_from_dict_names_missing_and_unknown_keys():
    with pytest.raises(AcceleratorError, match=r"pe_array lacks key\(s\) cols"):
        PEArray.from_dict({"rows": 4})
    with pytest.raises(AcceleratorError, match=r"pe_array has unknown key\(s\) depth"):
        PEArray.from_dict({"rows": 4, "cols": 4, "depth": 2})
    with pytest.raises(AcceleratorError, match="mac_energy = 3: expected a table"):
        MacEnergies.from_dict(3)
