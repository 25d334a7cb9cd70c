"""Horowitz energies and the power laws through them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.accel import technology as tech


def test_power_law_is_exact_at_both_points():
    assert tech.width_energy_j(8, tech.MULT_8B_J, tech.MULT_32B_J) == pytest.approx(tech.MULT_8B_J)
    assert tech.width_energy_j(32, tech.MULT_8B_J, tech.MULT_32B_J) == pytest.approx(
        tech.MULT_32B_J)


def test_multiply_grows_about_as_width_squared():
    ratio = (tech.width_energy_j(16, tech.MULT_8B_J, tech.MULT_32B_J)
             / tech.width_energy_j(8, tech.MULT_8B_J, tech.MULT_32B_J))
    assert 3.8 < ratio < 4.0


@given(st.floats(1, 64), st.floats(1, 64))
def test_power_law_is_increasing(a, b):
    lo, hi = sorted((a, b))
    assert (tech.width_energy_j(lo, tech.ADD_8B_J, tech.ADD_32B_J)
            <= tech.width_energy_j(hi, tech.ADD_8B_J, tech.ADD_32B_J))


@pytest.mark.parametrize("capacity_bits, energy_64b_j", tech.SRAM_READ_64B_J)
def test_sram_read_matches_horowitz_points(capacity_bits, energy_64b_j):
    assert tech.sram_read_energy_per_bit_j(capacity_bits) * 64 == pytest.approx(energy_64b_j)


@given(st.floats(1e3, 1e9), st.floats(1e3, 1e9))
def test_sram_read_grows_with_capacity(a, b):
    lo, hi = sorted((a, b))
    assert tech.sram_read_energy_per_bit_j(lo) <= tech.sram_read_energy_per_bit_j(hi) * (1 + 1e-12)


def test_sram_read_interpolates_log_log():
    # Halfway between 8 KB and 32 KB in log capacity: the geometric mean of 10 and 20 pJ.
    geometric_mean_j = (10e-12 * 20e-12) ** 0.5
    assert tech.sram_read_energy_per_bit_j(16 * 8192) * 64 == pytest.approx(geometric_mean_j)
