"""A tiny accelerator with round numbers, so energies can be computed by hand.

The fixtures are frozen dataclasses, so sharing them across tests (and
hypothesis examples) is safe.
"""

import pytest

from accelsim.accel import (
    Accelerator,
    ActivationMemorySpec,
    LayerWorkload,
    MacEnergies,
    PEArray,
    WeightMemorySpec,
)
from accelsim.sram.energy import EnergyModel

# Multiply energy ~ width^2 (16x from 8 to 32 bits), add ~ width (4x).
TINY_MACS = MacEnergies(mult_8b_j=1e-12, mult_32b_j=16e-12, add_8b_j=0.1e-12,
                        add_32b_j=0.4e-12, accumulator_bits=32)


@pytest.fixture(scope="session")
def tiny():
    """4 x 4 PEs, 16-bit weight port, 100 MHz, 1000-bit weight SRAM priced by the profile."""
    return Accelerator(
        weight_memory=WeightMemorySpec(capacity_bits=1000, energy_source="profile"),
        activation_memory=ActivationMemorySpec(capacity_bits=4096, read_energy_per_bit_j=1e-13,
                                               write_energy_per_bit_j=2e-13),
        pe_array=PEArray(rows=4, cols=4),
        word_bits=16,
        clock_hz=100e6,
        mac_energy=TINY_MACS,
        name="tiny",
    )


@pytest.fixture(scope="session")
def sram():
    """Weight SRAM energies: 10 fJ per bit read, 1 pW per bit leaking, k = 2 / V."""
    return EnergyModel(read_energy_per_bit_j=1e-14, write_energy_per_bit_j=0.0,
                       leakage_power_per_bit_w=1e-12, leakage_k_per_v=2.0)


@pytest.fixture(scope="session")
def linear():
    """A 10 -> 6 linear layer with bias, 8-bit weights and activations."""
    return LayerWorkload(name="fc", kind="linear", n_weights=66, weight_bits=8, macs=60,
                         act_in=10, act_out=6, act_bits=8)


@pytest.fixture(scope="session")
def conv():
    """A 3x3 conv, 2 -> 3 channels, 4x4 output (padding 1), 8-bit weights, 4-bit activations."""
    return LayerWorkload(name="conv", kind="conv", n_weights=3 * 2 * 9 + 3, weight_bits=8,
                         macs=3 * 16 * 18, act_in=2 * 16, act_out=3 * 16, act_bits=4,
                         output_shape=(3, 4, 4))
